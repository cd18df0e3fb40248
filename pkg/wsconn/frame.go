package wsconn

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
)

// Opcode is a frame's opcode (RFC 6455 §5.2).
type Opcode byte

// The opcodes RFC 6455 defines; every other value is reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

func (op Opcode) control() bool { return op&0x8 != 0 }

func (op Opcode) reserved() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

// StatusCode is a close frame's status code (RFC 6455 §7.4).
type StatusCode uint16

// The status codes the gateway sends or names.
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	// StatusNoStatus stands for a close frame without a code; it never
	// appears on the wire.
	StatusNoStatus        StatusCode = 1005
	StatusInvalidPayload  StatusCode = 1007
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
)

// receivable reports whether a peer may put code in a close frame: the
// codes RFC 6455 and the IANA registry define for use on the wire
// (1000–1003, 1007–1014) and the ranges for libraries and applications
// (3000–4999). 1004–1006 and 1015 are reserved, the rest unassigned.
func (code StatusCode) receivable() bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// maxControlPayload is the longest payload of a control frame (§5.5).
const maxControlPayload = 125

// maxCloseReason is the longest close reason: a control frame's payload less
// the 2-byte code.
const maxCloseReason = maxControlPayload - 2

// header is a frame header as the peer sent it.
type header struct {
	fin    bool
	rsv    byte // the three reserved bits, in place
	op     Opcode
	masked bool
	length uint64
	key    [4]byte
}

// headerSize is the size of the header that starts with b0 b1: the 2 fixed
// bytes, the extended length and the masking key.
func headerSize(b0, b1 byte) int {
	n := 2
	switch b1 & 0x7F {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// parseHeader decodes a whole header, headerSize bytes of b.
func parseHeader(b []byte) header {
	h := header{
		fin:    b[0]&0x80 != 0,
		rsv:    b[0] & 0x70,
		op:     Opcode(b[0] & 0x0F),
		masked: b[1]&0x80 != 0,
		length: uint64(b[1] & 0x7F),
	}
	rest := b[2:]
	switch h.length {
	case 126:
		h.length, rest = uint64(binary.BigEndian.Uint16(rest)), rest[2:]
	case 127:
		h.length, rest = binary.BigEndian.Uint64(rest), rest[8:]
	}
	if h.masked {
		copy(h.key[:], rest)
	}
	return h
}

// check applies RFC 6455's rules for a frame from a client; inMessage says
// whether a fragmented message is open. No extension is negotiated, so no
// reserved bit may be set.
func (h header) check(inMessage bool) error {
	switch {
	case h.rsv != 0:
		return protocolError("reserved bits set")
	case h.op.reserved():
		return protocolError("reserved opcode")
	case !h.masked:
		return protocolError("client frame not masked")
	case h.length>>63 != 0:
		return protocolError("frame length out of range")
	case h.op.control() && !h.fin:
		return protocolError("fragmented control frame")
	case h.op.control() && h.length > maxControlPayload:
		return protocolError("control frame too long")
	case h.op == OpContinuation && !inMessage:
		return protocolError("continuation frame without a message")
	case !h.op.control() && h.op != OpContinuation && inMessage:
		return protocolError("new message before the last one ended")
	}
	return nil
}

// headerRoom is the space NewFrame leaves for the longest server header: an
// unmasked frame with a 64-bit length.
const headerRoom = 10

// NewFrame returns a buffer to append a text message of about size bytes to,
// for FinishText. Building the payload behind reserved room spares a copy.
func NewFrame(size int) []byte { return make([]byte, headerRoom, headerRoom+size) }

// FinishText turns a NewFrame buffer holding a payload into a complete
// unmasked text frame, writing the header into the room left for it. The
// payload must be valid UTF-8.
func FinishText(b []byte) []byte {
	n := len(b) - headerRoom
	switch {
	case n <= maxControlPayload:
		b[8], b[9] = 0x80|byte(OpText), byte(n)
		return b[8:]
	case n <= 0xFFFF:
		b[6], b[7] = 0x80|byte(OpText), 126
		binary.BigEndian.PutUint16(b[8:], uint16(n))
		return b[6:]
	default:
		b[0], b[1] = 0x80|byte(OpText), 127
		binary.BigEndian.PutUint64(b[2:], uint64(n))
		return b
	}
}

// TextFrame is payload, valid UTF-8, as a complete text frame.
func TextFrame(payload []byte) []byte {
	return FinishText(append(NewFrame(len(payload)), payload...))
}

// Payload is the payload of a frame built by TextFrame or FinishText: what
// a transport without WebSocket framing (an HTTP long-poll) carries.
func Payload(frame []byte) []byte { return frame[headerSize(frame[0], frame[1]):] }

// controlFrame is an unmasked control frame; payload is at most 125 bytes.
func controlFrame(op Opcode, payload []byte) []byte {
	return append([]byte{0x80 | byte(op), byte(len(payload))}, payload...)
}

// pingFrame is the server's ping. Frames are never changed once built, so
// every connection shares it.
var pingFrame = controlFrame(OpPing, nil)

// closeFrame is the close frame for code and reason: empty for
// StatusNoStatus, else the code and the reason, made valid UTF-8 and cut on
// a character boundary to fit.
func closeFrame(code StatusCode, reason string) []byte {
	if code == StatusNoStatus {
		return controlFrame(OpClose, nil)
	}
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), uint16(code))
	return controlFrame(OpClose, append(p, truncateUTF8(reason, maxCloseReason)...))
}

// truncateUTF8 is s as valid UTF-8 of at most n bytes, cut between
// characters.
func truncateUTF8(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseClose reads a close frame's payload: empty, or a 2-byte code that a
// peer may send and a UTF-8 reason.
func parseClose(p []byte) (StatusCode, string, error) {
	switch {
	case len(p) == 0:
		return StatusNoStatus, "", nil
	case len(p) == 1:
		return 0, "", protocolError("close frame with a 1-byte payload")
	}
	code := StatusCode(binary.BigEndian.Uint16(p))
	if !code.receivable() {
		return 0, "", protocolError("invalid close code")
	}
	if !utf8.Valid(p[2:]) {
		return 0, "", &CloseError{Code: StatusInvalidPayload, Reason: "close reason is not valid UTF-8"}
	}
	return code, string(p[2:]), nil
}
