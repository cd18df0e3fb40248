package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// msgConn is a client's WebSocket connection as the scenarios use it:
// coder/websocket's (the goroutine reader's, the check clients' and the
// stalled clients'), or ownConn (the epoll reader's).
type msgConn interface {
	// Read returns the next text message: the connect phase's reads, before
	// a reader takes the connection over.
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, msg []byte) error
	CloseNow() error
}

// coderConn is a coder/websocket connection as a msgConn.
type coderConn struct{ ws *websocket.Conn }

func (c coderConn) Read(ctx context.Context) ([]byte, error) {
	_, b, err := c.ws.Read(ctx)
	return b, err
}

func (c coderConn) Write(ctx context.Context, msg []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, msg)
}

func (c coderConn) CloseNow() error { return c.ws.CloseNow() }

// ownConn is the load generator's own client side of RFC 6455, as much of
// it as a reader of the gateway and of NestJS needs: the epoll reader parses
// frames out of whatever one read of a socket returned, which no
// WebSocket library's blocking Read lets it do. It speaks through the
// handshake's net.Conn until the epoll reader hands the socket over
// (handOver); from then on through sock, outside Go's netpoller.
type ownConn struct {
	mu   sync.Mutex // writes (the requester's, and pongs from the reader), and the handover
	nc   net.Conn
	in   *bufio.Reader // the handshake's reader: bytes read after the 101 are the stream's first
	sock socket        // after the handover
	wbuf []byte

	// The reader's alone: bytes read and not yet a whole frame, and a
	// fragmented message's parts so far.
	pending, frag []byte
}

// socket is a client's bare socket once the epoll reader has it.
type socket interface {
	write(b []byte, timeout time.Duration) error
	close() error
}

// The opcodes of RFC 6455, section 5.2.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xa
)

// maxFrame bounds a frame's announced length: more is a broken stream.
const maxFrame = 1 << 30

// pongTimeout bounds the write of a pong from the epoll reader, which
// meanwhile reads nothing: a few bytes into a socket that is being read
// from at the other end, which in practice never waits.
const pongTimeout = 5 * time.Second

// acceptGUID is the key suffix of RFC 6455, section 1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dialOwn runs the opening handshake to wsURL through hc's RoundTripper (the
// upgrader, which hands the connection over as the 101's body).
func dialOwn(ctx context.Context, hc *http.Client, wsURL string, header http.Header) (*ownConn, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wsURL, nil)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req.Header = header.Clone()
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", key)
	resp, err := hc.Transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	up, ok := resp.Body.(*upgraded)
	if resp.StatusCode != http.StatusSwitchingProtocols || !ok {
		resp.Body.Close()
		return nil, fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
	}
	sum := sha1.Sum([]byte(key + acceptGUID))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(sum[:]) {
		up.Close()
		return nil, errors.New("handshake: wrong Sec-WebSocket-Accept")
	}
	return &ownConn{nc: up.Conn, in: up.in}, nil
}

// Read is for the connect phase: it reads until a whole message is in.
func (c *ownConn) Read(ctx context.Context) ([]byte, error) {
	if d, ok := ctx.Deadline(); ok {
		_ = c.nc.SetReadDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	for {
		msg, used, err := c.next(c.pending)
		c.pending = c.pending[used:]
		if err != nil || msg != nil {
			return bytes.Clone(msg), err // the caller keeps it; pending moves on
		}
		c.pending = slices.Grow(c.pending, 4<<10)
		n, err := c.in.Read(c.pending[len(c.pending):cap(c.pending)])
		c.pending = c.pending[:len(c.pending)+n]
		if err != nil {
			return nil, err
		}
	}
}

func (c *ownConn) Write(ctx context.Context, msg []byte) error {
	timeout := pongTimeout
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	return c.writeFrame(opText, msg, timeout)
}

// writeFrame writes one masked frame.
func (c *ownConn) writeFrame(op byte, payload []byte, timeout time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = appendClientFrame(c.wbuf[:0], op, payload)
	if c.sock != nil {
		return c.sock.write(c.wbuf, timeout)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	_, err := c.nc.Write(c.wbuf)
	return err
}

func (c *ownConn) CloseNow() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sock != nil {
		return c.sock.close()
	}
	return c.nc.Close()
}

// appendClientFrame appends a whole frame: a client masks what it sends
// (RFC 6455, section 5.3).
func appendClientFrame(dst []byte, op byte, payload []byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = binary.BigEndian.AppendUint16(append(dst, 0x80|126), uint16(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 0x80|127), uint64(n))
	}
	var key [4]byte
	binary.NativeEndian.PutUint32(key[:], mrand.Uint32())
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range dst[start:] {
		dst[start+i] ^= key[i&3]
	}
	return dst
}

// parseFrame reads the server frame at the start of b: n is 0 when b does
// not hold all of it yet.
func parseFrame(b []byte) (op byte, fin bool, payload []byte, n int, err error) {
	if len(b) < 2 {
		return 0, false, nil, 0, nil
	}
	if b[1]&0x80 != 0 {
		return 0, false, nil, 0, errors.New("the server masked a frame")
	}
	size, head := uint64(b[1]&0x7f), 2
	switch size {
	case 126:
		if len(b) < 4 {
			return 0, false, nil, 0, nil
		}
		size, head = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, false, nil, 0, nil
		}
		size, head = binary.BigEndian.Uint64(b[2:]), 10
	}
	if size > maxFrame {
		return 0, false, nil, 0, fmt.Errorf("a frame of %d bytes", size)
	}
	if uint64(len(b)-head) < size {
		return 0, false, nil, 0, nil
	}
	end := head + int(size)
	return b[0] & 0x0f, b[0]&0x80 != 0, b[head:end], end, nil
}

// next takes the first whole message out of b, answering pings and
// skipping pongs on the way. msg is nil when b ends before a message does;
// used is how much of b was taken either way. msg may point into b.
func (c *ownConn) next(b []byte) (msg []byte, used int, err error) {
	for {
		op, fin, payload, n, err := parseFrame(b[used:])
		if err != nil || n == 0 {
			return nil, used, err
		}
		used += n
		switch op {
		case opText, opBinary, opContinuation:
			if fin && len(c.frag) == 0 {
				return payload, used, nil
			}
			c.frag = append(c.frag, payload...)
			if fin {
				msg, c.frag = c.frag, nil
				return msg, used, nil
			}
		case opPing:
			if err := c.writeFrame(opPong, payload, pongTimeout); err != nil {
				return nil, used, fmt.Errorf("answering a ping: %w", err)
			}
		case opPong:
		case opClose:
			if len(payload) >= 2 {
				return nil, used, fmt.Errorf("the server closed the connection: %d %s", binary.BigEndian.Uint16(payload), payload[2:])
			}
			return nil, used, errors.New("the server closed the connection")
		default:
			return nil, used, fmt.Errorf("a frame with opcode %d", op)
		}
	}
}
