package wsconn

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Handler hears what happens on a connection. Its methods are called one at
// a time for OnMessage, OnPong and OnClose (all from the connection's
// reader); OnTimer and OnSlow may run concurrently with them.
type Handler interface {
	// OnMessage handles one whole data message, text (valid UTF-8) or
	// binary. msg is valid only during the call. Messages that arrive once
	// the connection is closing are not delivered.
	OnMessage(op Opcode, msg []byte)
	// OnPong reports a pong from the peer.
	OnPong()
	// OnTimer runs when the connection's timer (SetTimer) fires, unless the
	// connection is closing.
	OnTimer()
	// OnSlow reports that the peer is a slow consumer: the connection is
	// being closed with 1008, dropping queued frames.
	OnSlow(dropped int)
	// OnClose runs once, last, when the connection has ended: err is a
	// *CloseError after a close handshake, else why it ended.
	OnClose(err error)
}

// Conn is one WebSocket connection, from Upgrade until OnClose. Its methods
// are safe for concurrent use; the package comment says who touches what.
type Conn struct {
	srv *Server
	nc  net.Conn
	raw syscall.RawConn // nil if nc has no descriptor: no parking, no kernel counts
	h   Handler

	// Reader side: only the reader touches these.
	in  reader
	msg message

	// The outgoing queue. The goroutine that sets writing is the writer:
	// it owns out until it clears writing.
	mu           sync.Mutex
	queue        [][]byte
	spare        [][]byte
	queued       int64 // bytes queued or in out, not yet taken by the kernel
	backlog      int   // frames of the queue sent with SendBacklog
	writing      bool
	closePending bool // the close frame goes out once the queue is empty
	closeCode    StatusCode
	closeReason  string
	ended        bool
	cause        error // why the server cut the connection, if it did
	out          batch
	sinceLook    int64 // bytes written since the kernel's count was read; the writer's

	closing   atomic.Bool  // no more frames are taken
	dropping  atomic.Bool  // queued frames are discarded
	kernel    atomic.Int64 // bytes the kernel held for the peer, last read
	closeOnce sync.Once
	closeSent chan struct{} // closed once no close frame will be written any more
	answering atomic.Bool   // our close frame is out: the peer has CloseTimeout to answer

	// One timer serves the handler's ticks, parking and the close
	// handshake's deadline. Set before Serve, it starts with Serve.
	timer   *time.Timer
	serving bool          // under mu
	pending time.Duration // a SetTimer before Serve; under mu
	slowDue bool          // a slow consumer found before Serve, for Serve to report; under mu
	slowOf  int           // and the frames it dropped

	// Parking (see poller).
	parked  atomic.Bool
	token   uint64      // the poller's name for the connection; the reader's
	spoke   atomic.Bool // a data frame came since the timer's last tick
	waitMu  sync.Mutex
	waiting bool // the reader waits for the peer's next frame
	kicked  bool // and its wait was cut short, to park
}

