package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets are log-linear, in the manner of HdrHistogram: 2^subBits
// buckets per power of two, so a recorded value is off by at most 1/128
// (0.8%). Every delivery is recorded by whichever reader goroutine received
// it, so the buckets are atomic counters shared by all of them rather than
// per-client copies (5,000 clients × 35 KiB would not do).
const (
	subBits  = 7
	subCount = 1 << subBits
	// maxValue clamps values above 2^40 ns (about 18 minutes).
	maxValue = 1<<40 - 1
	nBuckets = (40 - subBits + 1) * subCount
)

// Histogram records durations in nanoseconds; safe for concurrent use.
type Histogram struct {
	counts [nBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Int64
	min    atomic.Int64 // valid when n > 0
	max    atomic.Int64
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxInt64)
	return h
}

func bucketOf(v int64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(uint64(v)) - subBits - 1
	return (shift+1)<<subBits + int(v>>shift) - subCount
}

// bucketMid is the middle of the range of values that fall in bucket i.
func bucketMid(i int) int64 {
	if i < subCount {
		return int64(i)
	}
	shift := i>>subBits - 1
	low := int64(i&(subCount-1)+subCount) << shift
	return low + (int64(1)<<shift)/2
}

// Record adds one value; negative values (clock steps) count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := min(max(int64(d), 0), maxValue)
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for m := h.max.Load(); v > m && !h.max.CompareAndSwap(m, v); m = h.max.Load() {
	}
	for m := h.min.Load(); v < m && !h.min.CompareAndSwap(m, v); m = h.min.Load() {
	}
}

// HistData is a histogram's content in a form that crosses a process
// boundary (gob) and merges.
type HistData struct {
	Buckets []int32 // indexes of the non-empty buckets
	Counts  []uint64
	N       uint64
	Sum     int64
	Min     int64
	Max     int64
}

// Data returns a snapshot of h.
func (h *Histogram) Data() HistData {
	d := HistData{N: h.n.Load(), Sum: h.sum.Load(), Min: h.min.Load(), Max: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			d.Buckets = append(d.Buckets, int32(i))
			d.Counts = append(d.Counts, c)
		}
	}
	if d.N == 0 {
		d.Min = 0
	}
	return d
}

// Merge adds o to d.
func (d *HistData) Merge(o HistData) {
	if o.N == 0 {
		return
	}
	if d.N == 0 || o.Min < d.Min {
		d.Min = o.Min
	}
	d.Max = max(d.Max, o.Max)
	d.N += o.N
	d.Sum += o.Sum
	var bs []int32
	var cs []uint64
	i, j := 0, 0
	for i < len(d.Buckets) || j < len(o.Buckets) {
		switch {
		case j == len(o.Buckets) || i < len(d.Buckets) && d.Buckets[i] < o.Buckets[j]:
			bs, cs = append(bs, d.Buckets[i]), append(cs, d.Counts[i])
			i++
		case i == len(d.Buckets) || o.Buckets[j] < d.Buckets[i]:
			bs, cs = append(bs, o.Buckets[j]), append(cs, o.Counts[j])
			j++
		default:
			bs, cs = append(bs, d.Buckets[i]), append(cs, d.Counts[i]+o.Counts[j])
			i++
			j++
		}
	}
	d.Buckets, d.Counts = bs, cs
}

// Quantile returns the value below which a fraction q of the values lie,
// clamped to [Min, Max] so that p50 ≤ p95 ≤ p99 ≤ max always holds.
func (d HistData) Quantile(q float64) int64 {
	if d.N == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(d.N)))
	rank = max(rank, 1)
	var cum uint64
	for i, b := range d.Buckets {
		cum += d.Counts[i]
		if cum >= rank {
			return min(max(bucketMid(int(b)), d.Min), d.Max)
		}
	}
	return d.Max
}

// Latency is a histogram summarised in milliseconds, as reports show it.
type Latency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// Summary converts d to milliseconds.
func (d HistData) Summary() Latency {
	if d.N == 0 {
		return Latency{}
	}
	ms := func(ns int64) float64 { return round3(float64(ns) / 1e6) }
	return Latency{
		Count: d.N,
		Mean:  ms(d.Sum / int64(d.N)),
		P50:   ms(d.Quantile(0.50)),
		P95:   ms(d.Quantile(0.95)),
		P99:   ms(d.Quantile(0.99)),
		Max:   ms(d.Max),
	}
}

// round3 keeps three decimals: microseconds in a millisecond figure, and no
// fifteen-digit noise in the JSON line.
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }
