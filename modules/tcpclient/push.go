package tcpclient

import (
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
