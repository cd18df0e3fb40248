package walletproto

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// This file decodes and encodes the package's own message types without
// reflection: they cross the wallet link hundreds of thousands of times a
// second. The results are those of encoding/json, which FuzzJSON checks;
// other types go through encoding/json itself.

// maxDepth is encoding/json's nesting limit.
const maxDepth = 10000

// memberDecoder is implemented by pointers to the package's message types.
type memberDecoder interface {
	// decodeMember reads the value at s into the field key names, matched
	// as encoding/json matches: exactly, else case-insensitively. It
	// reports false, reading nothing, when key names no field.
	decodeMember(key []byte, s *scanner) (bool, error)
}

// scanner reads one JSON document. A syntax error wraps ErrMalformed and
// ends the reading; a value of the wrong type is skipped and its error kept
// for the end, once the whole document is known to be well formed, as
// encoding/json does.
type scanner struct {
	data    []byte
	pos     int
	depth   int
	typeErr error
}

// decodeObject decodes body, a JSON object, into d.
func decodeObject(body []byte, d memberDecoder) error {
	s := scanner{data: body}
	s.space()
	if s.peek() != '{' {
		return s.syntax("looking for beginning of object")
	}
	if err := s.object(d); err != nil {
		return err
	}
	s.space()
	if s.pos < len(s.data) {
		return s.syntax("after top-level value")
	}
	return s.typeErr
}

func (s *scanner) peek() byte {
	if s.pos < len(s.data) {
		return s.data[s.pos]
	}
	return 0
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *scanner) syntax(context string) error {
	if s.pos >= len(s.data) {
		return fmt.Errorf("%w: unexpected end of JSON input", ErrMalformed)
	}
	return fmt.Errorf("%w: invalid character %q %s at offset %d", ErrMalformed, s.data[s.pos], context, s.pos)
}

// mismatch records that field got a value of the wrong type, and skips it.
func (s *scanner) mismatch(field, want string) error {
	if s.typeErr == nil {
		s.typeErr = fmt.Errorf("walletproto: field %s: want %s at offset %d", field, want, s.pos)
	}
	return s.skip()
}

// object reads the object at s.pos, handing each member to d (nil: skip
// them all). A null value is skipped, leaving its field unchanged.
func (s *scanner) object(d memberDecoder) error {
	if s.depth++; s.depth > maxDepth {
		return s.syntax("exceeding max depth")
	}
	s.pos++ // '{'
	s.space()
	if s.peek() == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.space()
		if s.peek() != '"' {
			return s.syntax("looking for beginning of object key string")
		}
		key, err := s.key()
		if err != nil {
			return err
		}
		s.space()
		if s.peek() != ':' {
			return s.syntax("after object key")
		}
		s.pos++
		s.space()
		handled := false
		if d != nil && s.peek() != 'n' {
			if handled, err = d.decodeMember(key, s); err != nil {
				return err
			}
		}
		if !handled {
			if err := s.skip(); err != nil {
				return err
			}
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntax("after object key:value pair")
		}
	}
}

// key returns the object key at s.pos, unescaped.
func (s *scanner) key() ([]byte, error) {
	start := s.pos
	end, plain, err := s.stringEnd()
	if err != nil {
		return nil, err
	}
	s.pos = end
	if plain {
		return s.data[start+1 : end-1], nil
	}
	var k string
	if err := json.Unmarshal(s.data[start:end], &k); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return []byte(k), nil
}

// stringEnd finds the end of the string at s.pos, past its closing quote.
// plain reports that its bytes between the quotes are its value: no
// escapes and valid UTF-8.
func (s *scanner) stringEnd() (end int, plain bool, err error) {
	plain, high := true, false
	for i := s.pos + 1; i < len(s.data); i++ {
		switch c := s.data[i]; {
		case c == '"':
			if high && plain {
				plain = utf8.Valid(s.data[s.pos+1 : i])
			}
			return i + 1, plain, nil
		case c == '\\':
			plain = false
			if i+1 >= len(s.data) {
				break
			}
			i++
			switch s.data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for range 4 {
					if i++; i >= len(s.data) || !isHex(s.data[i]) {
						s.pos = min(i, len(s.data))
						return 0, false, s.syntax("in \\u hexadecimal character escape")
					}
				}
			default:
				s.pos = i
				return 0, false, s.syntax("in string escape code")
			}
		case c < 0x20:
			s.pos = i
			return 0, false, s.syntax("in string literal")
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	s.pos = len(s.data)
	return 0, false, s.syntax("")
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skip reads past the value at s.pos, checking its syntax.
func (s *scanner) skip() error {
	switch c := s.peek(); {
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array()
	case c == '"':
		end, _, err := s.stringEnd()
		s.pos = end
		return err
	case c == '-' || isDigit(c):
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.syntax("looking for beginning of value")
}

func (s *scanner) array() error {
	if s.depth++; s.depth > maxDepth {
		return s.syntax("exceeding max depth")
	}
	s.pos++ // '['
	s.space()
	if s.peek() == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		s.space()
		if err := s.skip(); err != nil {
			return err
		}
		s.space()
		switch s.peek() {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.syntax("after array element")
		}
	}
}

// number reads past the number at s.pos: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
	if s.peek() == '-' {
		s.pos++
	}
	switch c := s.peek(); {
	case c == '0':
		s.pos++
	case isDigit(c):
		s.digits()
	default:
		return s.syntax("in numeric literal")
	}
	if s.peek() == '.' {
		s.pos++
		if !isDigit(s.peek()) {
			return s.syntax("after decimal point in numeric literal")
		}
		s.digits()
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.pos++
		if c := s.peek(); c == '+' || c == '-' {
			s.pos++
		}
		if !isDigit(s.peek()) {
			return s.syntax("in exponent of numeric literal")
		}
		s.digits()
	}
	return nil
}

func (s *scanner) digits() {
	for isDigit(s.peek()) {
		s.pos++
	}
}

func (s *scanner) literal(lit string) error {
	for i := range len(lit) {
		if s.peek() != lit[i] {
			return s.syntax("in literal " + lit)
		}
		s.pos++
	}
	return nil
}

// The readers below store a value of the field's type, or record a
// mismatch; their error is a syntax error.

func (s *scanner) string(field string, dst *string) error {
	if s.peek() != '"' {
		return s.mismatch(field, "a string")
	}
	start := s.pos
	end, plain, err := s.stringEnd()
	if err != nil {
		return err
	}
	s.pos = end
	if plain {
		*dst = string(s.data[start+1 : end-1])
		return nil
	}
	if err := json.Unmarshal(s.data[start:end], dst); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

func (s *scanner) int64(field string, dst *int64) error {
	if c := s.peek(); c != '-' && !isDigit(c) {
		return s.mismatch(field, "an integer")
	}
	start := s.pos
	if err := s.number(); err != nil {
		return err
	}
	n, err := strconv.ParseInt(string(s.data[start:s.pos]), 10, 64)
	if err != nil {
		if s.typeErr == nil {
			s.typeErr = fmt.Errorf("walletproto: field %s: %s is not an int64", field, s.data[start:s.pos])
		}
		return nil
	}
	*dst = n
	return nil
}

func (s *scanner) bool(field string, dst *bool) error {
	switch s.peek() {
	case 't':
		*dst = true
		return s.literal("true")
	case 'f':
		*dst = false
		return s.literal("false")
	}
	return s.mismatch(field, "a boolean")
}

// is reports whether key names field, the way encoding/json matches names.
func is(key []byte, field string) bool {
	return string(key) == field || strings.EqualFold(string(key), field)
}

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it (HTML characters included).
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

func appendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }
