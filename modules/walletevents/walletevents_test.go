package walletevents_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/internal/wallettest"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/walletproto"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startWallet runs the simulator on a loopback port until the test ends.
func startWallet(t *testing.T) (*walletsim.Server, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sim := walletsim.New(walletsim.Options{Currency: "EUR", InitialBalance: 2500})
	done := make(chan struct{})
	go func() { defer close(done); _ = sim.Serve(ln) }()
	t.Cleanup(func() { _ = sim.Close(); <-done })
	return sim, ln.Addr().(*net.TCPAddr).Port
}

func walletConfig(port int) config.Config {
	cfg := gt.Config()
	cfg.Wallet.Port = port
	cfg.Wallet.CallTimeout = 500 * time.Millisecond
	return cfg
}

func waitReady(t *testing.T, n *gt.Node) {
	t.Helper()
	waitfor.Until(t, gt.Timeout, func() error {
		code, body := get(t, n.URL+"/readyz")
		if code != 200 {
			return &readyErr{body}
		}
		return nil
	})
}

type readyErr struct{ body string }

func (e *readyErr) Error() string { return "readyz: " + e.body }

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestGetBalanceAsksTheWalletForTheTokensUser(t *testing.T) {
	_, port := startWallet(t)
	n := gt.Start(t, walletConfig(port))
	waitReady(t, n)
	c := n.Dial(t, gt.Token(t, "alice"))
	// A userId in data is ignored: the user is the token's.
	c.Send("getBalance", map[string]string{"userId": "bob"}, "b1")
	f := c.Expect("balance")
	if string(f.Data) != `{"userId":"alice","balance":2500,"currency":"EUR"}` || string(f.ID) != `"b1"` {
		t.Fatalf("balance %s id %s", f.Data, f.ID)
	}
}

func TestBalanceChangedReachesEveryConnectionOfTheUser(t *testing.T) {
	sim, port := startWallet(t)
	n := gt.Start(t, walletConfig(port))
	waitReady(t, n)
	tab1, tab2 := n.Dial(t, gt.Token(t, "alice")), n.Dial(t, gt.Token(t, "alice"))
	other := n.Dial(t, gt.Token(t, "bob"))

	if _, err := sim.Credit(walletproto.Transfer{UserID: "alice", Amount: 100, TxID: "bonus-1"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*gt.Client{tab1, tab2} {
		f := c.Expect("balanceUpdated")
		if string(f.Data) != `{"userId":"alice","balance":2600,"currency":"EUR","txId":"bonus-1"}` {
			t.Fatalf("balanceUpdated %s", f.Data)
		}
	}
	other.Alive()
	// The same txId again changes nothing and pushes nothing.
	if _, err := sim.Credit(walletproto.Transfer{UserID: "alice", Amount: 100, TxID: "bonus-1"}); err != nil {
		t.Fatal(err)
	}
	tab1.Alive()
}

// With the wallet down, getBalance answers a clear exception after the call
// deadline, the connection stays usable, and /readyz says why it is 503.
func TestWalletDown(t *testing.T) {
	n := gt.Start(t, walletConfig(gt.FreePort(t)))
	code, body := get(t, n.URL+"/readyz")
	var ready map[string]string
	_ = json.Unmarshal([]byte(body), &ready)
	if code != 503 || ready["status"] != "degraded" || ready["wallet"] == "up" || ready["wallet"] == "" {
		t.Fatalf("readyz %d %s", code, body)
	}
	if code, _ := get(t, n.URL+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}

	c := n.Dial(t, gt.Token(t, "alice"))
	c.Send("getBalance", nil, 9)
	f := c.Expect("exception")
	if string(f.Data) != `{"status":"error","message":"wallet unavailable; try again later"}` || string(f.ID) != "9" {
		t.Fatalf("exception %s id %s", f.Data, f.ID)
	}
	c.Alive()
}

// A wallet error reply reaches the client as its message.
func TestWalletErrorBecomesException(t *testing.T) {
	wallet := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		if r.Type == "getBalance" {
			_ = reply(wallettest.Fail(r, "ACCOUNT_LOCKED", "account locked"))
			return
		}
		_ = reply(wallettest.OK(r, ""))
	})
	n := gt.Start(t, walletConfig(wallet.Port))
	waitReady(t, n)
	c := n.Dial(t, gt.Token(t, "alice"))
	c.Send("getBalance", nil, nil)
	if f := c.Expect("exception"); string(f.Data) != `{"status":"error","message":"wallet: account locked"}` {
		t.Fatalf("exception %s", f.Data)
	}
	c.Alive()
}

