package gateway

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"
)

// presence counts each room's users and their connections, on this node and
// on the others, so that a room's members are answered from memory, and so
// that a user's first connection in a room (and its last leaving) is an
// event for the connections that asked for them (joinRoom with
// "presence": true): memberJoined and memberLeft, counted per user, not per
// connection.
//
// The events of a room are gathered for presenceWindow and then written
// together; a subscriber that has more than presenceBurst of them due gets
// one roomMembers frame with the whole list instead, so that 2,000 users
// joining a room at once cost each subscriber a few frames, not 2,000.
type presence struct {
	hub *Hub
	bus PresenceBus // nil on one node

	mu      sync.Mutex
	rooms   map[string]*roomPresence
	seq     uint64                   // counts transitions, so subscribers get only those after them
	due     map[string]*roomPresence // rooms with events to write
	flusher *time.Timer
	stopped bool
}

// PresenceBus tells the other nodes how many connections a user has in a
// room on this node; the cluster module provides one.
type PresenceBus interface {
	Publish(room, user string, connections int)
}

// Member is a user in a room with its connections, on every node.
type Member struct {
	UserID      string `json:"userId"`
	Connections int    `json:"connections"`
}

const (
	presenceWindow = 50 * time.Millisecond
	presenceBurst  = 16
)

type roomPresence struct {
	local  map[string]int            // user → its connections on this node
	remote map[string]map[string]int // user → node → its connections there
	subs   map[*Client]uint64        // subscribers → the transition seq they have seen
	events []transition              // due
	// The members' answer, encoded: a big room is asked about more often
	// than it changes. Nil once stale.
	answer []byte
}

// transition is a user's first connection in a room joining, or its last
// leaving.
type transition struct {
	seq    uint64
	user   string
	joined bool
}

func newPresence(h *Hub) *presence {
	return &presence{hub: h, rooms: make(map[string]*roomPresence), due: make(map[string]*roomPresence)}
}

func (p *presence) room(name string) *roomPresence {
	r := p.rooms[name]
	if r == nil {
		r = &roomPresence{local: map[string]int{}, remote: map[string]map[string]int{}, subs: map[*Client]uint64{}}
		p.rooms[name] = r
	}
	return r
}

// total is user's connections in r, on every node.
func (r *roomPresence) total(user string) int {
	n := r.local[user]
	for _, c := range r.remote[user] {
		n += c
	}
	return n
}

// tidy forgets an empty room; under mu.
func (p *presence) tidy(name string, r *roomPresence) {
	if len(r.local) == 0 && len(r.remote) == 0 && len(r.subs) == 0 && len(r.events) == 0 {
		delete(p.rooms, name)
	}
}

// change moves user's connections on this node in room by delta (+1, -1).
func (p *presence) change(room, user string, delta int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.room(room)
	before := r.total(user)
	r.answer = nil
	n := r.local[user] + delta
	if n > 0 {
		r.local[user] = n
	} else {
		delete(r.local, user)
	}
	p.moved(room, r, user, before)
	if p.bus != nil {
		p.bus.Publish(room, user, n)
	}
	p.tidy(room, r)
}

// apply records user's connections in room on another node.
func (p *presence) apply(node, room, user string, connections int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.room(room)
	before := r.total(user)
	r.answer = nil
	nodes := r.remote[user]
	switch {
	case connections > 0 && nodes == nil:
		r.remote[user] = map[string]int{node: connections}
	case connections > 0:
		nodes[node] = connections
	default:
		delete(nodes, node)
		if len(nodes) == 0 {
			delete(r.remote, user)
		}
	}
	p.moved(room, r, user, before)
	p.tidy(room, r)
}

// forget drops everything node had: it is gone.
func (p *presence) forget(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, r := range p.rooms {
		for user, nodes := range r.remote {
			if _, ok := nodes[node]; !ok {
				continue
			}
			before := r.total(user)
			r.answer = nil
			delete(nodes, node)
			if len(nodes) == 0 {
				delete(r.remote, user)
			}
			p.moved(name, r, user, before)
		}
		p.tidy(name, r)
	}
}

// moved makes an event of user's total in r going from before to 0 or from
// 0, and schedules the write; under mu.
func (p *presence) moved(room string, r *roomPresence, user string, before int) {
	after := r.total(user)
	if (before == 0) == (after == 0) || len(r.subs) == 0 {
		return
	}
	p.seq++
	r.events = append(r.events, transition{seq: p.seq, user: user, joined: after > 0})
	p.due[room] = r
	if p.flusher == nil && !p.stopped {
		p.flusher = time.AfterFunc(presenceWindow, p.flush)
	}
}

// stop drops the events not written yet: the node is stopping.
func (p *presence) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopped = true
	if p.flusher != nil {
		p.flusher.Stop()
	}
}

// subscribe makes c get room's events from now on, and returns the room's
// users now.
func (p *presence) subscribe(c *Client, room string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.room(room)
	r.subs[c] = p.seq
	return r.users()
}

