package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/internal/wallettest"
	"github.com/gamegate/gamegate/pkg/token"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// The stop on the built binary, under load: SIGTERM while 2,000 WebSocket
// clients are connected, a broadcast stream runs, 500 getBalance calls wait
// for a wallet that holds them and a REST call is half-sent. /readyz turns
// 503 at once while the node still serves for shutdownDrainDelay; every REST
// call made meanwhile and the half-sent one are answered; every wallet call
// is answered before its client's 1001; every client gets 1001; the
// process logs the stop's start and end and exits 0.
func TestSIGTERMStopsGracefully(t *testing.T) {
	const (
		secret  = "stop-test-secret-0123456789abcdef"
		clients = 2000
		calls   = 500
	)
	// A wallet that answers at once, except getBalance: those replies wait
	// for release.
	var held sync.WaitGroup
	held.Add(calls)
	release := make(chan struct{})
	wallet := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		if r.Type != "getBalance" {
			_ = reply(wallettest.OK(r, ""))
			return
		}
		held.Done()
		go func() {
			<-release
			_ = reply(wallettest.OK(r, `"balance":7,"currency":"EUR"`))
		}()
	})
	addr := freeAddr(t)
	conf := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`http: {addr: "%s"}
auth: {jwtSecret: %s}
wallet: {port: %d, simulator: false, callTimeout: 30s}
gateway: {rateLimit: {perSecond: 1000, burst: 1000}}
log: {level: info}
shutdownDrainDelay: 2s
shutdownTimeout: 20s
`, addr, secret, wallet.Port)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(gatewayBin, "--config", conf)
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitReady(t, base)
	mint := func(sub string, roles ...string) string {
		tok, err := token.Mint([]byte(secret), sub, roles, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := mint("ops", "admin")

	// The clients, each in room "lobby", each read in the background until
	// its connection ends; the first `calls` of them ask getBalance.
	ctx := t.Context()
	ends := make([]chan clientEnd, clients)
	for i := range clients {
		conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/game?token="+mint(fmt.Sprint("player-", i)), nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		defer conn.CloseNow()
		if err := conn.Write(ctx, websocket.MessageText, []byte(`{"event":"joinRoom","data":{"roomId":"lobby"}}`)); err != nil {
			t.Fatal(err)
		}
		if i < calls {
			if err := conn.Write(ctx, websocket.MessageText, []byte(fmt.Sprintf(`{"event":"getBalance","id":%d}`, i))); err != nil {
				t.Fatal(err)
			}
		}
		ends[i] = make(chan clientEnd, 1)
		go readUntilClosed(conn, ends[i])
	}
	waitGroup(t, &held, 20*time.Second, "the wallet to hold every getBalance")

	// A broadcast stream, one POST every 10 ms over keep-alive connections,
	// until the node stops accepting.
	var answered, failed atomic.Int64
	streamDone := make(chan struct{})
	stopStream := make(chan struct{})
	go func() {
		defer close(streamDone)
		for seq := 0; ; seq++ {
			select {
			case <-stopStream:
				return
			case <-time.After(10 * time.Millisecond):
			}
			code, err := broadcast(base, admin, seq)
			switch {
			case err == nil && code == http.StatusOK:
				answered.Add(1)
			default:
				failed.Add(1)
				t.Errorf("broadcast %d: %d %v", seq, code, err)
			}
		}
	}()
	// A REST call in flight: its handler is reading the body when the node
	// stops accepting. With "Expect: 100-continue" the server says so, by
	// answering 100 Continue on the handler's first read.
	body := `{"roomId":"lobby","message":"last call"}`
	rest, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rest.Close()
	fmt.Fprintf(rest, "POST /notifications/broadcast HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, admin, len(body))
	restReader := bufio.NewReader(rest)
	if line, err := restReader.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("expected 100 Continue, got %q %v", line, err)
	}
	if _, err := restReader.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}

	streamed := func(n int64) {
		t.Helper()
		waitfor.Until(t, 10*time.Second, func() error {
			if answered.Load() < n {
				return fmt.Errorf("%d broadcasts answered", answered.Load())
			}
			return nil
		})
	}
	streamed(5)
	stopAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Not ready at once, while still serving: the drain delay.
	waitfor.Until(t, 5*time.Second, func() error {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(got), `"status":"stopping"`) {
			return fmt.Errorf("readyz %d %s", resp.StatusCode, got)
		}
		return nil
	})
	if time.Since(stopAt) > 900*time.Millisecond {
		t.Logf("readiness took %v to turn: a slow machine, or the drain began late", time.Since(stopAt))
	}
	// The node still serves; then an LB takes it out and the stream stops,
	// every call answered.
	streamed(answered.Load() + 3)
	close(stopStream)
	<-streamDone
	// The node stops accepting once the drain delay has passed.
	waitfor.Until(t, 10*time.Second, func() error {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return fmt.Errorf("still accepting")
		}
		return nil
	})
	fmt.Fprint(rest, body)
	resp, err := http.ReadResponse(restReader, nil)
	if err != nil {
		t.Fatalf("in-flight REST call: %v", err)
	}
	got, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || strings.TrimSpace(string(got)) != `{"success":true}` {
		t.Fatalf("in-flight REST call: %d %s", resp.StatusCode, got)
	}
	// The clients without a handler under way are closed already; those
	// whose wallet call waits are not.
	for i := calls; i < clients; i++ {
		if e := waitEnd(t, ends[i], i); e.code != websocket.StatusGoingAway {
			t.Fatalf("client %d: %+v, want 1001", i, e)
		}
	}
	select {
	case e := <-ends[0]:
		t.Fatalf("client 0 closed (%+v) before its wallet call was answered", e)
	default:
	}
	// Only now does the wallet answer: each reply reaches its client, then
	// the 1001.
	close(release)
	for i := range calls {
		e := waitEnd(t, ends[i], i)
		if e.code != websocket.StatusGoingAway || e.balanceID != fmt.Sprint(i) {
			t.Fatalf("client %d: %+v, want its balance reply (id %d) then 1001", i, e, i)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("still running 20 s after SIGTERM")
	}
	if answered.Load() == 0 || failed.Load() != 0 {
		t.Fatalf("broadcasts around SIGTERM: %d answered, %d failed", answered.Load(), failed.Load())
	}
	for _, line := range []string{`"msg":"stopping"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), line) {
			t.Fatalf("no %s log line", line)
		}
	}
	t.Logf("%d clients closed, %d wallet calls answered, %d broadcasts answered; exit %v after SIGTERM",
		clients, calls, answered.Load(), time.Since(stopAt).Round(time.Millisecond))
}

// clientEnd is how a test client's connection ended: its close code, and
// the id of the balance reply it got, if any.
type clientEnd struct {
	code      websocket.StatusCode
	balanceID string
	err       error
}

// readUntilClosed reads conn until it ends and reports how.
func readUntilClosed(conn *websocket.Conn, end chan<- clientEnd) {
	var e clientEnd
	for {
		_, msg, err := conn.Read(context.Background())
		if err != nil {
			e.code, e.err = websocket.CloseStatus(err), err
			end <- e
			return
		}
		var f struct {
			Event string
			ID    json.RawMessage
		}
		if json.Unmarshal(msg, &f) == nil && f.Event == "balance" {
			e.balanceID = string(f.ID)
		}
	}
}

func waitEnd(t *testing.T, end <-chan clientEnd, i int) clientEnd {
	t.Helper()
	select {
	case e := <-end:
		return e
	case <-time.After(15 * time.Second):
		t.Fatalf("client %d still open", i)
	}
	return clientEnd{}
}

func waitGroup(t *testing.T, wg *sync.WaitGroup, timeout time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("timed out waiting for %s", what)
	}
}

var restClient = &http.Client{Timeout: 10 * time.Second}

// broadcast POSTs one notification to room lobby.
func broadcast(base, tok string, seq int) (int, error) {
	req, err := http.NewRequest(http.MethodPost, base+"/notifications/broadcast",
		strings.NewReader(fmt.Sprintf(`{"roomId":"lobby","message":{"seq":%d}}`, seq)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := restClient.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// syncBuffer is a bytes.Buffer the process can write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	waitfor.Until(t, 10*time.Second, func() error {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
}
