package gateway

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// What an idle connection costs is mostly buffers. net/http hands a
// hijacked connection two 4 KiB bufio buffers that coder/websocket keeps for
// the connection's life; accept gives it small ones instead. Data frames do
// not go through coder/websocket at all: a server frame is unmasked, so a
// broadcast's complete frame is the same bytes for every member, built once
// (frame) and appended to each client's batch, which the client's writer
// sends with one system call per wake-up however many frames it holds.
// coder/websocket still reads messages and refuses what breaks the
// protocol; the gateway answers pings and pongs between messages (control)
// and sends its own close frame (Client.finishClose), so that only the
// reader ever reads the connection. coder/websocket's control frames (at
// most 129 bytes) fit its writer's buffer, so each reaches the batch in one
// Write and never interleaves with a data frame.

// controlFrameMax is the largest control frame a server writes: a 2-byte
// header and up to 125 bytes of payload, rounded up.
const controlFrameMax = 136

// readBufferSize is the bufio.Reader of a connection: frame headers and small
// messages are read through it; larger payloads bypass it.
const readBufferSize = 256

// leanConn is an accepted connection.
type leanConn struct {
	conn *websocket.Conn
	out  *batch        // every write goes through it
	in   *bufio.Reader // coder/websocket reads through it; so does Client.control
	// The client sent bytes right behind its handshake: coder/websocket
	// holds them outside in, so the connection never waits in the idle
	// poller, which only sees the socket.
	pipelined bool
}

// accept upgrades the request like websocket.Accept, with lean buffers.
// WebSocket pongs are reported to hb, when not nil.
func accept(w http.ResponseWriter, r *http.Request, hb *heartbeat) (*leanConn, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("the response cannot be hijacked")
	}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true}
	if hb != nil {
		opts.OnPongReceived = func(context.Context, []byte) { hb.answered() }
	}
	lw := &leanWriter{ResponseWriter: w, hj: hj, lc: &leanConn{out: &batch{}}}
	conn, err := websocket.Accept(lw, r, opts)
	if err != nil {
		return nil, err
	}
	lw.lc.conn = conn
	return lw.lc, nil
}

type leanWriter struct {
	http.ResponseWriter
	hj http.Hijacker
	lc *leanConn
}

func (w *leanWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Time{}) // http.Hijacker: the conn may carry the server's read and write deadlines
	out := w.lc.out
	out.conn = conn
	rd := brw.Reader
	// Bytes the client sent right behind its handshake sit in net/http's
	// reader: keep that one then, rather than lose them.
	w.lc.pipelined = rd.Buffered() > 0
	if !w.lc.pipelined {
		rd = bufio.NewReaderSize(conn, readBufferSize)
	}
	w.lc.in = rd
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			out.raw, out.try = raw, out.tryWrite
		}
	}
	return conn, bufio.NewReadWriter(rd, bufio.NewWriterSize(out, controlFrameMax)), nil
}

// batch is the connection's writer. Outside a batch a write goes straight
// to the socket (control frames, the close handshake). Between begin and
// flush, writes gather in a pooled buffer, sent by flush in one write.
type batch struct {
	mu       sync.Mutex
	conn     net.Conn
	raw      syscall.RawConn // for a write that cannot block; nil if unavailable
	batching bool
	sealed   bool // the close frame is out
	buf      *[]byte

	// The one non-blocking attempt of write, bound once so that passing it
	// to raw.Write allocates nothing.
	try    func(fd uintptr) bool
	tryP   []byte
	tryN   int
	tryErr error
}

// errWouldBlock is flush's answer, without wait, when the socket did not
// take the whole batch: the rest is kept for the next flush.
var errWouldBlock = errors.New("socket full")

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBatch keeps a rare huge batch from pinning memory in the pool.
const maxPooledBatch = 256 << 10

