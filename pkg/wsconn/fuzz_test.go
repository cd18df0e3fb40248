package wsconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzReader feeds arbitrary bytes to a connection, as a peer could send
// them right after the handshake. Whatever they are, the reader does not
// panic, delivers only messages within the limit (text valid UTF-8), answers
// well-formed server frames only, ends once, and when it fails the
// connection its close frame names why (1002, 1007 or 1009).
func FuzzReader(f *testing.F) {
	for _, seed := range [][]byte{
		frame(OpText, true, []byte(`{"event":"ping"}`)),
		frame(OpPing, true, []byte("p")),
		append(frame(OpText, false, []byte("ab")), frame(OpContinuation, true, []byte("c"))...),
		frame(OpText, true, []byte("\xed\xa0\x80")),
		frame(OpClose, true, []byte{0x03, 0xE8}),
		{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4},
		{0xC1, 0x80, 1, 2, 3, 4},
		frame(OpBinary, true, bytes.Repeat([]byte{7}, 2000)),
	} {
		f.Add(seed)
	}
	const maxMessage = 1024
	s, err := NewServer(Config{MaxMessageBytes: maxMessage, MaxQueue: 64, MaxQueueBytes: 1 << 20,
		WriteTimeout: time.Second, CloseTimeout: 50 * time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(s.Close)
	f.Fuzz(func(t *testing.T, in []byte) {
		conn := &scriptConn{in: bytes.NewReader(in)}
		rec := newRecorder()
		c := s.newConn(conn, nil)
		rec.c = c
		c.Serve(rec)
		var end error
		select {
		case end = <-rec.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("the connection did not end at the end of its input")
		}
		written := conn.written()
		close(rec.messages)
		for m := range rec.messages {
			op, msg := Opcode(m[0]), m[1:]
			if len(msg) > maxMessage || op == OpText && !utf8.Valid(msg) || op != OpText && op != OpBinary {
				t.Fatalf("delivered %x %q", op, msg)
			}
		}
		frames := serverFrames(t, written)
		var ce *CloseError
		if errors.As(end, &ce) && !ce.Remote {
			last := frames[len(frames)-1]
			if last.op != OpClose || len(last.p) < 2 || StatusCode(binary.BigEndian.Uint16(last.p)) != ce.Code {
				t.Fatalf("ended with %v, last frame %x % x", end, last.op, last.p)
			}
			switch ce.Code {
			case StatusProtocolError, StatusInvalidPayload, StatusMessageTooBig:
			default:
				t.Fatalf("failed with %v", end)
			}
		}
	})
}

// scriptConn is a connection whose peer sent in and then closed its side;
// what the server writes is kept.
type scriptConn struct {
	in  *bytes.Reader
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error) { return c.in.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(p)
}
func (c *scriptConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}
func (*scriptConn) Close() error                     { return nil }
func (*scriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (*scriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (*scriptConn) SetDeadline(time.Time) error      { return nil }
func (*scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (*scriptConn) SetWriteDeadline(time.Time) error { return nil }

type serverFrame struct {
	op Opcode
	p  []byte
}

// serverFrames parses what the server wrote, failing on anything a server
// may not send; a frame cut short by the end of the test is dropped.
func serverFrames(t *testing.T, b []byte) []serverFrame {
	var out []serverFrame
	for len(b) >= 2 {
		if b[0]&0xF0 != 0x80 || b[1]&0x80 != 0 || Opcode(b[0]&0x0F).reserved() {
			t.Fatalf("server frame header % x", b[:2])
		}
		size := headerSize(b[0], b[1])
		if len(b) < size {
			break
		}
		h := parseHeader(b)
		if uint64(len(b)-size) < h.length {
			break
		}
		p := b[size : size+int(h.length)]
		if h.op == OpClose && len(p) >= 2 && !utf8.Valid(p[2:]) {
			t.Fatalf("close reason %q", p[2:])
		}
		out = append(out, serverFrame{h.op, p})
		b = b[size+int(h.length):]
	}
	return out
}
