package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report is a run's outcome: one JSON line on stdout, for scripts and
// tables, and a readable summary on stderr.
type Report struct {
	Scenario string    `json:"scenario"`
	Label    string    `json:"label,omitempty"`
	Time     time.Time `json:"time"`
	URL      string    `json:"url"`
	// OtherURLs are the other nodes of a cluster, which broadcasts do not
	// go to.
	OtherURLs []string `json:"otherUrls,omitempty"`
	// Params are the options the run had.
	Params any `json:"params"`

	Connect   ConnectReport    `json:"connect"`
	Fanout    *FanoutReport    `json:"fanout,omitempty"`
	RoundTrip *RoundTripReport `json:"roundTrip,omitempty"`
	// CPU covers the measured phase: sending and draining for fanout, the
	// measured requests for echo and wallet, connecting for connections.
	CPU     *CPUReport    `json:"cpu,omitempty"`
	Memory  *MemoryReport `json:"memory,omitempty"`
	Loadgen LoadgenInfo   `json:"loadgen"`

	// Dropped counts connections that ended before the run did.
	Dropped  int64            `json:"dropped"`
	Errors   map[string]int64 `json:"errors,omitempty"`
	Warnings []string         `json:"warnings,omitempty"`
	// OK: every client connected and stayed, nothing lost, no errors.
	OK bool `json:"ok"`
}

// ConnectReport is the connect phase (with the room joins, for fanout).
type ConnectReport struct {
	Clients   int     `json:"clients"`
	Connected int     `json:"connected"`
	Failed    int     `json:"failed"`
	Seconds   float64 `json:"seconds"`
	PerSec    float64 `json:"perSec"`
	// HandshakeMs is from dialing to the `connected` greeting.
	HandshakeMs Latency `json:"handshakeMs"`
}

// FanoutReport is the measured phase of fanout.
type FanoutReport struct {
	Rooms            int     `json:"rooms"`
	Broadcasts       int64   `json:"broadcasts"`
	PostErrors       int64   `json:"postErrors"`
	BroadcastsPerSec float64 `json:"broadcastsPerSec"`
	// SendSeconds is the measured sending; MaxSendLagMs how late the paced
	// sender was at worst (a server that answers POSTs slowly delays it).
	SendSeconds  float64 `json:"sendSeconds"`
	MaxSendLagMs float64 `json:"maxSendLagMs,omitempty"`
	// Expected is the deliveries due to the connected members of each
	// broadcast's room; Lost = Expected − Received, counted per client.
	Expected        int64 `json:"expected"`
	Received        int64 `json:"received"`
	Lost            int64 `json:"lost"`
	ClientsWithLoss int64 `json:"clientsWithLoss"`
	Duplicates      int64 `json:"duplicates"`
	Unexpected      int64 `json:"unexpected"`
	// DeliveriesPerSec is Received over first send to last receipt.
	DeliveriesPerSec float64 `json:"deliveriesPerSec"`
	// LatencyMs is from the POST's send time to a client's receipt: when
	// the kernel received the frame with the epoll reader (SO_TIMESTAMPNS),
	// when the reader read it with the goroutine reader.
	LatencyMs Latency `json:"latencyMs"`
	PostMs    Latency `json:"postMs"`
	// CheckLatencyMs is the same for the check clients alone
	// (--check-clients), read with a goroutine each; LatencyMs leaves them
	// out.
	CheckLatencyMs *Latency `json:"checkLatencyMs,omitempty"`
	// ServerFanoutMs is the server's own part, from its /metrics: from a
	// broadcast's arrival to its last member's frame written (none for a
	// server without that histogram).
	ServerFanoutMs *ServerFanout `json:"serverFanoutMs,omitempty"`
	// Stalled is what became of the stalled clients (--stalled), which none
	// of the figures above count.
	Stalled *StalledReport `json:"stalled,omitempty"`
}

// StalledReport is what became of fanout's stalled clients.
type StalledReport struct {
	Clients int `json:"clients"` // connected
	// Closed is how many the server ended, Reset how many of those it reset.
	Closed int `json:"closed"`
	Reset  int `json:"reset"`
	// CloseSeconds is from the first measured broadcast until each closed
	// one's socket showed its end (looked at every 50 ms).
	CloseSeconds Spread `json:"closeSeconds"`
	// SentBytes is what had been sent to each closed one by then: the
	// broadcasts to its room, warm-up included, times MessageBytes, the
	// largest bench message the readers received.
	SentBytes    Spread `json:"sentBytes"`
	MessageBytes int64  `json:"messageBytes"`
	// TCPMemory is the machine's: every TCP socket on it counts.
	TCPMemory *TCPMemory `json:"tcpMemory,omitempty"`
}

