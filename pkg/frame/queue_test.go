package frame

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/gamegate/gamegate/internal/waitfor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a stream that remembers each write.
type recorder struct {
	mu     sync.Mutex
	data   bytes.Buffer
	writes int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	return r.data.Write(p)
}

func (r *recorder) snapshot() ([]byte, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.data.Bytes()), r.writes
}

// pump runs q.Pump into w until the test ends.
func pump(t *testing.T, q *Queue, w io.Writer) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := q.Pump(w, done); err != nil {
			t.Errorf("Pump: %v", err)
		}
	})
	t.Cleanup(func() { close(done); wg.Wait() })
}

func TestQueueCoalescesQueuedFrames(t *testing.T) {
	q := NewQueue(LengthPrefix{}, 64)
	for _, s := range []string{"a", "bb", "ccc"} {
		if err := q.Push([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	var rec recorder
	pump(t, q, &rec)
	want := stream(t, "a", "bb", "ccc")
	waitfor.Until(t, 5*time.Second, func() error {
		if data, _ := rec.snapshot(); !bytes.Equal(data, want) {
			return fmt.Errorf("stream = %q, want %q", data, want)
		}
		return nil
	})
	if _, writes := rec.snapshot(); writes != 1 {
		t.Errorf("%d writes for 3 queued frames, want 1", writes)
	}
}

func TestQueueConcurrentPushes(t *testing.T) {
	const senders, each = 8, 500
	q := NewQueue(LengthPrefix{}, 64)
	var rec recorder
	pump(t, q, &rec)
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				if err := q.Push(fmt.Appendf(nil, "%d:%d", s, i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	var frames []string
	waitfor.Until(t, 5*time.Second, func() error {
		data, _ := rec.snapshot()
		frames, _ = readAll(LengthPrefix{}.NewReader(bytes.NewReader(data), 64))
		if len(frames) != senders*each {
			return fmt.Errorf("%d frames written, want %d", len(frames), senders*each)
		}
		return nil
	})
	next := make([]int, senders)
	for _, f := range frames {
		var s, i int
		if _, err := fmt.Sscanf(f, "%d:%d", &s, &i); err != nil || i != next[s] {
			t.Fatalf("frame %q out of order or garbled (want %d:%d)", f, s, next[s])
		}
		next[s]++
	}
	_, writes := rec.snapshot()
	t.Logf("%d frames in %d writes", len(frames), writes)
}

func TestQueueRefusesBadFrames(t *testing.T) {
	q := NewQueue(LengthPrefix{}, 4)
	if err := q.Push(nil); !errors.Is(err, ErrEmptyFrame) {
		t.Errorf("empty: error = %v", err)
	}
	if err := q.Push([]byte("12345")); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("over max: error = %v", err)
	}
}

func TestQueuePumpReturnsTheWriteError(t *testing.T) {
	q := NewQueue(LengthPrefix{}, 64)
	if err := q.Push([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := q.Pump(failWriter{}, nil); !errors.Is(err, errBroken) {
		t.Errorf("Pump error = %v, want %v", err, errBroken)
	}
}

func BenchmarkQueue(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 128)
	q := NewQueue(LengthPrefix{}, 1<<20)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _ = q.Pump(io.Discard, done) })
	b.SetBytes(int64(headerLen + len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := q.Push(body); err != nil {
				b.Error(err)
				return
			}
		}
	})
	close(done)
	wg.Wait()
}
