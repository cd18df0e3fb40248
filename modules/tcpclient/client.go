// Package tcpclient is the gateway's side of the wallet link (docs/wallet.md):
// one long-lived connection, redialled with backoff, carrying
// pipelined requests correlated by requestId, and pushes dispatched by type.
package tcpclient

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/logging"
	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/redial"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Errors of Call besides the wallet's own *walletproto.Error and the
// context's.
var (
	// ErrConnectionLost: the link dropped while the request was in flight.
	// The wallet may or may not have applied it; the client never resends.
	ErrConnectionLost = errors.New("connection lost")
	// ErrUnavailable: no link came up before the call's deadline.
	ErrUnavailable = errors.New("wallet unavailable")
	// ErrClosed: the client is shutting down.
	ErrClosed = errors.New("wallet client closed")
)

// Client is the wallet link. Its methods are safe for concurrent use.
type Client struct {
	cfg      config.Wallet
	nodeID   string
	log      *zap.Logger
	msgLog   *zap.Logger // sampled: for lines written once per message
	framing  frame.Framing
	codec    walletproto.Codec
	dial     dialFunc
	handlers map[string][]PushHandler

	ctx       context.Context // cancelled to stop the dial loop
	cancel    context.CancelFunc
	closing   chan struct{} // closed when shutdown starts: no new calls
	closeOnce sync.Once
	startOnce sync.Once
	done      chan struct{} // closed when the dial loop has stopped

	mu   sync.Mutex
	up   chan struct{}        // closed while a link is up
	link atomic.Pointer[link] // the link that is up, if any

	pushes     recentPushes
	metrics    Metrics
	state      atomic.Int32
	subs       subscribers
	reconnects atomic.Uint64
	inflight   atomic.Int64
}

// Option changes how a Client speaks to the wallet.
type Option func(*Client)

// WithFraming replaces the default length-prefixed framing.
func WithFraming(f frame.Framing) Option { return func(c *Client) { c.framing = f } }

// WithCodec replaces the default JSON encoding.
func WithCodec(cd walletproto.Codec) Option { return func(c *Client) { c.codec = cd } }

// WithMetrics reports every call's outcome and latency to m.
func WithMetrics(m Metrics) Option { return func(c *Client) { c.metrics = m } }

// New returns a Client for the wallet at cfg.Addr(); zero fields of cfg
// take the defaults of config.Default. It does not connect until Start.
// handlers receive the pushes of their type.
func New(cfg config.Wallet, log *zap.Logger, handlers []PushHandler, opts ...Option) (*Client, error) {
	cfg = withDefaults(cfg)
	dial, err := newDialer(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		cfg:      cfg,
		nodeID:   cfg.Node(),
		log:      log.Named("wallet").With(zap.String("addr", cfg.Addr())),
		framing:  frame.LengthPrefix{},
		codec:    walletproto.JSON{},
		dial:     dial,
		handlers: map[string][]PushHandler{},
		ctx:      ctx,
		cancel:   cancel,
		closing:  make(chan struct{}),
		done:     make(chan struct{}),
		up:       make(chan struct{}),
	}
	c.msgLog = logging.Sampled(c.log, time.Second)
	for _, h := range handlers {
		c.handlers[h.PushType()] = append(c.handlers[h.PushType()], h)
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// withDefaults fills the fields of cfg left zero with config.Default's.
func withDefaults(cfg config.Wallet) config.Wallet {
	d := config.Default().Wallet
	cfg.Host = cmp.Or(cfg.Host, d.Host)
	orDefault(&cfg.Port, d.Port)
	orDefault(&cfg.MaxFrameBytes, d.MaxFrameBytes)
	orDefault(&cfg.PingInterval, d.PingInterval)
	orDefault(&cfg.PongTimeout, d.PongTimeout)
	orDefault(&cfg.CallTimeout, d.CallTimeout)
	orDefault(&cfg.BackoffMin, d.BackoffMin)
	orDefault(&cfg.BackoffMax, d.BackoffMax)
	return cfg
}

// orDefault replaces a value that is not positive.
func orDefault[T int | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// Start brings the link up in the background and returns at once; the
// link redials whenever it drops, until Shutdown.
func (c *Client) Start() {
	c.startOnce.Do(func() { go c.run() })
}

// Shutdown refuses new calls, lets the calls in flight finish until ctx
// ends, then closes the link and waits for the client's goroutines. It
// returns ctx's error if calls were still in flight.
func (c *Client) Shutdown(ctx context.Context) error {
	c.closeOnce.Do(func() { close(c.closing) })
	err := c.drain(ctx)
	c.cancel()
	c.startOnce.Do(func() { close(c.done) }) // never started: nothing to wait for
	<-c.done
	return err
}

// Close closes the link at once: calls in flight fail with
// ErrConnectionLost.
func (c *Client) Close() error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = c.Shutdown(ctx)
	return nil
}

// drain waits for the calls in flight, polling like http.Server.Shutdown.
func (c *Client) drain(ctx context.Context) error {
	wait := time.Millisecond
	for c.inflight.Load() > 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wallet calls still in flight: %w", ctx.Err())
		case <-time.After(wait):
			wait = min(2*wait, 50*time.Millisecond)
		}
	}
	return nil
}

