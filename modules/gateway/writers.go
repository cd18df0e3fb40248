package gateway

import (
	"runtime"
	"sync"
)

// writers write a broadcast's frames to the clients nobody was writing to,
// first come first served, with at most one goroutine per CPU. A client
// that got another frame while its write was under way goes to the back of
// the line rather than being written to again at once: by its turn, more
// broadcasts may have queued frames for it, and one write carries them all.
// Under a stream of broadcasts that is what keeps the writes per delivery
// low; a lone broadcast is written at once.
type writers struct {
	mu      sync.Mutex
	line    []*Client // waiting clients: line[head:]
	head    int
	running int
}

// writersTake is how many clients a writer takes from the line at a time.
const writersTake = 16

// add puts cs at the back of the line and starts writers for them.
func (w *writers) add(cs ...*Client) {
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

func (w *writers) run() {
	var batch [writersTake]*Client
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
		// Let the broadcasts that arrived meanwhile (HTTP handlers, the
		// cluster's subscriber) queue their frames before the line moves
		// on: a writer that never yields, with one CPU, would write each
		// broadcast on its own.
		runtime.Gosched()
	}
}
