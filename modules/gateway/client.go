package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// Client is one connected WebSocket (socket.io's Socket). Handlers and hooks
// receive it; its methods are safe for concurrent use.
type Client struct {
	id     string
	userID string
	roles  []string
	conn   *websocket.Conn
	out    *batch
	in     *bufio.Reader
	noPark bool // see leanConn.pipelined
	t      transport
	hub    *Hub
	log    *zap.Logger
	opts   *clientOptions
	ctx    context.Context
	cancel context.CancelFunc

	// The outgoing queue. A writer goroutine runs only while it is not
	// empty, so an idle client costs no goroutine for writing.
	mu           sync.Mutex
	queue        [][]byte
	spare        [][]byte
	writing      bool
	closePending bool
	closeCode    websocket.StatusCode
	closeReason  string
	closing      atomic.Bool // no more frames are accepted
	dropping     atomic.Bool // queued frames are discarded

	closeOnce sync.Once
	closed    chan struct{} // closed once the close frame is out, or the connection closed
	closeSent atomic.Bool   // the client has closeTimeout to answer our close frame

	// The reader: at most one goroutine reads at a time. A client that
	// sends events keeps its reader waiting for the next one; a quiet
	// client waits in the idle poller with none (parked).
	parked    atomic.Bool
	idleToken uint64      // the reader's
	spoke     atomic.Bool // an event came since the timer's last tick
	waitMu    sync.Mutex
	waiting   bool // the reader waits for the client's next frame
	kicked    bool // and its wait was cut short, to park

	roomsMu sync.Mutex
	rooms   map[string]struct{}

	limiter *rate.Limiter
	excess  int // refused messages in a row; read loop only
	pinger  *time.Timer
	async   sync.WaitGroup
}

type clientOptions struct {
	maxQueue     int
	writeTimeout time.Duration
	pingInterval time.Duration
	pongTimeout  time.Duration
	onSlow       func(*Client)
	resume       func(*Client) // reads on, in a new goroutine, for a parked client
}

// closeTimeout is how long a client has to answer our close frame.
const closeTimeout = 5 * time.Second

// ID is the client's id, unique on this node, as sent in `connected`.
func (c *Client) ID() string { return c.id }

// UserID is the token's `sub`.
func (c *Client) UserID() string { return c.userID }

// Roles are the token's `roles`.
func (c *Client) Roles() []string { return c.roles }

// HasRole reports whether the token's roles hold role.
func (c *Client) HasRole(role string) bool { return slices.Contains(c.roles, role) }

// Context is cancelled when the connection ends.
func (c *Client) Context() context.Context { return c.ctx }

// Join puts the client in room. Joining twice is a no-op.
func (c *Client) Join(room string) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if c.rooms == nil || c.closing.Load() {
		return
	}
	c.rooms[room] = struct{}{}
	c.hub.join(c, room)
}

// Leave takes the client out of room.
func (c *Client) Leave(room string) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if _, ok := c.rooms[room]; !ok {
		return
	}
	delete(c.rooms, room)
	c.hub.leave(c, room)
}

// Rooms lists the rooms the client is in, its personal room included.
func (c *Client) Rooms() []string {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	out := make([]string, 0, len(c.rooms))
	for r := range c.rooms {
		out = append(out, r)
	}
	return out
}

// leaveAll empties the client's rooms for good: later Joins are ignored.
func (c *Client) leaveAll() {
	c.roomsMu.Lock()
	rooms := c.rooms
	c.rooms = nil
	c.roomsMu.Unlock()
	for room := range rooms {
		c.hub.leave(c, room)
	}
}

// Emit sends event with data to this client only.
func (c *Client) Emit(event string, data any) error {
	raw, err := marshal(data)
	if err != nil {
		return err
	}
	c.enqueue(finishFrame(c.t.appendEvent(newFrame(len(event)+len(raw)+32), event, raw)))
	return nil
}

// Close sends what is already queued for the client, then closes the
// connection with code and reason. It returns at once; later frames are
// dropped.
func (c *Client) Close(code websocket.StatusCode, reason string) {
	c.close(code, reason, false)
}

