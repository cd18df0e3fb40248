package cluster

import (
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/health"
)

// Module spans rooms over NATS: modules/app includes it when
// cluster.natsUrl is set. It is the "cluster" fx.Module, which connects at
// start and drains at stop and adds "cluster" to /readyz, plus a root-level
// decorator that makes the Adapter the gateway.Broker: a decorator inside
// the fx.Module would reach that module's scope only, not the gateway's.
// Include it before the modules that publish, so that it starts before them
// and stops after them.
var Module = fx.Options(
	fx.Module("cluster",
		fx.Provide(
			NewInterest,
			fx.Annotate(func(i *Interest) gateway.RoomObserver { return i },
				fx.ResultTags(`group:"`+gateway.RoomObserverGroup+`"`)),
			New,
			(*Adapter).SessionStore,
			(*Adapter).Remote,
			(*Adapter).PollRelay,
			health.AsCheck(readiness),
		),
		fx.Invoke(func(lc fx.Lifecycle, a *Adapter) {
			lc.Append(fx.StartStopHook(a.Start, a.Stop))
		}),
	),
	fx.Decorate(func(a *Adapter) gateway.Broker { return a }),
)

// readiness reports the NATS connection on /readyz: ready only when up.
func readiness(a *Adapter) health.Check {
	return health.Check{Name: "cluster", State: func() (string, bool) {
		s := a.State()
		return s.String(), s == Up
	}}
}
