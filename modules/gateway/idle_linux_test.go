package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// Idle connections wait in the idle poller, not in a goroutine each; a
// message, a WebSocket ping from the client or the server's heartbeat wakes
// one reader, which parks again afterwards.
func TestIdleClientsHoldNoReader(t *testing.T) {
	n := gt.Start(t, gt.Config())
	clients := make([]*gt.Client, 20)
	for i := range clients {
		clients[i] = n.Dial(t, gt.Token(t, fmt.Sprintf("idler-%d", i)))
		clients[i].Join("lounge")
	}
	noReaders := func() error {
		if k := readers(); k != 0 {
			return fmt.Errorf("%d reader goroutines for %d idle clients", k, len(clients))
		}
		return nil
	}
	gt.WaitFor(t, gt.Timeout, noReaders)

	for i, c := range clients {
		c.Send("ping", nil, i)
		if f := c.Expect("pong"); string(f.ID) != fmt.Sprint(i) {
			t.Fatalf("pong id %s, want %d", f.ID, i)
		}
		if err := c.Conn.Ping(t.Context()); err != nil { // answered by the server
			t.Fatalf("client %d: WebSocket ping: %v", i, err)
		}
	}
	if err := n.Emitter.ToRoom(context.Background(), "lounge", "news", "hello"); err != nil {
		t.Fatal(err)
	}
	for _, c := range clients {
		c.Expect("news")
	}
	gt.WaitFor(t, gt.Timeout, noReaders)
}

// readers counts goroutines reading a client's connection.
func readers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return bytes.Count(buf, []byte("gateway.(*Server).readFrame"))
}
