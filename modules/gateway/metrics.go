package gateway

import (
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Metrics receives the gateway's counts. The module counts in Prometheus
// when the metrics module provides a registry; without one nothing is
// counted.
type Metrics interface {
	// MessageIn counts a well-formed message from a client.
	MessageIn(event string)
	// MessagesOut counts n frames of event queued for clients.
	MessagesOut(event string, n int)
	// SlowConsumer counts a client closed because its queue overflowed.
	SlowConsumer()
	// Dropped counts frames discarded with a slow consumer's queue.
	Dropped(n int)
	// Recovery counts a session begun: recovered, or new, and why when
	// recovery was asked for and refused.
	Recovery(asked bool, reason string)
	// SessionAction counts the server's hand on a connection: "kick",
	// "refresh", "token_expired", "session_limit".
	SessionAction(action string)
	// Receipt counts a receipt answered, with its recipients that acked and
	// those that timed out.
	Receipt(acked, timedOut int)
	// AckLatency observes the time from a delivery to its ack.
	AckLatency(d time.Duration)
	// Fanout observes a broadcast's time from its arrival to its last idle
	// member's frame written.
	Fanout(d time.Duration)
}

// NopMetrics counts nothing.
type NopMetrics struct{}

func (NopMetrics) MessageIn(string)         {}
func (NopMetrics) MessagesOut(string, int)  {}
func (NopMetrics) SlowConsumer()            {}
func (NopMetrics) Dropped(int)              {}
func (NopMetrics) Recovery(bool, string)    {}
func (NopMetrics) SessionAction(string)     {}
func (NopMetrics) Receipt(int, int)         {}
func (NopMetrics) AckLatency(time.Duration) {}
func (NopMetrics) Fanout(time.Duration)     {}

// OtherEvent is the label under which gamegate_ws_messages_out_total counts
// the frames of every event no module declared: a REST caller names its
// own events, and each name must not become a time series.
const OtherEvent = "other"

// builtinEvents are the events the gateway itself sends.
var builtinEvents = []string{"connected", "exception", "pong", "joinedRoom", "leftRoom", "roomMembers",
	"memberJoined", "memberLeft", "tokenRefreshed"}

// AsEvents declares the names of events a module sends to clients (its
// handlers' replies, its pushes), so that /metrics counts them by name:
//
//	fx.Provide(gateway.AsEvents("said"))
func AsEvents(names ...string) any {
	return fx.Annotate(func() []string { return names }, fx.ResultTags(`group:"`+EventGroup+`,flatten"`))
}

// newMetrics counts in r, or nowhere without one.
func newMetrics(r *prometheus.Registry, events []string) Metrics {
	if r == nil {
		return NopMetrics{}
	}
	return newPromMetrics(r, events)
}

// promMetrics counts in Prometheus (gamegate_ws_*).
type promMetrics struct {
	in            *prometheus.CounterVec
	out           map[string]prometheus.Counter // by declared event, and OtherEvent
	slow, dropped prometheus.Counter
	sessions      *prometheus.CounterVec
	actions       *prometheus.CounterVec
	receipts      *prometheus.CounterVec
	ackLatency    prometheus.Histogram
	fanout        prometheus.Histogram
}

func newPromMetrics(r *prometheus.Registry, events []string) *promMetrics {
	out := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gamegate", Subsystem: "ws", Name: "messages_out_total",
		Help: `Frames queued for clients, by event; events no module declared count as "other".`,
	}, []string{"event"})
	m := &promMetrics{
		in: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "gamegate", Subsystem: "ws", Name: "messages_in_total",
			Help: "Messages received from clients, by event (known events only).",
		}, []string{"event"}),
		out: map[string]prometheus.Counter{OtherEvent: out.WithLabelValues(OtherEvent)},
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gamegate", Subsystem: "ws", Name: "slow_consumer_closes_total",
			Help: "Clients closed with 1008 because their outgoing queue overflowed.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "gamegate", Subsystem: "ws", Name: "dropped_messages_total",
			Help: "Frames discarded with a slow consumer's queue.",
		}),
	}
	m.sessions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gamegate", Subsystem: "recovery", Name: "sessions_total",
		Help: `Sessions begun, by result: "new" (no recovery asked), "recovered", or why recovery was refused.`,
	}, []string{"result"})
	m.actions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gamegate", Subsystem: "ws", Name: "session_actions_total",
		Help: `The server's hand on connections: "kick", "refresh", "token_expired", "session_limit".`,
	}, []string{"action"})
	m.receipts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gamegate", Subsystem: "receipts", Name: "total",
		Help: `Delivery receipts: "asked" (answered), and their recipients "acked" and "timed_out".`,
	}, []string{"result"})
	m.ackLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gamegate", Subsystem: "receipts", Name: "ack_latency_seconds",
		Help:    "Time from a delivery with a receipt to the recipient's ack.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
	})
	m.fanout = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gamegate", Subsystem: "ws", Name: "fanout_seconds",
		Help: "A broadcast's time from its arrival (REST, a handler, NATS) to its last idle WebSocket member's frame written (a long-polling member's waits for its next GET).",
		// √2 apart, not 2: quantiles are read from the buckets, and 2
		// apart they put a p99 anywhere between, say, 51 and 102 ms.
		Buckets: prometheus.ExponentialBuckets(0.00005, math.Sqrt2, 32),
	})
	for _, e := range events {
		m.out[e] = out.WithLabelValues(e)
	}
	r.MustRegister(m.in, out, m.slow, m.dropped, m.sessions, m.actions, m.receipts, m.ackLatency, m.fanout)
	return m
}

