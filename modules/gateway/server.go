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
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/envelope"
	"github.com/gamegate/gamegate/pkg/token"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// Server is the /game endpoint: handshake, sessions and dispatch to
// handlers. The connections themselves are pkg/wsconn's.
type Server struct {
	cfg      config.Gateway
	verifier *token.Verifier
	hub      *Hub
	log      *zap.Logger
	handlers map[string]Handler
	guards   []Guard
	hooks    []Hooks
	metrics  Metrics
	node     string // this node's name
	auth     config.Auth
	sockets  *Sockets
	ws       *wsconn.Server
	sessions *sessions   // nil without recovery
	sweeper  *time.Timer // forgets expired sessions and history

	// Engine.IO long-polling: this node's tag in the sids it gives, and the
	// relay to the other nodes' sessions (nil on one node).
	tag   string
	relay PollRelay
	// released is closed once the HTTP server stops accepting: GETs no
	// longer wait.
	released    chan struct{}
	releaseOnce sync.Once

	mu       sync.Mutex
	live     map[*Client]struct{} // every connection, Socket.IO handshakes included
	polls    map[string]*Client   // long-polling sessions, by sid, until they end
	stopping bool
	gone     chan struct{} // closed when live empties once stopping
}

// Params are the server's dependencies; the groups are the extension points
// (HandlerGroup, GuardGroup, HookGroup: a tag cannot name a constant).
type Params struct {
	fx.In

	Config   config.Gateway
	Recovery config.Recovery
	Wallet   config.Wallet // its node id names this node
	Auth     config.Auth
	Sockets  *Sockets
	// Store, when set, shares sessions with the other nodes (clustered).
	Store SessionStore `optional:"true"`
	// Relay, when set, carries long-polling requests to the other nodes.
	Relay    PollRelay `optional:"true"`
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
	cfg := p.Config
	s := &Server{
		cfg: cfg, verifier: p.Verifier, hub: p.Hub, log: p.Log.Named("gateway"), metrics: p.Hub.metrics,
		handlers: make(map[string]Handler, len(p.Handlers)), guards: p.Guards, hooks: p.Hooks,
		live: make(map[*Client]struct{}), gone: make(chan struct{}), node: p.Wallet.Node(), auth: p.Auth,
		polls: make(map[string]*Client), released: make(chan struct{}), tag: nodeTag(p.Wallet.Node()), relay: p.Relay,
	}
	if s.relay != nil {
		s.relay.ServePolls(s.tag, s.serveRelayed)
	}
	for _, h := range p.Handlers {
		if _, dup := s.handlers[h.Event]; dup {
			return nil, errors.New("gateway: two handlers for event " + h.Event)
		}
		s.handlers[h.Event] = h
	}
	ws, err := wsconn.NewServer(wsconn.Config{
		MaxMessageBytes: cfg.MaxMessageBytes,
		MaxQueue:        cfg.QueueSize,
		MaxQueueBytes:   cfg.MaxQueueBytes,
		WriteTimeout:    cfg.WriteTimeout,
		Writers:         &p.Hub.writers,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	s.ws = ws
	if p.Sockets == nil { // built by hand, not by fx
		p.Sockets = NewSockets(SocketsParams{})
	}
	p.Sockets.attach(s)
	if j := p.Hub.journal; j != nil {
		s.sessions = newSessions(p.Recovery.Window, p.Store, s.log)
		if p.Store != nil {
			p.Store.ServeTakeOver(s.sessions.takeOver)
		}
		every := max(p.Recovery.Window/4, time.Second)
		s.sweeper = time.AfterFunc(every, func() {
			j.sweep()
			s.sessions.sweep()
			s.sweeper.Reset(every)
		})
	}
	return s, nil
}

// errStopping answers handshakes while the node stops.
var errStopping = echo.NewHTTPError(http.StatusServiceUnavailable, "server is stopping")

// Handle is the echo handler for GET /game.
func (s *Server) Handle(ec echo.Context) error {
	r := ec.Request()
	if s.isStopping() {
		return errStopping
	}
	if !s.originAllowed(r) {
		return echo.NewHTTPError(http.StatusForbidden, "origin not allowed")
	}
	claims, err := s.verifier.Verify(r.Context(), token.FromRequest(r))
	if err != nil {
		s.log.Debug("handshake refused", zap.String("remote", r.RemoteAddr), zap.Error(err))
		return echo.NewHTTPError(http.StatusUnauthorized, token.Message(err))
	}
	conn, err := s.ws.Upgrade(ec.Response(), r)
	if err != nil {
		return s.upgradeFailed(ec, err)
	}
	c := s.newClient(conn, &plain{})
	s.begin(c, claims, resumeFrom(r))
	conn.Serve((*connEvents)(c))
	return nil
}

// upgradeFailed answers a request that is not a WebSocket handshake, in
// the endpoint's error format; after a failed takeover there is nobody to
// answer.
func (s *Server) upgradeFailed(ec echo.Context, err error) error {
	var he *wsconn.HandshakeError
	if !errors.As(err, &he) {
		s.log.Debug("upgrade failed", zap.String("remote", ec.Request().RemoteAddr), zap.Error(err))
		return nil
	}
	for k, v := range he.Header {
		ec.Response().Header()[k] = v
	}
	return echo.NewHTTPError(he.Status, he.Message)
}

// newClient makes the client of a new connection and tracks it, so that a
// stop reaches it; a connection that arrives while the node stops is
// closed with 1001 at once.
func (s *Server) newClient(cn conn, t transport) *Client {
	c := &Client{
		id:          rand.Text(),
		t:           t,
		srv:         s,
		log:         s.log,
		rooms:       make(map[string]uint64, 2),
		connectedAt: time.Now(),
		limiter:     rate.NewLimiter(rate.Limit(s.cfg.RateLimit.PerSecond), s.cfg.RateLimit.Burst),
	}
	switch cn := cn.(type) {
	case *wsconn.Conn:
		c.ws.Store(cn)
	case *polling:
		c.poll = cn
	}
	// Not derived from a server context: that would cost every connection an
	// entry in the parent's table.
	c.ctx, c.cancel = context.WithCancel(context.Background())
	s.mu.Lock()
	s.live[c] = struct{}{}
	stopping := s.stopping
	s.mu.Unlock()
	if stopping {
		c.Close(wsconn.StatusGoingAway, "server stopping")
	}
	return c
}

// Readers is how many connections have a reader goroutine now: the others
// wait in the idle poller.
func (s *Server) Readers() int { return s.ws.Readers() }

func (s *Server) isStopping() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping
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

// connected is the greeting's data.
type connected struct {
	ClientID  string `json:"clientId"`
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId,omitempty"`
	Recovered bool   `json:"recovered"`
	Reason    string `json:"reason,omitempty"`
}

// begin starts an authenticated client's session, a new one or, when want
// names one that can be recovered, the one it had: the greeting, its rooms
// and what it missed, then the connect hooks and the heartbeat.
func (s *Server) begin(c *Client, claims token.Claims, want *resume) {
	c.userID = claims.Subject
	c.claims.Store(&claims)
	greeted := s.greet(c, want)
	s.hub.add(c)
	c.started = true
	greeted.Flush()
	for _, h := range s.hooks {
		if h.OnConnect == nil {
			continue
		}
		if err := h.OnConnect(c.ctx, c); err != nil {
			s.log.Info("connect hook refused client", zap.String("userId", c.userID), zap.Error(err))
			c.Close(wsconn.StatusPolicyViolation, err.Error())
			break
		}
	}
	c.conn().SetTimer(s.cfg.PingInterval)
	c.armExpiry()
	s.limitSessions(c)
	s.log.Debug("client connected", zap.String("clientId", c.id), zap.String("userId", c.userID))
}

// greet queues c's greeting, puts c in its rooms and queues what a
// recovered session missed, returning the fanout that writes it all.
// `connected` is the first frame, and reaches the wire only once the client
// is in its rooms: whatever is sent to the user after the client has read
// `connected` reaches it. With recovery, all of it happens under the
// journal's lock, so the replay and the first live frame meet with no gap
// and no duplicate.
func (s *Server) greet(c *Client, want *resume) *wsconn.Fanout {
	f := s.hub.writers.Fanout()
	hello := func(data connected) {
		if w := c.t.welcome(c); w != nil {
			c.queue(f, wsconn.TextFrame(w))
		}
		c.queue(f, c.reply("connected", data, nil))
	}
	j := s.hub.journal
	if j == nil {
		hello(connected{ClientID: c.id, UserID: c.userID})
		c.Join(PersonalRoom(c.userID))
		return f
	}
	var (
		sess   *session
		rooms  map[string]uint64
		reason string
	)
	if want != nil {
		sess, rooms, reason = s.sessions.claim(*want, c)
	}
	if sess != nil {
		// Clustered, this node may not have read up to the client's offset
		// yet: it was given on another node a moment ago.
		var seq uint64
		if o, err := ParseOffset(want.offset); err == nil {
			seq = o.Seq
		}
		j.await(seq, time.Now().Add(storeTimeout))
		j.mu.Unlock()
	}
	c.roomsMu.Lock()
	j.mu.Lock()
	var replay []kept
	var lost *session // claimed, and found too far behind
	if sess != nil {
		var ok bool
		if replay, ok = j.replay(want.offset, sess.start, rooms, sess.clientID); !ok || !s.fits(replay, c.t) {
			lost, sess, reason, replay = sess, nil, reasonBehind, nil
		}
	}
	fresh := sess == nil
	if fresh {
		sess = &session{id: rand.Text(), userID: c.userID, clientID: c.id, start: j.head, client: c}
		rooms = map[string]uint64{PersonalRoom(c.userID): j.head}
	}
	c.id, c.session = sess.clientID, sess
	hello(connected{ClientID: c.id, UserID: c.userID, SessionID: sess.id, Recovered: !fresh, Reason: reason})
	for room, after := range rooms {
		c.rooms[room] = after
		s.hub.join(c, room)
	}
	if !fresh {
		for _, room := range sess.watching {
			if _, in := rooms[room]; in {
				if c.watching == nil {
					c.watching = make(map[string]bool, len(sess.watching))
				}
				c.watching[room] = true
				s.hub.presence.subscribe(c, room)
			}
		}
	}
	for _, k := range replay {
		if k.msg.ackID != "" {
			c.replayedAcks = append(c.replayedAcks, k.msg.ackID)
		}
		c.queueBacklog(f, k.msg.frame(c.t))
	}
	j.mu.Unlock()
	c.roomsMu.Unlock()
	if lost != nil {
		s.sessions.drop(lost)
	}
	if fresh {
		s.sessions.add(sess, rooms)
	} else {
		s.sessions.save(sess, rooms)
	}
	s.metrics.Recovery(want != nil, reason)
	return f
}

// fits reports whether a replay can go out at once: past
// gateway.maxQueueBytes the client would be closed as a slow consumer, and
// again at every retry, so a session that missed more is too far behind.
func (s *Server) fits(replay []kept, t transport) bool {
	var n int64
	for _, k := range replay {
		if n += int64(len(k.msg.frame(t))); n > s.cfg.MaxQueueBytes {
			return false
		}
	}
	return true
}

// cleanup ends a client once its connection has ended, in its reader.
func (s *Server) cleanup(c *Client, err error) {
	c.disarmExpiry()
	if rooms, watching := c.leaveAll(); s.sessions != nil {
		s.sessions.gone(c, rooms, watching)
	}
	c.cancel()
	<-c.drain() // handlers under way see the cancelled context; their replies go nowhere
	s.hub.remove(c)
	s.mu.Lock()
	delete(s.live, c)
	if c.poll != nil {
		delete(s.polls, c.poll.sid)
	}
	if s.stopping && len(s.live) == 0 {
		close(s.gone)
	}
	s.mu.Unlock()
	if !c.started {
		return
	}
	for _, h := range s.hooks {
		if h.OnDisconnect != nil {
			h.OnDisconnect(c)
		}
	}
	s.log.Debug("client disconnected", zap.String("clientId", c.id), zap.String("userId", c.userID), zap.Error(err))
}

var errRateLimited = errors.New("rate limit exceeded")

// admit applies the rate limit to one message: over it, the message gets an
// exception instead of an answer, and too many in a row end the
// connection. It reports whether the message may go on.
func (s *Server) admit(c *Client) bool {
	if c.limiter.Allow() {
		c.excess = 0
		return true
	}
	c.excess++
	if c.excess > s.cfg.RateLimit.MaxExcess {
		s.log.Info("rate limit exceeded for too long; closing with 1008",
			zap.String("clientId", c.id), zap.String("userId", c.userID))
		c.Close(wsconn.StatusPolicyViolation, errRateLimited.Error())
		return false
	}
	c.exception(errRateLimited.Error(), nil)
	return false
}

// handle answers one decoded message. env's bytes are only valid during the
// call.
func (s *Server) handle(c *Client, env envelope.Envelope) {
	h, ok := s.handlers[env.Event]
	if !ok {
		c.exception(`unknown event "`+env.Event+`"`, env.ID)
		return
	}
	s.metrics.MessageIn(env.Event) // known events only: clients choose the names
	if !c.startWork() {
		c.exception("server is stopping", env.ID)
		return
	}
	if !h.Async {
		s.run(c, h, env)
		c.endWork()
		return
	}
	// The read buffer is reused after we return: keep copies.
	env.Data = bytes.Clone(env.Data)
	env.ID = bytes.Clone(env.ID)
	go func() {
		defer c.endWork()
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

// Stop refuses new connections, lets the handlers under way finish and
// write their replies, closes every client with 1001 once its own handlers
// are done, and waits for the connections to end, all bounded by ctx; past
// it, connections are cut.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	s.stopping = true
	clients := make([]*Client, 0, len(s.live))
	for c := range s.live {
		clients = append(clients, c)
	}
	if len(s.live) == 0 {
		close(s.gone)
	}
	s.mu.Unlock()
	defer s.ws.Close()
	// The HTTP server, which stopped first, releases the waiting GETs on a
	// goroutine of its own: by now it has, or no GET could come anyway, so
	// the long-polling sessions end as they close.
	s.releasePolls()
	if s.sweeper != nil {
		s.sweeper.Stop()
	}
	defer s.hub.presence.stop()
	defer s.hub.receipts.stop()

	start := time.Now()
	var busy sync.WaitGroup
	handlers := 0
	for _, c := range clients {
		done := c.drain()
		select {
		case <-done:
			c.Close(wsconn.StatusGoingAway, "server stopping")
			continue
		default:
		}
		handlers++
		busy.Go(func() {
			select {
			case <-done:
			case <-ctx.Done():
			}
			c.Close(wsconn.StatusGoingAway, "server stopping")
		})
	}
	s.log.Info("closing WebSockets with 1001 once their handlers finish",
		zap.Int("connections", len(clients)), zap.Int("withHandlersUnderWay", handlers))
	busy.Wait()
	select {
	case <-s.gone:
		s.log.Info("WebSockets closed", zap.Int("connections", len(clients)), zap.Duration("took", time.Since(start)))
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		left := len(s.live)
		s.mu.Unlock()
		s.log.Warn("shutdown timeout: cutting the connections still open", zap.Int("connections", left))
		for _, c := range clients {
			c.cancel()
			c.conn().Abort()
		}
		<-s.gone
		return ctx.Err()
	}
}
