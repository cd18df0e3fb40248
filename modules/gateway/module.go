package gateway

import (
	"net/http"

	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/httpserver"
)

// Module is the WebSocket gateway: the hub, the emitter other modules inject,
// the /game endpoint and the built-in events. It needs a *token.Verifier
// (modules/auth) and config.Gateway.
//
// Extension points, each an fx value group:
//   - "gateway.handlers": Handler, see AsHandler and On;
//   - "gateway.guards": global Guard, see AsGuard;
//   - "gateway.hooks": connect and disconnect Hooks, see AsHooks;
//   - "gateway.roomObservers": RoomObserver, told when this node's interest
//     in a room starts and ends.
var Module = fx.Module("gateway",
	fx.Provide(
		NewHub,
		fx.Annotate(func(h *Hub) LocalBroker { return LocalBroker{Hub: h} }, fx.As(new(Broker))),
		NewEmitter,
		newServer,
		httpserver.AsRoutes(routes),
		fx.Annotate(builtinHandlers, fx.ResultTags(`group:"gateway.handlers,flatten"`)),
	),
)

// newServer registers the stop hook as the server is built, so fx orders the
// hooks by dependency: the wallet link, which handlers use, stops after the
// clients are closed, and the HTTP server, which routes here, before.
func newServer(lc fx.Lifecycle, p Params) (*Server, error) {
	s, err := NewServer(p)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(s.Stop))
	return s, nil
}

func routes(s *Server, cfg config.Gateway) []httpserver.Route {
	r := []httpserver.Route{{Method: http.MethodGet, Path: cfg.Path, Handler: s.Handle}}
	if cfg.SocketIO.Enabled {
		r = append(r, httpserver.Route{Method: http.MethodGet, Path: cfg.SocketIO.Path, Handler: s.HandleSocketIO})
	}
	return r
}
