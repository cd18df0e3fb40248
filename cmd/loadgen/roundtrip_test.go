package main

import (
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/config"
)

func TestEchoClosedLoop(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Gateway.RateLimit.PerSecond, c.Gateway.RateLimit.Burst = 1e6, 1e6 // a closed loop exceeds 50/s
	})
	o := DefaultEcho()
	o.Common = common(t, n, 10)
	o.Rate, o.Warmup, o.Duration = 0, 100*time.Millisecond, 300*time.Millisecond
	r, err := runRoundTrips(ctxFor(t), "echo", o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 10)
	rt := r.RoundTrip
	if rt.Replies == 0 || rt.Replies != rt.Sent || rt.Failures != 0 || rt.Timeouts != 0 {
		t.Errorf("round trips %+v: want every ping answered", rt)
	}
	checkLatency(t, "rtt", rt.RttMs)
	if !r.OK {
		t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
	}
}

// Against the default per-connection limit, a closed loop is refused, and
// the report says what to do about it.
func TestEchoRateLimited(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultEcho()
	o.Common = common(t, n, 2)
	o.Rate, o.Window, o.Warmup, o.Duration, o.Drain = 0, 8, 0, 300*time.Millisecond, 100*time.Millisecond
	r, err := runRoundTrips(ctxFor(t), "echo", o)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.Errors["exception: rate limit exceeded"] == 0 {
		t.Fatalf("ok %v, errors %v: want rate-limit exceptions", r.OK, r.Errors)
	}
	found := false
	for _, w := range r.Warnings {
		found = found || w == "the server's per-connection rate limit refused requests: lower --rate, or raise gateway.rateLimit for the benchmark"
	}
	if !found {
		t.Errorf("warnings %q: want the rate-limit hint", r.Warnings)
	}
}

func TestWallet(t *testing.T) {
	n := startNode(t, func(c *config.Config) {
		c.Wallet.Simulator, c.Wallet.Host, c.Wallet.Port = true, "127.0.0.1", gt.FreePort(t)
	})
	waitReady(t, n)
	o := DefaultWallet()
	o.Common = common(t, n, 10)
	o.Rate, o.Warmup, o.Duration = 40, 100*time.Millisecond, 400*time.Millisecond
	r, err := runRoundTrips(ctxFor(t), "wallet", o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 10)
	rt := r.RoundTrip
	// 10 clients at 40/s for 400 ms: about 160 balances.
	if rt.Replies < 40 || rt.Replies != rt.Sent || rt.Failures != 0 || rt.Timeouts != 0 {
		t.Errorf("round trips %+v: want ~160 getBalance answered", rt)
	}
	checkLatency(t, "rtt", rt.RttMs)
	if r.CPU == nil || r.CPU.Op != "round trip" {
		t.Errorf("cpu %+v", r.CPU)
	}
}
