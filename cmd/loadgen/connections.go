package main

import (
	"context"
	"fmt"
	"time"
)

// runConnections is the connections scenario: idle authenticated clients,
// connected as fast as --concurrency allows and held. It reports the
// handshake rate, the server's CPU per handshake, and its RSS per
// connection once they have been held for o.Hold.
func runConnections(ctx context.Context, o ConnectionsOptions) (*Report, error) {
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	x, err := startRun(ctx, "connections", o.Common, o, 0, "", 0, 0)
	if err != nil {
		return nil, err
	}
	defer x.close()
	p, r, m := x.pool, x.report, x.meter

	before := m.sample(ctx)
	cr, err := connectPhase(ctx, o.Common, p, r)
	if err != nil {
		return nil, err
	}
	connected := m.sample(ctx)
	r.CPU = m.cpuReport(before, connected, int64(cr.Connected), "handshake")

	cpu := m.progress(ctx)
	stop := startProgress(ctx, o.Common, "hold", func(ctx context.Context, _ time.Duration) string {
		st, _ := p.stats(ctx)
		return fmt.Sprintf("%s connected, %s dropped; %s", num(st.Connected-st.Dropped), num(st.Dropped), cpu(ctx))
	})
	err = sleepUntil(ctx, time.Now().Add(o.Hold))
	stop()
	if err != nil {
		return nil, err
	}
	r.Memory = m.memoryReport(before, m.sample(ctx), cr.Connected)
	sr, err := p.result(ctx, ResultArgs{})
	if err != nil {
		return nil, err
	}
	r.Dropped = sr.Dropped
	r.Errors = mergeCounts(r.Errors, sr.Errors)
	r.judge()
	return r, nil
}

func (o ConnectionsOptions) validate() error {
	if o.Hold < 0 {
		return fmt.Errorf("--hold must not be negative")
	}
	return o.Common.validate()
}
