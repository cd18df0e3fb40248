package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
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

// The contract's stop sequence on the built binary: SIGTERM while WebSocket
// clients are connected, a REST call is half-sent and a wallet call is
// waiting for its reply. The REST call completes, the clients get 1001, the
// wallet call completes, and the process exits 0.
func TestSIGTERMStopsGracefully(t *testing.T) {
	const secret = "stop-test-secret-0123456789abcdef"
	// A wallet that answers at once, except getBalance: that reply waits
	// for release, and its write's result goes to replied.
	asked, release, replied := make(chan string, 1), make(chan struct{}), make(chan error, 1)
	wallet := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) {
		if r.Type != "getBalance" {
			_ = reply(wallettest.OK(r, ""))
			return
		}
		asked <- r.UserID
		go func() {
			<-release
			replied <- reply(wallettest.OK(r, `"balance":7,"currency":"EUR"`))
		}()
	})
	addr := freeAddr(t)
	cmd := exec.Command(gatewayBin)
	cmd.Dir = "../.."
	cmd.Env = []string{
		"HTTP_ADDR=" + addr, "JWT_SECRET=" + secret, "WALLET_SIMULATOR=false", "LOG_LEVEL=debug",
		"WALLET_PORT=" + strconv.Itoa(wallet.Port),
	}
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
	ctx := t.Context()
	var clients []*websocket.Conn
	for _, sub := range []string{"alice", "bob"} {
		conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/game?token="+mint(sub), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.CloseNow()
		if _, msg, err := conn.Read(ctx); err != nil || !strings.Contains(string(msg), `"connected"`) {
			t.Fatalf("greeting %s %v", msg, err)
		}
		clients = append(clients, conn)
	}
	// A wallet call in flight.
	if err := clients[0].Write(ctx, websocket.MessageText, []byte(`{"event":"getBalance","id":1}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the wallet never saw getBalance")
	}
	// A REST call in flight: its handler is reading the body when the stop
	// begins. With "Expect: 100-continue" the server says so, by answering
	// 100 Continue on the handler's first read.
	body := `{"roomId":"lobby","message":"last call"}`
	rest, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rest.Close()
	fmt.Fprintf(rest, "POST /notifications/broadcast HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, mint("ops", "admin"), len(body))
	restReader := bufio.NewReader(rest)
	if line, err := restReader.ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("expected 100 Continue, got %q %v", line, err)
	}
	if _, err := restReader.ReadString('\n'); err != nil { // the blank line after it
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused once the stop has begun.
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
	for i, c := range clients {
		for {
			_, _, err := c.Read(ctx)
			if err == nil {
				continue
			}
			if websocket.CloseStatus(err) != websocket.StatusGoingAway {
				t.Fatalf("client %d: %v, want 1001", i, err)
			}
			break
		}
	}
	// Only now does the wallet answer: the call is still pending, the link open.
	close(release)
	if err := <-replied; err != nil {
		t.Fatalf("the wallet link closed before the in-flight call completed: %v", err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15 s after SIGTERM")
	}
	if strings.Contains(logs.String(), "getBalance failed") {
		t.Fatalf("the in-flight wallet call was abandoned:\n%s", logs.String())
	}
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
