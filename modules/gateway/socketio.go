package gateway

import (
	"encoding/json"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/envelope"
	"github.com/gamegate/gamegate/pkg/socketio"
	"github.com/gamegate/gamegate/pkg/token"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// Socket.IO clients (socket.io-client v4) connect unchanged: Engine.IO 4
// (engineio.go: HTTP long-polling or a WebSocket), Socket.IO 5 packets on
// top, the namespace being the plain endpoint's path (/game). Everything
// after the handshake is the same session as a plain client's: handlers,
// guards, rooms, limits.

// handshake answers a packet that comes before the client's CONNECT to the
// namespace: a CONNECT whose token verifies begins the session; a refused
// one gets CONNECT_ERROR and the client may try again on the same
// connection, as with socket.io. Anything else waits for the namespace.
func (t *sioTransport) handshake(c *Client, msg []byte) {
	if len(msg) == 0 || msg[0] != socketio.EngineMessage {
		if len(msg) > 0 && msg[0] == socketio.EngineClose {
			c.Close(wsconn.StatusNormalClosure, "")
		}
		return // pings, noops: nothing to do before the namespace is joined
	}
	p, err := socketio.Decode(msg[1:])
	if err != nil || p.Type != socketio.Connect {
		return // socket.io ignores packets for namespaces not joined
	}
	if p.Namespace != t.ns {
		c.send(wsconn.TextFrame(socketio.AppendConnectError(nil, p.Namespace, "Invalid namespace")))
		return
	}
	s := c.srv
	auth := t.auth(p.Payload)
	claims, err := s.verifier.Verify(c.ctx, auth.token)
	if err != nil {
		s.log.Debug("socket.io connect refused", zap.Stringer("remote", c.conn().RemoteAddr()), zap.Error(err))
		c.send(wsconn.TextFrame(socketio.AppendConnectError(nil, t.ns, token.Message(err))))
		return
	}
	t.connected.Store(true) // first: the session's timer and hooks see it
	s.begin(c, claims, auth.resume)
}

// sioAuth is what a CONNECT packet's auth says: the token, and for a
// reconnect the session to recover (connection state recovery: pid, and the
// last offset received).
type sioAuth struct {
	token  string
	resume *resume
}

// auth reads the CONNECT packet's auth, `{token, pid, offset}`; without a
// token there, the upgrade request's counts. A pid or offset that is not a
// string names no session or offset.
func (t *sioTransport) auth(payload json.RawMessage) sioAuth {
	var p struct {
		Token  string          `json:"token"`
		PID    json.RawMessage `json:"pid"`
		Offset json.RawMessage `json:"offset"`
	}
	_ = json.Unmarshal(payload, &p)
	a := sioAuth{token: p.Token}
	if a.token == "" {
		a.token = t.fallback
	}
	if p.PID != nil {
		a.resume = &resume{sessionID: clip(jsonString(p.PID)), offset: clip(jsonString(p.Offset))}
	}
	return a
}

// jsonString is raw as a string: "" when absent or null, and for anything
// else that is not a string, "-", which names no session and no offset.
func jsonString(raw json.RawMessage) string {
	if raw == nil || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "-"
	}
	return s
}

// sioTransport is one Socket.IO connection's transport.
type sioTransport struct {
	ns string
	// fallback is the upgrade request's token, if it carried one.
	fallback string
	// connected: the session began. Until then only the handshake runs.
	connected atomic.Bool
	// skip counts binary attachment frames still to discard after a
	// refused binary packet.
	skip int
	hb   heartbeat
}

func (*sioTransport) kind() int    { return kindSocketIO }
func (*sioTransport) name() string { return "socketio" }

func (t *sioTransport) appendEvent(dst []byte, event string, data json.RawMessage, offset, ackID string) []byte {
	return socketio.AppendEvent(dst, t.ns, event, data, offset, ackID)
}

// appendReply makes a reply the acknowledgement when the client asked for
// one, and an event otherwise.
func (t *sioTransport) appendReply(dst []byte, event string, data, id json.RawMessage) []byte {
	if id != nil {
		return socketio.AppendAck(dst, t.ns, id, data)
	}
	return socketio.AppendEvent(dst, t.ns, event, data, "", "")
}

// welcome is the CONNECT reply, with the session id as socket.io's pid
// when there is a session to recover later.
func (t *sioTransport) welcome(c *Client) []byte {
	pid := ""
	if c.session != nil {
		pid = c.session.id
	}
	return socketio.AppendConnect(nil, t.ns, c.id, pid)
}

// farewell tells the client the server disconnected it, so that it does not
// reconnect at once, except when the server is stopping: then the client
// should reconnect, to another node or to this one once it is back.
func (t *sioTransport) farewell(code wsconn.StatusCode) []byte {
	if code == wsconn.StatusGoingAway || !t.connected.Load() {
		return nil
	}
	return socketio.AppendDisconnect(nil, t.ns)
}

const errBinaryAttachments = "binary attachments are not supported: send JSON"

func (t *sioTransport) read(c *Client, op wsconn.Opcode, msg []byte) {
	if op != wsconn.OpText {
		if t.skip > 0 {
			t.skip--
			return
		}
		c.Close(wsconn.StatusUnsupportedData, "binary frames are not supported")
		return
	}
	if !t.connected.Load() {
		t.handshake(c, msg)
		return
	}
	if len(msg) == 0 {
		return
	}
	switch msg[0] {
	case socketio.EnginePong:
		t.hb.answered()
		return
	case socketio.EnginePing: // an Engine.IO 3 habit; answer it anyway
		c.send(wsconn.TextFrame([]byte{socketio.EnginePong}))
		return
	case socketio.EngineClose:
		c.Close(wsconn.StatusNormalClosure, "")
		return
	case socketio.EngineMessage:
	default:
		return
	}
	if !c.srv.admit(c) {
		return
	}
	p, err := socketio.Decode(msg[1:])
	if err != nil {
		c.exception(err.Error(), nil)
		return
	}
	if p.Namespace != t.ns {
		return // not joined: ignored, as socket.io does
	}
	switch p.Type {
	case socketio.Event:
		event, data, err := p.Event()
		if err != nil {
			c.exception(err.Error(), p.ID)
			return
		}
		c.srv.handle(c, envelope.Envelope{Event: event, Data: data, ID: p.ID})
	case socketio.BinaryEvent, socketio.BinaryAck:
		t.skip = p.Attachments
		c.exception(errBinaryAttachments, p.ID)
	case socketio.Ack: // an emit's ack callback: a delivery receipt's ack
		if err := c.ack(string(p.ID)); err != nil {
			c.exception(err.Error(), nil)
		}
	case socketio.Disconnect:
		c.Close(wsconn.StatusNormalClosure, "")
	}
}

// keepalive is Engine.IO's heartbeat: a "2" every pingInterval, to be
// answered "3" within pingTimeout. Before the session begins, the timer
// bounds the wait for the client's CONNECT.
func (t *sioTransport) keepalive(c *Client) {
	if !t.connected.Load() {
		c.srv.log.Debug("socket.io client sent no CONNECT in time", zap.Stringer("remote", c.conn().RemoteAddr()))
		c.Close(wsconn.StatusPolicyViolation, "no CONNECT within the connect timeout")
		return
	}
	t.hb.beat(c, func() bool { return c.send(sioPing) })
}

// sioPing is Engine.IO's ping packet, shared by every connection.
var sioPing = wsconn.TextFrame([]byte{socketio.EnginePing})

// pong: Engine.IO keeps alive with its own packets; WebSocket pongs are
// only accepted.
func (*sioTransport) pong() {}
