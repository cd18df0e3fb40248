package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// What an idle connection costs is mostly buffers. net/http hands a
// hijacked connection two 4 KiB bufio buffers that coder/websocket keeps for
// the connection's life; accept gives it small ones instead, and writes go
// through a batch that the client's writer sends with one system call per
// wake-up, however many frames it holds.

// readBufferSize is the bufio.Reader of a connection: frame headers and small
// messages are read through it; larger payloads bypass it.
const readBufferSize = 256

// accept upgrades the request like websocket.Accept, with lean buffers. The
// returned batch carries every write to the connection.
func accept(w http.ResponseWriter, r *http.Request) (*websocket.Conn, *batch, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the response cannot be hijacked")
	}
	lw := &leanWriter{ResponseWriter: w, hj: hj, out: &batch{}}
	conn, err := websocket.Accept(lw, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	return conn, lw.out, err
}

type leanWriter struct {
	http.ResponseWriter
	hj  http.Hijacker
	out *batch
}

func (w *leanWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := w.hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.out.conn = conn
	rd := brw.Reader
	// Bytes the client sent right behind its handshake sit in net/http's
	// reader: keep that one then, rather than lose them.
	if rd.Buffered() == 0 {
		rd = bufio.NewReaderSize(conn, readBufferSize)
	}
	// The writer's own buffer only has to hold a frame header: the batch
	// below it is where frames gather.
	return conn, bufio.NewReadWriter(rd, bufio.NewWriterSize(w.out, 16)), nil
}

// batch is the connection's writer. Outside a batch a write goes straight
// to the socket (control frames, the close handshake). Between begin and
// flush, writes gather in a pooled buffer, sent by flush in one write.
type batch struct {
	mu       sync.Mutex
	conn     net.Conn
	batching bool
	buf      *[]byte
}

var batchBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBatch keeps a rare huge batch from pinning memory in the pool.
const maxPooledBatch = 256 << 10

func (b *batch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.batching {
		return b.conn.Write(p)
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

func (b *batch) begin() {
	b.mu.Lock()
	b.batching = true
	b.buf = batchBufs.Get().(*[]byte)
	b.mu.Unlock()
}

// flush ends the batch and writes it, within timeout.
func (b *batch) flush(timeout time.Duration) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	buf := b.buf
	b.buf = nil
	var err error
	if len(*buf) > 0 {
		_ = b.conn.SetWriteDeadline(time.Now().Add(timeout))
		_, err = b.conn.Write(*buf)
		_ = b.conn.SetWriteDeadline(time.Time{})
	}
	if cap(*buf) <= maxPooledBatch {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
	return err
}
