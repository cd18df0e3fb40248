package walletsim_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// start serves a simulator on a free loopback port until the test ends.
func start(t *testing.T, opts walletsim.Options) (*walletsim.Server, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := walletsim.New(opts)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Serve(ln); !errors.Is(err, walletsim.ErrServerClosed) {
			t.Errorf("Serve = %v, want ErrServerClosed", err)
		}
	})
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		wg.Wait()
	})
	return s, ln.Addr().String()
}

// gateway is a raw client of the wallet link, one frame at a time.
type gateway struct {
	t    *testing.T
	conn net.Conn
	r    frame.Reader
	seq  int
}

// message holds the fields of every reply and push the tests read.
type message struct {
	walletproto.Envelope
	walletproto.BalanceChanged
}

func dial(t *testing.T, addr string) *gateway {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	g := &gateway{t: t, conn: conn, r: frame.LengthPrefix{}.NewReader(conn, 1<<20)}
	if m := g.call(walletproto.Hello{NodeID: t.Name()}); !m.OK {
		t.Fatalf("hello: %+v", m)
	}
	return g
}

func (g *gateway) writeRaw(b []byte) {
	g.t.Helper()
	if _, err := g.conn.Write(b); err != nil {
		g.t.Fatal(err)
	}
}

// send writes a request and returns its requestId.
func (g *gateway) send(typ string, body any) string {
	g.t.Helper()
	g.seq++
	id := strconv.Itoa(g.seq)
	g.write(walletproto.Header{Type: typ, RequestID: id}, body)
	return id
}

// ack acknowledges the push with pushID.
func (g *gateway) ack(pushID string) {
	g.t.Helper()
	g.write(walletproto.Header{Type: walletproto.TypePushAck, PushID: pushID})
}

