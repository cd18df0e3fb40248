package config

import (
	"time"

	"go.uber.org/fx"
)

// Module provides each section of a Config supplied with fx.Supply, so a
// module depends on its own section only. Its invoke checks the sections
// that modules declare with Section, and refuses the file's top-level keys
// that none declared; it is the application's first module, so that a bad
// value stops the start before anything else is built.
var Module = fx.Module("config",
	fx.Provide(sections),
	fx.Invoke(fx.Annotate(checkSections, fx.ParamTags(``, `group:"`+SectionGroup+`"`))),
)

// Sections is every section of Config, each its own type in the graph.
type Sections struct {
	fx.Out

	HTTP         HTTP
	Log          Log
	Auth         Auth
	Gateway      Gateway
	Wallet       Wallet
	Notification Notification
	Cluster      Cluster
	Recovery     Recovery
	Shutdown     Shutdown
}

// Shutdown is the graceful stop's settings (shutdownTimeout,
// shutdownDrainDelay).
type Shutdown struct {
	Timeout    time.Duration
	DrainDelay time.Duration
}

func sections(c Config) Sections {
	return Sections{
		HTTP: c.HTTP, Log: c.Log, Auth: c.Auth, Gateway: c.Gateway, Wallet: c.Wallet,
		Notification: c.Notification, Cluster: c.Cluster, Recovery: c.Recovery,
		Shutdown: Shutdown{Timeout: c.ShutdownTimeout, DrainDelay: c.ShutdownDrainDelay},
	}
}
