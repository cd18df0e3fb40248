package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/gamegate/gamegate/pkg/token"
)

// A Shard is a group of clients in one process: all of them when the run
// fits in one process's open-file limit, a slice of them in each worker
// process otherwise. The coordinator drives shards through the same methods
// whether they are here or behind a worker's pipe (see worker.go), so these
// types cross processes by gob.
type Shard struct {
	spec  ShardSpec
	proto protocol

	mu      sync.Mutex // guards clients, stalled and their ends
	clients []*client
	stalled []*stalledClient

	// latency is the readers', checkLatency the check clients' (fanout's
	// --check-clients).
	handshake, latency, checkLatency, rtt *Histogram
	errs                                  errorSample
	// epoll is the epoll reader's set (--reader epoll); check is which
	// clients read with a goroutine of their own whatever the reader.
	epoll *epollSet
	check map[int]bool

	connected, failed, dropped atomic.Int64
	// delivered counts every bench message received, warm-up included: the
	// fanout sender keeps its window by it.
	delivered atomic.Int64
	want      atomic.Int64 // delivered count someone waits for; MaxInt64: nobody
	wake      chan struct{}
	// messageBytes is the largest bench message received: what one
	// broadcast puts in the way of a client.
	messageBytes atomic.Int64
	// stalledOpen counts the stalled clients being watched: connected, and
	// not yet ended by the server.
	stalledOpen atomic.Int64

	// Round trips: sent, replies and failures count the measured phase only;
	// answered counts every reply, for progress.
	sent, replies, failures, answered atomic.Int64
	requesters                        sync.WaitGroup

	closing atomic.Bool
	readers sync.WaitGroup
}

// ShardSpec says which clients a shard holds and how they connect.
type ShardSpec struct {
	// URLs are the nodes' ws://host:port/game, or Socket.IO endpoints (on
	// http:// for long-polling): client i connects to URLs[i % len(URLs)].
	URLs []string
	// Reader is "epoll" or "goroutine"; Check are the run's indexes of the
	// shard's clients that read with a goroutine of their own anyway.
	Reader string
	Check  []int
	// Proto is "contract" or "socketio"; Namespace is Socket.IO's, and
	// Transport its transport: "websocket", or "polling" (URLs are then
	// the long-polling endpoints).
	Proto, Namespace, Transport string
	Secret                      string // HS256 key the clients' tokens are signed with
	UserPrefix                  string // client i is user UserPrefix+i
	// First and Count select clients [First, First+Count) of the run, and
	// StalledFirst and Stalled the stalled ones: they join their room like
	// the others, then never read.
	First, Count          int
	StalledFirst, Stalled int
	// Rooms > 0: client i joins RoomName(RoomPrefix, i%Rooms).
	Rooms      int
	RoomPrefix string
	// Concurrency bounds the handshakes under way at once.
	Concurrency int
	// SourceAddrs > 0: client i dials from 127.0.0.1 + i%SourceAddrs.
	SourceAddrs int
	// ConnectTimeout bounds one client's dial, greeting and join.
	ConnectTimeout time.Duration
}

// ConnectResult is what a shard's connect phase did.
type ConnectResult struct {
	Connected, Failed int      // stalled clients included
	Handshake         HistData // dial until the `connected` greeting
	Start, End        int64    // unix ns: first dial, last client ready
	RoomSizes         []int    // connected members of each room, but the stalled ones
	Errors            map[string]int64
}

// Stats are a shard's running counters, for progress and windows.
type Stats struct {
	Connected, Failed, Dropped int64
	Delivered                  int64
	Answered                   int64
	StalledOpen                int64
	CPU                        time.Duration // this process's user + system time
}

// RequestSpec starts the round-trip loops of echo and wallet.
type RequestSpec struct {
	Event, Reply string
	// Interval between one client's requests; 0: the next as soon as the
	// window allows (closed loop).
	Interval time.Duration
	// Window bounds one client's requests awaiting a reply.
	Window int
	// Start and End (unix ns) bound the measured phase; the loops stop at End.
	Start, End int64
}

// ResultArgs tells a shard what was sent, so that it counts what is missing.
type ResultArgs struct {
	SentPerRoom []int64 // measured broadcasts sent to each room
	Drain       time.Duration
}

