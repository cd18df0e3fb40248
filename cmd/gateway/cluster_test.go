package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/internal/wallettest"
	"github.com/gamegate/gamegate/pkg/token"
)

// Three gateway processes share a JetStream-enabled NATS server. 300
// clients are spread over them while a broadcast stream with sequence
// numbers runs; the node holding a third of them is killed (SIGKILL). Its
// clients reconnect to the other nodes with their session and last offset,
// recover, and every client ends with every broadcast, once and in order.
func TestClusterSurvivesANodeKilled(t *testing.T) {
	const (
		secret  = "cluster-test-secret-0123456789abcdef"
		players = 300
		total   = 300 // broadcasts
	)
	js, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	js.Start()
	if !js.ReadyForConnections(5 * time.Second) {
		t.Fatal("NATS not ready")
	}
	t.Cleanup(func() { js.Shutdown(); js.WaitForShutdown() })
	wallet := wallettest.Start(t, func(r wallettest.Request, reply wallettest.Reply) { _ = reply(wallettest.OK(r, "")) })

	var urls []string
	var procs []*exec.Cmd
	for i := range 3 {
		addr := freeAddr(t)
		cmd := exec.Command(gatewayBin)
		cmd.Env = []string{
			"HTTP_ADDR=" + addr, "JWT_SECRET=" + secret, "WALLET_SIMULATOR=false", "LOG_LEVEL=warn",
			fmt.Sprintf("WALLET_PORT=%d", wallet.Port), "CLUSTER_NATS_URL=" + js.ClientURL(), fmt.Sprintf("NODE_ID=node-%d", i),
		}
		var logs syncBuffer
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("node %d logs:\n%s", i, logs.String())
			}
		})
		waitReady(t, "http://"+addr)
		urls = append(urls, addr)
		procs = append(procs, cmd)
	}
	mint := func(sub string, roles ...string) string {
		tok, err := token.Mint([]byte(secret), sub, roles, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	ps := make([]*player, players)
	for i := range ps {
		p := &player{user: fmt.Sprint("player-", i), token: mint(fmt.Sprint("player-", i)), node: i % 3, first: i % 3}
		ps[i] = p
		if err := p.connect(ctx, urls[p.node]); err != nil {
			t.Fatalf("player %d: %v", i, err)
		}
		wg.Go(func() { p.play(ctx, urls) })
	}

	admin := mint("ops", "admin")
	for seq := range total {
		if seq == total/3 {
			if err := procs[2].Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		body := fmt.Sprintf(`{"roomId":"arena","message":%d,"event":"tick"}`, seq)
		req, _ := http.NewRequest(http.MethodPost, "http://"+urls[seq%2]+"/notifications/broadcast", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("broadcast %d: %v %v", seq, resp, err)
		}
		resp.Body.Close()
		time.Sleep(5 * time.Millisecond)
	}
	waitfor.Until(t, 30*time.Second, func() error {
		for i, p := range ps {
			if n, err := p.count(); err != nil {
				return fmt.Errorf("player %d: %w", i, err)
			} else if n < total {
				return fmt.Errorf("player %d has %d of %d broadcasts", i, n, total)
			}
		}
		return nil
	})
	cancel()
	wg.Wait()
	moved := 0
	for i, p := range ps {
		for seq, got := range p.seen {
			if got != seq {
				t.Fatalf("player %d: broadcast %d is %d: a gap or a duplicate", i, seq, got)
			}
		}
		if p.first != 2 && p.recovered != 0 {
			t.Fatalf("player %d of a surviving node reconnected", i)
		}
		if p.first == 2 {
			if p.recovered != 1 {
				t.Fatalf("player %d of the killed node recovered %d times", i, p.recovered)
			}
			moved++
		}
	}
	t.Logf("%d players, %d of them moved off the killed node and recovered; %d broadcasts each, no gap, no duplicate", players, moved, total)
}

// player is a game client that keeps its session across connections.
type player struct {
	user, token string
	node        int // the node it is on
	first       int // the node it began on

	mu        sync.Mutex
	conn      *websocket.Conn
	sessionID string
	offset    string
	seen      []int
	recovered int
	err       error
}

// connect dials addr, recovering the session if it has one, and joins
// arena the first time.
func (p *player) connect(ctx context.Context, addr string) error {
	q := url.Values{"token": {p.token}}
	if p.sessionID != "" {
		q.Set("sessionId", p.sessionID)
		q.Set("offset", p.offset)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws://"+addr+"/game?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	conn.SetReadLimit(-1)
	_, msg, err := conn.Read(dctx)
	if err != nil {
		return err
	}
	var hello struct {
		Data struct {
			SessionID string `json:"sessionId"`
			Recovered bool   `json:"recovered"`
			Reason    string `json:"reason"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg, &hello); err != nil {
		return err
	}
	if p.sessionID != "" {
		if !hello.Data.Recovered {
			return fmt.Errorf("not recovered on %s: %s", addr, hello.Data.Reason)
		}
		p.recovered++
	} else if err := conn.Write(dctx, websocket.MessageText, []byte(`{"event":"joinRoom","data":{"roomId":"arena"},"id":1}`)); err != nil {
		return err
	} else if _, msg, err := conn.Read(dctx); err != nil || !strings.Contains(string(msg), "joinedRoom") {
		return fmt.Errorf("join: %s %v", msg, err)
	}
	p.mu.Lock()
	p.conn, p.sessionID = conn, hello.Data.SessionID
	p.mu.Unlock()
	return nil
}

// play reads ticks until ctx ends; when its node dies it reconnects to
// another.
func (p *player) play(ctx context.Context, addrs []string) {
	for ctx.Err() == nil {
		_, msg, err := p.conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			p.node = (p.node + 1) % 2 // a surviving node
			if err := p.connect(ctx, addrs[p.node]); err != nil {
				p.fail(err)
				return
			}
			continue
		}
		var f struct {
			Event  string `json:"event"`
			Data   int    `json:"data"`
			Offset string `json:"offset"`
		}
		if json.Unmarshal(msg, &f) != nil || f.Event != "tick" {
			continue
		}
		p.mu.Lock()
		p.seen = append(p.seen, f.Data)
		p.offset = f.Offset
		p.mu.Unlock()
	}
}

func (p *player) fail(err error) {
	p.mu.Lock()
	p.err = err
	p.mu.Unlock()
}

func (p *player) count() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.seen), p.err
}
