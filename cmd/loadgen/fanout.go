package main

import (
	"context"
	"fmt"
	"time"
)

// runFanout is the fanout scenario: clients join rooms, broadcasts go
// through the REST API, each client checks off the seqs of its room and
// times them. Warm-up, measured sending, then a drain wait; the CPU figures
// cover sending and draining. Stalled clients, if any, join too and never
// read; the run then waits for the server to end them, and follows the
// kernel's TCP memory from the first broadcast to --settle after that.
func runFanout(ctx context.Context, o FanoutOptions) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	// The stalled clients are connections like the others: they count
	// towards the processes, the source addresses and the connect phase.
	all := o.Common
	all.Clients += o.Stalled
	x, err := startRun(ctx, "fanout", all, o, o.Rooms, o.RoomPrefix, o.Stalled, o.CheckClients)
	if err != nil {
		return nil, err
	}
	defer x.close()
	p, r, m := x.pool, x.report, x.meter

	before := m.sample(ctx)
	cr, err := connectPhase(ctx, all, p, r)
	if err != nil {
		return nil, err
	}
	if err := sleepUntil(ctx, time.Now().Add(o.Settle)); err != nil {
		return nil, err
	}
	r.Memory = m.memoryReport(before, m.sample(ctx), cr.Connected)

	b, err := newBroadcaster(o, p)
	if err != nil {
		return nil, err
	}
	defer b.close()
	var mem *tcpMemWatch
	if o.Stalled > 0 {
		if mem, err = watchTCPMemory(ctx); err != nil {
			r.Warnings = append(r.Warnings, err.Error())
		} else {
			defer mem.stop()
		}
	}
	if o.Warmup > 0 {
		stop := startProgress(ctx, o.Common, "warm-up", b.progressLine(ctx, m, mem))
		res := b.send(ctx, phase{count: o.Warmup})
		if res.interrupted == nil && res.stalled == nil {
			res.stalled = b.await(ctx, b.dueNow())
		}
		stop()
		if res.interrupted != nil {
			return nil, res.interrupted
		}
		if res.stalled != nil {
			r.Warnings = append(r.Warnings, "warm-up: "+res.stalled.Error())
		}
	}

	fw := newFanoutWatch(o.Common)
	defer fw.close()
	fanoutBefore := fw.sample(ctx)
	start := m.sample(ctx)
	stop := startProgress(ctx, o.Common, "send", b.progressLine(ctx, m, mem))
	res := b.send(ctx, phase{measured: true, count: o.Messages, duration: o.Duration})
	drained := res.stalled
	if res.interrupted == nil && drained == nil {
		drained = b.await(ctx, b.dueNow())
	}
	stop()
	if res.interrupted != nil {
		return nil, res.interrupted
	}
	end := m.sample(ctx)
	fanoutAfter := fw.sample(ctx)
	if drained != nil {
		r.Warnings = append(r.Warnings, drained.Error())
	}
	var tcpMem *TCPMemory
	if o.Stalled > 0 {
		stop := startProgress(ctx, o.Common, "stalled", b.progressLine(ctx, m, mem))
		err := awaitStalled(ctx, p, o.Drain)
		if err == nil {
			err = sleepUntil(ctx, time.Now().Add(o.Settle))
		}
		stop()
		if err != nil {
			return nil, err
		}
		if mem != nil {
			if tcpMem, err = mem.finish(); err != nil {
				r.Warnings = append(r.Warnings, err.Error())
			}
		}
	}

	perRoom, expected := b.sent()
	sr, err := p.result(ctx, ResultArgs{SentPerRoom: perRoom})
	if err != nil {
		return nil, err
	}
	f := &FanoutReport{
		Rooms: o.Rooms, PostErrors: b.postErrors.Load(), SendSeconds: round3(res.end.Sub(res.start).Seconds()),
		MaxSendLagMs: round3(float64(b.maxLag) / 1e6),
		Expected:     expected, Received: sr.Received, Lost: sr.Lost, ClientsWithLoss: sr.ClientsWithLoss,
		Duplicates: sr.Duplicates, Unexpected: sr.Unexpected,
		LatencyMs: sr.Latency.Summary(), PostMs: b.post.Data().Summary(),
		ServerFanoutMs: fw.report(fanoutBefore, fanoutAfter),
	}
	for _, n := range perRoom {
		f.Broadcasts += n
	}
	if o.CheckClients > 0 {
		l := sr.CheckLatency.Summary()
		f.CheckLatencyMs = &l
	}
	if o.Stalled > 0 {
		f.Stalled = b.stalledReport(sr.Stalled, res.start, sr.MessageBytes)
		f.Stalled.TCPMemory = tcpMem
	}
	if f.SendSeconds > 0 {
		f.BroadcastsPerSec = round1(float64(f.Broadcasts) / f.SendSeconds)
	}
	if sr.LastRecv > res.start.UnixNano() {
		f.DeliveriesPerSec = round1(float64(sr.Received) / time.Duration(sr.LastRecv-res.start.UnixNano()).Seconds())
	}
	r.Fanout = f
	r.CPU = m.cpuReport(start, end, sr.Received, "delivery")
	r.Dropped = sr.Dropped
	r.Errors = mergeCounts(mergeCounts(r.Errors, sr.Errors), b.errs.snapshot())
	r.judge()
	return r, nil
}

// progressLine is the progress of a sending phase; mem, when not nil, is
// the kernel's TCP memory.
func (b *broadcaster) progressLine(ctx context.Context, m *meter, mem *tcpMemWatch) func(context.Context, time.Duration) string {
	st, _ := b.pool.stats(ctx)
	sent, got := rateLine{last: b.posts.Load()}, rateLine{last: st.Delivered}
	cpu := m.progress(ctx)
	return func(ctx context.Context, elapsed time.Duration) string {
		st, _ := b.pool.stats(ctx)
		line := fmt.Sprintf("broadcasts %s, deliveries %s, %s due; %s",
			sent.next(b.posts.Load(), elapsed), got.next(st.Delivered, elapsed),
			num(b.outstanding(st.Delivered)), cpu(ctx))
		if st.Dropped > 0 {
			line += fmt.Sprintf("; %s connections dropped", num(st.Dropped))
		}
		if b.o.Stalled > 0 {
			line += fmt.Sprintf("; %s stalled clients open", num(st.StalledOpen))
		}
		if mem != nil {
			line += fmt.Sprintf(", kernel TCP memory %.1f MB", mb(mem.last.Load()))
		}
		return line
	}
}
