// Package metrics exposes the gateway's Prometheus metrics at GET /metrics.
package metrics

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Module registers the metrics and serves them. Other modules register their
// own collectors on the provided *prometheus.Registry.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		fx.Annotate(NewGateway, fx.As(new(gateway.Metrics))),
		fx.Annotate(NewWallet, fx.As(new(tcpclient.Metrics))),
		httpserver.AsMiddleware(HTTPMiddleware),
		httpserver.AsRoutes(Routes),
	),
	fx.Invoke(RegisterHub, RegisterWalletLink),
)

const namespace = "gamegate"

// NewRegistry returns a registry with the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Routes serves GET /metrics.
func Routes(r *prometheus.Registry) []httpserver.Route {
	h := promhttp.HandlerFor(r, promhttp.HandlerOpts{Registry: r})
	return []httpserver.Route{{Method: http.MethodGet, Path: "/metrics", Handler: echo.WrapHandler(h)}}
}

// Gateway implements gateway.Metrics with Prometheus counters.
type Gateway struct {
	in, out       *prometheus.CounterVec
	slow, dropped prometheus.Counter
}

// NewGateway registers the gateway's counters.
func NewGateway(r *prometheus.Registry) *Gateway {
	g := &Gateway{
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ws", Name: "messages_in_total",
			Help: "Messages received from clients, by event (known events only).",
		}, []string{"event"}),
		out: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ws", Name: "messages_out_total",
			Help: "Frames queued for clients, by event.",
		}, []string{"event"}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ws", Name: "slow_consumer_closes_total",
			Help: "Clients closed with 1008 because their outgoing queue overflowed.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ws", Name: "dropped_messages_total",
			Help: "Frames discarded with a slow consumer's queue.",
		}),
	}
	r.MustRegister(g.in, g.out, g.slow, g.dropped)
	return g
}

func (g *Gateway) MessageIn(event string) { g.in.WithLabelValues(event).Inc() }
func (g *Gateway) MessagesOut(event string, n int) {
	if n > 0 {
		g.out.WithLabelValues(event).Add(float64(n))
	}
}
func (g *Gateway) SlowConsumer() { g.slow.Inc() }
func (g *Gateway) Dropped(n int) { g.dropped.Add(float64(n)) }

// RegisterHub exports the hub's live counts as gauges.
func RegisterHub(r *prometheus.Registry, h *gateway.Hub) {
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "ws", Name: "connections",
			Help: "Connected WebSocket clients on this node.",
		}, func() float64 { return float64(h.Clients()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "ws", Name: "rooms",
			Help: "Rooms with at least one member on this node, personal rooms included.",
		}, func() float64 { return float64(h.Rooms()) }),
	)
}

// HTTPMiddleware observes every request's latency by route (the pattern, not
// the path, so user ids do not become labels).
func HTTPMiddleware(r *prometheus.Registry) httpserver.Middleware {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "http", Name: "request_duration_seconds",
		Help:    "HTTP request latency by method, route and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"method", "route", "code"})
	r.MustRegister(hist)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			route := c.Path()
			if route == "" {
				route = "unmatched"
			}
			code := c.Response().Status
			if he, ok := err.(*echo.HTTPError); ok {
				code = he.Code
			}
			hist.WithLabelValues(c.Request().Method, route, strconv.Itoa(code)).Observe(time.Since(start).Seconds())
			return err
		}
	}
}

// Wallet implements tcpclient.Metrics and exports the link's state.
type Wallet struct {
	calls *prometheus.HistogramVec
}

// NewWallet registers the wallet link's metrics.
func NewWallet(r *prometheus.Registry) *Wallet {
	w := &Wallet{calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Subsystem: "wallet", Name: "call_duration_seconds",
		Help:    "Wallet request latency by message type and result (ok, or the error kind).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	}, []string{"type", "result"})}
	r.MustRegister(w.calls)
	return w
}

func (w *Wallet) CallDone(msgType string, d time.Duration, err error) {
	w.calls.WithLabelValues(msgType, callResult(err)).Observe(d.Seconds())
}

func callResult(err error) string {
	var we *walletproto.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &we):
		return "wallet_error"
	case errors.Is(err, tcpclient.ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, tcpclient.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	default:
		return "error"
	}
}

// RegisterWalletLink exports the link's state (0 down, 1 connecting, 2 up)
// and its reconnects.
func RegisterWalletLink(r *prometheus.Registry, c *tcpclient.Client) {
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "wallet", Name: "link_state",
			Help: "Wallet link state: 0 down, 1 connecting, 2 up.",
		}, func() float64 { return float64(c.State()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "wallet", Name: "reconnects_total",
			Help: "Redials of the wallet after a failed dial or a dropped link.",
		}, func() float64 { return float64(c.Reconnects()) }),
	)
}
