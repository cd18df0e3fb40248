package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Socket.IO clients on HTTP long-polling (--transport polling) speak
// Engine.IO 4 without ever upgrading, as socket.io-client with
// transports: ['polling'] does: a handshake GET answered with the open
// packet, then GETs that wait until the server has something and take every
// packet waiting, separated by the record separator, and POSTs that bring
// the client's packets (the CONNECT, joinRoom, the heartbeat's 3). The
// packets are the same as over a WebSocket, so the socketIO protocol reads
// them and the shard handles them as any frame: pollConn is a msgConn.

// pollConn is one client's long-polling session. Its requests go one at a
// time over one keep-alive connection of its own, written and read here:
// the request is a line and a header or two, and net/http's Transport would
// put two goroutines and a channel hand-off or two behind every poll, which
// the load generator pays for each delivery of a steady fan-out. One
// request at a time suits the scenarios that poll: a client POSTs only
// between its GETs (its CONNECT and join, and the answer to a ping), never
// while one waits.
type pollConn struct {
	dial func(ctx context.Context) (net.Conn, error)
	// host is the Host header; target the request target of the session's
	// requests, its sid included.
	host, target string
	// wait bounds a GET of the reader's: the server's heartbeat comes
	// within pingInterval, and its ping timeout is the grace.
	wait time.Duration

	mu    sync.Mutex // one request at a time
	nc    net.Conn   // nil: dial at the next request
	br    *bufio.Reader
	wbuf  []byte
	got   []byte   // the body of the last GET's answer
	pkts  [][]byte // its packets, pointing into got
	ahead [][]byte // those not yet taken, a tail of pkts
	ok    []byte   // the body of the last POST's answer

	cmu    sync.Mutex // guards closed and cur: CloseNow does not wait for a GET
	closed bool
	cur    net.Conn
}

// recordSeparator joins the packets of a long-polling payload.
const recordSeparator = '\x1e'

// errSessionClosed is the close packet 1: the server ended the session.
var errSessionClosed = errors.New("the server closed the Engine.IO session")

// engineOpen is what the load generator needs of the Engine.IO open packet.
type engineOpen struct {
	SID          string `json:"sid"`
	PingInterval int64  `json:"pingInterval"` // ms
	PingTimeout  int64  `json:"pingTimeout"`  // ms
}

// dialPolling opens a session at pollURL (http://host/socket.io/?EIO=4&
// transport=polling) through connections from d; the handshake GET carries
// header. The open packet is the first packet Read returns, as it is a
// WebSocket's first frame.
func dialPolling(ctx context.Context, d *net.Dialer, pollURL string, header http.Header) (*pollConn, error) {
	u, err := url.Parse(pollURL)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	p := &pollConn{
		dial:   func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", u.Host) },
		host:   u.Host,
		target: u.RequestURI(),
	}
	status, err := p.roundTrip(ctx, http.MethodGet, nil, header, &p.got)
	if err != nil {
		_ = p.CloseNow()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	if status != http.StatusOK {
		_ = p.CloseNow()
		return nil, fmt.Errorf("handshake: HTTP %d: %.120s", status, p.got)
	}
	p.pkts = splitPackets(p.pkts[:0], p.got)
	p.ahead = p.pkts
	var open engineOpen
	if len(p.ahead[0]) == 0 || p.ahead[0][0] != '0' || json.Unmarshal(p.ahead[0][1:], &open) != nil || open.SID == "" {
		_ = p.CloseNow()
		return nil, fmt.Errorf("handshake: got %.120s, want the Engine.IO open packet", p.got)
	}
	p.target += "&sid=" + url.QueryEscape(open.SID)
	p.wait = time.Duration(open.PingInterval+open.PingTimeout) * time.Millisecond
	if p.wait <= 0 {
		p.wait = time.Minute
	}
	return p, nil
}

// splitPackets appends the packets of a long-polling payload to dst.
func splitPackets(dst [][]byte, payload []byte) [][]byte {
	for pkt := range bytes.SplitSeq(payload, []byte{recordSeparator}) {
		dst = append(dst, pkt)
	}
	return dst
}

// isClosePacket tells Engine.IO's close packet.
func isClosePacket(pkt []byte) bool { return len(pkt) == 1 && pkt[0] == '1' }

// Read is for the connect phase: the next packet, from what the last GET
// brought or from a new one.
func (p *pollConn) Read(ctx context.Context) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ahead) == 0 {
		if err := p.get(ctx); err != nil {
			return nil, err
		}
	}
	pkt := p.ahead[0]
	p.ahead = p.ahead[1:]
	if isClosePacket(pkt) {
		return nil, errSessionClosed
	}
	return bytes.Clone(pkt), nil // the next GET reuses got
}

