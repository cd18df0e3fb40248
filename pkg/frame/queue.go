package frame

import (
	"io"
	"runtime"
	"sync"
)

// Queue lets many goroutines send frames over one stream that a single
// goroutine writes. Frames pushed while a write is in progress leave together
// in the next one, so a busy stream costs one write per batch, not per frame.
type Queue struct {
	mu    sync.Mutex
	fw    Writer    // frames into out
	out   memWriter // framed bytes not yet taken by Pump
	spare []byte    // Pump's previous batch, reused for the next
	ready chan struct{}
}

// NewQueue returns a Queue that frames with f, refusing bodies over max.
func NewQueue(f Framing, max int) *Queue {
	q := &Queue{ready: make(chan struct{}, 1)}
	q.fw = f.NewWriter(&q.out, max)
	return q
}

// Push queues p as one frame. It copies p, so the caller may reuse p as soon
// as it returns. It is safe for concurrent use.
func (q *Queue) Push(p []byte) error {
	q.mu.Lock()
	err := q.fw.WriteFrame(p)
	if err == nil {
		err = q.fw.Flush()
	}
	q.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case q.ready <- struct{}{}:
	default: // Pump is already due to wake.
	}
	return nil
}

// Pump writes the queued frames to w, a batch per write, until done is
// closed or a write fails. Run it from one goroutine.
func (q *Queue) Pump(w io.Writer, done <-chan struct{}) error {
	for {
		select {
		case <-q.ready:
		case <-done:
			return nil
		}
		// Yield before taking the batch: the goroutines made ready by the
		// same event (replies just read, say) push first and leave in this
		// write. This multiplies the frames per write under load, and
		// costs nothing when no other goroutine is ready.
		runtime.Gosched()
		q.mu.Lock()
		batch := q.out.b
		q.out.b = q.spare[:0]
		q.mu.Unlock()
		q.spare = batch
		if len(batch) == 0 {
			continue // its frames left with the batch before
		}
		if _, err := w.Write(batch); err != nil {
			return err
		}
	}
}

// memWriter is the Queue's in-memory stream.
type memWriter struct{ b []byte }

func (m *memWriter) Write(p []byte) (int, error) {
	m.b = append(m.b, p...)
	return len(p), nil
}