// ShardResult is a shard's share of the report.
type ShardResult struct {
	// fanout
	Received, Duplicates, Unexpected int64
	Lost, ClientsWithLoss            int64
	Latency, CheckLatency            HistData
	LastRecv                         int64 // unix ns
	// round trips: requests sent in the measured phase, and what became of
	// them (a reply, an exception, or nothing within the drain)
	Sent, Replies, Failures, Timeouts int64
	RTT                               HistData
	// Stalled is what became of each stalled client; MessageBytes is the
	// largest bench message a reader received.
	Stalled      []StalledEnd
	MessageBytes int64
	// both
	Dropped int64
	Errors  map[string]int64 // by message
}

// NewShard returns an empty shard.
func NewShard() *Shard {
	s := &Shard{
		proto:     contract{},
		handshake: NewHistogram(), latency: NewHistogram(), checkLatency: NewHistogram(), rtt: NewHistogram(),
		wake: make(chan struct{}, 1),
	}
	s.want.Store(math.MaxInt64)
	return s
}

// client is one WebSocket client. Its reader alone touches seen.
type client struct {
	room  int // -1: none
	conn  msgConn
	proto protocol
	// check: one of --check-clients, whose latencies are kept apart.
	check bool
	done  chan struct{} // closed when the reader ends

	seen                             []uint64 // measured seqs received, by seq/rooms
	received, duplicates, unexpected atomic.Int64
	last                             atomic.Int64 // unix ns of the last measured receipt

	req atomic.Pointer[requests]
}

// Connect dials spec's clients, reads each one's greeting, joins its room,
// and starts its reader, or for the stalled clients the watcher.
func (s *Shard) Connect(ctx context.Context, spec ShardSpec) (ConnectResult, error) {
	s.spec, s.proto = spec, newProtocol(spec.Proto, spec.Namespace)
	s.check = make(map[int]bool, len(spec.Check))
	for _, i := range spec.Check {
		s.check[i] = true
	}
	if spec.Reader == "epoll" && spec.Transport != "polling" && spec.Count > len(spec.Check) {
		set, err := newEpollSet(s)
		if err != nil {
			return ConnectResult{}, err
		}
		s.epoll = set
	}
	tokens := make([]string, spec.Count+spec.Stalled)
	for k := range tokens {
		tok, err := token.Mint([]byte(spec.Secret), spec.UserPrefix+strconv.Itoa(spec.client(k)), nil, 24*time.Hour)
		if err != nil {
			return ConnectResult{}, fmt.Errorf("mint client token: %w", err)
		}
		tokens[k] = tok
	}
	dialers := newDialers(spec.SourceAddrs, spec.ConnectTimeout)

	var next atomic.Int64
	var start, end atomic.Int64
	start.Store(math.MaxInt64)
	var wg sync.WaitGroup
	for range max(1, min(spec.Concurrency, len(tokens))) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(tokens) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				atomicMin(&start, t0.UnixNano())
				add := s.addReader
				if k >= spec.Count {
					add = s.addStalled
				}
				if err := add(ctx, dialers, spec.client(k), tokens[k], t0); err != nil {
					s.failed.Add(1)
					s.errs.note(err.Error())
					continue
				}
				atomicMax(&end, time.Now().UnixNano())
				s.connected.Add(1)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return ConnectResult{}, err
	}
	res := ConnectResult{
		Connected: int(s.connected.Load()), Failed: int(s.failed.Load()),
		Handshake: s.handshake.Data(), Start: start.Load(), End: end.Load(),
		RoomSizes: make([]int, spec.Rooms), Errors: s.errs.snapshot(),
	}
	s.mu.Lock()
	for _, c := range s.clients {
		if c.room >= 0 {
			res.RoomSizes[c.room]++
		}
	}
	stalled := slices.Clone(s.stalled)
	s.mu.Unlock()
	if len(stalled) > 0 {
		s.readers.Go(func() { s.watchStalled(stalled) })
	}
	return res, nil
}

// client is the run's index of the shard's client k: the readers first,
// then the stalled ones.
func (spec ShardSpec) client(k int) int {
	if k < spec.Count {
		return spec.First + k
	}
	return spec.StalledFirst + k - spec.Count
}

// addReader connects client i and starts its reader: the epoll set, or a
// goroutine of its own (a polling client's: its GETs).
func (s *Shard) addReader(ctx context.Context, d dialers, i int, tok string, t0 time.Time) error {
	check := s.check[i]
	own := s.epoll != nil && !check
	c, err := s.dial(ctx, d, i, tok, t0, own)
	if err != nil {
		return err
	}
	c.check = check
	s.mu.Lock()
	s.clients = append(s.clients, c)
	s.mu.Unlock()
	switch conn := c.conn.(type) {
	case *ownConn:
		return s.epoll.add(c, conn)
	case *pollConn:
		s.readers.Go(func() { s.readPolls(c, conn) })
	case coderConn:
		s.readers.Go(func() { s.read(c, conn.ws) })
	}
	return nil
}

