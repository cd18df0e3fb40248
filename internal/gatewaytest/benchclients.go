package gatewaytest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	in    io.Writer
}

// StartBenchClients starts n members of room, spread round-robin over the
// /game URLs urls and authenticated with tok, and returns once every one has
// joined. The child process ends with the benchmark.
func StartBenchClients(b testing.TB, n int, room, tok string, urls ...string) *BenchClients {
	return startBenchClients(b, n, room, tok, false, urls)
}

// StartAckingBenchClients is StartBenchClients with members that
// acknowledge every frame that carries an ackId (a delivery receipt's), at
// once.
func StartAckingBenchClients(b testing.TB, n int, room, tok string, urls ...string) *BenchClients {
	return startBenchClients(b, n, room, tok, true, urls)
}

func startBenchClients(b testing.TB, n int, room, tok string, ack bool, urls []string) *BenchClients {
	b.Helper()
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), BenchClientsEnv+"="+strconv.Itoa(n),
		"GAMEGATE_BENCH_URLS="+strings.Join(urls, ","), "GAMEGATE_BENCH_TOKEN="+tok, "GAMEGATE_BENCH_ROOM="+room,
		"GAMEGATE_BENCH_ACK="+strconv.FormatBool(ack))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &BenchClients{lines: bufio.NewScanner(out), in: in}
	if !c.lines.Scan() || c.lines.Text() != "ready" {
		b.Fatalf("bench clients: %q %v", c.lines.Text(), c.lines.Err())
	}
	return c
}

// Wait returns once every member has received one more frame (and, acking,
// has written its ack), and when the last of them did.
func (c *BenchClients) Wait(b testing.TB) time.Time {
	if !c.lines.Scan() {
		b.Fatalf("bench clients ended: %v", c.lines.Err())
	}
	ns, err := strconv.ParseInt(c.lines.Text(), 10, 64)
	if err != nil {
		b.Fatalf("bench clients: %q: %v", c.lines.Text(), err)
	}
	return time.Unix(0, ns)
}

// Drop cuts every member's connection at once, as a failing network would
// (no close frame), and returns once all are closed.
func (c *BenchClients) Drop(b testing.TB) {
	b.Helper()
	c.command(b, "drop")
	if !c.lines.Scan() || c.lines.Text() != "dropped" {
		b.Fatalf("bench clients: drop: %q %v", c.lines.Text(), c.lines.Err())
	}
}

// Resume reconnects every member at once with its session and the offset of
// the last frame it read, and returns once each has been told it recovered
// and has read the missed frames it was due: how long that took. A member
// that did not recover them all fails the benchmark.
func (c *BenchClients) Resume(b testing.TB, missed int) time.Duration {
	b.Helper()
	c.command(b, "resume "+strconv.Itoa(missed))
	if !c.lines.Scan() {
		b.Fatalf("bench clients ended: %v", c.lines.Err())
	}
	var took time.Duration
	var failed int
	if _, err := fmt.Sscanf(c.lines.Text(), "resumed %d %d", &took, &failed); err != nil || failed > 0 {
		b.Fatalf("bench clients: resume: %q (%v)", c.lines.Text(), err)
	}
	return took
}

func (c *BenchClients) command(b testing.TB, cmd string) {
	if _, err := io.WriteString(c.in, cmd+"\n"); err != nil {
		b.Fatalf("bench clients: %s: %v", cmd, err)
	}
}

// RunBenchClients is the child process: it connects the members, joins them
// to the room, prints "ready", then prints a line each time every member
// has received one more frame (and, acking, written its ack): the time of
// the last, in Unix nanoseconds. On stdin it takes "drop" and "resume N"
// (see Drop and Resume). It returns only on a failure to connect.
func RunBenchClients() int {
	n, _ := strconv.Atoi(os.Getenv(BenchClientsEnv))
	cs := &childClients{
		ack:    os.Getenv("GAMEGATE_BENCH_ACK") == "true",
		urls:   strings.Split(os.Getenv("GAMEGATE_BENCH_URLS"), ","),
		header: map[string][]string{"Authorization": {"Bearer " + os.Getenv("GAMEGATE_BENCH_TOKEN")}},
		out:    bufio.NewWriter(os.Stdout),
		n:      int64(n),
	}
	join := []byte(`{"event":"joinRoom","data":{"roomId":` + strconv.Quote(os.Getenv("GAMEGATE_BENCH_ROOM")) + `}}`)
	members := make([]*member, n)
	failed := cs.each(members, 32, func(i int, m *member) error {
		if err := cs.dial(m, cs.urls[i%len(cs.urls)]); err != nil {
			return err
		}
		if err := m.conn.Write(childCtx, websocket.MessageText, join); err != nil {
			return err
		}
		_, err := m.read() // joinedRoom
		return err
	})
	if failed != nil {
		fmt.Fprintln(os.Stderr, "bench clients:", failed)
		return 1
	}
	cs.say("ready")
	for _, m := range members {
		go cs.serve(m)
	}
	stdin := bufio.NewScanner(os.Stdin)
	for stdin.Scan() {
		switch cmd := stdin.Text(); {
		case cmd == "drop":
			for _, m := range members {
				m.dropping.Store(true)
				_ = m.conn.CloseNow()
			}
			for _, m := range members {
				<-m.done
			}
			cs.say("dropped")
		case strings.HasPrefix(cmd, "resume "):
			missed, _ := strconv.Atoi(strings.TrimPrefix(cmd, "resume "))
			var notRecovered atomic.Int64
			start := time.Now()
			// At once, as far as the listen backlog allows.
			cs.each(members, 512, func(i int, m *member) error {
				if err := cs.resume(m, cs.urls[i%len(cs.urls)], missed); err != nil {
					fmt.Fprintln(os.Stderr, "bench clients: resume:", err)
					notRecovered.Add(1)
				}
				return nil
			})
			cs.say(fmt.Sprintf("resumed %d %d", time.Since(start), notRecovered.Load()))
			for _, m := range members {
				go cs.serve(m)
			}
		}
	}
	return 0
}

