// Package waitfor is the tests' one way to wait for a condition: poll it
// until it holds, in the manner of nats-server's checkFor, rather than
// sleep for a guessed time.
package waitfor

import (
	"testing"
	"time"
)

// Until polls cond until it returns nil, and fails the test with its last
// error once timeout has passed.
func Until(t testing.TB, timeout time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v: %v", timeout, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
