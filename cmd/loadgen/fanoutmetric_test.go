package main

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// exposition is a /metrics page with the fan-out histogram in two series
// (any labels besides le are summed), a longer name that shares its prefix,
// and the rest of a gateway's page around it.
func exposition(le1, le5, le10, inf, sum float64) string {
	var b strings.Builder
	b.WriteString("# HELP gamegate_ws_fanout_seconds Time from a broadcast's arrival to its last member's frame written.\n")
	b.WriteString("# TYPE gamegate_ws_fanout_seconds histogram\n")
	for _, source := range []string{"rest", "nats"} {
		fmt.Fprintf(&b, "gamegate_ws_fanout_seconds_bucket{source=%q,le=\"0.001\"} %g\n", source, le1/2)
		fmt.Fprintf(&b, "gamegate_ws_fanout_seconds_bucket{source=%q,le=\"0.005\"} %g\n", source, le5/2)
		fmt.Fprintf(&b, "gamegate_ws_fanout_seconds_bucket{source=%q,le=\"0.01\"} %g\n", source, le10/2)
		fmt.Fprintf(&b, "gamegate_ws_fanout_seconds_bucket{source=%q,le=\"+Inf\"} %g\n", source, inf/2)
		fmt.Fprintf(&b, "gamegate_ws_fanout_seconds_sum{source=%q} %g\n", source, sum/2)
		fmt.Fprintf(&b, "gamegate_ws_fanout_seconds_count{source=%q} %g\n", source, inf/2)
	}
	b.WriteString("gamegate_ws_fanout_seconds_total_bucket{le=\"+Inf\"} 999\n")
	b.WriteString("process_cpu_seconds_total 1.5\nprocess_resident_memory_bytes 2.5e+07\n")
	return b.String()
}

// Against a fake /metrics: the quantiles come from what the buckets gained
// during the measured phase, not from what they held before it.
func TestServerFanout(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			// Before: 1,000 fast ones from the warm-up.
			fmt.Fprint(w, exposition(1000, 1000, 1000, 1000, 0.5))
			return
		}
		// After: 100 more, 40 under 1 ms, 50 more under 5 ms, 8 under 10 ms, 2 beyond.
		fmt.Fprint(w, exposition(1040, 1090, 1098, 1100, 0.5+0.3))
	}))
	defer srv.Close()
	o := defaultCommon(1)
	o.URL = srv.URL
	w := newFanoutWatch(o)
	defer w.close()
	before := w.sample(t.Context())
	after := w.sample(t.Context())
	s := w.report(before, after)
	if s == nil {
		t.Fatal("no report")
	}
	// p50: rank 50 of 100, the 10th of 50 in (1 ms, 5 ms]: 1 + 4 × 10/50.
	// p99: rank 99, in +Inf: the largest finite bound, 10 ms.
	want := ServerFanout{Count: 100, Mean: 3, P50: 1.8, P99: 10}
	if s.Count != want.Count || s.Mean != want.Mean || s.P50 != want.P50 || s.P99 != want.P99 || s.Nodes != nil {
		t.Errorf("got %+v, want %+v", *s, want)
	}

	// Two nodes, the second counting nothing new: each is reported, and the
	// sum of both.
	o.OtherURLs = []string{srv.URL}
	w2 := newFanoutWatch(o)
	defer w2.close()
	calls.Store(0)
	before = w2.sample(t.Context()) // node A before, node B after
	after = w2.sample(t.Context())  // both after
	s = w2.report(before, after)
	if s == nil || s.Count != 100 || len(s.Nodes) != 2 || s.Nodes[0].Count != 100 || s.Nodes[1].Count != 0 || s.P50 != 1.8 {
		t.Errorf("two nodes: %+v", s)
	}
}

// A server without the histogram (NestJS has no /metrics; an older gateway
// has no fan-out histogram) gives no figure rather than a wrong one.
func TestServerFanoutMissing(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, "process_cpu_seconds_total 1.5\n")
	}))
	defer srv.Close()
	for _, url := range []string{srv.URL, srv.URL + "/nowhere"} {
		o := defaultCommon(1)
		o.URL = url
		w := newFanoutWatch(o)
		if h := w.sample(t.Context()); h != nil {
			t.Errorf("%s: got %v, want nothing", url, h)
		}
		if s := w.report(nil, nil); s != nil {
			t.Errorf("%s: got %+v, want no report", url, s)
		}
		w.close()
	}
}

func TestHistogramQuantileEdges(t *testing.T) {
	h := promHistogram{buckets: map[float64]float64{0.1: 0, 0.2: 10, math.Inf(1): 10}}
	// Every observation in (0.1, 0.2]: p0 is its lower edge, p100 its upper.
	for q, want := range map[float64]float64{0: 0.1, 0.5: 0.15, 1: 0.2} {
		if got := h.quantile(q); math.Abs(got-want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	if !math.IsNaN((promHistogram{buckets: map[float64]float64{math.Inf(1): 0}}).quantile(0.5)) {
		t.Error("an empty histogram has a quantile")
	}
}
