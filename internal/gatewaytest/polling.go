package gatewaytest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Polling is a raw Engine.IO long-polling client: it speaks the packets and
// payloads by hand, one request at a time, so that tests see the exact
// wire. Its requests go to Base: a node, or whatever stands in front of
// nodes.
type Polling struct {
	t    testing.TB
	http *http.Client
	Base string // http://host:port
	SID  string
	// Open is the handshake's answer, the open packet.
	Open string
}

// OpenPolling opens a long-polling session at base's /socket.io/ and reads
// its open packet.
func OpenPolling(t testing.TB, base string) *Polling {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	p := &Polling{t: t, http: &http.Client{Transport: tr}, Base: base}
	resp, body := p.Request(http.MethodGet, "/socket.io/?EIO=4&transport=polling", nil, "")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(body, "0{") {
		t.Fatalf("handshake: %d %s", resp.StatusCode, body)
	}
	var open struct{ SID string }
	if err := json.Unmarshal([]byte(body[1:]), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %s: %v", body, err)
	}
	p.SID, p.Open = open.SID, body
	return p
}

// Request sends method to p.Base+path with header and body, and returns
// the answer and its body, failing the test after Timeout.
func (p *Polling) Request(method, path string, header http.Header, body string) (*http.Response, string) {
	p.t.Helper()
	resp, b, err := p.try(method, path, header, body)
	if err != nil {
		p.t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp, b
}

func (p *Polling) try(method, path string, header http.Header, body string) (*http.Response, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.Base+path, strings.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if method == http.MethodPost && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8") // as socket.io-client sends
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, string(b), err
}

// Path is the session's request path for transport.
func (p *Polling) Path(transport string) string {
	return "/socket.io/?EIO=4&transport=" + transport + "&sid=" + url.QueryEscape(p.SID)
}

// Do sends one request of the session and returns its status and body.
func (p *Polling) Do(method, body string) (int, string) {
	p.t.Helper()
	resp, b := p.Request(method, p.Path("polling"), nil, body)
	return resp.StatusCode, b
}

// Get polls once and returns the answer's packets, failing unless it is
// 200.
func (p *Polling) Get() []string {
	p.t.Helper()
	code, body := p.Do(http.MethodGet, "")
	if code != http.StatusOK {
		p.t.Fatalf("GET: %d %s", code, body)
	}
	return strings.Split(body, "\x1e")
}

// Answer is a request's outcome, for requests made in the background.
type Answer struct {
	Status int
	Body   string
	Err    error
}

// GetAsync polls once in the background; the channel gets the answer.
func (p *Polling) GetAsync() <-chan Answer {
	got := make(chan Answer, 1)
	go func() {
		resp, body, err := p.try(http.MethodGet, p.Path("polling"), nil, "")
		a := Answer{Body: body, Err: err}
		if resp != nil {
			a.Status = resp.StatusCode
		}
		got <- a
	}()
	return got
}

// Post sends packets as one payload, failing unless it is answered 200
// "ok".
func (p *Polling) Post(packets ...string) {
	p.t.Helper()
	if code, body := p.Do(http.MethodPost, strings.Join(packets, "\x1e")); code != http.StatusOK || body != "ok" {
		p.t.Fatalf("POST: %d %s", code, body)
	}
}

// Connect joins namespace /game with tok and returns the socket id, once
// the CONNECT reply and `connected` have come.
func (p *Polling) Connect(tok string) string {
	p.t.Helper()
	p.Post(`40/game,{"token":"` + tok + `"}`)
	got := p.Get()
	var reply struct{ SID string }
	if len(got) != 2 || !strings.HasPrefix(got[0], "40/game,") || json.Unmarshal([]byte(got[0][len("40/game,"):]), &reply) != nil ||
		!strings.HasPrefix(got[1], `42/game,["connected",{"clientId":"`+reply.SID+`"`) {
		p.t.Fatalf("connect: %q", got)
	}
	return reply.SID
}