// Spread is the least, the median and the largest of some figures.
type Spread struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	Max    float64 `json:"max"`
}

func spreadOf(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	slices.Sort(v)
	return Spread{Min: v[0], Median: v[len(v)/2], Max: v[len(v)-1]}
}

// TCPMemory is the kernel's memory for TCP sockets (/proc/net/sockstat):
// before the first broadcast with every client connected, the most it
// reached, and at the end of the run, --settle after the drain.
type TCPMemory struct {
	StartMB float64 `json:"startMB"`
	PeakMB  float64 `json:"peakMB"`
	EndMB   float64 `json:"endMB"`
}

// RoundTripReport is the measured phase of echo or wallet.
type RoundTripReport struct {
	Event    string  `json:"event"`
	Sent     int64   `json:"sent"`
	Replies  int64   `json:"replies"`
	Failures int64   `json:"failures"` // answered with an exception
	Timeouts int64   `json:"timeouts"` // not answered within the drain
	PerSec   float64 `json:"perSec"`
	RttMs    Latency `json:"rttMs"`
}

// LoadgenInfo describes the load generator's own setup.
type LoadgenInfo struct {
	// Reader is how the clients read (--reader); Transport is "polling"
	// for Socket.IO clients on long-polling, which read with a goroutine
	// each.
	Reader      string `json:"reader"`
	Transport   string `json:"transport,omitempty"`
	Processes   int    `json:"processes"`
	CPUs        int    `json:"cpus"`
	Affinity    string `json:"affinity,omitempty"`
	FileLimit   uint64 `json:"fileLimit"`
	SourceAddrs int    `json:"sourceAddrs"`
}

// judge sets OK and adds the warnings a reader must not miss.
func (r *Report) judge() {
	r.OK = r.Connect.Failed == 0 && r.Dropped == 0 && len(r.Errors) == 0
	if r.Connect.Failed > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s of %s clients failed to connect", num(int64(r.Connect.Failed)), num(int64(r.Connect.Clients))))
	}
	if r.Dropped > 0 {
		r.Warnings = append(r.Warnings, fmt.Sprintf("%s connections ended during the run (a 1008 slow-consumer close, say)", num(r.Dropped)))
	}
	if f := r.Fanout; f != nil {
		r.OK = r.OK && f.Lost == 0 && f.Duplicates == 0 && f.Unexpected == 0 && f.PostErrors == 0
		if f.Lost > 0 {
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s deliveries lost, at %s clients", num(f.Lost), num(f.ClientsWithLoss)))
		}
		if st := f.Stalled; st != nil && st.Closed < st.Clients {
			r.OK = false
			r.Warnings = append(r.Warnings, fmt.Sprintf("%s of %s stalled clients were still open at the end: send for longer than the server's bound takes to fill (--duration), or lower gateway.maxQueueBytes",
				num(int64(st.Clients-st.Closed)), num(int64(st.Clients))))
		}
	}
	if rt := r.RoundTrip; rt != nil {
		r.OK = r.OK && rt.Failures == 0 && rt.Timeouts == 0
		for msg := range r.Errors {
			if strings.Contains(msg, "rate limit") {
				r.Warnings = append(r.Warnings, "the server's per-connection rate limit refused requests: lower --rate, or raise gateway.rateLimit for the benchmark")
				break
			}
		}
	}
	if r.Memory != nil && r.Memory.PerConnKB < 0 {
		r.Warnings = append(r.Warnings, "the server's RSS fell while the clients connected: start a fresh server for memory figures")
	}
	if r.CPU != nil && !strings.HasPrefix(r.CPU.Verdict, "loadgen had CPU to spare") {
		r.Warnings = append(r.Warnings, r.CPU.Verdict)
	}
}

