// Package chat is what another team adds to the gateway: players talk in
// the rooms they are in, and moderators mute them over REST. It is written
// against the gateway's extension points only, and configured by its own
// section of config.yaml.
package chat

import (
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
)

// Module adds the say event, the hook that puts every client in the lobby,
// the mute and room routes and the chat section of config.yaml.
var Module = fx.Module("chat",
	config.Section("chat", Defaults),
	fx.Provide(fx.Private, New),
	fx.Provide(
		gateway.AsHandler((*Chat).SayHandler),
		gateway.AsHooks((*Chat).Hooks),
		httpserver.AsRoutes((*Chat).Routes),
		// Counted by name in gamegate_ws_messages_out_total.
		gateway.AsEvents(SaidEvent, SentEvent, MutedEvent),
	),
)
