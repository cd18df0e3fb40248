package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestServesUntilCancelled(t *testing.T) {
	addr, admin := freeAddr(t), freeAddr(t)
	host, port, _ := net.SplitHostPort(addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exit := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		exit <- run(ctx, []string{"--currency", "EUR", "--initial-balance", "700", "--admin-addr", admin, "--log-level", "warn"},
			env(map[string]string{"WALLET_HOST": host, "WALLET_PORT": port}), &stderr)
	}()

	cfg := config.Default().Wallet
	cfg.Host, cfg.Port = host, mustAtoi(t, port)
	cfg.BackoffMin, cfg.BackoffMax = 5*time.Millisecond, 20*time.Millisecond
	pushIDs := make(chan string, 4)
	relay := tcpclient.NewPushHandler(walletproto.TypeBalanceChanged, func(p tcpclient.Push) error {
		pushIDs <- p.PushID
		return nil
	})
	c, err := tcpclient.New(cfg, zap.NewNop(), []tcpclient.PushHandler{relay})
	if err != nil {
		t.Fatal(err)
	}
	c.Start()
	defer c.Close()
	if b, err := c.GetBalance(context.Background(), "u1"); err != nil || b.Balance != 700 || b.Currency != "EUR" {
		t.Fatalf("GetBalance = %+v, %v; want 700 EUR", b, err)
	}
	res, err := http.Post("http://"+admin+"/credit", "application/json", strings.NewReader(`{"userId":"u1","amount":5}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if b, err := c.GetBalance(context.Background(), "u1"); err != nil || b.Balance != 705 {
		t.Errorf("after an admin credit: GetBalance = %+v, %v; want 705", b, err)
	}
	select {
	case id := <-pushIDs:
		if id == "" {
			t.Error("the admin credit was pushed without a pushId")
		}
	case <-time.After(5 * time.Second):
		t.Error("the admin credit was not pushed")
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Errorf("exit status %d, stderr %s", code, stderr.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("walletsim did not stop")
	}
}

func TestBadUsage(t *testing.T) {
	for _, args := range [][]string{{"--addr", "nope"}, {"--addr", "127.0.0.1:99999"}, {"--max-frame-bytes", "0"}, {"--no-such-flag"}, {"--log-level", "loud"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, env(nil), &stderr); code != 2 {
			t.Errorf("%v: exit status %d, want 2", args, code)
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: nothing said on stderr", args)
		}
	}
}

func TestPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"--addr", ln.Addr().String()}, env(nil), &stderr); code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
