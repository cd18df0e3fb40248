package gateway

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// shardCount spreads rooms and clients over independent locks so joins,
// leaves and broadcasts to different rooms do not contend.
const shardCount = 64

// Delivery is one message on its way to the members of a room.
type Delivery struct {
	// Room is the target room; empty means every client.
	Room string
	// Except is a client id that must not receive the message.
	Except string
	Msg    *Message
	// Receipt, when set, asks the recipients to acknowledge the message.
	Receipt *Receipt
}

// Hub is the node's registry of connected clients and the rooms they are in.
// It never writes to a socket under a hub lock: a broadcast copies the
// member list and releases the lock first.
type Hub struct {
	seed    maphash.Seed
	rooms   [shardCount]roomShard
	clients [shardCount]clientShard

	roomCount   atomic.Int64
	clientCount atomic.Int64
	observers   []RoomObserver
	metrics     Metrics
	writers     wsconn.Writers
	journal     *journal // nil without recovery
	presence    *presence
	receipts    *receipts
}

// HubParams are the hub's optional dependencies (the group is
// RoomObserverGroup: a tag cannot name a constant).
type HubParams struct {
	fx.In

	Metrics   Metrics        `optional:"true"`
	Observers []RoomObserver `group:"gateway.roomObservers"`
	Recovery  config.Recovery
	Gateway   config.Gateway
	Wallet    config.Wallet // its node id names this node
}

// RoomObserver learns when this node gains its first member of a room and
// loses its last, so a cluster adapter can subscribe only where there is
// interest. Calls for one room are serialised by the hub.
type RoomObserver interface {
	RoomActive(room string)
	RoomIdle(room string)
}

// RoomSyncer is a RoomObserver that acts on the rooms later: Sync returns
// once it has acted on every change so far (the cluster's subscriptions
// reached NATS), so that a message sent afterwards from another node
// reaches the members.
type RoomSyncer interface {
	Sync(ctx context.Context)
}

// sync waits for the observers that act later.
func (h *Hub) sync(ctx context.Context) {
	for _, o := range h.observers {
		if s, ok := o.(RoomSyncer); ok {
			s.Sync(ctx)
		}
	}
}

// Members are room's users and their connections, on every node, sorted
// by user id: from memory, without asking the other nodes.
func (h *Hub) Members(room string) []Member { return h.presence.members(room) }

// SharePresence tells bus this node's counts of users in rooms as they
// change, for the other nodes (the cluster module calls it).
func (h *Hub) SharePresence(bus PresenceBus) {
	h.presence.mu.Lock()
	h.presence.bus = bus
	h.presence.mu.Unlock()
}

// PresenceOn records that node has connections of user in room (0: none
// any more).
func (h *Hub) PresenceOn(node, room, user string, connections int) {
	h.presence.apply(node, room, user, connections)
}

// ForgetNode drops what node had in rooms: it is gone, its users left.
func (h *Hub) ForgetNode(node string) { h.presence.forget(node) }

// PresenceCounts calls each with this node's own connections per room and
// user, for a node that needs the whole picture.
func (h *Hub) PresenceCounts(each func(room, user string, connections int)) { h.presence.counts(each) }

// MembersJSON is room's members, on every node, as the JSON answer of
// GET /rooms/:roomId/members: {"roomId","users":[{"userId","connections"}],
// "count"}, encoded once per change of the room. Do not change it.
func (h *Hub) MembersJSON(room string) []byte { return h.presence.membersJSON(room) }

// members are room's members on this node.
func (h *Hub) members(room string) []*Client {
	s := h.roomShard(room)
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Client, 0, len(s.rooms[room]))
	for c := range s.rooms[room] {
		out = append(out, c)
	}
	return out
}

type roomShard struct {
	mu    sync.RWMutex
	rooms map[string]map[*Client]struct{}
}

type clientShard struct {
	mu      sync.RWMutex
	clients map[*Client]struct{}
}

