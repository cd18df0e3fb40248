package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gamegate/gamegate/pkg/socketio"
	"github.com/gamegate/gamegate/pkg/wsconn"
)

// polling is an Engine.IO session over HTTP long-polling, the transport a
// socket.io-client with default options begins with: the connection of its
// Client until the client upgrades to a WebSocket. The server's frames wait
// in its queue for the client's next GET, which takes them all; the
// client's POSTs bring its packets. It is a conn as a *wsconn.Conn is, with
// the same bounds (gateway.queueSize, gateway.maxQueueBytes), so the Client
// sees no difference; once upgraded it hands everything to the WebSocket.
//
// Its handler is called as a WebSocket's is: OnMessage and OnClose one at a
// time (reading), OnTimer from its timer, OnClose once, last.
type polling struct {
	sid       string
	srv       *Server
	remote    addr
	timer     *time.Timer
	closeSent chan struct{} // closed when the session ends

	// reading is held while a POST's packets are handled, and around the
	// upgrade and OnClose.
	reading sync.Mutex

	mu      sync.Mutex
	h       wsconn.Handler // set by Serve
	queue   [][]byte       // frames waiting for a GET
	queued  int64          // their bytes
	backlog int            // of them, frames sent as a backlog
	getting bool           // a GET is being answered
	waiter  chan struct{}  // closed when the waiting GET has something to take
	posting bool           // a POST is being handled
	probe   *wsconn.Conn   // a WebSocket offering to take the session over
	probed  bool           // it answered the client's probe: GETs no longer wait
	ws      *wsconn.Conn   // the WebSocket the session moved to
	closing bool           // nothing more is taken; the close packet follows the queue
	ended   bool
	cause   error          // why it ended, for OnClose
	serving bool           // Serve was called
	pending time.Duration  // a SetTimer before Serve
	slowDue bool           // a slow consumer found before Serve, for Serve to report
	slowOf  int            // and the frames it dropped
	ticks   sync.WaitGroup // OnTimer calls under way
}

// Engine.IO packets the session sends on its own, as frames of its queue.
var (
	closePacket = wsconn.TextFrame([]byte{socketio.EngineClose})
	noopPacket  = wsconn.TextFrame([]byte{socketio.EngineNoop})
)

// Why a polling session ended, besides the close handshake of a WebSocket
// (a *wsconn.CloseError: the server's Close) and wsconn's errors.
var (
	errPollClosed  = errors.New("engine.io: the client closed the session")
	errPollParse   = errors.New("engine.io: malformed payload")
	errPollOverlap = errors.New("engine.io: two requests of one kind at once")
	errPollLeft    = errors.New("engine.io: the client left a pending poll")
	errPollGone    = errors.New("engine.io: the client did not poll for its close packet")
)

func newPolling(s *Server, sid, remote string) *polling {
	p := &polling{sid: sid, srv: s, remote: addr(remote), closeSent: make(chan struct{})}
	p.timer = time.AfterFunc(time.Hour, p.tick)
	p.timer.Stop()
	return p
}

// Serve hands the session to h and starts its timer.
func (p *polling) Serve(h wsconn.Handler) {
	p.mu.Lock()
	p.h, p.serving = h, true
	if p.pending > 0 {
		p.timer.Reset(p.pending)
	}
	ended, slowDue, dropped := p.ended, p.slowDue, p.slowOf
	p.mu.Unlock()
	if slowDue {
		h.OnSlow(dropped)
	}
	if ended {
		p.closed()
	}
}

// Send queues frame for the next GET, or sends it on the WebSocket the
// session moved to. A frame that would pass the queue's bounds makes the
// client a slow consumer: its queue is dropped and the session closes.
func (p *polling) Send(frame []byte) bool { return p.send(frame, false) }

// send is Send, for a frame of a backlog or not (wsconn.Conn.SendBacklog):
// the backlog does not count against the queue's length until a GET takes
// it.
func (p *polling) send(frame []byte, backlog bool) bool {
	p.mu.Lock()
	if ws := p.ws; ws != nil {
		p.mu.Unlock()
		if backlog {
			return ws.SendBacklog(frame)
		}
		return ws.Send(frame) // after what the upgrade moved there
	}
	if p.closing {
		p.mu.Unlock()
		return false
	}
	cfg := &p.srv.cfg
	if (!backlog && len(p.queue)-p.backlog >= cfg.QueueSize) || p.queued+int64(len(frame)) > cfg.MaxQueueBytes {
		dropped := len(p.queue)
		p.drop()
		p.closeLocked(&wsconn.CloseError{Code: wsconn.StatusPolicyViolation, Reason: "slow consumer"}, nil)
		h := p.h
		if h == nil { // before Serve: Serve reports it
			p.slowDue, p.slowOf = true, dropped
		}
		p.mu.Unlock()
		if h != nil {
			h.OnSlow(dropped)
		}
		return false
	}
	p.queue = append(p.queue, frame)
	p.queued += int64(len(frame))
	if backlog {
		p.backlog++
	}
	p.wake()
	p.mu.Unlock()
	return true
}

