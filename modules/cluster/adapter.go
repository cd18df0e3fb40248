// Package cluster makes rooms span every gateway node that shares a NATS
// server, as socket.io's Redis adapter does for NestJS: a message is
// delivered to the members on its own node at once and published once to
// NATS, and each other node delivers it to its own members. A node
// subscribes to a room's subject only while it has members in that room.
// docs/cluster.md has the wire format and the outage behaviour.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
)

// receiveQueue is how many messages from NATS may wait for the Adapter's
// goroutine. When it is full NATS drops messages for this node (a slow
// consumer), which is counted and logged.
const receiveQueue = 1 << 16

// Adapter is the gateway.Broker of a clustered node. Start connects it,
// Stop drains it; Publish is safe for concurrent use.
type Adapter struct {
	url      string
	hub      *gateway.Hub
	interest *Interest
	log      *zap.Logger
	metrics  *metrics

	conn     atomic.Pointer[nats.Conn]
	state    atomic.Int32
	stopping atomic.Bool
	nsubs    atomic.Int64

	// With recovery: the shared log every node publishes to and follows,
	// and the sessions every node finds. Nil without.
	shared   *sharedLog
	sessions *sessionStore
	// peers: the other nodes, for presence and operations on connections.
	peers    *peers
	watching chan struct{} // closed when peers.watch returns

	msgs   chan *nats.Msg
	subs   map[string]*nats.Subscription // by room; run's own
	quit   chan struct{}                 // closed by Stop
	done   chan struct{}                 // closed when run returns
	closed chan struct{}                 // closed when the connection is closed
}

// Params are the Adapter's dependencies. The hub must have been built with
// Interest among its observers.
type Params struct {
	fx.In

	Config   config.Cluster
	Recovery config.Recovery
	Gateway  config.Gateway
	Wallet   config.Wallet // its node id names the node
	Hub      *gateway.Hub
	Interest *Interest
	Log      *zap.Logger
	// Registry, when set, receives the gamegate_cluster_* metrics.
	Registry *prometheus.Registry `optional:"true"`
}

// New returns an Adapter for the NATS server(s) at p.Config.NATSURL (a URL
// or a comma-separated list). It does not connect until Start.
func New(p Params) *Adapter {
	a := &Adapter{
		url:      p.Config.NATSURL,
		hub:      p.Hub,
		interest: p.Interest,
		log:      p.Log.Named("cluster"),
		metrics:  newMetrics(),
		msgs:     make(chan *nats.Msg, receiveQueue),
		subs:     make(map[string]*nats.Subscription),
		quit:     make(chan struct{}),
		done:     make(chan struct{}),
		closed:   make(chan struct{}),
	}
	a.peers = newPeers(a, p.Wallet.Node())
	a.watching = make(chan struct{})
	p.Hub.SharePresence(a.peers)
	p.Hub.ShareReceipts(a.peers)
	if r := p.Recovery; r.Enabled {
		// As long as the hub keeps messages: the window of a session whose
		// connection was dead for as long as the heartbeat takes to notice.
		a.shared = newSharedLog(a, r.Window+p.Gateway.PingInterval+p.Gateway.PongTimeout)
		a.sessions = newSessionStore(a, p.Wallet.Node(), r.Window)
	}
	if p.Registry != nil {
		a.metrics.register(p.Registry, a)
	}
	return a
}

// Start makes one attempt to connect (bounded by nats.go's 2 s dial
// timeout). When NATS is not reachable the node starts all the same,
// serving its own members, and nats.go keeps trying in the background, like
// the wallet link. Only a configuration nats.go refuses (a malformed URL,
// say) fails the start.
func (a *Adapter) Start() error {
	nc, err := nats.Connect(a.url, a.options()...)
	if err != nil {
		return fmt.Errorf("cluster.natsUrl: %w", err)
	}
	a.conn.Store(nc)
	if a.shared != nil && !jetStreamUp(nc) {
		a.log.Warn("NATS answers without JetStream (start nats-server with -js): sessions recover only on the node they were on")
		a.shared = nil
		a.sessions.disabled.Store(true)
	}
	if err := a.peers.subscribe(nc); err != nil {
		nc.Close()
		return fmt.Errorf("cluster: subscribe: %w", err)
	}
	if a.shared != nil {
		if err := a.sessions.serve(nc); err != nil {
			nc.Close()
			return fmt.Errorf("cluster: subscribe: %w", err)
		}
	} else {
		for _, subject := range []string{allSubject, receiptSubject} {
			if _, err := nc.ChanSubscribe(subject, a.msgs); err != nil {
				nc.Close()
				return fmt.Errorf("cluster: subscribe: %w", err)
			}
		}
	}
	if nc.IsConnected() {
		// Up from now, not from when the connect handler runs: unless a
		// handler has already moved the state on.
		a.state.CompareAndSwap(int32(Connecting), int32(Up))
	} else {
		a.log.Warn("NATS is not reachable; delivering on this node only and retrying in the background")
	}
	go func() { defer close(a.watching); a.peers.watch(a.quit) }()
	if a.shared != nil {
		go a.runLog(nc)
	} else {
		syncs := make(chan chan struct{})
		a.interest.syncs.Store(&syncs)
		go a.run(nc, syncs)
	}
	return nil
}

