package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/fx"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
)

// rfcMaxMessage is gateway.maxMessageBytes in the suite (the default):
// larger messages close with 1009.
const rfcMaxMessage = 64 << 10

// fillBlob is the data of every "fill" reply: a JSON string whose bytes
// vary, so that a reply cut short or spliced with another frame does not
// compare equal.
var fillBlob = func() json.RawMessage {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, 16<<10)
	for i := range b {
		b[i] = alphabet[(i*7+i/len(alphabet))%len(alphabet)]
	}
	b[0], b[len(b)-1] = '"', '"'
	return b
}()

// TestRFC6455 is the project's own RFC 6455 conformance suite, modelled on
// the case sections 1–7 and 9 of the Autobahn testsuite. It drives the
// gateway over raw TCP with a client written here from scratch (the
// handshake, masked frames of any shape, fragmentation, tiny writes) and
// reads the server's frames checking that each is well formed. The gateway
// plays Autobahn's echo server through a handler registered the way
// extensions are. Every case runs on both endpoints, /game and
// /socket.io/ (after the Engine.IO and Socket.IO handshakes), and once
// more with the server's writes backed up (see backUp). The cases, and
// the rules they hold the gateway to, are in rfc6455_cases_test.go.
func TestRFC6455(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.MaxMessageBytes = rfcMaxMessage
	// The limits that are not under test stay out of the way: no rate
	// limit, and room for the backed-up replies (they are kept, not taken
	// for a slow consumer's).
	cfg.Gateway.RateLimit = config.RateLimit{PerSecond: 1e6, Burst: 1e6, MaxExcess: 1e6}
	cfg.Gateway.QueueSize = 1 << 16
	cfg.Gateway.MaxQueueBytes = 1 << 30
	// No server ping among the frames a case expects.
	cfg.Gateway.PingInterval = time.Hour
	// A backed-up client reads nothing for a while on purpose.
	cfg.Gateway.WriteTimeout = time.Minute
	n := gt.Start(t, cfg, fx.Provide(
		gateway.AsHandler(func() gateway.Handler {
			return gateway.Handler{Event: "echo", Handle: func(_ context.Context, _ *gateway.Client, data json.RawMessage) (*gateway.Reply, error) {
				return &gateway.Reply{Event: "echo", Data: data}, nil
			}}
		}),
		// fill backs the server's writes up at little cost: a small request
		// for a big reply. Echoing the backlog would have the server decode
		// it all as JSON, which under -race costs more than the case.
		gateway.AsHandler(func() gateway.Handler {
			return gateway.Handler{Event: "fill", Handle: func(context.Context, *gateway.Client, json.RawMessage) (*gateway.Reply, error) {
				return &gateway.Reply{Event: "fill", Data: fillBlob}, nil
			}}
		}),
	))
	tok := gt.Token(t, "rfc")
	// Half as much again as the kernels hold between the server and a
	// stalled client: a third of the replies at least wait in the gateway.
	fills := 3*loopbackHold(t)/2/len(fillBlob) + 1
	cases := rfcCases()
	for _, ep := range []rfcEndpoint{plainEndpoint{}, sioEndpoint{}} {
		for _, backedUp := range []bool{false, true} {
			group := ep.name()
			if backedUp {
				group += "+backpressure"
			}
			t.Run(group, func(t *testing.T) {
				t.Parallel()
				for _, c := range cases {
					t.Run(c.name, func(t *testing.T) {
						t.Parallel()
						s := dialRFC(t, n, ep, tok, backedUp)
						if backedUp {
							s.backUp(fills)
						}
						c.run(s)
						s.finish()
					})
				}
			})
		}
	}
}

// rfcCase is one conformance case: frames to send and what must come back.
// A case that leaves the connection open is followed by finish.
type rfcCase struct {
	name string
	run  func(s *rfcSession)
}

