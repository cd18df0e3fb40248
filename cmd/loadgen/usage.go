package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"time"
)

// meter samples, at the edges of a phase, the CPU time of the server, of the
// load generator (this process and its workers) and of the whole machine, so
// that a report says who was busy: a load generator out of CPU measures
// itself, not the server.
type meter struct {
	probe serverProbe // nil: the server is not measured
	pool  *pool
	cpus  int // CPUs this process may run on
}

// usage is one sample of the meter.
type usage struct {
	at                  time.Time
	server              ProcSample
	serverErr           error
	loadgen             time.Duration
	hostBusy, hostTotal time.Duration
	hostErr             error
}

// newMeter picks the server probe: /proc/PID with pid, else the server's
// /metrics when it has process metrics, else none.
func newMeter(ctx context.Context, o Common, p *pool) (*meter, []string) {
	m := &meter{pool: p, cpus: runtime.GOMAXPROCS(0)}
	if o.ServerPID > 0 {
		probe := procProbe{o.ServerPID}
		if _, err := probe.Sample(ctx); err != nil {
			return m, []string{"no server CPU or RSS: " + err.Error()}
		}
		m.probe = probe
		return m, nil
	}
	probe := metricsProbe{url: o.URL + "/metrics", client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	if _, err := probe.Sample(ctx); err != nil {
		probe.client.CloseIdleConnections()
		return m, []string{"no server CPU or RSS (" + err.Error() + "): pass --server-pid"}
	}
	m.probe = probe
	return m, nil
}

// close releases the probe's idle connections.
func (m *meter) close() {
	if p, ok := m.probe.(metricsProbe); ok {
		p.client.CloseIdleConnections()
	}
}

func (m *meter) sample(ctx context.Context) usage {
	u := usage{at: time.Now()}
	if m.probe != nil {
		u.server, u.serverErr = m.probe.Sample(ctx)
	}
	st, _ := m.pool.stats(ctx)
	u.loadgen = st.CPU
	u.hostBusy, u.hostTotal, u.hostErr = hostCPU()
	return u
}

// CPUReport is who used the CPU during the measured phase, in percent of
// one CPU (200 is the whole of a 2-CPU machine).
type CPUReport struct {
	Seconds float64 `json:"seconds"`
	// Op is what UsPerOp divides by: a delivery, a round trip, a handshake.
	Op      string `json:"op"`
	Server  *Share `json:"server,omitempty"`
	Loadgen Share  `json:"loadgen"`
	// HostBusyPct is the whole machine; OtherPct what neither the server
	// nor the load generator used (other processes, kernel threads).
	HostBusyPct float64 `json:"hostBusyPct"`
	HostCPUs    int     `json:"hostCpus"`
	OtherPct    float64 `json:"otherPct"`
	// Verdict says whether the load generator could be the bottleneck.
	Verdict string `json:"verdict"`
}

// Share is one process's (or process group's) CPU use.
type Share struct {
	Pct     float64 `json:"pct"`
	UsPerOp float64 `json:"usPerOp"`
}

// cpuReport compares two samples; ops is the work done between them.
func (m *meter) cpuReport(a, b usage, ops int64, op string) *CPUReport {
	wall := b.at.Sub(a.at)
	if wall <= 0 {
		return nil
	}
	share := func(d time.Duration) Share {
		s := Share{Pct: round1(100 * d.Seconds() / wall.Seconds())}
		if ops > 0 {
			s.UsPerOp = round3(float64(d.Microseconds()) / float64(ops))
		}
		return s
	}
	r := &CPUReport{Seconds: round3(wall.Seconds()), Op: op, Loadgen: share(b.loadgen - a.loadgen), HostCPUs: runtime.NumCPU()}
	others := r.Loadgen.Pct
	if m.probe != nil && a.serverErr == nil && b.serverErr == nil {
		s := share(b.server.CPU - a.server.CPU)
		r.Server = &s
		others += s.Pct
	}
	if a.hostErr == nil && b.hostErr == nil && b.hostTotal > a.hostTotal {
		busy := float64(b.hostBusy-a.hostBusy) / float64(b.hostTotal-a.hostTotal)
		r.HostBusyPct = round1(100 * busy * float64(r.HostCPUs))
		r.OtherPct = round1(max(0, r.HostBusyPct-others))
	}
	limit := float64(100 * m.cpus)
	switch {
	case r.Loadgen.Pct >= 0.85*limit:
		r.Verdict = "loadgen was CPU-bound: the figures may be its limit, not the server's"
	case r.HostBusyPct >= 0.9*float64(100*r.HostCPUs):
		r.Verdict = "the machine was saturated: the figures are the machine's limit; pin server and loadgen on separate CPUs to tell them apart"
	default:
		r.Verdict = "loadgen had CPU to spare: not the bottleneck"
	}
	return r
}

// MemoryReport is the server's resident memory before the clients came and
// once they were connected.
type MemoryReport struct {
	Source      string  `json:"source"`
	BeforeMB    float64 `json:"beforeMB"`
	AfterMB     float64 `json:"afterMB"`
	PerConnKB   float64 `json:"perConnKB"`
	Connections int     `json:"connections"`
}

func (m *meter) memoryReport(before, after usage, conns int) *MemoryReport {
	if m.probe == nil || before.serverErr != nil || after.serverErr != nil {
		return nil
	}
	r := &MemoryReport{
		Source:   m.probe.Source(),
		BeforeMB: round1(float64(before.server.RSS) / 1e6), AfterMB: round1(float64(after.server.RSS) / 1e6),
		Connections: conns,
	}
	if conns > 0 {
		r.PerConnKB = round1(float64(after.server.RSS-before.server.RSS) / 1e3 / float64(conns))
	}
	return r
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// progress returns a function that describes the CPU use since its last
// call, for progress lines.
func (m *meter) progress(ctx context.Context) func(context.Context) string {
	last := m.sample(ctx)
	return func(ctx context.Context) string {
		now := m.sample(ctx)
		wall := now.at.Sub(last.at).Seconds()
		line := fmt.Sprintf("loadgen CPU %.0f%%", 100*(now.loadgen-last.loadgen).Seconds()/wall)
		if m.probe != nil && now.serverErr == nil && last.serverErr == nil {
			line += fmt.Sprintf(", server CPU %.0f%%, RSS %.0f MB", 100*(now.server.CPU-last.server.CPU).Seconds()/wall, float64(now.server.RSS)/1e6)
		}
		last = now
		return line
	}
}
