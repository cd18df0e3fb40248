package cluster_test

import (
	"fmt"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// BenchmarkClusterBroadcast measures one broadcast from node 1 reaching
// every member of a room over real loopback WebSockets, through an embedded
// NATS server: ns/op is the time from ToRoom until the last member has read
// the frame. "remote" puts every member on node 2, so each message crosses
// NATS; "split" puts half on each node. The members live in a child process
// (gt.StartBenchClients) to fit the open-file limit.
func BenchmarkClusterBroadcast(b *testing.B) {
	for _, bc := range []struct {
		placement string
		members   int
	}{
		{"remote", 1}, {"remote", 100}, {"remote", 10_000}, {"split", 10_000},
	} {
		b.Run(fmt.Sprintf("%s/members=%d", bc.placement, bc.members), func(b *testing.B) {
			benchmarkClusterBroadcast(b, bc.placement == "split", bc.members)
		})
	}
}

func benchmarkClusterBroadcast(b *testing.B, split bool, members int) {
	srv := startNATS(b, -1)
	nodes := make([]node, 2)
	for i := range nodes {
		cfg := gt.Config()
		cfg.Log.Level = "warn"
		cfg.Cluster.NATSURL = srv.ClientURL()
		nodes[i] = startNode(b, cfg)
	}
	urls := []string{nodes[1].WSURL()}
	if split {
		urls = append(urls, nodes[0].WSURL())
	}
	clients := gt.StartBenchClients(b, members, "arena", gt.Token(b, "bench"), urls...)
	waitfor.Until(b, gt.Timeout, func() error {
		if got := nodes[0].Hub.Clients() + nodes[1].Hub.Clients(); got != members {
			return fmt.Errorf("%d clients", got)
		}
		return nil
	})
	interested := 1
	if split && members > 1 {
		interested = 2
	}
	waitInterest(b, srv, "arena", interested)

	payload := map[string]any{"seq": 1, "text": "a typical game event of about one hundred bytes, all told"}
	ctx := b.Context()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := nodes[0].Emitter.ToRoom(ctx, "arena", "notification", payload); err != nil {
			b.Fatal(err)
		}
		clients.Wait(b)
	}
	b.ReportMetric(float64(b.N*members)/time.Since(start).Seconds(), "deliveries/s")
}
