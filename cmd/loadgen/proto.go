package main

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
)

// protocol is how clients talk to the server: the gateway's plain frames
// ({"event","data","id"} at /game), or Socket.IO (Engine.IO 4 over
// WebSocket at /socket.io/, namespace /game), which both the gateway and
// NestJS's platform-socket.io serve. Everything above it — rooms, bench
// messages, round trips — is the same.
type protocol interface {
	// greet runs after the upgrade, until the server's `connected` event.
	greet(ctx context.Context, c *client, tok string) error
	// appendEvent appends a client frame: event with data (raw JSON, or
	// "" for none) and, when the protocol carries one, request id.
	appendEvent(dst []byte, event, data string, id int64) []byte
	// parse classifies a server frame.
	parse(b []byte) frame
	// byID tells whether replies carry the request's id; else they come back
	// in order, one client's requests being answered one after the other.
	byID() bool
}

// frame is a server frame as the readers need it.
type frame struct {
	event []byte // nil: not an event (a handshake or heartbeat packet)
	body  []byte // where the data's fields are to be found
	id    int64  // a reply's request id, when hasID
	hasID bool
	// answer is a frame to send back at once (Engine.IO's pong).
	answer []byte
}

func newProtocol(name, namespace string) protocol {
	if name == "socketio" {
		return socketIO{ns: namespace}
	}
	return contract{}
}

// contract is the gateway's own framing (docs/protocol.md, "Frames").
type contract struct{}

func (contract) greet(ctx context.Context, c *client, _ string) error {
	return c.expect(ctx, "connected") // the token went in the upgrade request
}

func (contract) appendEvent(dst []byte, event, data string, id int64) []byte {
	dst = append(dst, `{"event":`...)
	dst = strconv.AppendQuote(dst, event)
	if data != "" {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	if id > 0 {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendInt(dst, id, 10)
	}
	return append(dst, '}')
}

func (contract) parse(b []byte) frame {
	ev, _ := stringField(b, keyEvent)
	id, ok := intField(b, keyID, true)
	return frame{event: ev, body: b, id: id, hasID: ok}
}

func (contract) byID() bool { return true }

// socketIO is Socket.IO 5 over Engine.IO 4. Requests go without ack ids:
// NestJS's socket.io gateway answers them with events, as the gateway does
// when no ack is asked for, so replies are matched in order.
type socketIO struct{ ns string }

var engineIOPong = []byte("3")

func (p socketIO) greet(ctx context.Context, c *client, tok string) error {
	b, err := c.conn.Read(ctx)
	if err != nil {
		return fmt.Errorf("waiting for the Engine.IO open packet: %w", err)
	}
	if len(b) == 0 || b[0] != '0' {
		return fmt.Errorf("got %.120s, want the Engine.IO open packet", b)
	}
	connect := "40" + p.ns + `,{"token":` + strconv.Quote(tok) + "}"
	if err := c.conn.Write(ctx, []byte(connect)); err != nil {
		return fmt.Errorf("socket.io connect: %w", err)
	}
	return c.expect(ctx, "connected")
}

func (p socketIO) appendEvent(dst []byte, event, data string, _ int64) []byte {
	dst = append(dst, "42"...)
	dst = append(dst, p.ns...)
	dst = append(dst, `,[`...)
	dst = strconv.AppendQuote(dst, event)
	if data != "" {
		dst = append(dst, ',')
		dst = append(dst, data...)
	}
	return append(dst, ']')
}

// parse reads `2` (ping) and `4<type>[/ns,][ack id]<payload>` packets.
func (socketIO) parse(b []byte) frame {
	if len(b) == 1 && b[0] == '2' {
		return frame{answer: engineIOPong}
	}
	if len(b) < 2 || b[0] != '4' {
		return frame{}
	}
	typ, p := b[1], b[2:]
	if len(p) > 0 && p[0] == '/' {
		i := bytes.IndexByte(p, ',')
		if i < 0 {
			i = len(p) - 1
		}
		p = p[i+1:]
	}
	for len(p) > 0 && p[0] >= '0' && p[0] <= '9' {
		p = p[1:]
	}
	switch typ {
	case '2': // EVENT ["name", data]
		if len(p) < 2 || p[0] != '[' || p[1] != '"' {
			return frame{}
		}
		end := bytes.IndexByte(p[2:], '"')
		if end < 0 {
			return frame{}
		}
		return frame{event: p[2 : 2+end], body: p[2+end+1:]}
	case '4':
		return frame{event: []byte("connect_error"), body: p}
	case '1':
		return frame{event: []byte("disconnect"), body: p}
	}
	return frame{}
}

func (socketIO) byID() bool { return false }
