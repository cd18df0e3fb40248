package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/socketio"
	"github.com/gamegate/gamegate/pkg/token"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// The /socket.io/ endpoint speaks Engine.IO 4 as socket.io's server does. A
// session opens over HTTP long-polling (a GET without sid, socket.io-client's
// default) or over a WebSocket; a polling session's GETs and POSTs name it
// by its sid, and the session may move to a WebSocket (the upgrade).
// Clustered, the sid names the node that holds the session, and a polling
// request that reaches another node is relayed to it: no sticky sessions.

// engineError is Engine.IO's HTTP error body, which socket.io-client
// reports.
type engineError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// Engine.IO's error codes.
const (
	engineTransportUnknown = 0
	engineUnknownSID       = 1
	engineBadMethod        = 2
	engineBadRequest       = 3
	engineForbidden        = 4
	engineUnsupported      = 5
)

const (
	// relayedPollWait bounds a GET relayed from another node: with nothing
	// to send by then, it is answered with a noop before that node gives up.
	relayedPollWait = 20 * time.Second
	// relayGrace is how much longer the relaying node waits for the answer.
	relayGrace = 5 * time.Second
	// upgradeTimeout closes a WebSocket that offered to take a session over
	// and did not (engine.io's upgradeTimeout).
	upgradeTimeout = 10 * time.Second
)

// PollRequest is a long-polling request for a session, as it is relayed to
// the session's node.
type PollRequest struct {
	SID    string `json:"sid"`
	Method string `json:"method"` // GET or POST
	// Transport is the request's transport: a polling session answers
	// "polling" only.
	Transport string `json:"transport"`
	// Binary: the POST's Content-Type is application/octet-stream, which
	// Engine.IO 4 refuses.
	Binary bool   `json:"binary,omitempty"`
	Body   []byte `json:"body,omitempty"`
}

// PollAnswer is the answer to a PollRequest. Status 0 is none: the client
// left.
type PollAnswer struct {
	Status int    `json:"status"`
	Type   string `json:"type,omitempty"` // Content-Type
	Body   []byte `json:"body,omitempty"`
}

// PollRelay carries long-polling requests to the node that holds their
// session, so that a load balancer may send each request to any node. The
// cluster module provides it.
type PollRelay interface {
	// Relay has the node that tag names answer req; ErrNoNode when no
	// node answers to tag.
	Relay(ctx context.Context, tag string, req PollRequest) (PollAnswer, error)
	// ServePolls answers the requests relayed to this node, which tag
	// names, with serve.
	ServePolls(tag string, serve func(context.Context, PollRequest) PollAnswer)
}

// ErrNoNode is Relay's answer for a tag no node has: the session is gone
// with its node.
var ErrNoNode = errors.New("gateway: no node holds the session")

// The answers of a polling request that carry no packets.
var (
	unknownSession = engineAnswer(http.StatusBadRequest, engineUnknownSID, "Session ID unknown")
	badRequest     = engineAnswer(http.StatusBadRequest, engineBadRequest, "Bad request")
	postOK         = PollAnswer{Status: http.StatusOK, Type: "text/html", Body: []byte("ok")}
)

func engineAnswer(status, code int, message string) PollAnswer {
	b, _ := json.Marshal(engineError{code, message}) // cannot fail: plain fields
	return PollAnswer{Status: status, Type: echo.MIMEApplicationJSON, Body: b}
}

// pollAnswer answers a GET with frames as one payload, or a noop.
func pollAnswer(frames [][]byte) PollAnswer {
	if len(frames) == 0 {
		frames = [][]byte{noopPacket}
	}
	n := len(frames) - 1
	for _, f := range frames {
		n += len(wsconn.Payload(f))
	}
	b := make([]byte, 0, n)
	for i, f := range frames {
		if i > 0 {
			b = append(b, socketio.Separator)
		}
		b = append(b, wsconn.Payload(f)...)
	}
	return PollAnswer{Status: http.StatusOK, Type: "text/plain; charset=UTF-8", Body: b}
}

// nodeTag names a node in the sids it gives, without showing its name:
// 8 base32 characters of a hash of it.
func nodeTag(node string) string {
	h := sha256.Sum256([]byte(node))
	return base32.StdEncoding.EncodeToString(h[:5])
}

// sidTag is the tag of the node that gave sid ("<random>-<tag>"), or ""
// when sid is not one of ours.
func sidTag(sid string) string {
	_, tag, _ := strings.Cut(sid, "-")
	if len(tag) != 8 || strings.Trim(tag, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		return ""
	}
	return tag
}