// unsubscribe stops c getting room's events.
func (p *presence) unsubscribe(c *Client, room string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.rooms[room]; r != nil {
		delete(r.subs, c)
		p.tidy(room, r)
	}
}

// users are the room's users, sorted; under mu.
func (r *roomPresence) users() []string {
	out := make([]string, 0, len(r.local)+len(r.remote))
	for u := range r.local {
		out = append(out, u)
	}
	for u := range r.remote {
		if r.local[u] == 0 {
			out = append(out, u)
		}
	}
	slices.Sort(out)
	return out
}

// members are room's users with their connections on every node, sorted.
func (p *presence) members(room string) []Member {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rooms[room]
	if r == nil {
		return []Member{}
	}
	users := r.users()
	out := make([]Member, len(users))
	for i, u := range users {
		out[i] = Member{UserID: u, Connections: r.total(u)}
	}
	return out
}

// membersJSON is room's members as GET /rooms/:roomId/members answers
// them: {"roomId","users":[{"userId","connections"}],"count"}, encoded once
// per change of the room.
func (p *presence) membersJSON(room string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.rooms[room]
	if r == nil {
		return appendMembers(nil, room, nil, nil)
	}
	if r.answer == nil {
		r.answer = appendMembers(make([]byte, 0, 64+48*len(r.local)+48*len(r.remote)), room, r.users(), r)
	}
	return r.answer
}

func appendMembers(b []byte, room string, users []string, r *roomPresence) []byte {
	b = append(b, `{"roomId":`...)
	b = appendJSONString(b, room)
	b = append(b, `,"users":[`...)
	for i, u := range users {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"userId":`...)
		b = appendJSONString(b, u)
		b = append(b, `,"connections":`...)
		b = strconv.AppendInt(b, int64(r.total(u)), 10)
		b = append(b, '}')
	}
	b = append(b, `],"count":`...)
	b = strconv.AppendInt(b, int64(len(users)), 10)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // user ids are short; this is once per change
	return append(b, q...)
}

// Counts are this node's own connections per room and user, for a node
// that needs the whole picture (it just joined the cluster).
func (p *presence) counts(each func(room, user string, connections int)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for name, r := range p.rooms {
		for u, n := range r.local {
			each(name, u, n)
		}
	}
}

// entries counts the users in rooms, for /metrics.
func (p *presence) entries() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.rooms {
		n += len(r.users())
	}
	return n
}

// presenceEvent is memberJoined's and memberLeft's data.
type presenceEvent struct {
	RoomID string `json:"roomId"`
	UserID string `json:"userId"`
}

// roomMembersData is roomMembers' data, the reply to a roomMembers request
// and the frame that stands for a burst of events.
type roomMembersData struct {
	RoomID string   `json:"roomId"`
	Users  []string `json:"users"`
	Count  int      `json:"count"`
}

// flush writes the events due: each subscriber gets those after it
// subscribed, or, past presenceBurst, the room's members at once.
func (p *presence) flush() {
	type batch struct {
		events []*Message
		seqs   []uint64
		subs   map[*Client]uint64
		list   *Message
	}
	p.mu.Lock()
	batches := make([]batch, 0, len(p.due))
	for room, r := range p.due {
		b := batch{subs: make(map[*Client]uint64, len(r.subs))}
		for _, t := range r.events {
			event := "memberLeft"
			if t.joined {
				event = "memberJoined"
			}
			m, _ := NewMessage(event, presenceEvent{RoomID: room, UserID: t.user})
			b.events = append(b.events, m)
			b.seqs = append(b.seqs, t.seq)
		}
		users := r.users()
		b.list, _ = NewMessage("roomMembers", roomMembersData{RoomID: room, Users: users, Count: len(users)})
		for c, seen := range r.subs {
			b.subs[c] = seen
			r.subs[c] = p.seq
		}
		r.events = nil
		batches = append(batches, b)
		p.tidy(room, r)
	}
	clear(p.due)
	p.flusher = nil
	p.mu.Unlock()

	f := p.hub.writers.Fanout()
	for _, b := range batches {
		for c, seen := range b.subs {
			i, _ := slices.BinarySearch(b.seqs, seen+1)
			switch due := len(b.seqs) - i; {
			case due > presenceBurst:
				c.queue(f, b.list.frame(c.t))
			default:
				for _, m := range b.events[i:] {
					c.queue(f, m.frame(c.t))
				}
			}
		}
	}
	f.Flush()
}

// watch is what joinRoom's "presence": true does: c gets room's events, and
// the room's users now.
func (c *Client) watch(room string) []string {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if c.rooms == nil {
		return nil
	}
	if c.watching == nil {
		c.watching = make(map[string]bool, 1)
	}
	c.watching[room] = true
	c.roomsChanged()
	return c.srv.hub.presence.subscribe(c, room)
}

// unwatch stops c getting room's events; under roomsMu.
func (c *Client) unwatch(room string) {
	if c.watching[room] {
		delete(c.watching, room)
		c.srv.hub.presence.unsubscribe(c, room)
	}
}
