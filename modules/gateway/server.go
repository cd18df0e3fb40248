package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/envelope"
	"github.com/gamegate/gamegate/pkg/token"
)

// Server is the /game endpoint: handshake, per-connection read loop and
// dispatch to handlers.
type Server struct {
	cfg      config.Gateway
	verifier *token.Verifier
	hub      *Hub
	log      *zap.Logger
	handlers map[string]Handler
	guards   []Guard
	hooks    []Hooks
	metrics  Metrics
	copts    clientOptions
	idle     *idlePoller

	ctx      context.Context // bounds Socket.IO handshakes; cancelled by Stop
	cancel   context.CancelFunc
	stopping atomic.Bool
	conns    sync.WaitGroup
}

// Params are the server's dependencies; the groups are the extension points.
type Params struct {
	fx.In

	Config   config.Gateway
	Verifier *token.Verifier
	Hub      *Hub
	Log      *zap.Logger
	Handlers []Handler `group:"gateway.handlers"`
	Guards   []Guard   `group:"gateway.guards"`
	Hooks    []Hooks   `group:"gateway.hooks"`
}

// NewServer builds the endpoint. Two handlers for one event are a
// configuration error.
func NewServer(p Params) (*Server, error) {
	cfg, m := p.Config, p.Hub.metrics
	s := &Server{
		cfg: cfg, verifier: p.Verifier, hub: p.Hub, log: p.Log.Named("gateway"), metrics: m,
		handlers: make(map[string]Handler, len(p.Handlers)), guards: p.Guards, hooks: p.Hooks,
	}
	for _, h := range p.Handlers {
		if _, dup := s.handlers[h.Event]; dup {
			return nil, errors.New("gateway: two handlers for event " + h.Event)
		}
		s.handlers[h.Event] = h
	}
	s.copts = clientOptions{
		maxQueue:     cfg.QueueSize,
		writeTimeout: cfg.WriteTimeout,
		pingInterval: cfg.PingInterval,
		pongTimeout:  cfg.PongTimeout,
		onSlow: func(c *Client) {
			s.log.Warn("slow consumer: outgoing queue full; closing with 1008",
				zap.String("clientId", c.id), zap.String("userId", c.userID), zap.Int("queueSize", cfg.QueueSize))
		},
	}
	s.copts.resume = s.read
	idle, err := newIdlePoller()
	if err != nil {
		return nil, fmt.Errorf("gateway: idle poller: %w", err)
	}
	s.idle = idle
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Handle is the echo handler for GET /game.
func (s *Server) Handle(ec echo.Context) error {
	r := ec.Request()
	if s.stopping.Load() {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "server is stopping")
	}
	if !s.originAllowed(r) {
		return echo.NewHTTPError(http.StatusForbidden, "origin not allowed")
	}
	claims, err := s.verifier.Verify(r.Context(), token.FromRequest(r))
	if err != nil {
		s.log.Debug("handshake refused", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return echo.NewHTTPError(http.StatusUnauthorized, token.Message(err))
	}
	t := &plain{}
	lc, err := accept(ec.Response(), r, &t.hb)
	if err != nil {
		s.log.Debug("upgrade failed", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return nil // Accept has answered
	}
	s.serve(func() { s.session(lc, claims, t) })
	return nil
}

// serve starts a connection's session in a goroutine of its own and lets
// the HTTP handler return: the request, echo's context and the stack the
// handshake grew are released, which is most of an idle connection's cost.
// The session calls s.conns.Done when the connection has ended.
func (s *Server) serve(session func()) {
	s.conns.Add(1)
	go session()
}

// originAllowed applies gateway.cors.origins. Requests without an Origin
// (non-browser clients) and same-origin requests pass.
func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, pattern := range s.cfg.CORS.Origins {
		pattern = strings.ToLower(pattern)
		if pattern == "*" {
			return true
		}
		target := strings.ToLower(u.Host)
		if strings.Contains(pattern, "://") {
			target = strings.ToLower(u.Scheme + "://" + u.Host)
		}
		if ok, _ := path.Match(pattern, target); ok {
			return true
		}
	}
	return false
}

// session serves an authenticated connection until it ends: the greeting,
// the personal room, the connect hooks, then the read loop.
func (s *Server) session(lc *leanConn, claims token.Claims, t transport) {
	lc.conn.SetReadLimit(s.cfg.MaxMessageBytes)
	c := &Client{
		id:      rand.Text(),
		userID:  claims.Subject,
		roles:   claims.Roles,
		conn:    lc.conn,
		out:     lc.out,
		in:      lc.in,
		noPark:  lc.pipelined,
		t:       t,
		hub:     s.hub,
		log:     s.log,
		opts:    &s.copts,
		closed:  make(chan struct{}),
		rooms:   make(map[string]struct{}, 2),
		limiter: rate.NewLimiter(rate.Limit(s.cfg.RateLimit.PerSecond), s.cfg.RateLimit.Burst),
	}
	// Not derived from a server context: that would cost every connection an
	// entry in the parent's table. Stop cancels what it must itself.
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.pinger = time.AfterFunc(s.cfg.PingInterval, func() {
		if c.closeSent.Load() {
			c.hangUp() // no answer to our close frame
			return
		}
		c.kick()
		t.keepalive(c)
	})

	if w := t.welcome(c); w != nil {
		c.enqueue(textFrame(w))
	}
	c.sendReply("connected", map[string]string{"clientId": c.id, "userId": c.userID}, nil)
	c.Join(PersonalRoom(c.userID))
	s.hub.add(c)
	if s.stopping.Load() { // Stop ran between the check in Handle and add
		c.Close(websocket.StatusGoingAway, "server stopping")
	}
	for _, h := range s.hooks {
		if h.OnConnect == nil {
			continue
		}
		if err := h.OnConnect(c.ctx, c); err != nil {
			s.log.Info("connect hook refused client", zap.String("userId", c.userID), zap.Error(err))
			c.Close(websocket.StatusPolicyViolation, err.Error())
			break
		}
	}
	s.log.Debug("client connected", zap.String("clientId", c.id), zap.String("userId", c.userID))
	if !s.park(c) {
		s.read(c)
	}
}

// cleanup ends a session, in its reader.
func (s *Server) cleanup(c *Client) {
	defer s.conns.Done()
	s.idle.forget(c)
	c.leaveAll()
	// A client that left abandons its handlers' work; on a graceful stop,
	// handlers under way (a wallet call, say) finish first, bounded by Stop.
	if !s.stopping.Load() {
		c.cancel()
	}
	c.async.Wait()
	c.cancel()
	s.hub.remove(c) // only now: Stop reaches it until its handlers are done
	// Unless a Close with a code is under way, cut the connection now.
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		_ = c.conn.CloseNow()
		close(c.closed)
	})
	<-c.closed
	_ = c.conn.CloseNow() // after a close frame: the client answered, or will not
	c.mu.Lock()
	c.pinger.Stop()
	c.mu.Unlock()
	for _, h := range s.hooks {
		if h.OnDisconnect != nil {
			h.OnDisconnect(c)
		}
	}
	s.log.Debug("client disconnected", zap.String("clientId", c.id), zap.String("userId", c.userID))
}

