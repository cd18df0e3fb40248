package cluster

import (
	"context"
	"crypto/rand"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/pkg/redial"
)

// With recovery on, the nodes share a log of their rooms' messages: a
// JetStream stream that every node publishes to and follows, from the
// recent past to the present. Each message has one sequence number on every
// node, which is the sequence number of its offset; every node keeps the
// recent messages in its journal's history, so that a client recovers on
// any node without a read from JetStream; and every client gets its frames
// in the log's order. docs/cluster.md has the design.

// streamName is the shared log's stream.
const streamName = "GAMEGATE_ROOMS"

// gapSubject carries the log's gap markers: a node that delivered messages
// on its own while the log was out of reach publishes one once it is back,
// so that no session recovers across what the other nodes never saw.
const gapSubject = "gamegate.gap"

// publishPatience is how long a publish keeps trying while the log is out
// of reach, before the message is delivered on this node alone: a NATS
// server that restarts within it costs nothing.
const publishPatience = 3 * time.Second

// sharedLog is the Adapter's side of the log.
type sharedLog struct {
	a         *Adapter
	retention time.Duration
	js        atomic.Pointer[jetstream.JetStream]
	gapped    atomic.Bool // messages were delivered here alone: a marker is due
}

func newSharedLog(a *Adapter, retention time.Duration) *sharedLog {
	return &sharedLog{a: a, retention: retention}
}

// follow sets the log up and follows it until quit: the stream is created
// if missing, the hub follows it, and one ordered consumer reads it from
// the recent past on. It retries until NATS and JetStream answer.
func (l *sharedLog) follow(nc *nats.Conn, quit <-chan struct{}) {
	delay := redial.New(minReconnectDelay, maxReconnectDelay)
	for attempt := 1; ; attempt++ {
		cc, err := l.start(nc)
		if err == nil {
			<-quit
			cc.Stop()
			<-cc.Closed()
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			l.a.log.Warn("cannot follow the shared log yet; recovery waits, delivery goes on", zap.Int("attempt", attempt), zap.Error(err))
		}
		select {
		case <-quit:
			return
		case <-time.After(delay.Next()):
		}
	}
}

func (l *sharedLog) start(nc *nats.Conn) (jetstream.ConsumeContext, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	stream, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamName,
		Description: "gamegate: every room message, kept for session recovery",
		Subjects:    []string{roomPrefix + ">", allSubject, gapSubject},
		Storage:     jetstream.FileStorage,
		MaxAge:      l.retention,
		Discard:     jetstream.DiscardOld,
		Duplicates:  time.Minute,
	})
	if err != nil {
		return nil, err
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, err
	}
	// The stream's birth names the log: one made afresh (its data lost) is
	// another log, whose offsets mean nothing to this one's.
	l.a.hub.Follow(strconv.FormatInt(info.Created.UnixNano(), 36))
	from := time.Now().Add(-l.retention)
	caughtUp := info.State.LastSeq
	if info.State.LastSeq == 0 || info.State.LastTime.Before(from) {
		caughtUp = 0
		l.a.hub.Ready()
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartTimePolicy,
		OptStartTime:  &from,
	})
	if err != nil {
		return nil, err
	}
	r := &reader{l: l, caughtUp: caughtUp}
	cc, err := cons.Consume(r.read)
	if err != nil {
		return nil, err
	}
	l.js.Store(&js)
	l.a.log.Info("following the shared log: sessions recover on any node",
		zap.String("stream", streamName), zap.Uint64("lastSeq", info.State.LastSeq), zap.Duration("kept", l.retention))
	return cc, nil
}

// reader hands the log's messages to the hub, in order.
type reader struct {
	l        *sharedLog
	caughtUp uint64 // the last message of the past; 0 once read
}

func (r *reader) read(m jetstream.Msg) {
	meta, err := m.Metadata()
	if err != nil {
		return
	}
	seq := meta.Sequence.Stream
	live := r.caughtUp == 0 || seq > r.caughtUp
	if m.Subject() == gapSubject {
		r.l.a.hub.Gap(seq)
	} else if d, err := unmarshal(m.Subject(), m.Data()); err != nil {
		r.l.a.metrics.receiveErrors.WithLabelValues("malformed").Inc()
		r.l.a.log.Warn("dropped a message of the shared log", zap.String("subject", m.Subject()), zap.Error(err))
	} else {
		r.l.a.metrics.received.Inc()
		r.l.a.hub.DeliverAt(seq, d, live)
	}
	if r.caughtUp != 0 && seq >= r.caughtUp {
		r.caughtUp = 0
		r.l.a.hub.Ready()
	}
}

// publish puts d in the log, where every node, this one included, reads and
// delivers it. While the log is out of reach it keeps trying for
// publishPatience, then delivers d here alone and owes the log a gap marker.
func (l *sharedLog) publish(ctx context.Context, d gateway.Delivery) {
	msg := &nats.Msg{Subject: roomSubject(d.Room), Data: marshal(d)}
	id := rand.Text() // the same id on each try: JetStream keeps one copy
	deadline := time.Now().Add(publishPatience)
	for {
		js := l.js.Load()
		if js != nil && l.markGap(ctx, *js) {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			_, err := (*js).PublishMsg(pctx, msg, jetstream.WithMsgID(id))
			cancel()
			if err == nil {
				l.a.metrics.published.Inc()
				return
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	l.a.metrics.publishFailures.Inc()
	if !l.gapped.Swap(true) {
		l.a.log.Warn("the shared log is out of reach: delivering on this node only, and sessions will not recover across the gap")
	}
	l.a.hub.DeliverLocal(d)
}

// markGap publishes the gap marker owed, if any, and reports whether the log
// can be written to.
func (l *sharedLog) markGap(ctx context.Context, js jetstream.JetStream) bool {
	if !l.gapped.Load() {
		return true
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := js.Publish(pctx, gapSubject, nil); err != nil {
		return false
	}
	if l.gapped.CompareAndSwap(true, false) {
		l.a.log.Info("the shared log is back; a gap marker records what only this node delivered")
	}
	return true
}

// Why the store cannot answer.
var (
	errNoLog       = errors.New("cluster: NATS not reached yet")
	errNoJetStream = errors.New("cluster: NATS has no JetStream")
)
