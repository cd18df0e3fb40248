package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gamegate/gamegate/modules/config"
)

// The fanout scenario with Socket.IO clients on long-polling, flat out and
// paced: every broadcast reaches every member of its room once, and the
// server's heartbeat, every 50 ms here, is answered all along (a missed
// one would end the session: a dropped connection).
func TestFanoutPolling(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Gateway.PingInterval, c.Gateway.PongTimeout = 50*time.Millisecond, 300*time.Millisecond
	})
	for _, paced := range []bool{false, true} {
		name := map[bool]string{false: "flat-out", true: "paced"}[paced]
		t.Run(name, func(t *testing.T) {
			o := DefaultFanout()
			o.Common = common(t, n, 20)
			o.Proto, o.Transport, o.Reader = "socketio", "polling", "goroutine"
			o.UserPrefix, o.RoomPrefix = name+"-", name+"-"
			o.Rooms, o.Messages, o.Warmup, o.CheckClients = 2, 60, 4, 2
			if paced {
				o.Messages, o.Rate, o.Duration = 0, 100, 400*time.Millisecond
			}
			r, err := runFanout(ctxFor(t), o)
			if err != nil {
				t.Fatal(err)
			}
			checkConnected(t, r, 20)
			f := r.Fanout
			if f.Broadcasts < 20 || f.Expected != 10*f.Broadcasts || f.Received != f.Expected || f.Lost != 0 || f.Duplicates != 0 || f.Unexpected != 0 {
				t.Errorf("fanout %+v: want every broadcast received once by the 10 members of its room", f)
			}
			checkLatency(t, "delivery", f.LatencyMs)
			if f.CheckLatencyMs == nil || int64(f.LatencyMs.Count+f.CheckLatencyMs.Count) != f.Received {
				t.Errorf("latency samples %d + check %+v, want one per delivery (%d)", f.LatencyMs.Count, f.CheckLatencyMs, f.Received)
			}
			if r.Loadgen.Transport != "polling" || r.Loadgen.Reader != "goroutine" {
				t.Errorf("loadgen %+v: want polling clients", r.Loadgen)
			}
			if !r.OK {
				t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
			}
			var summary strings.Builder
			r.WriteSummary(&summary)
			if !strings.Contains(summary.String(), "long-polling") {
				t.Errorf("summary does not say the clients polled:\n%s", &summary)
			}
		})
	}
}

// Polling clients in two worker processes, dialling from two source
// addresses.
func TestFanoutPollingWorkers(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultFanout()
	o.Common = common(t, n, 10)
	o.Proto, o.Transport, o.Reader = "socketio", "polling", "goroutine"
	o.Workers, o.SourceAddrs, o.Messages = 2, 2, 20
	r, err := runFanout(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 10)
	if f := r.Fanout; f.Expected != 200 || f.Received != 200 || f.Lost != 0 || !r.OK {
		t.Errorf("fanout %+v, warnings %v, errors %v: want 200 deliveries", f, r.Warnings, r.Errors)
	}
}

// Idle polling clients each hold a GET; a refused token is the CONNECT's
// connect_error, as over a WebSocket.
func TestConnectionsPolling(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultConnections()
	o.Common = common(t, n, 5)
	o.Proto, o.Transport, o.Reader = "socketio", "polling", "goroutine"
	o.Hold = 100 * time.Millisecond
	r, err := runConnections(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 5)
	if !r.OK {
		t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
	}
	o.Secret = "not-the-secret"
	if _, err := runConnections(ctxFor(t), o); err == nil || !strings.Contains(err.Error(), "connect_error") {
		t.Fatalf("err %v, want the connect_error", err)
	}
}

// pollConn against a server that is not the gateway: answers in chunks, a
// connection closed after an answer (the next request dials again), and
// a close packet.
func TestPollConn(t *testing.T) {
	var mu sync.Mutex
	var posts []string
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		switch {
		case q.Get("sid") == "":
			if r.Header.Get("Authorization") != "Bearer tok" {
				http.Error(w, "no token", http.StatusUnauthorized)
				return
			}
			w.Header().Set("Connection", "close")
			io.WriteString(w, `0{"sid":"s 1","pingInterval":300,"pingTimeout":200}`)
		case q.Get("sid") != "s 1":
			http.Error(w, `{"code":1,"message":"Session ID unknown"}`, http.StatusBadRequest)
		case r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			posts = append(posts, string(b))
			mu.Unlock()
			io.WriteString(w, "ok")
		default:
			mu.Lock()
			gets++
			k := gets
			mu.Unlock()
			switch k {
			case 1: // chunked: two writes with a flush between
				io.WriteString(w, "40/game,{\"sid\":\"x\"}\x1e")
				w.(http.Flusher).Flush()
				io.WriteString(w, `42/game,["connected",{}]`+"\x1e2")
			default:
				io.WriteString(w, "1")
			}
		}
	}))
	defer srv.Close()
	ctx := t.Context()
	d := newDialers(0, time.Second)
	if _, err := dialPolling(ctx, d.netDialer(0), srv.URL+"/socket.io/?EIO=4&transport=polling", nil); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("handshake without a token: %v, want HTTP 401", err)
	}
	p, err := dialPolling(ctx, d.netDialer(0), srv.URL+"/socket.io/?EIO=4&transport=polling", http.Header{"Authorization": {"Bearer tok"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.CloseNow()
	if p.wait != 500*time.Millisecond || !strings.HasSuffix(p.target, "&sid=s+1") {
		t.Errorf("wait %v, target %q", p.wait, p.target)
	}
	var got []string
	for range 4 {
		b, err := p.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{`0{"sid":"s 1","pingInterval":300,"pingTimeout":200}`, `40/game,{"sid":"x"}`, `42/game,["connected",{}]`, "2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("packets %q, want %q", got, want)
	}
	if err := p.Write(ctx, []byte("3")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Read(ctx); err != errSessionClosed {
		t.Errorf("after the close packet: %v, want %v", err, errSessionClosed)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(posts, "|") != "3" {
		t.Errorf("posts %q", posts)
	}
}
