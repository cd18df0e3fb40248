package gateway_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// The cases of TestRFC6455, numbered after the Autobahn testsuite's
// sections. The gateway's rules they hold it to:
//   - a text message up to gateway.maxMessageBytes, in one frame or many,
//     however the bytes arrive, is answered once, intact; beyond the limit
//     (one frame, or the fragments together) the connection closes 1009;
//   - a binary message is refused by policy, 1003 "binary frames are not
//     supported": the gateway speaks JSON text only;
//   - a ping is answered by a pong with the same payload, at once, even
//     between the fragments of a message (but, like any answer, after what
//     was queued before it); a pong nobody asked for is ignored;
//   - whatever breaks the framing closes 1002: an RSV bit (no extension is
//     ever agreed), a reserved opcode, an unmasked client frame (RFC 6455
//     lets a server close without a close frame there; the gateway always
//     says why), a control frame over 125 bytes or fragmented, a
//     continuation with nothing to continue, a new message inside a
//     fragmented one, a 64-bit length with its top bit set, an invalid
//     close code or a 1-byte close payload;
//   - text that is not UTF-8 closes 1007 as soon as the bytes received
//     cannot begin valid UTF-8, not only once the message is complete; so
//     does a close reason that is not UTF-8;
//   - a client's close is answered by a close with its code, after the
//     frames already queued; what follows the client's close is ignored;
//   - every close the server starts follows the frames queued before it,
//     whole; its reason is UTF-8 and fits a control frame; nothing follows
//     the close frame but the end of TCP.

// rfcCases lists every case.
func rfcCases() []rfcCase {
	return slices.Concat(framingCases(), pingCases(), reservedBitCases(), opcodeCases(),
		fragmentationCases(), utf8Cases(), closeCases(), limitCases())
}

// numbered returns a function that numbers the cases of an Autobahn
// section: "1.1.1", "1.1.2"…
func numbered(section string) func() string {
	n := 0
	return func() string {
		n++
		return fmt.Sprintf("%s.%d", section, n)
	}
}

// writeMode is one way of writing a case's frames.
type writeMode struct {
	name string
	send func(s *rfcSession, frames ...[]byte)
}

var (
	writeWhole     = writeMode{"in one write", (*rfcSession).send}
	writeFramewise = writeMode{"frame by frame", (*rfcSession).sendFramewise}
	writeChopped   = writeMode{"chopped", (*rfcSession).sendChopped}
)

