package gateway

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/wsconn"
)

// statusSessionResumed closes a connection whose session another one took
// over.
const statusSessionResumed wsconn.StatusCode = 4003

// Why a session is not recovered, as `connected` says it.
const (
	reasonUnknown = "unknown session"
	reasonExpired = "expired"
	reasonUser    = "user mismatch"
	reasonBehind  = "too far behind"
)

// resume is what a reconnecting client asks for: its session, and the last
// offset it received ("" if none).
type resume struct {
	sessionID, offset string
}

// maxResumeField bounds what a client may send as a session id or offset.
const maxResumeField = 64

// resumeFrom reads a plain WebSocket reconnect's query: sessionId and
// offset.
func resumeFrom(r *http.Request) *resume {
	q := r.URL.Query()
	if !q.Has("sessionId") {
		return nil
	}
	return &resume{sessionID: clip(q.Get("sessionId")), offset: clip(q.Get("offset"))}
}

// clip keeps a field from a client to maxResumeField bytes plus one, enough
// to tell it is not one of ours.
func clip(s string) string { return s[:min(len(s), maxResumeField+1)] }

// SessionRecord is a session as a SessionStore keeps it.
type SessionRecord struct {
	UserID   string `json:"user"`
	ClientID string `json:"client"`
	// Start is the offset's sequence number when the session began: a
	// client that received no room message recovers from there.
	Start uint64 `json:"start"`
	// Rooms are the rooms the session is in, each with the sequence number
	// after which the room's messages are the session's.
	Rooms map[string]uint64 `json:"rooms"`
	// Watching are the rooms whose presence events it gets.
	Watching []string `json:"watching,omitempty"`
	// Node is the node of its live or last connection; GoneAt is when that
	// connection ended, zero while it is live.
	Node   string    `json:"node"`
	GoneAt time.Time `json:"goneAt"`
}

// SessionStore keeps sessions where every node finds them, so that a client
// recovers its session on any node; the cluster module provides one. Without
// one, a node's sessions live in its memory only.
type SessionStore interface {
	// Node is this node's name in the records.
	Node() string
	// Save writes session id's record.
	Save(ctx context.Context, id string, r SessionRecord) error
	// Load reads it; ErrUnknownSession when there is none.
	Load(ctx context.Context, id string) (SessionRecord, error)
	// Forget deletes it, unless another node has written it since this
	// one did.
	Forget(ctx context.Context, id string) error
	// TakeOver asks node to close its live connection of session id (with
	// 4003) and returns the rooms it was in then; a *NodeGoneError when
	// that node is not there any more.
	TakeOver(ctx context.Context, node, id string) (map[string]uint64, error)
	// ServeTakeOver answers other nodes' TakeOver for this node's sessions
	// with take.
	ServeTakeOver(take func(id string) (map[string]uint64, bool))
}

// ErrUnknownSession is a session no store knows.
var ErrUnknownSession = errors.New("gateway: unknown session")

// NodeGoneError is the answer of TakeOver for a node that is gone: its
// connections ended no later than LastSeen (zero if not known).
type NodeGoneError struct{ LastSeen time.Time }

func (e *NodeGoneError) Error() string { return "gateway: the session's node is gone" }

// storeTimeout bounds one store operation in a handshake: a client waits for
// it.
const storeTimeout = 3 * time.Second

// session is a session of this node's: live here, or recently gone.
type session struct {
	id       string // a secret of the client's: at least 128 random bits
	userID   string
	clientID string
	start    uint64
	client   *Client // the live connection, or nil
	dropped  bool    // forgotten: its connection does not save it again
	// The rooms whose presence events it gets, as of its last connection.
	watching []string
	// While no connection is live: the rooms it was in and when the last
	// connection ended.
	rooms  map[string]uint64
	goneAt time.Time
}

func (s *session) record(node string, rooms map[string]uint64) SessionRecord {
	return SessionRecord{UserID: s.userID, ClientID: s.clientID, Start: s.start, Rooms: rooms,
		Watching: s.watching, Node: node, GoneAt: s.goneAt}
}

