package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/gateway"
)

// redial reconnects user with a session id and an offset ("" for none) and
// reads the greeting.
func redial(t *testing.T, n *gt.Node, user, sessionID, offset string) *gt.Client {
	t.Helper()
	q := url.Values{"sessionId": {sessionID}}
	if offset != "" {
		q.Set("offset", offset)
	}
	conn, resp, err := n.DialRawURL(n.WSURL()+"?"+q.Encode(), bearer(t, user))
	if err != nil {
		t.Fatalf("redial: %v %v", err, resp)
	}
	c := gt.Watch(t, conn)
	f := c.Expect("connected")
	if err := json.Unmarshal(f.Data, &c.Connected); err != nil {
		t.Fatal(err)
	}
	return c
}

func bearer(t *testing.T, user string) map[string][]string {
	return map[string][]string{"Authorization": {"Bearer " + gt.Token(t, user)}}
}

// gone closes c and waits until the node has seen it go.
func gone(t *testing.T, n *gt.Node, c *gt.Client) {
	t.Helper()
	before := n.Hub.Clients()
	_ = c.Conn.Close(websocket.StatusNormalClosure, "bye")
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Clients() >= before {
			return fmt.Errorf("%d clients", n.Hub.Clients())
		}
		return nil
	})
}

// A client that drops and comes back with its session id and last offset
// gets its session back: the same client id, its rooms, every room message
// it missed once and in order (a user-addressed one too), then live ones.
func TestRecoveryReplaysWhatWasMissed(t *testing.T) {
	n := gt.Start(t, gt.Config())
	alice := n.Dial(t, gt.Token(t, "alice"))
	if alice.Connected.SessionID == "" || alice.Connected.Recovered {
		t.Fatalf("first greeting %+v", alice.Connected)
	}
	alice.Join("arena")
	emit(t, n, "arena", "tick", 0)
	last := alice.Expect("tick").Offset
	if last == "" {
		t.Fatal("a room message without an offset")
	}
	gone(t, n, alice)

	for i := 1; i <= 20; i++ {
		emit(t, n, "arena", "tick", i)
	}
	if err := n.Emitter.ToUser(t.Context(), "alice", "balanceUpdated", map[string]int{"balance": 7}); err != nil {
		t.Fatal(err)
	}
	back := redial(t, n, "alice", alice.Connected.SessionID, last)
	if !back.Connected.Recovered || back.Connected.SessionID != alice.Connected.SessionID ||
		back.Connected.ClientID != alice.Connected.ClientID || back.Connected.Reason != "" {
		t.Fatalf("greeting %+v, want the session recovered", back.Connected)
	}
	for i := 1; i <= 20; i++ {
		last = expectTick(t, back, i, last)
	}
	if f := back.Expect("balanceUpdated"); f.Offset <= last {
		t.Fatalf("balanceUpdated offset %q after %q", f.Offset, last)
	}
	emit(t, n, "arena", "tick", 21)
	expectTick(t, back, 21, last)
	back.Alive() // nothing else was queued: no duplicate
}

// emit sends a numbered event to room.
func emit(t *testing.T, n *gt.Node, room, event string, i int) {
	t.Helper()
	if err := n.Emitter.ToRoom(t.Context(), room, event, i); err != nil {
		t.Fatal(err)
	}
}

// awayAfterATick dials alice into arena, sends her tick 0 and has her go:
// her client and the offset she last read.
func awayAfterATick(t *testing.T, n *gt.Node) (*gt.Client, string) {
	t.Helper()
	alice := n.Dial(t, gt.Token(t, "alice"))
	alice.Join("arena")
	emit(t, n, "arena", "tick", 0)
	last := alice.Expect("tick").Offset
	gone(t, n, alice)
	return alice, last
}

// expectTick reads tick i, whose offset must come after last, and returns
// its offset.
func expectTick(t *testing.T, c *gt.Client, i int, last string) string {
	t.Helper()
	f := c.Expect("tick")
	if string(f.Data) != fmt.Sprint(i) || !offsetAfter(f.Offset, last) {
		t.Fatalf("tick %s offset %q (after %q), want tick %d", f.Data, f.Offset, last, i)
	}
	return f.Offset
}

// offsetAfter compares two offsets of one history.
func offsetAfter(a, b string) bool {
	ea, sa, _ := strings.Cut(a, "-")
	eb, sb, _ := strings.Cut(b, "-")
	return ea == eb && (len(sa) > len(sb) || len(sa) == len(sb) && sa > sb)
}

// Broadcasts keep coming while a client drops and comes back: across the
// seam it gets every one, once, in order.
func TestRecoverySeamUnderAStream(t *testing.T) {
	n := gt.Start(t, gt.Config())
	alice := n.Dial(t, gt.Token(t, "alice"))
	alice.Join("arena")
	const total = 600
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range total {
			if err := n.Emitter.ToRoom(t.Context(), "arena", "tick", i); err != nil {
				t.Error(err)
				return
			}
			if i%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	})
	seen := []int{}
	last := ""
	read := func(c *gt.Client, until int) {
		for len(seen) < until {
			f := c.Expect("tick")
			var i int
			_ = json.Unmarshal(f.Data, &i)
			seen = append(seen, i)
			last = f.Offset
		}
	}
	read(alice, 100)
	gone(t, n, alice) // frames queued or in flight now are lost to this connection
	back := redial(t, n, "alice", alice.Connected.SessionID, last)
	if !back.Connected.Recovered {
		t.Fatalf("greeting %+v", back.Connected)
	}
	read(back, total)
	wg.Wait()
	for i, v := range seen {
		if v != i {
			t.Fatalf("message %d is tick %d: a gap or a duplicate at the seam (%v)", i, v, seen[max(0, i-3):min(len(seen), i+3)])
		}
	}
	back.Alive()
}

// Each refusal says why, and gives a fresh session with the personal room
// only; another user's session id gets nothing of theirs.
func TestRecoveryRefusals(t *testing.T) {
	cfg := gt.Config()
	cfg.Recovery.MaxMessages = 5
	cfg.Recovery.Window = time.Second
	n := gt.Start(t, cfg)

	alice, last := awayAfterATick(t, n)
	emit(t, n, "arena", "tick", 1)

	refused := func(c *gt.Client, reason string) {
		t.Helper()
		if c.Connected.Recovered || c.Connected.Reason != reason || c.Connected.SessionID == "" ||
			c.Connected.SessionID == alice.Connected.SessionID || c.Connected.ClientID == alice.Connected.ClientID {
			t.Fatalf("greeting %+v, want a fresh session and reason %q", c.Connected, reason)
		}
		emit(t, n, "arena", "tick", 99) // not in arena any more
		c.Alive()
	}
	refused(redial(t, n, "alice", "NOSUCHSESSION0000000000000", last), "unknown session")
	bob := redial(t, n, "bob", alice.Connected.SessionID, last)
	refused(bob, "user mismatch")
	gone(t, n, bob)
	// Bob's try took nothing from alice: she recovers, with tick 1 and 99.
	back := redial(t, n, "alice", alice.Connected.SessionID, last)
	if !back.Connected.Recovered {
		t.Fatalf("alice after bob's try: %+v", back.Connected)
	}
	last = expectTick(t, back, 1, last)
	last = expectTick(t, back, 99, last)
	expectTick(t, back, 99, last)
	gone(t, n, back)

	// More messages than a room keeps went by: too far behind.
	for i := range 10 {
		emit(t, n, "arena", "tick", 100+i)
	}
	refused(redial(t, n, "alice", alice.Connected.SessionID, last), "too far behind")

	// Past the window: expired.
	carol := n.Dial(t, gt.Token(t, "carol"))
	gone(t, n, carol)
	time.Sleep(cfg.Recovery.Window + 100*time.Millisecond)
	late := redial(t, n, "carol", carol.Connected.SessionID, "")
	if late.Connected.Recovered || late.Connected.Reason != "expired" {
		t.Fatalf("greeting %+v, want expired", late.Connected)
	}
}