// A wallet that takes the request and never answers: the client hears of it
// at the call deadline, and the link stays up for the next call.
func TestWalletSilenceTimesOut(t *testing.T) {
	wallet := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		if r.Type != "getBalance" { // getBalance is never answered
			_ = reply(wallettest.OK(r, ""))
		}
	})
	cfg := walletConfig(wallet.Port)
	// The pong must come before the deadline's exception: give it seconds,
	// and the exception still comes within the client's wait (gt.Timeout).
	cfg.Wallet.CallTimeout = 2 * time.Second
	n := gt.Start(t, cfg)
	waitReady(t, n)
	c := n.Dial(t, gt.Token(t, "alice"))
	c.Send("getBalance", nil, "slow")
	// ping is answered while getBalance waits: the wallet call runs async.
	c.Send("ping", nil, nil)
	c.Expect("pong")
	f := c.Expect("exception")
	if string(f.Data) != `{"status":"error","message":"wallet timed out; try again"}` || string(f.ID) != `"slow"` {
		t.Fatalf("exception %s id %s", f.Data, f.ID)
	}
	if code, _ := get(t, n.URL+"/readyz"); code != 200 {
		t.Fatalf("readyz %d after a timeout", code)
	}
}

// A wallet that stops answering while getBalance waits (SIGSTOP, say): the
// client hears of it when the link is declared dead, a pong timeout after
// the wallet's last byte, not at the call's deadline; /readyz turns 503; and
// both recover once the wallet answers again.
func TestWalletThatStopsAnswering(t *testing.T) {
	var stopped atomic.Bool
	wallet := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		if !stopped.Load() {
			_ = reply(wallettest.OK(r, `"balance":5,"currency":"EUR"`))
		}
	})
	cfg := walletConfig(wallet.Port)
	cfg.Wallet.PongTimeout = 500 * time.Millisecond
	cfg.Wallet.CallTimeout = time.Minute // never reached while the test runs
	n := gt.Start(t, cfg)
	waitReady(t, n)
	c := n.Dial(t, gt.Token(t, "alice"))

	stopped.Store(true)
	c.Send("getBalance", nil, "g1")
	f := c.Expect("exception")
	if string(f.Data) != `{"status":"error","message":"wallet connection lost; try again"}` || string(f.ID) != `"g1"` {
		t.Fatalf("exception %s id %s", f.Data, f.ID)
	}
	waitfor.Until(t, gt.Timeout, func() error {
		code, body := get(t, n.URL+"/readyz")
		var ready map[string]string
		_ = json.Unmarshal([]byte(body), &ready)
		if code != 503 || ready["wallet"] == "up" {
			return &readyErr{body}
		}
		return nil
	})

	stopped.Store(false)
	waitReady(t, n)
	c.Send("getBalance", nil, "g2")
	if f := c.Expect("balance"); string(f.Data) != `{"userId":"alice","balance":5,"currency":"EUR"}` {
		t.Fatalf("balance %s", f.Data)
	}
}

// During an outage every getBalance fails, and each failure is answered,
// but the log gets one line a second, not one a call.
func TestFailedCallsAreLoggedSampled(t *testing.T) {
	n := gt.Start(t, walletConfig(gt.FreePort(t)))
	c := n.Dial(t, gt.Token(t, "alice"))
	const calls = 20
	for i := range calls {
		c.Send("getBalance", nil, i)
	}
	for range calls {
		c.Expect("exception")
	}
	// The failures fall within a second or so of each other: a line or two,
	// a few on a very busy machine, not one a call.
	if lines := n.Logs.FilterMessage("getBalance failed").Len(); lines < 1 || lines >= calls/4 {
		t.Errorf("%d log lines for %d failed calls, want at least 1 and fewer than %d", lines, calls, calls/4)
	}
}

