package tcpclient_test

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testConfig is a wallet config for addr with intervals short enough for
// tests; pings are off unless a test sets PingInterval.
func testConfig(t testing.TB, addr string) config.Wallet {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Wallet
	cfg.Host = host
	cfg.Port, _ = strconv.Atoi(port)
	cfg.NodeID = "test-node"
	cfg.BackoffMin = 5 * time.Millisecond
	cfg.BackoffMax = 50 * time.Millisecond
	cfg.PingInterval = time.Hour
	return cfg
}

// start makes and starts a Client whose logs the test can inspect.
func start(t testing.TB, cfg config.Wallet, handlers ...tcpclient.PushHandler) (*tcpclient.Client, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	c, err := tcpclient.New(cfg, zap.New(core), handlers)
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	t.Cleanup(func() { _ = c.Close() })
	return c, logs
}

func waitUp(t testing.TB, c *tcpclient.Client) {
	t.Helper()
	waitfor.Until(t, 5*time.Second, func() error {
		if s := c.State(); s != tcpclient.Up {
			return fmt.Errorf("link is %v, want up", s)
		}
		return nil
	})
}

// waitLog waits for a log entry whose message and error field contain the
// given texts, and returns it.
func waitLog(t testing.TB, logs *observer.ObservedLogs, msg, errText string) observer.LoggedEntry {
	t.Helper()
	var found observer.LoggedEntry
	waitfor.Until(t, 5*time.Second, func() error {
		for _, e := range logs.FilterMessageSnippet(msg).All() {
			if err, _ := e.ContextMap()["error"].(string); strings.Contains(err, errText) {
				found = e
				return nil
			}
		}
		return fmt.Errorf("no log %q with error %q in %d entries", msg, errText, logs.Len())
	})
	return found
}

// serveSim serves a wallet simulator on addr ("127.0.0.1:0" for any port)
// and returns it, its address and a function that kills it.
func serveSim(t testing.TB, addr string, opts walletsim.Options) (*walletsim.Server, string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := walletsim.New(opts)
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.Serve(ln) })
	var once sync.Once
	kill := func() { once.Do(func() { _ = s.Close(); wg.Wait() }) }
	t.Cleanup(kill)
	return s, ln.Addr().String(), kill
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fakeWallet is a raw wallet peer for faults the simulator never makes.
// It answers hello, ping, getBalance and debit like a wallet, except for
// the requests its script handles.
type fakeWallet struct {
	ln     net.Listener
	script func(p *peer, req request) bool // true: handled
	conns  atomic.Int32                    // connections accepted so far
	debits atomic.Int32                    // debit requests received

	mu   sync.Mutex
	open map[net.Conn]struct{}
	wg   sync.WaitGroup
}

// peer is one connection of the fake wallet; n counts from 1.
type peer struct {
	n    int
	conn net.Conn
	mu   sync.Mutex
}

type request struct {
	walletproto.Header
	walletproto.Hello
	walletproto.Transfer
}

func newFakeWallet(t testing.TB, script func(p *peer, req request) bool) *fakeWallet {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w := &fakeWallet{ln: ln, script: script, open: map[net.Conn]struct{}{}}
	w.wg.Go(w.accept)
	t.Cleanup(w.close)
	return w
}

func (w *fakeWallet) addr() string { return w.ln.Addr().String() }

func (w *fakeWallet) accept() {
	for {
		conn, err := w.ln.Accept()
		if err != nil {
			return
		}
		w.mu.Lock()
		w.open[conn] = struct{}{}
		w.mu.Unlock()
		p := &peer{n: int(w.conns.Add(1)), conn: conn}
		w.wg.Go(func() { w.serve(p) })
	}
}

func (w *fakeWallet) serve(p *peer) {
	defer p.conn.Close()
	r := frame.LengthPrefix{}.NewReader(p.conn, 1<<20)
	for {
		body, err := r.ReadFrame()
		if err != nil {
			return
		}
		var req request
		if err := (walletproto.JSON{}).Decode(body, &req); err != nil {
			return
		}
		if req.Type == walletproto.TypeDebit {
			w.debits.Add(1)
		}
		if w.script != nil && w.script(p, req) {
			continue
		}
		switch req.Type {
		case walletproto.TypeHello, walletproto.TypePing:
			p.reply(req.Header)
		case walletproto.TypeGetBalance, walletproto.TypeDebit:
			p.reply(req.Header, walletproto.Balance{Balance: 1000, Currency: "USD"})
		}
	}
}

func (w *fakeWallet) close() {
	w.ln.Close()
	w.mu.Lock()
	for c := range w.open {
		c.Close()
	}
	w.mu.Unlock()
	w.wg.Wait()
}

// reply sends a successful reply to h with the given fields.
func (p *peer) reply(h walletproto.Header, fields ...any) {
	p.send(append([]any{h, walletproto.Status{OK: true}}, fields...)...)
}

// send writes one message made of parts.
func (p *peer) send(parts ...any) {
	body, err := walletproto.JSON{}.Append(nil, parts...)
	if err != nil {
		panic(err)
	}
	p.raw(frameOf(body))
}

// raw writes bytes as they are, framed or not.
func (p *peer) raw(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = p.conn.Write(b)
}

func frameOf(body []byte) []byte {
	var out writeBuffer
	w := frame.LengthPrefix{}.NewWriter(&out, 1<<31)
	if err := w.WriteFrame(body); err != nil {
		panic(err)
	}
	_ = w.Flush()
	return out
}

type writeBuffer []byte

func (b *writeBuffer) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// pushRecorder is a PushHandler that keeps what it receives.
type pushRecorder struct {
	typ string
	mu  sync.Mutex
	got []walletproto.BalanceChanged
	ids []string
}

func (r *pushRecorder) PushType() string { return r.typ }

func (r *pushRecorder) HandlePush(p tcpclient.Push) error {
	var m walletproto.BalanceChanged
	if err := p.Decode(&m); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
	r.ids = append(r.ids, p.RequestID)
	return nil
}

func (r *pushRecorder) received() ([]walletproto.BalanceChanged, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]walletproto.BalanceChanged(nil), r.got...), append([]string(nil), r.ids...)
}

// errorIs is errors.Is as a waitfor.Until condition.
func errorIs(err, target error) error {
	if !errors.Is(err, target) {
		return fmt.Errorf("error = %v, want %v", err, target)
	}
	return nil
}

func zapNop() *zap.Logger { return zap.NewNop() }