// jetStreamUp reports whether nc's server runs JetStream, asking once.
func jetStreamUp(nc *nats.Conn) bool {
	if !nc.IsConnected() {
		return false
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = js.AccountInfo(ctx)
	return err == nil
}

// runLog follows the shared log and says the node is alive, until Stop.
func (a *Adapter) runLog(nc *nats.Conn) {
	defer close(a.done)
	beating := make(chan struct{})
	go func() { defer close(beating); a.sessions.beat(a.quit) }()
	a.shared.follow(nc, a.quit)
	<-beating
}

// Stop stops receiving, then drains the connection: what was published is
// flushed before it closes. It returns once the connection is closed, or
// closes it at once when ctx ends first.
func (a *Adapter) Stop(ctx context.Context) error {
	a.stopping.Store(true)
	close(a.quit)
	<-a.done
	<-a.watching
	nc := a.conn.Load()
	if err := nc.Drain(); err != nil {
		nc.Close()
	}
	select {
	case <-a.closed:
		return nil
	case <-ctx.Done():
		nc.Close()
		return fmt.Errorf("cluster: drain: %w", ctx.Err())
	}
}

// Publish delivers d to this node's members and publishes it to the others.
// A NATS outage does not fail it: the message is delivered here and counted
// in gamegate_cluster_publish_failures_total, never buffered for later.
// With recovery, d goes through the shared log instead, which every node
// delivers from (see sharedLog.publish).
func (a *Adapter) Publish(ctx context.Context, d gateway.Delivery) error {
	if a.shared != nil {
		a.shared.publish(ctx, d)
		return nil
	}
	a.hub.Deliver(d)
	a.publish(d)
	return nil
}

// Remote runs operations on the other nodes' connections.
func (a *Adapter) Remote() gateway.Remote { return a.peers }

// PollRelay carries long-polling requests to the node of their session.
func (a *Adapter) PollRelay() gateway.PollRelay { return a.peers }

// SessionStore is the store that shares sessions between the nodes, nil
// without recovery.
func (a *Adapter) SessionStore() gateway.SessionStore {
	if a.sessions == nil {
		return nil
	}
	return a.sessions
}

func (a *Adapter) publish(d gateway.Delivery) {
	nc := a.conn.Load()
	// While the connection is known to be down, do not even ask nats.go: it
	// holds its connection lock while it dials.
	if nc == nil || a.State() != Up {
		a.metrics.publishFailures.Inc()
		return
	}
	subject := roomSubject(d.Room)
	if d.Receipt != nil {
		subject = receiptSubject // every node reports, members or not
	}
	if err := nc.Publish(subject, marshal(d)); err != nil {
		a.metrics.publishFailures.Inc()
		// ErrReconnectBufExceeded: the connection dropped a moment ago and
		// the outage is logged by the disconnect handler.
		if !errors.Is(err, nats.ErrReconnectBufExceeded) {
			a.log.Warn("publish failed; delivered on this node only",
				zap.String("room", d.Room), zap.String("event", d.Msg.Event), zap.Int("bytes", len(d.Msg.Data)), zap.Error(err))
		}
		return
	}
	a.metrics.published.Inc()
}

// State is the state of the NATS connection.
func (a *Adapter) State() State { return State(a.state.Load()) }

// Subscriptions is the number of rooms the node subscribes to, besides the
// subject of messages to every client.
func (a *Adapter) Subscriptions() int { return int(a.nsubs.Load()) }

// run delivers what other nodes publish, and follows the node's interest in
// rooms. One goroutine does both, so messages are delivered in the order
// NATS sends them.
func (a *Adapter) run(nc *nats.Conn, syncs <-chan chan struct{}) {
	defer close(a.done)
	for {
		select {
		case <-a.quit:
			return
		case <-a.interest.changed:
			a.follow(nc)
		case done := <-syncs:
			a.follow(nc)
			_ = nc.FlushTimeout(time.Second) // the subscriptions reached NATS
			close(done)
		case m := <-a.msgs:
			a.receive(m)
		}
	}
}

// follow subscribes to the rooms that gained members and unsubscribes from
// those that lost them. While NATS is down nats.go records the changes and
// sends them once it is back, with every subscription still held.
func (a *Adapter) follow(nc *nats.Conn) {
	for room, active := range a.interest.take() {
		sub, subscribed := a.subs[room]
		switch {
		case active && !subscribed:
			s, err := nc.ChanSubscribe(roomSubject(room), a.msgs)
			if err != nil {
				a.log.Warn("subscribe failed", zap.String("room", room), zap.Error(err))
				continue
			}
			a.subs[room] = s
		case !active && subscribed:
			if err := sub.Unsubscribe(); err != nil {
				a.log.Warn("unsubscribe failed", zap.String("room", room), zap.Error(err))
			}
			delete(a.subs, room)
		}
	}
	a.nsubs.Store(int64(len(a.subs)))
}

func (a *Adapter) receive(m *nats.Msg) {
	d, err := unmarshal(m.Subject, m.Data)
	if err != nil {
		a.metrics.receiveErrors.WithLabelValues("malformed").Inc()
		a.log.Warn("dropped a message from NATS", zap.String("subject", m.Subject), zap.Error(err))
		return
	}
	a.metrics.received.Inc()
	a.hub.Deliver(d)
}
