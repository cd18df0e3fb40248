package httpserver

import "go.uber.org/fx"

// Module runs the HTTP server for the life of the application. Its hooks are
// registered as it is built, after every module that contributes a route, so
// it starts last and is the first to stop.
var Module = fx.Module("httpserver",
	fx.Provide(func() *Drain { return new(Drain) }),
	fx.Provide(func(lc fx.Lifecycle, p Params) *Server {
		s := New(p)
		lc.Append(fx.StartStopHook(s.Start, s.Stop))
		return s
	}),
	fx.Invoke(func(*Server) {}),
)