// sessions are this node's sessions, live or recently gone, and, clustered,
// the way to every node's.
type sessions struct {
	window time.Duration
	store  SessionStore // nil on one node
	log    *zap.Logger

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(window time.Duration, store SessionStore, log *zap.Logger) *sessions {
	return &sessions{window: window, store: store, log: log, byID: make(map[string]*session)}
}

// add keeps a new session, and makes it known to every node before the
// client learns its id.
func (ss *sessions) add(s *session, rooms map[string]uint64) {
	ss.mu.Lock()
	ss.byID[s.id] = s
	ss.mu.Unlock()
	ss.save(s, rooms)
}

// save writes s to the store, if there is one.
func (ss *sessions) save(s *session, rooms map[string]uint64) {
	if ss.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := ss.store.Save(ctx, s.id, s.record(ss.store.Node(), rooms)); err != nil {
		ss.log.Warn("saving a session for recovery on other nodes failed; it is recoverable on this node only",
			zap.String("userId", s.userID), zap.Error(err))
	}
}

// claim gives the session want names to c, if it is c's user's and not
// expired, with the rooms it was in. A connection still live on it is
// closed with 4003 first, on whichever node: the new one takes the session
// over.
func (ss *sessions) claim(want resume, c *Client) (*session, map[string]uint64, string) {
	ss.mu.Lock()
	s := ss.byID[want.sessionID]
	if s == nil {
		ss.mu.Unlock()
		return ss.claimElsewhere(want, c)
	}
	defer ss.mu.Unlock()
	switch {
	case s.userID != c.userID:
		return nil, nil, reasonUser
	case s.client == nil && time.Since(s.goneAt) >= ss.window:
		delete(ss.byID, s.id)
		return nil, nil, reasonExpired
	}
	rooms := s.rooms
	if old := s.client; old != nil {
		// Closing first: once closing it joins no more rooms, so its rooms
		// read next are all of them.
		old.Close(statusSessionResumed, "session resumed")
		rooms, s.watching = old.roomSnapshot()
	}
	s.client, s.rooms, s.goneAt = c, nil, time.Time{}
	return s, rooms, ""
}

// claimElsewhere claims a session another node had.
func (ss *sessions) claimElsewhere(want resume, c *Client) (*session, map[string]uint64, string) {
	if ss.store == nil || want.sessionID == "" || len(want.sessionID) > maxResumeField {
		return nil, nil, reasonUnknown
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	r, err := ss.store.Load(ctx, want.sessionID)
	if err != nil {
		if !errors.Is(err, ErrUnknownSession) {
			ss.log.Warn("reading a session to recover failed", zap.Error(err))
		}
		return nil, nil, reasonUnknown
	}
	if r.UserID != c.userID {
		return nil, nil, reasonUser
	}
	rooms := r.Rooms
	if r.GoneAt.IsZero() { // live on its node, as far as the store knows
		live, err := ss.store.TakeOver(ctx, r.Node, want.sessionID)
		var gone *NodeGoneError
		switch {
		case err == nil:
			rooms = live
		case errors.As(err, &gone):
			r.GoneAt = gone.LastSeen
			if r.GoneAt.IsZero() {
				return nil, nil, reasonExpired
			}
		default:
			ss.log.Warn("taking a session over from its node failed", zap.String("node", r.Node), zap.Error(err))
			return nil, nil, reasonUnknown
		}
	}
	if !r.GoneAt.IsZero() && time.Since(r.GoneAt) >= ss.window {
		return nil, nil, reasonExpired
	}
	s := &session{id: want.sessionID, userID: r.UserID, clientID: r.ClientID, start: r.Start, client: c, watching: r.Watching}
	ss.mu.Lock()
	ss.byID[s.id] = s
	ss.mu.Unlock()
	return s, rooms, ""
}

// takeOver answers another node's TakeOver of session id: the live
// connection here is closed with 4003 and the session is that node's now.
func (ss *sessions) takeOver(id string) (map[string]uint64, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[id]
	if s == nil {
		return nil, false
	}
	delete(ss.byID, id)
	rooms := s.rooms
	if old := s.client; old != nil {
		old.Close(statusSessionResumed, "session resumed")
		rooms, _ = old.roomSnapshot()
		s.client = nil
	}
	return rooms, true
}

// drop forgets a session that cannot be recovered, or must not be.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	delete(ss.byID, s.id)
	s.dropped = true
	ss.mu.Unlock()
	ss.forget(s.id)
}

func (ss *sessions) forget(id string) {
	if ss.store == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := ss.store.Forget(ctx, id); err != nil {
		ss.log.Debug("forgetting a session failed", zap.Error(err))
	}
}

// gone records that c, whose rooms were rooms (watching those), ended;
// unless another connection has taken its session over.
func (ss *sessions) gone(c *Client, rooms map[string]uint64, watching []string) {
	s := c.session
	if s == nil {
		return
	}
	ss.mu.Lock()
	mine := s.client == c && !s.dropped
	if mine {
		s.client, s.rooms, s.watching, s.goneAt = nil, maps.Clone(rooms), watching, time.Now()
	}
	ss.mu.Unlock()
	if mine {
		ss.save(s, rooms)
	}
}

// sweep forgets the sessions gone for longer than the window.
func (ss *sessions) sweep() {
	var expired []string
	ss.mu.Lock()
	for id, s := range ss.byID {
		if s.client == nil && time.Since(s.goneAt) >= ss.window {
			delete(ss.byID, id)
			expired = append(expired, id)
		}
	}
	ss.mu.Unlock()
	for _, id := range expired {
		ss.forget(id)
	}
}
