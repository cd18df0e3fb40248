// Package socketio reads and writes the packets of Socket.IO protocol 5
// carried by Engine.IO protocol 4, which is what socket.io-client v4
// speaks. Only JSON payloads are supported: binary attachments are
// recognised so that they can be refused clearly.
//
// An Engine.IO packet is a type digit and its data: over WebSocket each
// text frame is one packet; over HTTP long-polling a request's or a
// response's body is a payload of packets, each but the last followed by
// Separator. A Socket.IO packet travels as the data of an Engine.IO
// message ("4"):
//
//	<type>[<attachments>-][<namespace>,][<ack id>][JSON payload]
package socketio

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Engine.IO packet types, the first byte of every WebSocket text frame.
const (
	EngineOpen    = '0'
	EngineClose   = '1'
	EnginePing    = '2'
	EnginePong    = '3'
	EngineMessage = '4'
	EngineUpgrade = '5'
	EngineNoop    = '6'
)

// Separator ends each packet of a long-polling payload but the last (the
// ASCII record separator, which JSON text never holds unescaped).
const Separator = '\x1e'

// Type is a Socket.IO packet type.
type Type byte

// Socket.IO packet types.
const (
	Connect      Type = 0
	Disconnect   Type = 1
	Event        Type = 2
	Ack          Type = 3
	ConnectError Type = 4
	BinaryEvent  Type = 5
	BinaryAck    Type = 6
)

// Errors of Decode and Packet.Event.
var (
	ErrMalformed = errors.New("malformed Socket.IO packet")
	ErrNotEvent  = errors.New("event payload must be an array starting with the event name")
)

// Packet is one decoded Socket.IO packet. Payload aliases the decoded bytes.
type Packet struct {
	Type Type
	// Namespace is "/" when the packet names none.
	Namespace string
	// Attachments is the number of binary attachments that follow a
	// BinaryEvent or BinaryAck as separate frames.
	Attachments int
	// ID is the acknowledgement id, as its decimal digits; nil when absent.
	ID []byte
	// Payload is the JSON after the header; nil when absent.
	Payload json.RawMessage
}

// Decode parses a Socket.IO packet (the data of an Engine.IO message).
func Decode(p []byte) (Packet, error) {
	if len(p) == 0 || p[0] < '0' || p[0] > '6' {
		return Packet{}, ErrMalformed
	}
	pk := Packet{Type: Type(p[0] - '0'), Namespace: "/"}
	p = p[1:]
	if pk.Type == BinaryEvent || pk.Type == BinaryAck {
		i := bytes.IndexByte(p, '-')
		if i <= 0 {
			return Packet{}, ErrMalformed
		}
		n, err := strconv.Atoi(string(p[:i]))
		if err != nil || n < 0 {
			return Packet{}, ErrMalformed
		}
		pk.Attachments, p = n, p[i+1:]
	}
	if len(p) > 0 && p[0] == '/' {
		i := bytes.IndexByte(p, ',')
		if i < 0 {
			// A namespace with nothing after it ("1/game").
			pk.Namespace, p = string(p), nil
		} else {
			pk.Namespace, p = string(p[:i]), p[i+1:]
		}
	}
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	if i > 0 {
		if i > 15 { // beyond what a JavaScript number holds exactly
			return Packet{}, ErrMalformed
		}
		pk.ID, p = p[:i], p[i:]
	}
	if len(p) > 0 {
		if !json.Valid(p) {
			return Packet{}, ErrMalformed
		}
		pk.Payload = p
	}
	return pk, nil
}

// Event returns the event name and its first argument (null when the
// event has none) of an Event packet. Further arguments are ignored, as
// NestJS does.
func (p Packet) Event() (name string, data json.RawMessage, err error) {
	var args []json.RawMessage
	if json.Unmarshal(p.Payload, &args) != nil || len(args) == 0 {
		return "", nil, ErrNotEvent
	}
	if json.Unmarshal(args[0], &name) != nil || name == "" {
		return "", nil, ErrNotEvent
	}
	if len(args) > 1 {
		data = args[1]
	}
	return name, data, nil
}

// appendHeader appends the Engine.IO message type, the Socket.IO type and
// the namespace of a packet.
func appendHeader(dst []byte, t Type, ns string) []byte {
	dst = append(dst, EngineMessage, byte('0'+t))
	if ns != "/" {
		dst = append(dst, ns...)
		dst = append(dst, ',')
	}
	return dst
}

// AppendEvent appends the Engine.IO frame of an Event packet carrying
// [event, data] to namespace ns, or [event, data, offset] for a message
// delivered through a room (null data then stands for none). ackID, when
// not empty, is the packet's acknowledgement id (decimal digits): the
// client answers it from the event's ack callback. A packet with an ackID
// carries no offset, as socket.io's server sends none there either:
// socket.io-client passes the callback after the arguments, so the
// listener would get the offset in the callback's place, and it keeps an
// offset only from a last argument that is a string.
func AppendEvent(dst []byte, ns, event string, data json.RawMessage, offset, ackID string) []byte {
	if ackID != "" {
		offset = ""
	}
	dst = appendHeader(dst, Event, ns)
	dst = append(dst, ackID...)
	dst = append(dst, '[')
	dst = appendString(dst, event)
	if len(data) > 0 || offset != "" {
		dst = append(dst, ',')
		if len(data) == 0 {
			dst = append(dst, "null"...)
		}
		dst = append(dst, data...)
	}
	if offset != "" {
		// Connection state recovery: socket.io-client keeps the last string
		// argument of an event as the offset it sends when it reconnects.
		dst = append(dst, ',')
		dst = appendString(dst, offset)
	}
	return append(dst, ']')
}

// AppendAck appends the Engine.IO frame of an Ack packet answering id with
// the single argument data.
func AppendAck(dst []byte, ns string, id []byte, data json.RawMessage) []byte {
	dst = appendHeader(dst, Ack, ns)
	dst = append(dst, id...)
	dst = append(dst, '[')
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	return append(dst, ']')
}

// AppendConnect appends the Engine.IO frame accepting a connection to ns
// with the socket id sid and, with connection state recovery, the private
// session id pid that the client sends back to recover (omitted when "").
func AppendConnect(dst []byte, ns, sid, pid string) []byte {
	dst = appendHeader(dst, Connect, ns)
	dst = append(dst, `{"sid":`...)
	dst = appendString(dst, sid)
	if pid != "" {
		dst = append(dst, `,"pid":`...)
		dst = appendString(dst, pid)
	}
	return append(dst, '}')
}

// AppendConnectError appends the Engine.IO frame refusing a connection to
// ns; socket.io-client raises connect_error with message.
func AppendConnectError(dst []byte, ns, message string) []byte {
	dst = appendHeader(dst, ConnectError, ns)
	dst = append(dst, `{"message":`...)
	dst = appendString(dst, message)
	return append(dst, '}')
}

// AppendDisconnect appends the Engine.IO frame of a server-side disconnect
// from ns; socket.io-client reports "io server disconnect" and does not
// reconnect.
func AppendDisconnect(dst []byte, ns string) []byte {
	return appendHeader(dst, Disconnect, ns)
}

// Open is the data of the Engine.IO open packet.
type Open struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// AppendOpen appends the Engine.IO open packet.
func AppendOpen(dst []byte, o Open) []byte {
	if o.Upgrades == nil {
		o.Upgrades = []string{}
	}
	b, _ := json.Marshal(o) // cannot fail: plain fields
	return append(append(dst, EngineOpen), b...)
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // cannot fail for a string
	return append(dst, b...)
}