// framingCases: messages of every length encoding (Autobahn 1.1, 1.2),
// then frames whose size, masking or length field break the rules.
func framingCases() []rfcCase {
	num := numbered("1.1")
	cs := []rfcCase{{num() + " empty text message", func(s *rfcSession) {
		s.send(wsText(nil))
		s.expectEmptyAnswer()
	}}}
	splits := []struct {
		name string
		size int
	}{{"in one frame", 0}, {"in 64-byte fragments", 64}, {"in 1-byte fragments", 1}}
	// Each side of the 7-bit and 16-bit length encodings, and the limit.
	for _, size := range []int{125, 126, 127, 128, 65535, rfcMaxMessage} {
		for _, split := range splits {
			for _, w := range []writeMode{writeWhole, writeChopped} {
				cs = append(cs, rfcCase{fmt.Sprintf("%s text message of %d bytes %s, %s", num(), size, split.name, w.name), func(s *rfcSession) {
					e := s.echoSized(size)
					frames := [][]byte{wsText(e.msg)}
					if split.size > 0 {
						frames = wsFragments(wsOpText, e.msg, split.size)
					}
					w.send(s, frames...)
					s.expectEcho(e)
				}})
			}
		}
	}

	num = numbered("1.2")
	refused := func(s *rfcSession) {
		s.t.Helper()
		if reason := s.expectFail(1003); reason != "binary frames are not supported" {
			s.t.Fatalf("close 1003 with reason %q, want \"binary frames are not supported\"", reason)
		}
	}
	for _, b := range []struct {
		name   string
		frames [][]byte
	}{
		{"empty binary message", [][]byte{wsBinary(nil)}},
		{"binary message of 125 bytes", [][]byte{wsBinary(bytes.Repeat([]byte{0xfe}, 125))}},
		{"binary message of 65536 bytes", [][]byte{wsBinary(make([]byte, 65536))}},
		{"binary message in 64-byte fragments", wsFragments(wsOpBinary, make([]byte, 1000), 64)},
	} {
		cs = append(cs, rfcCase{num() + " " + b.name + " closes 1003", func(s *rfcSession) {
			s.send(b.frames...)
			refused(s)
		}})
	}
	cs = append(cs, rfcCase{num() + " echo request, binary message and ping: the echo, then 1003", func(s *rfcSession) {
		e := s.echo("before binary")
		s.send(wsText(e.msg), wsBinary([]byte{1, 2, 3}), wsPing([]byte("after")))
		s.expectEcho(e)
		refused(s)
	}})

	num = numbered("1.3")
	for _, over := range []struct {
		name  string
		split func(msg []byte) [][]byte
	}{
		{"in one frame", func(msg []byte) [][]byte { return [][]byte{wsText(msg)} }},
		{"in 64-byte fragments", func(msg []byte) [][]byte { return wsFragments(wsOpText, msg, 64) }},
		{"in 2 fragments each under the limit", func(msg []byte) [][]byte { return wsSplit(wsOpText, msg, len(msg)/2) }},
	} {
		cs = append(cs, rfcCase{fmt.Sprintf("%s text message of %d bytes, 1 over the limit, %s closes 1009", num(), rfcMaxMessage+1, over.name), func(s *rfcSession) {
			e := s.echo("before")
			big := s.echoSized(rfcMaxMessage + 1)
			s.send(append([][]byte{wsText(e.msg)}, over.split(big.msg)...)...)
			s.expectEcho(e)
			s.expectFail(1009)
		}})
	}

	// A client must mask every frame (RFC 6455, 5.1).
	num = numbered("1.4")
	for _, m := range []struct {
		name  string
		frame func(s *rfcSession) [][]byte
	}{
		{"unmasked text frame", func(s *rfcSession) [][]byte { return [][]byte{wsUnmasked(wsFin|wsOpText, s.echo("unmasked").msg)} }},
		{"unmasked ping", func(*rfcSession) [][]byte { return [][]byte{wsUnmasked(wsFin|wsOpPing, []byte("unmasked"))} }},
		{"unmasked close", func(*rfcSession) [][]byte { return [][]byte{wsUnmasked(wsFin|wsOpClose, closePayload(1000, ""))} }},
		{"unmasked continuation of a text", func(s *rfcSession) [][]byte {
			msg := s.echo("half masked").msg
			return [][]byte{wsFrame(wsOpText, msg[:5]), wsUnmasked(wsFin|wsOpCont, msg[5:])}
		}},
	} {
		cs = append(cs, rfcCase{num() + " echo request, " + m.name + " and ping: the echo, then 1002", func(s *rfcSession) {
			e := s.echo("before")
			s.send(slices.Concat([][]byte{wsText(e.msg)}, m.frame(s), [][]byte{wsPing([]byte("after"))})...)
			s.expectEcho(e)
			s.expectFail(1002)
		}})
	}

	// The most significant bit of a 64-bit length must be 0 (RFC 6455,
	// 5.2).
	cs = append(cs, rfcCase{"1.5.1 64-bit length with its top bit set closes 1002", func(s *rfcSession) {
		e := s.echo("before")
		f := wsText([]byte("hello"))
		bad := append([]byte{wsFin | wsOpText, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 5}, f[2:]...)
		s.send(wsText(e.msg), bad)
		s.expectEcho(e)
		s.expectFail(1002)
	}})
	return cs
}

// pingCases: Autobahn 2, pings and pongs (RFC 6455, 5.5.2, 5.5.3).
func pingCases() []rfcCase {
	bin := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(255 - i)
		}
		return b
	}
	pong := func(payload []byte) func(*rfcSession) {
		return func(s *rfcSession) {
			s.send(wsPing(payload))
			s.expectPong(payload)
		}
	}
	tenPings := func(send func(*rfcSession, ...[]byte)) func(*rfcSession) {
		return func(s *rfcSession) {
			var pings [][]byte
			for i := range 10 {
				pings = append(pings, wsPing(fmt.Appendf(nil, "ping %d", i)))
			}
			send(s, pings...)
			for i := range 10 {
				s.expectPong(fmt.Appendf(nil, "ping %d", i))
			}
		}
	}
	return []rfcCase{
		{"2.1 ping with no payload", pong(nil)},
		{"2.2 ping with a text payload", pong([]byte("Hello, world!"))},
		{"2.3 ping with a binary payload", pong(bin(8))},
		{"2.4 ping with a 125-byte binary payload", pong(bin(125))},
		{"2.5 ping with a 126-byte payload closes 1002", func(s *rfcSession) {
			s.send(wsPing(bin(126)))
			s.expectFail(1002)
		}},
		{"2.6 ping with a 125-byte payload written byte by byte", func(s *rfcSession) {
			s.sendBytewise(wsPing(bin(125)))
			s.expectPong(bin(125))
		}},
		// An unsolicited pong is ignored (5.5.3): finish checks that the
		// echo is the next thing to arrive.
		{"2.7 unsolicited pong with no payload is ignored", func(s *rfcSession) { s.send(wsPong(nil)) }},
		{"2.8 unsolicited pong with a payload is ignored", func(s *rfcSession) { s.send(wsPong([]byte("unsolicited"))) }},
		{"2.9 unsolicited pong, then a ping: one pong", func(s *rfcSession) {
			s.send(wsPong([]byte("unsolicited")), wsPing([]byte("solicited")))
			s.expectPong([]byte("solicited"))
		}},
		{"2.10 10 pings in one write", tenPings((*rfcSession).send)},
		{"2.11 10 pings written byte by byte", tenPings((*rfcSession).sendBytewise)},
		{"2.12 ping without FIN closes 1002", func(s *rfcSession) {
			s.send(wsFrame(wsOpPing, []byte("unfinished")))
			s.expectFail(1002)
		}},
		{"2.13 ping between two echo requests: answers in order", func(s *rfcSession) {
			e1, e2 := s.echo("first"), s.echo("second")
			s.send(wsText(e1.msg), wsPing([]byte("between")), wsText(e2.msg))
			s.expectEcho(e1)
			s.expectPong([]byte("between"))
			s.expectEcho(e2)
		}},
	}
}

