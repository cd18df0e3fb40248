package walletsim

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/httpserver"
)

// DevPrefix is where the embedded simulator's admin endpoint is mounted on
// the gateway's HTTP server, so that a person can move money during a demo
// (the lobby page's "simulate a deposit" button) without another port.
const DevPrefix = "/dev/wallet"

// Module runs the simulator inside the gateway for the life of the
// application when wallet.simulator is true, and mounts its admin endpoint
// under DevPrefix. It does nothing otherwise.
var Module = fx.Module("walletsim",
	fx.Provide(fx.Private, embedded),
	fx.Invoke(func(lc fx.Lifecycle, s *Service) {
		if s != nil {
			lc.Append(fx.StartStopHook(s.Start, s.Stop))
		}
	}),
	fx.Provide(httpserver.AsRoutes(devRoutes)),
)

// embedded is the simulator when wallet.simulator is true, else nil.
func embedded(cfg config.Wallet, log *zap.Logger) *Service {
	if !cfg.Simulator {
		return nil
	}
	return New(cfg, log)
}

// devRoutes mounts the admin endpoint of an embedded simulator under
// DevPrefix. It has no authentication: the simulator's money is make-believe,
// and a gateway that talks to a real wallet never has these routes.
func devRoutes(s *Service, log *zap.Logger) []httpserver.Route {
	if s == nil {
		return nil
	}
	log.Named("walletsim").Info("development only: the wallet simulator's admin endpoint is mounted (POST credit, POST debit, GET balance/{userId})",
		zap.String("path", DevPrefix+"/"))
	h := echo.WrapHandler(http.StripPrefix(DevPrefix, s.sim.AdminHandler()))
	return []httpserver.Route{
		{Method: http.MethodGet, Path: DevPrefix + "/*", Handler: h},
		{Method: http.MethodPost, Path: DevPrefix + "/*", Handler: h},
	}
}
