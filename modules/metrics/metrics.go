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

	"github.com/gamegate/gamegate/modules/httpserver"
)

// Module provides the *prometheus.Registry and serves it at GET /metrics,
// with the HTTP server's own metrics (gamegate_http_*). Every other module
// registers its own collectors on the registry, which it takes as an
// optional dependency: without this module nothing is counted, and this
// module knows none of them.
var Module = fx.Module("metrics",
	fx.Provide(
		NewRegistry,
		httpserver.AsMiddleware(HTTPMiddleware),
		httpserver.AsRoutes(Routes),
	),
)

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

// HTTPMiddleware observes every request's latency by route (the pattern, not
// the path, so user ids do not become labels); not a long-poll's, which
// waits for data by design (httpserver.Held).
func HTTPMiddleware(r *prometheus.Registry) httpserver.Middleware {
	hist := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gamegate", Subsystem: "http", Name: "request_duration_seconds",
		Help:    "HTTP request latency by method, route and status code.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
	}, []string{"method", "route", "code"})
	r.MustRegister(hist)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if httpserver.Held(c) {
				return err
			}
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
