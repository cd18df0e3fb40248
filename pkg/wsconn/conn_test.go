package wsconn

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gamegate/gamegate/internal/waitfor"
)

// The RFC's own handshake example (§1.3): the key "dGhlIHNhbXBsZSBub25jZQ=="
// is answered "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
func TestHandshakeAnswersTheRFCExample(t *testing.T) {
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("accept %q", got)
	}
	ts := startServer(t, Config{})
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A message right behind the handshake, in the same segment, is the
	// connection's first.
	req := "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Version: 13\r\n\r\n"
	_, _ = conn.Write(append([]byte(req), frame(OpText, true, []byte("early"))...))
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") || resp.Header.Get("Sec-WebSocket-Protocol") != "" ||
		resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("response %d %v", resp.StatusCode, resp.Header)
	}
	rec := <-ts.accepted
	if op, msg := rec.message(t); op != OpText || string(msg) != "early" {
		t.Fatalf("first message %x %q", op, msg)
	}
}

// Requests that are not a handshake the server accepts (§4.2.1) are refused
// with the status the caller writes.
func TestHandshakeRefusals(t *testing.T) {
	ts := startServer(t, Config{})
	good := func() *http.Request {
		r, _ := http.NewRequest(http.MethodGet, ts.http.URL, nil)
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Connection", "Upgrade")
		r.Header.Set("Sec-WebSocket-Version", "13")
		r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		return r
	}
	for _, tc := range []struct {
		name   string
		change func(*http.Request)
		status int
		header string // a header the answer must carry
	}{
		{"plain GET", func(r *http.Request) { r.Header.Del("Upgrade"); r.Header.Del("Connection") }, http.StatusUpgradeRequired, "Upgrade"},
		{"no Connection: Upgrade", func(r *http.Request) { r.Header.Set("Connection", "keep-alive") }, http.StatusUpgradeRequired, "Upgrade"},
		{"version 8", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Version", "8") }, http.StatusUpgradeRequired, "Sec-WebSocket-Version"},
		{"no key", func(r *http.Request) { r.Header.Del("Sec-WebSocket-Key") }, http.StatusBadRequest, ""},
		{"short key", func(r *http.Request) { r.Header.Set("Sec-WebSocket-Key", "c2hvcnQ=") }, http.StatusBadRequest, ""},
		{"POST", func(r *http.Request) { r.Method = http.MethodPost }, http.StatusMethodNotAllowed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.change(r)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || (tc.header != "" && resp.Header.Get(tc.header) == "") {
				t.Fatalf("%d %v, want %d with %s", resp.StatusCode, resp.Header, tc.status, tc.header)
			}
		})
	}
}

// Messages whole and in fragments, with control frames between fragments,
// written in pieces of every size: each is delivered once, intact.
func TestMessagesAndFragments(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t, 0)
	text := strings.Repeat("héllo wörld ", 2000) // 26 KB of 1- and 2-byte characters
	var stream []byte
	stream = append(stream, frame(OpText, true, []byte(text))...)
	// The same text in 7-byte fragments, which split characters, with a
	// ping in the middle.
	for at := 0; at < len(text); at += 7 {
		op := OpContinuation
		if at == 0 {
			op = OpText
		}
		stream = append(stream, frame(op, at+7 >= len(text), []byte(text[at:min(at+7, len(text))]))...)
		if at == 700 {
			stream = append(stream, frame(OpPing, true, []byte("mid"))...)
		}
	}
	stream = append(stream, frame(OpBinary, true, []byte{0, 1, 2})...)
	stream = append(stream, frame(OpText, true, nil)...)
	for at := 0; at < len(stream); at += 3 { // 3-byte TCP writes
		c.write(stream[at:min(at+3, len(stream))])
	}
	for i, want := range []struct {
		op  Opcode
		msg string
	}{{OpText, text}, {OpText, text}, {OpBinary, "\x00\x01\x02"}, {OpText, ""}} {
		if op, msg := c.rec.message(t); op != want.op || string(msg) != want.msg {
			t.Fatalf("message %d: %x %d bytes %.20q", i, op, len(msg), msg)
		}
	}
	c.expect(OpPong, "mid")
}