// dial connects client i: handshake, greeting, join; with coder/websocket,
// or with own, the load generator's own client (the epoll reader's), or
// over long-polling. The handshake time is until the greeting, which is
// when the server has authenticated and registered the client.
func (s *Shard) dial(ctx context.Context, d dialers, i int, tok string, t0 time.Time, own bool) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, s.spec.ConnectTimeout)
	defer cancel()
	url := s.spec.URLs[i%len(s.spec.URLs)]
	header := http.Header{"Authorization": {"Bearer " + tok}}
	var conn msgConn
	switch {
	case s.spec.Transport == "polling":
		pc, err := dialPolling(ctx, d.netDialer(i), url, header)
		if err != nil {
			return nil, err
		}
		conn = pc
	case own:
		oc, err := dialOwn(ctx, d.forClient(i), url, header)
		if err != nil {
			return nil, err
		}
		conn = oc
	default:
		ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: d.forClient(i), HTTPHeader: header})
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("handshake: HTTP %d", resp.StatusCode)
			}
			return nil, fmt.Errorf("handshake: %w", err)
		}
		ws.SetReadLimit(-1)
		conn = coderConn{ws}
	}
	c := &client{room: -1, conn: conn, proto: s.proto, done: make(chan struct{})}
	if err := s.proto.greet(ctx, c, tok); err != nil {
		_ = conn.CloseNow()
		return nil, err
	}
	s.handshake.Record(time.Since(t0))
	if s.spec.Rooms > 0 {
		c.room = i % s.spec.Rooms
		room := `{"roomId":` + strconv.Quote(RoomName(s.spec.RoomPrefix, c.room)) + `}`
		err := conn.Write(ctx, s.proto.appendEvent(nil, "joinRoom", room, 0))
		if err == nil {
			err = c.expect(ctx, "joinedRoom")
		}
		if err != nil {
			_ = conn.CloseNow()
			return nil, err
		}
	}
	return c, nil
}

// expect reads frames until the next event, and fails unless it is event.
func (c *client) expect(ctx context.Context, event string) error {
	for {
		b, err := c.conn.Read(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", event, err)
		}
		f := c.proto.parse(b)
		if f.answer != nil {
			if err := c.conn.Write(ctx, f.answer); err != nil {
				return fmt.Errorf("waiting for %s: %w", event, err)
			}
		}
		switch {
		case f.event == nil:
			continue
		case string(f.event) != event:
			if msg, ok := stringField(f.body, keyMessage); ok { // exception, connect_error
				return fmt.Errorf("%s %q while waiting for %s", f.event, msg, event)
			}
			return fmt.Errorf("got %.120s, want event %s", b, event)
		}
		return nil
	}
}

// read is a goroutine reader: it handles every frame of ws, client c's
// connection, until it ends, answering the server's pings along the way.
func (s *Shard) read(c *client, ws *websocket.Conn) {
	var buf bytes.Buffer
	for {
		_, r, err := ws.Reader(context.Background())
		if err == nil {
			buf.Reset()
			_, err = buf.ReadFrom(r)
		}
		if err != nil {
			s.lost(c, err)
			return
		}
		s.handle(c, buf.Bytes(), time.Now())
	}
}

// lost ends client c's reading: a dropped connection, unless the shard is
// closing.
func (s *Shard) lost(c *client, err error) {
	if !s.closing.Load() {
		s.dropped.Add(1)
		s.errs.note("connection lost: " + err.Error())
	}
	close(c.done)
}

// handle handles one message b that client c received at now.
func (s *Shard) handle(c *client, b []byte, now time.Time) {
	f := s.proto.parse(b)
	if f.answer != nil {
		_ = c.conn.Write(context.Background(), f.answer)
	}
	switch string(f.event) {
	case "notification":
		atomicMax(&s.messageBytes, int64(len(b)))
		s.onBench(c, f.body, now)
	case "exception":
		// An exception answers a request when it carries the request's id,
		// or when replies come in order (a refusal without an id, such as
		// the rate limit's, answers none on the plain protocol).
		if rq := c.req.Load(); rq != nil {
			rq.settle(s, f, now, false)
		}
		msg, _ := stringField(f.body, keyMessage)
		s.errs.note("exception: " + string(msg))
	default:
		if rq := c.req.Load(); rq != nil && string(f.event) == rq.spec.Reply {
			rq.settle(s, f, now, true)
		}
	}
}

