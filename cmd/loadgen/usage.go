package main

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"strings"
	"time"
)

// meter samples, at the edges of a phase, the CPU time of the servers, of
// the cluster's broker, of the load generator (this process and its
// workers) and of the whole machine, so that a report says who was busy: a
// load generator out of CPU measures itself, not the server.
type meter struct {
	servers []serverProbe // one per node; nil: the servers are not measured
	broker  serverProbe   // nil: none
	pool    *pool
	cpus    int // CPUs this process may run on
}

// usage is one sample of the meter.
type usage struct {
	at        time.Time
	servers   []ProcSample
	serverErr error
	broker    ProcSample
	brokerErr error
	loadgen   time.Duration

	hostBusy, hostTotal time.Duration
	hostErr             error
}

// server is the servers' sum.
func (u usage) server() ProcSample {
	var sum ProcSample
	for _, s := range u.servers {
		sum.CPU += s.CPU
		sum.RSS += s.RSS
	}
	return sum
}

// newMeter picks the server probes: /proc/PID for each --server-pid, else
// each node's /metrics when it has process metrics, else none; and the
// broker's /proc/PID.
func newMeter(ctx context.Context, o Common, p *pool) (*meter, []string) {
	m := &meter{pool: p, cpus: runtime.GOMAXPROCS(0)}
	var warnings []string
	if o.BrokerPID > 0 {
		probe := procProbe{o.BrokerPID}
		if _, err := probe.Sample(ctx); err != nil {
			warnings = append(warnings, "no broker CPU or RSS: "+err.Error())
		} else {
			m.broker = probe
		}
	}
	var probes []serverProbe
	for _, pid := range o.ServerPIDs {
		probes = append(probes, procProbe{pid})
	}
	if len(probes) == 0 {
		for _, u := range o.urls() {
			probes = append(probes, metricsProbe{url: u + "/metrics", client: newMetricsClient()})
		}
	}
	for _, probe := range probes {
		if _, err := probe.Sample(ctx); err != nil {
			closeProbes(probes)
			if len(o.ServerPIDs) > 0 {
				return m, append(warnings, "no server CPU or RSS: "+err.Error())
			}
			return m, append(warnings, "no server CPU or RSS ("+err.Error()+"): pass --server-pid")
		}
	}
	m.servers = probes
	return m, warnings
}

func newMetricsClient() *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil}}
}

// close releases the probes' idle connections.
func (m *meter) close() { closeProbes(m.servers) }

func closeProbes(probes []serverProbe) {
	for _, probe := range probes {
		if p, ok := probe.(metricsProbe); ok {
			p.client.CloseIdleConnections()
		}
	}
}

func (m *meter) sample(ctx context.Context) usage {
	u := usage{at: time.Now()}
	for _, probe := range m.servers {
		s, err := probe.Sample(ctx)
		u.servers = append(u.servers, s)
		u.serverErr = cmp.Or(u.serverErr, err)
	}
	if m.broker != nil {
		u.broker, u.brokerErr = m.broker.Sample(ctx)
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
	Op string `json:"op"`
	// Server is the servers' sum; Servers each one's, when there are
	// several (a cluster), in --url order.
	Server  *Share  `json:"server,omitempty"`
	Servers []Share `json:"servers,omitempty"`
	Broker  *Share  `json:"broker,omitempty"`
	Loadgen Share   `json:"loadgen"`
	// HostBusyPct is the whole machine; OtherPct what neither the servers,
	// the broker nor the load generator used (other processes, kernel
	// threads).
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
	if m.servers != nil && a.serverErr == nil && b.serverErr == nil {
		s := share(b.server().CPU - a.server().CPU)
		r.Server = &s
		others += s.Pct
		if len(m.servers) > 1 {
			for i := range m.servers {
				r.Servers = append(r.Servers, share(b.servers[i].CPU-a.servers[i].CPU))
			}
		}
	}
	if m.broker != nil && a.brokerErr == nil && b.brokerErr == nil {
		s := share(b.broker.CPU - a.broker.CPU)
		r.Broker = &s
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

// MemoryReport is the servers' resident memory (summed) before the clients
// came and once they were connected, and the broker's then.
type MemoryReport struct {
	Source      string  `json:"source"`
	BeforeMB    float64 `json:"beforeMB"`
	AfterMB     float64 `json:"afterMB"`
	PerConnKB   float64 `json:"perConnKB"`
	Connections int     `json:"connections"`
	BrokerMB    float64 `json:"brokerMB,omitempty"`
}

func (m *meter) memoryReport(before, after usage, conns int) *MemoryReport {
	if m.servers == nil || before.serverErr != nil || after.serverErr != nil {
		return nil
	}
	var sources []string
	for _, probe := range m.servers {
		sources = append(sources, probe.Source())
	}
	b, a := before.server().RSS, after.server().RSS
	r := &MemoryReport{
		Source:   strings.Join(sources, " + "),
		BeforeMB: round1(float64(b) / 1e6), AfterMB: round1(float64(a) / 1e6),
		Connections: conns,
	}
	if conns > 0 {
		r.PerConnKB = round1(float64(a-b) / 1e3 / float64(conns))
	}
	if m.broker != nil && after.brokerErr == nil {
		r.BrokerMB = round1(float64(after.broker.RSS) / 1e6)
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
		if m.servers != nil && now.serverErr == nil && last.serverErr == nil {
			line += fmt.Sprintf(", server CPU %.0f%%, RSS %.0f MB", 100*(now.server().CPU-last.server().CPU).Seconds()/wall, float64(now.server().RSS)/1e6)
		}
		if m.broker != nil && now.brokerErr == nil && last.brokerErr == nil {
			line += fmt.Sprintf(", broker CPU %.0f%%", 100*(now.broker.CPU-last.broker.CPU).Seconds()/wall)
		}
		last = now
		return line
	}
}
