package gateway

import (
	"net/http"
	"sync"
	"time"

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
// offset. Fields too long to be ours are kept cut: they name nothing.
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

// session is what a client's session keeps between its connections.
type session struct {
	id       string // a secret of the client's: at least 128 random bits
	userID   string
	clientID string
	// start is the journal's head when the session began: a client that
	// received no room message recovers from there.
	start  uint64
	client *Client // the live connection, or nil
	// While no connection is live: the rooms it was in, each with the
	// sequence number after which the room's messages were its, and when
	// the last connection ended.
	rooms  map[string]uint64
	goneAt time.Time
}

// sessions are a node's sessions, live or recently gone.
type sessions struct {
	window time.Duration

	mu   sync.Mutex
	byID map[string]*session
}

func newSessions(window time.Duration) *sessions {
	return &sessions{window: window, byID: make(map[string]*session)}
}

// add keeps a new session.
func (ss *sessions) add(s *session) {
	ss.mu.Lock()
	ss.byID[s.id] = s
	ss.mu.Unlock()
}

// claim gives the session want names to c, if it is c's user's and not
// expired, with the rooms it was in. A connection still live on it is
// closed with 4003 first: the new one takes the session over.
func (ss *sessions) claim(want resume, c *Client) (*session, map[string]uint64, string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.byID[want.sessionID]
	switch {
	case s == nil:
		return nil, nil, reasonUnknown
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
		rooms = old.roomSnapshot()
	}
	s.client, s.rooms = c, nil
	return s, rooms, ""
}

// drop forgets a session that cannot be recovered.
func (ss *sessions) drop(s *session) {
	ss.mu.Lock()
	delete(ss.byID, s.id)
	ss.mu.Unlock()
}

// gone records that c, whose rooms were rooms, ended; unless another
// connection has taken its session over.
func (ss *sessions) gone(c *Client, rooms map[string]uint64) {
	s := c.session
	if s == nil {
		return
	}
	ss.mu.Lock()
	if s.client == c {
		s.client, s.rooms, s.goneAt = nil, rooms, time.Now()
	}
	ss.mu.Unlock()
}

// sweep forgets the sessions gone for longer than the window.
func (ss *sessions) sweep() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.byID {
		if s.client == nil && time.Since(s.goneAt) >= ss.window {
			delete(ss.byID, id)
		}
	}
}
