package wsconn

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// readBufferSize is a connection's read buffer: frame headers, control
// frames and small messages are read through it; larger payloads go
// straight to the message. It is released while the connection is parked.
const readBufferSize = 256

var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufferSize); return &b }}

// reader buffers what the peer sent.
type reader struct {
	nc   net.Conn
	buf  *[]byte // nil while released
	r, w int     // (*buf)[r:w] is unread
}

// seed makes early the first bytes read.
func (rd *reader) seed(early []byte) {
	if len(early) == 0 {
		return
	}
	b := make([]byte, max(readBufferSize, len(early)))
	rd.buf, rd.w = &b, copy(b, early)
}

func (rd *reader) buffered() int { return rd.w - rd.r }

// fill reads once from the connection into the buffer, after what is there.
func (rd *reader) fill() error {
	if rd.buf == nil {
		rd.buf = readBufs.Get().(*[]byte)
	}
	b := *rd.buf
	if rd.r > 0 {
		rd.w = copy(b, b[rd.r:rd.w])
		rd.r = 0
	}
	for {
		n, err := rd.nc.Read(b[rd.w:])
		rd.w += n
		if n > 0 {
			return nil // an error comes back with the next read
		}
		if err != nil {
			return err
		}
	}
}

// need returns the next n bytes, at most the buffer's size, without
// consuming them.
func (rd *reader) need(n int) ([]byte, error) {
	for rd.w-rd.r < n {
		if err := rd.fill(); err != nil {
			return nil, err
		}
	}
	return (*rd.buf)[rd.r : rd.r+n], nil
}

func (rd *reader) skip(n int) { rd.r += n }

// readSome reads at least one byte into p: buffered bytes first, else
// straight from the connection when p is large.
func (rd *reader) readSome(p []byte) (int, error) {
	if rd.w == rd.r {
		if len(p) >= readBufferSize {
			return rd.nc.Read(p)
		}
		if err := rd.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, (*rd.buf)[rd.r:rd.w])
	rd.r += n
	return n, nil
}

// release gives an empty buffer back.
func (rd *reader) release() {
	if rd.buf == nil || rd.r != rd.w {
		return
	}
	if cap(*rd.buf) == readBufferSize {
		readBufs.Put(rd.buf)
	}
	rd.buf, rd.r, rd.w = nil, 0, 0
}

var msgBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// maxPooledMessage keeps a rare big message's buffer out of the pool.
const maxPooledMessage = 64 << 10

// message is the data message being read, across its fragments.
type message struct {
	op   Opcode // OpText or OpBinary while a message is open, else 0
	buf  *[]byte
	text utf8Stream
}

func (m *message) start(op Opcode) {
	m.op = op
	m.buf = msgBufs.Get().(*[]byte)
	m.text.reset()
}

func (m *message) release() {
	if m.buf != nil && cap(*m.buf) <= maxPooledMessage {
		*m.buf = (*m.buf)[:0]
		msgBufs.Put(m.buf)
	}
	m.op, m.buf = 0, nil
}

// run is the reader: it reads and handles frames until the connection
// ends, or parks it when the peer has gone quiet. A peer that sends data
// frames keeps its reader, waiting for the next one; one that only
// answers pings, or sent nothing since the timer's last tick, waits in the
// poller without one.
func (c *Conn) run() {
	c.srv.readers.Add(1)
	defer c.srv.readers.Add(-1)
	for {
		err := c.readFrame()
		if err != nil && !errors.Is(err, errQuiet) {
			c.finish(err)
			return
		}
		if (err != nil || !c.spoke.Load()) && c.park() {
			return
		}
	}
}

// park hands the connection to the poller when nothing is buffered, and
// reports whether it did: the connection is then not this goroutine's any
// more.
func (c *Conn) park() bool {
	if c.in.buffered() > 0 {
		return false
	}
	c.in.release()
	return c.srv.poller.park(c)
}

// unpark starts a reader for c if c is parked, and only then.
func (c *Conn) unpark() {
	if c.parked.CompareAndSwap(true, false) {
		go c.run()
	}
}

// await waits until the peer has sent something, unless kick cuts the wait
// short: then it returns errQuiet.
func (c *Conn) await() error {
	if c.in.buffered() > 0 {
		return nil
	}
	c.waitMu.Lock()
	c.waiting = true
	c.waitMu.Unlock()
	err := c.in.fill()
	c.waitMu.Lock()
	kicked := c.kicked
	c.waiting, c.kicked = false, false
	c.waitMu.Unlock()
	if !kicked {
		return err
	}
	_ = c.nc.SetReadDeadline(time.Time{})
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errQuiet
	}
	return err
}

