package main

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gamegate/gamegate/modules/config"
)

func TestFanoutFlatOut(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultFanout()
	o.Common = common(t, n, 30)
	o.Rooms, o.Messages, o.Warmup = 3, 60, 6
	r, err := runFanout(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 30)
	f := r.Fanout
	// 60 broadcasts over 3 rooms of 10 members: 20 × 10 per room.
	if f.Broadcasts != 60 || f.Expected != 600 || f.Received != 600 || f.Lost != 0 || f.Duplicates != 0 || f.Unexpected != 0 {
		t.Errorf("fanout %+v: want 60 broadcasts, 600 deliveries expected and received, nothing lost", f)
	}
	checkLatency(t, "delivery", f.LatencyMs)
	checkLatency(t, "POST", f.PostMs)
	if f.LatencyMs.Count != 600 || f.PostMs.Count != 60 {
		t.Errorf("latency samples %d and %d, want 600 and 60", f.LatencyMs.Count, f.PostMs.Count)
	}
	if f.DeliveriesPerSec <= 0 {
		t.Errorf("deliveries/s %v", f.DeliveriesPerSec)
	}
	// The test node's /metrics stands in for --server-pid.
	if r.CPU == nil || r.CPU.Server == nil || r.Memory == nil || r.CPU.Op != "delivery" {
		t.Errorf("cpu %+v, memory %+v: want the server's figures from /metrics", r.CPU, r.Memory)
	}
	if !r.OK {
		t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
	}
}

