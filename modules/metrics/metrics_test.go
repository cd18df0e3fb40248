package metrics_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func scrape(t *testing.T, n *gt.Node) string {
	t.Helper()
	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics: %d", resp.StatusCode)
	}
	return string(b)
}

func TestGatewayMetrics(t *testing.T) {
	n := gt.Start(t, gt.Config())
	a, b := n.Dial(t, gt.Token(t, "alice")), n.Dial(t, gt.Token(t, "bob"))
	a.Join("lobby")
	b.Join("lobby")
	a.Send("nope", nil, nil) // unknown events are not labels
	a.Expect("exception")
	if err := n.Emitter.ToRoom(t.Context(), "lobby", "notification", 1); err != nil {
		t.Fatal(err)
	}
	a.Expect("notification")
	b.Expect("notification")
	resp, err := http.Get(n.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	body := scrape(t, n)
	for _, want := range []string{
		"gamegate_ws_connections 2",
		"gamegate_ws_rooms 3",
		`gamegate_ws_messages_in_total{event="joinRoom"} 2`,
		`gamegate_ws_messages_out_total{event="connected"} 2`,
		`gamegate_ws_messages_out_total{event="exception"} 1`,
		`gamegate_ws_messages_out_total{event="joinedRoom"} 2`,
		`gamegate_ws_messages_out_total{event="notification"} 2`,
		"gamegate_ws_slow_consumer_closes_total 0",
		"gamegate_ws_dropped_messages_total 0",
		`gamegate_http_request_duration_seconds_count{code="200",method="GET",route="/healthz"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `event="nope"`) {
		t.Error("an unknown event became a label")
	}
	// The broadcast's fan-out latency, observed once its last member was
	// written to (maybe a moment after the member read it).
	waitfor.Until(t, gt.Timeout, func() error {
		if !strings.Contains(scrape(t, n), "gamegate_ws_fanout_seconds_count 1\n") {
			return fmt.Errorf("no fan-out observed")
		}
		return nil
	})

	_ = b.Conn.CloseNow()
	waitfor.Until(t, gt.Timeout, func() error {
		if !strings.Contains(scrape(t, n), "gamegate_ws_connections 1\n") {
			return fmt.Errorf("connections gauge not 1")
		}
		return nil
	})
}

// A long-poll GET waits for data by design: its duration would swamp the
// REST latency panels, so only the POSTs of /socket.io/ are observed.
func TestLongPollsStayOutOfHTTPLatency(t *testing.T) {
	n := gt.Start(t, gt.Config())
	p := gt.OpenPolling(t, n.URL)
	p.Connect(gt.Token(t, "alice"))
	body := scrape(t, n)
	if !strings.Contains(body, `gamegate_http_request_duration_seconds_count{code="200",method="POST",route="/socket.io/"} 1`+"\n") {
		t.Error("/metrics lacks the POST of /socket.io/")
	}
	if strings.Contains(body, `method="GET",route="/socket.io/"`) {
		t.Error("a long-poll GET was observed as a latency")
	}
}

func TestWalletMetrics(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := gt.Config()
	cfg.Wallet.Simulator, cfg.Wallet.Port = true, port
	n := gt.Start(t, cfg)
	waitfor.Until(t, gt.Timeout, func() error {
		if !strings.Contains(scrape(t, n), "gamegate_wallet_link_state 2\n") {
			return fmt.Errorf("wallet link not up")
		}
		return nil
	})
	c := n.Dial(t, gt.Token(t, "alice"))
	c.Send("getBalance", nil, nil)
	c.Expect("balance")
	body := scrape(t, n)
	for _, want := range []string{
		`gamegate_wallet_call_duration_seconds_count{result="ok",type="getBalance"} 1`,
		`gamegate_wallet_reconnects_total 0`,
		`gamegate_ws_messages_in_total{event="getBalance"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// A REST caller names its own events: each name must not become a series.
// Events no module declared count as "other"; declared ones by name.
func TestRESTEventNamesAreNotLabels(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))
	c.Join("lobby")
	for _, body := range []string{
		`{"roomId":"lobby","message":1}`,
		`{"roomId":"lobby","message":2,"event":"made-up-1"}`,
		`{"roomId":"lobby","message":3,"event":"made-up-2"}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, n.URL+"/notifications/broadcast", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+gt.Token(t, "ops", "admin"))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("broadcast %s: %d", body, resp.StatusCode)
		}
	}
	for _, event := range []string{"notification", "made-up-1", "made-up-2"} {
		c.Expect(event)
	}

	body := scrape(t, n)
	for _, want := range []string{
		`gamegate_ws_messages_out_total{event="notification"} 1`,
		`gamegate_ws_messages_out_total{event="other"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, `event="made-up-`) {
		t.Error("a REST caller's event name became a label")
	}
}
