package wsconn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Writers write broadcasts' frames to the connections nobody was writing
// to, first come first served, with at most one goroutine per CPU. A
// connection that got another frame while its write was under way goes to
// the back of the line rather than being written to again at once: by its
// turn, more broadcasts may have queued frames for it, and one write
// carries them all. Under a stream of broadcasts that is what keeps the
// writes per delivery low; a lone broadcast is written at once. The zero
// value is ready.
type Writers struct {
	mu      sync.Mutex
	line    []waiting // line[head:] wait for a writer
	head    int
	running int
}

// waiting is a connection in the writers' line, and the fanout to tell when
// it has been written to, if one asked.
type waiting struct {
	c    *Conn
	done *written
}

// written counts down a fanout's connections still to be written to, and
// calls its callback when none is left.
type written struct {
	left atomic.Int64
	then func()
}

func (d *written) one() {
	if d != nil && d.left.Add(-1) == 0 {
		d.then()
	}
}

// writersTake is how many connections a writer takes from the line at a
// time, and how many a Fanout's sender writes itself.
const writersTake = 16

// add puts cs at the back of the line and starts writers for them; done, if
// not nil, is told as each has been written to.
func (w *Writers) add(done *written, cs ...*Conn) {
	w.mu.Lock()
	if w.head > 0 && w.head >= len(w.line)/2 { // reuse the front of the array
		n := copy(w.line, w.line[w.head:])
		clear(w.line[n:])
		w.line, w.head = w.line[:n], 0
	}
	for _, c := range cs {
		w.line = append(w.line, waiting{c, done})
	}
	start := min(runtime.GOMAXPROCS(0)-w.running, (len(w.line)-w.head+writersTake-1)/writersTake)
	w.running += max(start, 0)
	w.mu.Unlock()
	for range start {
		go w.run()
	}
}

func (w *Writers) run() {
	var batch [writersTake]waiting
	for {
		w.mu.Lock()
		n := copy(batch[:], w.line[w.head:])
		if n == 0 {
			w.running--
			w.line, w.head = w.line[:0], 0
			if cap(w.line) > 4096 { // a big room's line is not kept once written
				w.line = nil
			}
			w.mu.Unlock()
			return
		}
		clear(w.line[w.head : w.head+n])
		w.head += n
		w.mu.Unlock()
		for i, e := range batch[:n] {
			e.c.writeLoop(true)
			e.done.one()
			batch[i] = waiting{}
		}
		// Let the broadcasts that arrived meanwhile queue their frames
		// before the line moves on: a writer that never yields, with one
		// CPU, would write each broadcast on its own.
		runtime.Gosched()
	}
}

// Fanout sends one broadcast: Send queues its frame for each recipient, and
// Flush writes to those nobody was writing to, the first few on the
// caller's goroutine, the rest through the writers. A frame another
// broadcast queues meanwhile goes out in the same write.
type Fanout struct {
	w    *Writers
	idle []*Conn
}

var fanouts = sync.Pool{New: func() any { return &Fanout{idle: make([]*Conn, 0, 64)} }}

// Fanout starts a broadcast written through w. Flush ends it.
func (w *Writers) Fanout() *Fanout {
	f := fanouts.Get().(*Fanout)
	f.w = w
	return f
}

// Send queues frame for c, whose server's writers are the Fanout's, and
// reports whether c took it (see Conn.Send).
func (f *Fanout) Send(c *Conn, frame []byte) bool { return f.send(c, frame, false) }

// SendBacklog is Send for a frame of a backlog (see Conn.SendBacklog).
func (f *Fanout) SendBacklog(c *Conn, frame []byte) bool { return f.send(c, frame, true) }

func (f *Fanout) send(c *Conn, frame []byte, backlog bool) bool {
	taken, write := c.enqueue(frame, backlog)
	if write {
		f.idle = append(f.idle, c)
	}
	return taken
}

// Flush writes the broadcast; f is not used afterwards.
func (f *Fanout) Flush() { f.FlushThen(nil) }

// FlushThen is Flush, and calls then, when not nil, once every connection
// nobody was writing to has been written to (the fan-out's latency).
func (f *Fanout) FlushThen(then func()) {
	idle := f.idle
	var done *written
	if then != nil {
		done = &written{then: then}
		done.left.Store(int64(len(idle)) + 1) // one for this call, so then runs once
	}
	if len(idle) > writersTake {
		f.w.add(done, idle[writersTake:]...)
		idle = idle[:writersTake]
	}
	for _, c := range idle {
		c.writeLoop(true)
		done.one()
	}
	done.one()
	clear(f.idle)
	f.idle, f.w = f.idle[:0], nil
	if cap(f.idle) <= 4096 { // a big room's list is not kept
		fanouts.Put(f)
	}
}