// WriteJSON writes r as one line.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteSummary writes r for a reader.
func (r *Report) WriteSummary(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
	title := r.Scenario + " against " + r.URL
	if n := len(r.OtherURLs); n > 0 {
		title += fmt.Sprintf(" and %d more node(s)", n)
	}
	if r.Label != "" {
		title += " (" + r.Label + ")"
	}
	p("── %s", title)
	c := r.Connect
	p("  connect     %s/%s clients in %.2f s: %s/s; handshake %s", num(int64(c.Connected)), num(int64(c.Clients)), c.Seconds, num(int64(c.PerSec)), lat(c.HandshakeMs))
	if f := r.Fanout; f != nil {
		p("  broadcasts  %s in %.2f s (%.1f/s) to %d room(s); POST %s", num(f.Broadcasts), f.SendSeconds, f.BroadcastsPerSec, f.Rooms, lat(f.PostMs))
		if f.MaxSendLagMs > 0 {
			p("              sender at worst %.1f ms behind its schedule", f.MaxSendLagMs)
		}
		p("  deliveries  %s of %s: %s/s; lost %s, duplicates %s, unexpected %s",
			num(f.Received), num(f.Expected), num(int64(f.DeliveriesPerSec)), num(f.Lost), num(f.Duplicates), num(f.Unexpected))
		reader := r.Loadgen.Reader + " reader"
		if r.Loadgen.Transport == "polling" {
			reader = "long-polling, a goroutine per client"
		}
		p("  latency     %s (%s)", lat(f.LatencyMs), reader)
		if cl := f.CheckLatencyMs; cl != nil {
			p("  check       %s (%s deliveries to the check clients, a goroutine each)", lat(*cl), num(int64(cl.Count)))
		}
		if sf := f.ServerFanoutMs; sf != nil {
			p("  server      fan-out, arrival to the last member's frame written, %s times: mean %s  p50 %s  p99 %s ms",
				num(sf.Count), ms(sf.Mean), ms(sf.P50), ms(sf.P99))
		}
		if st := f.Stalled; st != nil {
			p("  stalled     %s of %s closed by the server, %s of them reset", num(int64(st.Closed)), num(int64(st.Clients)), num(int64(st.Reset)))
			if st.Closed > 0 {
				c, b := st.CloseSeconds, st.SentBytes
				p("              after min %.2f, median %.2f, max %.2f s from the first measured broadcast", c.Min, c.Median, c.Max)
				p("              having been sent min %s, median %s, max %s of %s-byte messages",
					bytesText(b.Min), bytesText(b.Median), bytesText(b.Max), num(st.MessageBytes))
			}
			if m := st.TCPMemory; m != nil {
				p("  kernel TCP  %.1f MB before the first broadcast, %.1f MB at the peak, %.1f MB at the end (the whole machine's)", m.StartMB, m.PeakMB, m.EndMB)
			}
		}
	}
	if rt := r.RoundTrip; rt != nil {
		p("  %-11s %s sent, %s replies (%s/s), %s exceptions, %s unanswered", rt.Event, num(rt.Sent), num(rt.Replies), num(int64(rt.PerSec)), num(rt.Failures), num(rt.Timeouts))
		p("  round trip  %s", lat(rt.RttMs))
	}
	if m := r.Memory; m != nil {
		p("  server RSS  %.1f MB before, %.1f MB with %s clients: %.1f kB per connection", m.BeforeMB, m.AfterMB, num(int64(m.Connections)), m.PerConnKB)
		if m.BrokerMB > 0 {
			p("  broker RSS  %.1f MB with the clients", m.BrokerMB)
		}
	}
	if u := r.CPU; u != nil {
		if u.Server != nil {
			line := fmt.Sprintf("  server CPU  %.0f%% of one CPU, %.2f µs per %s", u.Server.Pct, u.Server.UsPerOp, u.Op)
			if len(u.Servers) > 0 {
				var each []string
				for _, s := range u.Servers {
					each = append(each, fmt.Sprintf("%.0f%%", s.Pct))
				}
				line += " (summed: " + strings.Join(each, " + ") + ")"
			}
			p("%s", line)
		}
		if u.Broker != nil {
			p("  broker CPU  %.0f%% of one CPU, %.2f µs per %s", u.Broker.Pct, u.Broker.UsPerOp, u.Op)
		}
		p("  loadgen CPU %.0f%% of one CPU (%d process(es), %d CPUs), %.2f µs per %s", u.Loadgen.Pct, r.Loadgen.Processes, r.Loadgen.CPUs, u.Loadgen.UsPerOp, u.Op)
		p("  machine     %.0f%% busy of %d%%, %.0f%% by others; %s", u.HostBusyPct, 100*u.HostCPUs, u.OtherPct, u.Verdict)
	}
	for _, msg := range slices.Sorted(maps.Keys(r.Errors)) {
		p("  error ×%-6d %s", r.Errors[msg], msg)
	}
	for _, warn := range r.Warnings {
		p("  WARNING     %s", warn)
	}
	if r.OK {
		p("  ok")
	}
}

// bytesText writes n bytes in KiB, or MiB from 1 MiB on.
func bytesText(n float64) string {
	if n >= 1<<20 {
		return strconv.FormatFloat(n/(1<<20), 'f', 2, 64) + " MiB"
	}
	return strconv.FormatFloat(n/(1<<10), 'f', 0, 64) + " KiB"
}

func lat(l Latency) string {
	if l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %s  p95 %s  p99 %s  max %s ms", ms(l.P50), ms(l.P95), ms(l.P99), ms(l.Max))
}

func ms(f float64) string {
	if f >= 100 {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

// num writes n with thousands separators.
func num(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