var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// read serves c's messages. A client that sent no event since its timer's
// last tick (one that only answers pings, or has gone quiet) is parked in
// the idle poller, and read returns, ending its goroutine; the poller calls
// read again, in a new goroutine, when data arrives. A client that sends
// events keeps its reader: parking costs a few µs per message. When the
// connection ends, read cleans up.
func (s *Server) read(c *Client) {
	for {
		err := s.readFrame(c)
		switch {
		case errors.Is(err, errQuiet):
		case err != nil:
			s.cleanup(c)
			return
		case c.spoke.Load():
			continue
		}
		if s.park(c) {
			return
		}
	}
}

// park hands c to the idle poller if nothing of c's is buffered, and
// reports whether it did; if so, c is not this goroutine's any more.
func (s *Server) park(c *Client) bool {
	return c.in.Buffered() == 0 && !c.noPark && s.idle.park(c)
}

// readFrame reads what comes next: a ping or pong, answered here, or a
// message, through coder/websocket, which also answers close frames and
// refuses what breaks the protocol.
func (s *Server) readFrame(c *Client) error {
	if err := c.await(); err != nil {
		return err
	}
	if ok, err := c.control(); ok || err != nil {
		return err
	}
	// A context without Done: closing the connection ends the read, and no
	// timer is set up per message.
	typ, rd, err := c.conn.Reader(context.Background())
	if err != nil {
		return err
	}
	buf := readBufs.Get().(*bytes.Buffer)
	buf.Reset()
	_, err = buf.ReadFrom(rd)
	if err == nil {
		err = c.t.read(s, c, typ, buf.Bytes())
	}
	if buf.Cap() <= 64<<10 {
		readBufs.Put(buf)
	}
	return err
}

