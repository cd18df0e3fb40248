package main

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"time"
)

// scenarioRun is what every scenario starts from: its clients, its report, and the
// meter of the server's and its own CPU.
type scenarioRun struct {
	pool   *pool
	report *Report
	meter  *meter
}

// startRun plans the clients of o (in rooms named roomPrefix<n> when rooms
// is not 0, the last stalled of them stalling, check of the others reading
// with a goroutine each) and starts the report, with options params, and
// the meter.
func startRun(ctx context.Context, scenario string, o Common, params any, rooms int, roomPrefix string, stalled, check int) (*scenarioRun, error) {
	p, err := newPool(o, rooms, roomPrefix, stalled, check)
	if err != nil {
		return nil, err
	}
	r := newReport(scenario, o, params, p)
	m, warnings := newMeter(ctx, o, p)
	r.Warnings = append(r.Warnings, warnings...)
	return &scenarioRun{pool: p, report: r, meter: m}, nil
}

// close stops the meter, then the clients.
func (x *scenarioRun) close() {
	x.meter.close()
	x.pool.Close()
}

// newReport starts the report of a run with options params.
func newReport(scenario string, o Common, params any, p *pool) *Report {
	limit, _ := raiseFileLimit() // raised already: this reads the limit in force
	transport := ""
	if o.polling() {
		transport = o.Transport
	}
	return &Report{
		Scenario: scenario, Label: o.Label, Time: time.Now().UTC().Truncate(time.Second), URL: o.URL, OtherURLs: o.OtherURLs, Params: params,
		Loadgen: LoadgenInfo{
			Reader: o.Reader, Processes: p.processes(), CPUs: runtime.GOMAXPROCS(0), Affinity: cpusAllowed(),
			FileLimit: limit, SourceAddrs: o.sourceAddrs(), Transport: transport,
		},
	}
}

// connectPhase connects every client of p, showing progress, and fills
// r.Connect. It fails only when no client connected.
func connectPhase(ctx context.Context, o Common, p *pool, r *Report) (ConnectResult, error) {
	stop := startProgress(ctx, o, "connect", connectLine(p, o.Clients))
	cr, err := p.connect(ctx)
	stop()
	if err != nil {
		return cr, err
	}
	r.Connect = ConnectReport{
		Clients: o.Clients, Connected: cr.Connected, Failed: cr.Failed, HandshakeMs: cr.Handshake.Summary(),
	}
	if cr.End > cr.Start {
		secs := time.Duration(cr.End - cr.Start).Seconds()
		r.Connect.Seconds = round3(secs)
		r.Connect.PerSec = round1(float64(cr.Connected) / secs)
	}
	r.Errors = mergeCounts(r.Errors, cr.Errors)
	if cr.Connected == 0 {
		return cr, fmt.Errorf("no client connected to %s: %v", strings.Join(o.urls(), ", "), slices.Sorted(maps.Keys(cr.Errors)))
	}
	return cr, nil
}

// sleepUntil waits for t or the end of ctx.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
