package frame

import (
	"testing"
	"time"
)

// waitFor retries cond until it returns nil, failing the test with cond's
// last error after a few seconds.
func waitFor(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}
