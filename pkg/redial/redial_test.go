package redial_test

import (
	"testing"
	"time"

	"github.com/gamegate/gamegate/pkg/redial"
)

// The waits double from the minimum with ±50% of jitter, never pass the
// maximum, and start again from the minimum after Reset (round 1) or at
// attempt 1 (round 2, which follows round 1 without a Reset).
func TestSchedule(t *testing.T) {
	const lo, hi = 100 * time.Millisecond, time.Second
	b := redial.New(lo, hi)
	check := func(step int, d, interval time.Duration) {
		t.Helper()
		if d < interval/2 || d > min(interval*3/2, hi) {
			t.Fatalf("wait %d = %v, want %v ±50%% and at most %v", step, d, interval, hi)
		}
	}
	for round := range 3 {
		interval := lo
		for step := 1; step <= 8; step++ {
			var d time.Duration
			if round == 2 {
				d = b.ByAttempt(step)
			} else {
				d = b.Next()
			}
			check(step, d, interval)
			interval = min(2*interval, hi)
		}
		if round == 0 {
			b.Reset()
		}
	}
}

func TestMaxBelowMinIsRaised(t *testing.T) {
	b := redial.New(time.Second, time.Millisecond)
	for range 4 {
		if d := b.Next(); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("wait %v, want 0.5s..1s", d)
		}
	}
}
