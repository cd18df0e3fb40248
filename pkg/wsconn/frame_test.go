package wsconn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// The header cases of RFC 6455 §5.2 and §5.5, as a client could send them.
func TestHeaderCheck(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b         []byte
		inMessage bool
		want      string // the 1002 reason; "" when the frame is fine
	}{
		{"masked text", []byte{0x81, 0x85, 1, 2, 3, 4}, false, ""},
		{"16-bit length", []byte{0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4}, false, ""},
		{"64-bit length", []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, false, ""},
		{"64-bit length with its top bit set", []byte{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4}, false, "frame length out of range"},
		{"RSV1", []byte{0xC1, 0x80, 1, 2, 3, 4}, false, "reserved bits set"},
		{"RSV2", []byte{0xA1, 0x80, 1, 2, 3, 4}, false, "reserved bits set"},
		{"RSV3 on a ping", []byte{0x99, 0x80, 1, 2, 3, 4}, false, "reserved bits set"},
		{"opcode 3", []byte{0x83, 0x80, 1, 2, 3, 4}, false, "reserved opcode"},
		{"opcode 0xB", []byte{0x8B, 0x80, 1, 2, 3, 4}, false, "reserved opcode"},
		{"unmasked", []byte{0x81, 0x05}, false, "client frame not masked"},
		{"fragmented ping", []byte{0x09, 0x80, 1, 2, 3, 4}, false, "fragmented control frame"},
		{"ping of 126 bytes", []byte{0x89, 0xFE, 0, 126, 1, 2, 3, 4}, false, "control frame too long"},
		{"continuation without a message", []byte{0x80, 0x80, 1, 2, 3, 4}, false, "continuation frame without a message"},
		{"continuation inside a message", []byte{0x80, 0x80, 1, 2, 3, 4}, true, ""},
		{"text inside a message", []byte{0x81, 0x80, 1, 2, 3, 4}, true, "new message before the last one ended"},
		{"ping inside a message", []byte{0x89, 0x80, 1, 2, 3, 4}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if n := headerSize(tc.b[0], tc.b[1]); n != len(tc.b) {
				t.Fatalf("headerSize %d, want %d", n, len(tc.b))
			}
			err := parseHeader(tc.b).check(tc.inMessage)
			var ce *CloseError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &ce) || ce.Code != StatusProtocolError || ce.Reason != tc.want):
				t.Fatalf("got %v, want 1002 %q", err, tc.want)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	h := parseHeader([]byte{0x02, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 9, 8, 7, 6})
	if h.fin || h.op != OpBinary || !h.masked || h.length != 1<<32 || h.key != [4]byte{9, 8, 7, 6} {
		t.Fatalf("%+v", h)
	}
}

func TestFinishTextLengths(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536} {
		f := TextFrame(bytes.Repeat([]byte("a"), n))
		h := parseHeader(f)
		if !h.fin || h.op != OpText || h.masked || h.length != uint64(n) || len(f) != headerSize(f[0], f[1])+n {
			t.Fatalf("%d bytes: header %+v, frame of %d bytes", n, h, len(f))
		}
		if p := Payload(f); !bytes.Equal(p, bytes.Repeat([]byte("a"), n)) {
			t.Fatalf("%d bytes: payload of %d bytes", n, len(p))
		}
	}
}

func TestCloseFrame(t *testing.T) {
	if f := closeFrame(StatusNoStatus, "ignored"); !bytes.Equal(f, []byte{0x88, 0}) {
		t.Fatalf("empty close: % x", f)
	}
	f := closeFrame(StatusGoingAway, "server stopping")
	if f[0] != 0x88 || int(f[1]) != len(f)-2 || binary.BigEndian.Uint16(f[2:]) != 1001 || string(f[4:]) != "server stopping" {
		t.Fatalf("% x", f)
	}
	// A long reason of 2-byte characters is cut between characters, and
	// invalid UTF-8 is never sent.
	for _, reason := range []string{strings.Repeat("é", 100), "a" + strings.Repeat("€", 60), "bad \xff byte"} {
		f := closeFrame(StatusPolicyViolation, reason)
		if len(f)-2 > maxControlPayload || !utf8.Valid(f[4:]) {
			t.Fatalf("reason %q: %d-byte payload % x", reason, len(f)-2, f[4:])
		}
	}
}

func TestParseClose(t *testing.T) {
	code := func(c uint16, reason string) []byte { return append(binary.BigEndian.AppendUint16(nil, c), reason...) }
	for _, tc := range []struct {
		name     string
		p        []byte
		wantCode StatusCode // of the answer: the echo, or the server's own on failure
		remote   bool
	}{
		{"empty", nil, StatusNoStatus, true},
		{"1000", code(1000, "bye"), 1000, true},
		{"1011", code(1011, ""), 1011, true},
		{"1014", code(1014, ""), 1014, true},
		{"3000", code(3000, ""), 3000, true},
		{"4999", code(4999, ""), 4999, true},
		{"one byte", []byte{3}, StatusProtocolError, false},
		{"0", code(0, ""), StatusProtocolError, false},
		{"999", code(999, ""), StatusProtocolError, false},
		{"1004", code(1004, ""), StatusProtocolError, false},
		{"1005", code(1005, ""), StatusProtocolError, false},
		{"1006", code(1006, ""), StatusProtocolError, false},
		{"1015", code(1015, ""), StatusProtocolError, false},
		{"1016", code(1016, ""), StatusProtocolError, false},
		{"2999", code(2999, ""), StatusProtocolError, false},
		{"5000", code(5000, ""), StatusProtocolError, false},
		{"invalid UTF-8 reason", code(1000, "\xce\xba\xe1\xbd"), StatusInvalidPayload, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, reason, err := parseClose(tc.p)
			var ce *CloseError
			if err != nil {
				if !errors.As(err, &ce) || ce.Code != tc.wantCode || tc.remote {
					t.Fatalf("got %v, want %d", err, tc.wantCode)
				}
				return
			}
			if !tc.remote || c != tc.wantCode || (len(tc.p) > 2 && reason != string(tc.p[2:])) {
				t.Fatalf("got %d %q, want %d", c, reason, tc.wantCode)
			}
		})
	}
}

func TestMaskMatchesTheRFC(t *testing.T) {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	// §5.7: a masked "Hello".
	masked := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}
	if mask(masked, key, 0); string(masked) != "Hello" {
		t.Fatalf("%q", masked)
	}
	// In pieces of every size, from every offset: the same as byte by byte.
	payload := make([]byte, 100)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	want := bytes.Clone(payload)
	for i := range want {
		want[i] ^= key[i%4]
	}
	for size := 1; size <= 20; size++ {
		got := bytes.Clone(payload)
		pos := 0
		for at := 0; at < len(got); at += size {
			pos = mask(got[at:min(at+size, len(got))], key, pos)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("pieces of %d: % x", size, got)
		}
	}
}
