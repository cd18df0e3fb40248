package walletproto

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by Codec.Decode when a body is not an encoded
// object at all: on the wallet link that is a corrupt stream.
var ErrMalformed = errors.New("walletproto: body is not a JSON object")

// Codec turns messages into frame bodies and back. JSON is the wallet link's;
// a wallet that speaks another encoding gets its own Codec.
type Codec interface {
	// Append appends to dst one message holding the fields of every part,
	// in order, e.g. a Header, a Status and a Balance. Each part is a
	// struct or map that encodes as an object.
	Append(dst []byte, parts ...any) ([]byte, error)
	// Decode stores in v the fields of body that v has, ignoring the
	// others. It returns an error wrapping ErrMalformed when body is not an
	// object, and another error when a field does not fit v.
	Decode(body []byte, v any) error
}

// JSON is the wallet link's Codec: each message is one UTF-8 JSON object.
type JSON struct{}

func (JSON) Append(dst []byte, parts ...any) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '{')
	for _, p := range parts {
		mark := len(dst)
		if mark > start+1 {
			dst = append(dst, ',')
		}
		members := len(dst)
		var err error
		if dst, err = appendPart(dst, p); err != nil {
			return dst[:start], err
		}
		if len(dst) == members { // a part without fields: no comma
			dst = dst[:mark]
		}
	}
	return append(dst, '}'), nil
}

// appendPart appends the members of p without braces.
func appendPart(dst []byte, p any) ([]byte, error) {
	if dst, ok := appendMembers(dst, p); ok {
		return dst, nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return dst, err
	}
	if len(b) < 2 || b[0] != '{' {
		return dst, fmt.Errorf("walletproto: %T does not encode as an object", p)
	}
	return append(dst, b[1:len(b)-1]...), nil
}

func (JSON) Decode(body []byte, v any) error {
	if kind := jsonKind(body); kind != "object" {
		return fmt.Errorf("%w: it is %s", ErrMalformed, kind)
	}
	if d := memberDecoderOf(v); d != nil {
		return decodeObject(body, d)
	}
	err := json.Unmarshal(body, v)
	if syntax := (*json.SyntaxError)(nil); errors.As(err, &syntax) {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return err
}

// jsonKind names the kind of JSON value body starts with, for error messages.
func jsonKind(body []byte) string {
	for _, c := range body {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '{':
			return "object"
		case '[':
			return "an array"
		case '"':
			return "a string"
		case 't', 'f':
			return "a boolean"
		case 'n':
			return "null"
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			return "a number"
		}
		return "not JSON"
	}
	return "empty"
}
