package gateway_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// The gateway answers a client's pings itself between messages, whole or
// split over several TCP segments, interleaved with messages; control
// frames that break the protocol are refused with 1002.
func TestClientPingsBetweenMessages(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := dialFrames(t, n, "pinger")

	c.send(0x9, []byte("abc"))
	c.expect(0xA, "abc")

	// A ping whose header and payload arrive apart, then a message and a
	// ping in one segment.
	ping := wsPing([]byte("split"))
	c.write(ping[:1])
	time.Sleep(20 * time.Millisecond)
	c.write(ping[1:4])
	time.Sleep(20 * time.Millisecond)
	c.write(ping[4:])
	c.expect(0xA, "split")
	c.write(append(wsText([]byte(`{"event":"ping","id":7}`)), wsPing(nil)...))
	c.expectEvent("pong", "7")
	c.expect(0xA, "")

	// A ping with a 126-byte payload is not a control frame.
	c.send(0x9, make([]byte, 126))
	c.expectClose(1002)
}

type frameConn struct {
	t    *testing.T
	conn net.Conn
	in   *bufio.Reader
}

// dialFrames upgrades a raw TCP connection and reads up to the connected
// event.
func dialFrames(t *testing.T, n *gt.Node, user string) *frameConn {
	conn := rawUpgrade(t, n, gt.Token(t, user))
	t.Cleanup(func() { conn.Close() })
	c := &frameConn{t: t, conn: conn, in: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(gt.Timeout))
	resp, err := http.ReadResponse(c.in, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	op, p := c.read()
	var greeting struct{ Event string }
	if op != 0x1 || json.Unmarshal(p, &greeting) != nil || greeting.Event != "connected" {
		t.Fatalf("first frame %x %s, want connected", op, p)
	}
	return c
}

func (c *frameConn) write(b []byte) {
	c.t.Helper()
	if _, err := c.conn.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

func (c *frameConn) send(op byte, payload []byte) { c.t.Helper(); c.write(wsFrame(wsFin|op, payload)) }

// read reads one server frame (unmasked, unfragmented).
func (c *frameConn) read() (byte, []byte) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.in, h[:]); err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	n := int(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		_, _ = io.ReadFull(c.in, l[:])
		n = int(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, _ = io.ReadFull(c.in, l[:])
		n = int(binary.BigEndian.Uint64(l[:]))
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(c.in, p); err != nil {
		c.t.Fatalf("reading a frame: %v", err)
	}
	return h[0] & 0x0F, p
}

func (c *frameConn) expect(op byte, payload string) {
	c.t.Helper()
	if gotOp, got := c.read(); gotOp != op || string(got) != payload {
		c.t.Fatalf("frame %x %q, want %x %q", gotOp, got, op, payload)
	}
}

func (c *frameConn) expectEvent(event, id string) {
	c.t.Helper()
	op, p := c.read()
	var f struct {
		Event string
		ID    json.RawMessage
	}
	if op != 0x1 || json.Unmarshal(p, &f) != nil || f.Event != event || string(f.ID) != id {
		c.t.Fatalf("frame %x %s, want event %s with id %s", op, p, event, id)
	}
}

func (c *frameConn) expectClose(code uint16) {
	c.t.Helper()
	op, p := c.read()
	if op != 0x8 || len(p) < 2 || binary.BigEndian.Uint16(p) != code {
		c.t.Fatalf("frame %x %q, want close %d", op, p, code)
	}
}
