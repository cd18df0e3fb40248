package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/gateway"
)

// Engine.IO long-polling, byte for byte as socket.io's server answers it
// (the Node suite in testdata/socketio runs the real socket.io-client).

func TestPollingHandshake(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	want := `0{"sid":"` + p.SID + `","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":10000,"maxPayload":65536}`
	if p.Open != want {
		t.Fatalf("open packet %s, want %s", p.Open, want)
	}
	// A POST is answered "ok"; what it caused comes with the next GET.
	resp, body := p.Request(http.MethodPost, p.Path("polling"), nil, `40/game,{"token":"`+gt.Token(t, "alice")+`"}`)
	if resp.StatusCode != 200 || body != "ok" || resp.Header.Get("Content-Type") != "text/html" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = p.Request(http.MethodGet, p.Path("polling"), nil, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=UTF-8" || resp.Header.Get("Cache-Control") != "no-store" ||
		resp.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Fatalf("GET: %d %v", resp.StatusCode, resp.Header)
	}
	got := strings.Split(body, "\x1e")
	var reply struct{ SID, PID string }
	if len(got) != 2 || json.Unmarshal([]byte(strings.TrimPrefix(got[0], "40/game,")), &reply) != nil || reply.SID == "" || len(reply.PID) < 26 {
		t.Fatalf("connect: %q", got)
	}
	if want := `42/game,["connected",{"clientId":"` + reply.SID + `","userId":"alice","sessionId":"` + reply.PID + `","recovered":false}]`; got[1] != want {
		t.Fatalf("got %s, want %s", got[1], want)
	}
}

// waitingGet polls once in the background and returns once the GET waits
// on n for something to send; the returned function gives its packets.
func waitingGet(t *testing.T, n *gt.Node, p *gt.Polling) func() []string {
	t.Helper()
	got := p.GetAsync()
	waitfor.Until(t, gt.Timeout, func() error {
		if w := n.Gateway.WaitingPolls(); w != 1 {
			return fmt.Errorf("%d GETs wait", w)
		}
		return nil
	})
	return func() []string {
		t.Helper()
		a := <-got
		if a.Err != nil || a.Status != http.StatusOK {
			t.Fatalf("the waiting GET: %d %s %v", a.Status, a.Body, a.Err)
		}
		return strings.Split(a.Body, "\x1e")
	}
}

// expectUnknown fails unless p's session is unknown.
func expectUnknown(t *testing.T, p *gt.Polling) {
	t.Helper()
	if code, body := p.Do(http.MethodGet, ""); code != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
		t.Fatalf("GET: %d %s, want the session unknown", code, body)
	}
}

// expectPackets polls once and fails unless the answer is want.
func expectPackets(t *testing.T, p *gt.Polling, want ...string) {
	t.Helper()
	if got := p.Get(); strings.Join(got, "\x1e") != strings.Join(want, "\x1e") {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestPollingEventsAcksAndBatches(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))

	// One POST may carry several packets; they are handled in order, and
	// one GET takes every answer that waits.
	p.Post(`42/game,1["joinRoom",{"roomId":"table"}]`, `42/game,["leaveRoom",{"roomId":"table"}]`, `42/game,2["fly"]`, `4x`)
	expectPackets(t, p,
		`43/game,1[{"roomId":"table"}]`,
		`42/game,["leftRoom",{"roomId":"table"}]`,
		`43/game,2[{"status":"error","message":"unknown event \"fly\""}]`,
		`42/game,["exception",{"status":"error","message":"malformed Socket.IO packet"}]`)

	// A GET waits for what comes: a room message, with its offset last.
	p.Post(`42/game,3["joinRoom",{"roomId":"table"}]`)
	expectPackets(t, p, `43/game,3[{"roomId":"table"}]`)
	got := waitingGet(t, n, p)
	if err := n.Emitter.ToRoom(t.Context(), "table", "deal", map[string]string{"card": "A"}); err != nil {
		t.Fatal(err)
	}
	if packets := got(); len(packets) != 1 || !strings.HasPrefix(packets[0], `42/game,["deal",{"card":"A"},"`) {
		t.Fatalf("got %q", packets)
	}
}

