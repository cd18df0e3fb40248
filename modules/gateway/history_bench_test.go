package gateway_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// BenchmarkRecoveryKeptMemory measures what recovery keeps per message: each
// op broadcasts one ~100-byte event to one of 100 rooms (no member needed:
// a room's recent messages are kept for the sessions that may come back).
// heap-B/message is the live heap's growth per kept message, after a
// collection; gauge-B/message is what gamegate_recovery_kept_bytes
// estimates for it.
func BenchmarkRecoveryKeptMemory(b *testing.B) {
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	n := gt.Start(b, cfg)
	payload := map[string]any{"seq": 1, "text": "a typical game event of about one hundred bytes, all told"}
	rooms := make([]string, 100)
	for i := range rooms {
		rooms[i] = "arena-" + strconv.Itoa(i)
	}
	ctx := context.Background()
	before := liveHeap()
	i := 0
	for b.Loop() {
		if err := n.Emitter.ToRoom(ctx, rooms[i%len(rooms)], "notification", payload); err != nil {
			b.Fatal(err)
		}
		i++
	}
	grown := liveHeap() - before
	kept, keptBytes := n.Metric(b, "gamegate_recovery_kept_messages"), n.Metric(b, "gamegate_recovery_kept_bytes")
	if kept == 0 {
		b.Fatal("no message kept")
	}
	b.ReportMetric(float64(grown)/kept, "heap-B/message")
	b.ReportMetric(keptBytes/kept, "gauge-B/message")
}

// liveHeap is the heap in use after a collection.
func liveHeap() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