// NewHub returns an empty hub.
func NewHub(p HubParams) *Hub {
	if p.Metrics == nil {
		p.Metrics = NopMetrics{}
	}
	h := &Hub{seed: maphash.MakeSeed(), observers: p.Observers, metrics: p.Metrics}
	for i := range h.rooms {
		h.rooms[i].rooms = make(map[string]map[*Client]struct{})
		h.clients[i].clients = make(map[*Client]struct{})
	}
	h.presence = newPresence(h)
	h.receipts = newReceipts(h, p.Wallet.Node(), max(p.Gateway.Receipts.MaxPending, 1), max(p.Gateway.Receipts.MaxRecipients, 1))
	if r := p.Recovery; r.Enabled {
		// A message may be needed until the window of a session whose
		// connection was dead for as long as the heartbeat takes to notice.
		h.journal = newJournal(h, r.MaxMessages, r.Window+p.Gateway.PingInterval+p.Gateway.PongTimeout)
	}
	return h
}

func (h *Hub) roomShard(room string) *roomShard {
	return &h.rooms[maphash.String(h.seed, room)%shardCount]
}

func (h *Hub) clientShard(c *Client) *clientShard {
	return &h.clients[maphash.String(h.seed, c.id)%shardCount]
}

func (h *Hub) add(c *Client) {
	s := h.clientShard(c)
	s.mu.Lock()
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	h.clientCount.Add(1)
}

func (h *Hub) remove(c *Client) {
	s := h.clientShard(c)
	s.mu.Lock()
	_, ok := s.clients[c]
	delete(s.clients, c)
	s.mu.Unlock()
	if ok {
		h.clientCount.Add(-1)
	}
}

