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

// BenchmarkRoomReceipt measures a broadcast with a delivery receipt, whose
// members ack at once, beside the same broadcast without one. ns/op runs
// from the call to the receipt's answer (with), or until the last member
// has read the frame (without); cpu-ns/delivery is this process's CPU, the
// gateway's (the members live in a child process), per delivery;
// ack-to-answer-µs is the time from the last member's ack written to the
// answer. B/op beside the plain broadcast's is what a pending receipt holds
// per recipient, times the members.
func BenchmarkRoomReceipt(b *testing.B) {
	for _, members := range []int{100, 10_000} {
		for _, receipt := range []bool{false, true} {
			b.Run(fmt.Sprintf("members=%d/receipt=%v", members, receipt), func(b *testing.B) {
				benchmarkRoomReceipt(b, members, receipt)
			})
		}
	}
}

func benchmarkRoomReceipt(b *testing.B, members int, receipt bool) {
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	// A small room's members ack thousands of times a second here, past the
	// 50/s a client may send: the limiter would refuse their acks.
	cfg.Gateway.RateLimit.PerSecond, cfg.Gateway.RateLimit.Burst = 1e6, 1e6
	n := gt.Start(b, cfg)
	clients := gt.StartAckingBenchClients(b, members, "arena", gt.Token(b, "bench"), n.WSURL())
	payload := map[string]any{"seq": 1, "text": "a typical game event of about one hundred bytes, all told"}
	ctx := context.Background()
	var ackToAnswer time.Duration
	b.ReportAllocs()
	cpu := processCPU(b)
	for b.Loop() {
		if !receipt {
			if err := n.Emitter.ToRoom(ctx, "arena", "notification", payload); err != nil {
				b.Fatal(err)
			}
			clients.Wait(b)
			continue
		}
		res, err := n.Emitter.ToRoomWithReceipt(ctx, "arena", "notification", payload, 10*time.Second)
		answered := time.Now()
		if err != nil || len(res.Acked) != members {
			b.Fatalf("receipt: %d of %d acked, %d timed out, %v", len(res.Acked), members, len(res.TimedOut), err)
		}
		ackToAnswer += answered.Sub(clients.Wait(b))
	}
	cpu = processCPU(b) - cpu
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*members), "cpu-ns/delivery")
	if receipt {
		b.ReportMetric(float64(ackToAnswer.Microseconds())/float64(b.N), "ack-to-answer-µs")
	}
}