// kick runs on every tick of the timer: a reader that waits for a peer
// that sent no data frame since the last tick is cut short (a deadline in
// the past), to park.
func (c *Conn) kick() {
	if c.spoke.Swap(false) {
		return
	}
	c.waitMu.Lock()
	if c.waiting && !c.kicked {
		c.kicked = true
		_ = c.nc.SetReadDeadline(time.Unix(1, 0))
	}
	c.waitMu.Unlock()
}

// readFrame reads one frame and handles it.
func (c *Conn) readFrame() error {
	if err := c.await(); err != nil {
		return err
	}
	b, err := c.in.need(2)
	if err != nil {
		return err
	}
	size := headerSize(b[0], b[1])
	if b, err = c.in.need(size); err != nil {
		return err
	}
	h := parseHeader(b)
	c.in.skip(size)
	if err := h.check(c.msg.op != 0); err != nil {
		return err
	}
	if h.op.control() {
		return c.readControl(h)
	}
	c.spoke.Store(true)
	return c.readData(h)
}

func (c *Conn) readControl(h header) error {
	p, err := c.in.need(int(h.length))
	if err != nil {
		return err
	}
	defer c.in.skip(len(p))
	mask(p, h.key, 0)
	switch h.op {
	case OpPing:
		c.Send(controlFrame(OpPong, p))
	case OpPong:
		if !c.closing.Load() {
			c.h.OnPong()
		}
	case OpClose:
		code, reason, err := parseClose(p)
		if err != nil {
			return err
		}
		return &CloseError{Code: code, Reason: reason, Remote: true}
	}
	return nil
}

// readData reads a data frame's payload into the message, unmasking and,
// for text, validating each piece as it arrives, and delivers the message
// after its last fragment.
func (c *Conn) readData(h header) error {
	m := &c.msg
	if h.op != OpContinuation {
		m.start(h.op)
	}
	start := len(*m.buf)
	if uint64(start)+h.length > uint64(c.srv.cfg.MaxMessageBytes) {
		return &CloseError{Code: StatusMessageTooBig, Reason: "message too big"}
	}
	end := start + int(h.length)
	buf := growTo(*m.buf, end)
	*m.buf = buf
	pos := 0
	for at := start; at < end; {
		n, err := c.in.readSome(buf[at:end])
		if n > 0 {
			piece := buf[at : at+n]
			pos = mask(piece, h.key, pos)
			if m.op == OpText && !m.text.write(piece) {
				return &CloseError{Code: StatusInvalidPayload, Reason: "text is not valid UTF-8"}
			}
			at += n
		}
		if err != nil {
			return err
		}
	}
	if !h.fin {
		return nil
	}
	if m.op == OpText && !m.text.complete() {
		return &CloseError{Code: StatusInvalidPayload, Reason: "text is not valid UTF-8"}
	}
	if !c.closing.Load() {
		c.h.OnMessage(m.op, buf)
	}
	m.release()
	return nil
}

// growTo returns b extended to length n, reallocating if needed.
func growTo(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	return append(b[:cap(b)], make([]byte, n-cap(b))...)[:n]
}

// finish ends the connection after its reader stopped with err: a close
// frame from the peer is answered, after what is queued; a broken protocol
// is answered with the close frame err names; then the socket is closed.
func (c *Conn) finish(err error) {
	var ce *CloseError
	if errors.As(err, &ce) {
		answer := ce.Remote && !c.closing.Load() // the peer closed first
		c.Close(ce.Code, ce.Reason, nil)
		<-c.closeSent
		if answer || !ce.Remote {
			// No answer is awaited: the reader ends the connection itself.
			c.mu.Lock()
			c.answering.Store(false)
			c.timer.Stop()
			c.mu.Unlock()
			c.linger()
		}
	}
	c.end(err)
}

// linger ends a connection whose last frame is out while the peer may still
// be sending: closing a socket with unread data resets it, and a reset can
// destroy the close frame before the peer has read it. So the server
// half-closes, which the peer sees as the end of the stream, and reads
// until the peer closes its side, within CloseTimeout.
func (c *Conn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || cw.CloseWrite() != nil {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.CloseTimeout))
	_, _ = io.Copy(io.Discard, c.nc)
}

// end releases the connection and tells the handler, in the reader.
func (c *Conn) end(err error) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		close(c.closeSent)
	})
	c.mu.Lock()
	c.ended = true
	c.dropQueue()
	c.timer.Stop()
	if c.cause != nil {
		err = c.cause
	}
	c.mu.Unlock()
	c.srv.poller.forget(c)
	_ = c.nc.Close()
	c.in.release()
	c.msg.release()
	c.h.OnClose(err)
}
