// Package app composes the gateway's modules into one application (NestJS's
// AppModule). cmd/gateway runs it; tests start it on loopback ports.
package app

import (
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/docs"
	"github.com/gamegate/gamegate/modules/auth"
	"github.com/gamegate/gamegate/modules/cluster"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/health"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/modules/lobby"
	"github.com/gamegate/gamegate/modules/logging"
	"github.com/gamegate/gamegate/modules/metrics"
	"github.com/gamegate/gamegate/modules/notification"
	"github.com/gamegate/gamegate/modules/sessions"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/modules/walletevents"
	"github.com/gamegate/gamegate/modules/walletsim"
)

// Options is the whole application for cfg. Extra options (another team's
// modules, test hooks) go after it.
func Options(cfg config.Config) fx.Option {
	return fx.Options(
		fx.Supply(cfg),
		fx.StartTimeout(cfg.ShutdownTimeout),
		fx.StopTimeout(cfg.ShutdownTimeout),
		config.Module,
		logging.Module,
		logging.FxLogger,
		walletsim.Module, // first, so that it stops after everything that calls it
		clusterModule(cfg.Cluster),
		auth.Module,
		gateway.Module,
		tcpclient.Module,
		walletevents.Module,
		notification.Module,
		sessions.Module,
		health.Module,
		metrics.Module,
		httpserver.Module,
		lobby.Module,
		docs.Module,
	)
}

// clusterModule spans rooms over NATS when cluster.natsUrl is set; nothing
// else knows whether it runs. It comes before the modules that publish, so
// that it starts before them and stops after them.
func clusterModule(cfg config.Cluster) fx.Option {
	if cfg.NATSURL == "" {
		return fx.Options()
	}
	return cluster.Module
}
