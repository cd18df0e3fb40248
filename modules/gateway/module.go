package gateway

import (
	"net/http"

	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/httpserver"
)

// The gateway's extension points, each an fx value group. A struct field
// tag cannot be built from a constant, so the fx.In structs of this package
// spell them out; everything else uses these.
const (
	// HandlerGroup holds Handlers, see AsHandler and On.
	HandlerGroup = "gateway.handlers"
	// GuardGroup holds global Guards, see AsGuard.
	GuardGroup = "gateway.guards"
	// HookGroup holds connect and disconnect Hooks, see AsHooks.
	HookGroup = "gateway.hooks"
	// RoomObserverGroup holds RoomObservers, told when this node's interest
	// in a room starts and ends.
	RoomObserverGroup = "gateway.roomObservers"
	// EventGroup holds the names of the events modules send, see AsEvents.
	EventGroup = "gateway.events"
)

// Module is the WebSocket gateway: the hub, the emitter other modules inject,
// the /game endpoint and the built-in events. It needs a *token.Verifier
// (modules/auth) and config.Gateway, and counts in the *prometheus.Registry
// of modules/metrics when the application has one. Its extension points are
// the value groups above.
var Module = fx.Module("gateway",
	fx.Provide(
		fx.Annotate(newMetrics, fx.ParamTags(`optional:"true"`, `group:"`+EventGroup+`"`)),
		NewHub,
		fx.Annotate(func(h *Hub) LocalBroker { return LocalBroker{Hub: h} }, fx.As(new(Broker))),
		NewEmitter,
		NewSockets,
		newServer,
		httpserver.AsRoutes(routes),
		fx.Annotate(builtinHandlers, fx.ResultTags(`group:"`+HandlerGroup+`,flatten"`)),
		AsEvents(builtinEvents...),
	),
	fx.Invoke(fx.Annotate(registerHubGauges, fx.ParamTags(`optional:"true"`))),
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

// routes are /game and, with Socket.IO, /socket.io/: its GETs hold
// long-polls open, which the HTTP server's stop releases, and it answers
// CORS itself, with credentials, as socket.io does.
func routes(s *Server, cfg config.Gateway) []httpserver.Route {
	r := []httpserver.Route{{Method: http.MethodGet, Path: cfg.Path, Handler: s.Handle}}
	if cfg.SocketIO.Enabled {
		sio := func(method string) httpserver.Route {
			return httpserver.Route{Method: method, Path: cfg.SocketIO.Path, Handler: s.HandleSocketIO, OwnCORS: true}
		}
		get := sio(http.MethodGet)
		get.Release = s.releasePolls
		r = append(r, get, sio(http.MethodPost), sio(http.MethodOptions))
	}
	return r
}