// reservedBitCases: Autobahn 3, RSV bits, which mean nothing without an
// extension and none is ever agreed (RFC 6455, 5.2).
func reservedBitCases() []rfcCase {
	num := numbered("3")
	cs := []rfcCase{{num() + " text with RSV1 closes 1002", func(s *rfcSession) {
		s.send(wsFrame(wsFin|wsRSV1|wsOpText, s.echo("rsv1").msg))
		s.expectFail(1002)
	}}}
	// The valid message before the bad frame is answered first; the ping
	// after it never is.
	for _, w := range []writeMode{writeWhole, writeFramewise, writeChopped} {
		cs = append(cs, rfcCase{num() + " echo request, text with RSV2 and ping " + w.name + ": the echo, then 1002", func(s *rfcSession) {
			e := s.echo("before")
			w.send(s, wsText(e.msg), wsFrame(wsFin|wsRSV2|wsOpText, s.echo("rsv2").msg), wsPing([]byte("after")))
			s.expectEcho(e)
			s.expectFail(1002)
		}})
	}
	for _, c := range []struct {
		name  string
		frame func(s *rfcSession) [][]byte
	}{
		{"binary with RSV1 and RSV3", func(*rfcSession) [][]byte { return [][]byte{wsFrame(wsFin|wsRSV1|wsRSV3|wsOpBinary, []byte{1, 2})} }},
		{"ping with RSV2 and RSV3", func(*rfcSession) [][]byte { return [][]byte{wsFrame(wsFin|wsRSV2|wsRSV3|wsOpPing, []byte("rsv"))} }},
		{"close with RSV1, RSV2 and RSV3", func(*rfcSession) [][]byte {
			return [][]byte{wsFrame(wsFin|wsRSV1|wsRSV2|wsRSV3|wsOpClose, closePayload(1000, ""))}
		}},
		{"pong with RSV1", func(*rfcSession) [][]byte { return [][]byte{wsFrame(wsFin|wsRSV1|wsOpPong, nil)} }},
		{"continuation with RSV3", func(s *rfcSession) [][]byte {
			f := wsSplit(wsOpText, s.echo("rsv3 on the continuation").msg, 5)
			f[1][0] |= wsRSV3
			return f
		}},
	} {
		cs = append(cs, rfcCase{num() + " echo request, " + c.name + ": the echo, then 1002", func(s *rfcSession) {
			e := s.echo("before")
			s.send(append([][]byte{wsText(e.msg)}, c.frame(s)...)...)
			s.expectEcho(e)
			s.expectFail(1002)
		}})
	}
	return cs
}

// opcodeCases: Autobahn 4, reserved opcodes: data 0x3–0x7, control
// 0xB–0xF (RFC 6455, 5.2).
func opcodeCases() []rfcCase {
	var cs []rfcCase
	for _, r := range []struct {
		section, kind string
		ops           []byte
	}{{"4.1", "data", []byte{0x3, 0x4, 0x5, 0x6, 0x7}}, {"4.2", "control", []byte{0xB, 0xC, 0xD, 0xE, 0xF}}} {
		num := numbered(r.section)
		for i, op := range r.ops {
			payload, with := []byte("reserved"), "a payload"
			if i%2 == 0 {
				payload, with = nil, "no payload"
			}
			cs = append(cs, rfcCase{fmt.Sprintf("%s echo request, reserved %s opcode %#x with %s, and ping: the echo, then 1002", num(), r.kind, op, with), func(s *rfcSession) {
				e := s.echo("before")
				s.send(wsText(e.msg), wsFrame(wsFin|op, payload), wsPing([]byte("after")))
				s.expectEcho(e)
				s.expectFail(1002)
			}})
		}
	}
	return cs
}

