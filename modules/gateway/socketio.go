package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/envelope"
	"github.com/gamegate/gamegate/pkg/socketio"
	"github.com/gamegate/gamegate/pkg/token"
)

// Socket.IO clients (socket.io-client v4) connect unchanged: Engine.IO 4 over
// the WebSocket transport, Socket.IO 5 packets on top, the namespace being
// the plain endpoint's path (/game). Everything after the handshake is the
// same session as a plain client's: handlers, guards, rooms, limits.

// engineError is Engine.IO's HTTP error body, which socket.io-client reports.
type engineError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Engine.IO's error codes.
const (
	engineTransportUnknown = 0
	engineBadRequest       = 3
	engineForbidden        = 4
	engineUnsupported      = 5
)

// HandleSocketIO is the echo handler for GET /socket.io/.
func (s *Server) HandleSocketIO(ec echo.Context) error {
	r := ec.Request()
	q := r.URL.Query()
	switch {
	case s.stopping.Load():
		return ec.JSON(http.StatusServiceUnavailable, engineError{engineBadRequest, "server is stopping"})
	case q.Get("EIO") != "4":
		return ec.JSON(http.StatusBadRequest, engineError{engineUnsupported,
			"unsupported Engine.IO protocol version " + q.Get("EIO") + ": use socket.io-client v4"})
	case q.Get("transport") != "websocket":
		return ec.JSON(http.StatusBadRequest, engineError{engineTransportUnknown,
			`only the websocket transport is supported: connect with transports: ["websocket"]`})
	case !s.originAllowed(r):
		return ec.JSON(http.StatusForbidden, engineError{engineForbidden, "origin not allowed"})
	}
	lc, err := accept(ec.Response(), r, nil) // Engine.IO has its own pings
	if err != nil {
		s.log.Debug("upgrade failed", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return nil // Accept has answered
	}
	// What the handshake needs of the request, copied: the request itself
	// is released when this handler returns.
	auth := sioAuth{fallback: token.FromRequest(r), remote: r.RemoteAddr}
	s.serve(func() {
		lc.conn.SetReadLimit(s.cfg.MaxMessageBytes)
		t := &sioTransport{ns: s.cfg.Path}
		claims, err := s.sioHandshake(lc.conn, auth, t)
		if err != nil {
			s.log.Debug("socket.io handshake ended", zap.String("remote", auth.remote), zap.Error(err))
			_ = lc.conn.CloseNow()
			s.conns.Done()
			return
		}
		s.session(lc, claims, t)
	})
	return nil
}

// sioAuth is what a Socket.IO handshake keeps of the upgrade request: the
// token it carried in a header or the query, if any, and the peer's address.
type sioAuth struct{ fallback, remote string }

// errHandshake ends a Socket.IO handshake that cannot go on.
var errHandshake = errors.New("socket.io handshake failed")

// sioHandshake sends the Engine.IO open packet and waits for a CONNECT to the
// namespace whose token verifies. A refused CONNECT is answered CONNECT_ERROR
// and the client may try again on the same connection, as with socket.io.
func (s *Server) sioHandshake(conn *websocket.Conn, auth sioAuth, t *sioTransport) (token.Claims, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SocketIO.ConnectTimeout)
	defer cancel()
	write := func(frame []byte) error { return conn.Write(ctx, websocket.MessageText, frame) }
	open := socketio.AppendOpen(nil, socketio.Open{
		SID:          rand.Text(),
		PingInterval: s.cfg.PingInterval.Milliseconds(),
		PingTimeout:  s.cfg.PongTimeout.Milliseconds(),
		MaxPayload:   s.cfg.MaxMessageBytes,
	})
	if err := write(open); err != nil {
		return token.Claims{}, err
	}
	for {
		typ, msg, err := conn.Read(ctx)
		if err != nil {
			return token.Claims{}, err
		}
		if typ != websocket.MessageText {
			_ = conn.Close(websocket.StatusUnsupportedData, "binary frames are not supported")
			return token.Claims{}, errHandshake
		}
		if len(msg) == 0 || msg[0] != socketio.EngineMessage {
			if len(msg) > 0 && msg[0] == socketio.EngineClose {
				return token.Claims{}, errHandshake
			}
			continue // pings, noops: nothing to do before the namespace is joined
		}
		p, err := socketio.Decode(msg[1:])
		if err != nil || p.Type != socketio.Connect {
			continue // socket.io ignores packets for namespaces not joined
		}
		if p.Namespace != t.ns {
			if err := write(socketio.AppendConnectError(nil, p.Namespace, "Invalid namespace")); err != nil {
				return token.Claims{}, err
			}
			continue
		}
		claims, err := s.verifier.Verify(ctx, auth.token(p.Payload))
		if err != nil {
			s.log.Debug("socket.io connect refused", zap.String("remote", auth.remote), zap.Error(err))
			if err := write(socketio.AppendConnectError(nil, t.ns, token.Message(err))); err != nil {
				return token.Claims{}, err
			}
			continue
		}
		return claims, nil
	}
}

