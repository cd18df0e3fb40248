package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gamegate/gamegate/pkg/token"
)

// broadcaster sends the bench broadcasts through POST
// /notifications/broadcast and keeps the books the fanout report needs:
// what was sent to which room, and how many deliveries that makes due to
// each shard of clients.
type broadcaster struct {
	o         FanoutOptions
	pool      *pool
	client    *http.Client
	url, auth string
	pad       string

	post       *Histogram // measured POSTs, send to response
	postErrors atomic.Int64
	errs       errorSample
	// due[i] is the deliveries owed to shard i for every broadcast POSTed
	// so far, warm-up included, and failedDue[i] those of the POSTs that
	// failed: the flat-out window and the drain wait for the difference.
	due, failedDue []atomic.Int64
	posts          atomic.Int64   // POSTs made, for progress
	sentPerRoom    []atomic.Int64 // measured broadcasts answered 200, per room
	maxLag         time.Duration
	// sentAt[r] are the times (unix ns) broadcasts to room r were sent at,
	// warm-up included, when there are stalled clients: what had been sent
	// to one when the server closed it.
	sentAt [][]int64
}

// maxPaced bounds the POSTs of a paced sender under way at once.
const maxPaced = 256

func newBroadcaster(o FanoutOptions, p *pool) (*broadcaster, error) {
	tok, err := token.Mint([]byte(o.Secret), "loadgen", []string{o.Role}, 24*time.Hour)
	if err != nil {
		return nil, fmt.Errorf("mint REST token: %w", err)
	}
	b := &broadcaster{
		o: o, pool: p, client: newHTTPClient(&net.Dialer{Timeout: o.ConnectTimeout}),
		url: strings.TrimSuffix(o.URL, "/") + "/notifications/broadcast", auth: "Bearer " + tok,
		pad: strings.Repeat("x", o.Payload), post: NewHistogram(),
		due: make([]atomic.Int64, len(p.shards)), failedDue: make([]atomic.Int64, len(p.shards)),
		sentPerRoom: make([]atomic.Int64, o.Rooms),
	}
	if o.Stalled > 0 {
		b.sentAt = make([][]int64, o.Rooms)
	}
	return b, nil
}

func (b *broadcaster) close() { b.client.CloseIdleConnections() }

// phase is one stretch of sending: the warm-up, or the measured one.
type phase struct {
	measured bool
	count    int           // 0: no limit
	duration time.Duration // 0: no limit
}

// sendResult is what a phase did.
type sendResult struct {
	start, end  time.Time // first send, last response
	stalled     error     // flat out: the deliveries stopped coming
	interrupted error
}

// send runs one phase: paced at o.Rate, or flat out keeping o.InFlight
// broadcasts undelivered. It returns once every POST it made is answered.
func (b *broadcaster) send(ctx context.Context, ph phase) sendResult {
	var (
		res      sendResult
		wg       sync.WaitGroup
		inflight = make(chan struct{}, maxPaced)
		interval time.Duration
		// dueAfter[k] is b.due once broadcast k of this phase was counted;
		// the flat-out window waits for the clients to reach it.
		dueAfter [][]int64
	)
	if b.o.Rate > 0 {
		interval = time.Duration(float64(time.Second) / b.o.Rate)
	} else {
		inflight = make(chan struct{}, b.o.InFlight)
	}
	res.start = time.Now()
	deadline := res.start.Add(ph.duration)
	for k := 0; ph.count == 0 || k < ph.count; k++ {
		if ph.duration > 0 && !time.Now().Before(deadline) {
			break
		}
		if interval > 0 {
			due := res.start.Add(time.Duration(k) * interval)
			if err := sleepUntil(ctx, due); err != nil {
				res.interrupted = err
				break
			}
			b.maxLag = max(b.maxLag, time.Since(due))
		} else if k >= b.o.InFlight {
			if err := b.await(ctx, dueAfter[k-b.o.InFlight]); err != nil {
				if ctx.Err() != nil {
					res.interrupted = err
				} else {
					res.stalled = err
				}
				break
			}
		}
		select {
		case inflight <- struct{}{}:
		case <-ctx.Done():
			res.interrupted = ctx.Err()
		}
		if res.interrupted != nil {
			break
		}
		room := k % b.o.Rooms
		seq := int64(k)
		if !ph.measured {
			seq = -int64(k) - 1
		}
		dueAfter = append(dueAfter, b.owe(room))
		if b.sentAt != nil {
			b.sentAt[room] = append(b.sentAt[room], time.Now().UnixNano())
		}
		b.posts.Add(1)
		wg.Go(func() {
			defer func() { <-inflight }()
			b.postOne(ctx, ph.measured, room, seq)
		})
	}
	wg.Wait()
	res.end = time.Now()
	return res
}

