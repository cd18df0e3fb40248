package wsconn

import (
	"testing"
	"unicode/utf8"
)

// utf8Corpus holds the valid and invalid texts of the Autobahn suite's
// section 6 and of Markus Kuhn's UTF-8 decoder test: boundary code points,
// overlong forms, surrogates, code points past U+10FFFF, lone and missing
// continuation bytes.
var utf8Corpus = []string{
	"", "Hello-µ@ßöäüàá-UTF-8!!", "κόσμε", "\x7f", "\u0080", "\u07ff", "\u0800", "\uffff",
	"\U00010000", "\U0010ffff", "\xed\x9f\xbf", "\xee\x80\x80", "\xef\xbf\xbd",
	"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", // a surrogate inside
	"\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf7\xbf\xbf\xbf", "\xf8\x88\x80\x80\x80",
	"\xc0\xaf", "\xe0\x80\xaf", "\xf0\x80\x80\xaf", "\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf",
	"\x80", "\xbf", "\x80\xbf\x80", "\xc0", "\xdf", "\xe0\x80", "\xef\xbf", "\xf0\x80\x80", "\xf4\x8f\xbf",
	"\xfe", "\xff", "\xfe\xfe\xff\xff", "a\xc3", "a\xe2\x82", "a\xf0\x9f\x98", "a\xf0\x9f\x98\x80b",
}

// completable reports whether p starts some valid UTF-8 text: what a
// fail-fast validator must accept so far.
func completable(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	conts := []byte{0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF}
	var try func(q []byte, left int) bool
	try = func(q []byte, left int) bool {
		if utf8.Valid(q) {
			return true
		}
		if left == 0 {
			return false
		}
		for _, b := range conts {
			if try(append(q[:len(q):len(q)], b), left-1) {
				return true
			}
		}
		return false
	}
	return try(p, 3)
}

// Whatever the pieces, the stream says what utf8.Valid says of the whole,
// and refuses exactly at the first piece after which the text cannot become
// valid.
func TestUTF8StreamAllSplits(t *testing.T) {
	for _, s := range utf8Corpus {
		b := []byte(s)
		for i := 0; i <= len(b); i++ {
			for j := i; j <= len(b); j++ {
				checkPieces(t, b, [][]byte{b[:i], b[i:j], b[j:]})
			}
		}
		one := make([][]byte, len(b))
		for i := range b {
			one[i] = b[i : i+1]
		}
		checkPieces(t, b, one)
	}
}

func checkPieces(t *testing.T, whole []byte, pieces [][]byte) {
	t.Helper()
	var v utf8Stream
	seen := 0
	for _, p := range pieces {
		seen += len(p)
		ok := v.write(p)
		if want := completable(whole[:seen]); ok != want {
			t.Fatalf("%q split %q: piece %q accepted %v, want %v", whole, pieces, p, ok, want)
		}
		if !ok {
			return
		}
	}
	if v.complete() != utf8.Valid(whole) {
		t.Fatalf("%q split %q: complete %v", whole, pieces, v.complete())
	}
}

func FuzzUTF8Stream(f *testing.F) {
	for _, s := range utf8Corpus {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, cut uint8) {
		size := int(cut)%7 + 1
		var pieces [][]byte
		for at := 0; at < len(b); at += size {
			pieces = append(pieces, b[at:min(at+size, len(b))])
		}
		checkPieces(t, b, pieces)
	})
}
