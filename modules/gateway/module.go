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
		NewServer,
		httpserver.AsRoutes(routes),
		fx.Annotate(builtinHandlers, fx.ResultTags(`group:"gateway.handlers,flatten"`)),
	),
	fx.Invoke(func(lc fx.Lifecycle, s *Server) {
		lc.Append(fx.StopHook(s.Stop))
	}),
)

func routes(s *Server, cfg config.Gateway) []httpserver.Route {
	return []httpserver.Route{{Method: http.MethodGet, Path: cfg.Path, Handler: s.Handle}}
}
