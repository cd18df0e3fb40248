package gateway

import (
	"cmp"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"time"
)

// Delivery receipts: a message sent with a receipt carries an ackId to each
// recipient, which acknowledges it (an `ack` event, or Socket.IO's ack
// callback); the sender learns which recipients, on every node, acked and
// which did not before the timeout. Each node that delivers the message
// tracks its own recipients and reports them to the node that sent it (the
// origin): at once, the recipients; then, once they all acked or at the
// deadline, which acked.

// Receipt is what a message sent with a receipt carries.
type Receipt struct {
	// ID names the receipt, the ackId on the wire: random, of at most 15
	// digits, so that JavaScript reads it exactly as a Socket.IO ack id.
	ID       uint64
	Origin   string    // the node that waits for the answer
	Deadline time.Time // when recipients that have not acked time out
}

// Recipient is a connection a message was delivered to.
type Recipient struct {
	UserID   string `json:"userId"`
	ClientID string `json:"clientId"`
}

// ReceiptResult is a receipt's answer: every recipient, on every node,
// acked or timed out.
type ReceiptResult struct {
	Recipients int         `json:"recipients"`
	Acked      []Recipient `json:"acked"`
	TimedOut   []Recipient `json:"timedOut"`
	// Untracked counts recipients past gateway.receipts.maxRecipients on a
	// node: they got the message, and their acks are not counted.
	Untracked int `json:"untracked,omitempty"`
}

// ReceiptReport is what a node tells a receipt's origin.
type ReceiptReport struct {
	ID   uint64 `json:"id"`
	Node string `json:"node"`
	// Recipients, in the first report, are the connections the node
	// delivered to; Acked, in the final one, those that acked.
	Recipients []Recipient `json:"recipients,omitempty"`
	Untracked  int         `json:"untracked,omitempty"`
	Acked      []Recipient `json:"acked,omitempty"`
	Final      bool        `json:"final,omitempty"`
}

// ReceiptBus carries reports to a receipt's origin, and counts the nodes
// that will report; the cluster module provides one. Without it this node is
// the only one.
type ReceiptBus interface {
	// Nodes is how many nodes, this one included, are alive to deliver.
	Nodes() int
	// Report sends r to origin, which hands it to its Hub's Reported.
	Report(origin string, r ReceiptReport)
}

// Errors of receipts.
var (
	// ErrTooManyReceipts: gateway.receipts.maxPending receipts are already
	// waiting on this node.
	ErrTooManyReceipts = errors.New("gateway: too many receipts pending; try again later")
	errUnknownAck      = errors.New("unknown ackId")
)

// maxReceiptID keeps receipt ids to 15 digits (see Receipt.ID).
const maxReceiptID = 999_999_999_999_999

// receiptGrace is how long past a receipt's deadline its origin waits for
// the nodes' final reports, sent at that deadline.
const receiptGrace = 250 * time.Millisecond

// receipts are a node's receipts: those it waits for, and those whose
// recipients are its connections.
type receipts struct {
	hub           *Hub
	node          string
	maxPending    int
	maxRecipients int

	mu       sync.Mutex
	bus      ReceiptBus
	waiting  map[uint64]*waiter   // receipts this node sent
	tracking map[uint64]*tracking // receipts delivered to its connections
	finished map[uint64]time.Time // recently ended: a late ack is ignored, not refused
}

// waiter is a receipt this node waits for.
type waiter struct {
	nodes      int
	reported   map[string]bool
	final      map[string]bool
	recipients map[string]Recipient // by client id
	acked      map[string]bool
	untracked  int
	done       chan struct{} // closed when every node has reported its final
}

// tracking is a receipt delivered to connections of this node.
type tracking struct {
	r         Receipt
	pending   map[string]Recipient
	acked     []Recipient
	untracked int
	sent      time.Time
	timer     *time.Timer // nil until delivered
}

func newReceipts(h *Hub, node string, maxPending, maxRecipients int) *receipts {
	return &receipts{hub: h, node: node, maxPending: maxPending, maxRecipients: maxRecipients,
		waiting: map[uint64]*waiter{}, tracking: map[uint64]*tracking{}, finished: map[uint64]time.Time{}}
}

// begin starts waiting for a receipt that times out after timeout.
func (rs *receipts) begin(timeout time.Duration) (Receipt, *waiter, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.waiting) >= rs.maxPending {
		return Receipt{}, nil, ErrTooManyReceipts
	}
	nodes := 1
	if rs.bus != nil {
		nodes = rs.bus.Nodes()
	}
	r := Receipt{ID: 1 + rand.Uint64N(maxReceiptID), Origin: rs.node, Deadline: time.Now().Add(timeout)}
	w := &waiter{nodes: nodes, reported: map[string]bool{}, final: map[string]bool{},
		recipients: map[string]Recipient{}, acked: map[string]bool{}, done: make(chan struct{})}
	rs.waiting[r.ID] = w
	return r, w, nil
}