// Close queues final, if not nil, after what is queued, then the close
// packet; the session ends when a GET takes that, or after the ping
// timeout if none comes.
func (p *polling) Close(code wsconn.StatusCode, reason string, final []byte) {
	p.mu.Lock()
	if ws := p.ws; ws != nil {
		p.mu.Unlock()
		ws.Close(code, reason, final)
		return
	}
	if !p.closing {
		p.closeLocked(&wsconn.CloseError{Code: code, Reason: reason}, final)
	}
	cause := p.cause
	p.mu.Unlock()
	if p.srv.pollsReleased() { // the HTTP server stopped: no GET will come
		p.end(cause, nil)
	}
}

// closeLocked queues final, under mu; the close packet follows it.
func (p *polling) closeLocked(cause error, final []byte) {
	p.closing, p.cause = true, cause
	if final != nil {
		p.queue = append(p.queue, final)
	}
	p.arm(p.srv.cfg.PongTimeout)
	p.wake()
}

// Abort ends the session at once: a pending GET gets the close packet,
// and what was queued is dropped.
func (p *polling) Abort() {
	if ws := p.end(wsconn.ErrAborted, closePacket); ws != nil {
		ws.Abort()
	}
}

// SetTimer makes OnTimer run once after d, as wsconn.Conn's does.
func (p *polling) SetTimer(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws == nil && !p.closing {
		p.arm(d)
	}
}

// arm sets the timer, under mu.
func (p *polling) arm(d time.Duration) {
	if p.serving {
		p.timer.Reset(d)
	} else {
		p.pending = d
	}
}

// Closing reports whether the session takes no more frames.
func (p *polling) Closing() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws != nil {
		return p.ws.Closing()
	}
	return p.closing
}

// CloseSent is closed once the session has ended.
func (p *polling) CloseSent() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ws != nil {
		return p.ws.CloseSent()
	}
	return p.closeSent
}

// RemoteAddr is the address the handshake came from.
func (p *polling) RemoteAddr() net.Addr { return p.remote }

// tick runs on the timer: the handler's, or the end of the wait for a GET
// to take the close packet.
func (p *polling) tick() {
	p.mu.Lock()
	switch {
	case p.ws != nil || p.ended:
		p.mu.Unlock()
		return
	case p.closing:
		p.mu.Unlock()
		p.end(errPollGone, nil)
		return
	}
	p.ticks.Add(1)
	h := p.h
	p.mu.Unlock()
	defer p.ticks.Done()
	h.OnTimer()
}

// get answers a GET: what waits for the client, at once or as soon as
// there is something. The wait ends with ctx: when its deadline passes
// (a GET relayed from another node) the answer is a noop; when it is
// cancelled the client has left, which ends the session, as engine.io
// does. Closing, the close packet comes alone, in the answer after the
// last frames: socket.io-client handles a payload's packets in one go but
// Socket.IO's on the next tick, so a DISCONNECT beside the close packet
// would come too late.
func (p *polling) get(ctx context.Context) PollAnswer {
	p.mu.Lock()
	switch {
	case p.ws != nil:
		p.mu.Unlock()
		return badRequest
	case p.getting:
		p.mu.Unlock()
		p.end(errPollOverlap, closePacket)
		return PollAnswer{Status: 400}
	case p.ended && len(p.queue) == 0:
		p.mu.Unlock()
		return unknownSession
	}
	p.getting = true
	waited := false
	if len(p.queue) == 0 && !p.closing && !p.probed && !p.srv.pollsReleased() {
		waited = true
		wake := make(chan struct{})
		p.waiter = wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-p.srv.released:
		case <-ctx.Done():
		}
		p.mu.Lock()
		p.waiter = nil
		if errors.Is(ctx.Err(), context.Canceled) {
			p.getting = false
			p.mu.Unlock()
			p.end(errPollLeft, nil)
			return PollAnswer{}
		}
	}
	frames := p.queue
	p.queue, p.queued, p.backlog, p.getting = nil, 0, 0, false
	closeNow := len(frames) == 0 && p.closing && !p.ended
	cause := p.cause
	p.mu.Unlock()
	if !closeNow {
		return pollAnswer(frames)
	}
	p.end(cause, nil)
	if waited { // as engine.io answers: a waiting poll at once, a later one after a noop
		return pollAnswer([][]byte{closePacket})
	}
	return pollAnswer([][]byte{noopPacket, closePacket})
}

