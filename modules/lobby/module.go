package lobby

import (
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/httpserver"
)

// Module serves the lobby page at GET / and its files under /lobby/, and,
// when the gateway runs with the development secret, logs ready-to-open
// addresses of it once the HTTP server listens.
//
// The addresses carry the port the server actually listens on (":0" in
// tests): logDevLinks depends on *httpserver.Server, whose constructor
// appends the server's start hook, so fx runs that hook before the lobby's
// wherever the module sits in the application.
var Module = fx.Module("lobby",
	fx.Provide(httpserver.AsRoutes(routes)),
	fx.Invoke(logDevLinks),
)
