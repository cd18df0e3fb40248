// Package walletsim is a wallet server that speaks the wallet link
// (docs/wallet.md), for development, demos, tests and benchmarks.
//
// Its ledger lives in memory: every new user starts with the same balance,
// debits and credits are idempotent by txId, and a balance never goes
// negative. Each change is pushed as balanceChanged, with a pushId, on one
// gateway link: the one whose request caused it, else any one that said
// hello. A push the gateway has not acknowledged (pushAck) when its link
// drops, or made while no gateway is connected, is sent again, with the
// same pushId, on the next link that says hello (or at once on another link
// that is up).
package walletsim

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Currency of every balance; "USD" when empty.
	Currency string
	// InitialBalance is a new user's balance, in minor units.
	InitialBalance int64
	// MaxFrameBytes bounds a request; 1 MiB when zero.
	MaxFrameBytes int
	// Logger receives connection events; none when nil.
	Logger *zap.Logger
}

// codec is the wallet link's encoding, which the simulator speaks.
var codec walletproto.JSON

// ErrServerClosed is returned by Serve once Close has been called.
var ErrServerClosed = errors.New("walletsim: server closed")

// Server is a wallet simulator. Serve it on one or more listeners; the
// ledger is shared.
type Server struct {
	log      *zap.Logger
	max      int
	ledger   *ledger
	adminTxs atomic.Uint64 // numbers the txIds the admin endpoint makes up

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	links     map[*link]struct{}
	pushes    outbox
	wg        sync.WaitGroup // one per link
}

// link is one gateway connection. Its read goroutine answers requests; a
// second goroutine writes its queue, so replies and pushes are coalesced.
type link struct {
	conn    net.Conn
	out     *frame.Queue
	done    chan struct{}
	greeted bool // said hello: a gateway, fit for pushes; guarded by Server.mu
}

// New returns a Server with an empty ledger.
func New(opts Options) *Server {
	if opts.Currency == "" {
		opts.Currency = "USD"
	}
	if opts.MaxFrameBytes <= 0 {
		opts.MaxFrameBytes = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Server{
		log:       opts.Logger,
		max:       opts.MaxFrameBytes,
		ledger:    newLedger(opts.Currency, opts.InitialBalance),
		listeners: map[net.Listener]struct{}{},
		links:     map[*link]struct{}{},
		pushes:    newOutbox(),
	}
}

// Serve accepts gateway connections on ln until Close, then returns
// ErrServerClosed. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	s.log.Info("wallet simulator listening", zap.Stringer("addr", ln.Addr()),
		zap.String("currency", s.ledger.currency), zap.Int64("initialBalance", s.ledger.initial))
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.listeners, ln)
			s.mu.Unlock()
			ln.Close()
			if closed {
				return ErrServerClosed
			}
			return err
		}
		s.start(conn)
	}
}

// Close stops every listener and connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var err error
	for ln := range s.listeners {
		err = errors.Join(err, ln.Close())
	}
	for l := range s.links {
		l.conn.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *Server) start(conn net.Conn) {
	l := &link{conn: conn, out: frame.NewQueue(frame.LengthPrefix{}, s.max), done: make(chan struct{})}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		conn.Close()
		return
	}
	s.links[l] = struct{}{}
	s.wg.Add(1)
	go s.serve(l)
}

func (s *Server) serve(l *link) {
	defer s.wg.Done()
	log := s.log.With(zap.Stringer("remote", l.conn.RemoteAddr()))
	log.Info("gateway connected")
	var pump sync.WaitGroup
	pump.Go(func() {
		if err := l.out.Pump(l.conn, l.done); err != nil {
			l.conn.Close() // and the read loop ends
		}
	})
	err := s.read(l, log)
	s.mu.Lock()
	delete(s.links, l)
	s.pushes.lost(l)
	if target := s.pushTarget(nil); target != nil && !s.closed {
		s.resend(target)
	}
	s.mu.Unlock()
	close(l.done)
	l.conn.Close()
	pump.Wait()
	switch {
	case errors.Is(err, frame.ErrEmptyFrame), errors.Is(err, frame.ErrFrameTooLarge),
		errors.Is(err, walletproto.ErrMalformed):
		log.Warn("corrupt stream from gateway, connection dropped", zap.Error(err))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		log.Info("gateway disconnected")
	default:
		log.Info("gateway disconnected", zap.Error(err))
	}
}

// read answers requests until the stream ends or turns out corrupt.
func (s *Server) read(l *link, log *zap.Logger) error {
	fr := frame.LengthPrefix{}.NewReader(l.conn, s.max)
	var buf []byte // reused for every reply
	for {
		body, err := fr.ReadFrame()
		if err != nil {
			return err
		}
		if buf, err = s.handle(l, log, body, buf[:0]); err != nil {
			return err
		}
	}
}

