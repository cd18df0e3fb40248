package gateway

import (
	"crypto/rand"
	"sync"
	"time"

	"github.com/gamegate/gamegate/pkg/wsconn"
)

// journal puts a node's room messages in one order, gives each its offset
// and keeps them for recovery. Each message is queued for its local members
// under the journal's lock, so that every client gets its frames in offset
// order, and so that a recovering client's replay and its first live frame
// meet with no gap and no duplicate: the client joins its rooms and gets its
// replay under the same lock.
//
// On one node the journal gives the sequence numbers itself. Clustered, a
// shared log does (a JetStream stream): the node follows it, and its history
// is the log's tail (see Hub.Follow).
type journal struct {
	hub *Hub

	mu       sync.Mutex
	moved    sync.Cond // head moved, or the journal became ready
	epoch    string
	head     uint64 // the last sequence number given or followed
	floor    uint64 // a gap: nothing at or before it can be recovered
	hist     *history
	external bool // the sequence numbers come from a shared log
	ready    bool // a follower has caught up with the log
}

func newJournal(h *Hub, maxPerRoom int, retention time.Duration) *journal {
	j := &journal{hub: h, epoch: rand.Text()[:12], hist: newHistory(maxPerRoom, retention), ready: true}
	j.moved.L = &j.mu
	return j
}

// publish gives d's message the next offset, keeps it and queues it for the
// room's local members; the writes happen once the lock is released.
func (j *journal) publish(d Delivery, start time.Time) int {
	j.mu.Lock()
	j.head++
	d.Msg.offset = Offset{Epoch: j.epoch, Seq: j.head}.String()
	j.hist.add(d.Room, kept{seq: j.head, at: time.Now().UnixNano(), except: d.Except, msg: d.Msg})
	f, n := j.hub.enqueue(d)
	j.mu.Unlock()
	j.hub.flush(f, start)
	return n
}

// deliverAt keeps d, the shared log's message seq, and queues it for the
// room's local members when live (not a catch-up read of older messages).
func (j *journal) deliverAt(seq uint64, d Delivery, live bool, start time.Time) int {
	j.mu.Lock()
	j.head = max(j.head, seq)
	d.Msg.offset = Offset{Epoch: j.epoch, Seq: seq}.String()
	j.hist.add(d.Room, kept{seq: seq, at: time.Now().UnixNano(), except: d.Except, msg: d.Msg})
	var f *wsconn.Fanout
	n := 0
	if live {
		f, n = j.hub.enqueue(d)
	}
	j.moved.Broadcast()
	j.mu.Unlock()
	if f != nil {
		j.hub.flush(f, start)
	}
	return n
}

// gap records that messages may have been lost at seq: no session recovers
// across it.
func (j *journal) gap(seq uint64) {
	j.mu.Lock()
	j.head = max(j.head, seq)
	j.floor = max(j.floor, seq)
	j.moved.Broadcast()
	j.mu.Unlock()
}

// await waits, holding mu on return, until the journal is ready and, when
// following a log, has reached seq: a client may come with an offset this
// node has not read yet. It gives up at deadline.
func (j *journal) await(seq uint64, deadline time.Time) {
	j.mu.Lock()
	if j.ready && (!j.external || j.head >= seq) {
		return
	}
	stop := time.AfterFunc(time.Until(deadline), func() {
		j.mu.Lock()
		j.moved.Broadcast()
		j.mu.Unlock()
	})
	defer stop.Stop()
	for !(j.ready && (!j.external || j.head >= seq)) && time.Now().Before(deadline) {
		j.moved.Wait()
	}
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
	if from < j.floor {
		return nil, false
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