// Requests socket.io's server refuses, with its status and body.
func TestPollingBadRequests(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	upgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}}
	for _, tc := range []struct {
		method, query, status, body string
		header                      http.Header
	}{
		{"GET", "EIO=4&transport=xhr", "400", `{"code":0,"message":"Transport unknown"}`, nil},
		{"GET", "EIO=4", "400", `{"code":0,"message":"Transport unknown"}`, nil},
		{"GET", "EIO=3&transport=polling", "400", `{"code":5,"message":"Unsupported protocol version"}`, nil},
		{"GET", "EIO=3&transport=websocket", "400", `{"code":5,"message":"Unsupported protocol version"}`, upgrade},
		{"GET", "transport=polling", "400", `{"code":5,"message":"Unsupported protocol version"}`, nil},
		{"POST", "EIO=4&transport=polling", "400", `{"code":2,"message":"Bad handshake method"}`, nil},
		{"GET", "EIO=4&transport=websocket", "400", `{"code":3,"message":"Bad request"}`, nil},
		{"GET", "EIO=4&transport=polling&sid=nope", "400", `{"code":1,"message":"Session ID unknown"}`, nil},
		{"POST", "EIO=4&transport=polling&sid=nope", "400", `{"code":1,"message":"Session ID unknown"}`, nil},
		{"GET", "EIO=4&transport=polling&sid=" + strings.Repeat("A", 26) + "-AAAAAAAA", "400", `{"code":1,"message":"Session ID unknown"}`, nil},
		{"GET", "EIO=4&transport=websocket&sid=" + p.SID, "400", `{"code":3,"message":"Bad request"}`, nil},
	} {
		resp, body := p.Request(tc.method, "/socket.io/?"+tc.query, tc.header, "")
		if fmt.Sprint(resp.StatusCode) != tc.status || body != tc.body || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %s, want %s %s", tc.method, tc.query, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status, tc.body)
		}
	}
	// None of that touched the session.
	p.Connect(gt.Token(t, "alice"))
}

func TestPollingPayloadLimit(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))
	event := `42/game,["ping","` // padded to exactly maxPayload (64 KiB)
	event += strings.Repeat("x", 65536-len(event)-2) + `"]`
	p.Post(event)
	if packets := p.Get(); len(packets) != 1 || !strings.HasPrefix(packets[0], `42/game,["pong",`) {
		t.Fatalf("got %q", packets)
	}
	if code, body := p.Do(http.MethodPost, event+"x"); code != http.StatusRequestEntityTooLarge || body != "" {
		t.Fatalf("over maxPayload: %d %q", code, body)
	}
	p.Post(`42/game,1["ping"]`) // the session goes on
	if packets := p.Get(); len(packets) != 1 || !strings.HasPrefix(packets[0], `43/game,1[{"ts":`) {
		t.Fatalf("got %q", packets)
	}
}

// A malformed payload, a binary body, and two GETs or two POSTs at once end
// the session, as engine.io does: the pending GET gets the close packet,
// and the sid is unknown from then on.
func TestPollingBreakingTheProtocolEndsTheSession(t *testing.T) {
	n := gt.Start(t, gt.Config())
	for name, breakIt := range map[string]func(p *gt.Polling){
		"malformed payload": func(p *gt.Polling) {
			p.Post(`42/game,["ping"]`, "x") // answered "ok", though
		},
		"empty packet": func(p *gt.Polling) { p.Post(`42/game,["ping"]`, "") },
		"binary body": func(p *gt.Polling) {
			resp, body := p.Request(http.MethodPost, p.Path("polling"), http.Header{"Content-Type": {"application/octet-stream"}}, "4x")
			if resp.StatusCode != 400 || body != "" {
				t.Fatalf("binary body: %d %q", resp.StatusCode, body)
			}
		},
		"two GETs": func(p *gt.Polling) {
			if code, body := p.Do(http.MethodGet, ""); code != 400 || body != "" {
				t.Fatalf("second GET: %d %q", code, body)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			p := gt.OpenPolling(t, n.URL)
			p.Connect(gt.Token(t, "alice"))
			pending := waitingGet(t, n, p)
			breakIt(p)
			if got := pending(); got[len(got)-1] != "1" {
				t.Fatalf("the pending GET got %q, want the close packet last", got)
			}
			expectUnknown(t, p)
		})
	}
}