// close starts the close once. With drop, queued frames are discarded and a
// write under way is the last one (a slow consumer); otherwise the writer
// drains the queue first and closes after it.
func (c *Client) close(code websocket.StatusCode, reason string, drop bool) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing.Store(true)
		if drop {
			c.dropping.Store(true)
			c.hub.metrics.Dropped(len(c.queue))
			clear(c.queue)
			c.queue = c.queue[:0]
		}
		c.closeCode, c.closeReason = code, reason
		c.closePending = true
		if f := c.t.farewell(code); f != nil && !drop {
			c.queue = append(c.queue, textFrame(f))
		}
		// A running writer closes after its last frame; otherwise start one
		// for what is queued, or close now.
		idle := !c.writing
		drain := idle && len(c.queue) > 0
		c.writing = c.writing || drain
		c.mu.Unlock()
		switch {
		case drain:
			go c.writeLoop(false)
		case idle:
			go c.finishClose()
		}
	})
}

// finishClose starts the close handshake, once, after the last write: the
// close frame goes out and the reader, seeing the client's answer, ends the
// connection; the client's timer cuts it off if no answer comes within
// closeTimeout. Not coder/websocket's Close: it would read the connection
// itself while the reader does.
func (c *Client) finishClose() {
	defer close(c.closed)
	if err := c.out.seal(closeFrame(c.closeCode, c.closeReason), c.opts.writeTimeout); err != nil {
		c.hangUp()
		return
	}
	c.mu.Lock()
	c.closeSent.Store(true)
	c.pinger.Reset(closeTimeout)
	c.mu.Unlock()
}

// await waits until the client has sent something, unless kick cuts the
// wait short: then it returns errQuiet.
func (c *Client) await() error {
	if c.in.Buffered() > 0 {
		return nil
	}
	c.waitMu.Lock()
	c.waiting = true
	c.waitMu.Unlock()
	_, err := c.in.Peek(1)
	c.waitMu.Lock()
	kicked := c.kicked
	c.waiting, c.kicked = false, false
	c.waitMu.Unlock()
	if !kicked {
		return err
	}
	_ = c.out.conn.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errQuiet
	}
	return err
}

// errQuiet ends a reader's wait for a client that has gone quiet.
var errQuiet = errors.New("client quiet")

// kick runs on every tick of the client's timer: a reader that waits for a
// client that sent no event since the last tick is cut short (a deadline in
// the past) to park in the idle poller.
func (c *Client) kick() {
	if c.spoke.Swap(false) {
		return
	}
	c.waitMu.Lock()
	if c.waiting && !c.kicked {
		c.kicked = true
		_ = c.out.conn.SetReadDeadline(time.Unix(1, 0))
	}
	c.waitMu.Unlock()
}

// hangUp cuts the connection now. A parked reader is woken to see the end
// and clean up.
func (c *Client) hangUp() {
	_ = c.conn.CloseNow()
	c.unpark()
}

// unpark starts a reader for c if c is parked, and only then.
func (c *Client) unpark() {
	if c.parked.CompareAndSwap(true, false) {
		go c.opts.resume(c)
	}
}

// sendReply queues a handler's reply or an exception, echoing the request id.
func (c *Client) sendReply(event string, data any, id json.RawMessage) {
	raw, err := marshal(data)
	if err != nil {
		c.log.Error("encoding reply", zap.String("event", event), zap.Error(err))
		event, raw = "exception", json.RawMessage(`{"status":"error","message":"Internal server error"}`)
	}
	c.enqueue(finishFrame(c.t.appendReply(newFrame(len(event)+len(raw)+len(id)+32), event, raw, id)))
}

type exceptionData struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (c *Client) exception(message string, id json.RawMessage) {
	c.sendReply("exception", exceptionData{Status: "error", Message: message}, id)
}