// loopbackHold measures how many bytes a loopback connection takes from
// its sender while a receiver dialled for the backpressure variant reads
// nothing: the kernels' buffers on both ends, which the backlog must
// exceed.
func loopbackHold(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := dialTCP(ln.Addr().String(), true)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	chunk := make([]byte, 16<<10)
	held := 0
	for {
		// The socket takes what fits at once; a write that waits this
		// long has found the buffers full.
		_ = server.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := server.Write(chunk)
		held += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return held
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// WebSocket frame bits and opcodes (RFC 6455, 5.2).
const (
	wsFin      = 0x80
	wsRSV1     = 0x40
	wsRSV2     = 0x20
	wsRSV3     = 0x10
	wsOpCont   = 0x0
	wsOpText   = 0x1
	wsOpBinary = 0x2
	wsOpClose  = 0x8
	wsOpPing   = 0x9
	wsOpPong   = 0xA
	// wsEnd is no opcode: the event of a connection that ended.
	wsEnd = 0xFF
)

// wsMaskKey masks every client frame (the key of RFC 6455's examples).
var wsMaskKey = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// wsFrame is a masked client frame: b0 holds FIN, the RSV bits and the
// opcode; the length takes the shortest encoding.
func wsFrame(b0 byte, payload []byte) []byte {
	f := wsHeader(b0, 0x80, len(payload))
	f = append(f, wsMaskKey[:]...)
	for i, c := range payload {
		f = append(f, c^wsMaskKey[i&3])
	}
	return f
}

// wsUnmasked is a client frame without a mask, which RFC 6455 forbids.
func wsUnmasked(b0 byte, payload []byte) []byte {
	return append(wsHeader(b0, 0, len(payload)), payload...)
}

func wsHeader(b0, mask byte, n int) []byte {
	f := make([]byte, 0, 14+n)
	switch {
	case n < 126:
		return append(f, b0, mask|byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(f, b0, mask|126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(f, b0, mask|127), uint64(n))
	}
}

func wsText(msg []byte) []byte   { return wsFrame(wsFin|wsOpText, msg) }
func wsBinary(msg []byte) []byte { return wsFrame(wsFin|wsOpBinary, msg) }
func wsPing(p []byte) []byte     { return wsFrame(wsFin|wsOpPing, p) }
func wsPong(p []byte) []byte     { return wsFrame(wsFin|wsOpPong, p) }

// wsClose is a close frame with code and reason.
func wsClose(code uint16, reason string) []byte {
	return wsFrame(wsFin|wsOpClose, closePayload(code, reason))
}

func closePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// wsSplit cuts msg at the offsets at into the frames of one fragmented
// message: the first with opcode op, then continuations, FIN on the last.
func wsSplit(op byte, msg []byte, at ...int) [][]byte {
	var frames [][]byte
	from := 0
	for _, to := range append(at, len(msg)) {
		b0 := byte(wsOpCont)
		if len(frames) == 0 {
			b0 = op
		}
		if to == len(msg) {
			b0 |= wsFin
		}
		frames = append(frames, wsFrame(b0, msg[from:to]))
		from = to
	}
	return frames
}

// wsFragments cuts msg into fragments of size bytes (the last one shorter).
func wsFragments(op byte, msg []byte, size int) [][]byte {
	var at []int
	for i := size; i < len(msg); i += size {
		at = append(at, i)
	}
	return wsSplit(op, msg, at...)
}

// rfcEndpoint is what differs between /game and /socket.io/: the upgrade
// request, the greeting, and how an event and its reply are written.
type rfcEndpoint interface {
	name() string
	target() string
	header(tok string) string
	greet(s *rfcSession, tok string)
	// request is the text message of event with an id asking for the
	// reply; data is the event's JSON (nil: none).
	request(event string, id int, data []byte) []byte
	// reply is the text message answering request(event, id, …) with data.
	reply(event string, id int, data []byte) []byte
	// emptyAnswer is the answer to an empty text message; nil: none.
	emptyAnswer() []byte
	// farewell may precede the server's close frame with code.
	farewell(code uint16) []byte
}

// plainEndpoint is /game: {"event","data","id"} text frames.
type plainEndpoint struct{}

func (plainEndpoint) name() string             { return "plain" }
func (plainEndpoint) target() string           { return "/game" }
func (plainEndpoint) header(tok string) string { return "Authorization: Bearer " + tok + "\r\n" }
func (plainEndpoint) farewell(uint16) []byte   { return nil }
func (plainEndpoint) greet(s *rfcSession, _ string) {
	s.expectPrefix(`{"event":"connected","data":{"clientId":"`)
}

func (plainEndpoint) request(event string, id int, data []byte) []byte {
	b := []byte(`{"event":"` + event + `"`)
	if data != nil {
		b = append(append(b, `,"data":`...), data...)
	}
	return append(strconv.AppendInt(append(b, `,"id":`...), int64(id), 10), '}')
}

func (plainEndpoint) reply(event string, id int, data []byte) []byte {
	b := append([]byte(`{"event":"`+event+`","data":`), data...)
	return append(strconv.AppendInt(append(b, `,"id":`...), int64(id), 10), '}')
}

// emptyAnswer: an empty message is a valid WebSocket message and malformed
// JSON, which the gateway answers without closing.
func (plainEndpoint) emptyAnswer() []byte {
	return []byte(`{"event":"exception","data":{"status":"error","message":"malformed JSON"}}`)
}

// sioEndpoint is /socket.io/: Engine.IO 4 over WebSocket carrying Socket.IO
// 5 packets in namespace /game; a reply is the acknowledgement of an event
// sent with an ack id.
type sioEndpoint struct{}

func (sioEndpoint) name() string         { return "socketio" }
func (sioEndpoint) target() string       { return "/socket.io/?EIO=4&transport=websocket" }
func (sioEndpoint) header(string) string { return "" }
func (sioEndpoint) emptyAnswer() []byte  { return nil } // Engine.IO ignores an empty packet
func (sioEndpoint) reply(_ string, id int, data []byte) []byte {
	b := append(strconv.AppendInt([]byte("43/game,"), int64(id), 10), '[')
	return append(append(b, data...), ']')
}

func (sioEndpoint) greet(s *rfcSession, tok string) {
	s.expectPrefix(`0{`)
	s.send(wsText([]byte(`40/game,{"token":"` + tok + `"}`)))
	s.expectPrefix(`40/game,{"sid":"`)
	s.expectPrefix(`42/game,["connected",{"clientId":"`)
}

func (sioEndpoint) request(event string, id int, data []byte) []byte {
	b := append(strconv.AppendInt([]byte("42/game,"), int64(id), 10), `["`+event+`"`...)
	if data != nil {
		b = append(append(b, ','), data...)
	}
	return append(b, ']')
}

// farewell: a policy close (1003) may tell socket.io-client first that the
// server disconnected it, so that it does not reconnect; a protocol failure
// closes with its WebSocket code alone.
func (sioEndpoint) farewell(code uint16) []byte {
	if code == 1003 {
		return []byte("41/game,")
	}
	return nil
}

// rfcSession is one raw client connection. It reads only when a case
// expects something, in the test's goroutine, so nothing is read behind a
// case's back and every wait has a deadline.
type rfcSession struct {
	t    *testing.T
	ep   rfcEndpoint
	conn *net.TCPConn
	in   *bufio.Reader

	ids    int // the last request id used
	fillID int // the id of backUp's first request
	fills  int // fill replies queued by backUp
	queued int // fill replies not read yet

	msg   []byte // a fragmented server message being read
	msgOp byte
	inMsg bool

	serverClosed bool // the server's close frame arrived
	ended        bool // the TCP connection ended
	writeErr     error
}

// dialTCP connects to addr. A client that will back the server's writes
// up gets tuneBackedUpSocket before connecting, and rfcReadBuffer.
func dialTCP(addr string, backedUp bool) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: gt.Timeout}
	if backedUp {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) { err = tuneBackedUpSocket(fd) }); cerr != nil {
				return cerr
			}
			return err
		}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	tc := conn.(*net.TCPConn)
	if backedUp && rfcReadBuffer > 0 {
		if err := tc.SetReadBuffer(rfcReadBuffer); err != nil {
			tc.Close()
			return nil, err
		}
	}
	return tc, nil
}