// poll is the reader's: the packets one GET brought (or what the connect
// phase left of the last one), valid until the next call.
func (p *pollConn) poll() ([][]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ahead) == 0 {
		if err := p.get(context.Background()); err != nil {
			return nil, err
		}
	}
	packets := p.ahead
	p.ahead = nil
	return packets, nil
}

// get makes one GET, under mu, and puts its packets in ahead.
func (p *pollConn) get(ctx context.Context) error {
	status, err := p.roundTrip(ctx, http.MethodGet, nil, nil, &p.got)
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("poll: HTTP %d: %.120s", status, p.got)
	}
	p.pkts = splitPackets(p.pkts[:0], p.got)
	p.ahead = p.pkts
	return nil
}

// Write POSTs one packet.
func (p *pollConn) Write(ctx context.Context, msg []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	status, err := p.roundTrip(ctx, http.MethodPost, msg, nil, &p.ok)
	if err != nil {
		return fmt.Errorf("POST: %w", err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("POST: HTTP %d: %.120s", status, p.ok)
	}
	return nil
}

// CloseNow closes the connection, also under a GET that waits: the server
// ends a session whose client left a pending poll.
func (p *pollConn) CloseNow() error {
	p.cmu.Lock()
	p.closed = true
	nc := p.cur
	p.cmu.Unlock()
	if nc != nil {
		return nc.Close()
	}
	return nil
}

// roundTrip makes one request, under mu (or before the conn is shared),
// and reads its answer's body into *body. It is bounded by ctx's deadline,
// else by wait for a GET and pongTimeout for a POST. A broken connection is
// closed, and the next request dials again.
func (p *pollConn) roundTrip(ctx context.Context, method string, payload []byte, header http.Header, body *[]byte) (status int, err error) {
	if p.nc == nil {
		if err := p.connect(ctx); err != nil {
			return 0, err
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(pongTimeout)
		if method == http.MethodGet && p.wait > 0 {
			deadline = time.Now().Add(p.wait)
		}
	}
	nc := p.nc
	_ = nc.SetDeadline(deadline)
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
		defer stop()
	}
	defer func() {
		if err != nil {
			_ = nc.Close()
			p.nc, p.br = nil, nil
		}
	}()

	w := append(p.wbuf[:0], method...)
	w = append(w, ' ')
	w = append(w, p.target...)
	w = append(w, " HTTP/1.1\r\nHost: "...)
	w = append(w, p.host...)
	w = append(w, "\r\n"...)
	for k, vs := range header {
		for _, v := range vs {
			w = append(w, k...)
			w = append(w, ": "...)
			w = append(w, v...)
			w = append(w, "\r\n"...)
		}
	}
	if method == http.MethodPost {
		w = append(w, "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: "...)
		w = strconv.AppendInt(w, int64(len(payload)), 10)
		w = append(w, "\r\n"...)
	}
	w = append(w, "\r\n"...)
	w = append(w, payload...)
	p.wbuf = w
	if _, err := nc.Write(w); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		return 0, err
	}
	*body, err = readBody((*body)[:0], resp)
	resp.Body.Close()
	if err != nil {
		return 0, err
	}
	if resp.Close {
		_ = nc.Close()
		p.nc, p.br = nil, nil
	}
	return resp.StatusCode, nil
}

// connect dials the session's connection, unless CloseNow came first.
func (p *pollConn) connect(ctx context.Context) error {
	nc, err := p.dial(ctx)
	if err != nil {
		return err
	}
	p.cmu.Lock()
	closed := p.closed
	if !closed {
		p.cur = nc
	}
	p.cmu.Unlock()
	if closed {
		_ = nc.Close()
		return net.ErrClosed
	}
	p.nc = nc
	if p.br == nil {
		p.br = bufio.NewReaderSize(nc, 16<<10)
	}
	p.br.Reset(nc)
	return nil
}

// readBody appends resp's body to dst.
func readBody(dst []byte, resp *http.Response) ([]byte, error) {
	if n := resp.ContentLength; n > 0 {
		dst = slices.Grow(dst, int(n))
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := resp.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// readPolls is a polling client's reader: GET after GET until the
// connection ends, each packet handled as a WebSocket client's frame is
// (a ping's answer POSTed before the next GET), at the time the GET's
// answer was in.
func (s *Shard) readPolls(c *client, p *pollConn) {
	for {
		packets, err := p.poll()
		if err != nil {
			s.lost(c, err)
			return
		}
		now := time.Now()
		for _, pkt := range packets {
			if isClosePacket(pkt) {
				s.lost(c, errSessionClosed)
				return
			}
			s.handle(c, pkt, now)
		}
	}
}
