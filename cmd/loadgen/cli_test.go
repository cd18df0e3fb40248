package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"slices"
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
		{"fanout", "--reader", "threads"}, {"fanout", "--clients", "10", "--check-clients", "11"}, {"echo", "--server-pid", "x"},
		{"fanout", "--url", "http://127.0.0.1:1", "--url", "ws://127.0.0.1:2"},
		// Long-polling is Socket.IO's, read by a goroutine per client, for fanout and connections.
		{"fanout", "--transport", "polling"}, {"fanout", "--proto", "socketio", "--transport", "carrier-pigeon"},
		{"fanout", "--proto", "socketio", "--transport", "polling", "--reader", "epoll"},
		{"fanout", "--proto", "socketio", "--transport", "polling", "--stalled", "1"},
		{"fanout", "--proto", "socketio", "--transport", "polling", "--url", "https://127.0.0.1:1"},
		{"echo", "--proto", "socketio", "--transport", "polling", "--url", "http://127.0.0.1:1"},
		{"wallet", "--proto", "socketio", "--transport", "polling", "--url", "http://127.0.0.1:1"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), args, &stdout, &stderr); code != 2 || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want 2", args, code, &stdout, &stderr)
		}
	}
}

// --url and --server-pid repeat for the nodes of a cluster; the first
// --url replaces the default.
func TestClusterFlags(t *testing.T) {
	cmd, err := parseArgs([]string{"fanout", "--url", "http://a:1", "--url", "http://b:2", "--server-pid", "10", "--server-pid", "20",
		"--broker-pid", "30", "--reader", "goroutine", "--check-clients", "5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cmd.common
	if o.URL != "http://a:1" || !slices.Equal(o.OtherURLs, []string{"http://b:2"}) || !slices.Equal(o.ServerPIDs, []int{10, 20}) ||
		o.BrokerPID != 30 || o.Reader != "goroutine" {
		t.Errorf("options %+v", *o)
	}
	cmd, err = parseArgs([]string{"echo"}, io.Discard)
	if err != nil || cmd.common.URL != "http://127.0.0.1:8080" || cmd.common.OtherURLs != nil || cmd.common.Reader != defaultReader ||
		cmd.common.Transport != "websocket" {
		t.Errorf("defaults %+v, %v", cmd.common, err)
	}
}

// Polling clients read with a goroutine each: the default reader follows.
func TestPollingFlags(t *testing.T) {
	cmd, err := parseArgs([]string{"fanout", "--proto", "socketio", "--transport", "polling"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cmd.common
	if o.Transport != "polling" || o.Reader != "goroutine" || o.validate() != nil {
		t.Errorf("options %+v, %v", *o, o.validate())
	}
	urls, err := o.clientURLs()
	if err != nil || len(urls) != 1 || urls[0] != "http://127.0.0.1:8080/socket.io/?EIO=4&transport=polling" {
		t.Errorf("urls %q, %v", urls, err)
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
