package tcpclient_test

import (
	"cmp"
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

func TestPushesReachTheirHandlers(t *testing.T) {
	sim, addr, _ := serveSim(t, "127.0.0.1:0", walletsim.Options{InitialBalance: 100})
	rec := &pushRecorder{typ: walletproto.TypeBalanceChanged}
	c, _ := start(t, testConfig(t, addr), rec)

	if _, err := c.Debit(context.Background(), walletproto.Transfer{UserID: "u1", Amount: 30, TxID: "t1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Credit(walletproto.Transfer{UserID: "u2", Amount: 5, TxID: "t2"}); err != nil {
		t.Fatal(err)
	}
	want := []walletproto.BalanceChanged{
		{UserID: "u1", Balance: 70, Currency: "USD", TxID: "t1"},
		{UserID: "u2", Balance: 105, Currency: "USD", TxID: "t2"},
	}
	waitfor.Until(t, 5*time.Second, func() error {
		got, _ := rec.received() // two sources of changes: in either order
		slices.SortFunc(got, func(a, b walletproto.BalanceChanged) int { return cmp.Compare(a.UserID, b.UserID) })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("pushes = %+v, want %+v", got, want)
		}
		return nil
	})
}

func TestPushHandlerErrorIsLogged(t *testing.T) {
	sim, addr, _ := serveSim(t, "127.0.0.1:0", walletsim.Options{InitialBalance: 100})
	failing := tcpclient.NewPushHandler(walletproto.TypeBalanceChanged, func(tcpclient.Push) error {
		return errors.New("room gone")
	})
	c, logs := start(t, testConfig(t, addr), failing)
	waitUp(t, c)
	if _, err := sim.Credit(walletproto.Transfer{UserID: "u1", Amount: 5, TxID: "t1"}); err != nil {
		t.Fatal(err)
	}
	waitLog(t, logs, "wallet push handler failed", "room gone")
}

// A reply whose requestId matches no pending call is a push: it goes to the
// handlers of its type, is logged, and the link carries on.
func TestReplyForAnUnknownRequestID(t *testing.T) {
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if req.Type == walletproto.TypeGetBalance && req.UserID == "u1" {
			p.reply(walletproto.Header{Type: walletproto.TypeGetBalance, RequestID: "999999"},
				walletproto.BalanceChanged{UserID: "stray", Balance: 1})
		}
		return false // and the real reply follows
	})
	stray := &pushRecorder{typ: walletproto.TypeGetBalance}
	c, logs := start(t, testConfig(t, w.addr()), stray)

	if b, err := c.GetBalance(context.Background(), "u1"); err != nil || b.Balance != 1000 {
		t.Fatalf("GetBalance = %+v, %v; want the real reply", b, err)
	}
	waitfor.Until(t, 5*time.Second, func() error {
		if got, ids := stray.received(); len(got) != 1 || got[0].UserID != "stray" || ids[0] != "999999" {
			return fmt.Errorf("handler got %+v %v, want the stray reply", got, ids)
		}
		return nil
	})
	e := waitLog(t, logs, "wallet reply for no pending request", "")
	if e.ContextMap()["requestId"] != "999999" {
		t.Errorf("log fields = %v", e.ContextMap())
	}
	if _, err := c.GetBalance(context.Background(), "u2"); err != nil {
		t.Fatal(err)
	}
	if n := w.conns.Load(); n != 1 {
		t.Errorf("%d connections, want the first one kept", n)
	}
}

// A reply that arrives after its caller gave up is no longer pending: it is
// handled as a push, and the link stays up.
func TestReplyAfterTheCallerGaveUp(t *testing.T) {
	gaveUp := make(chan struct{})
	release := sync.OnceFunc(func() { close(gaveUp) })
	defer release()
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if req.Type != walletproto.TypeDebit {
			return false
		}
		<-gaveUp
		p.reply(req.Header, walletproto.BalanceChanged{UserID: req.UserID, Balance: 900, TxID: req.TxID})
		return true
	})
	late := &pushRecorder{typ: walletproto.TypeDebit}
	c, logs := start(t, testConfig(t, w.addr()), late)
	waitUp(t, c)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Debit(ctx, walletproto.Transfer{UserID: "u1", Amount: 100, TxID: "late-1"})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, tcpclient.ErrUnavailable) {
		t.Fatalf("error = %v, want the call's deadline", err)
	}
	release()

	waitfor.Until(t, 5*time.Second, func() error {
		if got, _ := late.received(); len(got) != 1 || got[0].TxID != "late-1" {
			return fmt.Errorf("late reply handler got %+v", got)
		}
		return nil
	})
	waitLog(t, logs, "wallet reply for no pending request", "")
	if _, err := c.GetBalance(context.Background(), "u1"); err != nil {
		t.Fatal(err)
	}
	if n, d := w.conns.Load(), w.debits.Load(); n != 1 || d != 1 {
		t.Errorf("%d connections and %d debits, want 1 and 1", n, d)
	}
}

// A push with a pushId is acknowledged once its handlers have taken it; the
// same pushId resent on the next link (its pushAck lost with the first) is
// acknowledged again but not handled twice; a push without one is handled
// and not acknowledged.
func TestPushIDsAreAcknowledgedAndDeliveredOnce(t *testing.T) {
	acks := make(chan string, 10)
	push := func(p *peer, pushID, txID string) {
		p.send(walletproto.Header{Type: walletproto.TypeBalanceChanged, PushID: pushID},
			walletproto.BalanceChanged{UserID: "u1", Balance: 5, Currency: "USD", TxID: txID})
	}
	w := newFakeWallet(t, func(p *peer, req request) bool {
		switch req.Type {
		case walletproto.TypeHello:
			p.reply(req.Header)
			if p.n == 1 {
				push(p, "p-1", "t1")
				push(p, "", "plain")
			} else {
				push(p, "p-1", "t1") // the wallet never saw the first pushAck
				push(p, "p-2", "t2")
			}
			return true
		case walletproto.TypePushAck:
			acks <- fmt.Sprint(p.n, " ", req.PushID)
			if p.n == 1 {
				p.conn.Close() // the pushAck is lost with the link
			}
			return true
		}
		return false
	})
	rec := &pushRecorder{typ: walletproto.TypeBalanceChanged}
	_, logs := start(t, testConfig(t, w.addr()), rec)

	var got []string
	for _, want := range []string{"1 p-1", "2 p-1", "2 p-2"} {
		select {
		case ack := <-acks:
			got = append(got, ack)
		case <-time.After(5 * time.Second):
			t.Fatalf("pushAcks (link, pushId) = %q, want %q next", got, want)
		}
		if got[len(got)-1] != want {
			t.Fatalf("pushAcks (link, pushId) = %q, want %q next", got, want)
		}
	}
	// Each pushAck follows its push's handlers: all have run.
	pushes, _ := rec.received()
	var txIDs []string
	for _, m := range pushes {
		txIDs = append(txIDs, m.TxID)
	}
	if !slices.Equal(txIDs, []string{"t1", "plain", "t2"}) {
		t.Errorf("handled pushes (txIds) = %q, want t1, plain and t2 once each", txIDs)
	}
	waitLog(t, logs, "wallet push resent after its pushAck was lost", "")
}