// backlog makes the server's writes to c back up: frames of 16 KB until the
// socket stops taking them, and then as many again waiting in the queue.
// It returns the frames' payloads, in order.
func backlog(t *testing.T, c *client) []string {
	t.Helper()
	var sent []string
	for i := 0; ; i++ {
		p := fmt.Sprintf("%05d%s", i, strings.Repeat("q", 16<<10))
		if !c.rec.c.Send(TextFrame([]byte(p))) {
			t.Fatal("frame refused")
		}
		sent = append(sent, p)
		c.rec.c.mu.Lock()
		queued := len(c.rec.c.queue)
		c.rec.c.mu.Unlock()
		if queued >= 32 {
			return sent
		}
		if i > 10000 {
			t.Fatal("the socket never filled")
		}
	}
}

// readBacklog reads the frames backlog queued, checking each is whole.
func readBacklog(t *testing.T, c *client, sent []string) {
	t.Helper()
	for i, want := range sent {
		op, got, err := c.read()
		if err != nil || op != OpText || string(got) != want {
			t.Fatalf("frame %d of %d: %x %d bytes %.8q %v", i, len(sent), op, len(got), got, err)
		}
	}
}

// Every close comes after the whole frames queued before it, also when the
// peer is not reading and the server's writes wait for the socket: a close
// the server starts, a close the peer starts, a protocol error.
func TestCloseAfterQueuedFramesUnderBackpressure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(c *client)
		code  StatusCode
	}{
		{"server closes", func(c *client) { c.rec.c.Close(StatusGoingAway, "server stopping", nil) }, StatusGoingAway},
		{"peer closes", func(c *client) { c.write(frame(OpClose, true, []byte{0x03, 0xE8, 'b', 'y', 'e'})) }, StatusNormalClosure},
		{"peer breaks the protocol", func(c *client) { c.write([]byte{0xC1, 0x80, 1, 2, 3, 4}) }, StatusProtocolError},
		{"peer sends invalid UTF-8", func(c *client) { c.send(OpText, "ok \xed\xa0\x80") }, StatusInvalidPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			c := ts.dial(t, 0)
			sent := backlog(t, c)
			tc.start(c)
			time.Sleep(50 * time.Millisecond) // let the server see it while backed up
			readBacklog(t, c, sent)
			c.expectClose(tc.code)
			if tc.code == StatusGoingAway {
				c.write(frame(OpClose, true, []byte{0x03, 0xE9}))
			}
			c.expectEOF()
			c.conn.Close() // as a client does once the server has closed
			var ce *CloseError
			if err := c.rec.end(t); !errors.As(err, &ce) {
				t.Fatalf("ended with %v, want the close handshake", err)
			}
		})
	}
}

// A peer that stops reading is a slow consumer once what waits for it, in
// the queue and in the kernel, passes MaxQueueBytes: not before, and long
// before the queue's frame count is reached. The kernel's copy is freed by
// resetting the connection.
func TestSlowConsumerByBytes(t *testing.T) {
	const bound = 256 << 10
	ts := startServer(t, Config{MaxQueueBytes: bound})
	c := ts.dial(t, 0)
	frameBytes := 1024 + 4
	sent := 0
	for sent < 64<<20 {
		if !c.rec.c.Send(TextFrame(bytes.Repeat([]byte("s"), 1024))) {
			break
		}
		sent += frameBytes
	}
	dropped := c.rec.endedSlow(t)
	t.Logf("slow after %d KB sent, %d frames dropped", sent>>10, dropped)
	// Everything the peer could have read (its receive buffer) and the bound
	// were taken before the refusal.
	if sent < bound {
		t.Fatalf("refused after %d bytes, under the bound %d", sent, bound)
	}
	// The peer finds a reset after what its own buffer held.
	for {
		_, _, err := c.read()
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read ended with %v, want a reset", err)
		}
		break
	}
}

