package main

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	h := NewHistogram()
	for v := 1; v <= 100_000; v++ {
		h.Record(time.Duration(v) * time.Microsecond)
	}
	d := h.Data()
	for _, q := range []float64{0.5, 0.95, 0.99} {
		want := q * 100_000 * 1e3
		if got := float64(d.Quantile(q)); math.Abs(got-want)/want > 0.01 {
			t.Errorf("q%v = %v, want %v within 1%%", q, got, want)
		}
	}
	if d.Min != 1e3 || d.Max != 1e8 || d.N != 100_000 {
		t.Errorf("min %d max %d n %d", d.Min, d.Max, d.N)
	}
	s := d.Summary()
	if s.P50 > s.P95 || s.P95 > s.P99 || s.P99 > s.Max || s.Max != 100 {
		t.Errorf("summary %+v", s)
	}
}

// Merged halves give what one histogram of everything gives: that is how
// the workers' figures are combined.
func TestHistogramMerge(t *testing.T) {
	all, odd, even := NewHistogram(), NewHistogram(), NewHistogram()
	for v := range 5000 {
		d := time.Duration(v*v) * time.Nanosecond
		all.Record(d)
		if v%2 == 0 {
			even.Record(d)
		} else {
			odd.Record(d)
		}
	}
	merged := even.Data()
	merged.Merge(odd.Data())
	var empty HistData
	merged.Merge(empty)
	want := all.Data()
	if merged.N != want.N || merged.Min != want.Min || merged.Max != want.Max || merged.Sum != want.Sum {
		t.Fatalf("merged %d/%d/%d, want %d/%d/%d", merged.N, merged.Min, merged.Max, want.N, want.Min, want.Max)
	}
	for _, q := range []float64{0.5, 0.9, 0.999} {
		if merged.Quantile(q) != want.Quantile(q) {
			t.Errorf("q%v: merged %d, want %d", q, merged.Quantile(q), want.Quantile(q))
		}
	}
}

// The quantiles never pass the maximum, though a bucket's middle may.
func TestHistogramClamps(t *testing.T) {
	h := NewHistogram()
	h.Record(1000)
	h.Record(-5 * time.Millisecond) // a clock step
	d := h.Data()
	if d.Min != 0 || d.Quantile(0.99) != 1000 || d.Quantile(0.5) != 0 {
		t.Errorf("min %d p50 %d p99 %d", d.Min, d.Quantile(0.5), d.Quantile(0.99))
	}
	if (HistData{}).Summary() != (Latency{}) {
		t.Error("an empty histogram has a summary")
	}
}

func TestBuckets(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<20; v += 1 + v/1000 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d < %d: not monotonic", v, b, prev)
		}
		if mid := bucketMid(b); math.Abs(float64(mid-v)) > float64(v)/subCount+1 {
			t.Fatalf("bucketMid(bucketOf(%d)) = %d: off by more than 1/%d", v, mid, subCount)
		}
		prev = b
	}
	if bucketOf(maxValue) >= nBuckets {
		t.Fatalf("bucketOf(maxValue) = %d, beyond %d buckets", bucketOf(maxValue), nBuckets)
	}
}