// Whatever a client sends as a session id or offset, it gets a fresh
// session and a reason, never a crash or someone else's messages.
func TestRecoveryBadInput(t *testing.T) {
	n := gt.Start(t, gt.Config())
	// session leaves a session behind, with the last offset it received.
	session := func() (string, string) {
		c := n.Dial(t, gt.Token(t, "alice"))
		c.Join("arena")
		emit(t, n, "arena", "tick", 0)
		last := c.Expect("tick").Offset
		gone(t, n, c)
		return c.Connected.SessionID, last
	}
	for _, tc := range []struct {
		name   string
		ask    func(sid, last string) (string, string)
		reason string
	}{
		{"empty session id", func(_, last string) (string, string) { return "", last }, "unknown session"},
		{"truncated session id", func(sid, last string) (string, string) { return sid[:10], last }, "unknown session"},
		{"huge session id", func(sid, last string) (string, string) { return strings.Repeat(sid, 1000), last }, "unknown session"},
		{"session id with a NUL", func(sid, last string) (string, string) { return sid + "\x00", last }, "unknown session"},
		{"offset not an offset", func(sid, _ string) (string, string) { return sid, "yesterday" }, "too far behind"},
		{"offset of another history", func(sid, _ string) (string, string) { return sid, "OTHER-1" }, "too far behind"},
		{"offset from the future", func(sid, last string) (string, string) {
			epoch, _, _ := strings.Cut(last, "-")
			return sid, epoch + "-999999"
		}, "too far behind"},
		{"huge offset", func(sid, last string) (string, string) {
			epoch, _, _ := strings.Cut(last, "-")
			return sid, epoch + "-" + strings.Repeat("9", 5000)
		}, "too far behind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sid, offset := tc.ask(session())
			c := redial(t, n, "alice", sid, offset)
			if c.Connected.Recovered || c.Connected.Reason != tc.reason {
				t.Fatalf("greeting %+v, want reason %q", c.Connected, tc.reason)
			}
			emit(t, n, "arena", "tick", 1) // not in arena: a fresh session
			c.Alive()
			gone(t, n, c)
		})
	}
}

// A reconnect while the old connection still looks open takes the session
// over: the old one is closed with 4003.
func TestRecoveryTakesOverALiveSession(t *testing.T) {
	n := gt.Start(t, gt.Config())
	old := n.Dial(t, gt.Token(t, "alice"))
	old.Join("arena")
	emit(t, n, "arena", "tick", 0)
	last := old.Expect("tick").Offset
	emit(t, n, "arena", "tick", 1)
	back := redial(t, n, "alice", old.Connected.SessionID, last)
	if !back.Connected.Recovered {
		t.Fatalf("greeting %+v", back.Connected)
	}
	old.Expect("tick") // tick 1 reached the old connection too
	if code, reason := old.Closed(); code != 4003 || reason != "session resumed" {
		t.Fatalf("old connection closed %d %q", code, reason)
	}
	last = expectTick(t, back, 1, last)
	emit(t, n, "arena", "tick", 2)
	expectTick(t, back, 2, last)
}

// A message sent past a client (to its room, except it) is not replayed to
// it either.
func TestRecoveryKeepsExcept(t *testing.T) {
	n := gt.Start(t, gt.Config())
	alice, last := awayAfterATick(t, n)
	if err := n.Emitter.ToRoomExcept(t.Context(), "arena", alice.Connected.ClientID, "tick", 1); err != nil {
		t.Fatal(err)
	}
	emit(t, n, "arena", "tick", 2)
	back := redial(t, n, "alice", alice.Connected.SessionID, last)
	expectTick(t, back, 2, last)
	back.Alive()
}