// fragmentationCases: Autobahn 5 (RFC 6455, 5.4).
func fragmentationCases() []rfcCase {
	num := numbered("5")
	cs := []rfcCase{
		{num() + " ping in 2 fragments closes 1002", func(s *rfcSession) {
			s.send(wsFrame(wsOpPing, []byte("frag")), wsFrame(wsFin|wsOpCont, []byte("ment")))
			s.expectFail(1002)
		}},
		{num() + " pong in 2 fragments closes 1002", func(s *rfcSession) {
			s.send(wsFrame(wsOpPong, []byte("frag")), wsFrame(wsFin|wsOpCont, []byte("ment")))
			s.expectFail(1002)
		}},
	}
	// Each of these is written in one write, frame by frame and chopped.
	for _, c := range []struct {
		name string
		run  func(s *rfcSession, w writeMode)
	}{
		{"text in 2 fragments", func(s *rfcSession, w writeMode) {
			e := s.echo("fragmented")
			w.send(s, wsSplit(wsOpText, e.msg, len(e.msg)/2)...)
			s.expectEcho(e)
		}},
		// A ping between fragments is answered at once, before the
		// message is complete.
		{"text in 2 fragments with a ping between", func(s *rfcSession, w writeMode) {
			e := s.echo("fragmented")
			f := wsSplit(wsOpText, e.msg, len(e.msg)/2)
			w.send(s, f[0], wsPing([]byte("between")), f[1])
			s.expectPong([]byte("between"))
			s.expectEcho(e)
		}},
		{"continuation with FIN and nothing to continue closes 1002", func(s *rfcSession, w writeMode) {
			e := s.echo("before")
			w.send(s, wsText(e.msg), wsFrame(wsFin|wsOpCont, []byte("orphan")), wsText(s.echo("after").msg))
			s.expectEcho(e)
			s.expectFail(1002)
		}},
		{"continuation without FIN and nothing to continue closes 1002", func(s *rfcSession, w writeMode) {
			e := s.echo("before")
			w.send(s, wsText(e.msg), wsFrame(wsOpCont, []byte("orphan")), wsText(s.echo("after").msg))
			s.expectEcho(e)
			s.expectFail(1002)
		}},
	} {
		for _, w := range []writeMode{writeWhole, writeFramewise, writeChopped} {
			cs = append(cs, rfcCase{num() + " " + c.name + ", " + w.name, func(s *rfcSession) { c.run(s, w) }})
		}
	}
	cs = append(cs,
		rfcCase{num() + " text in 2 fragments, continuation with nothing to continue, text: the echo, then 1002", func(s *rfcSession) {
			e := s.echo("fragmented")
			s.send(slices.Concat(wsSplit(wsOpText, e.msg, 5), [][]byte{wsFrame(wsOpCont, []byte("orphan")), wsText(s.echo("after").msg)})...)
			s.expectEcho(e)
			s.expectFail(1002)
		}},
	)
	for _, fin := range []struct {
		name string
		b0   byte
	}{{"without FIN", wsOpCont}, {"with FIN", wsFin | wsOpCont}} {
		cs = append(cs, rfcCase{num() + " continuation " + fin.name + " and nothing to continue, then text in 2 fragments, twice, closes 1002", func(s *rfcSession) {
			var frames [][]byte
			for range 2 {
				frames = append(frames, wsFrame(fin.b0, []byte("orphan")))
				frames = append(frames, wsSplit(wsOpText, s.echo("fragmented").msg, 5)...)
			}
			s.send(frames...)
			s.expectFail(1002)
		}})
	}
	cs = append(cs, rfcCase{num() + " text in 2 fragments both with the text opcode closes 1002", func(s *rfcSession) {
		msg := s.echo("two starts").msg
		s.send(wsFrame(wsOpText, msg[:5]), wsFrame(wsFin|wsOpText, msg[5:]))
		s.expectFail(1002)
	}})
	for _, w := range []writeMode{writeFramewise, writeChopped} {
		cs = append(cs, rfcCase{num() + " text in 5 fragments with 2 pings between, " + w.name, func(s *rfcSession) {
			e := s.echo("five fragments")
			f := wsSplit(wsOpText, e.msg, 4, 8, 12, 16)
			w.send(s, f[0], f[1], wsPing([]byte("one")), f[2], f[3], wsPing([]byte("two")), f[4])
			s.expectPong([]byte("one"))
			s.expectPong([]byte("two"))
			s.expectEcho(e)
		}})
	}
	return append(cs,
		rfcCase{num() + " binary frame inside a fragmented text closes 1002", func(s *rfcSession) {
			f := wsSplit(wsOpText, s.echo("interrupted").msg, 5)
			s.send(f[0], wsBinary([]byte{1, 2, 3}), f[1])
			s.expectFail(1002)
		}},
		rfcCase{num() + " text frame inside a fragmented text closes 1002", func(s *rfcSession) {
			f := wsSplit(wsOpText, s.echo("interrupted").msg, 5)
			s.send(f[0], wsText(s.echo("intruder").msg), f[1])
			s.expectFail(1002)
		}},
		rfcCase{num() + " close in 2 fragments closes 1002", func(s *rfcSession) {
			p := closePayload(1000, "fragmented")
			s.send(wsFrame(wsOpClose, p[:4]), wsFrame(wsFin|wsOpCont, p[4:]))
			s.expectFail(1002)
		}},
		rfcCase{num() + " pong between the fragments of a text is ignored", func(s *rfcSession) {
			e := s.echo("fragmented")
			f := wsSplit(wsOpText, e.msg, 5)
			s.send(f[0], wsPong([]byte("ignored")), f[1])
			s.expectEcho(e)
		}},
		rfcCase{num() + " text in 1-byte fragments with a ping between each two: every pong, then the echo", func(s *rfcSession) {
			e := s.echo("many fragments")
			var frames [][]byte
			for i, f := range wsFragments(wsOpText, e.msg, 1) {
				if i > 0 {
					frames = append(frames, wsPing(fmt.Appendf(nil, "%d", i)))
				}
				frames = append(frames, f)
			}
			s.send(frames...)
			for i := 1; i < len(e.msg); i++ {
				s.expectPong(fmt.Appendf(nil, "%d", i))
			}
			s.expectEcho(e)
		}},
		rfcCase{num() + " two fragmented texts back to back", func(s *rfcSession) {
			e1, e2 := s.echo("first"), s.echo("second")
			s.send(slices.Concat(wsFragments(wsOpText, e1.msg, 7), wsFragments(wsOpText, e2.msg, 3))...)
			s.expectEcho(e1)
			s.expectEcho(e2)
		}},
	)
}