// write frames one message made of parts.
func (g *gateway) write(parts ...any) {
	g.t.Helper()
	msg, err := walletproto.JSON{}.Append(nil, parts...)
	if err != nil {
		g.t.Fatal(err)
	}
	var out []byte
	w := frame.LengthPrefix{}.NewWriter(writerFunc(func(p []byte) (int, error) { out = append(out, p...); return len(p), nil }), 1<<20)
	if err := w.WriteFrame(msg); err != nil {
		g.t.Fatal(err)
	}
	_ = w.Flush()
	g.writeRaw(out)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func (g *gateway) read() message {
	g.t.Helper()
	_ = g.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	body, err := g.r.ReadFrame()
	if err != nil {
		g.t.Fatalf("read: %v", err)
	}
	var m message
	if err := (walletproto.JSON{}).Decode(body, &m); err != nil {
		g.t.Fatalf("decode %s: %v", body, err)
	}
	return m
}

// call sends a request and returns its reply, which must come next.
func (g *gateway) call(req walletproto.Message) message {
	g.t.Helper()
	id := g.send(req.MessageType(), req)
	m := g.read()
	if m.Type != req.MessageType() || m.RequestID != id {
		g.t.Fatalf("got %+v, want the reply to %s #%s", m, req.MessageType(), id)
	}
	return m
}

// pushesUntilPong pings and returns the pushes that arrive before the
// pong: everything the wallet queued for this link before the ping.
func (g *gateway) pushesUntilPong() []walletproto.BalanceChanged {
	g.t.Helper()
	var pushes []walletproto.BalanceChanged
	for _, m := range g.pushMessagesUntilPong() {
		pushes = append(pushes, m.BalanceChanged)
	}
	return pushes
}

// pushMessagesUntilPong is pushesUntilPong with the pushes' headers.
func (g *gateway) pushMessagesUntilPong() []message {
	g.t.Helper()
	id := g.send(walletproto.TypePing, walletproto.Ping{})
	var pushes []message
	for {
		m := g.read()
		switch {
		case m.Type == walletproto.TypePing && m.RequestID == id:
			return pushes
		case m.Type == walletproto.TypeBalanceChanged && m.RequestID == "":
			pushes = append(pushes, m)
		default:
			g.t.Fatalf("unexpected %+v", m)
		}
	}
}

func TestGetBalanceOfANewUser(t *testing.T) {
	_, addr := start(t, walletsim.Options{Currency: "EUR", InitialBalance: 500})
	m := dial(t, addr).call(walletproto.GetBalance{UserID: "u1"})
	if !m.OK || m.Balance != 500 || m.Currency != "EUR" {
		t.Errorf("reply = %+v, want ok, 500 EUR", m)
	}
}

func TestDebitAndCreditPushTheChange(t *testing.T) {
	_, addr := start(t, walletsim.Options{InitialBalance: 500})
	g := dial(t, addr)
	if m := g.call(walletproto.Debit{UserID: "u1", Amount: 200, TxID: "t1"}); !m.OK || m.Balance != 300 {
		t.Fatalf("debit reply = %+v, want ok, balance 300", m)
	}
	if m := g.read(); m.Type != walletproto.TypeBalanceChanged || m.UserID != "u1" || m.Balance != 300 || m.TxID != "t1" || m.RequestID != "" {
		t.Fatalf("push = %+v", m)
	}
	if m := g.call(walletproto.Credit{UserID: "u1", Amount: 50, Currency: "USD", TxID: "t2"}); !m.OK || m.Balance != 350 {
		t.Fatalf("credit reply = %+v, want ok, balance 350", m)
	}
	if pushes := g.pushesUntilPong(); len(pushes) != 1 || pushes[0].Balance != 350 {
		t.Errorf("pushes after credit = %+v", pushes)
	}
}

func TestTransferIsIdempotentByTxID(t *testing.T) {
	s, addr := start(t, walletsim.Options{InitialBalance: 500})
	g := dial(t, addr)
	first := g.call(walletproto.Debit{UserID: "u1", Amount: 100, TxID: "same"})
	if pushes := g.pushesUntilPong(); len(pushes) != 1 {
		t.Fatalf("%d pushes after the first debit, want 1", len(pushes))
	}
	again := g.call(walletproto.Debit{UserID: "u1", Amount: 100, TxID: "same"})
	if again.OK != first.OK || again.Balance != first.Balance || again.Balance != 400 {
		t.Errorf("repeat = %+v, first = %+v", again, first)
	}
	if pushes := g.pushesUntilPong(); len(pushes) != 0 {
		t.Errorf("the repeat pushed %+v", pushes)
	}
	if b := s.Balance("u1"); b.Balance != 400 {
		t.Errorf("balance = %d, want 400: debited once", b.Balance)
	}
}

func TestInsufficientFunds(t *testing.T) {
	s, addr := start(t, walletsim.Options{InitialBalance: 100})
	g := dial(t, addr)
	m := g.call(walletproto.Debit{UserID: "u1", Amount: 101, TxID: "t1"})
	if m.OK || !errors.Is(m.Err(), walletproto.ErrInsufficientFunds) {
		t.Fatalf("reply = %+v, want INSUFFICIENT_FUNDS", m)
	}
	if pushes := g.pushesUntilPong(); len(pushes) != 0 {
		t.Errorf("a refused debit pushed %+v", pushes)
	}
	if b := s.Balance("u1"); b.Balance != 100 {
		t.Errorf("balance = %d, want 100", b.Balance)
	}
	if m := g.call(walletproto.Debit{UserID: "u1", Amount: 100, TxID: "t2"}); !m.OK || m.Balance != 0 {
		t.Errorf("debit of the whole balance = %+v, want ok, 0", m)
	}
}

func TestBadRequests(t *testing.T) {
	_, addr := start(t, walletsim.Options{InitialBalance: 100})
	g := dial(t, addr)
	tests := []struct {
		name     string
		typ      string
		body     any
		wantCode string
	}{
		{"getBalance without userId", walletproto.TypeGetBalance, walletproto.GetBalance{}, walletproto.CodeBadRequest},
		{"debit without userId", walletproto.TypeDebit, walletproto.Transfer{Amount: 1, TxID: "a"}, walletproto.CodeBadRequest},
		{"debit of 0", walletproto.TypeDebit, walletproto.Transfer{UserID: "u", TxID: "b"}, walletproto.CodeBadRequest},
		{"negative credit", walletproto.TypeCredit, walletproto.Transfer{UserID: "u", Amount: -5, TxID: "c"}, walletproto.CodeBadRequest},
		{"credit without txId", walletproto.TypeCredit, walletproto.Transfer{UserID: "u", Amount: 5}, walletproto.CodeBadRequest},
		{"fractional amount", walletproto.TypeCredit, map[string]any{"userId": "u", "amount": 1.5, "txId": "d"}, walletproto.CodeBadRequest},
		{"other currency", walletproto.TypeCredit, walletproto.Transfer{UserID: "u", Amount: 5, Currency: "JPY", TxID: "e"}, walletproto.CodeBadRequest},
		{"unknown type", "transfer", walletproto.Transfer{UserID: "u", Amount: 5, TxID: "f"}, walletproto.CodeUnknownType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := g.send(tt.typ, tt.body)
			m := g.read()
			var werr *walletproto.Error
			if m.RequestID != id || m.Type != tt.typ || !errors.As(m.Err(), &werr) || werr.Code != tt.wantCode {
				t.Errorf("reply = %+v (error %v), want %s", m, m.Error, tt.wantCode)
			}
		})
	}
	if pushes := g.pushesUntilPong(); len(pushes) != 0 {
		t.Errorf("bad requests pushed %+v", pushes)
	}
}

