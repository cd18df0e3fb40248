package cluster

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/gateway"
)

// Sessions live in a JetStream key-value bucket, by session id, so that a
// client recovers its session on any node. A node answers the others'
// requests to take its live sessions over, and tells that it is alive in a
// second bucket, so that the others know when a node that no longer answers
// went away.
const (
	sessionBucket = "GAMEGATE_SESSIONS"
	nodeBucket    = "GAMEGATE_NODES"
	// sessionTTL bounds how long a record outlives its session when its
	// node went away before forgetting it.
	sessionTTL = 24 * time.Hour
	// heartbeat is how often a node says it is alive.
	heartbeat = 2 * time.Second
	// takeOverWait is how long a node has to answer a takeover: one that
	// does not is taken for gone.
	takeOverWait = time.Second
)

// sessionStore is the cluster's gateway.SessionStore.
type sessionStore struct {
	a        *Adapter
	node     string
	window   time.Duration
	disabled atomic.Bool // NATS has no JetStream: sessions stay on their node

	mu    sync.Mutex
	kv    jetstream.KeyValue // nil until JetStream answered
	nodes jetstream.KeyValue
	revs  map[string]uint64 // the revision of each session this node wrote last
	sub   *nats.Subscription
	take  func(id string) (map[string]uint64, bool)
}

func newSessionStore(a *Adapter, node string, window time.Duration) *sessionStore {
	return &sessionStore{a: a, node: node, window: window, revs: make(map[string]uint64)}
}

func (s *sessionStore) Node() string { return s.node }

// buckets opens the buckets, creating them if missing.
func (s *sessionStore) buckets(ctx context.Context) (jetstream.KeyValue, jetstream.KeyValue, error) {
	if s.disabled.Load() {
		return nil, nil, errNoJetStream
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kv != nil {
		return s.kv, s.nodes, nil
	}
	nc := s.a.conn.Load()
	if nc == nil {
		return nil, nil, errNoLog
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, nil, err
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: sessionBucket, Description: "gamegate: sessions, for recovery on any node",
		History: 1, TTL: sessionTTL, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, nil, err
	}
	nodes, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: nodeBucket, Description: "gamegate: when each node was last alive",
		History: 1, TTL: s.window + time.Minute, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, nil, err
	}
	s.kv, s.nodes = kv, nodes
	return kv, nodes, nil
}

func (s *sessionStore) Save(ctx context.Context, id string, r gateway.SessionRecord) error {
	if s.disabled.Load() {
		return nil // this node's memory is all there is
	}
	kv, _, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	rev, err := kv.Put(ctx, id, b)
	if err != nil {
		return fmt.Errorf("cluster: saving a session: %w", err)
	}
	s.mu.Lock()
	s.revs[id] = rev
	s.mu.Unlock()
	return nil
}

func (s *sessionStore) Load(ctx context.Context, id string) (gateway.SessionRecord, error) {
	var r gateway.SessionRecord
	if !validKey(id) || s.disabled.Load() {
		return r, gateway.ErrUnknownSession
	}
	kv, _, err := s.buckets(ctx)
	if err != nil {
		return r, err
	}
	e, err := kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return r, gateway.ErrUnknownSession
	}
	if err != nil {
		return r, fmt.Errorf("cluster: reading a session: %w", err)
	}
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return r, fmt.Errorf("cluster: session record: %w", err)
	}
	return r, nil
}

// Forget deletes a session this node wrote last: a delete at that revision
// fails when another node has written it since.
func (s *sessionStore) Forget(ctx context.Context, id string) error {
	s.mu.Lock()
	rev, ok := s.revs[id]
	delete(s.revs, id)
	s.mu.Unlock()
	if !ok {
		return nil
	}
	kv, _, err := s.buckets(ctx)
	if err != nil {
		return err
	}
	return kv.Delete(ctx, id, jetstream.LastRevision(rev))
}

// takeOverReply is a node's answer to a takeover.
type takeOverReply struct {
	Rooms map[string]uint64 `json:"rooms"`
	// Gone: the node has no live connection of the session.
	Gone bool `json:"gone,omitempty"`
}

func (s *sessionStore) TakeOver(ctx context.Context, node, id string) (map[string]uint64, error) {
	nc := s.a.conn.Load()
	if nc == nil {
		return nil, errNoLog
	}
	rctx, cancel := context.WithTimeout(ctx, takeOverWait)
	defer cancel()
	m, err := nc.RequestWithContext(rctx, takeOverSubject(node), []byte(id))
	switch {
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, context.DeadlineExceeded):
		return nil, &gateway.NodeGoneError{LastSeen: s.lastSeen(ctx, node)}
	case err != nil:
		return nil, fmt.Errorf("cluster: takeover: %w", err)
	}
	var r takeOverReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return nil, fmt.Errorf("cluster: takeover reply: %w", err)
	}
	if r.Gone {
		return nil, &gateway.NodeGoneError{LastSeen: time.Now()}
	}
	return r.Rooms, nil
}

// lastSeen is when node last said it was alive; zero if not within the
// window.
func (s *sessionStore) lastSeen(ctx context.Context, node string) time.Time {
	_, nodes, err := s.buckets(ctx)
	if err != nil {
		return time.Time{}
	}
	e, err := nodes.Get(ctx, nodeKey(node))
	if err != nil {
		return time.Time{}
	}
	return e.Created()
}

func (s *sessionStore) ServeTakeOver(take func(id string) (map[string]uint64, bool)) {
	s.mu.Lock()
	s.take = take
	s.mu.Unlock()
}

// serve answers takeovers on nc until the connection closes.
func (s *sessionStore) serve(nc *nats.Conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.take == nil || s.sub != nil {
		return nil
	}
	take := s.take
	sub, err := nc.Subscribe(takeOverSubject(s.node), func(m *nats.Msg) {
		rooms, ok := take(string(m.Data))
		b, _ := json.Marshal(takeOverReply{Rooms: rooms, Gone: !ok})
		_ = m.Respond(b)
	})
	if err != nil {
		return err
	}
	s.sub = sub
	return nil
}

// beat says this node is alive, every heartbeat until quit.
func (s *sessionStore) beat(quit <-chan struct{}) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), heartbeat)
		if _, nodes, err := s.buckets(ctx); err == nil {
			if _, err := nodes.PutString(ctx, nodeKey(s.node), time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
				s.a.log.Debug("heartbeat failed", zap.Error(err))
			}
		}
		cancel()
		select {
		case <-quit:
			return
		case <-t.C:
		}
	}
}

// takeOverSubject is where node answers takeovers; the node's name, which an
// operator chose, becomes one token of a subject safely.
func takeOverSubject(node string) string {
	return "gamegate.node." + base64.RawURLEncoding.EncodeToString([]byte(node)) + ".takeover"
}

func nodeKey(node string) string { return base64.RawURLEncoding.EncodeToString([]byte(node)) }

// validKey reports whether a client's session id can be a key at all.
func validKey(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}