// Valid UTF-8 (Autobahn 6.2, 6.5–6.11, 6.22): code points at each
// boundary of the encoding lengths and around the surrogates.
var validUTF8 = []struct{ name, text string }{
	{"Hello-µ@ßöäüàá-UTF-8!!", "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"},
	{"κόσμε", "\u03ba\u1f79\u03c3\u03bc\u03b5"},
	{"U+007F, the last 1-byte code point", "\u007f"},
	{"U+0080, the first 2-byte code point", "\u0080"},
	{"U+07FF, the last 2-byte code point", "\u07ff"},
	{"U+0800, the first 3-byte code point", "\u0800"},
	{"U+D7FF, the last before the surrogates", "\ud7ff"},
	{"U+E000, the first after the surrogates", "\ue000"},
	{"U+FFFD, the replacement character", "\ufffd"},
	{"U+FFFF, the last 3-byte code point", "\uffff"},
	{"U+10000, the first 4-byte code point", "\U00010000"},
	{"U+10FFFF, the last code point", "\U0010ffff"},
	{"1- to 4-byte code points mixed", "a\u00e9\u20ac\U0001f3b2z"},
}

// Invalid UTF-8 (Autobahn 6.3, 6.8, 6.10–6.21): each in an otherwise valid
// message, inside the JSON string.
var invalidUTF8 = []struct{ name, seq string }{
	{"overlong 2-byte slash", "\xc0\xaf"},
	{"overlong 3-byte slash", "\xe0\x80\xaf"},
	{"overlong 4-byte slash", "\xf0\x80\x80\xaf"},
	{"maximal overlong 2-byte U+007F", "\xc1\xbf"},
	{"maximal overlong 3-byte U+07FF", "\xe0\x9f\xbf"},
	{"maximal overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf"},
	{"overlong NUL", "\xc0\x80"},
	{"surrogate U+D800", "\xed\xa0\x80"},
	{"surrogate U+DFFF", "\xed\xbf\xbf"},
	{"surrogate pair U+D800 U+DC00", "\xed\xa0\x80\xed\xb0\x80"},
	{"U+110000, beyond U+10FFFF", "\xf4\x90\x80\x80"},
	{"0xF7 0xBF 0xBF 0xBF, beyond U+10FFFF", "\xf7\xbf\xbf\xbf"},
	{"5-byte sequence", "\xf8\x88\x80\x80\x80"},
	{"6-byte sequence", "\xfc\x84\x80\x80\x80\x80"},
	{"lone continuation byte", "\x80"},
	{"2 lone continuation bytes", "\x80\xbf"},
	{"start byte followed by a space", "\xe0 "},
	{"3-byte sequence missing its last byte", "\xe0\xa0"},
	{"4-byte sequence missing its last byte", "\xf0\x90\x80"},
	{"byte 0xFE", "\xfe"},
	{"byte 0xFF", "\xff"},
	{"bytes 0xFE 0xFE 0xFF 0xFF", "\xfe\xfe\xff\xff"},
}