// dialRFC upgrades a raw TCP connection to ep and reads the greeting.
func dialRFC(t *testing.T, n *gt.Node, ep rfcEndpoint, tok string, backedUp bool) *rfcSession {
	t.Helper()
	addr := strings.TrimPrefix(n.URL, "http://")
	conn, err := dialTCP(addr, backedUp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &rfcSession{t: t, ep: ep, conn: conn, in: bufio.NewReader(conn)}
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	key := base64.StdEncoding.EncodeToString(nonce)
	s.write([]byte("GET " + ep.target() + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n" + ep.header(tok) + "\r\n"))
	_ = conn.SetReadDeadline(time.Now().Add(gt.Timeout))
	resp, err := http.ReadResponse(s.in, nil)
	if err != nil {
		t.Fatalf("upgrade: %v (write: %v)", err, s.writeErr)
	}
	resp.Body.Close()
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	// No extension is offered, so none may be agreed: RSV bits stay 0.
	if resp.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(resp.Header.Get("Upgrade"), "websocket") ||
		!strings.EqualFold(resp.Header.Get("Connection"), "upgrade") ||
		resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) ||
		resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Fatalf("upgrade answered %s %v", resp.Status, resp.Header)
	}
	ep.greet(s, tok)
	return s
}

// rfcEcho is an echo request: the text message of the event "echo" whose
// data is the JSON string of payload, written as is (it may be invalid
// UTF-8 on purpose).
type rfcEcho struct {
	id      int
	payload []byte
	msg     []byte
}

func (s *rfcSession) echo(payload string) rfcEcho {
	s.ids++
	return rfcEcho{id: s.ids, payload: []byte(payload), msg: s.ep.request("echo", s.ids, jsonString(payload))}
}

// echoSized is an echo request whose message is exactly size bytes.
func (s *rfcSession) echoSized(size int) rfcEcho {
	pad := size - len(s.ep.request("echo", s.ids+1, jsonString("")))
	if pad < 0 {
		s.t.Fatalf("no echo request fits in %d bytes", size)
	}
	p := make([]byte, pad)
	for i := range p {
		p[i] = 'a' + byte(i%26)
	}
	e := s.echo(string(p))
	if len(e.msg) != size {
		s.t.Fatalf("echo request of %d bytes, want %d", len(e.msg), size)
	}
	return e
}

// jsonString quotes p without escaping: payloads hold no quote, backslash
// or control character.
func jsonString(p string) []byte { return []byte(`"` + p + `"`) }

// backUp makes the server's writes to this client back up: the client
// asks for fills replies, more than the kernels hold, and reads nothing
// until the case expects something. The server keeps what the kernels
// cannot take, and reads on; every reply must then arrive whole and in
// order, before anything the case's frames caused (see drain).
func (s *rfcSession) backUp(fills int) {
	var reqs [][]byte
	s.fillID = s.ids + 1
	for range fills {
		s.ids++
		reqs = append(reqs, wsText(s.ep.request("fill", s.ids, nil)))
	}
	s.fills, s.queued = fills, fills
	s.send(reqs...)
}

// Writing. A write that fails is kept rather than fatal: the server may
// rightly close while a case still writes, and the case's expectations
// tell. A write that times out is fatal: the server stopped reading.

// send writes frames in one write.
func (s *rfcSession) send(frames ...[]byte) {
	s.write(bytes.Join(frames, nil))
}

// sendFramewise writes each frame on its own, with a pause after each.
func (s *rfcSession) sendFramewise(frames ...[]byte) {
	for _, f := range frames {
		s.write(f)
		time.Sleep(chopPause)
	}
}

// sendChopped writes frames in pieces of 1, 1, 2, 3, 5, 8… bytes with a
// pause after each: headers arrive cut at every place, and large frames
// still take few writes.
func (s *rfcSession) sendChopped(frames ...[]byte) {
	b := bytes.Join(frames, nil)
	for n, next := 1, 1; len(b) > 0; n, next = next, n+next {
		n = min(n, len(b))
		s.write(b[:n])
		b = b[n:]
		time.Sleep(chopPause)
	}
}

// sendBytewise writes frames one byte at a time, with a pause after each.
func (s *rfcSession) sendBytewise(frames ...[]byte) {
	for _, c := range bytes.Join(frames, nil) {
		s.write([]byte{c})
		time.Sleep(chopPause)
	}
}

// chopPause lets the server read what came so far before the next piece.
const chopPause = 100 * time.Microsecond

func (s *rfcSession) write(b []byte) {
	if s.writeErr != nil {
		return
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(gt.Timeout))
	n, err := s.conn.Write(b)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.t.Fatalf("the server read nothing for %v: %d bytes of the client's %d still unwritten", gt.Timeout, len(b)-n, len(b))
	}
	s.writeErr = err
}