// post hands the packets of a POST's payload to the handler, in order.
// A packet that is not Engine.IO's ends the session, as engine.io does,
// though the POST is answered "ok".
func (p *polling) post(body []byte) PollAnswer {
	p.mu.Lock()
	switch {
	case p.ws != nil:
		p.mu.Unlock()
		return badRequest
	case p.posting:
		p.mu.Unlock()
		p.end(errPollOverlap, closePacket)
		return PollAnswer{Status: 400}
	}
	p.posting = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.posting = false
		p.mu.Unlock()
	}()
	p.reading.Lock()
	defer p.reading.Unlock()
	if !utf8.Valid(body) { // as Node.js reads it
		body = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	for packet := range bytes.SplitSeq(body, []byte{socketio.Separator}) {
		p.mu.Lock()
		h, stop := p.h, p.closing || p.ws != nil
		p.mu.Unlock()
		if stop {
			break // messages that come once the session closes are not handled
		}
		switch {
		case len(packet) > 0 && packet[0] == 'b': // a binary message, in base64
			data, err := base64.StdEncoding.DecodeString(string(packet[1:]))
			if err != nil {
				p.end(errPollParse, closePacket)
				return postOK
			}
			h.OnMessage(wsconn.OpBinary, data)
		case len(packet) == 0 || packet[0] < socketio.EngineOpen || packet[0] > socketio.EngineNoop:
			p.end(errPollParse, closePacket)
			return postOK
		case packet[0] == socketio.EngineClose:
			p.end(errPollClosed, noopPacket)
			return postOK
		default:
			h.OnMessage(wsconn.OpText, packet)
		}
	}
	return postOK
}

// movable reports whether a WebSocket may offer to take the session over:
// not once the session closes or has moved, nor while another one is
// trying.
func (p *polling) movable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.movableLocked()
}

func (p *polling) movableLocked() bool { return !p.closing && p.ws == nil && p.probe == nil }

// offer makes ws the WebSocket that may take the session over, and reports
// whether it may (movable).
func (p *polling) offer(ws *wsconn.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.movableLocked() {
		return false
	}
	p.probe = ws
	return true
}

// probedBy records that ws answered the client's probe: GETs are answered
// at once from now on, a waiting one with a noop, so that the client can
// pause polling and upgrade.
func (p *polling) probedBy(ws *wsconn.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probe == ws {
		p.probed = true
		p.wake()
	}
}

// withdraw forgets ws, a WebSocket that ended before it took the session
// over: GETs wait again.
func (p *polling) withdraw(ws *wsconn.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.probe == ws {
		p.probe, p.probed = nil, false
	}
}

// upgrade moves the session to ws, whose client sent the upgrade packet:
// what waits for a GET is sent there first, then whatever comes, so that
// nothing is lost, doubled or reordered; a GET still waiting gets a noop.
// It reports false when the session closes meanwhile. When it returns, the
// handler's timer ticks have ended: the WebSocket's timer serves it now.
func (p *polling) upgrade(ws *wsconn.Conn) bool {
	p.reading.Lock()
	defer p.reading.Unlock()
	p.mu.Lock()
	if p.closing || p.probe != ws {
		p.mu.Unlock()
		return false
	}
	p.ws, p.probe = ws, nil
	p.timer.Stop()
	for _, f := range p.queue {
		ws.SendBacklog(f) // what the client was owed, all at once
	}
	p.drop()
	p.wake()
	p.mu.Unlock()
	p.ticks.Wait()
	return true
}

// end ends the session now: last, if not nil, is all a pending or later
// GET still gets. A session that moved to a WebSocket does not end here:
// end returns that WebSocket.
func (p *polling) end(cause error, last []byte) *wsconn.Conn {
	p.mu.Lock()
	if p.ended || p.ws != nil {
		ws := p.ws
		p.mu.Unlock()
		return ws
	}
	p.ended, p.closing, p.cause = true, true, cause
	p.drop()
	if last != nil {
		p.queue = append(p.queue, last)
	}
	p.wake()
	p.timer.Stop()
	probe, serving := p.probe, p.serving
	p.mu.Unlock()
	close(p.closeSent)
	if probe != nil {
		probe.Abort()
	}
	if serving {
		p.closed()
	}
	return nil
}

// closed tells the handler the session has ended, once no POST is being
// handled.
func (p *polling) closed() {
	go func() {
		p.reading.Lock()
		defer p.reading.Unlock()
		p.h.OnClose(p.cause)
	}()
}

// drop empties the queue, under mu.
func (p *polling) drop() {
	clear(p.queue)
	p.queue, p.queued, p.backlog = p.queue[:0], 0, 0
}

// wake hands the waiting GET what there is, under mu.
func (p *polling) wake() {
	if p.waiter != nil {
		close(p.waiter)
		p.waiter = nil
	}
}

// addr is a client's address as net/http gives it.
type addr string

func (addr) Network() string  { return "tcp" }
func (a addr) String() string { return string(a) }