// textAt is the offset of an echo request's text in its message.
func textAt(msg []byte, text string) int { return bytes.Index(msg, jsonString(text)) + 1 }

// utf8Cases: Autobahn 6 (RFC 6455, 5.6, 8.1).
func utf8Cases() []rfcCase {
	cs := []rfcCase{
		{"6.1.1 empty text in 3 empty fragments", func(s *rfcSession) {
			s.send(wsFrame(wsOpText, nil), wsFrame(wsOpCont, nil), wsFrame(wsFin|wsOpCont, nil))
			s.expectEmptyAnswer()
		}},
		{"6.1.2 text in 3 fragments, the first and last empty", func(s *rfcSession) {
			e := s.echo("middle")
			s.send(wsFrame(wsOpText, nil), wsFrame(wsOpCont, e.msg), wsFrame(wsFin|wsOpCont, nil))
			s.expectEcho(e)
		}},
		{"6.1.3 text in fragments with an empty one between each", func(s *rfcSession) {
			e := s.echo("empty between")
			s.send(wsSplit(wsOpText, e.msg, 5, 5, 10, 10)...)
			s.expectEcho(e)
		}},
	}

	// Each valid text in one frame, in 1-byte fragments, and cut in 2
	// fragments before, after and at every byte of the text, inside its
	// code points too.
	num := numbered("6.2")
	for _, v := range validUTF8 {
		cs = append(cs, rfcCase{num() + " " + v.name + ": whole, in 1-byte fragments and cut at every byte", func(s *rfcSession) {
			whole, bytewise := s.echo(v.text), s.echo(v.text)
			sent := []rfcEcho{whole, bytewise}
			frames := append([][]byte{wsText(whole.msg)}, wsFragments(wsOpText, bytewise.msg, 1)...)
			for cut := range len(v.text) + 1 {
				e := s.echo(v.text)
				sent = append(sent, e)
				frames = append(frames, wsSplit(wsOpText, e.msg, textAt(e.msg, v.text)+cut)...)
			}
			s.send(frames...)
			for _, e := range sent {
				s.expectEcho(e)
			}
		}})
	}

	// Each invalid sequence, in one frame and cut across 2 fragments,
	// after a valid message that is answered first.
	num = numbered("6.3")
	for _, inv := range invalidUTF8 {
		payload := "ab" + inv.seq + "cd"
		cs = append(cs,
			rfcCase{num() + " " + inv.name + " in one frame closes 1007", func(s *rfcSession) {
				e := s.echo("valid")
				s.send(wsText(e.msg), wsText(s.echo(payload).msg))
				s.expectEcho(e)
				s.expectFail(1007)
			}},
			rfcCase{num() + " " + inv.name + " cut across 2 fragments closes 1007", func(s *rfcSession) {
				e := s.echo("valid")
				bad := s.echo(payload).msg
				at := bytes.Index(bad, []byte(inv.seq)) + (len(inv.seq)+1)/2
				s.send(append([][]byte{wsText(e.msg)}, wsSplit(wsOpText, bad, at)...)...)
				s.expectEcho(e)
				s.expectFail(1007)
			}},
		)
	}

	// Fail fast: the fragments up to the one that makes the text invalid
	// are sent, and the close must come while the message is still
	// unfinished; the rest is never sent, so the close cannot be waiting
	// for it.
	for _, ff := range []struct {
		name  string
		parts []string
		sent  int
	}{
		{"6.4.1 U+110000 in the 2nd of 3 fragments", []string{"\u03ba\u1f79\u03c3\u03bc\u03b5", "\xf4\x90\x80\x80", "edited"}, 2},
		{"6.4.2 U+110000 cut across the 1st and 2nd of 3 fragments", []string{"\u03ba\u1f79\u03c3\u03bc\u03b5\xf4", "\x90", "\x80\x80edited"}, 2},
		{"6.4.3 byte 0xFF in the 1st of 2 fragments", []string{"ab\xff", "cd"}, 1},
		{"6.4.4 surrogate U+D800 in the 1st of 2 fragments", []string{"ab\xed\xa0\x80", "cd"}, 1},
		{"6.4.5 0xED 0xA0, a surrogate's start, ending the 1st of 2 fragments", []string{"ab\xed\xa0", "\x80cd"}, 1},
		{"6.4.6 0xF4 0x90, beyond U+10FFFF, ending the 1st of 2 fragments", []string{"ab\xf4\x90", "\x80\x80cd"}, 1},
		{"6.4.7 overlong 0xC0 0xAF in the 1st of 2 fragments", []string{"ab\xc0\xaf", "cd"}, 1},
		{"6.4.8 lone continuation byte in the 1st of 2 fragments", []string{"ab\x80", "cd"}, 1},
	} {
		cs = append(cs, rfcCase{ff.name + " fails fast with 1007", func(s *rfcSession) {
			text := strings.Join(ff.parts, "")
			e := s.echo(text)
			at := textAt(e.msg, text)
			var cuts []int
			for _, p := range ff.parts[:len(ff.parts)-1] {
				at += len(p)
				cuts = append(cuts, at)
			}
			s.send(wsSplit(wsOpText, e.msg, cuts...)[:ff.sent]...)
			s.expectFail(1007)
		}})
	}

	// A message may not end inside a code point: the bytes cut short are
	// the message's last, after the JSON.
	num = numbered("6.5")
	for _, tail := range []struct{ name, bytes string }{
		{"2-byte", "\xc2"}, {"3-byte", "\xe0\xa0"}, {"4-byte", "\xf0\x90\x80"},
	} {
		cs = append(cs, rfcCase{num() + " text ending inside a " + tail.name + " sequence closes 1007", func(s *rfcSession) {
			e := s.echo("valid")
			s.send(wsText(e.msg), wsText(append(s.echo("truncated").msg, tail.bytes...)))
			s.expectEcho(e)
			s.expectFail(1007)
		}})
	}
	cs = append(cs,
		rfcCase{num() + " final fragment holding only a 4-byte sequence cut short closes 1007", func(s *rfcSession) {
			msg := s.echo("truncated").msg
			s.send(wsSplit(wsOpText, append(msg, "\xf0\x90"...), len(msg))...)
			s.expectFail(1007)
		}},
		rfcCase{num() + " empty final fragment after one ending inside a sequence closes 1007", func(s *rfcSession) {
			s.send(wsFrame(wsOpText, append(s.echo("truncated").msg, "\xe0\xa0"...)), wsFrame(wsFin|wsOpCont, nil))
			s.expectFail(1007)
		}},
	)
	return cs
}

