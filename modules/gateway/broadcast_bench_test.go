package gateway_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// BenchmarkRoomBroadcast measures one broadcast reaching every member of a
// room over real loopback WebSockets: ns/op is the time from ToRoom until
// the last member has read the frame. The members live in a child process,
// so that 10,000 of them and the server's 10,000 sockets each fit in one
// process's open-file limit.
func BenchmarkRoomBroadcast(b *testing.B) {
	for _, members := range []int{1, 100, 10_000} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			benchmarkBroadcast(b, members)
		})
	}
}

func benchmarkBroadcast(b *testing.B, members int) {
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	n := gt.Start(b, cfg)

	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(),
		benchClientsEnv+"="+strconv.Itoa(members), "BENCH_URL="+n.WSURL(), "BENCH_TOKEN="+gt.Token(b, "bench"))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := bufio.NewScanner(out)
	if !lines.Scan() || lines.Text() != "ready" {
		b.Fatalf("client process: %q %v", lines.Text(), lines.Err())
	}
	gt.WaitFor(b, gt.Timeout, func() error {
		if got := n.Hub.Clients(); got != members {
			return fmt.Errorf("%d clients", got)
		}
		return nil
	})

	payload := map[string]any{"seq": 1, "text": "a typical game event of about one hundred bytes, all told"}
	ctx := context.Background()
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := n.Emitter.ToRoom(ctx, "arena", "notification", payload); err != nil {
			b.Fatal(err)
		}
		if !lines.Scan() { // one line once every member has the frame
			b.Fatalf("client process ended: %v", lines.Err())
		}
	}
	b.ReportMetric(float64(b.N*members)/time.Since(start).Seconds(), "deliveries/s")
}

const benchClientsEnv = "GAMEGATE_BENCH_CLIENTS"

// runBenchClients is the client process: it connects BENCH_CLIENTS members
// to room "arena", prints "ready", then prints a line each time every
// member has received one more frame.
func runBenchClients() int {
	members, _ := strconv.Atoi(os.Getenv(benchClientsEnv))
	url, tok := os.Getenv("BENCH_URL"), os.Getenv("BENCH_TOKEN")
	header := map[string][]string{"Authorization": {"Bearer " + tok}}
	ctx := context.Background()
	conns := make([]*websocket.Conn, members)
	var wg sync.WaitGroup
	errs := make(chan error, members)
	sem := make(chan struct{}, 32)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
			if err != nil {
				errs <- err
				return
			}
			conns[i] = conn
			_, _, err = conn.Read(ctx) // connected
			if err == nil {
				err = conn.Write(ctx, websocket.MessageText, []byte(`{"event":"joinRoom","data":{"roomId":"arena"}}`))
			}
			if err == nil {
				_, _, err = conn.Read(ctx) // joinedRoom
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		fmt.Fprintln(os.Stderr, "bench clients:", err)
		return 1
	default:
	}
	var received atomic.Int64
	var outMu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	say := func(s string) {
		outMu.Lock()
		defer outMu.Unlock()
		w.WriteString(s + "\n")
		w.Flush()
	}
	for _, conn := range conns {
		go func() {
			for {
				if _, _, err := conn.Read(ctx); err != nil {
					os.Exit(0) // the benchmark is over
				}
				if received.Add(1)%int64(members) == 0 {
					say("")
				}
			}
		}()
	}
	say("ready")
	select {}
}
