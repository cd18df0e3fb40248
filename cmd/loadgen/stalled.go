package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Stalled clients (fanout's --stalled) join their room like the others,
// read their greeting and joinedRoom, and then never read again: what the
// server sends them backs up in the kernel and then in the server, until
// the server finds them slow consumers and ends their connection. Nothing
// here reads what waits in their sockets, which would make them readers
// again; the watcher looks at each socket's TCP state instead.

// stalledClient is one stalled client.
type stalledClient struct {
	conn msgConn
	raw  syscall.RawConn // its socket, for the watcher
	end  StalledEnd      // under Shard.mu
}

// StalledEnd is what became of one stalled client.
type StalledEnd struct {
	Room int
	// Ended is when (unix ns) the watcher saw that the server had ended the
	// connection, at most stalledPoll late; 0: still open.
	Ended int64
	// Reset: the server reset the connection rather than closed it.
	Reset bool
}

// stalledPoll is how often the watcher looks at the stalled clients'
// sockets: the resolution of the times they were closed at.
const stalledPoll = 50 * time.Millisecond

// addStalled connects client i as a stalled one: greeting and join, and no
// reader. Its socket is caught on the way, from the handshake's ClientTrace.
func (s *Shard) addStalled(ctx context.Context, d dialers, i int, tok string, t0 time.Time) error {
	var nc net.Conn
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) { nc = ci.Conn }})
	c, err := s.dial(ctx, d, i, tok, t0, false)
	if err != nil {
		return err
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		_ = c.conn.CloseNow()
		return errors.New("stalled client: no socket to watch")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		_ = c.conn.CloseNow()
		return fmt.Errorf("stalled client: %w", err)
	}
	s.mu.Lock()
	s.stalled = append(s.stalled, &stalledClient{conn: c.conn, raw: raw, end: StalledEnd{Room: c.room}})
	s.mu.Unlock()
	s.stalledOpen.Add(1)
	return nil
}

// watchStalled looks at the sockets of the stalled clients still open every
// stalledPoll, until the server has ended them all or the shard closes. A
// connection the server ended is closed here at once: on loopback the
// host's TCP memory counts our end too, and what waits unread in it would
// otherwise stay until the run ends.
func (s *Shard) watchStalled(open []*stalledClient) {
	tick := time.NewTicker(stalledPoll)
	defer tick.Stop()
	for len(open) > 0 {
		<-tick.C
		if s.closing.Load() {
			return
		}
		now := time.Now().UnixNano()
		still := open[:0]
		for _, c := range open {
			ended, reset, err := serverEnded(c.raw)
			switch {
			case err != nil:
				if !s.closing.Load() {
					s.errs.note("stalled client: " + err.Error())
				}
				s.stalledOpen.Add(-1)
			case ended:
				s.mu.Lock()
				c.end.Ended, c.end.Reset = now, reset
				s.mu.Unlock()
				s.stalledOpen.Add(-1)
				_ = c.conn.CloseNow()
			default:
				still = append(still, c)
			}
		}
		open = still
	}
}

// awaitStalled waits up to drain for the server to end the stalled clients
// still open. One whose close frame the socket took (it had room for it)
// learns nothing of it, the frame waiting unread behind the rest: its
// connection ends only when the server gives up waiting for the answer (5 s
// in this gateway), after the last broadcast maybe.
func awaitStalled(ctx context.Context, p *pool, drain time.Duration) error {
	deadline := time.Now().Add(drain)
	for {
		st, err := p.stats(ctx)
		if err != nil || st.StalledOpen == 0 || !time.Now().Before(deadline) {
			return err
		}
		if err := sleepUntil(ctx, time.Now().Add(stalledPoll)); err != nil {
			return err
		}
	}
}

// stalledReport says when the server ended the stalled clients, counted
// from first, the first measured broadcast, and what had been sent to each
// by then.
func (b *broadcaster) stalledReport(ends []StalledEnd, first time.Time, messageBytes int64) *StalledReport {
	r := &StalledReport{Clients: len(ends), MessageBytes: messageBytes}
	var secs, sent []float64
	for _, e := range ends {
		if e.Ended == 0 {
			continue
		}
		r.Closed++
		if e.Reset {
			r.Reset++
		}
		secs = append(secs, round3(time.Duration(e.Ended-first.UnixNano()).Seconds()))
		sent = append(sent, float64(b.sentBefore(e.Room, e.Ended)*messageBytes))
	}
	r.CloseSeconds, r.SentBytes = spreadOf(secs), spreadOf(sent)
	return r
}

// tcpMemEvery is how often the host's TCP memory is read for its peak.
const tcpMemEvery = 100 * time.Millisecond

// tcpMemWatch follows the host's kernel TCP memory through a run with
// stalled clients: from before the first broadcast, what the stalled
// clients' backlog takes, to after the server has closed them.
type tcpMemWatch struct {
	start      int64
	last, peak atomic.Int64
	stop       func()
}

// watchTCPMemory takes the first reading and reads again every tcpMemEvery
// until stop.
func watchTCPMemory(ctx context.Context) (*tcpMemWatch, error) {
	first, err := tcpMemory()
	if err != nil {
		return nil, err
	}
	w := &tcpMemWatch{start: first}
	w.last.Store(first)
	w.peak.Store(first)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(tcpMemEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if n, err := tcpMemory(); err == nil {
				w.last.Store(n)
				atomicMax(&w.peak, n)
			}
		}
	})
	w.stop = func() { cancel(); wg.Wait() }
	return w, nil
}

// finish stops w and reads the memory a last time.
func (w *tcpMemWatch) finish() (*TCPMemory, error) {
	w.stop()
	end, err := tcpMemory()
	if err != nil {
		return nil, err
	}
	return &TCPMemory{StartMB: mb(w.start), PeakMB: mb(max(w.peak.Load(), end)), EndMB: mb(end)}, nil
}

func mb(bytes int64) float64 { return round1(float64(bytes) / 1e6) }
