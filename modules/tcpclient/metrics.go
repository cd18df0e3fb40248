package tcpclient

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Metrics receives the outcome of every Call; see WithMetrics. The module
// provides one that counts in Prometheus.
type Metrics interface {
	CallDone(msgType string, d time.Duration, err error)
}

// promMetrics observes every call's latency by message type and result
// (gamegate_wallet_call_duration_seconds).
type promMetrics struct {
	calls *prometheus.HistogramVec
}

func newPromMetrics(r *prometheus.Registry) *promMetrics {
	m := &promMetrics{calls: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gamegate", Subsystem: "wallet", Name: "call_duration_seconds",
		Help:    "Wallet request latency by message type and result (ok, or the error kind).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
	}, []string{"type", "result"})}
	r.MustRegister(m.calls)
	return m
}

func (m *promMetrics) CallDone(msgType string, d time.Duration, err error) {
	m.calls.WithLabelValues(msgType, callResult(err)).Observe(d.Seconds())
}

// callResult names the kind of a call's error, a bounded set of labels.
func callResult(err error) string {
	var we *walletproto.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &we):
		return "wallet_error"
	case errors.Is(err, ErrConnectionLost):
		return "connection_lost"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "timeout"
	default:
		return "error"
	}
}

// registerLinkMetrics exports the link's state (0 down, 1 connecting, 2 up)
// and its reconnects.
func registerLinkMetrics(r *prometheus.Registry, c *Client) {
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "gamegate", Subsystem: "wallet", Name: "link_state",
			Help: "Wallet link state: 0 down, 1 connecting, 2 up.",
		}, func() float64 { return float64(c.State()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "gamegate", Subsystem: "wallet", Name: "reconnects_total",
			Help: "Redials of the wallet after a failed dial or a dropped link.",
		}, func() float64 { return float64(c.Reconnects()) }),
	)
}
