package tcpclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Why a link ends, as the log and ErrConnectionLost say it.
var (
	errCorrupt    = errors.New("corrupt stream")
	errPeerClosed = errors.New("wallet closed the connection")
	errMidFrame   = errors.New("wallet closed the connection mid-frame")
	errNoPong     = errors.New("wallet did not answer ping")
	errSilent     = errors.New("wallet sent nothing")
	// errNotSent: the link died before the request was queued, so the call
	// may safely wait for the next link.
	errNotSent = errors.New("request not sent")
)

// link is one connection to the wallet: a read loop that routes replies to
// their callers by requestId, a writer that coalesces queued requests, and
// a keep-alive that watches the wallet's silence.
type link struct {
	c        *Client
	conn     net.Conn
	out      *frame.Queue
	done     chan struct{} // closed by fail
	lastRead atomic.Int64  // UnixNano of the last read that returned bytes
	pinging  atomic.Bool   // a ping is in flight
	ackBuf   []byte        // the read loop's, for pushAcks

	mu      sync.Mutex
	err     error // why the link failed; set once, before done closes
	seq     uint64
	pending map[uint64]*call // nil once failed
	// waitingSince is when (UnixNano) pending last went from empty to not
	// empty; 0 while nothing is pending.
	waitingSince int64

	wg sync.WaitGroup
}

// call is one request waiting for its reply. Calls are pooled: whoever
// removes a call from pending (the read loop, fail, or the caller giving
// up) hands it back to the caller through done, and the caller recycles it.
type call struct {
	done   chan struct{} // one send per request
	status walletproto.Status
	body   []byte // the reply, copied out of the read buffer
	err    error
	req    []byte      // the encoded request
	timer  *time.Timer // the default timeout, for a ctx without deadline
}

var calls = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &call{done: make(chan struct{}, 1), timer: t}
}}

// maxPooledBuf keeps one huge message from pinning its buffer in the pool.
const maxPooledBuf = 64 << 10

func getCall() *call { return calls.Get().(*call) }

func recycle(cl *call) {
	cl.status, cl.err = walletproto.Status{}, nil
	if cap(cl.body) > maxPooledBuf {
		cl.body = nil
	}
	if cap(cl.req) > maxPooledBuf {
		cl.req = nil
	}
	calls.Put(cl)
}

// deadline is when a call gives up: when ctx ends, or when expired fires,
// a pooled timer standing for the default timeout, cheaper than a context
// per call. A nil expired never fires.
type deadline struct {
	ctx     context.Context
	expired <-chan time.Time
}

// err says why the deadline passed.
func (d deadline) err() error {
	if err := context.Cause(d.ctx); err != nil {
		return err
	}
	return context.DeadlineExceeded
}

func newLink(c *Client, conn net.Conn) *link {
	l := &link{
		c:       c,
		conn:    conn,
		out:     frame.NewQueue(c.framing, c.cfg.MaxFrameBytes),
		done:    make(chan struct{}),
		pending: map[uint64]*call{},
	}
	l.lastRead.Store(time.Now().UnixNano())
	l.wg.Go(func() { l.fail(l.read()) })
	l.wg.Go(func() {
		if err := l.out.Pump(conn, l.done); err != nil {
			l.fail(fmt.Errorf("write: %w", err))
		}
	})
	l.wg.Go(l.keepAlive)
	return l
}

// do sends req and waits for its reply until ctx ends.
func (l *link) do(ctx context.Context, req walletproto.Message, result any) error {
	cl := getCall()
	defer recycle(cl)
	return l.call(deadline{ctx: ctx}, cl, req, result)
}

// call sends req as cl and waits for its reply until d, decoding the
// reply's fields into result unless result is nil.
func (l *link) call(d deadline, cl *call, req walletproto.Message, result any) error {
	typ := req.MessageType()
	if err := context.Cause(d.ctx); err != nil {
		return fmt.Errorf("wallet %s: %w", typ, err) // send nothing nobody waits for
	}
	l.mu.Lock()
	if l.pending == nil {
		l.mu.Unlock()
		return errNotSent
	}
	l.seq++
	id := l.seq
	if len(l.pending) == 0 {
		l.waitingSince = time.Now().UnixNano()
	}
	l.pending[id] = cl
	l.mu.Unlock()

	var err error
	cl.req, err = l.c.codec.Append(cl.req[:0], walletproto.Header{Type: typ, RequestID: strconv.FormatUint(id, 10)}, req)
	if err == nil {
		err = l.out.Push(cl.req)
	}
	if err != nil {
		if !l.forget(id) {
			<-cl.done // fail got there first; the request never left
		}
		return fmt.Errorf("wallet %s: %w", typ, err)
	}

	gaveUp := false
	select {
	case <-cl.done:
	case <-d.ctx.Done():
		gaveUp = true
	case <-d.expired:
		gaveUp = true
	}
	if gaveUp {
		if l.forget(id) {
			return fmt.Errorf("wallet %s: %w", typ, d.err())
		}
		<-cl.done // too late: the reply or the failure is being handed over
	}
	switch {
	case cl.err != nil:
		return cl.err
	case !cl.status.OK:
		return cl.status.Err()
	case result != nil:
		if err := l.c.codec.Decode(cl.body, result); err != nil {
			return fmt.Errorf("wallet %s reply: %w", typ, err)
		}
	}
	return nil
}

// forget removes a pending call, reporting whether it was still pending.
func (l *link) forget(id uint64) bool { return l.remove(id) != nil }

// take removes and returns the call waiting for requestID, if any.
func (l *link) take(requestID string) *call {
	id, err := strconv.ParseUint(requestID, 10, 64)
	if err != nil {
		return nil
	}
	return l.remove(id)
}

