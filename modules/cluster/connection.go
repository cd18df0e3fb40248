package cluster

import (
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/redial"
)

// Connection tuning. A dead server that does not close the socket is noticed
// after about pingInterval × (maxPingsOut + 1).
const (
	pingInterval      = 10 * time.Second
	maxPingsOut       = 2
	minReconnectDelay = 100 * time.Millisecond
	maxReconnectDelay = 5 * time.Second
)

// options are the nats.go options of the Adapter's connection.
//   - NoEcho: the server does not send a node its own messages, which it has
//     already delivered to its members.
//   - RetryOnFailedConnect, MaxReconnects(-1): never give up, even on the
//     first connection.
//   - ReconnectBufSize(-1): no buffering while disconnected, so a publish
//     during an outage fails at once and is counted, instead of being sent
//     late or, past the buffer, lost.
func (a *Adapter) options() []nats.Option {
	return []nats.Option{
		nats.Name("gamegate"),
		nats.NoEcho(),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectBufSize(-1),
		// The wallet link's schedule; nats.go calls it from one goroutine.
		nats.CustomReconnectDelay(redial.New(minReconnectDelay, maxReconnectDelay).ByAttempt),
		nats.PingInterval(pingInterval),
		nats.MaxPingsOutstanding(maxPingsOut),
		nats.ConnectHandler(a.connected),
		nats.ReconnectHandler(a.reconnected),
		nats.DisconnectErrHandler(a.disconnected),
		nats.ReconnectErrHandler(a.reconnectFailed),
		nats.ClosedHandler(a.closedHandler),
		nats.ErrorHandler(a.asyncError),
	}
}

// nats.go calls the handlers below one at a time, in order, on its own
// goroutine.

func (a *Adapter) connected(nc *nats.Conn) {
	a.state.Store(int32(Up))
	a.log.Info("connected to NATS; rooms span every node", zap.String("url", nc.ConnectedUrlRedacted()))
}

func (a *Adapter) reconnected(nc *nats.Conn) {
	a.state.Store(int32(Up))
	a.metrics.reconnects.Inc()
	a.log.Info("reconnected to NATS; subscriptions restored, rooms span every node again",
		zap.String("url", nc.ConnectedUrlRedacted()), zap.Int("rooms", a.Subscriptions()))
}

func (a *Adapter) disconnected(_ *nats.Conn, err error) {
	if a.stopping.Load() {
		return
	}
	a.state.Store(int32(Down))
	a.log.Warn("lost the NATS connection; delivering on this node only until it returns", zap.Error(err))
}

func (a *Adapter) reconnectFailed(_ *nats.Conn, err error) {
	a.log.Debug("NATS connection attempt failed", zap.Error(err))
}

func (a *Adapter) closedHandler(*nats.Conn) {
	a.state.Store(int32(Closed))
	a.log.Info("NATS connection closed")
	close(a.closed)
}

func (a *Adapter) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrSlowConsumer) {
		a.metrics.receiveErrors.WithLabelValues("slow_consumer").Inc()
		a.log.Warn("receive queue full; NATS dropped messages for this node", zap.String("subject", sub.Subject))
		return
	}
	a.log.Warn("NATS error", zap.Error(err))
}