// join adds c to room and reports whether it was not a member yet.
func (h *Hub) join(c *Client, room string) bool {
	s := h.roomShard(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.rooms[room]
	if !ok {
		members = make(map[*Client]struct{})
		s.rooms[room] = members
		h.roomCount.Add(1)
		for _, o := range h.observers {
			o.RoomActive(room)
		}
	}
	if _, in := members[c]; in {
		return false
	}
	members[c] = struct{}{}
	h.presence.change(room, c.userID, +1)
	return true
}

// leave removes c from room and reports whether it was a member.
func (h *Hub) leave(c *Client, room string) bool {
	s := h.roomShard(room)
	s.mu.Lock()
	defer s.mu.Unlock()
	members, ok := s.rooms[room]
	if !ok {
		return false
	}
	if _, in := members[c]; !in {
		return false
	}
	delete(members, c)
	h.presence.change(room, c.userID, -1)
	if len(members) == 0 {
		delete(s.rooms, room)
		h.roomCount.Add(-1)
		for _, o := range h.observers {
			o.RoomIdle(room)
		}
	}
	return true
}

var snapshotPool = sync.Pool{New: func() any { s := make([]*Client, 0, 64); return &s }}

// Deliver sends d.Msg to every local member of d.Room (every client when
// d.Room is empty) except d.Except, and returns how many took it. With
// recovery, the journal gives the message its offset and keeps it first.
func (h *Hub) Deliver(d Delivery) int {
	var n int
	start := time.Now()
	if h.journal != nil {
		n = h.journal.publish(d, start)
	} else {
		var f *wsconn.Fanout
		f, n = h.enqueue(d)
		h.flush(f, start)
	}
	h.metrics.MessagesOut(d.Msg.Event, n)
	return n
}

// Follow makes the hub's journal follow a shared log, for recovery across
// nodes: epoch names the log, and its messages come through DeliverAt, in
// the log's order. Until Ready, recoveries wait. It reports false when
// recovery is off.
func (h *Hub) Follow(epoch string) bool {
	j := h.journal
	if j == nil {
		return false
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.external, j.ready = true, false
	if j.epoch != epoch {
		j.epoch, j.head, j.floor = epoch, 0, 0
		j.hist = newHistory(j.hist.maxPerRoom, j.hist.retention)
	}
	return true
}

// DeliverAt delivers d, the shared log's message seq, to its local members
// when live, keeping it for recovery either way: a node that starts reads
// the log's recent past first, not live.
func (h *Hub) DeliverAt(seq uint64, d Delivery, live bool) int {
	n := h.journal.deliverAt(seq, d, live, time.Now())
	h.metrics.MessagesOut(d.Msg.Event, n)
	return n
}

// Gap records that messages may have been lost at seq of the shared log
// (while it could not be reached): no session recovers across it.
func (h *Hub) Gap(seq uint64) { h.journal.gap(seq) }

// Ready says the hub has read the shared log up to the present: recoveries
// may go on.
func (h *Hub) Ready() {
	j := h.journal
	j.mu.Lock()
	j.ready = true
	j.moved.Broadcast()
	j.mu.Unlock()
}

// DeliverLocal delivers d on this node alone, with no offset and not kept:
// what a clustered node does while the shared log cannot be reached.
func (h *Hub) DeliverLocal(d Delivery) int {
	start := time.Now()
	f, n := h.enqueue(d)
	h.flush(f, start)
	h.metrics.MessagesOut(d.Msg.Event, n)
	return n
}

// enqueue queues d.Msg for its members and returns the fanout that writes it
// and how many took it (see wsconn.Fanout). The member list is copied under
// the read lock and the lock released before any enqueue, so a broadcast
// never blocks joins for longer than the copy.
func (h *Hub) enqueue(d Delivery) (*wsconn.Fanout, int) {
	sp := snapshotPool.Get().(*[]*Client)
	members := (*sp)[:0]
	if d.Room == "" {
		for i := range h.clients {
			s := &h.clients[i]
			s.mu.RLock()
			for c := range s.clients {
				members = append(members, c)
			}
			s.mu.RUnlock()
		}
	} else {
		s := h.roomShard(d.Room)
		s.mu.RLock()
		for c := range s.rooms[d.Room] {
			members = append(members, c)
		}
		s.mu.RUnlock()
	}
	var track *tracking
	if d.Receipt != nil {
		// Tracked before the frames go: a write under way may deliver one,
		// and its ack come back, before this loop ends.
		track = h.receipts.expect(*d.Receipt, members, d.Except)
	}
	n := 0
	f := h.writers.Fanout()
	for _, c := range members {
		if c.id == d.Except {
			continue
		}
		if c.queue(f, d.Msg.frame(c.t)) {
			n++
		} else if track != nil {
			h.receipts.missed(track, c)
		}
	}
	clear(members)
	*sp = members[:0]
	snapshotPool.Put(sp)
	if d.Receipt != nil {
		h.receipts.delivered(*d.Receipt, track)
	}
	return f, n
}

// flush writes what enqueue queued, and observes the fan-out's latency:
// from the message's arrival (start) to the last idle member written to.
func (h *Hub) flush(f *wsconn.Fanout, start time.Time) {
	f.FlushThen(func() { h.metrics.Fanout(time.Since(start)) })
}

// ShareReceipts sends reports of receipts other nodes sent over bus, and
// counts the nodes that deliver (the cluster module calls it).
func (h *Hub) ShareReceipts(bus ReceiptBus) {
	h.receipts.mu.Lock()
	h.receipts.bus = bus
	h.receipts.mu.Unlock()
}

// Reported takes another node's report of a receipt this node sent.
func (h *Hub) Reported(r ReceiptReport) { h.receipts.reported(r) }

// Clients is the number of connected clients on this node.
func (h *Hub) Clients() int { return int(h.clientCount.Load()) }

// Rooms is the number of rooms with at least one member on this node,
// personal rooms included.
func (h *Hub) Rooms() int { return int(h.roomCount.Load()) }
