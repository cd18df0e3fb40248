package cluster_test

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/app"
)

// reconnectWithin bounds how long a node takes to notice NATS is back: its
// reconnect delay grows to 5 s.
const reconnectWithin = 15 * time.Second

// A NATS restart in the middle of a stream of broadcasts: local members get
// every message, the failures are counted, /readyz says so, and once NATS is
// back the node resubscribes by itself and messages cross again. No message
// reaches anyone twice.
func TestNATSRestartDuringBroadcasts(t *testing.T) {
	srv := startNATS(t, -1)
	port := srv.Addr().(*net.TCPAddr).Port
	nodes := startNodes(t, srv.ClientURL(), 2)
	local, remote := dialJoin(t, nodes[0], "alice", "arena"), dialJoin(t, nodes[1], "bob", "arena")
	waitInterest(t, srv, "arena", 2)

	// Node 0 broadcasts seq 1, 2, 3… until told to stop.
	var (
		mu   sync.Mutex
		seq  int
		stop = make(chan struct{})
		done = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			mu.Lock()
			seq++
			err := nodes[0].Emitter.ToRoom(t.Context(), "arena", "tick", seq)
			mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	halt := sync.OnceFunc(func() { close(stop); <-done })
	t.Cleanup(halt)
	sent := func() int { mu.Lock(); defer mu.Unlock(); return seq }
	waitSent := func(n int) {
		t.Helper()
		waitfor.Until(t, gt.Timeout, func() error {
			if s := sent(); s < n {
				return fmt.Errorf("%d broadcasts sent, waiting for %d", s, n)
			}
			return nil
		})
	}
	// ticks reads c's ticks until it has seen at least n; they must come in
	// order and without duplicates, and all of them when all is set.
	last := map[*gt.Client]int{}
	ticks := func(c *gt.Client, n int, all bool) {
		t.Helper()
		for last[c] < n {
			f := c.Expect("tick")
			var got int
			if err := json.Unmarshal(f.Data, &got); err != nil {
				t.Fatal(err)
			}
			if got <= last[c] || (all && got != last[c]+1) {
				t.Fatalf("%s got tick %d after %d", c.Connected.UserID, got, last[c])
			}
			last[c] = got
		}
	}

	waitSent(20)
	ticks(local, 20, true)
	ticks(remote, 20, true)

	stopNATS(srv)
	waitCluster(t, nodes[0], gt.Timeout, "down")
	waitCluster(t, nodes[1], gt.Timeout, "down")
	failures := nodes[0].Metric(t, "gamegate_cluster_publish_failures_total")
	outage := sent()
	waitSent(outage + 20)
	ticks(local, outage+20, true)
	if got := nodes[0].Metric(t, "gamegate_cluster_publish_failures_total"); got < failures+20 {
		t.Fatalf("publish failures went from %v to %v during 20 broadcasts in the outage", failures, got)
	}
	if got := nodes[0].Metric(t, "gamegate_cluster_up"); got != 0 {
		t.Fatalf("gamegate_cluster_up is %v during the outage", got)
	}
	// A room first joined during the outage is subscribed once NATS is back.
	carol := dialJoin(t, nodes[1], "carol", "late")

	srv = startNATS(t, port)
	waitCluster(t, nodes[0], reconnectWithin, "up")
	waitCluster(t, nodes[1], reconnectWithin, "up")
	waitInterest(t, srv, "arena", 2)
	back := sent()
	waitSent(back + 20)
	halt()
	ticks(local, sent(), true)
	ticks(remote, sent(), false) // crosses again, in order, once each
	local.Alive()
	remote.Alive()
	waitInterest(t, srv, "late", 1)
	if err := nodes[0].Emitter.ToRoom(t.Context(), "late", "welcome", nil); err != nil {
		t.Fatal(err)
	}
	expect(t, carol, "welcome", nil)
	if got := nodes[0].Metric(t, "gamegate_cluster_reconnects_total"); got != 1 {
		t.Fatalf("gamegate_cluster_reconnects_total is %v, want 1", got)
	}
	for _, msg := range []string{"lost the NATS connection", "reconnected to NATS"} {
		if got := nodes[1].Logs.FilterMessageSnippet(msg).Len(); got != 1 {
			t.Errorf("%d log entries %q, want 1", got, msg)
		}
	}
}

// A node whose NATS is not there yet starts anyway, serving its own
// members, and joins the cluster when NATS comes up.
func TestStartsBeforeNATS(t *testing.T) {
	port := closedPort(t)
	nodes := startNodes(t, fmt.Sprintf("nats://127.0.0.1:%d", port), 2)
	a, b := dialJoin(t, nodes[0], "alice", "arena"), dialJoin(t, nodes[1], "bob", "arena")
	waitCluster(t, nodes[0], gt.Timeout, "connecting")
	ctx := t.Context()
	if err := nodes[0].Emitter.ToRoom(ctx, "arena", "tick", 1); err != nil {
		t.Fatal(err)
	}
	expect(t, a, "tick", 1)
	if got := nodes[0].Metric(t, "gamegate_cluster_publish_failures_total"); got != 1 {
		t.Fatalf("publish failures %v, want 1", got)
	}

	srv := startNATS(t, port)
	waitCluster(t, nodes[0], reconnectWithin, "up")
	waitCluster(t, nodes[1], reconnectWithin, "up")
	waitInterest(t, srv, "arena", 2)
	if err := nodes[0].Emitter.ToRoom(ctx, "arena", "tick", 2); err != nil {
		t.Fatal(err)
	}
	expect(t, a, "tick", 2)
	expect(t, b, "tick", 2)
}

// A URL nats.go refuses is a configuration error that names the key.
func TestMalformedURLFailsTheStart(t *testing.T) {
	cfg := gt.Config()
	cfg.Cluster.NATSURL = "nats://127.0.0.1:4222:bad"
	a := fx.New(app.Options(cfg), fx.NopLogger)
	err := a.Start(t.Context())
	if err == nil {
		_ = a.Stop(t.Context())
		t.Fatal("started with a malformed NATS URL")
	}
	if !strings.Contains(err.Error(), "cluster.natsUrl") {
		t.Fatalf("start error %q does not name cluster.natsUrl", err)
	}
}