func TestPollingCORS(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.CORS.Origins = []string{"https://games.example.com"}
	n := gt.Start(t, cfg)
	p := gt.OpenPolling(t, n.URL) // no Origin: not a browser, always allowed
	resp, _ := p.Request(http.MethodGet, "/socket.io/?EIO=4&transport=polling", nil, "")
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS headers without an Origin: %v", resp.Header)
	}
	// An allowed Origin is echoed, with credentials, as socket.io does with
	// cors {origin, credentials: true}.
	origin := http.Header{"Origin": {"https://games.example.com"}}
	resp, body := p.Request(http.MethodGet, "/socket.io/?EIO=4&transport=polling", origin, "")
	if resp.StatusCode != 200 || !strings.HasPrefix(body, "0{") || resp.Header.Get("Access-Control-Allow-Origin") != "https://games.example.com" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("Vary") != "Origin" {
		t.Fatalf("allowed origin: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	preflight := http.Header{"Origin": {"https://games.example.com"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"authorization,content-type"}}
	resp, body = p.Request(http.MethodOptions, p.Path("polling"), preflight, "")
	if resp.StatusCode != 204 || body != "" || resp.Header.Get("Access-Control-Allow-Origin") != "https://games.example.com" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("Access-Control-Allow-Methods") != "GET,POST" ||
		resp.Header.Get("Access-Control-Allow-Headers") != "authorization,content-type" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	// Another Origin is refused, the preflight too.
	other := http.Header{"Origin": {"https://evil.example.net"}}
	for _, method := range []string{http.MethodGet, http.MethodOptions} {
		resp, body = p.Request(method, "/socket.io/?EIO=4&transport=polling", other, "")
		if resp.StatusCode != 403 || body != `{"code":4,"message":"origin not allowed"}` || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s from another origin: %d %s %v", method, resp.StatusCode, body, resp.Header)
		}
	}
}

// The heartbeat runs over polling: a client that polls and answers the
// pings stays; one that stops polling is closed after the ping timeout.
func TestPollingHeartbeat(t *testing.T) {
	cfg := gt.Config()
	// A second to answer, a GET and a POST away, holds on a busy machine.
	cfg.Gateway.PingInterval = 1200 * time.Millisecond
	cfg.Gateway.PongTimeout = time.Second
	n := gt.Start(t, cfg)
	alive := gt.OpenPolling(t, n.URL)
	alive.Connect(gt.Token(t, "alive"))
	silent := gt.OpenPolling(t, n.URL)
	silent.Connect(gt.Token(t, "silent"))
	for range 3 {
		expectPackets(t, alive, "2")
		alive.Post("3")
	}
	waitfor.Until(t, gt.Timeout, func() error {
		if c := n.Hub.Clients(); c != 1 {
			return fmt.Errorf("%d clients, want the silent one gone", c)
		}
		return nil
	})
	expectUnknown(t, silent)
	expectPackets(t, alive, "2")
}

// The server's close over polling: the DISCONNECT comes alone, then the
// close packet, each in its own answer (socket.io-client would otherwise
// see the close before the DISCONNECT).
func TestPollingServerClose(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.RateLimit.PerSecond, cfg.Gateway.RateLimit.Burst, cfg.Gateway.RateLimit.MaxExcess = 1, 1, 0
	n := gt.Start(t, cfg)
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "flood"))
	p.Post(`42/game,["ping"]`, `42/game,["ping"]`)
	if got := p.Get(); len(got) != 2 || !strings.HasPrefix(got[0], `42/game,["pong",`) || got[1] != "41/game," {
		t.Fatalf("got %q", got)
	}
	expectPackets(t, p, "6", "1")
	expectUnknown(t, p)
}

// A stopping node answers a waiting GET at once, and its stop does not
// wait for long-polls.
func TestPollingStop(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))
	pending := waitingGet(t, n, p)
	n.Stop(t) // fails the test on the shutdown timeout
	if got := pending(); len(got) != 1 || got[0] != "6" {
		t.Fatalf("the waiting GET got %q", got)
	}
}