// wait waits for w's answer: every node's final report, or the deadline.
func (rs *receipts) wait(ctx context.Context, r Receipt, w *waiter) ReceiptResult {
	t := time.NewTimer(time.Until(r.Deadline.Add(receiptGrace)))
	defer t.Stop()
	select {
	case <-w.done:
	case <-t.C:
	case <-ctx.Done():
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	delete(rs.waiting, r.ID)
	res := ReceiptResult{Recipients: len(w.recipients) + w.untracked, Untracked: w.untracked,
		Acked: []Recipient{}, TimedOut: []Recipient{}}
	for id, who := range w.recipients {
		if w.acked[id] {
			res.Acked = append(res.Acked, who)
		} else {
			res.TimedOut = append(res.TimedOut, who)
		}
	}
	byClient := func(a, b Recipient) int {
		return cmp.Or(cmp.Compare(a.UserID, b.UserID), cmp.Compare(a.ClientID, b.ClientID))
	}
	slices.SortFunc(res.Acked, byClient)
	slices.SortFunc(res.TimedOut, byClient)
	rs.hub.metrics.Receipt(len(res.Acked), len(res.TimedOut))
	return res
}

// cancel stops waiting for a receipt whose message could not be sent.
func (rs *receipts) cancel(id uint64) {
	rs.mu.Lock()
	delete(rs.waiting, id)
	rs.mu.Unlock()
}

// reported takes a node's report of a receipt this node waits for.
func (rs *receipts) reported(rep ReceiptReport) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	w := rs.waiting[rep.ID]
	if w == nil {
		return // answered already
	}
	w.reported[rep.Node] = true
	for _, who := range rep.Recipients {
		w.recipients[who.ClientID] = who
	}
	w.untracked += rep.Untracked
	for _, who := range rep.Acked {
		w.acked[who.ClientID] = true
	}
	if rep.Final && !w.final[rep.Node] {
		w.final[rep.Node] = true
		if len(w.final) >= w.nodes {
			close(w.done)
		}
	}
}

// expect starts tracking a message with receipt r to members (but except)
// on this node; nil when there are none, or more than this node tracks.
func (rs *receipts) expect(r Receipt, members []*Client, except string) *tracking {
	t := &tracking{r: r, pending: make(map[string]Recipient, len(members)), sent: time.Now()}
	for _, c := range members {
		if c.id == except {
			continue
		}
		if len(t.pending) == rs.maxRecipients {
			t.untracked++
			continue
		}
		t.pending[c.id] = Recipient{UserID: c.userID, ClientID: c.id}
	}
	rs.mu.Lock()
	rs.tracking[r.ID] = t
	rs.mu.Unlock()
	return t
}

// missed takes c out of t: the message did not reach it (it is closing).
func (rs *receipts) missed(t *tracking, c *Client) {
	rs.mu.Lock()
	delete(t.pending, c.id)
	rs.mu.Unlock()
}

// delivered reports t's recipients to its origin, and sets its deadline.
func (rs *receipts) delivered(r Receipt, t *tracking) {
	rs.mu.Lock()
	rep := ReceiptReport{ID: r.ID, Node: rs.node, Untracked: t.untracked}
	for _, who := range t.pending {
		rep.Recipients = append(rep.Recipients, who)
	}
	rep.Recipients = append(rep.Recipients, t.acked...) // acked while the frames went out
	done := len(t.pending) == 0
	if !done {
		t.timer = time.AfterFunc(time.Until(r.Deadline), func() { rs.finish(r.ID) })
	}
	rs.mu.Unlock()
	rs.report(r.Origin, rep)
	if done {
		rs.finish(r.ID)
	}
}

// ack takes client c's acknowledgement of ackID. Only its own deliveries
// count; a repeated or late ack is ignored; an ackId this node never gave
// c is refused.
func (rs *receipts) ack(c *Client, ackID string) error {
	id, err := strconv.ParseUint(ackID, 10, 64)
	if err != nil {
		return errUnknownAck
	}
	rs.mu.Lock()
	t := rs.tracking[id]
	if t == nil {
		_, late := rs.finished[id]
		rs.mu.Unlock()
		if late {
			return nil
		}
		return errUnknownAck
	}
	who, ok := t.pending[c.id]
	if !ok {
		acked := slices.ContainsFunc(t.acked, func(r Recipient) bool { return r.ClientID == c.id })
		rs.mu.Unlock()
		if acked {
			return nil // a duplicate
		}
		return errUnknownAck // another client's delivery
	}
	delete(t.pending, c.id)
	t.acked = append(t.acked, who)
	rs.hub.metrics.AckLatency(time.Since(t.sent))
	done := len(t.pending) == 0 && t.timer != nil // else delivered finishes it
	rs.mu.Unlock()
	if done {
		rs.finish(id)
	}
	return nil
}

// finish sends a tracked receipt's final report: all acked, or the deadline.
func (rs *receipts) finish(id uint64) {
	rs.mu.Lock()
	t := rs.tracking[id]
	if t == nil {
		rs.mu.Unlock()
		return
	}
	delete(rs.tracking, id)
	if t.timer != nil {
		t.timer.Stop()
	}
	now := time.Now()
	rs.finished[id] = now
	for old, at := range rs.finished { // bounded by what ended within a minute
		if now.Sub(at) > time.Minute {
			delete(rs.finished, old)
		}
	}
	rs.mu.Unlock()
	rs.report(t.r.Origin, ReceiptReport{ID: id, Node: rs.node, Acked: t.acked, Final: true})
}

// report sends rep to origin: to itself directly, to another node over the
// bus.
func (rs *receipts) report(origin string, rep ReceiptReport) {
	rs.mu.Lock()
	bus := rs.bus
	rs.mu.Unlock()
	if origin == rs.node || bus == nil {
		rs.reported(rep)
		return
	}
	bus.Report(origin, rep)
}

// stop drops the tracking timers: the node is stopping.
func (rs *receipts) stop() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, t := range rs.tracking {
		if t.timer != nil {
			t.timer.Stop()
		}
	}
}