// owe counts the deliveries of one broadcast to room as due, and returns
// what is due to each shard now.
func (b *broadcaster) owe(room int) []int64 {
	now := make([]int64, len(b.due))
	for i := range b.due {
		now[i] = b.due[i].Add(int64(b.pool.roomSizes[i][room]))
	}
	return now
}

// dueNow is what is due to each shard for everything sent so far.
func (b *broadcaster) dueNow() []int64 {
	now := make([]int64, len(b.due))
	for i := range b.due {
		now[i] = b.due[i].Load()
	}
	return now
}

// await waits until every shard has received what was due to it when
// targets were taken, less what failed POSTs took back. Waiting longer than
// o.Drain means the deliveries stopped coming.
func (b *broadcaster) await(ctx context.Context, targets []int64) error {
	ctx, cancel := context.WithTimeout(ctx, b.o.Drain)
	defer cancel()
	want := make([]int64, len(targets))
	var total int64
	for i, t := range targets {
		want[i] = t - b.failedDue[i].Load()
		total += want[i]
	}
	err := b.pool.awaitDelivered(ctx, want)
	if errors.Is(err, context.DeadlineExceeded) {
		st, _ := b.pool.stats(context.WithoutCancel(ctx))
		return fmt.Errorf("deliveries stopped: %s of %s due after %v", num(st.Delivered), num(total), b.o.Drain)
	}
	return err
}

// outstanding is the deliveries due and not yet received, for progress.
func (b *broadcaster) outstanding(delivered int64) int64 {
	for i := range b.due {
		delivered -= b.due[i].Load() - b.failedDue[i].Load()
	}
	return -delivered
}

// postOne sends broadcast seq to room; a failure takes its deliveries off
// what is due.
func (b *broadcaster) postOne(ctx context.Context, measured bool, room int, seq int64) {
	sent := time.Now()
	body := appendBroadcast(make([]byte, 0, 96+len(b.pad)), RoomName(b.o.RoomPrefix, room), seq, sent.UnixNano(), b.pad)
	err := b.do(ctx, body)
	if err != nil {
		for i := range b.failedDue {
			b.failedDue[i].Add(int64(b.pool.roomSizes[i][room]))
		}
		b.postErrors.Add(1)
		b.errs.note("broadcast: " + err.Error())
		return
	}
	if measured {
		b.post.Record(time.Since(sent))
		b.sentPerRoom[room].Add(1)
	}
}

func (b *broadcaster) do(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", b.auth)
	resp, err := b.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(msg))
	}
	return nil
}

// sentBefore is how many broadcasts had been sent to room before t (unix
// ns), warm-up included.
func (b *broadcaster) sentBefore(room int, t int64) int64 {
	n, _ := slices.BinarySearch(b.sentAt[room], t)
	return int64(n)
}

// sent returns the measured broadcasts per room, and the deliveries they
// make due.
func (b *broadcaster) sent() (perRoom []int64, expected int64) {
	perRoom = make([]int64, len(b.sentPerRoom))
	for r := range perRoom {
		perRoom[r] = b.sentPerRoom[r].Load()
		for _, sizes := range b.pool.roomSizes {
			expected += perRoom[r] * int64(sizes[r])
		}
	}
	return perRoom, expected
}
