package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The gateway measures its own side of a broadcast: the histogram
// fanoutMetric is the time from a broadcast's arrival (REST or NATS) until
// its last member's frame was written. Read before and after the measured
// phase, the increase of its buckets is the server's share of the latency
// the clients measure, beside it in the report. The NestJS peer has no
// /metrics, and an older gateway not this histogram: then there is none.
const fanoutMetric = "gamegate_ws_fanout_seconds"

// promHistogram is a Prometheus histogram's cumulative bucket counts by
// upper bound (le), summed over all its series (whatever other labels it
// has), with its count and sum.
type promHistogram struct {
	buckets    map[float64]float64
	count, sum float64
}

// parseHistogram reads histogram name from Prometheus text exposition;
// found is false when r has no bucket of it.
func parseHistogram(r io.Reader, name string) (h promHistogram, found bool, err error) {
	h.buckets = make(map[float64]float64)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || line == "" || line[0] == '#' {
			continue
		}
		suffix, labels, value, ok := splitSample(rest)
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return h, false, fmt.Errorf("%s: %q: %w", name, line, err)
		}
		switch suffix {
		case "_bucket":
			le, ok := labelValue(labels, "le")
			if !ok {
				continue
			}
			bound, err := strconv.ParseFloat(le, 64) // "+Inf" parses too
			if err != nil {
				return h, false, fmt.Errorf("%s: le %q: %w", name, le, err)
			}
			h.buckets[bound] += v
			found = true
		case "_count":
			h.count += v
		case "_sum":
			h.sum += v
		}
	}
	return h, found, sc.Err()
}

// splitSample splits what follows a metric's base name in a sample line:
// `_bucket{le="0.1"} 42 [timestamp]` gives _bucket, le="0.1" and 42.
func splitSample(s string) (suffix, labels, value string, ok bool) {
	i := strings.IndexAny(s, "{ ")
	if i < 0 {
		return "", "", "", false
	}
	suffix, s = s[:i], s[i:]
	if s[0] == '{' {
		end := strings.LastIndexByte(s, '}')
		if end < 0 {
			return "", "", "", false
		}
		labels, s = s[1:end], s[end+1:]
	}
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return "", "", "", false
	}
	return suffix, labels, fields[0], true
}

// labelValue finds label name's value in `a="x",le="0.1"` (values in the
// histograms read here hold no escaped quotes).
func labelValue(labels, name string) (string, bool) {
	for part := range strings.SplitSeq(labels, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			return strings.Trim(v, `"`), true
		}
	}
	return "", false
}

// since is what h counted after before was read; a counter that went down
// (the server restarted) counts from zero.
func (h promHistogram) since(before promHistogram) promHistogram {
	d := promHistogram{buckets: make(map[float64]float64, len(h.buckets)), count: h.count - before.count, sum: h.sum - before.sum}
	for le, n := range h.buckets {
		if n >= before.buckets[le] {
			d.buckets[le] = n - before.buckets[le]
		} else {
			d.buckets[le] = n
		}
	}
	if d.count < 0 {
		d.count, d.sum = h.count, h.sum
	}
	return d
}

// add sums two histograms with the same buckets: the nodes of a cluster.
func (h promHistogram) add(o promHistogram) promHistogram {
	s := promHistogram{buckets: make(map[float64]float64, len(h.buckets)), count: h.count + o.count, sum: h.sum + o.sum}
	for le, n := range h.buckets {
		s.buckets[le] += n
	}
	for le, n := range o.buckets {
		s.buckets[le] += n
	}
	return s
}

// quantile is the value below which a fraction q of the observations lie,
// interpolated linearly within its bucket as Prometheus's
// histogram_quantile does; one in the +Inf bucket is the largest finite
// bound. NaN when nothing was observed.
func (h promHistogram) quantile(q float64) float64 {
	bounds := slices.Sorted(func(yield func(float64) bool) {
		for le := range h.buckets {
			if !yield(le) {
				return
			}
		}
	})
	if len(bounds) == 0 || h.buckets[bounds[len(bounds)-1]] == 0 {
		return math.NaN()
	}
	rank := q * h.buckets[bounds[len(bounds)-1]]
	lower, below := 0.0, 0.0
	for _, le := range bounds {
		n := h.buckets[le]
		if n >= rank && n > below {
			if math.IsInf(le, 1) {
				return lower
			}
			return lower + (le-lower)*(rank-below)/(n-below)
		}
		lower, below = le, n
	}
	return lower
}

// ServerFanout is the gateway's own fan-out time over the measured phase,
// in milliseconds: every node's together, and each node's when there are
// several.
type ServerFanout struct {
	Count int64          `json:"count"`
	Mean  float64        `json:"mean"`
	P50   float64        `json:"p50"`
	P99   float64        `json:"p99"`
	Nodes []ServerFanout `json:"nodes,omitempty"`
}

func fanoutSummary(h promHistogram) ServerFanout {
	s := ServerFanout{Count: int64(h.count)}
	if h.count > 0 {
		s.Mean = round3(1e3 * h.sum / h.count)
	}
	if p := h.quantile(0.5); !math.IsNaN(p) {
		s.P50, s.P99 = round3(1e3*p), round3(1e3*h.quantile(0.99))
	}
	return s
}

// fanoutWatch reads fanoutMetric from every node's /metrics.
type fanoutWatch struct {
	urls   []string
	client *http.Client
}

func newFanoutWatch(o Common) *fanoutWatch {
	w := &fanoutWatch{client: newMetricsClient()}
	for _, u := range o.urls() {
		w.urls = append(w.urls, strings.TrimSuffix(u, "/")+"/metrics")
	}
	return w
}

func (w *fanoutWatch) close() { w.client.CloseIdleConnections() }

// sample reads every node's histogram; nil when one has none (or no
// /metrics at all).
func (w *fanoutWatch) sample(ctx context.Context) []promHistogram {
	var all []promHistogram
	for _, u := range w.urls {
		h, err := w.read(ctx, u)
		if err != nil {
			return nil
		}
		all = append(all, h)
	}
	return all
}

func (w *fanoutWatch) read(ctx context.Context, url string) (promHistogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return promHistogram{}, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return promHistogram{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return promHistogram{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	h, found, err := parseHistogram(resp.Body, fanoutMetric)
	if err == nil && !found {
		err = fmt.Errorf("%s: no %s", url, fanoutMetric)
	}
	return h, err
}

// report is the fan-out time between two samples; nil when either is
// missing.
func (w *fanoutWatch) report(before, after []promHistogram) *ServerFanout {
	if before == nil || after == nil {
		return nil
	}
	var sum promHistogram
	var nodes []ServerFanout
	for i := range after {
		d := after[i].since(before[i])
		sum = sum.add(d)
		nodes = append(nodes, fanoutSummary(d))
	}
	s := fanoutSummary(sum)
	if len(nodes) > 1 {
		s.Nodes = nodes
	}
	return &s
}
