package tcpclient_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/internal/wallettest"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// A wallet that stops answering (SIGSTOP, say) while calls wait: the link is
// declared dead once nothing has come from it for the pong timeout, the
// calls fail with ErrConnectionLost saying so, and the link comes back when
// the wallet answers again.
func TestWalletThatStopsAnsweringWithCallsPending(t *testing.T) {
	var stopped atomic.Bool
	w := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		if !stopped.Load() {
			_ = reply(wallettest.OK(r, `"balance":7,"currency":"USD"`))
		}
	})
	cfg := testConfig(t, w.Addr())
	cfg.PongTimeout = 500 * time.Millisecond
	c, logs := start(t, cfg)
	waitUp(t, c)

	stopped.Store(true)
	// Idle pings are off (testConfig) and the calls' deadline is far: only
	// the silence while they wait can end them.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const calls = 5
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := c.GetBalance(ctx, "u1")
			errs <- err
		}()
	}
	for range calls {
		err := <-errs
		if !errors.Is(err, tcpclient.ErrConnectionLost) || !strings.Contains(err.Error(), "wallet sent nothing for 500ms with requests pending") {
			t.Fatalf("call to a silent wallet: error = %v, want ErrConnectionLost saying the wallet sent nothing for 500ms", err)
		}
	}
	waitfor.Until(t, 5*time.Second, func() error { // what /readyz reads
		if s := c.State(); s == tcpclient.Up {
			return errors.New("link still up with a silent wallet")
		}
		return nil
	})
	waitLog(t, logs, "wallet link down", "wallet sent nothing for 500ms")

	stopped.Store(false)
	waitUp(t, c)
	if b, err := c.GetBalance(context.Background(), "u1"); err != nil || b.Balance != 7 {
		t.Fatalf("after the wallet answers again: GetBalance = %+v, %v", b, err)
	}
}

// A wallet slow to answer one request, but alive, answers the ping that
// probes it and keeps its link: the request gets its reply however long
// the wallet takes.
func TestSlowReplyFromALiveWalletKeepsTheLink(t *testing.T) {
	var (
		conns  atomic.Int32
		mu     sync.Mutex
		held   func() // the getBalance reply, once asked
		probes int    // pings while it was held
	)
	w := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		mu.Lock()
		defer mu.Unlock()
		switch r.Type {
		case walletproto.TypeHello:
			conns.Add(1)
		case walletproto.TypeGetBalance: // answered after two probes: past the pong timeout
			held = func() { _ = reply(wallettest.OK(r, `"balance":9`)) }
			return
		case walletproto.TypePing:
			_ = reply(wallettest.OK(r, ""))
			if held != nil {
				if probes++; probes == 2 {
					held()
				}
			}
			return
		}
		_ = reply(wallettest.OK(r, ""))
	})
	cfg := testConfig(t, w.Addr())
	cfg.PongTimeout = time.Second // the probe's pong has half of it to arrive
	c, _ := start(t, cfg)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := c.GetBalance(ctx, "u1")
	if err != nil || b.Balance != 9 {
		t.Fatalf("GetBalance = %+v, %v; want the slow reply", b, err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want the first one kept", n)
	}
}