// Reading.

// rfcEvent is what the server sent: a whole message, a control frame, or
// the end of the connection (op wsEnd).
type rfcEvent struct {
	op      byte
	payload []byte
	err     error // wsEnd: how the connection ended
	// broken says how the event breaks RFC 6455, if it does.
	broken string
}

func (e rfcEvent) String() string {
	var s string
	switch e.op {
	case wsEnd:
		switch {
		case errors.Is(e.err, os.ErrDeadlineExceeded):
			s = fmt.Sprintf("nothing within %v", gt.Timeout)
		case errors.Is(e.err, io.ErrUnexpectedEOF):
			s = "the end of the TCP connection inside a frame"
		case errors.Is(e.err, io.EOF):
			s = "the end of the TCP connection"
		default:
			s = fmt.Sprintf("the end of the TCP connection (%v)", e.err)
		}
	case wsOpText:
		s = "text " + quoteShort(e.payload)
	case wsOpBinary:
		s = fmt.Sprintf("a binary message of %d bytes", len(e.payload))
	case wsOpPing:
		s = "ping " + quoteShort(e.payload)
	case wsOpPong:
		s = "pong " + quoteShort(e.payload)
	case wsOpClose:
		s = describeClose(e.payload)
	}
	if e.broken != "" {
		s += ", which breaks RFC 6455: " + e.broken
	}
	return s
}

