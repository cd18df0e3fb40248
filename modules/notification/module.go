package notification

import (
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
)

// Module adds POST /notifications/broadcast and
// POST /notifications/users/:userId.
var Module = fx.Module("notification",
	fx.Provide(
		fx.Private,
		NewController,
	),
	fx.Provide(
		httpserver.AsRoutes((*Controller).Routes),
		gateway.AsEvents(DefaultEvent), // a caller's own event names count as "other"
	),
)