// State returns the link's current state.
func (c *Client) State() State { return State(c.state.Load()) }

// Subscribe calls f with each later state change, in order, until cancel
// is called. f runs on the client's dial loop and must not block.
func (c *Client) Subscribe(f func(State)) (cancel func()) { return c.subs.add(f) }

// Reconnects counts the redials scheduled after a failed dial or a dropped
// link.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

// Call sends req and waits for its reply, pipelined with every other call
// on the one connection. The reply's fields are decoded into result unless
// it is nil. A ctx without a deadline gets cfg.CallTimeout.
//
// While the link is down Call waits for it, until the deadline
// (ErrUnavailable). A refusal by the wallet is a *walletproto.Error; a link
// dropped in flight is ErrConnectionLost. Call never resends a request.
func (c *Client) Call(ctx context.Context, req walletproto.Message, result any) (err error) {
	c.inflight.Add(1)
	defer c.inflight.Add(-1)
	if c.metrics != nil {
		start := time.Now()
		defer func() { c.metrics.CallDone(req.MessageType(), time.Since(start), err) }()
	}
	select {
	case <-c.closing:
		return ErrClosed
	default:
	}
	cl := getCall()
	defer recycle(cl)
	d := deadline{ctx: ctx}
	if _, ok := ctx.Deadline(); !ok {
		cl.timer.Reset(c.cfg.CallTimeout)
		defer cl.timer.Stop()
		d.expired = cl.timer.C
	}
	for {
		l, err := c.waitUp(d)
		if err != nil {
			return err
		}
		if err := l.call(d, cl, req, result); !errors.Is(err, errNotSent) {
			return err
		}
	}
}

// GetBalance returns a user's balance.
func (c *Client) GetBalance(ctx context.Context, userID string) (walletproto.Balance, error) {
	return c.balanceCall(ctx, walletproto.GetBalance{UserID: userID})
}

// Debit takes t.Amount from a user and returns the new balance. Retrying
// with the same t.TxID is safe: the wallet applies it once.
func (c *Client) Debit(ctx context.Context, t walletproto.Transfer) (walletproto.Balance, error) {
	return c.balanceCall(ctx, walletproto.Debit(t))
}

// Credit gives t.Amount to a user and returns the new balance. Retrying
// with the same t.TxID is safe: the wallet applies it once.
func (c *Client) Credit(ctx context.Context, t walletproto.Transfer) (walletproto.Balance, error) {
	return c.balanceCall(ctx, walletproto.Credit(t))
}

func (c *Client) balanceCall(ctx context.Context, req walletproto.Message) (walletproto.Balance, error) {
	var b walletproto.Balance
	err := c.Call(ctx, req, &b)
	return b, err
}

