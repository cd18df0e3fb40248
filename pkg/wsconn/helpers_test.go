package wsconn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// deadline bounds every wait of a test.
const deadline = 5 * time.Second

// recorder is a Handler that records what its connection reports.
type recorder struct {
	c        *Conn
	messages chan []byte
	pongs    chan struct{}
	slow     chan int
	closed   chan error
	tick     time.Duration // OnTimer sets the timer again after tick, if not 0
}

func newRecorder() *recorder {
	return &recorder{
		messages: make(chan []byte, 1000), pongs: make(chan struct{}, 100),
		slow: make(chan int, 1), closed: make(chan error, 1),
	}
}

func (r *recorder) OnMessage(op Opcode, msg []byte) {
	r.messages <- append([]byte{byte(op)}, msg...)
}
func (r *recorder) OnPong()         { r.pongs <- struct{}{} }
func (r *recorder) OnSlow(n int)    { r.slow <- n }
func (r *recorder) OnClose(e error) { r.closed <- e }
func (r *recorder) OnTimer() {
	if r.tick > 0 {
		r.c.SetTimer(r.tick)
	}
}

// message waits for the next message.
func (r *recorder) message(t *testing.T) (Opcode, []byte) {
	t.Helper()
	select {
	case m := <-r.messages:
		return Opcode(m[0]), m[1:]
	case <-time.After(deadline):
		t.Fatal("no message")
	}
	return 0, nil
}

// end waits for OnClose.
func (r *recorder) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.closed:
		return err
	case <-time.After(2 * deadline):
		t.Fatal("the connection did not end")
	}
	return nil
}

// endedSlow waits for OnSlow, then for OnClose, which must be a slow
// consumer's; it returns the frames OnSlow said were dropped.
func (r *recorder) endedSlow(t *testing.T) int {
	t.Helper()
	var dropped int
	select {
	case dropped = <-r.slow:
	case <-time.After(deadline):
		t.Fatal("OnSlow never ran")
	}
	if err := r.end(t); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("ended with %v", err)
	}
	return dropped
}

// testServer serves WebSocket upgrades with s; every connection goes to
// accepted with its recorder.
type testServer struct {
	s        *Server
	http     *httptest.Server
	accepted chan *recorder
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startServerBefore(t, cfg, nil)
}

// startServerBefore is startServer with before, if not nil, run on each
// connection between Upgrade and Serve.
func startServerBefore(t *testing.T, cfg Config, before func(*Conn)) *testServer {
	t.Helper()
	if cfg.MaxMessageBytes == 0 {
		cfg.MaxMessageBytes = 64 << 10
	}
	if cfg.MaxQueue == 0 {
		cfg.MaxQueue = 1 << 20
	}
	if cfg.MaxQueueBytes == 0 {
		cfg.MaxQueueBytes = 1 << 30
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = deadline
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{s: s, accepted: make(chan *recorder, 16)}
	var live sync.WaitGroup
	ts.http = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.Upgrade(w, r)
		if err != nil {
			var he *HandshakeError
			if errors.As(err, &he) {
				for k, v := range he.Header {
					w.Header()[k] = v
				}
				http.Error(w, he.Message, he.Status)
			}
			return
		}
		rec := newRecorder()
		rec.c = c
		live.Add(1)
		if before != nil {
			before(c)
		}
		c.Serve(tracked{rec, live.Done})
		ts.accepted <- rec
	}))
	t.Cleanup(func() {
		ts.http.Close()
		live.Wait()
		s.Close()
	})
	return ts
}

// tracked is a recorder whose OnClose also calls done, so that the test
// server waits for its connections to end.
type tracked struct {
	*recorder
	done func()
}

func (t tracked) OnClose(err error) {
	t.recorder.OnClose(err)
	t.done()
}

// client is a raw client over TCP: it writes frames by hand, so tests can
// send anything a peer could.
type client struct {
	t    *testing.T
	conn *net.TCPConn
	in   *bufio.Reader
	rec  *recorder // the server's side
}

// dial connects to ts and completes the handshake; rcvbuf, if not 0, is the
// client's receive buffer, small to make the server's writes back up.
func (ts *testServer) dial(t *testing.T, rcvbuf int) *client {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	tc := conn.(*net.TCPConn)
	if rcvbuf > 0 {
		_ = tc.SetReadBuffer(rcvbuf)
	}
	t.Cleanup(func() { conn.Close() })
	_, _ = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	c := &client{t: t, conn: tc, in: bufio.NewReader(conn)}
	_ = conn.SetReadDeadline(time.Now().Add(deadline))
	resp, err := http.ReadResponse(c.in, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	_ = conn.SetReadDeadline(time.Time{})
	select {
	case c.rec = <-ts.accepted:
	case <-time.After(deadline):
		t.Fatal("no connection on the server")
	}
	return c
}

// frame is a masked client frame.
func frame(op Opcode, fin bool, payload []byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, 0x80|byte(n))
	case n <= 0xFFFF:
		f = binary.BigEndian.AppendUint16(append(f, 0x80|126), uint16(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, 0x80|127), uint64(n))
	}
	key := [4]byte{0xA1, 0xB2, 0xC3, 0xD4}
	f = append(f, key[:]...)
	for i, b := range payload {
		f = append(f, b^key[i%4])
	}
	return f
}

func (c *client) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *client) send(op Opcode, payload string) {
	c.t.Helper()
	c.write(frame(op, true, []byte(payload)))
}

// read reads one server frame, checking it is one a server may send.
func (c *client) read() (Opcode, []byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(deadline))
	var h [2]byte
	if _, err := io.ReadFull(c.in, h[:]); err != nil {
		return 0, nil, err
	}
	if h[0]&0xF0 != 0x80 || h[1]&0x80 != 0 {
		c.t.Fatalf("server frame header % x: fragmented, reserved bits or masked", h)
	}
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		_, _ = io.ReadFull(c.in, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, _ = io.ReadFull(c.in, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.in, p)
	return Opcode(h[0] & 0x0F), p, err
}

// expect reads the next frame and fails unless it is op with payload.
func (c *client) expect(op Opcode, payload string) {
	c.t.Helper()
	gotOp, got, err := c.read()
	if err != nil || gotOp != op || string(got) != payload {
		c.t.Fatalf("got %x %.40q %v, want %x %.40q", gotOp, got, err, op, payload)
	}
}

// expectClose reads the next frame and fails unless it is a close with
// code.
func (c *client) expectClose(code StatusCode) string {
	c.t.Helper()
	op, p, err := c.read()
	if err != nil || op != OpClose || len(p) < 2 || StatusCode(binary.BigEndian.Uint16(p)) != code {
		c.t.Fatalf("got %x % x %v, want close %d", op, p, err, code)
	}
	return string(p[2:])
}

// expectEOF fails unless the server ends the stream next (FIN, or a reset
// after the close handshake).
func (c *client) expectEOF() {
	c.t.Helper()
	if op, p, err := c.read(); err == nil {
		c.t.Fatalf("frame %x %.40q after the close", op, p)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		c.t.Fatal("the server did not end the connection")
	}
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }
