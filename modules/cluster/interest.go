package cluster

import (
	"context"
	"sync"
	"sync/atomic"
)

// Interest is the set of rooms this node has members in, as the hub reports
// it through gateway.RoomObserver. The hub calls it under a room's lock, so
// it only records the change and wakes the Adapter, which subscribes or
// unsubscribes on its own goroutine: a NATS call never runs under a hub lock
// (nats.go holds its connection lock while it dials during a reconnect).
type Interest struct {
	mu      sync.Mutex
	changes map[string]bool // room → has members, as last reported
	changed chan struct{}   // holds a token while changes is not empty
	// syncs asks the Adapter's goroutine to act on the changes and flush,
	// once it runs one; nil in the shared log's mode, which subscribes to
	// nothing.
	syncs atomic.Pointer[chan chan struct{}]
}

// Sync returns once the Adapter has acted on every change recorded so far
// and NATS has its subscriptions, or ctx ends (gateway.RoomSyncer): a
// message another node sends afterwards reaches this node's new members.
func (i *Interest) Sync(ctx context.Context) {
	syncs := i.syncs.Load()
	if syncs == nil {
		return
	}
	done := make(chan struct{})
	select {
	case *syncs <- done:
	case <-ctx.Done():
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
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