// HandleSocketIO is the echo handler of /socket.io/ (GET, POST and
// OPTIONS), checked in engine.io's order after the Origin.
func (s *Server) HandleSocketIO(ec echo.Context) error {
	r := ec.Request()
	if !s.allowCORS(ec) {
		return writeAnswer(ec, engineAnswer(http.StatusForbidden, engineForbidden, "origin not allowed"))
	}
	if r.Method == http.MethodOptions {
		return ec.NoContent(http.StatusNoContent)
	}
	q := r.URL.Query()
	transport := q.Get("transport")
	if transport != "polling" && transport != "websocket" {
		return writeAnswer(ec, engineAnswer(http.StatusBadRequest, engineTransportUnknown, "Transport unknown"))
	}
	upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
	if sid := q.Get("sid"); sid != "" {
		if transport == "websocket" && upgrade {
			return s.upgradeSession(ec, sid)
		}
		return s.pollRequest(ec, PollRequest{SID: sid, Method: r.Method, Transport: transport})
	}
	switch {
	case r.Method != http.MethodGet:
		return writeAnswer(ec, engineAnswer(http.StatusBadRequest, engineBadMethod, "Bad handshake method"))
	case transport == "websocket" && !upgrade:
		return writeAnswer(ec, badRequest)
	case q.Get("EIO") != "4":
		return writeAnswer(ec, engineAnswer(http.StatusBadRequest, engineUnsupported, "Unsupported protocol version"))
	case s.isStopping():
		return writeAnswer(ec, engineAnswer(http.StatusServiceUnavailable, engineBadRequest, "server is stopping"))
	case transport == "websocket":
		return s.openWebSocket(ec)
	}
	return s.openPolling(ec)
}

// allowCORS applies gateway.cors.origins and, to an Origin it allows,
// answers as socket.io's server with cors {origin, credentials: true}
// does: the Origin echoed, credentials allowed, and a preflight's request
// headers allowed too. It reports false for an Origin it does not allow.
func (s *Server) allowCORS(ec echo.Context) bool {
	r := ec.Request()
	h := ec.Response().Header()
	h.Add(echo.HeaderVary, echo.HeaderOrigin)
	origin := r.Header.Get(echo.HeaderOrigin)
	if !s.originAllowed(r) {
		return false
	}
	if origin == "" {
		return true
	}
	h.Set(echo.HeaderAccessControlAllowOrigin, origin)
	h.Set(echo.HeaderAccessControlAllowCredentials, "true")
	if r.Method == http.MethodOptions {
		h.Set(echo.HeaderAccessControlAllowMethods, "GET,POST")
		if asked := r.Header.Get(echo.HeaderAccessControlRequestHeaders); asked != "" {
			h.Set(echo.HeaderAccessControlAllowHeaders, asked)
			h.Add(echo.HeaderVary, echo.HeaderAccessControlRequestHeaders)
		}
	}
	return true
}

// openPacket is the Engine.IO open packet of session sid.
func (s *Server) openPacket(sid string, upgrades []string) []byte {
	return wsconn.TextFrame(socketio.AppendOpen(nil, socketio.Open{
		SID:          sid,
		Upgrades:     upgrades,
		PingInterval: s.cfg.PingInterval.Milliseconds(),
		PingTimeout:  s.cfg.PongTimeout.Milliseconds(),
		MaxPayload:   s.cfg.MaxMessageBytes,
	}))
}

// sioTransport is the transport of a Socket.IO client whose handshake is
// r. The session begins with the client's CONNECT (sioTransport.read);
// what the handshake needs of the request is kept: the request itself is
// released when its handler returns.
func (s *Server) sioTransport(r *http.Request) *sioTransport {
	return &sioTransport{ns: s.cfg.Path, fallback: token.FromRequest(r)}
}

// openWebSocket opens a session over a WebSocket at once.
func (s *Server) openWebSocket(ec echo.Context) error {
	r := ec.Request()
	conn, err := s.ws.Upgrade(ec.Response(), r)
	if err != nil {
		return s.sioUpgradeFailed(ec, err)
	}
	c := s.newClient(conn, s.sioTransport(r))
	conn.Send(s.openPacket(rand.Text(), nil))
	conn.SetTimer(s.cfg.SocketIO.ConnectTimeout)
	conn.Serve((*connEvents)(c))
	return nil
}

