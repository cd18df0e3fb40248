package cluster

import "sync"

// Interest is the set of rooms this node has members in, as the hub reports
// it through gateway.RoomObserver. The hub calls it under a room's lock, so
// it only records the change and wakes the Adapter, which subscribes or
// unsubscribes on its own goroutine: a NATS call never runs under a hub lock
// (nats.go holds its connection lock while it dials during a reconnect).
type Interest struct {
	mu      sync.Mutex
	changes map[string]bool // room → has members, as last reported
	changed chan struct{}   // holds a token while changes is not empty
}

// NewInterest returns an empty Interest.
func NewInterest() *Interest {
	return &Interest{changes: make(map[string]bool), changed: make(chan struct{}, 1)}
}

// RoomActive records that room has its first member on this node.
func (i *Interest) RoomActive(room string) { i.record(room, true) }

// RoomIdle records that room has lost its last member on this node.
func (i *Interest) RoomIdle(room string) { i.record(room, false) }

func (i *Interest) record(room string, active bool) {
	i.mu.Lock()
	i.changes[room] = active
	i.mu.Unlock()
	select {
	case i.changed <- struct{}{}:
	default: // already signalled
	}
}

// take returns the changes recorded since the last take, the latest per
// room: a room that became active and idle again in between is reported
// idle, and the Adapter, holding no subscription for it, does nothing.
func (i *Interest) take() map[string]bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	c := i.changes
	i.changes = make(map[string]bool)
	return c
}
