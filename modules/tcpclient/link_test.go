package tcpclient_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

func TestWalletKilledAndRestartedOnTheSamePort(t *testing.T) {
	_, addr, kill := serveSim(t, "127.0.0.1:0", walletsim.Options{InitialBalance: 10})
	c, logs := start(t, testConfig(t, addr))
	if _, err := c.GetBalance(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}

	kill()
	waitLog(t, logs, "wallet link down", "wallet closed the connection")
	waitfor.Until(t, 5*time.Second, func() error {
		if c.State() == tcpclient.Up {
			return errors.New("link still up after the wallet died")
		}
		return nil
	})

	serveSim(t, addr, walletsim.Options{InitialBalance: 20})
	b, err := c.GetBalance(context.Background(), "u1")
	if err != nil || b.Balance != 20 {
		t.Fatalf("after the restart: GetBalance = %+v, %v; want the new wallet's 20", b, err)
	}
	if c.Reconnects() == 0 {
		t.Error("no reconnect counted")
	}
}

func TestWalletThatNeverAnswersPing(t *testing.T) {
	w := newFakeWallet(t, func(p *peer, req request) bool {
		return p.n == 1 && req.Type == walletproto.TypePing // swallowed
	})
	cfg := testConfig(t, w.addr())
	cfg.PingInterval = 50 * time.Millisecond
	// Long enough that the second connection's pongs, answered at once,
	// always come in time, however busy the machine.
	cfg.PongTimeout = time.Second
	c, logs := start(t, cfg)

	waitLog(t, logs, "wallet link down", "wallet did not answer ping within 1s")
	waitUp(t, c)
	if _, err := c.GetBalance(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if n := w.conns.Load(); n < 2 {
		t.Errorf("%d connections, want a redial", n)
	}
}

func TestWalletDownAtStart(t *testing.T) {
	addr := freeAddr(t)
	c, logs := start(t, testConfig(t, addr)) // returns although nothing listens
	if st := c.State(); st == tcpclient.Up {
		t.Fatalf("state = %v with no wallet", st)
	}
	waitLog(t, logs, "wallet link down", "connection refused")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.GetBalance(ctx, "u1")
	if !errors.Is(err, tcpclient.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error = %v, want ErrUnavailable after the deadline", err)
	}

	waiting := make(chan error, 1)
	go func() {
		_, err := c.GetBalance(context.Background(), "u1") // waits up to CallTimeout
		waiting <- err
	}()
	serveSim(t, addr, walletsim.Options{})
	if err := <-waiting; err != nil {
		t.Fatalf("call waiting for the link: %v", err)
	}
}

// Calls in flight when the link drops fail at once with ErrConnectionLost,
// and a money request is never sent again.
func TestInFlightCallsFailAtOnceAndAreNeverResent(t *testing.T) {
	const inFlight = 20
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if p.n == 1 && req.Type == walletproto.TypeDebit {
			if req.TxID == fmt.Sprint("tx-", inFlight-1) {
				p.conn.Close() // with every debit unanswered
			}
			return true
		}
		return false
	})
	c, logs := start(t, testConfig(t, w.addr()))
	waitUp(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	errs := make([]error, inFlight)
	debit := func(i int) {
		_, errs[i] = c.Debit(ctx, walletproto.Transfer{UserID: "u1", Amount: 1, TxID: fmt.Sprint("tx-", i)})
	}
	var wg sync.WaitGroup
	for i := range inFlight - 1 {
		wg.Go(func() { debit(i) })
	}
	waitfor.Until(t, 5*time.Second, func() error {
		if n := w.debits.Load(); n != inFlight-1 {
			return fmt.Errorf("%d debits in flight", n)
		}
		return nil
	})
	debit(inFlight - 1) // the one that makes the wallet close goes last
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, tcpclient.ErrConnectionLost) {
			t.Errorf("call %d: error = %v, want ErrConnectionLost", i, err)
		}
	}
	waitLog(t, logs, "wallet link down", "wallet closed the connection")

	// The next link serves calls, and carried no debit of the lost link.
	if _, err := c.GetBalance(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if n, d := w.conns.Load(), w.debits.Load(); n != 2 || d != inFlight {
		t.Errorf("%d connections, %d debits received; want 2 and %d (none resent)", n, d, inFlight)
	}
}

func TestStateChangesAreObservable(t *testing.T) {
	_, addr, kill := serveSim(t, "127.0.0.1:0", walletsim.Options{})
	core, err := tcpclient.New(testConfig(t, addr), zapNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []tcpclient.State
	cancel := core.Subscribe(func(s tcpclient.State) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, s)
	})
	defer cancel()
	core.Start()
	defer core.Close()
	waitUp(t, core)
	kill()
	waitfor.Until(t, 5*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		want := []tcpclient.State{tcpclient.Connecting, tcpclient.Up, tcpclient.Down, tcpclient.Connecting}
		if len(seen) < len(want) || !slices.Equal(seen[:len(want)], want) {
			return fmt.Errorf("states = %v, want %v first", seen, want)
		}
		return nil
	})
	if core.Reconnects() == 0 {
		t.Error("no reconnect counted")
	}
}

func TestShutdownLetsCallsInFlightFinish(t *testing.T) {
	answer := make(chan struct{})
	release := sync.OnceFunc(func() { close(answer) })
	defer release()
	received := make(chan struct{})
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if req.Type == walletproto.TypeDebit {
			close(received)
			<-answer
		}
		return false
	})
	c, _ := start(t, testConfig(t, w.addr()))

	debit := make(chan error, 1)
	go func() {
		_, err := c.Debit(context.Background(), walletproto.Transfer{UserID: "u1", Amount: 1, TxID: "t1"})
		debit <- err
	}()
	<-received
	stopped := make(chan error, 1)
	go func() { stopped <- c.Shutdown(context.Background()) }()

	waitfor.Until(t, 5*time.Second, func() error { // new calls are refused
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		return errorIs(c.Call(ctx, walletproto.Ping{}, nil), tcpclient.ErrClosed)
	})
	release()
	if err := <-debit; err != nil {
		t.Errorf("debit in flight during shutdown: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if st := c.State(); st != tcpclient.Down {
		t.Errorf("state after Shutdown = %v", st)
	}
}

func TestShutdownGivesUpAtItsDeadline(t *testing.T) {
	w := newFakeWallet(t, func(p *peer, req request) bool { return req.Type == walletproto.TypeDebit })
	c, _ := start(t, testConfig(t, w.addr()))
	waitUp(t, c)
	debit := make(chan error, 1)
	go func() {
		_, err := c.Debit(context.Background(), walletproto.Transfer{UserID: "u1", Amount: 1, TxID: "t1"})
		debit <- err
	}()
	waitfor.Until(t, 5*time.Second, func() error {
		if w.debits.Load() == 0 {
			return errors.New("debit not received yet")
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want its deadline", err)
	}
	if err := <-debit; !errors.Is(err, tcpclient.ErrConnectionLost) || !errors.Is(err, tcpclient.ErrClosed) {
		t.Errorf("debit cut by Shutdown: error = %v, want ErrConnectionLost (client closed)", err)
	}
}
