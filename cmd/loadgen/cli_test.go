package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"fanout", "--help"}, {"wallet", "-h"}} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 0 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "usage: loadgen") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, &stdout, &stderr)
		}
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{
		nil, {"stampede"}, {"fanout", "--rooms", "0"}, {"echo", "--url", "ftp://x"}, {"fanout", "extra"},
		{"connections", "--clients", "30000", "--url", "http://192.0.2.1:8080"}, // 127.0.0.N sources need a loopback target
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 2 || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2", args, code, &stdout, &stderr)
		}
	}
}

// The command line end to end: one JSON line on stdout, the summary on
// stderr, exit 0.
func TestRunConnections(t *testing.T) {
	n := startNode(t, nil)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"connections", "--url", n.URL, "--secret", "x", "--clients", "3", "--hold", "0s", "--progress", "0",
		"--server-pid", "0"}, &stdout, &stderr)
	// --secret x is wrong: every handshake is refused.
	if code != 1 || !strings.Contains(stderr.String(), "HTTP 401") {
		t.Fatalf("wrong secret: exit %d, stderr %s", code, &stderr)
	}
	t.Setenv("JWT_SECRET", gt.Secret)
	stdout.Reset()
	stderr.Reset()
	// The node runs in this process: its pid is ours.
	code = run(t.Context(), []string{"connections", "--url", n.URL, "--clients", "3", "--hold", "0s", "--progress", "0",
		"--server-pid", strconv.Itoa(os.Getpid())}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, &stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var r Report
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &r) != nil {
		t.Fatalf("stdout %q: want one JSON line", &stdout)
	}
	if r.Scenario != "connections" || r.Connect.Connected != 3 || !r.OK || r.Memory == nil || !strings.HasPrefix(r.Memory.Source, "/proc/") {
		t.Errorf("report %s", lines[0])
	}
	if !strings.Contains(stderr.String(), "connect     3/3 clients") {
		t.Errorf("summary %s", &stderr)
	}
}