func TestPushGoesToTheLinkThatCausedIt(t *testing.T) {
	_, addr := start(t, walletsim.Options{InitialBalance: 100})
	a, b := dial(t, addr), dial(t, addr)
	a.call(walletproto.Credit{UserID: "u1", Amount: 5, TxID: "t1"})
	if pushes := a.pushesUntilPong(); len(pushes) != 1 {
		t.Errorf("causing link got %d pushes, want 1", len(pushes))
	}
	if pushes := b.pushesUntilPong(); len(pushes) != 0 {
		t.Errorf("other link got %+v, want nothing", pushes)
	}
}

func TestChangeFromOutsideIsPushedOnOneLink(t *testing.T) {
	s, addr := start(t, walletsim.Options{InitialBalance: 100})
	a, b := dial(t, addr), dial(t, addr)
	if _, err := s.Credit(walletproto.Transfer{UserID: "u1", Amount: 5, TxID: "t1"}); err != nil {
		t.Fatal(err)
	}
	if n := len(a.pushesUntilPong()) + len(b.pushesUntilPong()); n != 1 {
		t.Errorf("%d pushes over two links, want 1", n)
	}
}

// A push carries a pushId and is kept until acknowledged: sent again, with
// the same pushId, on the next link when its link drops without a pushAck,
// and never again once acknowledged.
func TestUnacknowledgedPushIsResentOnTheNextLink(t *testing.T) {
	s, addr := start(t, walletsim.Options{InitialBalance: 100})
	first := dial(t, addr)
	if _, err := s.Credit(walletproto.Transfer{UserID: "u1", Amount: 5, TxID: "t1"}); err != nil {
		t.Fatal(err)
	}
	sent := first.pushMessagesUntilPong()
	if len(sent) != 1 || sent[0].PushID == "" || sent[0].Balance != 105 {
		t.Fatalf("pushes = %+v, want one with a pushId", sent)
	}
	first.conn.Close() // before any pushAck

	// The resend comes at hello, or once the simulator notices the drop.
	second := dial(t, addr)
	var again []message
	waitfor.Until(t, 5*time.Second, func() error {
		if again = append(again, second.pushMessagesUntilPong()...); len(again) == 0 {
			return errors.New("no push on the next link")
		}
		return nil
	})
	if len(again) != 1 || again[0].PushID != sent[0].PushID || again[0].BalanceChanged != sent[0].BalanceChanged {
		t.Fatalf("on the next link: pushes = %+v, want %+v again", again, sent[0])
	}
	second.ack(again[0].PushID)
	waitfor.Until(t, 5*time.Second, func() error {
		if n := s.Unacked(); n != 0 {
			return fmt.Errorf("%d pushes unacknowledged after the pushAck", n)
		}
		return nil
	})
	second.conn.Close()
	if pushes := dial(t, addr).pushesUntilPong(); len(pushes) != 0 {
		t.Errorf("an acknowledged push was sent again: %+v", pushes)
	}
}

