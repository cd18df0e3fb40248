// Package metrics exposes the gateway's Prometheus metrics at GET /metrics.
package metrics

import (
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
)

// Module registers the metrics and serves them. Other modules register their
// own collectors on the provided *prometheus.Registry.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		fx.Annotate(NewGateway, fx.As(new(gateway.Metrics))),
		httpserver.AsMiddleware(HTTPMiddleware),
		httpserver.AsRoutes(Routes),
	),
	fx.Invoke(RegisterHub),
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
