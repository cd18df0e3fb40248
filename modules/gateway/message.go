package gateway

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gamegate/gamegate/pkg/wsconn"
)

// Message is one server event on its way to clients. Each transport encodes
// it at most once, however many clients receive it, and every recipient
// shares those bytes.
type Message struct {
	Event string
	// Data is the event's JSON; nil stands for null.
	Data json.RawMessage

	// offset is given by the journal when the message goes to a room, before
	// any frame is encoded.
	offset string
	// ackID, when not empty, asks the recipients to acknowledge the message
	// (a delivery receipt's id).
	ackID string

	frames [transportKinds]atomic.Pointer[[]byte]
}

// WithReceipt sets the receipt m's frames ask to acknowledge (a message
// received from another node, which carries it).
func (m *Message) WithReceipt(r Receipt) { m.ackID = strconv.FormatUint(r.ID, 10) }

// NewMessage marshals data (json.RawMessage is used as it is).
func NewMessage(event string, data any) (*Message, error) {
	raw, err := marshal(data)
	if err != nil {
		return nil, err
	}
	return &Message{Event: event, Data: raw}, nil
}

// ErrInvalidUTF8 refuses data whose JSON is not valid UTF-8: a browser drops
// a WebSocket connection that receives such text.
var ErrInvalidUTF8 = errors.New("gateway: data is not valid UTF-8")

// marshal is data's JSON: json.RawMessage as it is, once checked to be
// UTF-8 (encoding/json makes the rest valid itself).
func marshal(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		if !utf8.Valid(d) {
			return nil, ErrInvalidUTF8
		}
		return d, nil
	default:
		return json.Marshal(d)
	}
}

// frame is m as a complete WebSocket frame of transport t, encoded on first
// use.
func (m *Message) frame(t transport) []byte {
	slot := &m.frames[t.kind()]
	if f := slot.Load(); f != nil {
		return *f
	}
	f := wsconn.FinishText(t.appendEvent(wsconn.NewFrame(len(m.Event)+len(m.Data)+len(m.offset)+len(m.ackID)+64), m.Event, m.Data, m.offset, m.ackID))
	slot.CompareAndSwap(nil, &f) // a racing encoder made the same bytes
	return *slot.Load()
}
