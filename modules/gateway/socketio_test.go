package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// sio is a raw Socket.IO client: it speaks the packets by hand, so these
// tests pin the wire format (the Node suite in test/socketio runs the real
// socket.io-client).
type sio struct {
	t    *testing.T
	conn *websocket.Conn
	*gt.Client
}

func dialSIO(t *testing.T, n *gt.Node, query string) *sio {
	t.Helper()
	url := "ws" + strings.TrimPrefix(n.URL, "http") + "/socket.io/?EIO=4&transport=websocket" + query
	conn, _, err := n.DialRawURL(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &sio{t: t, conn: conn, Client: gt.Watch(t, conn)}
}

// next returns the next raw frame.
func (s *sio) next() string {
	s.t.Helper()
	f := s.Next()
	if f.Event != "<undecodable>" {
		s.t.Fatalf("got a JSON frame %+v, want a Socket.IO packet", f)
	}
	return string(f.Data)
}

func (s *sio) expect(want string) {
	s.t.Helper()
	if got := s.next(); got != want {
		s.t.Fatalf("got %s, want %s", got, want)
	}
}

// expectPrefix returns the rest of the next frame after prefix.
func (s *sio) expectPrefix(prefix string) string {
	s.t.Helper()
	got := s.next()
	rest, ok := strings.CutPrefix(got, prefix)
	if !ok {
		s.t.Fatalf("got %s, want %s…", got, prefix)
	}
	return rest
}

// connect completes the handshake with tok and returns the socket id.
func (s *sio) connect(tok string) string {
	s.t.Helper()
	s.expectPrefix("0{")
	s.SendRaw(`40/game,{"token":"` + tok + `"}`)
	var ok struct{ SID string }
	if err := json.Unmarshal([]byte(s.expectPrefix("40/game,")), &ok); err != nil || ok.SID == "" {
		s.t.Fatalf("connect reply: %v", err)
	}
	var c struct{ ClientID, UserID string }
	if err := json.Unmarshal([]byte(strings.TrimSuffix(s.expectPrefix(`42/game,["connected",`), "]")), &c); err != nil || c.ClientID != ok.SID {
		s.t.Fatalf("connected: %+v %v", c, err)
	}
	return ok.SID
}

func TestSocketIOHandshake(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := dialSIO(t, n, "")
	var open struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if err := json.Unmarshal([]byte(c.expectPrefix("0")), &open); err != nil {
		t.Fatal(err)
	}
	if open.SID == "" || open.Upgrades == nil || len(open.Upgrades) != 0 ||
		open.PingInterval != 25000 || open.PingTimeout != 10000 || open.MaxPayload != 65536 {
		t.Fatalf("open packet %+v", open)
	}
	// The main namespace is not served.
	c.SendRaw(`40`)
	c.expect(`44{"message":"Invalid namespace"}`)
	// A bad token is refused with its reason; the client may try again.
	c.SendRaw(`40/game,{"token":"garbage"}`)
	c.expect(`44/game,{"message":"malformed token"}`)
	c.SendRaw(`40/game,{}`)
	c.expect(`44/game,{"message":"missing token"}`)
	c.SendRaw(`40/game,{"token":"` + gt.Token(t, "alice") + `"}`)
	// The reply carries the private session id (pid) of connection state
	// recovery, which `connected` repeats as sessionId.
	var reply struct{ SID, PID string }
	if err := json.Unmarshal([]byte(c.expectPrefix(`40/game,`)), &reply); err != nil || reply.SID == "" || len(reply.PID) < 26 {
		t.Fatalf("connect reply %+v %v", reply, err)
	}
	c.expect(`42/game,["connected",{"clientId":"` + reply.SID + `","userId":"alice","sessionId":"` + reply.PID + `","recovered":false}]`)
}

func TestSocketIOTokenFromQuery(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := dialSIO(t, n, "&token="+gt.Token(t, "bob"))
	c.expectPrefix("0{")
	c.SendRaw(`40/game,`)
	c.expectPrefix(`40/game,{"sid":`)
	c.expectPrefix(`42/game,["connected",`)
}

func TestSocketIOEventsAcksAndExceptions(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := dialSIO(t, n, "")
	c.connect(gt.Token(t, "alice"))

	// With an ack id the reply is the acknowledgement...
	c.SendRaw(`42/game,1["joinRoom",{"roomId":"table"}]`)
	c.expect(`43/game,1[{"roomId":"table"}]`)
	// ...without one, it is emitted as its event.
	c.SendRaw(`42/game,["leaveRoom",{"roomId":"table"}]`)
	c.expect(`42/game,["leftRoom",{"roomId":"table"}]`)
	// Exceptions follow the same rule.
	c.SendRaw(`42/game,2["fly"]`)
	c.expect(`43/game,2[{"status":"error","message":"unknown event \"fly\""}]`)
	c.SendRaw(`42/game,["joinRoom",{"roomId":"user:bob"}]`)
	c.expect(`42/game,["exception",{"status":"error","message":"forbidden"}]`)
	c.SendRaw(`42/game,["joinRoom",{}]`)
	c.expect(`42/game,["exception",{"status":"error","message":"roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]"}]`)
	c.SendRaw(`42/game,3[]`)
	c.expect(`43/game,3[{"status":"error","message":"event payload must be an array starting with the event name"}]`)
	c.SendRaw(`4x`)
	c.expect(`42/game,["exception",{"status":"error","message":"malformed Socket.IO packet"}]`)
	// Binary attachments are refused; the attachment frame that follows is
	// skipped and the connection goes on.
	c.SendRaw(`451-/game,4["upload",{"_placeholder":true,"num":0}]`)
	if err := c.conn.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	c.expect(`43/game,4[{"status":"error","message":"binary attachments are not supported: send JSON"}]`)
	c.SendRaw(`42/game,5["ping"]`)
	c.expectPrefix(`43/game,5[{"ts":`)
}

// One broadcast reaches a Socket.IO client and a plain one in the same room.
func TestSocketIOAndPlainShareRooms(t *testing.T) {
	n := gt.Start(t, gt.Config())
	s := dialSIO(t, n, "")
	s.connect(gt.Token(t, "alice"))
	p := n.Dial(t, gt.Token(t, "bob"))
	s.SendRaw(`42/game,1["joinRoom",{"roomId":"table"}]`)
	s.expect(`43/game,1[{"roomId":"table"}]`)
	p.Join("table")
	if err := n.Emitter.ToRoom(t.Context(), "table", "deal", map[string]string{"card": "A"}); err != nil {
		t.Fatal(err)
	}
	// Each carries the message's offset last, the plain one as "offset".
	offset := strings.TrimSuffix(s.expectPrefix(`42/game,["deal",{"card":"A"},"`), `"]`)
	if f := p.Expect("deal"); string(f.Data) != `{"card":"A"}` || f.Offset != offset {
		t.Fatalf("plain client got %s offset %q, want offset %q", f.Data, f.Offset, offset)
	}
	if err := n.Emitter.ToUser(t.Context(), "alice", "dm", "hi"); err != nil {
		t.Fatal(err)
	}
	s.expectPrefix(`42/game,["dm","hi","`)
}

func TestSocketIOHeartbeat(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.PingInterval = 600 * time.Millisecond // 500 ms to answer holds on a busy machine
	cfg.Gateway.PongTimeout = 500 * time.Millisecond
	n := gt.Start(t, cfg)

	alive := dialSIO(t, n, "")
	alive.connect(gt.Token(t, "alive"))
	silent := dialSIO(t, n, "")
	silent.connect(gt.Token(t, "silent"))
	// Both get a ping; the live one answers, the silent one does not and is
	// dropped.
	alive.expect("2")
	alive.SendRaw("3")
	silent.expect("2")
	if code, _ := silent.Closed(); code != -1 {
		t.Fatalf("silent client closed with %d; want a dropped connection", code)
	}
	// The live one answers every ping and stays, rounds after the drop.
	for range 3 {
		alive.expect("2")
		alive.SendRaw("3")
	}
	if n.Hub.Clients() != 1 {
		t.Fatalf("clients %d, want 1", n.Hub.Clients())
	}
}

func TestSocketIOCloses(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.RateLimit.PerSecond, cfg.Gateway.RateLimit.Burst, cfg.Gateway.RateLimit.MaxExcess = 1, 1, 0
	n := gt.Start(t, cfg)

	// A policy close tells socket.io-client the server disconnected it.
	flood := dialSIO(t, n, "")
	flood.connect(gt.Token(t, "flood"))
	flood.SendRaw(`42/game,["ping"]`)
	flood.SendRaw(`42/game,["ping"]`)
	flood.expectPrefix(`42/game,["pong",`)
	flood.expect(`41/game,`)
	if code, reason := flood.Closed(); code != websocket.StatusPolicyViolation || reason != "rate limit exceeded" {
		t.Fatalf("close %d %q", code, reason)
	}

	// A client's DISCONNECT ends its session.
	leaver := dialSIO(t, n, "")
	leaver.connect(gt.Token(t, "leaver"))
	leaver.SendRaw(`41/game,`)
	if code, _ := leaver.Closed(); code != websocket.StatusNormalClosure {
		t.Fatalf("close %d", code)
	}

	// Stopping closes with 1001 and no DISCONNECT, so clients reconnect.
	stayer := dialSIO(t, n, "")
	stayer.connect(gt.Token(t, "stayer"))
	n.Stop(t)
	if code, reason := stayer.Closed(); code != websocket.StatusGoingAway || reason != "server stopping" {
		t.Fatalf("close %d %q", code, reason)
	}
}
