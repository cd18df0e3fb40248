package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// shard is a group of clients, here (*Shard) or in a worker (*remoteShard).
type shard interface {
	Connect(ctx context.Context, spec ShardSpec) (ConnectResult, error)
	Stats(ctx context.Context) (Stats, error)
	AwaitDelivered(ctx context.Context, target int64) error
	StartRequests(ctx context.Context, spec RequestSpec) error
	Result(ctx context.Context, args ResultArgs) (ShardResult, error)
	Close() error
}

// pool is every client of a run: one shard in this process, or one per
// worker process.
type pool struct {
	local  *Shard // when the clients are in this process
	shards []shard
	specs  []ShardSpec
	// roomSizes[i][r] is how many of shard i's clients joined room r.
	roomSizes [][]int
}

// newPool plans the clients of o: in this process when they fit in
// o.PerProcess, else in as many workers as it takes (or o.Workers). The last
// stalled of o.Clients stall (fanout's --stalled); each process gets its
// share of the readers and of the stalled clients, and of the check
// readers among them.
func newPool(o Common, rooms int, roomPrefix string, stalled, check int) (*pool, error) {
	workers := o.Workers
	if workers == 0 && o.Clients > o.PerProcess {
		workers = (o.Clients + o.PerProcess - 1) / o.PerProcess
	}
	urls, err := o.clientURLs()
	if err != nil {
		return nil, err
	}
	base := ShardSpec{
		URLs: urls, Reader: o.Reader, Proto: o.Proto, Namespace: o.Path, Transport: o.Transport, Secret: o.Secret, UserPrefix: o.UserPrefix, Rooms: rooms, RoomPrefix: roomPrefix,
		SourceAddrs: o.sourceAddrs(), ConnectTimeout: o.ConnectTimeout,
	}
	readers := o.Clients - stalled
	checks := pickChecks(readers, check)
	p := &pool{}
	if workers == 0 {
		p.local = NewShard()
		base.Count, base.StalledFirst, base.Stalled, base.Concurrency = readers, readers, stalled, o.Concurrency
		base.Check = checks
		p.shards, p.specs = []shard{p.local}, []ShardSpec{base}
		return p, nil
	}
	for w := range workers {
		spec := base
		spec.First = readers * w / workers
		spec.Count = readers*(w+1)/workers - spec.First
		lo, _ := slices.BinarySearch(checks, spec.First)
		hi, _ := slices.BinarySearch(checks, spec.First+spec.Count)
		spec.Check = checks[lo:hi]
		spec.StalledFirst = readers + stalled*w/workers
		spec.Stalled = readers + stalled*(w+1)/workers - spec.StalledFirst
		spec.Concurrency = max(1, o.Concurrency/workers)
		r, err := startWorker()
		if err != nil {
			_ = p.Close()
			return nil, err
		}
		p.shards, p.specs = append(p.shards, r), append(p.specs, spec)
	}
	return p, nil
}

// pickChecks picks n of the readers at random, the same ones in every run:
// spread over the nodes, the rooms and the order in which the server
// writes to its members, so that their latencies compare with everyone
// else's.
func pickChecks(readers, n int) []int {
	if n == 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(19, 19))
	return slices.Sorted(slices.Values(r.Perm(readers)[:n]))
}

// processes is the number of processes holding clients.
func (p *pool) processes() int { return len(p.shards) }

// each runs f on every shard at once and joins their errors.
func (p *pool) each(f func(i int, s shard) error) error {
	errs := make([]error, len(p.shards))
	var wg sync.WaitGroup
	for i, s := range p.shards {
		wg.Go(func() { errs[i] = f(i, s) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// connect connects every client; the result sums the shards' (but for
// RoomSizes, kept per shard in p.roomSizes).
func (p *pool) connect(ctx context.Context) (ConnectResult, error) {
	results := make([]ConnectResult, len(p.shards))
	err := p.each(func(i int, s shard) (err error) {
		results[i], err = s.Connect(ctx, p.specs[i])
		return err
	})
	if err != nil {
		return ConnectResult{}, fmt.Errorf("connect: %w", err)
	}
	sum := ConnectResult{Start: math.MaxInt64}
	p.roomSizes = make([][]int, len(results))
	for i, r := range results {
		p.roomSizes[i] = r.RoomSizes
		sum.Connected += r.Connected
		sum.Failed += r.Failed
		sum.Handshake.Merge(r.Handshake)
		if r.Connected > 0 {
			sum.Start = min(sum.Start, r.Start)
			sum.End = max(sum.End, r.End)
		}
		sum.Errors = mergeCounts(sum.Errors, r.Errors)
	}
	if sum.Connected == 0 {
		sum.Start = 0
	}
	return sum, nil
}

// stats sums the shards' counters; CPU includes this process.
func (p *pool) stats(ctx context.Context) (Stats, error) {
	all := make([]Stats, len(p.shards))
	err := p.each(func(i int, s shard) (err error) {
		all[i], err = s.Stats(ctx)
		return err
	})
	var sum Stats
	for _, st := range all {
		sum.Connected += st.Connected
		sum.Failed += st.Failed
		sum.Dropped += st.Dropped
		sum.Delivered += st.Delivered
		sum.Answered += st.Answered
		sum.StalledOpen += st.StalledOpen
		if p.local == nil {
			sum.CPU += st.CPU
		}
	}
	sum.CPU += selfCPU()
	return sum, err
}

// awaitDelivered returns once each shard i has received targets[i] bench
// messages: the sender knows each shard's share of every broadcast, so it
// waits on each without polling any.
func (p *pool) awaitDelivered(ctx context.Context, targets []int64) error {
	return p.each(func(i int, s shard) error { return s.AwaitDelivered(ctx, targets[i]) })
}

func (p *pool) startRequests(ctx context.Context, spec RequestSpec) error {
	return p.each(func(_ int, s shard) error { return s.StartRequests(ctx, spec) })
}

// result sums the shards' results.
func (p *pool) result(ctx context.Context, args ResultArgs) (ShardResult, error) {
	results := make([]ShardResult, len(p.shards))
	err := p.each(func(i int, s shard) (err error) {
		results[i], err = s.Result(ctx, args)
		return err
	})
	if err != nil {
		return ShardResult{}, fmt.Errorf("collect results: %w", err)
	}
	var sum ShardResult
	for _, r := range results {
		sum.Received += r.Received
		sum.Duplicates += r.Duplicates
		sum.Unexpected += r.Unexpected
		sum.Lost += r.Lost
		sum.ClientsWithLoss += r.ClientsWithLoss
		sum.Latency.Merge(r.Latency)
		sum.CheckLatency.Merge(r.CheckLatency)
		sum.Stalled = append(sum.Stalled, r.Stalled...)
		sum.MessageBytes = max(sum.MessageBytes, r.MessageBytes)
		sum.LastRecv = max(sum.LastRecv, r.LastRecv)
		sum.Sent += r.Sent
		sum.Replies += r.Replies
		sum.Failures += r.Failures
		sum.Timeouts += r.Timeouts
		sum.RTT.Merge(r.RTT)
		sum.Dropped += r.Dropped
		sum.Errors = mergeCounts(sum.Errors, r.Errors)
	}
	return sum, nil
}

// Close closes every shard.
func (p *pool) Close() error {
	return p.each(func(_ int, s shard) error { return s.Close() })
}

func mergeCounts(dst, src map[string]int64) map[string]int64 {
	for k, v := range src {
		if dst == nil {
			dst = make(map[string]int64)
		}
		dst[k] += v
	}
	return dst
}
