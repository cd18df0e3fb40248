package httpserver_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// failAfter is the tests' generous bound on anything the server should do
// within a few seconds, on two busy cores under the race detector.
const failAfter = 30 * time.Second

// Thousands of connections that send nothing, and some that send a request
// too slowly, headers or body, are closed by the request timeout; the node
// serves meanwhile.
func TestSilentAndSlowConnectionsAreClosed(t *testing.T) {
	cfg := gt.Config()
	cfg.HTTP.RequestTimeout = time.Second
	n := gt.Start(t, cfg)
	addr := n.Server.Addr().String()
	admin := gt.Token(t, "ops", "admin")

	var hostile []net.Conn
	for range 2000 {
		hostile = append(hostile, dial(t, addr))
	}
	for range 10 {
		hostile = append(hostile,
			trickle(t, addr, "GET /healthz HTTP/1.1\r\nHost: gamegate\r\nX-Pad: "),
			trickle(t, addr, "POST /notifications/broadcast HTTP/1.1\r\nHost: gamegate\r\nAuthorization: Bearer "+admin+
				"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"))
	}

	c := client(t)
	if resp, body := request(t, c, http.MethodGet, n.URL+"/healthz", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %d %s", resp.StatusCode, body)
	}
	if resp, body := request(t, c, http.MethodPost, n.URL+"/notifications/broadcast", admin); resp.StatusCode != http.StatusOK {
		t.Fatalf("broadcast: %d %s", resp.StatusCode, body)
	}
	for _, conn := range hostile {
		expectClosed(t, conn)
	}
	c.CloseIdleConnections()
	waitfor.Until(t, failAfter, func() error {
		if open := n.Server.OpenConnections(); open != 0 {
			return fmt.Errorf("%d connections open", open)
		}
		return nil
	})
}

// At the cap, a new connection gets 503, except for health and metrics, and
// is closed soon whatever it does; once connections close, requests are
// served again.
func TestConnectionCap(t *testing.T) {
	cfg := gt.Config()
	cfg.HTTP.MaxConnections = 50
	cfg.HTTP.RequestTimeout = time.Minute // so that only the cap's own grace can close a silent connection in time
	cfg.Wallet.Simulator, cfg.Wallet.Port = true, gt.FreePort(t)
	n := gt.Start(t, cfg)
	c := client(t)
	waitfor.Until(t, failAfter, func() error {
		if resp, body := request(t, c, http.MethodGet, n.URL+"/readyz", ""); resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/readyz: %d %s", resp.StatusCode, body)
		}
		return nil
	})
	c.CloseIdleConnections()
	waitOpen(t, n, 0)

	held := make([]*gt.Client, 50)
	for i := range held {
		held[i] = n.Dial(t, gt.Token(t, "alice"))
	}
	waitOpen(t, n, 50)

	admin := gt.Token(t, "ops", "admin")
	want := `{"statusCode":503,"message":"too many connections: this node is at its limit of 50 (http.maxConnections); try again later","error":"Service Unavailable"}`
	resp, body := request(t, c, http.MethodPost, n.URL+"/notifications/broadcast", admin)
	if resp.StatusCode != http.StatusServiceUnavailable || body != want || !resp.Close {
		t.Fatalf("broadcast at the cap: %d %s (Connection: close %v)", resp.StatusCode, body, resp.Close)
	}
	if _, resp, err := n.DialRaw(gt.Token(t, "bob"), nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket at the cap: %v %v", resp, err)
	} else if body, _ := io.ReadAll(resp.Body); strings.TrimSpace(string(body)) != want {
		t.Fatalf("WebSocket at the cap: %s", body)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if resp, body := request(t, c, http.MethodGet, n.URL+path, ""); resp.StatusCode != http.StatusOK || !resp.Close {
			t.Fatalf("%s at the cap: %d %s (Connection: close %v)", path, resp.StatusCode, body, resp.Close)
		}
	}
	expectClosed(t, dial(t, n.Server.Addr().String()))
	if got := n.Server.RejectedConnections(); got != 6 {
		t.Fatalf("%d connections rejected, want 6", got)
	}

	for _, h := range held[:10] {
		_ = h.Conn.CloseNow()
	}
	waitOpen(t, n, 40)
	n.Dial(t, gt.Token(t, "bob"))
	if resp, body := request(t, c, http.MethodPost, n.URL+"/notifications/broadcast", admin); resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("broadcast under the cap: %d %s (Connection: close %v)", resp.StatusCode, body, resp.Close)
	}
}

// An upgraded WebSocket is the gateway's: the HTTP timeouts do not end it
// however long it stays quiet.
func TestIdleWebSocketOutlivesHTTPTimeouts(t *testing.T) {
	cfg := gt.Config()
	cfg.HTTP.RequestTimeout, cfg.HTTP.IdleTimeout, cfg.HTTP.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	cfg.Gateway.PingInterval = 100 * time.Millisecond // the client answers the server's pings, and says nothing else
	n := gt.Start(t, cfg)
	ws := n.Dial(t, gt.Token(t, "alice"))
	time.Sleep(time.Second)
	ws.Alive()
	if open := n.Server.OpenConnections(); open != 1 {
		t.Fatalf("%d connections open, want the WebSocket's", open)
	}
}

// client is a keep-alive HTTP client of its own, so that its connections
// are the test's to count and close.
func client(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// request sends a JSON broadcast body with POST, nothing with GET, and a
// bearer token when tok is set.
func request(t *testing.T, c *http.Client, method, url, tok string) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{"roomId":"lobby","message":"gg"}`)
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, strings.TrimSpace(string(b))
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// trickle sends head, then one more byte every 100 ms: ten times faster
// than the request timeout, so every read the server makes succeeds and
// only the request as a whole is late.
func trickle(t *testing.T, addr, head string) net.Conn {
	c := dial(t, addr)
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			time.Sleep(100 * time.Millisecond)
			if _, err := c.Write([]byte("a")); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() { _ = c.Close(); <-done })
	return c
}

// expectClosed reads c to its end, failing if the server has not closed it
// within failAfter.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(failAfter))
	if _, err := io.Copy(io.Discard, c); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection from %s still open after %v", c.LocalAddr(), failAfter)
	}
}

func waitOpen(t *testing.T, n *gt.Node, want int64) {
	t.Helper()
	waitfor.Until(t, failAfter, func() error {
		if open := n.Server.OpenConnections(); open != want {
			return fmt.Errorf("%d connections open, want %d", open, want)
		}
		return nil
	})
}
