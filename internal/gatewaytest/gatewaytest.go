// Package gatewaytest starts real gateway nodes on loopback and drives them
// with real WebSocket clients, for the tests of every module.
package gatewaytest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gamegate/gamegate/modules/app"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/pkg/token"
)

// Secret is the HS256 secret test nodes use.
const Secret = "test-secret-0123456789abcdef0123"

// Config returns a configuration for a test node: loopback on a free port,
// the test secret, no wallet simulator.
func Config() config.Config {
	cfg := config.Default()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Auth.JWTSecret = Secret
	cfg.Log.Level = "debug"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// FreePort is a loopback TCP port nobody listens on, for a part that takes
// a port rather than a listener (the embedded wallet simulator).
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Node is a started application.
type Node struct {
	App     *fx.App
	Server  *httpserver.Server
	Emitter *gateway.Emitter
	Hub     *gateway.Hub
	Gateway *gateway.Server
	// Logs holds everything the node logged.
	Logs *observer.ObservedLogs
	// URL is http://host:port of the node.
	URL string
}

// Start starts a node with cfg and extra options, and stops it when the test
// ends.
func Start(t testing.TB, cfg config.Config, extra ...fx.Option) *Node {
	t.Helper()
	core, logs := observer.New(zap.DebugLevel)
	n := &Node{Logs: logs}
	opts := []fx.Option{
		app.Options(cfg),
		fx.Decorate(func() *zap.Logger { return zap.New(core) }),
		fx.Populate(&n.Server, &n.Emitter, &n.Hub, &n.Gateway),
		fx.NopLogger,
	}
	n.App = fx.New(append(opts, extra...)...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.App.Start(ctx); err != nil {
		t.Fatalf("start node: %v", err)
	}
	n.URL = "http://" + n.Server.Addr().String()
	t.Cleanup(func() { n.Stop(t) })
	return n
}

// Stop stops the node; calling it twice is fine.
func (n *Node) Stop(t testing.TB) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.App.Stop(ctx); err != nil && !strings.Contains(err.Error(), "already stopped") {
		t.Errorf("stop node: %v", err)
	}
}

// Token mints a token for sub with roles, signed with Secret.
func Token(t testing.TB, sub string, roles ...string) string {
	t.Helper()
	tok, err := token.Mint([]byte(Secret), sub, roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// WSURL is the node's /game URL.
func (n *Node) WSURL() string { return "ws" + strings.TrimPrefix(n.URL, "http") + "/game" }

// Frame is one message as a client sees it.
type Frame struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	ID    json.RawMessage `json:"id,omitempty"`
	// Offset names a message delivered through a room, for recovery.
	Offset string `json:"offset,omitempty"`
	// AckID asks for an ack: the message came with a delivery receipt.
	AckID string `json:"ackId,omitempty"`
}

// Client is a test WebSocket client that reads in the background.
type Client struct {
	t      testing.TB
	Conn   *websocket.Conn
	frames chan Frame
	// Err receives the error that ended reading, once (a close error, say).
	Err chan error
	// Connected is the data of the `connected` greeting.
	Connected struct {
		ClientID  string `json:"clientId"`
		UserID    string `json:"userId"`
		SessionID string `json:"sessionId"`
		Recovered bool   `json:"recovered"`
		Reason    string `json:"reason"`
	}
}

// Dial connects with a token in the Authorization header, reads the
// `connected` greeting and fails the test on any error.
func (n *Node) Dial(t testing.TB, tok string) *Client {
	t.Helper()
	conn, resp, err := n.DialRaw(tok, nil)
	if err != nil {
		t.Fatalf("dial: %v (response %v)", err, resp)
	}
	c := Watch(t, conn)
	f := c.Next()
	if f.Event != "connected" {
		t.Fatalf("first frame is %q, want connected", f.Event)
	}
	if err := json.Unmarshal(f.Data, &c.Connected); err != nil {
		t.Fatal(err)
	}
	return c
}

// DialRaw dials /game with an optional token and extra headers.
func (n *Node) DialRaw(tok string, header http.Header) (*websocket.Conn, *http.Response, error) {
	if header == nil {
		header = http.Header{}
	}
	if tok != "" {
		header.Set("Authorization", "Bearer "+tok)
	}
	return n.DialRawURL(n.WSURL(), header)
}

// DialRawURL dials url with header.
func (n *Node) DialRawURL(url string, header http.Header) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if conn != nil {
		conn.SetReadLimit(-1)
	}
	return conn, resp, err
}

// Watch starts reading conn in the background.
func Watch(t testing.TB, conn *websocket.Conn) *Client {
	c := Paused(t, conn)
	c.Resume()
	return c
}

// Paused wraps conn without reading from it until Resume: a client that
// does not read, as a stalled game client would.
func Paused(t testing.TB, conn *websocket.Conn) *Client {
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &Client{t: t, Conn: conn, frames: make(chan Frame, 100000), Err: make(chan error, 1)}
}

// Resume starts reading in the background.
func (c *Client) Resume() {
	conn := c.Conn
	go func() {
		for {
			typ, b, err := conn.Read(context.Background())
			if err != nil {
				c.Err <- err
				close(c.frames)
				return
			}
			var f Frame
			if typ != websocket.MessageText || json.Unmarshal(b, &f) != nil {
				f = Frame{Event: "<undecodable>", Data: b}
			}
			c.frames <- f
		}
	}()
}

// Timeout bounds every wait of a test client.
const Timeout = 5 * time.Second

// Next returns the next frame, failing the test after Timeout.
func (c *Client) Next() Frame {
	c.t.Helper()
	return c.NextWithin(Timeout)
}

// NextWithin returns the next frame, failing the test after d.
func (c *Client) NextWithin(d time.Duration) Frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatalf("connection ended while waiting for a frame: %v", <-c.Err)
		}
		return f
	case <-time.After(d):
		c.t.Fatalf("no frame within %v", d)
	}
	return Frame{}
}