// handle answers one request, encoding in buf. Its error means the
// connection must go.
func (s *Server) handle(l *link, log *zap.Logger, body, buf []byte) ([]byte, error) {
	var h walletproto.Header
	err := codec.Decode(body, &h)
	switch {
	case errors.Is(err, walletproto.ErrMalformed):
		return buf, err
	case h.Type == walletproto.TypePushAck:
		s.mu.Lock()
		s.pushes.ack(h.PushID)
		s.mu.Unlock()
		return buf, nil
	case h.RequestID == "":
		log.Warn("message without requestId ignored", zap.String("type", h.Type))
		return buf, nil
	case err != nil:
		return l.fail(buf, h, badRequest(err.Error()))
	}
	switch h.Type {
	case walletproto.TypeHello:
		var req walletproto.Hello
		if werr := decodeRequest(body, &req); werr != nil {
			return l.fail(buf, h, werr)
		}
		log.Info("gateway said hello", zap.String("nodeId", req.NodeID))
		buf, err := l.reply(buf, h)
		// After the reply, and before any new push can take the link, so
		// that the gateway gets the changes in the order they were made.
		s.mu.Lock()
		l.greeted = true
		s.resend(l)
		s.mu.Unlock()
		return buf, err
	case walletproto.TypePing:
		return l.reply(buf, h)
	case walletproto.TypeGetBalance:
		var req walletproto.GetBalance
		if werr := decodeRequest(body, &req); werr != nil {
			return l.fail(buf, h, werr)
		}
		if req.UserID == "" {
			return l.fail(buf, h, badRequest("userId is required"))
		}
		return l.reply(buf, h, s.Balance(req.UserID))
	case walletproto.TypeDebit, walletproto.TypeCredit:
		var req walletproto.Transfer
		if werr := decodeRequest(body, &req); werr != nil {
			return l.fail(buf, h, werr)
		}
		sign := int64(1)
		if h.Type == walletproto.TypeDebit {
			sign = -1
		}
		balance, changed, werr := s.ledger.apply(sign, req)
		if werr != nil {
			return l.fail(buf, h, werr)
		}
		buf, err := l.reply(buf, h, s.balanceOf(balance))
		if changed {
			s.push(l, req, balance)
		}
		return buf, err
	default:
		return l.fail(buf, h, &walletproto.Error{
			Code: walletproto.CodeUnknownType, Message: "unknown message type " + h.Type,
		})
	}
}

// decodeRequest decodes body into req; its error is the reply.
func decodeRequest(body []byte, req any) *walletproto.Error {
	if err := codec.Decode(body, req); err != nil {
		return badRequest(err.Error())
	}
	return nil
}

func (l *link) reply(buf []byte, h walletproto.Header, result ...any) ([]byte, error) {
	return l.send(buf, append([]any{h, walletproto.Status{OK: true}}, result...)...)
}

func (l *link) fail(buf []byte, h walletproto.Header, werr *walletproto.Error) ([]byte, error) {
	return l.send(buf, h, walletproto.Status{Error: werr})
}

// send encodes a message in buf and queues it.
func (l *link) send(buf []byte, parts ...any) ([]byte, error) {
	buf, err := codec.Append(buf, parts...)
	if err == nil {
		err = l.out.Push(buf)
	}
	return buf, err
}

// push sends balanceChanged on origin if it is still connected, else on any
// gateway; with none connected it waits for the next one.
func (s *Server) push(origin *link, t walletproto.Transfer, balance int64) {
	msg := walletproto.BalanceChanged{UserID: t.UserID, Balance: balance, Currency: s.ledger.currency, TxID: t.TxID}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, dropped := s.pushes.add(msg)
	if dropped != nil {
		s.log.Warn("too many pushes unacknowledged; the oldest is dropped",
			zap.String("pushId", dropped.id), zap.String("userId", dropped.msg.UserID), zap.Int("kept", maxUnacked))
	}
	target := s.pushTarget(origin)
	if target == nil {
		s.log.Debug("no gateway connected; balanceChanged kept for the next one", zap.String("userId", t.UserID))
		return
	}
	s.send(target, p)
}

// resend sends on l, which said hello, every push waiting for a link,
// oldest first. The caller holds s.mu.
func (s *Server) resend(l *link) {
	waiting := s.pushes.waiting()
	if len(waiting) == 0 {
		return
	}
	s.log.Info("unacknowledged pushes sent again", zap.Stringer("remote", l.conn.RemoteAddr()), zap.Int("pushes", len(waiting)))
	for _, p := range waiting {
		s.send(l, p)
	}
}

// send queues p on l. The caller holds s.mu.
func (s *Server) send(l *link, p *outPush) {
	p.on = l
	if _, err := l.send(nil, walletproto.Header{Type: walletproto.TypeBalanceChanged, PushID: p.id}, p.msg); err != nil {
		s.log.Error("balanceChanged not pushed", zap.String("userId", p.msg.UserID), zap.Error(err))
	}
}

// pushTarget returns origin if it is still connected, else a gateway that
// said hello, else nil. The caller holds s.mu.
func (s *Server) pushTarget(origin *link) *link {
	if _, ok := s.links[origin]; ok {
		return origin
	}
	for l := range s.links {
		if l.greeted {
			return l
		}
	}
	return nil
}

// Unacked counts the pushes no gateway has acknowledged yet.
func (s *Server) Unacked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pushes.unacked)
}

func (s *Server) balanceOf(balance int64) walletproto.Balance {
	return walletproto.Balance{Balance: balance, Currency: s.ledger.currency}
}

// Balance returns a user's balance.
func (s *Server) Balance(userID string) walletproto.Balance {
	return s.balanceOf(s.ledger.balance(userID))
}

// Debit applies a debit as if a gateway had asked, and pushes the change to
// a connected gateway. A refusal is a *walletproto.Error.
func (s *Server) Debit(t walletproto.Transfer) (walletproto.Balance, error) {
	return s.transfer(-1, t)
}

// Credit applies a credit as if a gateway had asked, and pushes the change
// to a connected gateway. A refusal is a *walletproto.Error.
func (s *Server) Credit(t walletproto.Transfer) (walletproto.Balance, error) {
	return s.transfer(1, t)
}

func (s *Server) transfer(sign int64, t walletproto.Transfer) (walletproto.Balance, error) {
	balance, changed, werr := s.ledger.apply(sign, t)
	if werr != nil {
		return walletproto.Balance{}, werr
	}
	if changed {
		s.push(nil, t, balance)
	}
	return s.balanceOf(balance), nil
}
