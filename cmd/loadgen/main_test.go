package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/config"
)

// Every run closes its clients, workers and HTTP connections; nothing may
// outlive the tests. The test binary doubles as the worker process.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) != "" {
		os.Exit(serveWorker(os.Stdin, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}

// startNode starts a gateway with the test configuration, edited by edit.
func startNode(t *testing.T, edit func(*config.Config)) *gt.Node {
	t.Helper()
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	if edit != nil {
		edit(&cfg)
	}
	return gt.Start(t, cfg)
}

// common returns options for a short run against n, logging progress to
// the test log.
func common(t *testing.T, n *gt.Node, clients int) Common {
	o := defaultCommon(clients)
	o.URL, o.Secret = n.URL, gt.Secret
	o.Progress, o.Log = 100*time.Millisecond, testLog{t}
	return o
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

// checkLatency fails unless l has samples and its figures are ordered.
func checkLatency(t *testing.T, what string, l Latency) {
	t.Helper()
	if l.Count == 0 || !(0 <= l.P50 && l.P50 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("%s: %+v, want samples with p50 ≤ p95 ≤ p99 ≤ max", what, l)
	}
}

func checkConnected(t *testing.T, r *Report, clients int) {
	t.Helper()
	c := r.Connect
	if c.Clients != clients || c.Connected != clients || c.Failed != 0 || r.Dropped != 0 {
		t.Errorf("connect %+v, dropped %d: want all %d connected and kept", c, r.Dropped, clients)
	}
	checkLatency(t, "handshake", c.HandshakeMs)
	if c.PerSec <= 0 {
		t.Errorf("connect rate %v", c.PerSec)
	}
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitReady waits for the node's /readyz to say 200.
func waitReady(t *testing.T, n *gt.Node) {
	t.Helper()
	waitfor.Until(t, 10*time.Second, func() error {
		resp, err := http.Get(n.URL + "/readyz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return &notReady{string(b)}
		}
		return nil
	})
	http.DefaultClient.CloseIdleConnections()
}

type notReady struct{ body string }

func (e *notReady) Error() string { return "not ready: " + e.body }
