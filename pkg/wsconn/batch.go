package wsconn

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"
)

// batch gathers whole frames and writes them in one system call. Only the
// connection's writer touches it.
type batch struct {
	conn net.Conn
	raw  syscall.RawConn // for a write that cannot block; nil if unavailable
	buf  *[]byte

	// The one non-blocking attempt of write, bound once so that passing it
	// to raw.Control allocates nothing.
	try    func(fd uintptr)
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

// add appends a whole frame.
func (b *batch) add(frame []byte) {
	if b.buf == nil {
		b.buf = batchBufs.Get().(*[]byte)
	}
	*b.buf = append(*b.buf, frame...)
}

// flush writes the batch and reports how many bytes went out. With wait it
// waits for the socket, within timeout. Without, it writes what the socket
// takes at once; if that is not everything it returns errWouldBlock and
// keeps the rest, so that nothing can come between the bytes of a frame,
// until a flush with wait sends it.
func (b *batch) flush(timeout time.Duration, wait bool) (int, error) {
	if b.buf == nil {
		return 0, nil
	}
	buf := b.buf
	n, err := b.write(*buf, timeout, wait)
	if errors.Is(err, errWouldBlock) {
		*buf = (*buf)[:copy(*buf, (*buf)[n:])]
		return n, err
	}
	b.buf = nil
	if cap(*buf) <= maxPooledBatch {
		*buf = (*buf)[:0]
		batchBufs.Put(buf)
	}
	return n, err
}

// send writes one frame. With nothing batched it writes the frame itself,
// sparing the copy into a buffer; only a rest the socket did not take is
// kept, as flush keeps it.
func (b *batch) send(frame []byte, timeout time.Duration, wait bool) (int, error) {
	if b.buf != nil {
		b.add(frame)
		return b.flush(timeout, wait)
	}
	n, err := b.write(frame, timeout, wait)
	if errors.Is(err, errWouldBlock) {
		b.add(frame[n:])
	}
	return n, err
}

// seal writes the close frame, the connection's last; without wait only if
// the socket takes it whole at once.
func (b *batch) seal(frame []byte, timeout time.Duration, wait bool) error {
	n, err := b.write(frame, timeout, wait)
	if err == nil && n < len(frame) {
		err = errWouldBlock
	}
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
		// Control, not Write: the descriptor stays valid while try runs
		// (RawConn's contract), and the writer is the socket's only one, so
		// Write's lock and readying the poller for a wait that never comes
		// would be spent for nothing, on every delivery.
		b.tryP = p
		err := b.raw.Control(b.try)
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

func (b *batch) tryWrite(fd uintptr) {
	b.tryN, b.tryErr = syscall.Write(int(fd), b.tryP) // one attempt: never wait for the socket here
}
