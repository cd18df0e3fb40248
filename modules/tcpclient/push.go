package tcpclient

import (
	"sync"

	"go.uber.org/fx"

	"github.com/gamegate/gamegate/pkg/walletproto"
)

// PushGroup is the fx value group the Client takes its PushHandlers from.
const PushGroup = "wallet.push"

// Push is a message from the wallet that answers no pending request: one
// without a requestId, such as balanceChanged, or a reply whose caller has
// given up.
type Push struct {
	walletproto.Header
	body  []byte
	codec walletproto.Codec
}

// Decode stores the push's fields in v, e.g. a *walletproto.BalanceChanged.
// It works only while HandlePush runs: the body lives in the read buffer.
func (p Push) Decode(v any) error { return p.codec.Decode(p.body, v) }

// PushHandler handles the pushes of one message type.
type PushHandler interface {
	// PushType is the type handled, e.g. walletproto.TypeBalanceChanged.
	PushType() string
	// HandlePush runs on the link's read loop, so replies wait behind it:
	// it must be quick, and must not wait for a Client call. An error is
	// logged.
	HandlePush(Push) error
}

// NewPushHandler returns a PushHandler for typ that calls f.
func NewPushHandler(typ string, f func(Push) error) PushHandler { return pushFunc{typ, f} }

type pushFunc struct {
	typ string
	f   func(Push) error
}

func (h pushFunc) PushType() string        { return h.typ }
func (h pushFunc) HandlePush(p Push) error { return h.f(p) }

// AsPushHandler annotates a constructor of a PushHandler so that fx adds its
// result to the group the Client dispatches to:
//
//	fx.Provide(tcpclient.AsPushHandler(NewBalanceRelay))
func AsPushHandler(constructor any) any {
	return fx.Annotate(constructor, fx.As(new(PushHandler)), fx.ResultTags(`group:"`+PushGroup+`"`))
}

// pushMemory is how many pushIds the client remembers. A wallet resends only
// the pushes it saw no pushAck for, those in flight when a link dropped, so
// this is far more than one reconnect brings back.
const pushMemory = 4096

// recentPushes remembers the latest pushIds taken, forgetting the oldest,
// so that a push resent after its ack was lost is not delivered twice. It
// lives in the Client: the resend comes on the next link.
type recentPushes struct {
	mu   sync.Mutex
	seen map[string]struct{}
	ring []string // the ids in seen, the oldest at next once it is full
	next int
}

// add records id and reports whether it is new.
func (r *recentPushes) add(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.seen[id]; ok {
		return false
	}
	if r.seen == nil {
		r.seen = make(map[string]struct{}, pushMemory)
		r.ring = make([]string, pushMemory)
	}
	delete(r.seen, r.ring[r.next])
	r.ring[r.next] = id
	r.next = (r.next + 1) % pushMemory
	r.seen[id] = struct{}{}
	return true
}