func quoteShort(p []byte) string {
	const max = 100
	if len(p) <= max {
		return strconv.Quote(string(p))
	}
	return fmt.Sprintf("%s… (%d bytes)", strconv.Quote(string(p[:max])), len(p))
}

func describeClose(p []byte) string {
	switch len(p) {
	case 0:
		return "close with no payload"
	case 1:
		return fmt.Sprintf("close with the 1-byte payload %q", p)
	}
	return fmt.Sprintf("close %d %q", binary.BigEndian.Uint16(p), p[2:])
}

// next returns the next event, after the replies backUp queued.
func (s *rfcSession) next() rfcEvent {
	s.t.Helper()
	s.drain()
	ev := s.read()
	if ev.op == wsOpText && ev.broken == "" && !utf8.Valid(ev.payload) {
		ev.broken = "a text message that is not valid UTF-8"
	}
	return ev
}

// drain reads the fill replies still due: the server must deliver each one
// whole and in order before anything else, a close frame included. (Equal
// to what was expected, a reply is valid UTF-8: not checking it again
// spares much time under -race.)
func (s *rfcSession) drain() {
	s.t.Helper()
	for ; s.queued > 0; s.queued-- {
		i := s.fills - s.queued
		ev := s.read()
		if ev.op == wsOpText && ev.broken == "" && bytes.Equal(ev.payload, s.ep.reply("fill", s.fillID+i, fillBlob)) {
			continue
		}
		s.t.Fatalf("reply %d of the %d queued before the case's frames: got %s; want each queued reply whole and in order, before anything else%s",
			i+1, s.fills, ev, s.writeNote())
	}
}

// read returns the next message or control frame. Frames that break the
// framing itself fail the test at once; what breaks RFC 6455 within a well
// framed event is reported with it, for the case to say what it expected
// (next adds the check of text).
func (s *rfcSession) read() rfcEvent {
	s.t.Helper()
	for {
		if s.ended {
			return rfcEvent{op: wsEnd, err: io.EOF}
		}
		_ = s.conn.SetReadDeadline(time.Now().Add(gt.Timeout))
		fin, op, p, err := s.readFrame()
		if err != nil {
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				s.ended = true
			}
			return rfcEvent{op: wsEnd, err: err}
		}
		if s.serverClosed {
			return rfcEvent{op: op, payload: p, broken: "a frame after the server's close frame"}
		}
		if op >= 0x8 {
			ev := rfcEvent{op: op, payload: p}
			if op == wsOpClose {
				s.serverClosed = true
				ev.broken = checkServerClose(p)
			}
			return ev
		}
		switch {
		case op == wsOpCont && !s.inMsg:
			s.t.Fatalf("server sent a continuation frame with no message to continue")
		case op != wsOpCont && s.inMsg:
			s.t.Fatalf("server began a new message (opcode %#x) inside a fragmented one", op)
		case op != wsOpCont:
			s.msgOp, s.msg, s.inMsg = op, nil, true
		}
		s.msg = append(s.msg, p...)
		if !fin {
			continue
		}
		ev := rfcEvent{op: s.msgOp, payload: s.msg}
		s.msg, s.inMsg = nil, false
		return ev
	}
}