// A quiet connection has no reader goroutine: it waits in the poller, and a
// reader starts when the peer sends something.
func TestQuietConnectionsPark(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t, 0)
	noReaders := func() error {
		if n := ts.s.Readers(); n != 0 {
			return fmt.Errorf("%d readers", n)
		}
		return nil
	}
	waitfor.Until(t, deadline, noReaders)
	// A ping is answered by a reader that parks again at once; a message
	// keeps its reader until a tick of the timer finds the peer quiet.
	c.send(OpPing, "p")
	c.expect(OpPong, "p")
	waitfor.Until(t, deadline, noReaders)
	c.send(OpText, "hi")
	if _, msg := c.rec.message(t); string(msg) != "hi" {
		t.Fatalf("%q", msg)
	}
	if n := ts.s.Readers(); n != 1 {
		t.Fatalf("%d readers after a message, want 1", n)
	}
	c.rec.tick = 20 * time.Millisecond
	c.rec.c.SetTimer(c.rec.tick)
	waitfor.Until(t, deadline, noReaders)
	c.send(OpText, "again")
	if _, msg := c.rec.message(t); string(msg) != "again" {
		t.Fatalf("%q", msg)
	}
	c.rec.c.Close(StatusNormalClosure, "", nil)
	c.expectClose(StatusNormalClosure)
}

// A peer that does not answer the close frame is cut after CloseTimeout.
func TestCloseTimeout(t *testing.T) {
	ts := startServer(t, Config{CloseTimeout: 100 * time.Millisecond})
	c := ts.dial(t, 0)
	c.rec.c.Close(StatusPolicyViolation, "bye", TextFrame([]byte("last words")))
	if c.rec.c.Send(TextFrame([]byte("too late"))) {
		t.Fatal("a frame was taken after Close")
	}
	c.expect(OpText, "last words")
	if reason := c.expectClose(StatusPolicyViolation); reason != "bye" {
		t.Fatalf("reason %q", reason)
	}
	if err := c.rec.end(t); !errors.Is(err, ErrCloseTimeout) {
		t.Fatalf("ended with %v", err)
	}
}

// A backlog, such as a recovery's replay, may be longer than MaxQueue
// while it waits for the writer; once the writer has taken it, the live
// frames behind count against MaxQueue in full again. The writer is held
// by a frame the peer does not read, so that the queue fills for certain.
func TestBacklogPassesMaxQueue(t *testing.T) {
	const maxQueue = 8
	ts := startServer(t, Config{MaxQueue: maxQueue})
	c := ts.dial(t, 64<<10)
	conn := c.rec.c
	big := strings.Repeat("x", 16<<20) // far more than the kernel's buffers hold (a few MiB)
	if !conn.Send(TextFrame([]byte(big))) {
		t.Fatal("the big frame was refused")
	}
	for i := range 5 * maxQueue {
		if !conn.SendBacklog(TextFrame([]byte(fmt.Sprintf("old %d", i)))) {
			t.Fatalf("backlog frame %d refused", i)
		}
	}
	for i := range maxQueue {
		if !conn.Send(TextFrame([]byte(fmt.Sprintf("live %d", i)))) {
			t.Fatalf("live frame %d refused", i)
		}
	}
	c.expect(OpText, big)
	for i := range 5 * maxQueue {
		c.expect(OpText, fmt.Sprintf("old %d", i))
	}
	for i := range maxQueue {
		c.expect(OpText, fmt.Sprintf("live %d", i))
	}

	// Held again: once the peer has a byte of the big frame, the writer
	// has taken it, alone, and what follows queues behind it.
	if !conn.Send(TextFrame([]byte(big))) {
		t.Fatal("the second big frame was refused")
	}
	if _, err := c.in.ReadByte(); err != nil {
		t.Fatal(err)
	}
	taken := 0
	for taken <= 10*maxQueue && conn.Send(TextFrame([]byte("after"))) {
		taken++
	}
	if taken != maxQueue {
		t.Fatalf("%d live frames taken behind the held writer, want MaxQueue (%d)", taken, maxQueue)
	}
	c.rec.endedSlow(t)
}

// A peer found a slow consumer before Serve (its backlog passed
// MaxQueueBytes) is reported to the handler once Serve gives it one, and
// the connection ends as a slow consumer's.
func TestSlowConsumerBeforeServe(t *testing.T) {
	ts := startServerBefore(t, Config{MaxQueueBytes: 4 << 10}, func(c *Conn) {
		for range 64 {
			c.SendBacklog(TextFrame(bytes.Repeat([]byte("b"), 1024)))
		}
	})
	c := ts.dial(t, 0)
	c.rec.endedSlow(t)
}