// A balance push survives its link dropping in between: the client gets
// balanceUpdated once, neither zero nor two times, whether the link drops
// before the push reaches the gateway (the wallet resends it) or after the
// gateway took it but before its pushAck reached the wallet (the wallet
// resends it, and the gateway knows its pushId).
func TestPushSurvivesTheLinkDroppingInBetween(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(fromGateway bool, m wallettest.Request) bool
	}{
		{"before the push reaches the gateway", func(fromGateway bool, m wallettest.Request) bool {
			return !fromGateway && m.Type == walletproto.TypeBalanceChanged
		}},
		{"before the pushAck reaches the wallet", func(fromGateway bool, m wallettest.Request) bool {
			return fromGateway && m.Type == walletproto.TypePushAck
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, port := startWallet(t)
			var (
				cut    atomic.Bool
				mu     sync.Mutex
				pushed []string // the pushIds the wallet sent
			)
			proxy := wallettest.StartProxy(t, "127.0.0.1:"+strconv.Itoa(port), func(fromGateway bool, m wallettest.Request) bool {
				if !fromGateway && m.PushID != "" {
					mu.Lock()
					pushed = append(pushed, m.PushID)
					mu.Unlock()
				}
				return tc.at(fromGateway, m) && cut.CompareAndSwap(false, true)
			})
			n := gt.Start(t, walletConfig(proxy.Port))
			waitReady(t, n)
			c := n.Dial(t, gt.Token(t, "alice"))

			if _, err := sim.Credit(walletproto.Transfer{UserID: "alice", Amount: 100, TxID: "bonus-1"}); err != nil {
				t.Fatal(err)
			}
			if f := c.Expect("balanceUpdated"); string(f.Data) != `{"userId":"alice","balance":2600,"currency":"EUR","txId":"bonus-1"}` {
				t.Fatalf("balanceUpdated %s", f.Data)
			}
			waitfor.Until(t, gt.Timeout, func() error { // acknowledged on the next link
				if n := sim.Unacked(); n != 0 {
					return fmt.Errorf("%d pushes unacknowledged", n)
				}
				return nil
			})
			mu.Lock()
			sent := slices.Clone(pushed)
			mu.Unlock()
			if !cut.Load() || len(sent) != 2 || sent[0] != sent[1] {
				t.Fatalf("link cut %v, pushIds sent %q: want the link cut and the push sent twice", cut.Load(), sent)
			}
			c.Alive() // the pong comes next: no second balanceUpdated was queued
		})
	}
}

// Balance changes made while the wallet link is down reach the client, in
// order and once each, when it comes back.
func TestPushesMadeWhileTheLinkIsDownArriveWhenItReturns(t *testing.T) {
	sim, port := startWallet(t)
	proxy := wallettest.StartProxy(t, "127.0.0.1:"+strconv.Itoa(port), nil)
	n := gt.Start(t, walletConfig(proxy.Port))
	waitReady(t, n)
	c := n.Dial(t, gt.Token(t, "alice"))

	proxy.Down()
	waitfor.Until(t, gt.Timeout, func() error {
		if code, body := get(t, n.URL+"/readyz"); code != 503 {
			return &readyErr{body}
		}
		return nil
	})
	const changes = 5
	for i := range changes {
		if _, err := sim.Credit(walletproto.Transfer{UserID: "alice", Amount: 1, TxID: fmt.Sprint("tx-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	proxy.Up(t)
	for i := range changes {
		want := fmt.Sprintf(`{"userId":"alice","balance":%d,"currency":"EUR","txId":"tx-%d"}`, 2501+i, i)
		if f := c.Expect("balanceUpdated"); string(f.Data) != want {
			t.Fatalf("balanceUpdated %d: %s, want %s", i, f.Data, want)
		}
	}
	c.Alive()
}

// A wallet push while the user is away is not lost: the client reconnects
// with its session and last offset and gets the balanceUpdated it missed,
// with the room message sent meanwhile.
func TestPushWhileAwayIsRecovered(t *testing.T) {
	sim, port := startWallet(t)
	n := gt.Start(t, walletConfig(port))
	waitReady(t, n)
	c := n.Dial(t, gt.Token(t, "alice"))
	c.Join("table")
	if err := n.Emitter.ToRoom(t.Context(), "table", "deal", 1); err != nil {
		t.Fatal(err)
	}
	last := c.Expect("deal").Offset
	_ = c.Conn.Close(websocket.StatusNormalClosure, "")
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Clients() != 0 {
			return fmt.Errorf("%d clients", n.Hub.Clients())
		}
		return nil
	})
	if _, err := sim.Credit(walletproto.Transfer{UserID: "alice", Amount: 100, TxID: "win-1"}); err != nil {
		t.Fatal(err)
	}
	if err := n.Emitter.ToRoom(t.Context(), "table", "deal", 2); err != nil {
		t.Fatal(err)
	}
	conn, _, err := n.DialRawURL(n.WSURL()+"?sessionId="+c.Connected.SessionID+"&offset="+last,
		http.Header{"Authorization": {"Bearer " + gt.Token(t, "alice")}})
	if err != nil {
		t.Fatal(err)
	}
	back := gt.Watch(t, conn)
	if f := back.Expect("connected"); !strings.Contains(string(f.Data), `"recovered":true`) {
		t.Fatalf("connected %s", f.Data)
	}
	// The push and the deal were sent at about the same time: either may
	// come first, each once.
	got := map[string]string{}
	for range 2 {
		f := back.Next()
		got[f.Event] = string(f.Data)
	}
	if got["balanceUpdated"] != `{"userId":"alice","balance":2600,"currency":"EUR","txId":"win-1"}` || got["deal"] != "2" {
		t.Fatalf("after the recovery: %v", got)
	}
	back.Alive()
}
