package walletsim

import (
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
)

// Module runs the simulator inside the gateway for the life of the
// application when wallet.simulator is true, and does nothing otherwise.
var Module = fx.Module("walletsim",
	fx.Invoke(func(lc fx.Lifecycle, cfg config.Wallet, log *zap.Logger) {
		if cfg.Simulator {
			s := New(cfg, log)
			lc.Append(fx.StartStopHook(s.Start, s.Stop))
		}
	}),
)
