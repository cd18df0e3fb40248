package cluster

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gamegate/gamegate/modules/gateway"
)

// The subjects: one per room, and one that every node always subscribes to
// for messages to every client. A room id becomes a single token in base64url
// without padding, whose alphabet holds none of NATS's separators and
// wildcards ('.', '*', '>', white space), so no room can collide with another
// or subscribe to a set of them.
const (
	allSubject = "gamegate.all"
	roomPrefix = "gamegate.room."
)

// roomSubject is the subject of messages to room; "" means every client.
func roomSubject(room string) string {
	if room == "" {
		return allSubject
	}
	return roomPrefix + base64.RawURLEncoding.EncodeToString([]byte(room))
}

// subjectRoom is the inverse of roomSubject.
func subjectRoom(subject string) (string, error) {
	if subject == allSubject || subject == receiptSubject {
		return "", nil // a receipt's message names its room inside
	}
	token, ok := strings.CutPrefix(subject, roomPrefix)
	if !ok || token == "" {
		return "", fmt.Errorf("subject %q is not a gamegate subject", subject)
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", fmt.Errorf("subject %q: %w", subject, err)
	}
	return string(b), nil
}

// wireVersion is the first byte of every payload, so that a node can tell a
// message of another version (during a rolling upgrade) and drop it.
// receiptVersion is the version of messages with a delivery receipt, which
// carry it, and their room, after the excepted client id; a message without
// one stays at wireVersion.
const (
	wireVersion    = 2
	receiptVersion = 3
)

// receiptSubject carries, without JetStream, the messages with a delivery
// receipt: every node hears it, so that every node reports, those without
// members in the room too, and the sender knows when all have.
const receiptSubject = "gamegate.receipt"

// marshal encodes d's payload: a version byte, the event and the excepted
// client id, each as a uvarint length and its bytes, then the event's JSON
// data as it is (empty for null). The room travels in the subject. Each node
// encodes the message for its own clients' transports.
func marshal(d gateway.Delivery) []byte {
	m := d.Msg
	b := make([]byte, 0, 1+2*binary.MaxVarintLen64+len(m.Event)+len(d.Except)+len(m.Data))
	version := byte(wireVersion)
	if d.Receipt != nil {
		version = receiptVersion
	}
	b = append(b, version)
	b = appendField(b, m.Event)
	b = appendField(b, d.Except)
	if r := d.Receipt; r != nil {
		b = appendField(b, d.Room)
		b = binary.AppendUvarint(b, r.ID)
		b = appendField(b, r.Origin)
		b = binary.AppendUvarint(b, uint64(r.Deadline.UnixMilli()))
	}
	return append(b, m.Data...)
}

func appendField(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

var errMalformed = errors.New("malformed cluster message")

// unmarshal decodes a message published with marshal on subject. The
// message's data aliases data, which nats.go allocates for each message. Data
// that is not JSON is refused, so that no client ever gets a broken frame.
func unmarshal(subject string, data []byte) (gateway.Delivery, error) {
	room, err := subjectRoom(subject)
	if err != nil {
		return gateway.Delivery{}, fmt.Errorf("%w: %w", errMalformed, err)
	}
	if len(data) == 0 || data[0] != wireVersion && data[0] != receiptVersion {
		return gateway.Delivery{}, fmt.Errorf("%w: not version %d or %d", errMalformed, wireVersion, receiptVersion)
	}
	rest := data[1:]
	event, rest, ok := field(rest)
	if !ok {
		return gateway.Delivery{}, fmt.Errorf("%w: bad event", errMalformed)
	}
	except, rest, ok := field(rest)
	if !ok {
		return gateway.Delivery{}, fmt.Errorf("%w: bad except", errMalformed)
	}
	var receipt *gateway.Receipt
	if data[0] == receiptVersion {
		var r gateway.Receipt
		var inRoom, origin []byte
		var deadline uint64
		var k int
		if inRoom, rest, ok = field(rest); ok {
			r.ID, k = binary.Uvarint(rest)
			ok = k > 0
		}
		if ok {
			origin, rest, ok = field(rest[k:])
		}
		if ok {
			deadline, k = binary.Uvarint(rest)
			ok = k > 0 && deadline <= 1<<62
		}
		if !ok {
			return gateway.Delivery{}, fmt.Errorf("%w: bad receipt", errMalformed)
		}
		rest = rest[k:]
		r.Origin, r.Deadline = string(origin), time.UnixMilli(int64(deadline))
		receipt = &r
		if subject == receiptSubject {
			room = string(inRoom)
		}
	}
	if len(rest) > 0 && !json.Valid(rest) {
		return gateway.Delivery{}, fmt.Errorf("%w: data is not JSON", errMalformed)
	}
	if len(rest) == 0 {
		rest = nil
	}
	msg := &gateway.Message{Event: string(event), Data: rest}
	if receipt != nil {
		msg.WithReceipt(*receipt)
	}
	return gateway.Delivery{Room: room, Except: string(except), Msg: msg, Receipt: receipt}, nil
}

// field splits a uvarint-length-prefixed field off b.
func field(b []byte) (value, rest []byte, ok bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	end := k + int(n)
	return b[k:end], b[end:], true
}