var childCtx = context.Background()

// childClients are the child process's members.
type childClients struct {
	ack      bool
	urls     []string
	header   http.Header
	n        int64
	received atomic.Int64
	outMu    sync.Mutex
	out      *bufio.Writer
}

// member is one client: its connection, its session and the offset of the
// last room frame it read.
type member struct {
	conn      *websocket.Conn
	sessionID string
	offset    string
	dropping  atomic.Bool
	done      chan struct{} // closed when serve returns after a drop
}

func (cs *childClients) say(line string) {
	cs.outMu.Lock()
	defer cs.outMu.Unlock()
	cs.out.WriteString(line + "\n")
	cs.out.Flush()
}

// each runs f for every member, at most par at once, and returns the first
// error.
func (cs *childClients) each(members []*member, par int, f func(int, *member) error) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(members))
	sem := make(chan struct{}, par)
	for i := range members {
		if members[i] == nil {
			members[i] = new(member)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(i, members[i]); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// dial connects m to url and reads its `connected`, keeping its session.
func (cs *childClients) dial(m *member, url string) error {
	conn, _, err := websocket.Dial(childCtx, url, &websocket.DialOptions{HTTPHeader: cs.header})
	if err != nil {
		return err
	}
	m.conn, m.done = conn, make(chan struct{})
	m.dropping.Store(false)
	msg, err := m.read()
	if err == nil {
		m.sessionID = field(msg, "sessionId")
	}
	return err
}

// resume reconnects m with its session and offset, and reads `connected`
// and the missed frames.
func (cs *childClients) resume(m *member, url string, missed int) error {
	if err := cs.dial(m, url+"?sessionId="+m.sessionID+"&offset="+m.offset); err != nil {
		return err
	}
	for range missed {
		if _, err := m.read(); err != nil {
			return err
		}
	}
	return nil
}

// read reads m's next frame, keeping its offset and whether it says the
// session was recovered.
func (m *member) read() ([]byte, error) {
	_, msg, err := m.conn.Read(childCtx)
	if err != nil {
		return nil, err
	}
	if o := field(msg, "offset"); o != "" {
		m.offset = o
	}
	if bytes.Contains(msg, []byte(`"event":"connected"`)) && bytes.Contains(msg, []byte(`"recovered":false`)) && m.offset != "" {
		return nil, fmt.Errorf("session %s not recovered: %s", m.sessionID, msg)
	}
	return msg, nil
}

// serve reads m's frames, acks those with an ackId when asked to, and
// counts them, until m is dropped; any other end ends the process: the
// benchmark is over.
func (cs *childClients) serve(m *member) {
	defer close(m.done)
	for {
		msg, err := m.read()
		if err != nil {
			if m.dropping.Load() {
				return
			}
			os.Exit(0)
		}
		if id := field(msg, "ackId"); cs.ack && id != "" {
			if err := m.conn.Write(childCtx, websocket.MessageText, []byte(`{"event":"ack","data":{"ackId":"`+id+`"}}`)); err != nil && !m.dropping.Load() {
				os.Exit(0)
			}
		}
		if cs.received.Add(1)%cs.n == 0 {
			cs.say(strconv.FormatInt(time.Now().UnixNano(), 10))
		}
	}
}

// field is the string value of key in a frame, where the frame has one
// (the members' frames are the gateway's own, keys unescaped).
func field(msg []byte, key string) string {
	k := `"` + key + `":"`
	i := bytes.Index(msg, []byte(k))
	if i < 0 {
		return ""
	}
	v := msg[i+len(k):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return string(v[:j])
	}
	return ""
}
