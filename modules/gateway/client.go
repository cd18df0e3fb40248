package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/gamegate/gamegate/pkg/token"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// Client is one connected client (socket.io's Socket). Handlers and hooks
// receive it; its methods are safe for concurrent use.
type Client struct {
	id     string
	userID string
	claims atomic.Pointer[token.Claims] // the token's; refreshToken replaces them
	expiry *time.Timer                  // auth.expireConnections: closes at the token's exp
	// ws is the client's WebSocket. A Socket.IO client that began with
	// HTTP long-polling has none until it upgrades: poll is that session.
	// Deliveries and replies look at ws first (queue, send): to a WebSocket
	// they cost no interface call.
	ws     atomic.Pointer[wsconn.Conn]
	poll   *polling
	t      transport
	srv    *Server
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc

	// Its rooms, each with the sequence number after which the room's
	// messages are the client's (0 without recovery); nil once it has gone.
	roomsMu  sync.Mutex
	rooms    map[string]uint64
	session  *session        // nil without recovery
	watching map[string]bool // rooms whose presence events it gets
	// replayedAcks are the ackIds of receipts whose messages a recovery
	// replayed to it: it got them, though it was no recipient.
	replayedAcks []string

	connectedAt time.Time
	limiter     *rate.Limiter
	excess      int  // refused messages in a row; the reader's
	started     bool // the session began: in the hub, hooks run; the reader's

	// Handler runs under way, so that a stop lets them finish and write
	// their replies before the close frame.
	workMu   sync.Mutex
	work     int
	draining bool
	idle     chan struct{} // closed when work drops to 0 while draining
}

// conn is what a Client needs of its connection. *wsconn.Conn is one;
// *polling, an Engine.IO long-polling session, behaves as one.
type conn interface {
	// Send queues a frame built by wsconn.TextFrame or wsconn.FinishText.
	Send(frame []byte) bool
	Close(code wsconn.StatusCode, reason string, final []byte)
	Abort()
	SetTimer(d time.Duration)
	Closing() bool
	CloseSent() <-chan struct{}
	RemoteAddr() net.Addr
}

// conn is the client's connection: its WebSocket, or its long-polling
// session until it upgrades.
func (c *Client) conn() conn {
	if ws := c.ws.Load(); ws != nil {
		return ws
	}
	return c.poll
}

// send queues frame for the client.
func (c *Client) send(frame []byte) bool {
	if ws := c.ws.Load(); ws != nil {
		return ws.Send(frame)
	}
	return c.poll.Send(frame)
}

// queue adds frame to broadcast f for the client and reports whether the
// client took it: a WebSocket is written with f's other recipients, a
// long-polling session keeps it for its next GET.
func (c *Client) queue(f *wsconn.Fanout, frame []byte) bool {
	if ws := c.ws.Load(); ws != nil {
		return f.Send(ws, frame)
	}
	return c.poll.Send(frame)
}

// queueBacklog is queue for a frame of a recovery's replay, which may be
// longer than the queue a live client is allowed (wsconn.Conn.SendBacklog).
func (c *Client) queueBacklog(f *wsconn.Fanout, frame []byte) bool {
	if ws := c.ws.Load(); ws != nil {
		return f.SendBacklog(ws, frame)
	}
	return c.poll.send(frame, true)
}

// ack takes the client's acknowledgement of a delivery receipt's message.
// An ack of a message a recovery replayed is taken without an answer,
// though only the client's own deliveries are counted.
func (c *Client) ack(ackID string) error {
	err := c.srv.hub.receipts.ack(c, ackID)
	if errors.Is(err, errUnknownAck) {
		c.roomsMu.Lock()
		replayed := slices.Contains(c.replayedAcks, ackID)
		c.roomsMu.Unlock()
		if replayed {
			return nil
		}
	}
	return err
}

// ID is the client's id, unique on this node, as sent in `connected`.
func (c *Client) ID() string { return c.id }

// UserID is the token's `sub`.
func (c *Client) UserID() string { return c.userID }

// Roles are the token's `roles`.
func (c *Client) Roles() []string { return c.claims.Load().Roles }

// HasRole reports whether the token's roles hold role.
func (c *Client) HasRole(role string) bool { return c.claims.Load().HasRole(role) }

// Context is cancelled when the connection ends.
func (c *Client) Context() context.Context { return c.ctx }

// Join puts the client in room. Joining twice is a no-op.
func (c *Client) Join(room string) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if c.rooms == nil || c.conn().Closing() {
		return
	}
	if _, in := c.rooms[room]; in {
		return
	}
	if j := c.srv.hub.journal; j != nil {
		c.rooms[room] = j.join(c, room)
	} else {
		c.rooms[room] = 0
		c.srv.hub.join(c, room)
	}
	c.roomsChanged()
}

