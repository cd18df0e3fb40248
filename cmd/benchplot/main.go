// Command benchplot turns benchmark results into the charts of
// docs/BENCHMARKS.md: SVG files, and on stdout the tables of medians they
// show. Its input is cmd/loadgen's output, one JSON report per line, in
// files or folders of *.jsonl; and optionally floor.txt, the output of
//
//	go test -run='^$' -bench=LoopbackWriteFloor -count=3 ./modules/gateway
//
// Each report's --label names its series (the server, and whatever else
// the runs compared: "Go gateway", "NestJS platform-ws", "gamegate ×2 +
// NATS, /game"); the scenario's own parameters say where it goes in a
// chart. Every figure is the median of the runs that agree on both.
//
//	cpu-per-delivery.svg    fanout on one node: the server's CPU per delivery
//	                        by case (steady, flat out), with the floor
//	p99-vs-clients.svg      paced fanout on one node: latency p99 by clients
//	rss-per-connection.svg  connections: the server's RSS per connection by
//	                        connections
//	cluster-cpu.svg         fanout over two nodes (--url twice): the servers'
//	cluster-p99.svg         summed CPU per delivery, and latency p99
//
// A chart with no runs to show is left out.
//
// Usage: benchplot [-out DIR] RESULTS...   (task bench-plots RESULTS=folder)
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("benchplot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", ".", "folder the SVG files are written to")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: benchplot [-out DIR] RESULTS...\n\nRESULTS are loadgen's JSON lines (files, or folders of *.jsonl and floor.txt).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	var rs results
	for _, path := range fs.Args() {
		if err := rs.load(path); err != nil {
			fmt.Fprintln(stderr, "benchplot:", err)
			return 1
		}
	}
	if len(rs.runs) == 0 {
		fmt.Fprintln(stderr, "benchplot: no loadgen reports in", strings.Join(fs.Args(), ", "))
		return 1
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(stderr, "benchplot:", err)
		return 1
	}
	for _, c := range charts {
		file := filepath.Join(*out, c.file)
		drawn, err := c.draw(&rs, file, stdout)
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "benchplot: %s: %v\n", c.file, err)
			return 1
		case drawn:
			fmt.Fprintln(stderr, "wrote", file)
		}
	}
	return 0
}

// report is what benchplot reads of one of loadgen's reports.
type report struct {
	Scenario  string   `json:"scenario"`
	Label     string   `json:"label"`
	URL       string   `json:"url"`
	OtherURLs []string `json:"otherUrls"`
	Params    struct {
		Clients   int     `json:"clients"`
		Rate      float64 `json:"rate"`
		InFlight  int     `json:"inFlight"`
		Transport string  `json:"transport"`
	} `json:"params"`
	Fanout *struct {
		DeliveriesPerSec float64  `json:"deliveriesPerSec"`
		Lost             int64    `json:"lost"`
		Duplicates       int64    `json:"duplicates"`
		LatencyMs        latency  `json:"latencyMs"`
		CheckLatencyMs   *latency `json:"checkLatencyMs"`
		ServerFanoutMs   *latency `json:"serverFanoutMs"`
	} `json:"fanout"`
	CPU     *cpu    `json:"cpu"`
	Memory  *memory `json:"memory"`
	Loadgen struct {
		Reader string `json:"reader"`
	} `json:"loadgen"`
}

type cpu struct {
	Server  *share `json:"server"`
	Broker  *share `json:"broker"`
	Loadgen share  `json:"loadgen"`
}

type memory struct {
	AfterMB   float64 `json:"afterMB"`
	PerConnKB float64 `json:"perConnKB"`
	BrokerMB  float64 `json:"brokerMB"`
}

type latency struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
}

type share struct {
	Pct     float64 `json:"pct"`
	UsPerOp float64 `json:"usPerOp"`
}

// series is the name a report's figures go under.
func (r *report) series() string {
	if r.Label != "" {
		return r.Label
	}
	return r.URL
}

// cluster tells a run over several nodes.
func (r *report) cluster() bool { return len(r.OtherURLs) > 0 }

// polling tells a run of long-polling clients, whose figures are of
// another order than WebSocket clients' and get a chart of their own.
func (r *report) polling() bool { return r.Params.Transport == "polling" }

// fanoutCase names a fanout run's load, the category it goes in.
func (r *report) fanoutCase() string {
	if r.Params.Rate > 0 {
		return fmt.Sprintf("paced\n%s clients × %s/s", thousands(r.Params.Clients), strconv.FormatFloat(r.Params.Rate, 'f', -1, 64))
	}
	return fmt.Sprintf("flat out\n%s clients, %d in flight", thousands(r.Params.Clients), r.Params.InFlight)
}

// results are every report read, and the floor benchmark's runs.
type results struct {
	runs []*report
	// floor is BenchmarkLoopbackWriteFloor's CPU per frame in µs, by
	// sub-benchmark ("sockets=5000/frames=1/bursts"), one per run.
	floor map[string][]float64
}

// load reads a file of JSON lines, a floor.txt, or a folder of either.
func (rs *results) load(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		if filepath.Base(path) == "floor.txt" {
			return rs.loadFloor(path)
		}
		return rs.loadReports(path)
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".jsonl") || e.Name() == "floor.txt") {
			if err := rs.load(filepath.Join(path, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

func (rs *results) loadReports(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue // a blank line, or someone's note
		}
		r := new(report)
		if err := json.Unmarshal([]byte(line), r); err != nil {
			return fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if r.Scenario != "" {
			rs.runs = append(rs.runs, r)
		}
	}
	return sc.Err()
}

// loadFloor reads go test's benchmark lines:
//
//	BenchmarkLoopbackWriteFloor/sockets=5000/frames=1/bursts-2  100  … 7155 cpu-ns/frame  7155 cpu-ns/write
func (rs *results) loadFloor(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if rs.floor == nil {
		rs.floor = make(map[string][]float64)
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "BenchmarkLoopbackWriteFloor/") {
			continue
		}
		name := strings.TrimPrefix(f[0], "BenchmarkLoopbackWriteFloor/")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			name = name[:i] // the GOMAXPROCS suffix
		}
		for i := 2; i+1 < len(f); i += 2 {
			if f[i+1] != "cpu-ns/frame" {
				continue
			}
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return fmt.Errorf("%s: %q: %w", path, line, err)
			}
			rs.floor[name] = append(rs.floor[name], v/1e3)
		}
	}
	return nil
}

// thousands writes n with thousands separators.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
