package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata holds loadgen's reports of every kind the charts show (cut to
// the fields benchplot reads) and a floor benchmark's output: every chart
// is drawn, and the tables carry the medians.
func TestCharts(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-out", out, "testdata"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	for _, c := range []struct {
		file   string
		series []string
	}{
		{"cpu-per-delivery.svg", []string{"Go gateway", "NestJS platform-ws", "floor: one loopback write per delivery"}},
		{"polling-cpu.svg", []string{"Go gateway, long-polling", "NestJS platform-socket.io, long-polling"}},
		{"p99-vs-clients.svg", []string{"Go gateway", "NestJS platform-ws"}},
		{"rss-per-connection.svg", []string{"Go gateway", "NestJS platform-ws"}},
		{"cluster-cpu.svg", []string{"NestJS socket.io ×2 + Redis", "gamegate ×2 + NATS, /game"}},
		{"cluster-p99.svg", []string{"gamegate ×2 + NATS, Socket.IO"}},
	} {
		b, err := os.ReadFile(filepath.Join(out, c.file))
		if err != nil {
			t.Error(err)
			continue
		}
		svg := string(b)
		if !strings.HasPrefix(svg, "<?xml") || !strings.Contains(svg, "<svg") {
			t.Errorf("%s is not an SVG file", c.file)
		}
		for _, s := range c.series {
			if !strings.Contains(svg, s) {
				t.Errorf("%s: no %q", c.file, s)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "cpu-per-delivery.svg")); err == nil && strings.Contains(string(b), "long-polling") {
		t.Error("cpu-per-delivery.svg has the long-polling runs, which have a chart of their own")
	}
	tables := stdout.String()
	for _, want := range []string{
		// Medians of three, with their range and count.
		"| Go gateway | 7.600 [7.000–7.700] (3) | 3.400 [3.350–3.900] (3) |",
		"| NestJS platform-ws | 9.300 [9.200–9.300] (3) | 10.400 [9.800–10.800] (3) |",
		"Floor (sockets=5000/frames=1/bursts): 7.155 µs per frame, median of 3.",
		"| | 1,000 | 2,000 | 5,000 |", // the long-polling runs' 200 clients in a chart of their own
		"| Go gateway, long-polling | 46.00 [46.00–46.00] (1) |",
		"| Go gateway | 9.1 [9.1–9.1] (1) | 8.4 [8.2–8.9] (3) |",
		"| gamegate ×2 + NATS, Socket.IO | paced: 2,000 clients × 10/s | 20,000 | 0 | 0 | 1.92 / 3.20 | 3.52 | 1.10 | 12.70 (40) | 1.0 | 96.0 | 21.0 | 3.10 | 1 |",
		"| NestJS socket.io ×2 + Redis | flat out: 2,000 clients, 4 in flight | 150,000 | 0 | 0 | 22.86 / 38.10 | 41.91 | – |",
	} {
		if !strings.Contains(tables, want) {
			t.Errorf("tables lack %q:\n%s", want, tables)
		}
	}
}

// Charts without runs are left out; no report at all is an error.
func TestPartialAndEmpty(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	line := `{"scenario":"connections","label":"Go","params":{"clients":100},"memory":{"perConnKB":8.5}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "conn.jsonl"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-out", out, dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, &stderr)
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 1 || entries[0].Name() != "rss-per-connection.svg" {
		t.Errorf("wrote %v, want the RSS chart alone", entries)
	}
	if code := run([]string{"-out", out, t.TempDir()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "no loadgen reports") {
		t.Errorf("empty folder: exit %d, %s", code, &stderr)
	}
	if code := run(nil, &stdout, &stderr); code != 2 {
		t.Errorf("no arguments: exit %d, want 2", code)
	}
}

func TestYTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 27.3, "0 5 10 15 20 25"},
		{0, 140, "0 25 50 75 100 125"},
		{0, 1.3, "0.00 0.25 0.50 0.75 1.00 1.25"},
		{0, 16, "0 5 10 15"},
	} {
		var labels []string
		for _, tk := range (yTicks{}).Ticks(c.lo, c.hi) {
			labels = append(labels, tk.Label)
		}
		if got := strings.Join(labels, " "); got != c.want {
			t.Errorf("Ticks(%v, %v) = %s, want %s", c.lo, c.hi, got, c.want)
		}
	}
}
