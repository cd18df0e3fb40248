package main

import (
	"context"
	"fmt"
	"time"
)

// runRoundTrips is the echo and wallet scenarios: every client sends
// o.Event and times the o.Reply carrying the same id, paced or in a closed
// loop, for o.Warmup unmeasured and then o.Duration measured.
func runRoundTrips(ctx context.Context, scenario string, o RoundTripOptions) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if o.polling() {
		return nil, fmt.Errorf("%w: %w", errUsage, errPollingScenario(scenario))
	}
	if o.Window == 0 {
		o.Window = 8
		if o.Rate == 0 {
			o.Window = 1
		}
	}
	x, err := startRun(ctx, scenario, o.Common, o, 0, "", 0, 0)
	if err != nil {
		return nil, err
	}
	defer x.close()
	p, r, m := x.pool, x.report, x.meter
	if _, err := connectPhase(ctx, o.Common, p, r); err != nil {
		return nil, err
	}

	spec := RequestSpec{Event: o.Event, Reply: o.Reply, Window: o.Window}
	if o.Rate > 0 {
		spec.Interval = time.Duration(float64(time.Second) / o.Rate)
	}
	start := time.Now().Add(o.Warmup)
	end := start.Add(o.Duration)
	spec.Start, spec.End = start.UnixNano(), end.UnixNano()
	if err := p.startRequests(ctx, spec); err != nil {
		return nil, err
	}
	st, _ := p.stats(ctx)
	answered := rateLine{last: st.Answered}
	cpu := m.progress(ctx)
	stop := startProgress(ctx, o.Common, o.Event, func(ctx context.Context, elapsed time.Duration) string {
		st, _ := p.stats(ctx)
		return fmt.Sprintf("replies %s; %s", answered.next(st.Answered, elapsed), cpu(ctx))
	})
	var a, b usage
	err = sleepUntil(ctx, start)
	if err == nil {
		a = m.sample(ctx)
		err = sleepUntil(ctx, end)
		b = m.sample(ctx)
	}
	stop()
	if err != nil {
		return nil, err
	}
	res, err := p.result(ctx, ResultArgs{Drain: o.Drain})
	if err != nil {
		return nil, err
	}
	r.RoundTrip = &RoundTripReport{
		Event: o.Event, Sent: res.Sent, Replies: res.Replies, Failures: res.Failures, Timeouts: res.Timeouts,
		PerSec: round1(float64(res.Replies) / o.Duration.Seconds()), RttMs: res.RTT.Summary(),
	}
	r.CPU = m.cpuReport(a, b, res.Replies, "round trip")
	r.Dropped = res.Dropped
	r.Errors = mergeCounts(r.Errors, res.Errors)
	r.judge()
	return r, nil
}
