package main

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// requests is one client's round-trip state (echo and wallet). Replies are
// matched by id where the protocol carries one, not by order: the gateway
// answers getBalance asynchronously, so replies may overtake each other.
type requests struct {
	spec  *RequestSpec
	byID  bool
	slots chan struct{} // one per request awaiting its reply

	mu      sync.Mutex
	pending map[int64]int64 // request id → send time, unix ns
}

// StartRequests starts every client's request loop; they stop at spec.End.
func (s *Shard) StartRequests(_ context.Context, spec RequestSpec) error {
	s.mu.Lock()
	clients := s.clients
	s.mu.Unlock()
	for _, c := range clients {
		rq := &requests{
			spec: &spec, byID: s.proto.byID(),
			slots: make(chan struct{}, max(spec.Window, 1)), pending: make(map[int64]int64),
		}
		c.req.Store(rq)
		s.requesters.Go(func() { s.request(c, rq) })
	}
	return nil
}

// request sends requests until the end of the run: paced at spec.Interval
// (each client starting at a random offset, so that clients do not tick in
// step), or as fast as replies come back with Interval 0.
func (s *Shard) request(c *client, rq *requests) {
	spec := rq.spec
	end := time.Unix(0, spec.End)
	stop := time.NewTimer(time.Until(end))
	defer stop.Stop()
	var pace *time.Timer
	next := time.Now()
	if spec.Interval > 0 {
		next = next.Add(rand.N(spec.Interval))
		pace = time.NewTimer(time.Until(next))
		defer pace.Stop()
	}
	var buf []byte
	for id := int64(1); ; id++ {
		if pace != nil {
			select {
			case <-pace.C:
			case <-c.done:
				return
			case <-stop.C:
				return
			}
			// A client that fell behind (its window full) resumes the pace
			// from now rather than sending a burst to catch up.
			next = next.Add(spec.Interval)
			if now := time.Now(); next.Before(now) {
				next = now
			}
			pace.Reset(time.Until(next))
		}
		select {
		case rq.slots <- struct{}{}:
		case <-c.done:
			return
		case <-stop.C:
			return
		}
		now := time.Now().UnixNano()
		if now >= spec.End {
			return
		}
		rq.mu.Lock()
		rq.pending[id] = now
		rq.mu.Unlock()
		buf = s.proto.appendEvent(buf[:0], spec.Event, "", id)
		if err := c.conn.Write(context.Background(), buf); err != nil {
			return // the reader notes the lost connection
		}
		if now >= spec.Start {
			s.sent.Add(1)
		}
	}
}

// settle ends the request that f answers: a reply (ok) or an exception. f
// names it by id, or else it is the oldest one pending.
func (rq *requests) settle(s *Shard, f frame, now time.Time, ok bool) {
	if rq.byID && !f.hasID {
		return
	}
	rq.mu.Lock()
	id := f.id
	if !rq.byID {
		id = math.MaxInt64
		for pending := range rq.pending {
			id = min(id, pending)
		}
	}
	t, found := rq.pending[id]
	delete(rq.pending, id)
	rq.mu.Unlock()
	if !found {
		return
	}
	<-rq.slots
	s.answered.Add(1)
	if t < rq.spec.Start || t >= rq.spec.End {
		return
	}
	if ok {
		s.replies.Add(1)
		s.rtt.Record(now.Sub(time.Unix(0, t)))
	} else {
		s.failures.Add(1)
	}
}

// drainRequests waits up to d for the replies still due, and returns how many
// measured requests never got one.
func (s *Shard) drainRequests(ctx context.Context, clients []*client, d time.Duration) int64 {
	outstanding := func() (all, measured int64) {
		for _, c := range clients {
			rq := c.req.Load()
			if rq == nil {
				continue
			}
			rq.mu.Lock()
			for _, t := range rq.pending {
				all++
				if t >= rq.spec.Start && t < rq.spec.End {
					measured++
				}
			}
			rq.mu.Unlock()
		}
		return all, measured
	}
	deadline := time.Now().Add(d)
	for {
		all, measured := outstanding()
		if all == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return measured
		}
		time.Sleep(10 * time.Millisecond)
	}
}
