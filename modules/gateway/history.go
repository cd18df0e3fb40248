package gateway

import (
	"slices"
	"sort"
	"time"
)

// history keeps a node's recent room messages, each room's in sequence
// order, for clients that recover their session. A room keeps at most
// maxPerRoom messages, none older than retention. It is not safe for
// concurrent use: the journal guards it.
type history struct {
	maxPerRoom int
	retention  time.Duration
	rooms      map[string]*roomLog
	messages   int   // kept, over all rooms
	bytes      int64 // their payloads' size, roughly
}

// kept is one message of a room's log.
type kept struct {
	seq    uint64
	at     int64 // UnixNano when it was kept
	except string
	msg    *Message
}

// roomLog is a room's messages, oldest first, and how far eviction went: a
// client that needs a message evicted before its time is too far behind.
type roomLog struct {
	entries    []kept
	evictedSeq uint64 // the highest sequence number evicted before it aged out
	evictedAt  int64
}

func newHistory(maxPerRoom int, retention time.Duration) *history {
	return &history{maxPerRoom: maxPerRoom, retention: retention, rooms: make(map[string]*roomLog)}
}

// messageSize is what a kept message costs, roughly: its data, its event
// and the frames encoded from it, which it holds on to.
func messageSize(m *Message) int64 { return int64(2*(len(m.Data)+len(m.Event)) + 160) }

// add keeps a message; seq grows from call to call.
func (h *history) add(room string, k kept) {
	l := h.rooms[room]
	if l == nil {
		l = &roomLog{}
		h.rooms[room] = l
	}
	l.entries = append(l.entries, k)
	h.messages++
	h.bytes += messageSize(k.msg)
	if len(l.entries) > h.maxPerRoom {
		l.evictedSeq, l.evictedAt = l.entries[0].seq, k.at
		h.drop(l, 1)
	}
}

// drop removes a log's n oldest entries.
func (h *history) drop(l *roomLog, n int) {
	for _, k := range l.entries[:n] {
		h.messages--
		h.bytes -= messageSize(k.msg)
	}
	clear(l.entries[:n])
	l.entries = l.entries[n:]
	if cap(l.entries) > 64 && len(l.entries) < cap(l.entries)/4 {
		l.entries = slices.Clone(l.entries)
	}
}

// sweep drops what has aged out, and the logs with nothing left to tell.
// Messages older than retention are dropped without marking the room: a
// client still within the window received them live, or its connection
// would have been found dead first (retention covers the window and the
// heartbeat's time to notice).
func (h *history) sweep(now int64) {
	cutoff := now - int64(h.retention)
	for room, l := range h.rooms {
		n := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].at > cutoff })
		if n > 0 {
			h.drop(l, n)
		}
		if len(l.entries) == 0 && l.evictedAt <= cutoff {
			delete(h.rooms, room)
		}
	}
}

// since returns the messages after seq in rooms (each room's after the
// sequence number it maps to, if later) and in the room of every client
// (""), in sequence order, except those sent past client. It reports false
// when some of them were evicted.
func (h *history) since(seq uint64, rooms map[string]uint64, client string) ([]kept, bool) {
	var out []kept
	collect := func(room string, after uint64) bool {
		l := h.rooms[room]
		if l == nil {
			return true
		}
		after = max(after, seq)
		if l.evictedSeq > after {
			return false
		}
		i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].seq > after })
		for _, k := range l.entries[i:] {
			if k.except != client {
				out = append(out, k)
			}
		}
		return true
	}
	if !collect("", 0) {
		return nil, false
	}
	for room, joined := range rooms {
		if !collect(room, joined) {
			return nil, false
		}
	}
	slices.SortFunc(out, func(a, b kept) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return out, true
}