// sioUpgradeFailed answers a WebSocket handshake that failed in Engine.IO's
// error format; after a failed takeover there is nobody to answer.
func (s *Server) sioUpgradeFailed(ec echo.Context, err error) error {
	var he *wsconn.HandshakeError
	if errors.As(err, &he) {
		return writeAnswer(ec, engineAnswer(he.Status, engineBadRequest, he.Message))
	}
	return s.upgradeFailed(ec, err)
}

// openPolling opens a session over long-polling: the handshake GET is
// answered with the open packet, which offers the upgrade to a WebSocket.
func (s *Server) openPolling(ec echo.Context) error {
	r := ec.Request()
	sid := rand.Text() + "-" + s.tag
	p := newPolling(s, sid, r.RemoteAddr)
	c := s.newClient(p, s.sioTransport(r))
	p.Send(s.openPacket(sid, []string{"websocket"}))
	p.SetTimer(s.cfg.SocketIO.ConnectTimeout)
	s.mu.Lock()
	s.polls[sid] = c
	s.mu.Unlock()
	p.Serve((*connEvents)(c))
	return writeAnswer(ec, p.get(r.Context()))
}

// pollRequest answers a GET or POST of session req.SID, here or, when
// another node gave the sid, through that node.
func (s *Server) pollRequest(ec echo.Context, req PollRequest) error {
	r := ec.Request()
	if req.Method == http.MethodPost {
		body, err := readBody(r, s.cfg.MaxMessageBytes)
		switch {
		case errors.Is(err, errTooLarge):
			return ec.NoContent(http.StatusRequestEntityTooLarge)
		case err != nil:
			return nil // the client left, or took too long to send its body
		}
		req.Body = body
		req.Binary = r.Header.Get(echo.HeaderContentType) == echo.MIMEOctetStream
		return writeAnswer(ec, s.answerPoll(r.Context(), req))
	}
	// A long-poll waits for the server's next packet, longer than
	// http.requestTimeout and http.writeTimeout; net/http's read deadline
	// would even cancel the request, as a client that left does. Its
	// answer gets gateway.writeTimeout, as a WebSocket's writes do.
	rc := http.NewResponseController(ec.Response())
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	a := s.answerPoll(r.Context(), req)
	_ = rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	return writeAnswer(ec, a)
}

// answerPoll answers req here or, when another node gave the sid, through
// that node. Its Status is 0 when the client has left.
func (s *Server) answerPoll(ctx context.Context, req PollRequest) PollAnswer {
	tag := sidTag(req.SID)
	if tag == s.tag || tag == "" || s.relay == nil {
		return s.servePoll(ctx, req)
	}
	rctx, cancel := context.WithTimeout(ctx, relayedPollWait+relayGrace)
	defer cancel()
	a, err := s.relay.Relay(rctx, tag, req)
	switch {
	case errors.Is(err, ErrNoNode):
		return unknownSession
	case ctx.Err() != nil:
		return PollAnswer{}
	case err != nil:
		s.log.Warn("relaying a polling request to its session's node failed", zap.String("method", req.Method), zap.Error(err))
		return engineAnswer(http.StatusServiceUnavailable, engineBadRequest, "the session's node cannot be reached")
	}
	return a
}

var errTooLarge = errors.New("body too large")

// readBody reads a POST's body, errTooLarge past limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if int64(len(b)) > limit {
		return nil, errTooLarge
	}
	return b, err
}

// writeAnswer writes a, with the headers engine.io gives.
func writeAnswer(ec echo.Context, a PollAnswer) error {
	if a.Status == 0 {
		return nil
	}
	h := ec.Response().Header()
	if a.Status == http.StatusOK {
		h.Set("Cache-Control", "no-store")
	}
	if a.Type == "" {
		return ec.NoContent(a.Status)
	}
	h.Set(echo.HeaderContentLength, strconv.Itoa(len(a.Body)))
	return ec.Blob(a.Status, a.Type, a.Body)
}

// servePoll answers a polling request for a session of this node.
func (s *Server) servePoll(ctx context.Context, req PollRequest) PollAnswer {
	s.mu.Lock()
	c := s.polls[req.SID]
	s.mu.Unlock()
	switch {
	case c == nil:
		return unknownSession
	case req.Transport != "polling":
		return badRequest
	case req.Method == http.MethodGet:
		return c.poll.get(ctx)
	case req.Binary:
		c.poll.end(errPollParse, closePacket)
		return PollAnswer{Status: http.StatusBadRequest}
	}
	return c.poll.post(req.Body)
}

