package gateway_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

func TestBinaryFrameCloses1003(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))
	other := n.Dial(t, gt.Token(t, "bob"))
	if err := c.Conn.Write(t.Context(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if code, reason := c.Closed(); code != websocket.StatusUnsupportedData || reason != "binary frames are not supported" {
		t.Fatalf("close %d %q", code, reason)
	}
	other.Alive()
}

func TestOversizeMessageCloses1009(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.MaxMessageBytes = 1024
	n := gt.Start(t, cfg)
	c := n.Dial(t, gt.Token(t, "alice"))
	other := n.Dial(t, gt.Token(t, "bob"))
	// Exactly at the limit is fine.
	atLimit := `{"event":"ping","data":"` + strings.Repeat("x", 1024-len(`{"event":"ping","data":""}`)) + `"}`
	c.SendRaw(atLimit)
	c.Expect("pong")
	c.SendRaw(atLimit + " ")
	if code, _ := c.Closed(); code != websocket.StatusMessageTooBig {
		t.Fatalf("close %d, want 1009", code)
	}
	other.Alive()
}

func TestFloodGetsExceptionsThen1008(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.RateLimit.PerSecond = 1 // effectively no refill during the test
	cfg.Gateway.RateLimit.Burst = 10
	cfg.Gateway.RateLimit.MaxExcess = 5
	n := gt.Start(t, cfg)
	c := n.Dial(t, gt.Token(t, "alice"))
	other := n.Dial(t, gt.Token(t, "bob"))
	for range 20 {
		if err := c.Conn.Write(t.Context(), websocket.MessageText, []byte(`{"event":"ping"}`)); err != nil {
			break // the server may close before we finish
		}
	}
	pongs, exceptions := 0, 0
	for {
		f := c.NextOrClose()
		if f == nil {
			break
		}
		switch f.Event {
		case "pong":
			pongs++
		case "exception":
			if string(f.Data) != `{"status":"error","message":"rate limit exceeded"}` {
				t.Fatalf("exception %s", f.Data)
			}
			exceptions++
		}
	}
	code, reason := c.Closed()
	if code != websocket.StatusPolicyViolation || reason != "rate limit exceeded" {
		t.Fatalf("close %d %q", code, reason)
	}
	// The burst passes, then MaxExcess refusals each get an exception.
	if pongs < 10 || pongs > 11 || exceptions != 5 {
		t.Fatalf("pongs %d exceptions %d, want 10 (or 11 with a refill) and 5", pongs, exceptions)
	}
	other.Alive()
}

// A member that never reads is closed as a slow consumer; the other
// members get every message, and the broadcaster never waits for it. Its
// socket is full, so the close frame cannot reach it: the connection is
// reset, which frees what the kernel held for it, and what it reads
// afterwards ends in the reset, not in a clean close.
func TestSlowConsumerClosedOthersUnaffected(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.QueueSize = 64
	n := gt.Start(t, cfg)

	slow := pausedMember(t, n, "sloth", "arena")
	fast := n.Dial(t, gt.Token(t, "fast"))
	fast.Join("arena")

	// 20 MB in batches smaller than the queue, each waited for by the fast
	// member: more than the kernel buffers hold for the slow one.
	const total, batch = 5000, 32
	payload := strings.Repeat("x", 4096)
	for i := 0; i < total; i += batch {
		for j := i; j < i+batch; j++ {
			if err := n.Emitter.ToRoom(t.Context(), "arena", "tick", fmt.Sprintf("%d-%s", j, payload)); err != nil {
				t.Fatal(err)
			}
		}
		for j := i; j < i+batch; j++ {
			f := fast.Expect("tick")
			if !strings.HasPrefix(string(f.Data), fmt.Sprintf(`"%d-`, j)) {
				t.Fatalf("tick %d: %.20s", j, f.Data)
			}
		}
	}
	if logs := n.Logs.FilterMessageSnippet("slow consumer").Len(); logs != 1 {
		t.Fatalf("%d slow-consumer log lines, want 1", logs)
	}
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Clients() != 1 {
			return fmt.Errorf("%d clients, want the slow one gone", n.Hub.Clients())
		}
		return nil
	})
	slow.Resume()
	if code, reason := slow.Closed(); code != -1 || !strings.Contains(reason, "reset") {
		t.Fatalf("slow client's connection ended with %d %q, want a reset", code, reason)
	}
	fast.Alive()
}

// A member that stops reading for a while, but not long enough to fill its
// queue, gets everything, whole and in order, once it reads again: the
// frames its full socket could not take at once wait in its writer, and
// the broadcasts to it went on meanwhile.
func TestFullSocketDeliversIntactAfterwards(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.QueueSize = 2048
	cfg.Gateway.MaxQueueBytes = 64 << 20
	n := gt.Start(t, cfg)
	napper := pausedMember(t, n, "napper", "arena")
	// 32 MB: more than the kernel buffers of a loopback connection hold.
	const count = 2000
	payload := strings.Repeat("y", 16<<10)
	for i := range count {
		if err := n.Emitter.ToRoom(t.Context(), "arena", "tick", fmt.Sprintf("%d-%s", i, payload)); err != nil {
			t.Fatal(err)
		}
	}
	napper.Resume()
	napper.Expect("connected")
	napper.Expect("joinedRoom")
	for i := range count {
		f := napper.Expect("tick")
		if want := fmt.Sprintf(`"%d-%s"`, i, payload); string(f.Data) != want {
			t.Fatalf("tick %d: got %d bytes %.20q…", i, len(f.Data), f.Data)
		}
	}
	napper.Alive()
}

// pausedMember connects user, the only client of n, puts it in room and
// reads nothing until resumed: a client that stopped reading.
func pausedMember(t *testing.T, n *gt.Node, user, room string) *gt.Client {
	t.Helper()
	conn, _, err := n.DialRaw(gt.Token(t, user), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := gt.Paused(t, conn)
	c.Send("joinRoom", map[string]string{"roomId": room}, nil)
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Rooms() != 2 { // the personal room and room
			return fmt.Errorf("rooms %d", n.Hub.Rooms())
		}
		return nil
	})
	return c
}

// A client that never answers the server's ping is dropped.
func TestNoPongDropsConnection(t *testing.T) {
	cfg := gt.Config()
	// Windows a live client answers in on a busy machine too.
	cfg.Gateway.PingInterval = 600 * time.Millisecond
	cfg.Gateway.PongTimeout = 500 * time.Millisecond
	n := gt.Start(t, cfg)
	// A responsive client keeps answering pings.
	alive := n.Dial(t, gt.Token(t, "alive"))

	// A raw TCP client that completes the handshake and then goes silent.
	raw := rawUpgrade(t, n, gt.Token(t, "silent"))
	defer raw.Close()
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Clients() != 1 {
			return fmt.Errorf("clients %d, want 1", n.Hub.Clients())
		}
		return nil
	})
	// The server hung up on it: reads reach EOF after whatever was sent.
	_ = raw.SetReadDeadline(time.Now().Add(gt.Timeout))
	buf := make([]byte, 4096)
	for {
		if _, err := raw.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("silent client's connection still open")
			}
			break
		}
	}
	if n.Logs.FilterMessageSnippet("no pong").Len() == 0 {
		t.Fatal("no log line for the dropped client")
	}
	// The live client went through the same ping rounds and is still here.
	alive.Alive()
}

func rawUpgrade(t *testing.T, n *gt.Node, tok string) net.Conn {
	t.Helper()
	addr := strings.TrimPrefix(n.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /game HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nAuthorization: Bearer " + tok + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	return conn
}