// waitUp returns the link that is up, waiting for one until d.
func (c *Client) waitUp(d deadline) (*link, error) {
	for {
		if l := c.link.Load(); l != nil {
			return l, nil
		}
		c.mu.Lock()
		up := c.up
		c.mu.Unlock()
		select {
		case <-up:
			continue
		case <-c.closing:
			return nil, ErrClosed
		case <-d.ctx.Done():
		case <-d.expired:
		}
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, d.err())
	}
}

// linkUp hands l to callers and wakes those waiting, unless l has failed
// already; a failure after this point takes l back in linkDown.
func (c *Client) linkUp(l *link) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.cause() != nil {
		return false
	}
	c.link.Store(l)
	close(c.up)
	return true
}

// linkDown stops handing l to callers, if it is the current link.
func (c *Client) linkDown(l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.link.CompareAndSwap(l, nil) {
		c.up = make(chan struct{})
	}
}

// run is the dial loop: connect, serve until the link drops, wait out the
// backoff, again, until the client closes.
func (c *Client) run() {
	defer close(c.done)
	b := redial.New(c.cfg.BackoffMin, c.cfg.BackoffMax)
	for attempt := 1; ; attempt++ {
		c.setState(Connecting)
		c.log.Info("wallet link connecting", zap.Int("attempt", attempt))
		l, err := c.connect()
		fields := []zap.Field{zap.Int("attempt", attempt)}
		if err == nil {
			b.Reset()
			attempt, fields = 0, nil
			if c.linkUp(l) {
				c.setState(Up)
				c.log.Info("wallet link up", zap.String("nodeId", c.nodeID))
			}
			select {
			case <-l.done:
			case <-c.ctx.Done():
			}
			l.close(ErrClosed)
			err = l.cause()
		}
		if c.ctx.Err() != nil {
			c.setState(Down)
			c.log.Info("wallet link closed")
			return
		}
		delay := b.Next()
		c.reconnects.Add(1)
		c.setState(Down)
		fields = append(fields, zap.Error(err), zap.Duration("retryIn", delay))
		if errors.Is(err, errCorrupt) {
			c.log.Error("wallet link down: corrupt stream, connection dropped", fields...)
		} else {
			c.log.Warn("wallet link down", fields...)
		}
		select {
		case <-time.After(delay):
		case <-c.ctx.Done():
			c.log.Info("wallet link closed")
			return
		}
	}
}

// connect dials and says hello; the link is up once hello is answered.
func (c *Client) connect() (*link, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.CallTimeout)
	defer cancel()
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	l := newLink(c, conn)
	if err := l.do(ctx, walletproto.Hello{NodeID: c.nodeID}, nil); err != nil {
		err = fmt.Errorf("hello: %w", err)
		l.close(err)
		return nil, err
	}
	return l, nil
}

func (c *Client) setState(s State) {
	if State(c.state.Swap(int32(s))) != s {
		c.subs.notify(s)
	}
}

// dispatch hands a message that answers no pending call to the handlers
// of its type, unless it is a push already taken: one with a pushId seen
// before, resent by the wallet because the pushAck did not reach it.
func (c *Client) dispatch(h walletproto.Header, body []byte) {
	if h.PushID != "" && !c.pushes.add(h.PushID) {
		c.msgLog.Info("wallet push resent after its pushAck was lost; acknowledged again, not delivered twice",
			zap.String("type", h.Type), zap.String("pushId", h.PushID))
		return
	}
	handlers := c.handlers[h.Type]
	if h.RequestID != "" {
		c.msgLog.Warn("wallet reply for no pending request (unknown, or its caller gave up); handled as a push",
			zap.String("type", h.Type), zap.String("requestId", h.RequestID), zap.Int("handlers", len(handlers)))
	} else if len(handlers) == 0 {
		c.msgLog.Debug("wallet push without a handler, dropped", zap.String("type", h.Type))
	}
	p := Push{Header: h, body: body, codec: c.codec}
	for _, handler := range handlers {
		if err := handler.HandlePush(p); err != nil {
			c.msgLog.Warn("wallet push handler failed", zap.String("type", h.Type), zap.Error(err))
		}
	}
}
