package wsconn

import (
	"runtime"
	"sync"
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
	line    []*Conn // waiting connections: line[head:]
	head    int
	running int
}

// writersTake is how many connections a writer takes from the line at a
// time, and how many a Fanout's sender writes itself.
const writersTake = 16

// add puts cs at the back of the line and starts writers for them.
func (w *Writers) add(cs ...*Conn) {
	w.mu.Lock()
	if w.head > 0 && w.head >= len(w.line)/2 { // reuse the front of the array
		n := copy(w.line, w.line[w.head:])
		clear(w.line[n:])
		w.line, w.head = w.line[:n], 0
	}
	w.line = append(w.line, cs...)
	start := min(runtime.GOMAXPROCS(0)-w.running, (len(w.line)-w.head+writersTake-1)/writersTake)
	w.running += max(start, 0)
	w.mu.Unlock()
	for range start {
		go w.run()
	}
}

func (w *Writers) run() {
	var batch [writersTake]*Conn
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
		for i, c := range batch[:n] {
			c.writeLoop(true)
			batch[i] = nil
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
func (f *Fanout) Send(c *Conn, frame []byte) bool {
	taken, write := c.enqueue(frame)
	if write {
		f.idle = append(f.idle, c)
	}
	return taken
}

// Flush writes the broadcast; f is not used afterwards.
func (f *Fanout) Flush() {
	idle := f.idle
	if len(idle) > writersTake {
		f.w.add(idle[writersTake:]...)
		idle = idle[:writersTake]
	}
	for _, c := range idle {
		c.writeLoop(true)
	}
	clear(f.idle)
	f.idle, f.w = f.idle[:0], nil
	if cap(f.idle) <= 4096 { // a big room's list is not kept
		fanouts.Put(f)
	}
}
