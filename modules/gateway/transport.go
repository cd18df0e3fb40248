package gateway

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/envelope"
)

// transport is what differs between the contract's plain WebSocket frames
// and Socket.IO: how messages are written and read, and how a client is
// kept alive. Rooms, handlers, guards and limits are shared.
type transport interface {
	// kind indexes Message's encoding cache: transports of one kind encode
	// a server event to the same bytes.
	kind() int
	appendEvent(dst []byte, event string, data json.RawMessage) []byte
	// appendReply encodes a handler's reply, or an exception, to a request
	// whose id is id (nil when it had none).
	appendReply(dst []byte, event string, data, id json.RawMessage) []byte
	// welcome is queued before the `connected` event, or nil.
	welcome(c *Client) []byte
	// farewell is sent before a close frame with code, or nil.
	farewell(code websocket.StatusCode) []byte
	// read handles one message from the client; an error ends the
	// connection.
	read(s *Server, c *Client, typ websocket.MessageType, msg []byte) error
	// keepalive runs on the client's timer, which it re-arms.
	keepalive(c *Client)
	// pong is a WebSocket pong from the client.
	pong()
}

const (
	kindPlain = iota
	kindSocketIO
	transportKinds
)

// errEnd ends a read loop after a close has been started.
var errEnd = errors.New("connection closing")

// plain is the contract's transport: {"event","data","id"} text frames and
// WebSocket pings. One per connection: it holds the heartbeat's state.
type plain struct{ hb heartbeat }

func (*plain) kind() int { return kindPlain }

func (*plain) appendEvent(dst []byte, event string, data json.RawMessage) []byte {
	return envelope.Append(dst, event, data, nil)
}

func (*plain) appendReply(dst []byte, event string, data, id json.RawMessage) []byte {
	return envelope.Append(dst, event, data, id)
}

func (*plain) welcome(*Client) []byte               { return nil }
func (*plain) farewell(websocket.StatusCode) []byte { return nil }

func (*plain) read(s *Server, c *Client, typ websocket.MessageType, msg []byte) error {
	if typ != websocket.MessageText {
		c.Close(websocket.StatusUnsupportedData, "binary frames are not supported")
		return errEnd
	}
	if err := s.admit(c); err != nil {
		return ignoreSkip(err)
	}
	env, err := envelope.Decode(msg)
	if err != nil {
		c.exception(err.Error(), env.ID)
		return nil
	}
	s.handle(c, env)
	return nil
}

// ignoreSkip lets the read loop go on after a message admit refused.
func ignoreSkip(err error) error {
	if errors.Is(err, errSkip) {
		return nil
	}
	return err
}

// keepalive sends a WebSocket ping; coder/websocket reports the pong (see
// accept).
func (t *plain) keepalive(c *Client) { t.hb.beat(c, controlFrame(opPing, nil)) }

// heartbeat pings a client every pingInterval; a ping not answered within
// pongTimeout drops the connection. The client's timer alternates between
// the two phases, so no goroutine waits for a pong.
type heartbeat struct {
	awaiting atomic.Bool // a ping is out and not answered yet
	pinged   bool        // the timer's phase; touched only by the timer
}

func (h *heartbeat) beat(c *Client, ping []byte) {
	if h.pinged {
		h.pinged = false
		if h.awaiting.Load() {
			c.dropSilent()
			return
		}
		c.rearm(max(c.opts.pingInterval-c.opts.pongTimeout, time.Millisecond))
		return
	}
	h.awaiting.Store(true) // before the ping goes out: the pong may be quick
	h.pinged = true
	c.enqueue(ping)
	c.rearm(c.opts.pongTimeout)
}

func (h *heartbeat) answered() { h.awaiting.Store(false) }

func (t *plain) pong() { t.hb.answered() }

// dropSilent drops a client that stopped answering pings, without a close
// frame: it is not listening.
func (c *Client) dropSilent() {
	if c.ctx.Err() != nil || c.closing.Load() {
		return
	}
	c.log.Info("no pong from client; dropping connection",
		zap.String("clientId", c.id), zap.String("userId", c.userID), zap.Duration("pongTimeout", c.opts.pongTimeout))
	c.hangUp()
}