// Serve hands the connection to h and starts reading, in a goroutine or, if
// nothing has arrived yet, by parking. It returns at once.
func (c *Conn) Serve(h Handler) {
	c.mu.Lock()
	c.h = h
	c.serving = true
	if c.pending > 0 && !c.closing.Load() {
		c.timer.Reset(c.pending)
	}
	slowDue, dropped := c.slowDue, c.slowOf
	c.mu.Unlock()
	if slowDue {
		h.OnSlow(dropped)
	}
	if !c.park() {
		go c.run()
	}
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// CloseSent is closed once the connection will write nothing more: its
// close frame is out, or it ended without one.
func (c *Conn) CloseSent() <-chan struct{} { return c.closeSent }

// Closing reports whether the connection takes no more frames.
func (c *Conn) Closing() bool { return c.closing.Load() }

// SetTimer makes OnTimer run once after d, replacing an earlier setting;
// before Serve, d counts from Serve. A closing connection ignores it.
func (c *Conn) SetTimer(d time.Duration) {
	c.mu.Lock()
	switch {
	case c.closing.Load():
	case !c.serving:
		c.pending = d
	default:
		c.timer.Reset(d)
	}
	c.mu.Unlock()
}

// Ping queues a ping; the peer's pong reaches OnPong.
func (c *Conn) Ping() bool { return c.Send(pingFrame) }

// Send queues frame (built with TextFrame or FinishText, never changed
// afterwards) and writes it unless a write to the peer is under way. It
// never waits for the peer, and reports whether the frame was taken: not
// once the connection is closing, nor when taking it would make the peer a
// slow consumer (the connection is then closed with 1008).
func (c *Conn) Send(frame []byte) bool { return c.send(frame, false) }

// SendBacklog is Send for a frame of a backlog the peer asked for all at
// once, such as a recovery's replay of what it missed: until the writer
// takes them, backlog frames do not count against MaxQueue, as a backlog
// may be longer than the queue a live peer is allowed. MaxQueueBytes
// bounds them as it bounds every frame.
func (c *Conn) SendBacklog(frame []byte) bool { return c.send(frame, true) }

func (c *Conn) send(frame []byte, backlog bool) bool {
	taken, write := c.enqueue(frame, backlog)
	if write {
		c.writeLoop(true)
	}
	return taken
}

// enqueue adds frame to the queue, in the backlog or not. It reports
// whether the frame was taken, and whether the caller must write
// (writeLoop): nobody was writing, and from now on others only add to the
// queue.
func (c *Conn) enqueue(frame []byte, backlog bool) (taken, write bool) {
	if c.closing.Load() {
		return false, false
	}
	c.mu.Lock()
	if c.closing.Load() {
		c.mu.Unlock()
		return false, false
	}
	if (!backlog && len(c.queue)-c.backlog >= c.srv.cfg.MaxQueue) || c.overBound(int64(len(frame))) {
		c.mu.Unlock()
		c.slow()
		return false, false
	}
	c.queue = append(c.queue, frame)
	c.queued += int64(len(frame))
	if backlog {
		c.backlog++
	}
	write = !c.writing
	c.writing = true
	c.mu.Unlock()
	return true, write
}

// overBound reports, under mu, whether extra more bytes would pass
// MaxQueueBytes. The kernel's count is read again before saying yes: the
// peer may have caught up since it was last read.
func (c *Conn) overBound(extra int64) bool {
	if c.queued+extra+c.kernel.Load() <= c.srv.cfg.MaxQueueBytes {
		return false
	}
	return c.queued+extra+c.lookKernel() > c.srv.cfg.MaxQueueBytes
}

// lookKernel reads how many bytes the kernel holds for the peer (sent and
// not acknowledged, or not sent yet) and remembers it.
func (c *Conn) lookKernel() int64 {
	n := int64(unsentBytes(c.raw))
	c.kernel.Store(n)
	return n
}

// Close sends what is queued, then final if not nil (a last message of the
// application's protocol), then the close frame with code and reason; the
// peer has CloseTimeout to answer before the connection is cut. It returns
// at once; frames sent afterwards are not taken. Only the first Close, or
// the first end of any kind, counts.
func (c *Conn) Close(code StatusCode, reason string, final []byte) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing.Store(true)
		c.closeCode, c.closeReason = code, reason
		c.closePending = true
		if final != nil {
			c.queue = append(c.queue, final)
		}
		start := !c.writing
		c.writing = true
		c.mu.Unlock()
		if start {
			go c.writeLoop(false)
		}
	})
}

// slow closes a slow consumer: what is queued is dropped, and the close
// frame goes out only if the socket takes it at once; else, or if a write is
// under way (the socket is full), the connection is cut so that the kernel
// frees what it holds for the peer.
func (c *Conn) slow() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing.Store(true)
		c.dropping.Store(true)
		dropped := len(c.queue)
		c.dropQueue()
		c.closeCode, c.closeReason = StatusPolicyViolation, "slow consumer"
		c.closePending = true
		busy := c.writing
		c.writing = true
		c.cause = ErrSlowConsumer
		h := c.h
		if h == nil { // before Serve: Serve reports it
			c.slowDue, c.slowOf = true, dropped
		}
		c.mu.Unlock()
		if h != nil {
			h.OnSlow(dropped)
		}
		if busy {
			c.hangUp()
		} else {
			go c.finishClose()
		}
	})
}

// dropQueue discards the queue, under mu.
func (c *Conn) dropQueue() {
	clear(c.queue)
	c.queue, c.backlog = c.queue[:0], 0
}

// Abort ends the connection at once: queued frames, and what the kernel
// still holds for the peer, are discarded (the peer sees a reset).
func (c *Conn) Abort() { c.abort(ErrAborted) }

func (c *Conn) abort(cause error) {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		close(c.closeSent)
	})
	c.dropping.Store(true)
	c.mu.Lock()
	c.dropQueue()
	if c.cause == nil {
		c.cause = cause
	}
	c.mu.Unlock()
	c.hangUp()
}

// hangUp resets the connection, and wakes a parked reader to see the end.
func (c *Conn) hangUp() {
	if tc, ok := c.nc.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0) // a reset: the kernel drops what it holds for the peer
	}
	_ = c.nc.Close()
	c.unpark()
}

