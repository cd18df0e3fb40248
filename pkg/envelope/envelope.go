// Package envelope reads and writes the gateway's WebSocket frames, the
// NestJS platform-ws shape {"event": string, "data": any, "id"?: string|number}.
package envelope

import (
	"encoding/json"
	"errors"
	"strconv"
)

// Sentinel errors for frames a client got wrong. Their text is what the
// client sees in the exception reply.
var (
	ErrMalformed    = errors.New("malformed JSON")
	ErrNotObject    = errors.New("frame must be a JSON object")
	ErrMissingEvent = errors.New("missing event")
)

// Envelope is one decoded frame. Data and ID alias the decoded message.
type Envelope struct {
	Event string
	// Data is the raw JSON of "data"; nil when absent.
	Data json.RawMessage
	// ID is the raw JSON of "id" when it is a string or a number; any other
	// "id" is ignored, as NestJS does.
	ID json.RawMessage
}

// Decode parses one frame. On ErrMissingEvent the returned Envelope still
// carries the ID, so the exception can echo it. Keys match exactly, as in
// JavaScript, and a repeated key's last value wins, as with JSON.parse.
func Decode(msg []byte) (Envelope, error) {
	if !json.Valid(msg) {
		return Envelope{}, ErrMalformed
	}
	i := skipSpace(msg, 0)
	if msg[i] != '{' {
		return Envelope{}, ErrNotObject
	}
	var env Envelope
	var event []byte
	// msg is valid JSON, so the scan below needs no error handling.
	for i = skipSpace(msg, i+1); msg[i] != '}'; {
		keyEnd := skipString(msg, i)
		key := msg[i+1 : keyEnd-1]
		i = skipSpace(msg, skipSpace(msg, keyEnd)+1) // past the colon
		valEnd := skipValue(msg, i)
		switch string(key) { // compared in place, without allocating
		case "event":
			event = msg[i:valEnd]
		case "data":
			env.Data = msg[i:valEnd]
		case "id":
			env.ID = msg[i:valEnd]
		}
		if i = skipSpace(msg, valEnd); msg[i] == ',' {
			i = skipSpace(msg, i+1)
		}
	}
	if !isStringOrNumber(env.ID) {
		env.ID = nil
	}
	if len(event) < 3 || event[0] != '"' { // "" is missing too
		return env, ErrMissingEvent
	}
	if plainASCII(event) {
		env.Event = string(event[1 : len(event)-1])
	} else if err := json.Unmarshal(event, &env.Event); err != nil || env.Event == "" {
		return env, ErrMissingEvent
	}
	return env, nil
}

// plainASCII reports whether a JSON string needs no decoding: no escapes,
// and no bytes that might be invalid UTF-8 (encoding/json would replace those).
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; b[i] != '"'; i++ {
		if b[i] == '\\' {
			i++
		}
	}
	return i + 1
}

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		for depth := 0; ; i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
	default: // a number or a literal
		for i < len(b) && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' && b[i] != '\n' && b[i] != '\r' {
			i++
		}
		return i
	}
}

func isStringOrNumber(raw json.RawMessage) bool {
	if len(raw) == 0 {
		return false
	}
	c := raw[0]
	return c == '"' || c == '-' || (c >= '0' && c <= '9')
}

// Append appends the frame {"event":event,"data":data[,"id":id]} to dst.
// data must be valid JSON (nil is written as null); id is omitted when nil.
func Append(dst []byte, event string, data, id json.RawMessage) []byte {
	return appendFrame(dst, event, data, "id", id)
}

// AppendDelivered encodes a message delivered through a room: {"event",
// "data", "offset", "ackId"}, the offset naming the message for a later
// recovery, the ackId (when not empty) asking the client to acknowledge it.
func AppendDelivered(dst []byte, event string, data json.RawMessage, offset, ackID string) []byte {
	if offset == "" && ackID == "" {
		return Append(dst, event, data, nil)
	}
	dst = appendFrame(dst, event, data, "", nil)
	dst = dst[:len(dst)-1] // reopen the object
	if offset != "" {
		dst = append(dst, `,"offset":`...)
		dst = appendString(dst, offset)
	}
	if ackID != "" {
		dst = append(dst, `,"ackId":`...)
		dst = appendString(dst, ackID)
	}
	return append(dst, '}')
}

// appendFrame encodes {"event","data"} and, when value is not empty, key
// with value as it is.
func appendFrame(dst []byte, event string, data json.RawMessage, key string, value json.RawMessage) []byte {
	dst = append(dst, `{"event":`...)
	dst = appendString(dst, event)
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	if len(value) > 0 {
		dst = append(dst, `,"`...)
		dst = append(dst, key...)
		dst = append(dst, `":`...)
		dst = append(dst, value...)
	}
	return append(dst, '}')
}

// appendString appends s as a JSON string. Event names are short ASCII in
// practice, so the common case avoids encoding/json.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s)
			return append(dst, b...)
		}
	}
	return strconv.AppendQuote(dst, s)
}