// roomsChanged tells the session's store, when it is shared, that the
// client's rooms changed, so that another node recovers it with them. It is
// called holding roomsMu: the writes are in the order of the changes.
func (c *Client) roomsChanged() {
	if ss := c.srv.sessions; ss != nil && ss.store != nil && c.session != nil {
		c.session.watching = slices.Collect(maps.Keys(c.watching))
		ss.save(c.session, maps.Clone(c.rooms))
	}
}

// Leave takes the client out of room.
func (c *Client) Leave(room string) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if _, ok := c.rooms[room]; !ok {
		return
	}
	delete(c.rooms, room)
	c.unwatch(room)
	c.srv.hub.leave(c, room)
	c.roomsChanged()
}

// InRoom reports whether the client is in room.
func (c *Client) InRoom(room string) bool {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	_, in := c.rooms[room]
	return in
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

// leaveAll empties the client's rooms for good, returning them and those
// it watched: later Joins are ignored.
func (c *Client) leaveAll() (map[string]uint64, []string) {
	c.roomsMu.Lock()
	rooms := c.rooms
	c.rooms = nil
	watching := slices.Collect(maps.Keys(c.watching))
	for room := range c.watching {
		c.unwatch(room)
	}
	c.roomsMu.Unlock()
	for room := range rooms {
		c.srv.hub.leave(c, room)
	}
	return rooms, watching
}

// roomSnapshot is a copy of the client's rooms, and the rooms it watches.
func (c *Client) roomSnapshot() (map[string]uint64, []string) {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	return maps.Clone(c.rooms), slices.Collect(maps.Keys(c.watching))
}

// Emit sends event with data to this client only.
func (c *Client) Emit(event string, data any) error {
	raw, err := marshal(data)
	if err != nil {
		return err
	}
	c.srv.metrics.MessagesOut(event, 1)
	c.send(wsconn.FinishText(c.t.appendEvent(wsconn.NewFrame(len(event)+len(raw)+32), event, raw, "", "")))
	return nil
}

// Close sends what is already queued for the client, then closes the
// connection with code and reason. It returns at once; later frames are
// dropped.
func (c *Client) Close(code wsconn.StatusCode, reason string) {
	var final []byte
	if f := c.t.farewell(code); f != nil {
		final = wsconn.TextFrame(f)
	}
	c.conn().Close(code, reason, final)
}

// reply encodes a handler's reply or an exception, echoing the request id,
// and counts it as sent: every frame for one client is built here or in Emit.
func (c *Client) reply(event string, data any, id json.RawMessage) []byte {
	raw, err := marshal(data)
	if err != nil {
		c.log.Error("encoding reply", zap.String("event", event), zap.Error(err))
		event, raw = "exception", json.RawMessage(`{"status":"error","message":"Internal server error"}`)
	}
	c.srv.metrics.MessagesOut(event, 1)
	return wsconn.FinishText(c.t.appendReply(wsconn.NewFrame(len(event)+len(raw)+len(id)+32), event, raw, id))
}

// sendReply sends a handler's reply or an exception.
func (c *Client) sendReply(event string, data any, id json.RawMessage) {
	c.send(c.reply(event, data, id))
}

type exceptionData struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

func (c *Client) exception(message string, id json.RawMessage) {
	c.sendReply("exception", exceptionData{Status: "error", Message: message}, id)
}

// startWork counts a handler run; false once the client drains for a stop.
func (c *Client) startWork() bool {
	c.workMu.Lock()
	defer c.workMu.Unlock()
	if c.draining {
		return false
	}
	c.work++
	return true
}

func (c *Client) endWork() {
	c.workMu.Lock()
	defer c.workMu.Unlock()
	c.work--
	if c.work == 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

var closedChan = func() chan struct{} { ch := make(chan struct{}); close(ch); return ch }()

// drain refuses new handler runs and returns a channel closed once those
// under way have ended.
func (c *Client) drain() <-chan struct{} {
	c.workMu.Lock()
	defer c.workMu.Unlock()
	c.draining = true
	switch {
	case c.work == 0:
		return closedChan
	case c.idle == nil:
		c.idle = make(chan struct{})
	}
	return c.idle
}

// connEvents is a Client as its connection sees it: the wsconn.Handler
// methods, kept off Client's API.
type connEvents Client

func (e *connEvents) OnMessage(op wsconn.Opcode, msg []byte) {
	c := (*Client)(e)
	c.t.read(c, op, msg)
}

func (e *connEvents) OnPong() { e.t.pong() }

func (e *connEvents) OnTimer() {
	c := (*Client)(e)
	c.t.keepalive(c)
}

func (e *connEvents) OnSlow(dropped int) {
	m := e.srv.metrics
	m.SlowConsumer()
	m.Dropped(dropped)
	e.log.Warn("slow consumer: too much waits for the client; closing with 1008",
		zap.String("clientId", e.id), zap.String("userId", e.userID), zap.Int("droppedFrames", dropped))
}

func (e *connEvents) OnClose(err error) { e.srv.cleanup((*Client)(e), err) }
