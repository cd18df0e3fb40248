// Package walletproto holds the messages of the wallet link (docs/wallet.md)
// and the Codec that turns them into frame bodies.
//
// On the wire a message is one flat object: its type, its requestId, a
// reply's status and its fields are siblings, e.g.
//
//	{"type":"getBalance","requestId":"7","ok":true,"balance":1000,"currency":"USD"}
//
// so each Go type here holds one part, and a Codec joins the parts.
// Money is an int64 count of minor units.
package walletproto

// Message types of the wallet link.
const (
	TypeHello          = "hello"
	TypePing           = "ping"
	TypeGetBalance     = "getBalance"
	TypeDebit          = "debit"
	TypeCredit         = "credit"
	TypeBalanceChanged = "balanceChanged"
	// TypePushAck is the gateway's acknowledgement of a push that carried a
	// pushId; it is not a request and gets no reply.
	TypePushAck = "pushAck"
)

// Message is the body of a request or a push; it names its own type.
type Message interface {
	MessageType() string
}

// Header is the part of a message that routes it. A request carries a
// RequestID unique on its connection, and its reply the same one; a push
// carries none, but may carry a PushID, which the gateway acknowledges with
// a pushAck of the same PushID once it has taken the push.
type Header struct {
	Type      string `json:"type"`
	RequestID string `json:"requestId,omitempty"`
	PushID    string `json:"pushId,omitempty"`
}

// Status is the part of a reply that says whether the request succeeded.
type Status struct {
	OK    bool   `json:"ok"`
	Error *Error `json:"error,omitempty"`
}

// Err returns nil for a successful reply and the wallet's *Error otherwise.
func (s Status) Err() error {
	switch {
	case s.OK:
		return nil
	case s.Error == nil:
		return &Error{Message: "reply has ok false and no error"}
	default:
		return s.Error
	}
}

// Envelope is what the link reads of every incoming message to route it.
type Envelope struct {
	Header
	Status
}

// Hello is the first request on every connection.
type Hello struct {
	NodeID string `json:"nodeId"`
}

// Ping keeps an idle link alive; its reply has no fields.
type Ping struct{}

// GetBalance asks for a user's balance; the reply is a Balance.
type GetBalance struct {
	UserID string `json:"userId"`
}

// Transfer is the body of a Debit or a Credit. TxID makes it idempotent:
// the wallet applies a TxID once and answers a repeat with the same reply.
type Transfer struct {
	UserID string `json:"userId"`
	Amount int64  `json:"amount"`
	// Currency may be empty, meaning the wallet's own.
	Currency string `json:"currency,omitempty"`
	TxID     string `json:"txId"`
}

// Debit takes Amount from a user; the reply is a Balance.
type Debit Transfer

// Credit gives Amount to a user; the reply is a Balance.
type Credit Transfer

// Balance is the reply to GetBalance, Debit and Credit.
type Balance struct {
	Balance  int64  `json:"balance"`
	Currency string `json:"currency,omitempty"`
}

// BalanceChanged is the wallet's push after a user's balance changed.
type BalanceChanged struct {
	UserID   string `json:"userId"`
	Balance  int64  `json:"balance"`
	Currency string `json:"currency"`
	TxID     string `json:"txId,omitempty"`
}

func (Hello) MessageType() string          { return TypeHello }
func (Ping) MessageType() string           { return TypePing }
func (GetBalance) MessageType() string     { return TypeGetBalance }
func (Debit) MessageType() string          { return TypeDebit }
func (Credit) MessageType() string         { return TypeCredit }
func (BalanceChanged) MessageType() string { return TypeBalanceChanged }
