package main

import (
	"bytes"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// serverFrame is an unmasked frame as a server sends it.
func serverFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	f := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		f = append(f, byte(n))
	case n <= 0xffff:
		f = binary.BigEndian.AppendUint16(append(f, 126), uint16(n))
	default:
		f = binary.BigEndian.AppendUint64(append(f, 127), uint64(n))
	}
	return append(f, payload...)
}

// unmask undoes appendClientFrame: what a server reads.
func unmask(t *testing.T, f []byte) (op byte, payload []byte) {
	t.Helper()
	if f[0]&0x80 == 0 || f[1]&0x80 == 0 {
		t.Fatalf("frame % x: want FIN and MASK", f[:2])
	}
	size, head := int(f[1]&0x7f), 2
	switch size {
	case 126:
		size, head = int(binary.BigEndian.Uint16(f[2:])), 4
	case 127:
		size, head = int(binary.BigEndian.Uint64(f[2:])), 10
	}
	key, p := f[head:head+4], bytes.Clone(f[head+4:])
	if len(p) != size {
		t.Fatalf("length %d, announced %d", len(p), size)
	}
	for i := range p {
		p[i] ^= key[i%4]
	}
	return f[0] & 0x0f, p
}

func TestClientFrames(t *testing.T) {
	for _, n := range []int{0, 125, 126, 0xffff, 0x10000} {
		payload := bytes.Repeat([]byte("x"), n)
		op, got := unmask(t, appendClientFrame(nil, opText, payload))
		if op != opText || !bytes.Equal(got, payload) {
			t.Errorf("%d bytes: op %d, payload of %d", n, op, len(got))
		}
	}
}

// A stream of server frames, cut anywhere: whole messages come out in
// order, fragments put together, pings answered with a masked pong,
// and a close frame ends it with its code.
func TestServerFrames(t *testing.T) {
	big := bytes.Repeat([]byte("y"), 70_000)
	var stream []byte
	stream = append(stream, serverFrame(true, opText, []byte(`{"event":"a"}`))...)
	stream = append(stream, serverFrame(true, opPing, []byte("hi"))...)
	stream = append(stream, serverFrame(false, opText, []byte(`{"event":`))...)
	stream = append(stream, serverFrame(true, opPong, nil)...) // a control frame between fragments
	stream = append(stream, serverFrame(true, opContinuation, []byte(`"b"}`))...)
	stream = append(stream, serverFrame(true, opText, big)...)
	stream = append(stream, serverFrame(true, opClose, append([]byte{0x03, 0xf0}, "slow consumer"...))...)

	for _, cut := range []int{1, 3, 7, 4096, len(stream)} {
		server, peer := net.Pipe()
		c := &ownConn{nc: peer}
		pongs := make(chan []byte, 1)
		go func() {
			buf := make([]byte, 64)
			n, _ := server.Read(buf)
			pongs <- buf[:n]
		}()
		var msgs []string
		var pending []byte
		var end error
		for off := 0; off < len(stream) && end == nil; off += cut {
			pending = append(pending, stream[off:min(off+cut, len(stream))]...)
			for {
				msg, used, err := c.next(pending)
				pending = pending[used:]
				if err != nil {
					end = err
				}
				if msg == nil {
					break
				}
				msgs = append(msgs, string(msg))
			}
		}
		if len(msgs) != 3 || msgs[0] != `{"event":"a"}` || msgs[1] != `{"event":"b"}` || msgs[2] != string(big) {
			t.Errorf("cut %d: %d messages, want a, b and 70,000 bytes", cut, len(msgs))
		}
		if end == nil || !strings.Contains(end.Error(), "1008 slow consumer") {
			t.Errorf("cut %d: end %v, want the close frame's code and reason", cut, end)
		}
		select {
		case pong := <-pongs:
			if op, p := unmask(t, pong); op != opPong || string(p) != "hi" {
				t.Errorf("cut %d: answered %d %q, want a pong with the ping's payload", cut, op, p)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("cut %d: the ping was not answered", cut)
		}
		server.Close()
		peer.Close()
	}
	if _, _, _, _, err := parseFrame([]byte{0x81, 0x81, 1, 2, 3, 4, 'x'}); err == nil {
		t.Error("a masked server frame was taken")
	}
}
