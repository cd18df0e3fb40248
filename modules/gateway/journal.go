package gateway

import (
	"crypto/rand"
	"sync"
	"time"
)

// journal puts a node's room messages in one order, gives each its offset
// and keeps them for recovery. Each message is queued for its local members
// under the journal's lock, so that every client gets its frames in offset
// order, and so that a recovering client's replay and its first live frame
// meet with no gap and no duplicate: the client joins its rooms and gets its
// replay under the same lock.
type journal struct {
	hub *Hub

	mu    sync.Mutex
	epoch string
	head  uint64 // the last sequence number given
	hist  *history
}

func newJournal(h *Hub, maxPerRoom int, retention time.Duration) *journal {
	return &journal{hub: h, epoch: rand.Text()[:12], hist: newHistory(maxPerRoom, retention)}
}

// publish gives d's message the next offset, keeps it and queues it for the
// room's local members; the writes happen once the lock is released.
func (j *journal) publish(d Delivery) int {
	j.mu.Lock()
	j.head++
	d.Msg.offset = Offset{Epoch: j.epoch, Seq: j.head}.String()
	j.hist.add(d.Room, kept{seq: j.head, at: time.Now().UnixNano(), except: d.Except, msg: d.Msg})
	f, n := j.hub.enqueue(d)
	j.mu.Unlock()
	f.Flush()
	return n
}

// join puts c in room and returns the sequence number after which the
// room's messages are c's.
func (j *journal) join(c *Client, room string) uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.hub.join(c, room)
	return j.head
}

// replay returns what a session that began at start and is in rooms missed
// after offset ("" if it received no room message), for client; false when
// that cannot be told: the offset is not of this history, or some of it was
// evicted. The caller holds mu.
func (j *journal) replay(offset string, start uint64, rooms map[string]uint64, client string) ([]kept, bool) {
	from := start
	if offset != "" {
		o, err := ParseOffset(offset)
		if err != nil || o.Epoch != j.epoch || o.Seq > j.head {
			return nil, false
		}
		from = o.Seq
	}
	return j.hist.since(from, rooms, client)
}

// sweep drops the history that has aged out.
func (j *journal) sweep() {
	j.mu.Lock()
	j.hist.sweep(time.Now().UnixNano())
	j.mu.Unlock()
}

// kept reports how many messages are kept, and their size.
func (j *journal) kept() (int, int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.hist.messages, j.hist.bytes
}
