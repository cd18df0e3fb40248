package gateway

import (
	"encoding/json"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/envelope"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// transport is what differs between the plain WebSocket frames and
// Socket.IO: how messages are written and read, and how a client is kept
// alive. Rooms, handlers, guards and limits are shared.
type transport interface {
	// kind indexes Message's encoding cache: transports of one kind encode
	// a server event to the same bytes.
	kind() int
	// name is the transport as Socket says it: "ws" or "socketio".
	name() string
	// appendEvent encodes a server event; offset, when not empty, names a
	// message delivered through a room, and ackID asks for its
	// acknowledgement.
	appendEvent(dst []byte, event string, data json.RawMessage, offset, ackID string) []byte
	// appendReply encodes a handler's reply, or an exception, to a request
	// whose id is id (nil when it had none).
	appendReply(dst []byte, event string, data, id json.RawMessage) []byte
	// welcome is queued before the `connected` event, or nil.
	welcome(c *Client) []byte
	// farewell is sent before a close frame with code, or nil.
	farewell(code wsconn.StatusCode) []byte
	// read handles one message from the client.
	read(c *Client, op wsconn.Opcode, msg []byte)
	// keepalive runs on the client's timer, which it sets again.
	keepalive(c *Client)
	// pong is a WebSocket pong from the client.
	pong()
}

const (
	kindPlain = iota
	kindSocketIO
	transportKinds
)

// plain is the gateway's own transport: {"event","data","id"} text frames
// and WebSocket pings. One per connection: it holds the heartbeat's state.
type plain struct{ hb heartbeat }

func (*plain) kind() int    { return kindPlain }
func (*plain) name() string { return "ws" }

func (*plain) appendEvent(dst []byte, event string, data json.RawMessage, offset, ackID string) []byte {
	return envelope.AppendDelivered(dst, event, data, offset, ackID)
}

func (*plain) appendReply(dst []byte, event string, data, id json.RawMessage) []byte {
	return envelope.Append(dst, event, data, id)
}

func (*plain) welcome(*Client) []byte            { return nil }
func (*plain) farewell(wsconn.StatusCode) []byte { return nil }

func (*plain) read(c *Client, op wsconn.Opcode, msg []byte) {
	if op != wsconn.OpText {
		c.Close(wsconn.StatusUnsupportedData, "binary frames are not supported")
		return
	}
	if !c.srv.admit(c) {
		return
	}
	env, err := envelope.Decode(msg)
	if err != nil {
		c.exception(err.Error(), env.ID)
		return
	}
	c.srv.handle(c, env)
}

// keepalive sends a WebSocket ping.
func (t *plain) keepalive(c *Client) { t.hb.beat(c, c.ws.Load().Ping) }

func (t *plain) pong() { t.hb.answered() }

// heartbeat pings a client every pingInterval; a ping not answered within
// pongTimeout drops the connection. The client's timer alternates between
// the two phases, so no goroutine waits for a pong.
type heartbeat struct {
	awaiting atomic.Bool // a ping is out and not answered yet
	pinged   bool        // the timer's phase; touched only by the timer
}

func (h *heartbeat) beat(c *Client, ping func() bool) {
	cfg := &c.srv.cfg
	if h.pinged {
		h.pinged = false
		if h.awaiting.Load() {
			c.dropSilent()
			return
		}
		c.conn().SetTimer(max(cfg.PingInterval-cfg.PongTimeout, time.Millisecond))
		return
	}
	h.awaiting.Store(true) // before the ping goes out: the pong may be quick
	h.pinged = true
	ping()
	c.conn().SetTimer(cfg.PongTimeout)
}

func (h *heartbeat) answered() { h.awaiting.Store(false) }

// reset starts the heartbeat afresh, on a client's new connection, with no
// tick of the old one's timer under way.
func (h *heartbeat) reset() {
	h.awaiting.Store(false)
	h.pinged = false
}

// dropSilent drops a client that stopped answering pings, without a close
// frame: it is not listening.
func (c *Client) dropSilent() {
	if c.conn().Closing() {
		return
	}
	c.log.Info("no pong from client; dropping connection",
		zap.String("clientId", c.id), zap.String("userId", c.userID), zap.Duration("pongTimeout", c.srv.cfg.PongTimeout))
	c.conn().Abort()
}