// The upgrade: the probe over the WebSocket, the waiting GET released with
// a noop, then the upgrade packet. What was sent meanwhile comes over the
// WebSocket, first and once; the polling transport is done.
func TestPollingUpgrade(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))
	p.Post(`42/game,1["joinRoom",{"roomId":"table"}]`)
	expectPackets(t, p, `43/game,1[{"roomId":"table"}]`)
	pending := waitingGet(t, n, p)
	url := "ws" + strings.TrimPrefix(n.URL, "http") + p.Path("websocket")
	conn, _, err := n.DialRawURL(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := &sio{t: t, conn: conn, Client: gt.Watch(t, conn)}
	ws.SendRaw("2probe")
	ws.expect("3probe")
	if got := pending(); len(got) != 1 || got[0] != "6" {
		t.Fatalf("the waiting GET got %q, want a noop", got)
	}
	// Paused: what is sent now waits for the upgrade.
	for i := range 3 {
		if err := n.Emitter.ToUser(t.Context(), "alice", "n", i); err != nil {
			t.Fatal(err)
		}
	}
	ws.SendRaw("5")
	for i := range 3 {
		ws.expectPrefix(fmt.Sprintf(`42/game,["n",%d,"`, i))
	}
	ws.SendRaw(`42/game,1["ping"]`)
	ws.expectPrefix(`43/game,1[{"ts":`)
	if err := n.Emitter.ToUser(t.Context(), "alice", "n", 3); err != nil {
		t.Fatal(err)
	}
	ws.expectPrefix(`42/game,["n",3,"`)
	// The same session, in its rooms, on the WebSocket now; polling is
	// refused.
	if err := n.Emitter.ToRoom(t.Context(), "table", "deal", "A"); err != nil {
		t.Fatal(err)
	}
	ws.expectPrefix(`42/game,["deal","A","`)
	if c := n.Hub.Clients(); c != 1 {
		t.Fatalf("%d clients", c)
	}
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		if code, body := p.Do(method, "6"); code != 400 || body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("%s after the upgrade: %d %s", method, code, body)
		}
	}
	if _, resp, err := n.DialRawURL(url, nil); err == nil || resp.StatusCode != 400 {
		t.Fatalf("a second upgrade: %v %v", resp, err)
	}
	// The WebSocket's end is the session's.
	_ = conn.Close(websocket.StatusNormalClosure, "")
	waitfor.Until(t, gt.Timeout, func() error {
		if c := n.Hub.Clients(); c != 0 {
			return fmt.Errorf("%d clients", c)
		}
		return nil
	})
	expectUnknown(t, p)
}

// A WebSocket that offers to carry a session and says anything but the
// probe and the upgrade is closed; the session goes on polling.
func TestPollingUpgradeRefused(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))
	conn, _, err := n.DialRawURL("ws"+strings.TrimPrefix(n.URL, "http")+p.Path("websocket"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ws := &sio{t: t, conn: conn, Client: gt.Watch(t, conn)}
	ws.SendRaw(`42/game,["ping"]`)
	if code, _ := ws.Closed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("close %d", code)
	}
	p.Post(`42/game,1["ping"]`)
	if got := p.Get(); len(got) != 1 || !strings.HasPrefix(got[0], `43/game,1[{"ts":`) {
		t.Fatalf("got %q", got)
	}
}

// Presence and delivery receipts work over polling as over a WebSocket: the
// presence events come with a GET, and the client acks a delivery in a
// POST.
func TestPollingPresenceAndReceipts(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))
	p.Post(`42/game,1["joinRoom",{"roomId":"lobby","presence":true}]`)
	expectPackets(t, p, `43/game,1[{"roomId":"lobby","members":["alice"]}]`)
	bob := n.Dial(t, gt.Token(t, "bob"))
	bob.Join("lobby")
	expectPackets(t, p, `42/game,["memberJoined",{"roomId":"lobby","userId":"bob"}]`)

	answer := make(chan gateway.ReceiptResult, 1)
	go func() {
		res, err := n.Emitter.ToUserWithReceipt(context.Background(), "alice", "gift", 5, gt.Timeout)
		if err != nil {
			t.Error(err)
		}
		answer <- res
	}()
	got := p.Get()
	ackID, ok := strings.CutPrefix(got[0], `42/game,`)
	if i := strings.IndexByte(ackID, '['); len(got) != 1 || !ok || i <= 0 || ackID[i:] != `["gift",5]` { // no offset beside an ack id
		t.Fatalf("got %q", got)
	} else {
		ackID = ackID[:i]
	}
	p.Post(`43/game,` + ackID + `[]`)
	if res := <-answer; res.Recipients != 1 || len(res.Acked) != 1 || res.Acked[0].UserID != "alice" {
		t.Fatalf("receipt %+v", res)
	}
}