// onBench counts one bench message: warm-up ones only towards the window,
// measured ones once per seq, with their latency.
func (s *Shard) onBench(c *client, b []byte, now time.Time) {
	seq, ok := intField(b, keySeq, false)
	ts, ok2 := intField(b, keyTS, false)
	if !ok || !ok2 {
		return
	}
	if n := s.delivered.Add(1); n >= s.want.Load() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	if seq < 0 {
		return
	}
	rooms := int64(max(s.spec.Rooms, 1))
	if c.room < 0 || int(seq%rooms) != c.room {
		c.unexpected.Add(1)
		return
	}
	i := seq / rooms
	for int64(len(c.seen))*64 <= i {
		c.seen = append(c.seen, 0)
	}
	bit := uint64(1) << (i % 64)
	if c.seen[i/64]&bit != 0 {
		c.duplicates.Add(1)
		return
	}
	c.seen[i/64] |= bit
	c.received.Add(1)
	t := now.UnixNano()
	h := s.latency
	if c.check {
		h = s.checkLatency
	}
	h.Record(time.Duration(t - ts))
	c.last.Store(t)
}

// AwaitDelivered returns once the shard has received target bench messages.
func (s *Shard) AwaitDelivered(ctx context.Context, target int64) error {
	s.want.Store(target)
	defer s.want.Store(math.MaxInt64)
	for s.delivered.Load() < target {
		select {
		case <-s.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Stats returns the running counters.
func (s *Shard) Stats(context.Context) (Stats, error) {
	return Stats{
		Connected: s.connected.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load(),
		Delivered: s.delivered.Load(), Answered: s.answered.Load(), StalledOpen: s.stalledOpen.Load(), CPU: selfCPU(),
	}, nil
}

// Result counts what each client missed of what was sent to its room, says
// what became of the stalled clients, and for round trips waits up to
// args.Drain for the replies still due.
func (s *Shard) Result(ctx context.Context, args ResultArgs) (ShardResult, error) {
	s.requesters.Wait()
	var res ShardResult
	s.mu.Lock()
	clients := s.clients
	for _, c := range s.stalled {
		res.Stalled = append(res.Stalled, c.end)
	}
	s.mu.Unlock()
	res.Timeouts = s.drainRequests(ctx, clients, args.Drain)
	for _, c := range clients {
		got := c.received.Load()
		res.Received += got
		res.Duplicates += c.duplicates.Load()
		res.Unexpected += c.unexpected.Load()
		if c.room >= 0 && c.room < len(args.SentPerRoom) {
			if lost := args.SentPerRoom[c.room] - got; lost > 0 {
				res.Lost += lost
				res.ClientsWithLoss++
			}
		}
		res.LastRecv = max(res.LastRecv, c.last.Load())
	}
	res.Latency, res.CheckLatency = s.latency.Data(), s.checkLatency.Data()
	res.MessageBytes = s.messageBytes.Load()
	res.Sent, res.Replies, res.Failures = s.sent.Load(), s.replies.Load(), s.failures.Load()
	res.RTT = s.rtt.Data()
	res.Dropped = s.dropped.Load()
	res.Errors = s.errs.snapshot()
	return res, nil
}

// Close ends every connection and waits for the client goroutines.
func (s *Shard) Close() error {
	s.closing.Store(true)
	if s.epoll != nil {
		s.epoll.stop() // first: the loops read the sockets closed below
	}
	s.mu.Lock()
	clients, stalled := s.clients, s.stalled
	s.mu.Unlock()
	for _, c := range clients {
		_ = c.conn.CloseNow()
	}
	for _, c := range stalled {
		_ = c.conn.CloseNow()
	}
	s.readers.Wait()
	s.requesters.Wait()
	return nil
}

func atomicMin(a *atomic.Int64, v int64) {
	for m := a.Load(); v < m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

func atomicMax(a *atomic.Int64, v int64) {
	for m := a.Load(); v > m && !a.CompareAndSwap(m, v); m = a.Load() {
	}
}

// errorSample counts errors by message, keeping a few distinct ones: enough
// to tell a user what went wrong without a line per client.
type errorSample struct {
	mu    sync.Mutex
	count map[string]int64
}

const maxErrorKinds = 8

func (e *errorSample) note(msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.count == nil {
		e.count = make(map[string]int64)
	}
	if _, ok := e.count[msg]; !ok && len(e.count) >= maxErrorKinds {
		msg = "other errors"
	}
	e.count[msg]++
}

func (e *errorSample) snapshot() map[string]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.count) == 0 {
		return nil
	}
	m := make(map[string]int64, len(e.count))
	for k, v := range e.count {
		m[k] = v
	}
	return m
}
