// Package envelope reads and writes the gateway's WebSocket frames, the
// NestJS platform-ws shape {"event": string, "data": any, "id"?: string|number}.
package envelope

import (
	"bytes"
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

type wire struct {
	Event json.RawMessage `json:"event"`
	Data  json.RawMessage `json:"data"`
	ID    json.RawMessage `json:"id"`
}

// Decode parses one frame. On ErrMissingEvent the returned Envelope still
// carries the ID, so the exception can echo it.
func Decode(msg []byte) (Envelope, error) {
	trimmed := bytes.TrimLeft(msg, " \t\r\n")
	if len(trimmed) == 0 {
		return Envelope{}, ErrMalformed
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return Envelope{}, ErrMalformed
		}
		return Envelope{}, ErrNotObject
	}
	var w wire
	if err := json.Unmarshal(msg, &w); err != nil {
		return Envelope{}, ErrMalformed
	}
	env := Envelope{Data: w.Data}
	if isStringOrNumber(w.ID) {
		env.ID = w.ID
	}
	if len(w.Event) == 0 || w.Event[0] != '"' {
		return env, ErrMissingEvent
	}
	if err := json.Unmarshal(w.Event, &env.Event); err != nil || env.Event == "" {
		return env, ErrMissingEvent
	}
	return env, nil
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
	dst = append(dst, `{"event":`...)
	dst = appendString(dst, event)
	dst = append(dst, `,"data":`...)
	if len(data) == 0 {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, data...)
	}
	if len(id) > 0 {
		dst = append(dst, `,"id":`...)
		dst = append(dst, id...)
	}
	return append(dst, '}')
}

// Encode marshals data and returns the whole frame.
func Encode(event string, data any, id json.RawMessage) ([]byte, error) {
	raw, err := marshal(data)
	if err != nil {
		return nil, err
	}
	return Append(make([]byte, 0, len(raw)+len(event)+32), event, raw, id), nil
}

func marshal(data any) (json.RawMessage, error) {
	switch d := data.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return d, nil
	default:
		return json.Marshal(d)
	}
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