// Socket.IO's own connection state recovery: the CONNECT reply carries the
// pid, room events carry their offset last, and a reconnect's CONNECT auth
// with {pid, offset} gets the same socket id, its rooms and what it missed.
func TestRecoverySocketIO(t *testing.T) {
	n := gt.Start(t, gt.Config())
	tok := gt.Token(t, "alice")
	s := dialSIO(t, n, "")
	s.expectPrefix("0{")
	s.SendRaw(`40/game,{"token":"` + tok + `"}`)
	var first struct{ SID, PID string }
	if err := json.Unmarshal([]byte(s.expectPrefix(`40/game,`)), &first); err != nil || first.PID == "" {
		t.Fatalf("connect reply %+v %v", first, err)
	}
	s.expectPrefix(`42/game,["connected",`)
	s.SendRaw(`42/game,1["joinRoom",{"roomId":"arena"}]`)
	s.expect(`43/game,1[{"roomId":"arena"}]`)
	emit(t, n, "arena", "tick", 0)
	last := strings.TrimSuffix(s.expectPrefix(`42/game,["tick",0,"`), `"]`)
	gone(t, n, s.Client)
	emit(t, n, "arena", "tick", 1)
	emit(t, n, "arena", "tick", 2)

	again := dialSIO(t, n, "")
	again.expectPrefix("0{")
	again.SendRaw(`40/game,{"token":"` + tok + `","pid":"` + first.PID + `","offset":"` + last + `"}`)
	again.expect(`40/game,{"sid":"` + first.SID + `","pid":"` + first.PID + `"}`)
	again.expect(`42/game,["connected",{"clientId":"` + first.SID + `","userId":"alice","sessionId":"` + first.PID + `","recovered":true}]`)
	again.expectPrefix(`42/game,["tick",1,"`)
	again.expectPrefix(`42/game,["tick",2,"`)

	// A pid or offset that is not a string recovers nothing, and is no
	// reason to fail the handshake.
	for _, auth := range []string{`"pid":7`, `"pid":{"a":1},"offset":"x"`, `"pid":"` + first.PID + `","offset":[1]`} {
		bad := dialSIO(t, n, "")
		bad.expectPrefix("0{")
		bad.SendRaw(`40/game,{"token":"` + tok + `",` + auth + `}`)
		bad.expectPrefix(`40/game,{"sid":"`)
		if got := bad.expectPrefix(`42/game,["connected",`); !strings.Contains(got, `"recovered":false,"reason":"`) {
			t.Fatalf("auth %s: connected %s", auth, got)
		}
	}
}

// A session that missed more frames than a client's queue holds
// (gateway.queueSize) recovers them all, in order: the replay is a backlog,
// not a slow consumer. One that missed more bytes than may wait for a
// client (gateway.maxQueueBytes) is too far behind, rather than closed as
// a slow consumer at every try.
func TestRecoveryReplaysMoreThanTheQueue(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.QueueSize = 16
	cfg.Gateway.MaxQueueBytes = 64 << 10
	n := gt.Start(t, cfg)
	alice, last := awayAfterATick(t, n)
	for i := 1; i <= 100; i++ {
		emit(t, n, "arena", "tick", i)
	}
	back := redial(t, n, "alice", alice.Connected.SessionID, last)
	if !back.Connected.Recovered {
		t.Fatalf("greeting %+v", back.Connected)
	}
	for i := 1; i <= 100; i++ {
		last = expectTick(t, back, i, last)
	}
	emit(t, n, "arena", "tick", 101) // live again, after the replay
	last = expectTick(t, back, 101, last)
	gone(t, n, back)

	big := strings.Repeat("x", 1000)
	for range 100 { // ~100 KB missed, past the 64 KiB bound
		if err := n.Emitter.ToRoom(t.Context(), "arena", "news", big); err != nil {
			t.Fatal(err)
		}
	}
	late := redial(t, n, "alice", alice.Connected.SessionID, last)
	if late.Connected.Recovered || late.Connected.Reason != "too far behind" {
		t.Fatalf("greeting %+v, want a fresh session: too far behind", late.Connected)
	}
	late.Alive()
}

// A receipt's message replayed to a session that was away when it went
// out: the replay carries its ackId, and the client's ack of it is taken
// without an answer, though the client was no recipient and is not
// counted.
func TestRecoveryReplaysAReceiptsMessage(t *testing.T) {
	n := gt.Start(t, gt.Config())
	alice, last := awayAfterATick(t, n)
	bob := n.Dial(t, gt.Token(t, "bob"))
	bob.Join("arena")
	answer := make(chan gateway.ReceiptResult, 1)
	go func() {
		res, err := n.Emitter.ToRoomWithReceipt(context.Background(), "arena", "stage", 2, 2*time.Second)
		if err != nil {
			t.Error(err)
		}
		answer <- res
	}()
	f := bob.Expect("stage")
	back := redial(t, n, "alice", alice.Connected.SessionID, last)
	replayed := back.Expect("stage")
	if replayed.AckID != f.AckID || !back.Connected.Recovered {
		t.Fatalf("replayed %+v after %+v, want the same ackId", replayed, back.Connected)
	}
	back.Send("ack", map[string]string{"ackId": replayed.AckID}, nil)
	back.Alive()
	bob.Send("ack", map[string]string{"ackId": f.AckID}, nil)
	if res := <-answer; res.Recipients != 1 || len(res.Acked) != 1 || res.Acked[0].UserID != "bob" {
		t.Fatalf("receipt %+v", res)
	}
}
