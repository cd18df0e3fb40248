package gatewaytest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"
)

// BenchClientsEnv, when set in a test binary's environment, makes it a
// BenchClients child process: its TestMain must then return RunBenchClients
// instead of running the tests.
const BenchClientsEnv = "GAMEGATE_BENCH_CLIENTS"

// BenchClients are members of one room that live in a child process (the
// test binary itself), so that thousands of them and the server's sockets
// each fit in one process's open-file limit.
type BenchClients struct {
	lines *bufio.Scanner
}

// StartBenchClients starts n members of room, spread round-robin over the
// /game URLs urls and authenticated with tok, and returns once every one has
// joined. The child process ends with the benchmark.
func StartBenchClients(b testing.TB, n int, room, tok string, urls ...string) *BenchClients {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), BenchClientsEnv+"="+strconv.Itoa(n),
		"GAMEGATE_BENCH_URLS="+strings.Join(urls, ","), "GAMEGATE_BENCH_TOKEN="+tok, "GAMEGATE_BENCH_ROOM="+room)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &BenchClients{lines: bufio.NewScanner(out)}
	if !c.lines.Scan() || c.lines.Text() != "ready" {
		b.Fatalf("bench clients: %q %v", c.lines.Text(), c.lines.Err())
	}
	return c
}

// Wait returns once every member has received one more frame.
func (c *BenchClients) Wait(b testing.TB) {
	if !c.lines.Scan() {
		b.Fatalf("bench clients ended: %v", c.lines.Err())
	}
}

// RunBenchClients is the child process: it connects the members, joins them
// to the room, prints "ready", then prints a line each time every member
// has received one more frame. It returns only on a failure to connect.
func RunBenchClients() int {
	n, _ := strconv.Atoi(os.Getenv(BenchClientsEnv))
	urls := strings.Split(os.Getenv("GAMEGATE_BENCH_URLS"), ",")
	header := map[string][]string{"Authorization": {"Bearer " + os.Getenv("GAMEGATE_BENCH_TOKEN")}}
	join := []byte(`{"event":"joinRoom","data":{"roomId":` + strconv.Quote(os.Getenv("GAMEGATE_BENCH_ROOM")) + `}}`)
	ctx := context.Background()
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conn, _, err := websocket.Dial(ctx, urls[i%len(urls)], &websocket.DialOptions{HTTPHeader: header})
			if err != nil {
				errs <- err
				return
			}
			conns[i] = conn
			_, _, err = conn.Read(ctx) // connected
			if err == nil {
				err = conn.Write(ctx, websocket.MessageText, join)
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
				if received.Add(1)%int64(n) == 0 {
					say("")
				}
			}
		}()
	}
	say("ready")
	select {}
}