func (b *batch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.sealed {
		return len(p), nil // after our close frame, nothing more
	}
	if !b.batching {
		return b.conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// begin starts a batch. Without wait it gives up, returning false, if
// another write holds the connection (a control frame to a full socket).
func (b *batch) begin(wait bool) bool {
	if wait {
		b.mu.Lock()
	} else if !b.mu.TryLock() {
		return false
	}
	b.batching = true
	b.buf = batchBufs.Get().(*[]byte)
	b.mu.Unlock()
	return true
}

// add appends complete frames to the batch.
func (b *batch) add(frame []byte) {
	b.mu.Lock()
	*b.buf = append(*b.buf, frame...)
	b.mu.Unlock()
}

// flush writes the batch. With wait it waits for the socket, within
// timeout, and ends the batch. Without, it writes what the socket takes at
// once; if that is not everything it returns errWouldBlock and the batch
// stays open with the rest, so nothing written meanwhile (a pong) can come
// between the bytes of a frame, until a flush with wait sends it.
func (b *batch) flush(timeout time.Duration, wait bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf := b.buf
	n, err := b.write(*buf, timeout, wait)
	if errors.Is(err, errWouldBlock) {
		*buf = (*buf)[:copy(*buf, (*buf)[n:])]
		return err
	}
	b.batching = false
	b.buf = nil
	if cap(*buf) <= maxPooledBatch {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
	return err
}

// seal writes the close frame, within timeout; later writes are dropped.
func (b *batch) seal(frame []byte, timeout time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sealed = true
	_, err := b.write(frame, timeout, true)
	return err
}

// write sends p and reports how much went out. The socket usually has
// room, so it first tries a write that cannot block; only what is left then
// waits, under a deadline, if wait allows (else errWouldBlock). That spares
// the two timer updates of setting and clearing a deadline per write.
func (b *batch) write(p []byte, timeout time.Duration, wait bool) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	done := 0
	if b.raw != nil {
		b.tryP = p
		err := b.raw.Write(b.try)
		n, werr := b.tryN, b.tryErr
		b.tryP, b.tryErr = nil, nil
		switch {
		case err != nil:
			return 0, err
		case n == len(p):
			return n, nil
		case werr != nil && werr != syscall.EAGAIN && werr != syscall.EINTR:
			return 0, werr
		}
		done = max(n, 0)
	}
	if !wait {
		return done, errWouldBlock
	}
	_ = b.conn.SetWriteDeadline(time.Now().Add(timeout))
	n, err := b.conn.Write(p[done:])
	_ = b.conn.SetWriteDeadline(time.Time{})
	return done + n, err
}

func (b *batch) tryWrite(fd uintptr) bool {
	b.tryN, b.tryErr = syscall.Write(int(fd), b.tryP)
	return true // one attempt: never wait for the socket here
}

// WebSocket control opcodes.
const (
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// closeFrame is the close frame with code and reason, a reason too long
// for a control frame cut short.
func closeFrame(code websocket.StatusCode, reason string) []byte {
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	return controlFrame(opClose, append(p, reason[:min(len(reason), 123)]...))
}

// controlFrame is an unmasked control frame from the server; payload is at
// most 125 bytes.
func controlFrame(op byte, payload []byte) []byte {
	return append([]byte{0x80 | op, byte(len(payload))}, payload...)
}

// control reads a ping or pong at the head of the input, if one is there,
// and answers it. Done here rather than by coder/websocket, whose Reader
// returns only with a message: a client's pong would leave the reader
// waiting in it (holding a goroutine) for the next message. Anything else,
// or a control frame that breaks the protocol, is left to coder/websocket.
func (c *Client) control() (bool, error) {
	h, err := c.in.Peek(2)
	if err != nil {
		return false, err
	}
	op, n := h[0]&0x0F, int(h[1]&0x7F)
	// FIN, no RSV bits, masked (as every client frame must be), and a
	// control frame's length.
	if op != opPing && op != opPong || h[0]&0xF0 != 0x80 || h[1]&0x80 == 0 || n > 125 {
		return false, nil
	}
	f, err := c.in.Peek(6 + n)
	if err != nil {
		return false, err
	}
	if op == opPing {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = f[6+i] ^ f[2+i%4]
		}
		c.enqueue(controlFrame(opPong, payload))
	} else {
		c.t.pong()
	}
	_, err = c.in.Discard(6 + n)
	return true, err
}

// frameRoom is the space newFrame leaves for the longest frame header.
const frameRoom = 10

// newFrame returns a buffer to append a frame's payload to, for finishFrame.
func newFrame(size int) []byte { return make([]byte, frameRoom, frameRoom+size) }

// finishFrame turns a newFrame buffer holding a payload into a complete
// unmasked text frame, writing the header in the room left for it.
func finishFrame(b []byte) []byte {
	n := len(b) - frameRoom
	switch {
	case n < 126:
		b[8], b[9] = 0x81, byte(n)
		return b[8:]
	case n <= 0xFFFF:
		b[6], b[7] = 0x81, 126
		binary.BigEndian.PutUint16(b[8:], uint16(n))
		return b[6:]
	default:
		b[0], b[1] = 0x81, 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return b
	}
}

// textFrame is payload as a complete text frame.
func textFrame(payload []byte) []byte {
	return finishFrame(append(newFrame(len(payload)), payload...))
}