// enqueue adds frame, a complete WebSocket frame, to the outgoing queue and
// writes it unless a write is under way. It never blocks on the socket: a
// full queue closes the client with 1008 "slow consumer" instead.
func (c *Client) enqueue(frame []byte) bool {
	taken, start := c.push(frame)
	if start {
		c.writeLoop(true)
	}
	return taken
}

// push adds frame to the queue. It reports whether the frame was taken, and
// whether the caller must start the writing (writeLoop): nobody is writing
// to the client yet, and from now on others only add to the queue.
func (c *Client) push(frame []byte) (taken, start bool) {
	if c.closing.Load() {
		return false, false
	}
	c.mu.Lock()
	if c.closing.Load() {
		c.mu.Unlock()
		return false, false
	}
	if len(c.queue) >= c.opts.maxQueue {
		c.mu.Unlock()
		c.hub.metrics.SlowConsumer()
		c.opts.onSlow(c)
		c.close(websocket.StatusPolicyViolation, "slow consumer", true)
		return false, false
	}
	c.queue = append(c.queue, frame)
	start = !c.writing
	c.writing = true
	c.mu.Unlock()
	return true, start
}

// writeLoop drains the queue, taking every waiting frame per wake-up, and
// exits when it is empty, closing the connection if a Close is waiting.
//
// Inline, on the sender's goroutine (a handler's reply, the hub's
// writers), it makes one write: the socket almost always takes it at once,
// and a write made there costs no goroutine start and no scheduling. What
// was queued meanwhile waits for the hub's writers, with whatever else
// comes for the client by then. Inline it never waits for the socket or
// for a close handshake; whatever would wait goes on in a writer
// goroutine, so one slow client never holds up a broadcast to the others.
func (c *Client) writeLoop(inline bool) {
	for wrote := false; ; wrote = true {
		c.mu.Lock()
		if inline && wrote && len(c.queue) > 0 {
			c.mu.Unlock()
			c.hub.writers.add(c)
			return
		}
		if len(c.queue) == 0 {
			c.writing = false
			closeNow := c.closePending
			c.mu.Unlock()
			switch {
			case !closeNow:
			case inline:
				go c.finishClose()
			default:
				c.finishClose()
			}
			return
		}
		if !c.out.begin(!inline) {
			c.mu.Unlock()
			go c.writeLoop(false)
			return
		}
		frames := c.queue
		c.queue = c.spare[:0]
		c.mu.Unlock()

		// The frames gather in the connection's batch (no system call) and
		// go out in one write. Not c.ctx: a graceful close still drains the
		// queue after the connection's context has ended.
		for _, frame := range frames {
			if c.dropping.Load() {
				break
			}
			c.out.add(frame)
		}
		err := c.out.flush(c.opts.writeTimeout, !inline)
		clear(frames)
		c.mu.Lock()
		c.spare = nil
		if cap(frames) <= 16 { // a burst's big queue is not kept for an idle client
			c.spare = frames[:0]
		}
		c.mu.Unlock()
		switch {
		case errors.Is(err, errWouldBlock):
			go c.finishWrite()
			return
		case err != nil:
			c.writeFailed(err)
		}
	}
}

// finishWrite sends, in a writer goroutine, the rest of a batch the socket
// did not take at once, then drains the queue.
func (c *Client) finishWrite() {
	if err := c.out.flush(c.opts.writeTimeout, true); err != nil {
		c.writeFailed(err)
	}
	c.writeLoop(false)
}

// writeFailed drops what is queued: the socket is gone.
func (c *Client) writeFailed(err error) {
	c.mu.Lock()
	c.dropping.Store(true)
	clear(c.queue)
	c.queue = c.queue[:0]
	c.mu.Unlock()
	if !c.closing.Load() {
		c.log.Debug("write failed; dropping connection", zap.String("clientId", c.id), zap.Error(err))
		c.hangUp()
	}
}

// rearm sets the keepalive timer to fire after d, unless the client is
// closing. One timer per client serves pings and pong deadlines.
func (c *Client) rearm(d time.Duration) {
	c.mu.Lock()
	if !c.closing.Load() {
		c.pinger.Reset(d)
	}
	c.mu.Unlock()
}