// NextOrClose returns the next frame, or nil once the connection has ended
// (Closed then tells how).
func (c *Client) NextOrClose() *Frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			return nil
		}
		return &f
	case <-time.After(Timeout):
		c.t.Fatalf("no frame within %v", Timeout)
	}
	return nil
}

// Expect returns the next frame and fails unless its event is event.
func (c *Client) Expect(event string) Frame {
	c.t.Helper()
	f := c.Next()
	if f.Event != event {
		c.t.Fatalf("got %s %s, want event %q", f.Event, f.Data, event)
	}
	return f
}

// Send writes {event, data[, id]}; id is omitted when nil.
func (c *Client) Send(event string, data any, id any) {
	c.t.Helper()
	m := map[string]any{"event": event, "data": data}
	if id != nil {
		m["id"] = id
	}
	b, err := json.Marshal(m)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(string(b))
}

// SendRaw writes text as one text frame.
func (c *Client) SendRaw(text string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// Join joins room and waits for joinedRoom.
func (c *Client) Join(room string) {
	c.t.Helper()
	c.Send("joinRoom", map[string]string{"roomId": room}, nil)
	c.Expect("joinedRoom")
}

// Alive checks the connection still answers: ping gets pong as the next
// frame, which also proves nothing else was queued before it.
func (c *Client) Alive() {
	c.t.Helper()
	c.Send("ping", nil, "alive")
	f := c.Expect("pong")
	if string(f.ID) != `"alive"` {
		c.t.Fatalf("pong id %s, want \"alive\"", f.ID)
	}
}

// Closed waits for the connection to end and returns its close status.
func (c *Client) Closed() (websocket.StatusCode, string) {
	c.t.Helper()
	deadline := time.After(Timeout)
	for {
		select {
		case _, ok := <-c.frames:
			if ok {
				continue
			}
			err := <-c.Err
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			return -1, err.Error()
		case <-deadline:
			c.t.Fatalf("connection still open after %v", Timeout)
		}
	}
}

// SIO is a raw Socket.IO client: it speaks Engine.IO and Socket.IO packets
// by hand, so tests see the exact wire.
type SIO struct {
	*Client
}

// DialSocketIO connects user to n's Socket.IO endpoint, namespace /game,
// and reads up to the `connected` event.
func (n *Node) DialSocketIO(t testing.TB, user string) *SIO {
	t.Helper()
	url := "ws" + strings.TrimPrefix(n.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
	conn, _, err := n.DialRawURL(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &SIO{Client: Watch(t, conn)}
	s.ExpectPrefix("0{")
	s.SendRaw(`40/game,{"token":"` + Token(t, user) + `"}`)
	s.ExpectPrefix(`40/game,`)
	s.ExpectPrefix(`42/game,["connected",`)
	return s
}

// Packet returns the next packet, as text.
func (s *SIO) Packet() string {
	s.t.Helper()
	return string(s.Next().Data)
}

// ExpectPacket reads the next packet and fails unless it is want.
func (s *SIO) ExpectPacket(want string) {
	s.t.Helper()
	if got := s.Packet(); got != want {
		s.t.Fatalf("got %s, want %s", got, want)
	}
}

// ExpectPrefix reads the next packet, fails unless it starts with prefix,
// and returns the rest.
func (s *SIO) ExpectPrefix(prefix string) string {
	s.t.Helper()
	got := s.Packet()
	rest, ok := strings.CutPrefix(got, prefix)
	if !ok {
		s.t.Fatalf("got %s, want %s…", got, prefix)
	}
	return rest
}

// Metric reads an unlabelled metric from n's /metrics.
func (n *Node) Metric(t testing.TB, name string) float64 {
	t.Helper()
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := bufio.NewScanner(resp.Body)
	for lines.Scan() {
		if v, ok := strings.CutPrefix(lines.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}