// A long-polling client that recovers a session which missed more frames
// than its queue holds (gateway.queueSize) gets them all, in order, in its
// next GETs, as socket.io's connection state recovery would replay them.
func TestPollingRecoveryReplaysMoreThanTheQueue(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.QueueSize = 8
	n := gt.Start(t, cfg)
	tok := gt.Token(t, "alice")

	p := gt.OpenPolling(t, n.URL)
	p.Post(`40/game,{"token":"` + tok + `"}`)
	got := p.Get()
	var reply struct{ SID, PID string }
	if len(got) != 2 || !strings.HasPrefix(got[0], "40/game,") || json.Unmarshal([]byte(got[0][len("40/game,"):]), &reply) != nil || reply.PID == "" {
		t.Fatalf("connect: %q", got)
	}
	p.Post(`42/game,1["joinRoom",{"roomId":"arena"}]`)
	expectPackets(t, p, `43/game,1[{"roomId":"arena"}]`)
	if err := n.Emitter.ToRoom(t.Context(), "arena", "tick", 0); err != nil {
		t.Fatal(err)
	}
	var tick []json.RawMessage
	if got := p.Get(); len(got) != 1 || json.Unmarshal([]byte(strings.TrimPrefix(got[0], "42/game,")), &tick) != nil || len(tick) != 3 {
		t.Fatalf("tick 0: %q", got)
	}
	var offset string
	_ = json.Unmarshal(tick[2], &offset)

	before := n.Hub.Clients()
	p.Post("1") // the client closes its Engine.IO session
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Clients() >= before {
			return fmt.Errorf("%d clients", n.Hub.Clients())
		}
		return nil
	})
	const missed = 40
	for i := 1; i <= missed; i++ {
		if err := n.Emitter.ToRoom(t.Context(), "arena", "tick", i); err != nil {
			t.Fatal(err)
		}
	}

	back := gt.OpenPolling(t, n.URL)
	back.Post(`40/game,{"token":"` + tok + `","pid":"` + reply.PID + `","offset":"` + offset + `"}`)
	var ticks []int
	recovered := false
	for len(ticks) < missed {
		for _, pkt := range back.Get() {
			recovered = recovered || strings.HasPrefix(pkt, `42/game,["connected",`) && strings.Contains(pkt, `"recovered":true`)
			var args []json.RawMessage
			if !strings.HasPrefix(pkt, `42/game,["tick",`) || json.Unmarshal([]byte(pkt[len("42/game,"):]), &args) != nil {
				continue // the CONNECT reply and connected
			}
			var i int
			_ = json.Unmarshal(args[1], &i)
			ticks = append(ticks, i)
		}
	}
	if !recovered {
		t.Error("no connected with recovered true")
	}
	for i, v := range ticks {
		if v != i+1 {
			t.Fatalf("replayed %v, want 1 to %d in order", ticks, missed)
		}
	}

	// The replay taken, live messages count against the queue in full: a
	// client that stops polling is a slow consumer at QueueSize of them,
	// not at QueueSize plus the replay.
	for i := range cfg.Gateway.QueueSize + 1 {
		if err := n.Emitter.ToRoom(t.Context(), "arena", "live", i); err != nil {
			t.Fatal(err)
		}
	}
	got = back.Get()
	if len(got) == 0 || got[len(got)-1] != "1" || strings.Contains(strings.Join(got, " "), `"live"`) {
		t.Fatalf("after %d live messages not polled for: %q, want the session closed and its queue dropped", cfg.Gateway.QueueSize+1, got)
	}
}