// token is the client's token: `auth: { token }` of the CONNECT packet
// (socket.io's way), else the upgrade request's.
func (a sioAuth) token(payload json.RawMessage) string {
	var p struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(payload, &p) == nil && p.Token != "" {
		return p.Token
	}
	return a.fallback
}

// sioTransport is one Socket.IO connection's transport.
type sioTransport struct {
	ns string
	// skip counts binary attachment frames still to discard after a
	// refused binary packet.
	skip int
	hb   heartbeat
}

func (*sioTransport) kind() int { return kindSocketIO }

func (t *sioTransport) appendEvent(dst []byte, event string, data json.RawMessage) []byte {
	return socketio.AppendEvent(dst, t.ns, event, data)
}

// appendReply makes a reply the acknowledgement when the client asked for
// one, and an event otherwise.
func (t *sioTransport) appendReply(dst []byte, event string, data, id json.RawMessage) []byte {
	if id != nil {
		return socketio.AppendAck(dst, t.ns, id, data)
	}
	return socketio.AppendEvent(dst, t.ns, event, data)
}

func (t *sioTransport) welcome(c *Client) []byte { return socketio.AppendConnect(nil, t.ns, c.id) }

// farewell tells the client the server disconnected it, so that it does not
// reconnect at once, except when the server is stopping: then the client
// should reconnect, to another node or to this one once it is back.
func (t *sioTransport) farewell(code websocket.StatusCode) []byte {
	if code == websocket.StatusGoingAway {
		return nil
	}
	return socketio.AppendDisconnect(nil, t.ns)
}

const errBinaryAttachments = "binary attachments are not supported: send JSON"

func (t *sioTransport) read(s *Server, c *Client, typ websocket.MessageType, msg []byte) error {
	if typ != websocket.MessageText {
		if t.skip > 0 {
			t.skip--
			return nil
		}
		c.Close(websocket.StatusUnsupportedData, "binary frames are not supported")
		return errEnd
	}
	if len(msg) == 0 {
		return nil
	}
	switch msg[0] {
	case socketio.EnginePong:
		t.hb.answered()
		return nil
	case socketio.EnginePing: // an Engine.IO 3 habit; answer it anyway
		c.enqueue(textFrame([]byte{socketio.EnginePong}))
		return nil
	case socketio.EngineClose:
		c.Close(websocket.StatusNormalClosure, "")
		return errEnd
	case socketio.EngineMessage:
	default:
		return nil
	}
	if err := s.admit(c); err != nil {
		return ignoreSkip(err)
	}
	p, err := socketio.Decode(msg[1:])
	if err != nil {
		c.exception(err.Error(), nil)
		return nil
	}
	if p.Namespace != t.ns {
		return nil // not joined: ignored, as socket.io does
	}
	switch p.Type {
	case socketio.Event:
		event, data, err := p.Event()
		if err != nil {
			c.exception(err.Error(), p.ID)
			return nil
		}
		s.handle(c, envelope.Envelope{Event: event, Data: data, ID: p.ID})
	case socketio.BinaryEvent, socketio.BinaryAck:
		t.skip = p.Attachments
		c.exception(errBinaryAttachments, p.ID)
	case socketio.Disconnect:
		c.Close(websocket.StatusNormalClosure, "")
		return errEnd
	}
	return nil
}

// keepalive is Engine.IO's heartbeat: a "2" every pingInterval, to be
// answered "3" within pingTimeout.
func (t *sioTransport) keepalive(c *Client) { t.hb.beat(c, textFrame([]byte{socketio.EnginePing})) }

// pong: Engine.IO keeps alive with its own packets; WebSocket pongs are
// only accepted.
func (*sioTransport) pong() {}
