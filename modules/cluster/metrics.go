package cluster

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Adapter's Prometheus collectors.
type metrics struct {
	published, publishFailures, received, reconnects prometheus.Counter
	receiveErrors                                    *prometheus.CounterVec
}

func newMetrics() *metrics {
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "gamegate", Subsystem: "cluster", Name: name, Help: help})
	}
	return &metrics{
		published: counter("messages_published_total", "Messages published to the other nodes."),
		publishFailures: counter("publish_failures_total",
			"Messages delivered on this node only because they could not be published to NATS (it was down, or refused the message)."),
		received:   counter("messages_received_total", "Messages received from other nodes and delivered to this node's members."),
		reconnects: counter("reconnects_total", "Times the NATS connection came back after it was lost."),
		receiveErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gamegate", Subsystem: "cluster", Name: "receive_errors_total",
			Help: `Messages from other nodes that were dropped: reason "malformed" counts messages, "slow_consumer" counts times the receive queue overflowed and NATS dropped messages.`,
		}, []string{"reason"}),
	}
}

// register adds the counters and a's gauges to r.
func (m *metrics) register(r *prometheus.Registry, a *Adapter) {
	r.MustRegister(m.published, m.publishFailures, m.received, m.reconnects, m.receiveErrors,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "gamegate", Subsystem: "cluster", Name: "up",
			Help: "1 while the node is connected to NATS and messages cross nodes, else 0.",
		}, func() float64 {
			if a.State() == Up {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "gamegate", Subsystem: "cluster", Name: "subscriptions",
			Help: "Rooms this node subscribes to on NATS: those it has members in.",
		}, func() float64 { return float64(a.Subscriptions()) }),
	)
}
