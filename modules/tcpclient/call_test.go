package tcpclient_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

func TestCallsAgainstTheSimulator(t *testing.T) {
	_, addr, _ := serveSim(t, "127.0.0.1:0", walletsim.Options{Currency: "EUR", InitialBalance: 1000})
	c, _ := start(t, testConfig(t, addr))
	ctx := context.Background()

	if b, err := c.GetBalance(ctx, "u1"); err != nil || b.Balance != 1000 || b.Currency != "EUR" {
		t.Fatalf("GetBalance = %+v, %v; want 1000 EUR", b, err)
	}
	if b, err := c.Debit(ctx, walletproto.Transfer{UserID: "u1", Amount: 300, TxID: "t1"}); err != nil || b.Balance != 700 {
		t.Fatalf("Debit = %+v, %v; want 700", b, err)
	}
	if b, err := c.Credit(ctx, walletproto.Transfer{UserID: "u1", Amount: 50, TxID: "t2"}); err != nil || b.Balance != 750 {
		t.Fatalf("Credit = %+v, %v; want 750", b, err)
	}
	_, err := c.Debit(ctx, walletproto.Transfer{UserID: "u1", Amount: 751, TxID: "t3"})
	var werr *walletproto.Error
	if !errors.As(err, &werr) || werr.Code != walletproto.CodeInsufficientFunds || !errors.Is(err, walletproto.ErrInsufficientFunds) {
		t.Fatalf("Debit over the balance: error = %v, want a *walletproto.Error INSUFFICIENT_FUNDS", err)
	}
	if err := c.Call(ctx, walletproto.Ping{}, nil); err != nil {
		t.Errorf("Call(ping) = %v", err)
	}
}

func TestManyConcurrentCallsShareTheLink(t *testing.T) {
	_, addr, _ := serveSim(t, "127.0.0.1:0", walletsim.Options{InitialBalance: 1_000_000})
	c, _ := start(t, testConfig(t, addr))
	const callers = 1000
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			b, err := c.Credit(context.Background(), walletproto.Transfer{UserID: fmt.Sprint("u", i%10), Amount: 1, TxID: fmt.Sprint("t", i)})
			if err == nil && b.Balance <= 1_000_000 {
				err = fmt.Errorf("balance %d after a credit", b.Balance)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	for i := range 10 {
		b, err := c.GetBalance(context.Background(), fmt.Sprint("u", i))
		if err != nil {
			t.Fatal(err)
		}
		total += b.Balance - 1_000_000
	}
	if total != callers {
		t.Errorf("credited %d in all, want %d", total, callers)
	}
}

func TestHelloComesFirstAndTheLinkIsUpOnlyAfterItsReply(t *testing.T) {
	firsts := make(chan request, 4)
	answer := make(chan struct{})
	release := sync.OnceFunc(func() { close(answer) })
	defer release()
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if req.Type == walletproto.TypeHello {
			firsts <- req
			<-answer
		}
		return false
	})
	cfg := testConfig(t, w.addr())
	cfg.NodeID = "node-7"
	c, _ := start(t, cfg)

	var hello request
	select {
	case hello = <-firsts:
	case <-time.After(5 * time.Second):
		t.Fatal("no hello")
	}
	if hello.RequestID == "" {
		t.Errorf("hello without a requestId")
	}
	if st := c.State(); st != tcpclient.Connecting {
		t.Errorf("state before the hello reply = %v, want connecting", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := c.GetBalance(ctx, "u1"); !errors.Is(err, tcpclient.ErrUnavailable) {
		t.Errorf("call before the hello reply: error = %v, want ErrUnavailable", err)
	}
	release()
	waitUp(t, c)
	if _, err := c.GetBalance(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
}

func TestNodeIDDefaultsToHostnameAndPID(t *testing.T) {
	nodeIDs := make(chan string, 1)
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if req.Type == walletproto.TypeHello {
			nodeIDs <- req.NodeID
		}
		return false
	})
	cfg := testConfig(t, w.addr())
	cfg.NodeID = ""
	start(t, cfg)
	host, _ := os.Hostname()
	if got, want := <-nodeIDs, fmt.Sprintf("%s-%d", host, os.Getpid()); got != want {
		t.Errorf("nodeId = %q, want %q", got, want)
	}
}