// serveRelayed answers a polling request relayed from another node, within
// relayedPollWait.
func (s *Server) serveRelayed(ctx context.Context, req PollRequest) PollAnswer {
	ctx, cancel := context.WithTimeout(ctx, relayedPollWait)
	defer cancel()
	return s.servePoll(ctx, req)
}

// releasePolls answers the GETs that wait, and any still to come, at once:
// the HTTP server has stopped accepting and waits for its requests to end.
func (s *Server) releasePolls() { s.releaseOnce.Do(func() { close(s.released) }) }

func (s *Server) pollsReleased() bool {
	select {
	case <-s.released:
		return true
	default:
		return false
	}
}

// upgradeSession answers a WebSocket that offers to carry session sid
// (Engine.IO's upgrade). The WebSocket must reach the node that holds the
// session: on another node it is refused and the client goes on polling.
func (s *Server) upgradeSession(ec echo.Context, sid string) error {
	s.mu.Lock()
	c := s.polls[sid]
	s.mu.Unlock()
	switch tag := sidTag(sid); {
	case c == nil && tag != "" && tag != s.tag && s.relay != nil:
		return writeAnswer(ec, engineAnswer(http.StatusBadRequest, engineBadRequest,
			"the session is on another node: a WebSocket cannot move it; go on polling"))
	case c == nil:
		return writeAnswer(ec, unknownSession)
	case !c.poll.movable():
		return writeAnswer(ec, badRequest)
	}
	ws, err := s.ws.Upgrade(ec.Response(), ec.Request())
	if err != nil {
		return s.sioUpgradeFailed(ec, err)
	}
	u := &upgrading{c: c, t: c.t.(*sioTransport), ws: ws}
	if !c.poll.offer(ws) {
		ws.Close(wsconn.StatusPolicyViolation, "the session cannot move now", nil)
	}
	ws.SetTimer(upgradeTimeout)
	ws.Serve(u)
	return nil
}

// upgrading is the Handler of a WebSocket that offers to carry a polling
// session: it answers the client's probe, moves the session over on the
// client's upgrade packet, and from then on is the client's own.
type upgrading struct {
	c     *Client
	t     *sioTransport
	ws    *wsconn.Conn
	state atomic.Int32
}

// upgrading's states.
const (
	probing int32 = iota
	moving        // the session moves: its timer ticks wait
	moved         // the WebSocket is the client's
)

var probeAnswer = wsconn.TextFrame([]byte("3probe"))

func (u *upgrading) OnMessage(op wsconn.Opcode, msg []byte) {
	if u.state.Load() == moved {
		(*connEvents)(u.c).OnMessage(op, msg)
		return
	}
	switch {
	case op == wsconn.OpText && string(msg) == "2probe":
		u.ws.Send(probeAnswer)
		u.c.poll.probedBy(u.ws)
	case op == wsconn.OpText && string(msg) == "5":
		u.move()
	default: // engine.io closes a probe that says anything else
		u.ws.Close(wsconn.StatusPolicyViolation, "expected the Engine.IO upgrade", nil)
	}
}

// move makes the WebSocket the client's connection, once the polling
// session has handed it what waited; the heartbeat starts afresh on it.
func (u *upgrading) move() {
	u.state.Store(moving)
	if !u.c.poll.upgrade(u.ws) {
		u.state.Store(probing)
		u.ws.Close(wsconn.StatusPolicyViolation, "the session is closing", nil)
		return
	}
	u.t.hb.reset()
	u.c.ws.Store(u.ws)
	next := u.c.srv.cfg.PingInterval
	if !u.t.connected.Load() {
		next = u.c.srv.cfg.SocketIO.ConnectTimeout
	}
	u.ws.SetTimer(next)
	u.state.Store(moved)
}

func (u *upgrading) OnPong() {
	if u.state.Load() == moved {
		(*connEvents)(u.c).OnPong()
	}
}

func (u *upgrading) OnTimer() {
	switch u.state.Load() {
	case moved:
		(*connEvents)(u.c).OnTimer()
	case probing:
		u.ws.Close(wsconn.StatusPolicyViolation, "no upgrade within the upgrade timeout", nil)
	}
}

func (u *upgrading) OnSlow(dropped int) {
	if u.state.Load() != probing {
		(*connEvents)(u.c).OnSlow(dropped)
	}
}

func (u *upgrading) OnClose(err error) {
	if u.state.Load() == moved {
		(*connEvents)(u.c).OnClose(err)
		return
	}
	u.c.poll.withdraw(u.ws)
}
