package wsconn

import "unicode/utf8"

// utf8Stream validates UTF-8 that arrives in pieces: a text message's
// fragments, and each fragment's TCP segments. It fails as soon as the bytes
// seen cannot start valid UTF-8 (RFC 6455 §8.1, "fail fast"), also when a
// character is split between pieces.
type utf8Stream struct {
	tail [utf8.UTFMax]byte // the start of a character split off the last piece
	n    int
}

// write validates p, the next piece, and reports false at the first byte
// that makes the text invalid.
func (v *utf8Stream) write(p []byte) bool {
	if v.n > 0 {
		need := seqLen(v.tail[0])
		for v.n < need && len(p) > 0 {
			v.tail[v.n] = p[0]
			v.n++
			p = p[1:]
		}
		if !validPrefix(v.tail[:v.n]) {
			return false
		}
		if v.n < need {
			return true
		}
		v.n = 0
	}
	// A character may be cut at the end: look back at most three bytes for
	// the start of one that is not complete.
	cut := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-(utf8.UTFMax-1); i-- {
		if p[i] < utf8.RuneSelf {
			break
		}
		if utf8.RuneStart(p[i]) {
			if len(p)-i < seqLen(p[i]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	if cut < len(p) {
		if !validPrefix(p[cut:]) {
			return false
		}
		v.n = copy(v.tail[:], p[cut:])
	}
	return true
}

// complete reports whether the text ended on a character boundary.
func (v *utf8Stream) complete() bool { return v.n == 0 }

func (v *utf8Stream) reset() { v.n = 0 }

// seqLen is the length of the UTF-8 sequence lead starts, or 0 if lead
// cannot start a multi-byte sequence.
func seqLen(lead byte) int {
	switch {
	case lead >= 0xC2 && lead <= 0xDF:
		return 2
	case lead >= 0xE0 && lead <= 0xEF:
		return 3
	case lead >= 0xF0 && lead <= 0xF4:
		return 4
	}
	return 0
}

// validPrefix reports whether b, at most as long as the sequence its first
// byte starts, is the start of a well-formed character (Unicode's table of
// well-formed byte sequences): it excludes overlong forms, surrogates and
// code points past U+10FFFF from their second byte on.
func validPrefix(b []byte) bool {
	n := seqLen(b[0])
	if n == 0 || len(b) > n {
		return false
	}
	if len(b) > 1 {
		lo, hi := byte(0x80), byte(0xBF)
		switch b[0] {
		case 0xE0:
			lo = 0xA0
		case 0xED:
			hi = 0x9F
		case 0xF0:
			lo = 0x90
		case 0xF4:
			hi = 0x8F
		}
		if b[1] < lo || b[1] > hi {
			return false
		}
	}
	for _, c := range b[min(len(b), 2):] {
		if c&0xC0 != 0x80 {
			return false
		}
	}
	return true
}