// closeCases: Autobahn 7, the closing handshake (RFC 6455, 5.5.1, 7).
func closeCases() []rfcCase {
	closeNormal := closePayload(1000, "")
	cs := []rfcCase{
		{"7.1.1 echo request, then close: the echo, then the close", func(s *rfcSession) {
			e := s.echo("before close")
			s.send(wsText(e.msg), wsClose(1000, ""))
			s.expectEcho(e)
			s.expectCloseEcho(closeNormal)
		}},
		{"7.1.2 close twice: one close back", func(s *rfcSession) {
			s.send(wsClose(1000, "once"), wsClose(1000, "twice"))
			s.expectCloseEcho(closePayload(1000, "once"))
		}},
		{"7.1.3 ping after close is not answered", func(s *rfcSession) {
			s.send(wsClose(1000, ""), wsPing([]byte("late")))
			s.expectCloseEcho(closeNormal)
		}},
		{"7.1.4 echo request after close is not answered", func(s *rfcSession) {
			s.send(wsClose(1000, ""), wsText(s.echo("late").msg))
			s.expectCloseEcho(closeNormal)
		}},
		{"7.1.5 close between the fragments of a text", func(s *rfcSession) {
			f := wsSplit(wsOpText, s.echo("never complete").msg, 5)
			s.send(f[0], wsClose(1000, ""), f[1])
			s.expectCloseEcho(closeNormal)
		}},
		{"7.1.6 64 KiB echo request, close and ping in one write: the echo, then the close", func(s *rfcSession) {
			e := s.echoSized(rfcMaxMessage)
			s.send(wsText(e.msg), wsClose(1000, ""), wsPing([]byte("late")))
			s.expectEcho(e)
			s.expectCloseEcho(closeNormal)
		}},
		{"7.3.1 close with no payload", func(s *rfcSession) {
			s.send(wsFrame(wsFin|wsOpClose, nil))
			s.expectCloseEcho(nil)
		}},
		{"7.3.2 close with a 1-byte payload closes 1002", func(s *rfcSession) {
			s.send(wsFrame(wsFin|wsOpClose, []byte{0x03}))
			s.expectFail(1002)
		}},
		{"7.3.3 close 1000 with no reason", func(s *rfcSession) {
			s.send(wsClose(1000, ""))
			s.expectCloseEcho(closeNormal)
		}},
		{"7.3.4 close 1000 with a reason", func(s *rfcSession) {
			s.send(wsClose(1000, "Hello, \u03ba\u1f79\u03c3\u03bc\u03b5"))
			s.expectCloseEcho(closePayload(1000, "Hello, \u03ba\u1f79\u03c3\u03bc\u03b5"))
		}},
		{"7.3.5 close 1000 with a 123-byte reason", func(s *rfcSession) {
			reason := strings.Repeat("*", 123)
			s.send(wsClose(1000, reason))
			s.expectCloseEcho(closePayload(1000, reason))
		}},
		{"7.3.6 close with a 124-byte reason, 126 bytes of payload, closes 1002", func(s *rfcSession) {
			s.send(wsClose(1000, strings.Repeat("*", 124)))
			s.expectFail(1002)
		}},
		{"7.5.1 close with a reason that is not valid UTF-8 closes 1007", func(s *rfcSession) {
			s.send(wsClose(1000, "\u03ba\u1f79\u03c3\u03bc\u03b5\xed\xa0\x80edited"))
			s.expectFail(1007)
		}},
	}
	// Codes a client may send (RFC 6455, 7.4.1, 7.4.2) are answered with
	// the same code; the others, among them those that must never be
	// sent (1005, 1006, 1015), fail the connection.
	num := numbered("7.7")
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
		cs = append(cs, rfcCase{fmt.Sprintf("%s close %d with a reason is answered %d", num(), code, code), func(s *rfcSession) {
			s.send(wsClose(code, "reason"))
			s.expectCloseEcho(closePayload(code, "reason"))
		}})
	}
	num = numbered("7.9")
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		cs = append(cs, rfcCase{fmt.Sprintf("%s close %d closes 1002", num(), code), func(s *rfcSession) {
			s.send(wsClose(code, ""))
			s.expectFail(1002)
		}})
	}
	return cs
}

