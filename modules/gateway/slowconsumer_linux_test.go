package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// Clients that stop reading, among clients that read, at an ordinary rate:
// the byte bound (what waits for a client, the kernel's send buffer
// included) finds every one of them, with the heartbeat too slow to, the
// readers lose nothing, and what the kernel held for the stalled clients is
// freed at once rather than left until the heartbeat.
func TestStalledClientsFoundByTheByteBound(t *testing.T) {
	const (
		readers, stalled = 60, 40
		bound            = 256 << 10
		rate             = 20 // broadcasts per second
	)
	payload := strings.Repeat("z", 4<<10)
	cfg := gt.Config()
	cfg.Log.Level = "info"
	cfg.Gateway.MaxQueueBytes = bound
	cfg.Gateway.PingInterval, cfg.Gateway.PongTimeout = time.Hour, time.Minute // only the bound can act
	n := gt.Start(t, cfg)
	port := n.Server.Addr().(*net.TCPAddr).Port

	readerClients := make([]*gt.Client, readers)
	for i := range readerClients {
		readerClients[i] = n.Dial(t, gt.Token(t, fmt.Sprint("reader-", i)))
		readerClients[i].Join("arena")
	}
	// A stalled client reads its greeting and its joinedRoom, then nothing.
	for i := range stalled {
		conn, _, err := n.DialRaw(gt.Token(t, fmt.Sprint("stalled-", i)), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
		if err := conn.Write(t.Context(), websocket.MessageText, []byte(`{"event":"joinRoom","data":{"roomId":"arena"}}`)); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"connected", "joinedRoom"} {
			if _, msg, err := conn.Read(t.Context()); err != nil || !strings.Contains(string(msg), want) {
				t.Fatalf("stalled client %d: %s %v, want %s", i, msg, err, want)
			}
		}
	}

	// The stream, until every stalled client is gone; the kernel's hold on
	// the node's sockets is sampled meanwhile.
	var sent atomic.Int64
	var peak int64
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if err := n.Emitter.ToRoom(ctx, "arena", "tick", fmt.Sprintf("%d %s", seq, payload)); err != nil {
				t.Error(err)
				return
			}
			sent.Add(1)
		}
	}()
	var sentAtLast int64
	waitfor.Until(t, 60*time.Second, func() error {
		peak = max(peak, unsentOnPort(t, port))
		if got := n.Logs.FilterMessageSnippet("slow consumer").Len(); got < stalled {
			return fmt.Errorf("%d of %d stalled clients found after %d broadcasts", got, stalled, sent.Load())
		}
		sentAtLast = sent.Load()
		return nil
	})
	stop()
	<-streamDone

	// Found by the bound: not before at least the bound was sent to them,
	// and long before the heartbeat.
	perMessage := int64(len(payload))
	if sentAtLast*perMessage < bound {
		t.Fatalf("the last stalled client was closed after %d KiB, under the bound", sentAtLast*perMessage>>10)
	}
	t.Logf("every stalled client closed after %d broadcasts (%d KiB each); the kernel held at most %d KiB for the node's sockets",
		sentAtLast, sentAtLast*perMessage>>10, peak>>10)
	if peak < stalled*32<<10 {
		t.Fatalf("the kernel held at most %d KiB: the stalled clients never backed up", peak>>10)
	}
	// What the kernel held for them is freed, at once.
	waitfor.Until(t, 5*time.Second, func() error {
		if left := unsentOnPort(t, port); left > 64<<10 {
			return fmt.Errorf("the kernel still holds %d KiB for the node's sockets", left>>10)
		}
		return nil
	})
	if n.Hub.Clients() != readers {
		t.Fatalf("%d clients, want the %d readers", n.Hub.Clients(), readers)
	}
	// Every reader got every broadcast, in order.
	for i, c := range readerClients {
		for seq := range sent.Load() {
			f := c.Expect("tick")
			var got string
			if err := json.Unmarshal(f.Data, &got); err != nil || !strings.HasPrefix(got, fmt.Sprint(seq, " ")) {
				t.Fatalf("reader %d: broadcast %d: %.20q", i, seq, got)
			}
		}
		c.Alive()
	}
}

// unsentOnPort sums what the kernel holds, sent and unacknowledged or not
// sent yet, for the established sockets with local port port
// (/proc/net/tcp's tx_queue).
func unsentOnPort(t *testing.T, port int) int64 {
	t.Helper()
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var sum int64
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 || fields[3] != "01" { // established
			continue
		}
		_, local, _ := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseInt(local, 16, 32); err != nil || int(p) != port {
			continue
		}
		tx, _, _ := strings.Cut(fields[4], ":")
		n, err := strconv.ParseInt(tx, 16, 64)
		if err != nil {
			t.Fatalf("tx_queue %q: %v", fields[4], err)
		}
		sum += n
	}
	return sum
}