// remove removes and returns a pending call, if it is still pending.
func (l *link) remove(id uint64) *call {
	l.mu.Lock()
	defer l.mu.Unlock()
	cl, ok := l.pending[id]
	if !ok {
		return nil
	}
	delete(l.pending, id)
	if len(l.pending) == 0 {
		l.waitingSince = 0
	}
	return cl
}

// read routes incoming messages until the stream ends or is corrupt.
func (l *link) read() error {
	fr := l.c.framing.NewReader(readClock{l}, l.c.cfg.MaxFrameBytes)
	var env walletproto.Envelope
	for {
		body, err := fr.ReadFrame()
		switch {
		case errors.Is(err, frame.ErrEmptyFrame), errors.Is(err, frame.ErrFrameTooLarge):
			return fmt.Errorf("%w: %w", errCorrupt, err)
		case errors.Is(err, io.EOF):
			return errPeerClosed
		case errors.Is(err, io.ErrUnexpectedEOF):
			return errMidFrame
		case err != nil:
			return err
		}
		env = walletproto.Envelope{}
		if err := l.c.codec.Decode(body, &env); err != nil {
			return fmt.Errorf("%w: %w", errCorrupt, err)
		}
		if cl := l.take(env.RequestID); cl != nil {
			cl.status = env.Status
			cl.body = append(cl.body[:0], body...)
			cl.done <- struct{}{}
			continue
		}
		l.c.dispatch(env.Header, body)
		if env.PushID != "" {
			l.ack(env.PushID)
		}
	}
}

// ack answers a push that carried a pushId once its handlers have taken it,
// so that the wallet does not resend it on its next link. If the link drops
// before the ack leaves, the wallet resends, and dispatch recognises the id.
func (l *link) ack(pushID string) {
	var err error
	l.ackBuf, err = l.c.codec.Append(l.ackBuf[:0], walletproto.Header{Type: walletproto.TypePushAck, PushID: pushID})
	if err == nil {
		err = l.out.Push(l.ackBuf)
	}
	if err != nil {
		l.c.msgLog.Warn("wallet pushAck not sent; the wallet will resend the push", zap.String("pushId", pushID), zap.Error(err))
	}
}

// readClock reads the connection and notes when bytes last came: any byte,
// not only a whole frame, shows the wallet is alive.
type readClock struct{ l *link }

func (r readClock) Read(p []byte) (int, error) {
	n, err := r.l.conn.Read(p)
	if n > 0 {
		r.l.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// keepAlive watches the wallet's silence until the link ends, and fails the
// link when watch finds it dead.
func (l *link) keepAlive() {
	t := time.NewTimer(l.c.cfg.PongTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-l.done:
			return
		case <-t.C:
		}
		next, err := l.watch(time.Now())
		if err != nil {
			l.fail(err)
			return
		}
		t.Reset(next)
	}
}

// watch looks at the link at now and returns how long to wait before the
// next look, or why the link is dead.
//
// A link is dead when nothing has been read for PongTimeout while a request
// waited (an idle ping included): a stopped wallet fails the calls in flight
// at once, not at their deadlines. After half of that silence a ping probes
// the wallet, so that one that is slow to answer a request but alive answers
// the ping and keeps its link. An idle link is pinged every PingInterval.
func (l *link) watch(now time.Time) (time.Duration, error) {
	timeout := l.c.cfg.PongTimeout
	half := timeout / 2
	lastRead := l.lastRead.Load()
	l.mu.Lock()
	since, waiting := l.waitingSince, len(l.pending)
	l.mu.Unlock()

	if waiting == 0 {
		idle := now.Sub(time.Unix(0, lastRead))
		if idle >= l.c.cfg.PingInterval {
			l.ping()
			return half, nil
		}
		// A request may start meanwhile: looking again within half the
		// timeout leaves time to probe before its silence reaches timeout.
		return min(l.c.cfg.PingInterval-idle, half), nil
	}
	silent := now.Sub(time.Unix(0, max(lastRead, since)))
	switch {
	case silent >= timeout:
		if waiting == 1 && l.pinging.Load() {
			return 0, fmt.Errorf("%w within %v", errNoPong, timeout)
		}
		return 0, fmt.Errorf("%w for %v with requests pending (%d)", errSilent, timeout, waiting)
	case silent >= half:
		l.ping()
		return timeout - silent, nil
	}
	return half - silent, nil
}

// ping sends a ping unless one is in flight. Its reply, like any byte, is a
// sign of life (an error reply too); the link's failure ends it otherwise.
func (l *link) ping() {
	if !l.pinging.CompareAndSwap(false, true) {
		return
	}
	l.wg.Go(func() {
		defer l.pinging.Store(false)
		_ = l.do(context.Background(), walletproto.Ping{}, nil)
	})
}

// fail ends the link for reason: the connection closes, the client stops
// handing the link to callers, and every pending call fails with
// ErrConnectionLost at once. Only the first reason counts.
func (l *link) fail(reason error) {
	l.mu.Lock()
	if l.err != nil {
		l.mu.Unlock()
		return
	}
	l.err = reason
	pending := l.pending
	l.pending = nil
	l.mu.Unlock()

	l.c.linkDown(l)
	close(l.done)
	l.conn.Close()
	lost := fmt.Errorf("%w: %w", ErrConnectionLost, reason)
	for _, cl := range pending {
		cl.err = lost
		cl.done <- struct{}{}
	}
}

// cause returns why the link failed, or nil while it is alive.
func (l *link) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// close fails the link and waits for its goroutines.
func (l *link) close(reason error) {
	l.fail(reason)
	l.wg.Wait()
}