// limitCases: Autobahn 9, messages up to the limit in fragments and pieces
// of growing size, and many messages in a row.
func limitCases() []rfcCase {
	var cs []rfcCase
	num := numbered("9.3")
	for _, size := range []int{64, 256, 1024, 4096, 16384} {
		cs = append(cs, rfcCase{fmt.Sprintf("%s text message of %d bytes in %d-byte fragments", num(), rfcMaxMessage, size), func(s *rfcSession) {
			e := s.echoSized(rfcMaxMessage)
			s.send(wsFragments(wsOpText, e.msg, size)...)
			s.expectEcho(e)
		}})
	}
	num = numbered("9.5")
	for _, size := range []int{64, 256, 1024, 4096} {
		// No pause between the pieces: the server reads them as they
		// come, a frame's bytes seldom all at once.
		cs = append(cs, rfcCase{fmt.Sprintf("%s text message of %d bytes written in %d-byte pieces", num(), rfcMaxMessage, size), func(s *rfcSession) {
			e := s.echoSized(rfcMaxMessage)
			f := wsText(e.msg)
			for len(f) > 0 {
				n := min(size, len(f))
				s.write(f[:n])
				f = f[n:]
			}
			s.expectEcho(e)
		}})
	}
	cs = append(cs,
		rfcCase{"9.7.1 100 echo round trips one after another", func(s *rfcSession) {
			for i := range 100 {
				e := s.echo(fmt.Sprint("round trip ", i))
				s.send(wsText(e.msg))
				s.expectEcho(e)
			}
		}},
		rfcCase{"9.7.2 1000 echo requests in one write, answered in order", func(s *rfcSession) {
			var sent []rfcEcho
			var frames [][]byte
			for i := range 1000 {
				e := s.echo(fmt.Sprint("message ", i))
				sent = append(sent, e)
				frames = append(frames, wsText(e.msg))
			}
			s.send(frames...)
			for _, e := range sent {
				s.expectEcho(e)
			}
		}},
	)
	return cs
}
