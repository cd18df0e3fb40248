package httpserver

import "go.uber.org/fx"

// Module runs the HTTP server for the life of the application.
var Module = fx.Module("httpserver",
	fx.Provide(New),
	fx.Invoke(func(lc fx.Lifecycle, s *Server) {
		lc.Append(fx.StartStopHook(s.Start, s.Stop))
	}),
)
