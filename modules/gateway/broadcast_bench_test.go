package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// BenchmarkRoomBroadcast measures one broadcast reaching every member of a
// room over real loopback WebSockets: ns/op is the time from ToRoom until
// the last member has read the frame. The members live in a child process
// (gt.StartBenchClients), so that 10,000 of them and the server's 10,000
// sockets each fit in one process's open-file limit.
//
// With recovery on (the default), each broadcast also gets its offset and is
// kept, under the journal's lock.
func BenchmarkRoomBroadcast(b *testing.B) {
	for _, recovery := range []bool{false, true} {
		for _, members := range []int{1, 100, 10_000} {
			b.Run(fmt.Sprintf("recovery=%v/members=%d", recovery, members), func(b *testing.B) {
				benchmarkRoomBroadcast(b, recovery, members)
			})
		}
	}
}

func benchmarkRoomBroadcast(b *testing.B, recovery bool, members int) {
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	cfg.Recovery.Enabled = recovery
	n := gt.Start(b, cfg)
	clients := gt.StartBenchClients(b, members, "arena", gt.Token(b, "bench"), n.WSURL())
	payload := map[string]any{"seq": 1, "text": "a typical game event of about one hundred bytes, all told"}
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := n.Emitter.ToRoom(ctx, "arena", "notification", payload); err != nil {
			b.Fatal(err)
		}
		clients.Wait(b)
	}
	b.ReportMetric(float64(b.N*members)/time.Since(start).Seconds(), "deliveries/s")
}