// writeLoop is the writer: it writes the queue, taking every waiting frame
// per system call, and stops when the queue is empty, sending the close
// frame if a Close waits.
//
// Inline, on the sender's goroutine (a handler's reply, a broadcast), it
// makes one write that cannot block: the socket almost always takes it,
// and a write made there costs no goroutine start and no scheduling. What
// was queued meanwhile waits for the writers, with whatever else comes for
// the peer by then. Whatever would wait for the socket or for a close
// handshake goes on in a goroutine of its own, so one slow peer never holds
// up the sender.
func (c *Conn) writeLoop(inline bool) {
	for wrote := false; ; wrote = true {
		c.mu.Lock()
		if len(c.queue) == 0 {
			if c.closePending {
				c.mu.Unlock()
				if inline {
					go c.finishClose()
				} else {
					c.finishClose()
				}
				return
			}
			c.writing = false
			c.mu.Unlock()
			return
		}
		if inline && wrote {
			c.mu.Unlock()
			c.srv.cfg.Writers.add(nil, c)
			return
		}
		frames := c.queue
		c.queue, c.spare, c.backlog = c.spare[:0], nil, 0
		c.mu.Unlock()

		var n int
		var err error
		if len(frames) == 1 {
			n, err = c.out.send(frames[0], c.srv.cfg.WriteTimeout, !inline)
		} else {
			for _, f := range frames {
				c.out.add(f)
			}
			n, err = c.out.flush(c.srv.cfg.WriteTimeout, !inline)
		}
		clear(frames)
		c.mu.Lock()
		if cap(frames) <= 16 { // a burst's big queue is not kept for an idle peer
			c.spare = frames[:0]
		}
		over := c.account(n)
		c.mu.Unlock()
		if over {
			c.slow()
		}
		switch {
		case errors.Is(err, errWouldBlock):
			go c.finishWrite()
			return
		case err != nil:
			c.writeFailed(err)
		}
	}
}

// finishWrite sends, in a goroutine of its own, the rest of a batch the
// socket did not take at once, then goes on writing. The socket is full, so
// this is when the kernel's count matters.
func (c *Conn) finishWrite() {
	c.mu.Lock()
	over := c.overBound(0)
	c.mu.Unlock()
	if over {
		c.slow()
	}
	n, err := c.out.flush(c.srv.cfg.WriteTimeout, true)
	c.wrote(n)
	if err != nil {
		c.writeFailed(err)
	}
	c.writeLoop(false)
}

// lookEvery is how many bytes a connection writes between two reads of the
// kernel's count, at most: a peer that stops reading is found within that
// much of passing the bound, at one system call per lookEvery bytes.
const lookEvery = 64 << 10

// wrote accounts for n bytes the kernel took, in the writer.
func (c *Conn) wrote(n int) {
	c.mu.Lock()
	over := c.account(n)
	c.mu.Unlock()
	if over {
		c.slow()
	}
}

// account, under mu, counts n bytes the kernel took, and reports whether
// what waits for the peer passed MaxQueueBytes when the kernel's count was
// due to be read again.
func (c *Conn) account(n int) bool {
	if n == 0 {
		return false
	}
	c.queued -= int64(n)
	c.sinceLook += int64(n)
	if c.sinceLook < min(lookEvery, c.srv.cfg.MaxQueueBytes/8) {
		return false
	}
	c.sinceLook = 0
	return c.queued+c.lookKernel() > c.srv.cfg.MaxQueueBytes
}

// writeFailed drops the connection: the socket is gone or stuck.
func (c *Conn) writeFailed(err error) {
	c.mu.Lock()
	c.dropQueue()
	c.mu.Unlock()
	c.abort(err)
}

// finishClose writes the close frame, after the last queued frame, and
// gives the peer CloseTimeout to answer. A slow consumer's close frame goes
// out only if the socket takes it at once, and the peer has slowGrace to
// answer: the frame waits behind what it has not read, and the kernel holds
// all of it meanwhile.
func (c *Conn) finishClose() {
	defer close(c.closeSent)
	slow := c.dropping.Load()
	if err := c.out.seal(closeFrame(c.closeCode, c.closeReason), c.srv.cfg.WriteTimeout, !slow); err != nil {
		c.abort(err)
		return
	}
	answer := c.srv.cfg.CloseTimeout
	if slow {
		answer = min(answer, slowGrace)
	}
	c.mu.Lock()
	if !c.ended {
		c.answering.Store(true)
		c.timer.Reset(answer)
	}
	c.mu.Unlock()
}

// slowGrace is how long a slow consumer has to answer its close frame.
const slowGrace = time.Second

// tick runs on the timer.
func (c *Conn) tick() {
	if c.answering.Load() {
		c.abort(ErrCloseTimeout)
		return
	}
	c.kick()
	if !c.closing.Load() {
		c.h.OnTimer()
	}
}