// MessageIn is only called for events that have a handler: bounded.
func (m *promMetrics) MessageIn(event string) { m.in.WithLabelValues(event).Inc() }

func (m *promMetrics) MessagesOut(event string, n int) {
	if n <= 0 {
		return
	}
	c, ok := m.out[event]
	if !ok {
		c = m.out[OtherEvent]
	}
	c.Add(float64(n))
}

func (m *promMetrics) SlowConsumer() { m.slow.Inc() }

func (m *promMetrics) SessionAction(action string) { m.actions.WithLabelValues(action).Inc() }

func (m *promMetrics) Receipt(acked, timedOut int) {
	m.receipts.WithLabelValues("asked").Inc()
	m.receipts.WithLabelValues("acked").Add(float64(acked))
	m.receipts.WithLabelValues("timed_out").Add(float64(timedOut))
}

func (m *promMetrics) AckLatency(d time.Duration) { m.ackLatency.Observe(d.Seconds()) }

func (m *promMetrics) Fanout(d time.Duration) { m.fanout.Observe(d.Seconds()) }

func (m *promMetrics) Recovery(asked bool, reason string) {
	result := "new"
	switch {
	case !asked:
	case reason == "":
		result = "recovered"
	default:
		result = strings.ReplaceAll(reason, " ", "_")
	}
	m.sessions.WithLabelValues(result).Inc()
}
func (m *promMetrics) Dropped(n int) { m.dropped.Add(float64(n)) }

// registerHubGauges exports the hub's live counts, when there is a registry.
func registerHubGauges(r *prometheus.Registry, h *Hub) {
	if r == nil {
		return
	}
	r.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "gamegate", Subsystem: "ws", Name: "connections",
			Help: "Connected WebSocket clients on this node.",
		}, func() float64 { return float64(h.Clients()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "gamegate", Subsystem: "ws", Name: "rooms",
			Help: "Rooms with at least one member on this node, personal rooms included.",
		}, func() float64 { return float64(h.Rooms()) }),
	)
	r.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Namespace: "gamegate", Subsystem: "presence", Name: "entries",
		Help: "Users counted in rooms, on every node, as this node knows them.",
	}, func() float64 { return float64(h.presence.entries()) }))
	if j := h.journal; j != nil {
		r.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "gamegate", Subsystem: "recovery", Name: "kept_messages",
				Help: "Room messages kept for sessions to recover.",
			}, func() float64 { n, _ := j.kept(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "gamegate", Subsystem: "recovery", Name: "kept_bytes",
				Help: "Memory the kept room messages take, roughly.",
			}, func() float64 { _, b := j.kept(); return float64(b) }),
		)
	}
}
