package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// Idle connections wait in the idle poller, not in a goroutine each. A
// client that sends events keeps its reader until a tick of its timer finds
// it quiet; pongs to the server's pings and the client's own pings do not
// keep one.
func TestIdleClientsHoldNoReader(t *testing.T) {
	cfg := gt.Config()
	// Ticks every 100 and 500 ms park quiet readers soon; 500 ms to answer
	// a ping holds on a busy machine.
	cfg.Gateway.PingInterval = 600 * time.Millisecond
	cfg.Gateway.PongTimeout = 500 * time.Millisecond
	n := gt.Start(t, cfg)
	clients := make([]*gt.Client, 20)
	for i := range clients {
		clients[i] = n.Dial(t, gt.Token(t, fmt.Sprintf("idler-%d", i)))
		clients[i].Join("lounge")
	}
	noReaders := func() error {
		if k := n.Gateway.Readers(); k != 0 {
			return fmt.Errorf("%d reader goroutines for %d idle clients", k, len(clients))
		}
		return nil
	}
	waitfor.Until(t, gt.Timeout, noReaders)

	// A client that keeps sending holds a reader while it does.
	busy := clients[0]
	waitfor.Until(t, gt.Timeout, func() error {
		busy.Send("ping", nil, nil)
		busy.Expect("pong")
		if k := n.Gateway.Readers(); k != 1 {
			return fmt.Errorf("%d readers while one client sends, want 1", k)
		}
		return nil
	})
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
	waitfor.Until(t, gt.Timeout, noReaders)
}