// A change made while no gateway is connected is pushed to the next one,
// and pushIds are unique across simulators (a restarted wallet's too).
func TestPushWithNoGatewayWaitsForTheNextOne(t *testing.T) {
	s, addr := start(t, walletsim.Options{InitialBalance: 100})
	other, otherAddr := start(t, walletsim.Options{InitialBalance: 100})
	for _, sim := range []*walletsim.Server{s, other} {
		if _, err := sim.Debit(walletproto.Transfer{UserID: "u1", Amount: 1, TxID: "t1"}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := dial(t, addr).pushMessagesUntilPong(), dial(t, otherAddr).pushMessagesUntilPong()
	if len(a) != 1 || a[0].Balance != 99 || len(b) != 1 {
		t.Fatalf("pushes to the first gateway = %+v and %+v, want the change made before it came", a, b)
	}
	if a[0].PushID == b[0].PushID {
		t.Errorf("two simulators both used pushId %q", a[0].PushID)
	}
}

// With no gateway to take them, pushes are kept up to a bound; past it the
// oldest is dropped, with a warning, and the next gateway gets the newest.
func TestUnacknowledgedPushesAreBounded(t *testing.T) {
	const bound = 10_000
	core, logs := observer.New(zapcore.WarnLevel)
	s, addr := start(t, walletsim.Options{InitialBalance: 0, Logger: zap.New(core)})
	for i := range bound + 1 {
		if _, err := s.Credit(walletproto.Transfer{UserID: "u1", Amount: 1, TxID: fmt.Sprint("t", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Unacked(); n != bound {
		t.Fatalf("%d pushes kept, want %d", n, bound)
	}
	if n := logs.FilterMessage("too many pushes unacknowledged; the oldest is dropped").Len(); n != 1 {
		t.Errorf("%d warnings, want 1", n)
	}
	pushes := dial(t, addr).pushesUntilPong()
	if len(pushes) != bound || pushes[0].Balance != 2 || pushes[bound-1].Balance != bound+1 {
		t.Errorf("the next gateway got %d pushes, want %d: balances 2 to %d, in order", len(pushes), bound, bound+1)
	}
}

func TestCorruptStreamDropsTheConnection(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	_, addr := start(t, walletsim.Options{Logger: zap.New(core)})
	for name, raw := range map[string][]byte{
		"length 0":   {0, 0, 0, 0},
		"too large":  {0x80, 0, 0, 0},
		"not JSON":   {0, 0, 0, 3, 'a', 'b', 'c'},
		"not object": {0, 0, 0, 2, '[', ']'},
	} {
		t.Run(name, func(t *testing.T) {
			g := dial(t, addr)
			before := logs.FilterMessage("corrupt stream from gateway, connection dropped").Len()
			g.writeRaw(raw)
			_ = g.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := g.r.ReadFrame(); !errors.Is(err, io.EOF) {
				t.Errorf("read after corrupt frame = %v, want io.EOF", err)
			}
			// The log line follows the close; give it a moment.
			waitfor.Until(t, 5*time.Second, func() error {
				if logs.FilterMessage("corrupt stream from gateway, connection dropped").Len() > before {
					return nil
				}
				return errors.New("no log line for the corrupt stream")
			})
		})
	}
}

func TestCloseEndsServeAndConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := walletsim.New(walletsim.Options{})
	served := make(chan error, 1)
	go func() { served <- s.Serve(ln) }()
	g := dial(t, ln.Addr().String())
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-served; !errors.Is(err, walletsim.ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}
	if _, err := g.r.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Errorf("read after Close = %v, want io.EOF", err)
	}
	if err := s.Serve(ln); !errors.Is(err, walletsim.ErrServerClosed) {
		t.Errorf("Serve after Close = %v, want ErrServerClosed", err)
	}
}
