package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gamegate/gamegate/modules/config"
)

// The gateway serves Socket.IO too: the same runs over --proto socketio.
func TestFanoutSocketIO(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultFanout()
	o.Common = common(t, n, 20)
	o.Proto = "socketio"
	o.Rooms, o.Messages = 2, 40
	r, err := runFanout(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 20)
	if f := r.Fanout; f.Expected != 400 || f.Received != 400 || f.Lost != 0 || f.Duplicates != 0 {
		t.Errorf("fanout %+v: want 400 deliveries expected and received", f)
	}
	checkLatency(t, "delivery", r.Fanout.LatencyMs)
	if !r.OK {
		t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
	}
}

func TestEchoSocketIO(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Gateway.RateLimit.PerSecond, c.Gateway.RateLimit.Burst = 1e6, 1e6
	})
	o := DefaultEcho()
	o.Common = common(t, n, 5)
	o.Proto = "socketio"
	o.Rate, o.Warmup, o.Duration = 0, 100*time.Millisecond, 300*time.Millisecond
	r, err := runRoundTrips(ctxFor(t), "echo", o)
	if err != nil {
		t.Fatal(err)
	}
	rt := r.RoundTrip
	if rt.Replies == 0 || rt.Replies != rt.Sent || rt.Failures != 0 || rt.Timeouts != 0 {
		t.Errorf("round trips %+v: want every ping answered, in order", rt)
	}
	checkLatency(t, "rtt", rt.RttMs)
}

// A refused token ends the Socket.IO handshake with connect_error.
func TestSocketIORefused(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultConnections()
	o.Common = common(t, n, 2)
	o.Proto, o.Secret = "socketio", "not-the-secret"
	_, err := runConnections(ctxFor(t), o)
	if err == nil || !strings.Contains(err.Error(), "connect_error") {
		t.Fatalf("err %v, want the connect_error", err)
	}
}

func TestSocketIOParse(t *testing.T) {
	p := socketIO{ns: "/game"}
	for _, c := range []struct {
		frame, event, body string
		answer             bool
	}{
		{`2`, "", "", true},
		{`0{"sid":"x","pingInterval":25000}`, "", "", false},
		{`40/game,{"sid":"x"}`, "", "", false},
		{`42/game,["notification",{"seq":3,"ts":17}]`, "notification", `,{"seq":3,"ts":17}]`, false},
		{`42/game,7["pong",{"ts":1}]`, "pong", `,{"ts":1}]`, false},
		{`44/game,{"message":"token expired"}`, "connect_error", `{"message":"token expired"}`, false},
		{`41/game,`, "disconnect", "", false},
	} {
		f := p.parse([]byte(c.frame))
		if string(f.event) != c.event || string(f.body) != c.body || (f.answer != nil) != c.answer {
			t.Errorf("%s: event %q body %q answer %q", c.frame, f.event, f.body, f.answer)
		}
	}
}