// readFrame reads one server frame and fails the test if its framing
// breaks RFC 6455 (5.2, 5.5): a server never masks, sets no RSV bit
// without an extension, uses only defined opcodes and the shortest length,
// and sends control frames of at most 125 bytes, unfragmented.
func (s *rfcSession) readFrame() (fin bool, op byte, payload []byte, err error) {
	s.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(s.in, h[:]); err != nil {
		return false, 0, nil, err
	}
	fin, op = h[0]&wsFin != 0, h[0]&0x0F
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(s.in, l[:]); err != nil {
			return false, 0, nil, err
		}
		if n = uint64(binary.BigEndian.Uint16(l[:])); n < 126 {
			s.t.Fatalf("server frame length %d in 16 bits: the shortest encoding is required", n)
		}
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(s.in, l[:]); err != nil {
			return false, 0, nil, err
		}
		if n = binary.BigEndian.Uint64(l[:]); n <= 0xFFFF {
			s.t.Fatalf("server frame length %d in 64 bits: the shortest encoding is required", n)
		}
	}
	switch {
	case h[0]&0x70 != 0:
		s.t.Fatalf("server frame with RSV bits %#x and no extension agreed", h[0]&0x70)
	case h[1]&0x80 != 0:
		s.t.Fatalf("server frame is masked")
	case op > wsOpBinary && op < wsOpClose || op > wsOpPong:
		s.t.Fatalf("server frame with reserved opcode %#x", op)
	case op >= wsOpClose && (!fin || n > 125):
		s.t.Fatalf("server control frame %#x with FIN %v and %d bytes: control frames are whole and at most 125 bytes", op, fin, n)
	case n > 16<<20:
		s.t.Fatalf("server frame of %d bytes", n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(s.in, payload); err != nil {
		return false, 0, nil, err
	}
	return fin, op, payload, nil
}

// checkServerClose says what is wrong with the payload of a server's close
// frame (RFC 6455, 5.5.1, 7.4): none or a code the server may send, and a
// UTF-8 reason.
func checkServerClose(p []byte) string {
	if len(p) == 0 {
		return ""
	}
	if len(p) == 1 {
		return "a 1-byte close payload"
	}
	code := binary.BigEndian.Uint16(p)
	if !(code >= 1000 && code <= 1003 || code >= 1007 && code <= 1011 || code >= 3000 && code <= 4999) {
		return fmt.Sprintf("close code %d may not be sent", code)
	}
	if !utf8.Valid(p[2:]) {
		return "a close reason that is not valid UTF-8"
	}
	return ""
}

// Expectations. Each reads the next event and fails the test, saying what
// it wanted and what came, unless it is the one wanted.

func (s *rfcSession) expect(want string, ok func(rfcEvent) bool) rfcEvent {
	s.t.Helper()
	ev := s.next()
	if ev.broken != "" || !ok(ev) {
		s.t.Fatalf("want %s; got %s%s", want, ev, s.writeNote())
	}
	return ev
}

func (s *rfcSession) writeNote() string {
	if s.writeErr == nil {
		return ""
	}
	return fmt.Sprintf(" (a write of the client failed before: %v)", s.writeErr)
}

func (s *rfcSession) expectPrefix(prefix string) {
	s.t.Helper()
	s.expect("text "+strconv.Quote(prefix+"…"), func(ev rfcEvent) bool {
		return ev.op == wsOpText && bytes.HasPrefix(ev.payload, []byte(prefix))
	})
}

// expectEcho wants the reply to e, once, in the order of the requests.
func (s *rfcSession) expectEcho(e rfcEcho) {
	s.t.Helper()
	want := s.ep.reply("echo", e.id, jsonString(string(e.payload)))
	s.expect("the echo of request "+strconv.Itoa(e.id)+", text "+quoteShort(want), func(ev rfcEvent) bool {
		return ev.op == wsOpText && bytes.Equal(ev.payload, want)
	})
}

func (s *rfcSession) expectPong(payload []byte) {
	s.t.Helper()
	s.expect("pong "+quoteShort(payload), func(ev rfcEvent) bool {
		return ev.op == wsOpPong && bytes.Equal(ev.payload, payload)
	})
}

// expectEmptyAnswer wants the endpoint's answer to an empty text message.
func (s *rfcSession) expectEmptyAnswer() {
	s.t.Helper()
	if want := s.ep.emptyAnswer(); want != nil {
		s.expect("text "+quoteShort(want), func(ev rfcEvent) bool {
			return ev.op == wsOpText && bytes.Equal(ev.payload, want)
		})
	}
}

// expectFail wants the server to fail the connection with code (RFC 6455,
// 7.1.7): its close frame, after what it had queued, then the end of TCP
// once the client has answered the close. The client answers even when
// it sent a close before: that one was broken on purpose, and a server
// may wait for a valid answer. It returns the server's close reason.
func (s *rfcSession) expectFail(code uint16) (reason string) {
	s.t.Helper()
	want := fmt.Sprintf("close %d", code)
	ev := s.next()
	if f := s.ep.farewell(code); f != nil && ev.op == wsOpText && bytes.Equal(ev.payload, f) {
		ev = s.next()
	}
	if ev.broken != "" || ev.op != wsOpClose || len(ev.payload) < 2 || binary.BigEndian.Uint16(ev.payload) != code {
		s.t.Fatalf("want %s; got %s%s", want, ev, s.writeNote())
	}
	s.send(wsClose(code, ""))
	s.expectEnd()
	return string(ev.payload[2:])
}

// expectCloseEcho wants the server's answer to the client's close frame
// with payload (RFC 6455, 5.5.1): a close frame with the client's code,
// and its reason or none (no payload, or 1000, when the client sent no
// code), then the end of TCP, which the server closes first (7.1.1).
func (s *rfcSession) expectCloseEcho(payload []byte) {
	s.t.Helper()
	want := "a close frame with no payload or code 1000"
	ok := func(ev rfcEvent) bool {
		return ev.op == wsOpClose && (len(ev.payload) == 0 || binary.BigEndian.Uint16(ev.payload) == 1000)
	}
	if len(payload) >= 2 {
		code, reason := binary.BigEndian.Uint16(payload), payload[2:]
		want = fmt.Sprintf("close %d with reason %q or none", code, reason)
		ok = func(ev rfcEvent) bool {
			return ev.op == wsOpClose && len(ev.payload) >= 2 && binary.BigEndian.Uint16(ev.payload) == code &&
				(len(ev.payload) == 2 || bytes.Equal(ev.payload[2:], reason))
		}
	}
	s.expect(want, ok)
	s.expectEnd()
}

// expectEnd wants the server to end TCP, sending nothing after its close
// frame.
func (s *rfcSession) expectEnd() {
	s.t.Helper()
	ev := s.read()
	if ev.op != wsEnd || errors.Is(ev.err, os.ErrDeadlineExceeded) {
		s.t.Fatalf("after the close frames, want the end of the TCP connection; got %s", ev)
	}
	if !errors.Is(ev.err, io.EOF) && !errors.Is(ev.err, syscall.ECONNRESET) {
		s.t.Fatalf("after the close frames: %v", ev.err)
	}
}

// finish ends a case that left the connection open: an echo still works
// and is the next thing to arrive (so nothing unexpected came before it),
// then a clean close handshake.
func (s *rfcSession) finish() {
	s.t.Helper()
	if s.serverClosed || s.ended {
		return
	}
	e := s.echo("still here")
	s.send(wsText(e.msg))
	s.expectEcho(e)
	bye := closePayload(1000, "bye")
	s.send(wsFrame(wsFin|wsOpClose, bye))
	s.expectCloseEcho(bye)
}
