// Package redial is the one retry schedule of the gateway's long-lived
// links, the wallet link and the NATS connection: exponential backoff with
// jitter, cenkalti/backoff's ExponentialBackOff with the gateway's settings,
// so that both links wait alike and nodes do not redial in step.
package redial

import (
	"time"

	"github.com/cenkalti/backoff/v5"
)

// Backoff yields the waits before successive redials: ±50% of jitter around
// an interval that starts at the minimum and doubles up to the maximum; a
// wait never exceeds the maximum. It is not safe for concurrent use.
type Backoff struct {
	b backoff.ExponentialBackOff
}

// New returns a Backoff from lo doubling to hi (hi is raised to lo if it is
// smaller).
func New(lo, hi time.Duration) *Backoff {
	b := &Backoff{b: backoff.ExponentialBackOff{
		InitialInterval:     lo,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         max(hi, lo),
	}}
	b.Reset()
	return b
}

// Next returns the wait before the next attempt and doubles the interval.
func (b *Backoff) Next() time.Duration {
	// ExponentialBackOff caps the interval, not the jitter around it.
	return min(b.b.NextBackOff(), b.b.MaxInterval)
}

// Reset starts again from the minimum, as after a link came up.
func (b *Backoff) Reset() { b.b.Reset() }

// ByAttempt is Next for APIs that count the failed attempts themselves and
// start again from 1 after a success, such as nats.CustomReconnectDelay:
// attempt 1 starts again from the minimum.
func (b *Backoff) ByAttempt(attempt int) time.Duration {
	if attempt <= 1 {
		b.Reset()
	}
	return b.Next()
}