func TestFanoutPaced(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultFanout()
	o.Common = common(t, n, 20)
	o.Rate, o.Duration, o.Warmup = 200, 300*time.Millisecond, 2
	r, err := runFanout(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	f := r.Fanout
	// 200/s for 300 ms is 60 broadcasts; a loaded CI machine may fit fewer.
	if f.Broadcasts < 20 || f.Broadcasts > 61 {
		t.Errorf("%d broadcasts at 200/s in 300 ms", f.Broadcasts)
	}
	if f.Expected != 20*f.Broadcasts || f.Received != f.Expected || f.Lost != 0 {
		t.Errorf("fanout %+v: want every broadcast received by all 20", f)
	}
	checkLatency(t, "delivery", f.LatencyMs)
}

// TestFanoutWorkers runs the clients in two worker processes (this test
// binary, restarted), as runs beyond one process's open-file limit do, with
// either reader, and check clients in both processes.
func TestFanoutWorkers(t *testing.T) {
	n := startNode(t, nil)
	for _, reader := range []string{"epoll", "goroutine"} {
		t.Run(reader, func(t *testing.T) {
			o := DefaultFanout()
			o.Common = common(t, n, 20)
			o.UserPrefix, o.RoomPrefix = reader+"-", reader+"-"
			o.Workers, o.Rooms, o.Messages, o.Reader, o.CheckClients = 2, 2, 20, reader, 4
			o.SourceAddrs = 3 // also dial from 127.0.0.1, .2 and .3
			r, err := runFanout(ctxFor(t), o)
			if err != nil {
				t.Fatal(err)
			}
			checkConnected(t, r, 20)
			f := r.Fanout
			if f.Expected != 200 || f.Received != 200 || f.Lost != 0 {
				t.Errorf("fanout %+v: want 200 deliveries expected and received", f)
			}
			checkLatency(t, "delivery", f.LatencyMs)
			// 4 check clients of 20, each sent the 10 broadcasts of its room.
			if f.CheckLatencyMs == nil || f.CheckLatencyMs.Count != 40 || f.LatencyMs.Count != 160 {
				t.Fatalf("check %+v, readers %+v: want 40 and 160 samples", f.CheckLatencyMs, f.LatencyMs)
			}
			checkLatency(t, "check delivery", *f.CheckLatencyMs)
			if r.Loadgen.Processes != 2 || r.Loadgen.SourceAddrs != 3 || r.Loadgen.Reader != reader {
				t.Errorf("loadgen %+v: want 2 processes, 3 source addresses, the %s reader", r.Loadgen, reader)
			}
		})
	}
}

// Messages larger than a read (the epoll reader's 64 KiB buffer) arrive in
// pieces: each is put together before it is counted.
func TestFanoutLargeMessages(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultFanout()
	o.Common = common(t, n, 4)
	o.Messages, o.Warmup, o.Payload, o.InFlight = 12, 0, 200<<10, 2
	r, err := runFanout(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if f := r.Fanout; f.Received != 48 || f.Lost != 0 || f.Duplicates != 0 || !r.OK {
		t.Errorf("fanout %+v, warnings %v, errors %v: want 48 deliveries of 200 KiB", f, r.Warnings, r.Errors)
	}
}

// TestFanoutStalled adds clients that stop reading, against a node whose
// byte bound is small and whose heartbeat is too slow to act: the server
// closes every stalled client once more than the bound waits for it, and
// the readers lose nothing. In this process, and in two workers, at once:
// a stalled client whose close frame the socket took is cut only 5 s later.
func TestFanoutStalled(t *testing.T) {
	const bound = 512 << 10
	n := startNode(t, func(cfg *config.Config) {
		cfg.Gateway.MaxQueueBytes = bound
		cfg.Gateway.PingInterval, cfg.Gateway.PongTimeout = time.Hour, time.Minute
	})
	for _, workers := range []int{0, 2} {
		t.Run(fmt.Sprint(workers, " workers"), func(t *testing.T) {
			t.Parallel()
			o := DefaultFanout()
			o.Common = common(t, n, 20)
			o.UserPrefix, o.RoomPrefix = fmt.Sprint("w", workers, "-"), fmt.Sprint("w", workers, "-")
			o.Workers, o.Stalled, o.Rooms = workers, 6, 2
			// 4 KiB messages, 55 a second to each room (220 KiB/s): a
			// reader may fall more than two seconds behind (a loaded machine,
			// the race detector) before it is a slow consumer; a stalled
			// client fills the bound and what the kernel takes before it
			// (~370 KiB) in about four.
			o.Payload, o.Rate, o.Duration, o.Warmup = 4<<10, 110, 6*time.Second, 0
			o.Settle = 100 * time.Millisecond
			r, err := runFanout(ctxFor(t), o)
			if err != nil {
				t.Fatal(err)
			}
			checkConnected(t, r, 26)
			f := r.Fanout
			if f.Expected != 10*f.Broadcasts || f.Received != f.Expected || f.Lost != 0 || f.Duplicates != 0 {
				t.Errorf("fanout %+v: want every broadcast received by the 10 readers of its room", f)
			}
			checkLatency(t, "delivery", f.LatencyMs)
			st := f.Stalled
			if st == nil || st.Clients != 6 || st.Closed != 6 {
				t.Fatalf("stalled %+v: want all 6 connected and closed by the server", st)
			}
			perRoom := float64(f.Broadcasts/2+1) * float64(st.MessageBytes)
			if st.MessageBytes <= 4<<10 || st.SentBytes.Min < bound || st.SentBytes.Max > perRoom ||
				!(0 < st.CloseSeconds.Min && st.CloseSeconds.Min <= st.CloseSeconds.Median && st.CloseSeconds.Median <= st.CloseSeconds.Max) {
				t.Errorf("stalled %+v: want each closed after more than the bound was sent to it", st)
			}
			if m := st.TCPMemory; m == nil || m.PeakMB < m.StartMB || m.PeakMB < m.EndMB {
				t.Errorf("kernel TCP memory %+v: want a start, a peak and an end", m)
			}
			if !r.OK {
				t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
			}
			var summary strings.Builder
			r.WriteSummary(&summary)
			t.Log(summary.String())
		})
	}
}

// TestShardCountsLoss feeds a shard frames by hand: what a client missed of
// its room, received twice, or was not due is each counted.
func TestShardCountsLoss(t *testing.T) {
	s := NewShard()
	s.spec.Rooms = 2
	a, b := &client{room: 0}, &client{room: 1}
	s.clients = []*client{a, b}
	frame := func(seq int64) []byte {
		return []byte(`{"event":"notification","data":{"seq":` + strconv.FormatInt(seq, 10) + `,"ts":` + strconv.FormatInt(time.Now().UnixNano(), 10) + `}}`)
	}
	now := time.Now()
	for _, seq := range []int64{-1, 0, 2, 2, 4, 3} { // a warm-up, 0 2 4 for room 0, a duplicate, 3 is room 1's
		s.handle(a, frame(seq), now)
	}
	s.handle(b, frame(1), now)
	s.handle(b, []byte(`{"event":"exception","data":{"status":"error","message":"boom"}}`), now)
	// Room 0 was sent seqs 0 2 4 6 (4), room 1 seqs 1 3 5 (3).
	res, err := s.Result(t.Context(), ResultArgs{SentPerRoom: []int64{4, 3}})
	if err != nil {
		t.Fatal(err)
	}
	want := ShardResult{Received: 4, Duplicates: 1, Unexpected: 1, Lost: 1 + 2, ClientsWithLoss: 2}
	if res.Received != want.Received || res.Duplicates != want.Duplicates || res.Unexpected != want.Unexpected ||
		res.Lost != want.Lost || res.ClientsWithLoss != want.ClientsWithLoss {
		t.Errorf("got %+v, want %+v", res, want)
	}
	if got := s.delivered.Load(); got != 7 {
		t.Errorf("delivered %d, want 7 (every bench frame, warm-up included)", got)
	}
	if res.Errors["exception: boom"] != 1 {
		t.Errorf("errors %v, want the exception counted", res.Errors)
	}
}