var errRateLimited = errors.New("rate limit exceeded")

// admit applies the rate limit to one message: over it, the message gets an
// exception instead of an answer (errSkip), and too many in a row end the
// connection.
func (s *Server) admit(c *Client) error {
	if c.limiter.Allow() {
		c.excess = 0
		return nil
	}
	c.excess++
	if c.excess > s.cfg.RateLimit.MaxExcess {
		s.log.Info("rate limit exceeded for too long; closing with 1008",
			zap.String("clientId", c.id), zap.String("userId", c.userID))
		c.Close(websocket.StatusPolicyViolation, "rate limit exceeded")
		return errRateLimited
	}
	c.exception(errRateLimited.Error(), nil)
	return errSkip
}

// errSkip is admit's refusal of one message; the connection goes on.
var errSkip = errors.New("message skipped")

// handle answers one decoded message. env's bytes are only valid during the
// call.
func (s *Server) handle(c *Client, env envelope.Envelope) {
	h, ok := s.handlers[env.Event]
	if !ok {
		c.exception(`unknown event "`+env.Event+`"`, env.ID)
		return
	}
	s.metrics.MessageIn(env.Event) // known events only: clients choose the names
	c.spoke.Store(true)
	if !h.Async {
		s.run(c, h, env)
		return
	}
	// The read buffer is reused after we return: keep copies.
	env.Data = bytes.Clone(env.Data)
	env.ID = bytes.Clone(env.ID)
	c.async.Add(1)
	go func() {
		defer c.async.Done()
		s.run(c, h, env)
	}()
}

func (s *Server) run(c *Client, h Handler, env envelope.Envelope) {
	reply, err := s.call(c, h, env)
	if err != nil {
		var ex *Exception
		if !errors.As(err, &ex) {
			s.log.Error("handler failed", zap.String("event", env.Event), zap.String("clientId", c.id), zap.Error(err))
			ex = &Exception{Message: "Internal server error"}
		}
		c.exception(ex.Message, env.ID)
		return
	}
	if reply != nil {
		s.metrics.MessagesOut(reply.Event, 1)
		c.sendReply(reply.Event, reply.Data, env.ID)
	}
}

func (s *Server) call(c *Client, h Handler, env envelope.Envelope) (*Reply, error) {
	for _, g := range s.guards {
		if err := g(c.ctx, c, env.Event); err != nil {
			return nil, err
		}
	}
	for _, g := range h.Guards {
		if err := g(c.ctx, c, env.Event); err != nil {
			return nil, err
		}
	}
	return h.Handle(c.ctx, c, json.RawMessage(env.Data))
}

// Stop refuses new connections, closes every client with 1001 and waits for
// their handlers to finish, bounded by ctx.
func (s *Server) Stop(ctx context.Context) error {
	s.stopping.Store(true)
	s.cancel()          // handshakes under way: those clients never joined
	defer s.idle.stop() // once every connection has ended
	s.hub.each(func(c *Client) { c.Close(websocket.StatusGoingAway, "server stopping") })
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.hub.each(func(c *Client) {
			c.cancel()
			c.hangUp()
		})
		<-done
		return ctx.Err()
	}
}
