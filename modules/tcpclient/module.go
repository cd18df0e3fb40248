package tcpclient

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/health"
	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Module provides *Client, started with the application and shut down with
// it, and the wallet link's default frame.Framing and walletproto.Codec.
// A wallet with another wire format replaces them:
//
//	fx.Decorate(func(frame.Framing) frame.Framing { return myFraming{} })
//
// Pushes reach the handlers provided with AsPushHandler. With the metrics
// module's *prometheus.Registry it counts calls and the link's state.
var Module = fx.Module("tcpclient",
	fx.Provide(defaultFraming, defaultCodec, newClient, health.AsCheck(readiness)),
)

// params are the Client's dependencies in fx.
type params struct {
	fx.In

	Config  config.Wallet
	Log     *zap.Logger
	Framing frame.Framing
	Codec   walletproto.Codec
	// A struct tag cannot be built from PushGroup; TestModule fails if the
	// two part.
	Handlers []PushHandler `group:"wallet.push"`
	// Registry, when set, receives the gamegate_wallet_* metrics.
	Registry *prometheus.Registry `optional:"true"`
}

// newClient registers the lifecycle hooks as the client is built, so that
// everything that calls the wallet stops before the link closes.
func newClient(lc fx.Lifecycle, p params) (*Client, error) {
	opts := []Option{WithFraming(p.Framing), WithCodec(p.Codec)}
	if p.Registry != nil {
		opts = append(opts, WithMetrics(newPromMetrics(p.Registry)))
	}
	c, err := New(p.Config, p.Log, p.Handlers, opts...)
	if err != nil {
		return nil, err
	}
	if p.Registry != nil {
		registerLinkMetrics(p.Registry, c)
	}
	lc.Append(fx.StartStopHook(c.Start, c.Shutdown))
	return c, nil
}

// readiness puts the link's state in /readyz: ready only while up.
func readiness(c *Client) health.Check {
	return health.Check{Name: "wallet", State: func() (string, bool) {
		s := c.State()
		return s.String(), s == Up
	}}
}

func defaultFraming() frame.Framing   { return frame.LengthPrefix{} }
func defaultCodec() walletproto.Codec { return walletproto.JSON{} }
