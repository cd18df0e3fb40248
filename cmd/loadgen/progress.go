package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// startProgress prints a line on o.Log every o.Progress while a phase runs:
// "[phase elapsed] " and what line says. stop ends it and waits for a line
// under way, rather than cancel it: a worker whose call is cancelled is
// killed (remoteShard.call).
func startProgress(ctx context.Context, o Common, phase string, line func(ctx context.Context, elapsed time.Duration) string) (stop func()) {
	if o.Progress <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		tick := time.NewTicker(o.Progress)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-tick.C:
				elapsed := time.Since(start)
				fmt.Fprintf(o.Log, "[%s %5.1fs] %s\n", phase, elapsed.Seconds(), line(ctx, elapsed))
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

// rateLine turns successive counts into "n (rate/s)" since the last call.
type rateLine struct {
	last   int64
	lastAt time.Duration
}

func (r *rateLine) next(n int64, elapsed time.Duration) string {
	rate := float64(n-r.last) / (elapsed - r.lastAt).Seconds()
	r.last, r.lastAt = n, elapsed
	return fmt.Sprintf("%s (%s/s)", num(n), num(int64(rate)))
}

// connectLine is the progress of a connect phase.
func connectLine(p *pool, clients int) func(context.Context, time.Duration) string {
	var r rateLine
	return func(ctx context.Context, elapsed time.Duration) string {
		st, _ := p.stats(ctx)
		line := fmt.Sprintf("connected %s of %s", r.next(st.Connected, elapsed), num(int64(clients)))
		if st.Failed > 0 {
			line += fmt.Sprintf(", %s failed", num(st.Failed))
		}
		return line
	}
}
