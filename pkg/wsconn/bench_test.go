package wsconn

import (
	"bytes"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkReadMessage is the read path per message: a masked text frame's
// header parsed and checked, its payload unmasked, validated as UTF-8 and
// delivered, with the connection's small read buffer in between, as the
// bytes would come from the socket (the socket itself left out).
func BenchmarkReadMessage(b *testing.B) {
	for _, size := range []int{100, 4 << 10} {
		b.Run(fmt.Sprintf("bytes=%d", size), func(b *testing.B) {
			payload := []byte(`{"event":"ping","id":1,"data":"` + string(bytes.Repeat([]byte("é"), (size-34)/2)) + `"}`)
			s, err := NewServer(Config{MaxMessageBytes: 1 << 20, MaxQueue: 64, MaxQueueBytes: 1 << 20, WriteTimeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			conn := &repeatConn{scriptConn: scriptConn{in: bytes.NewReader(nil)}, frame: frame(OpText, true, payload)}
			h := &countHandler{recorder: newRecorder(), want: int64(b.N), done: make(chan struct{})}
			c := s.newConn(conn, nil)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			b.ResetTimer()
			c.Serve(h)
			<-h.done
			b.StopTimer()
			conn.closed.Store(true)
			<-h.closed
		})
	}
}

// repeatConn sends the same frame forever, until closed.
type repeatConn struct {
	scriptConn
	frame  []byte
	at     int
	closed atomic.Bool
}

func (c *repeatConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.frame[c.at:])
		n += k
		c.at = (c.at + k) % len(c.frame)
	}
	return n, nil
}

// countHandler closes done after want messages.
type countHandler struct {
	*recorder
	n    int64
	want int64
	done chan struct{}
}

func (h *countHandler) OnMessage(Opcode, []byte) {
	if h.n++; h.n == h.want {
		close(h.done)
	}
}
