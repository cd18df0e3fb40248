package httpserver

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v5"
	"go.uber.org/zap"
)

// tcpAcceptor is the part of *net.TCPListener the listener uses.
type tcpAcceptor interface {
	AcceptTCP() (*net.TCPConn, error)
	Close() error
	Addr() net.Addr
}

// listener counts the connections it accepts until each is closed, upgraded
// WebSockets included, and marks those beyond the cap. It also backs off
// when accept fails for want of descriptors or memory, logging a burst of
// such errors when it starts and when it ends: net/http would log each one.
type listener struct {
	tcpAcceptor
	limit *connLimit
	log   *zap.Logger

	closeOnce sync.Once
	closed    chan struct{}

	// Accept's own state: net/http calls it from one goroutine.
	backoff    backoff.ExponentialBackOff
	failures   int // accept errors in a row
	failedFrom time.Time
}

func newListener(ln tcpAcceptor, limit *connLimit, log *zap.Logger) *listener {
	return &listener{
		tcpAcceptor: ln, limit: limit, log: log, closed: make(chan struct{}),
		// net/http's own accept backoff: 5 ms doubling up to 1 s.
		backoff: backoff.ExponentialBackOff{InitialInterval: 5 * time.Millisecond, Multiplier: 2, MaxInterval: time.Second},
	}
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		tc, err := l.AcceptTCP()
		if err == nil {
			l.recovered()
			return l.track(tc), nil
		}
		if !outOfResources(err) {
			return nil, err
		}
		if err := l.pause(err); err != nil {
			return nil, err
		}
	}
}

// outOfResources tells the accept errors that pass once connections close.
func outOfResources(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// pause waits before the next accept, logging the first error of a burst.
func (l *listener) pause(err error) error {
	if l.failures == 0 {
		l.log.Warn("accept failing; backing off until it recovers", zap.Error(err))
		l.failedFrom = time.Now()
		l.backoff.Reset()
	}
	l.failures++
	t := time.NewTimer(l.backoff.NextBackOff())
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-l.closed:
		return net.ErrClosed
	}
}

// recovered ends a burst of accept errors with one line.
func (l *listener) recovered() {
	if l.failures > 0 {
		l.log.Info("accepting again", zap.Int("failedAccepts", l.failures), zap.Duration("after", time.Since(l.failedFrom)))
		l.failures = 0
	}
}

// track wraps tc so that its Close releases its place under the cap. A
// connection over the cap gets its deadline at once, in case it never sends
// a request at all.
func (l *listener) track(tc *net.TCPConn) *conn {
	c := &conn{TCPConn: tc, limit: l.limit}
	if !l.limit.admit() {
		c.until = time.Now().Add(overCapGrace)
		_ = tc.SetDeadline(c.until)
	}
	return c
}

// Close stops Accept, even while it backs off.
func (l *listener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.tcpAcceptor.Close()
}

// conn is an accepted connection. It embeds *net.TCPConn so that what
// net/http and the gateway's WebSocket layer use stays available through
// it: SyscallConn (the gateway's epoll set and non-blocking writes),
// CloseWrite and ReadFrom.
type conn struct {
	*net.TCPConn
	limit  *connLimit
	closed atomic.Bool
	// until, for a connection accepted over the cap, is when it must be
	// gone, whatever deadline net/http asks for (it sets one per request);
	// zero otherwise.
	until time.Time
}

// Close releases the connection's place under the cap, once however often
// it is called.
func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.limit.open.Add(-1)
	}
	return c.TCPConn.Close()
}

func (c *conn) overCap() bool { return !c.until.IsZero() }

func (c *conn) SetDeadline(t time.Time) error      { return c.TCPConn.SetDeadline(c.clamp(t)) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.TCPConn.SetReadDeadline(c.clamp(t)) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.TCPConn.SetWriteDeadline(c.clamp(t)) }

// clamp keeps a deadline of a connection over the cap no later than until.
func (c *conn) clamp(t time.Time) time.Time {
	if c.overCap() && (t.IsZero() || t.After(c.until)) {
		return c.until
	}
	return t
}
