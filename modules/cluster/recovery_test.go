package cluster_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// startJetStream runs a NATS server with JetStream, its store in dir, on
// 127.0.0.1:port (a free port when -1), until the test ends.
func startJetStream(t testing.TB, port int, dir string) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true, JetStream: true, StoreDir: dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(gt.Timeout) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { stopNATS(s) })
	return s
}

// redial reconnects user to n with a session id and an offset and reads the
// greeting.
func redial(t *testing.T, n node, user, sessionID, offset string) *gt.Client {
	t.Helper()
	q := url.Values{"sessionId": {sessionID}, "offset": {offset}}
	conn, resp, err := n.DialRawURL(n.WSURL()+"?"+q.Encode(), map[string][]string{"Authorization": {"Bearer " + gt.Token(t, user)}})
	if err != nil {
		t.Fatalf("redial: %v %v", err, resp)
	}
	c := gt.Watch(t, conn)
	if err := json.Unmarshal(c.Expect("connected").Data, &c.Connected); err != nil {
		t.Fatal(err)
	}
	return c
}

// tick reads the next frame of c, which must be tick i, and returns its
// offset.
func tick(t *testing.T, c *gt.Client, i int) string {
	t.Helper()
	f := c.Expect("tick")
	if string(f.Data) != fmt.Sprint(i) || f.Offset == "" {
		t.Fatalf("user %s: tick %s offset %q, want tick %d", c.Connected.UserID, f.Data, f.Offset, i)
	}
	return f.Offset
}

// The nodes share one log: a message has the same offset on every node,
// and a client that drops from one node recovers on another, with what was
// sent meanwhile from any node, once and in order, then live messages.
func TestRecoveryOnAnotherNode(t *testing.T) {
	srv := startJetStream(t, -1, t.TempDir())
	nodes := startNodes(t, srv.ClientURL(), 3)
	alice := dialJoin(t, nodes[0], "alice", "arena")
	bob := dialJoin(t, nodes[1], "bob", "arena")
	ctx := t.Context()
	if err := nodes[2].Emitter.ToRoom(ctx, "arena", "tick", 0); err != nil {
		t.Fatal(err)
	}
	last := tick(t, alice, 0)
	if other := tick(t, bob, 0); other != last {
		t.Fatalf("one message, two offsets: %q on node 0, %q on node 1", last, other)
	}
	_ = alice.Conn.Close(websocket.StatusNormalClosure, "")
	waitfor.Until(t, gt.Timeout, func() error {
		if nodes[0].Hub.Clients() != 0 {
			return fmt.Errorf("node 0 still has %d clients", nodes[0].Hub.Clients())
		}
		return nil
	})
	for i := 1; i <= 10; i++ {
		if err := nodes[i%3].Emitter.ToRoom(ctx, "arena", "tick", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[1].Emitter.ToUser(ctx, "alice", "balanceUpdated", map[string]int{"balance": 7}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 10; i++ {
		tick(t, bob, i) // every message reached node 1 before alice comes back
	}
	back := redial(t, nodes[2], "alice", alice.Connected.SessionID, last)
	if !back.Connected.Recovered || back.Connected.ClientID != alice.Connected.ClientID {
		t.Fatalf("greeting on node 2: %+v", back.Connected)
	}
	for i := 1; i <= 10; i++ {
		tick(t, back, i)
	}
	back.Expect("balanceUpdated")
	if err := nodes[0].Emitter.ToRoom(ctx, "arena", "tick", 11); err != nil {
		t.Fatal(err)
	}
	tick(t, back, 11)
	back.Alive()
}

// A reconnect on another node while the old connection is still open takes
// the session over: the old node closes it with 4003.
func TestRecoveryTakesOverFromAnotherNode(t *testing.T) {
	srv := startJetStream(t, -1, t.TempDir())
	nodes := startNodes(t, srv.ClientURL(), 2)
	old := dialJoin(t, nodes[0], "alice", "arena")
	if err := nodes[0].Emitter.ToRoom(t.Context(), "arena", "tick", 0); err != nil {
		t.Fatal(err)
	}
	last := tick(t, old, 0)
	back := redial(t, nodes[1], "alice", old.Connected.SessionID, last)
	if !back.Connected.Recovered {
		t.Fatalf("greeting %+v", back.Connected)
	}
	if code, reason := old.Closed(); code != 4003 || reason != "session resumed" {
		t.Fatalf("old connection closed %d %q", code, reason)
	}
	if err := nodes[0].Emitter.ToRoom(t.Context(), "arena", "tick", 1); err != nil {
		t.Fatal(err)
	}
	tick(t, back, 1) // in arena on node 1, with the rooms it had on node 0
	back.Alive()
}

// Without JetStream the nodes still span rooms, and a session recovers on
// the node it was on.
func TestRecoveryWithoutJetStreamStaysOnItsNode(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 2)
	alice := dialJoin(t, nodes[0], "alice", "arena")
	waitInterest(t, srv, "arena", 1)
	if err := nodes[1].Emitter.ToRoom(t.Context(), "arena", "tick", 0); err != nil {
		t.Fatal(err)
	}
	last := tick(t, alice, 0)
	_ = alice.Conn.Close(websocket.StatusNormalClosure, "")
	elsewhere := redial(t, nodes[1], "alice", alice.Connected.SessionID, last)
	if elsewhere.Connected.Recovered || elsewhere.Connected.Reason != "unknown session" {
		t.Fatalf("on another node: %+v", elsewhere.Connected)
	}
	if nodes[0].Logs.FilterMessageSnippet("without JetStream").Len() != 1 {
		t.Fatal("no warning that NATS has no JetStream")
	}
}

// The NATS server restarts while broadcasts stream in, its JetStream store
// kept: publishing waits it out, and every member on every node gets every
// message once, in order.
func TestRecoveryLogSurvivesANATSRestart(t *testing.T) {
	dir := t.TempDir()
	srv := startJetStream(t, -1, dir)
	port := srv.Addr().(*net.TCPAddr).Port
	nodes := startNodes(t, srv.ClientURL(), 2)
	members := []*gt.Client{dialJoin(t, nodes[0], "alice", "arena"), dialJoin(t, nodes[1], "bob", "arena")}

	const total = 60
	var wg sync.WaitGroup
	stopped := make(chan struct{})
	wg.Go(func() {
		for i := range total {
			if i == total/3 {
				<-stopped // these wait for NATS to come back
			}
			if err := nodes[i%2].Emitter.ToRoom(t.Context(), "arena", "tick", i); err != nil {
				t.Error(err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	for _, c := range members {
		for i := range total / 3 {
			tick(t, c, i)
		}
	}
	stopNATS(srv)
	close(stopped)
	time.Sleep(300 * time.Millisecond)
	startJetStream(t, port, dir)
	for _, c := range members {
		for i := total / 3; i < total; i++ {
			tick(t, c, i)
		}
		c.Alive()
	}
	wg.Wait()
}
