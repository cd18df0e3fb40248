package cluster

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/gateway"
)

// The nodes tell each other, over NATS core, who is in which room and that
// they are alive, and run operations on each other's connections:
//
//   - presence: each node publishes on gamegate.presence.<node> the count of
//     a user's connections in a room on it whenever it changes, and a beat
//     every peerBeat. A node it has not heard of, or that restarted (a new
//     incarnation), gets its whole state at once. A node silent for
//     peerSilence is gone: its users leave every room. One subject per node
//     keeps each node's messages in order.
//   - operations (gateway.Op): a request on gamegate.ops that every other
//     node answers; the asker waits for the nodes it knows are alive.
//   - long-polling requests for another node's session (polls.go).
const (
	presencePrefix = "gamegate.presence."
	opsSubject     = "gamegate.ops"
	reportPrefix   = "gamegate.receipt.report."
	peerBeat       = time.Second
	peerSilence    = 4 * peerBeat
	// opsWait bounds an operation's wait for the other nodes.
	opsWait = 2 * time.Second
)

// presenceMsg is a node's message on its presence subject.
type presenceMsg struct {
	Node        string          `json:"node"`
	Incarnation string          `json:"inc"`
	Counts      []presenceCount `json:"counts,omitempty"`
}

type presenceCount struct {
	Room        string `json:"r"`
	User        string `json:"u"`
	Connections int    `json:"n"`
}

// maxCountsPerMsg keeps a state message well under NATS's 1 MiB payload.
const maxCountsPerMsg = 2000

// peers is this node's view of the others.
type peers struct {
	a           *Adapter
	node        string
	incarnation string

	clash sync.Once // said that another node has our name

	mu      sync.Mutex
	known   map[string]peer // by node
	run     func(context.Context, gateway.Op) gateway.Answer
	pollTag string // this node's name in the sids it gives
	poll    func(context.Context, gateway.PollRequest) gateway.PollAnswer
}

type peer struct {
	incarnation string
	seen        time.Time
}

func newPeers(a *Adapter, node string) *peers {
	return &peers{a: a, node: node, incarnation: rand.Text()[:8], known: make(map[string]peer)}
}

// Publish tells the other nodes user's connections in room on this node
// (gateway.PresenceBus).
func (p *peers) Publish(room, user string, connections int) {
	p.send([]presenceCount{{Room: room, User: user, Connections: connections}})
}

func (p *peers) send(counts []presenceCount) {
	nc := p.a.conn.Load()
	if nc == nil {
		return
	}
	b, _ := json.Marshal(presenceMsg{Node: p.node, Incarnation: p.incarnation, Counts: counts})
	_ = nc.Publish(presencePrefix+nodeKey(p.node), b) // a lost count is restated by the next state
}

// sendState publishes this node's whole presence.
func (p *peers) sendState() {
	var batch []presenceCount
	p.a.hub.PresenceCounts(func(room, user string, n int) {
		batch = append(batch, presenceCount{Room: room, User: user, Connections: n})
		if len(batch) == maxCountsPerMsg {
			p.send(batch)
			batch = nil
		}
	})
	p.send(batch) // also a beat when there is nothing
}

// receive applies another node's message.
func (p *peers) receive(m *nats.Msg) {
	var msg presenceMsg
	if err := json.Unmarshal(m.Data, &msg); err != nil || msg.Node == "" {
		return
	}
	if msg.Node == p.node {
		if msg.Incarnation != p.incarnation {
			p.clash.Do(func() {
				p.a.log.Error("another node has this node's name: presence and session takeovers mix them up; give each node its own NODE_ID",
					zap.String("node", p.node))
			})
		}
		return
	}
	p.mu.Lock()
	was, known := p.known[msg.Node]
	p.known[msg.Node] = peer{incarnation: msg.Incarnation, seen: time.Now()}
	p.mu.Unlock()
	if known && was.incarnation != msg.Incarnation {
		p.a.hub.ForgetNode(msg.Node) // it restarted: what it had is gone
	}
	if !known || was.incarnation != msg.Incarnation {
		p.sendState() // a newcomer learns this node's state
	}
	for _, c := range msg.Counts {
		p.a.hub.PresenceOn(msg.Node, c.Room, c.User, c.Connections)
	}
}

// watch beats, and forgets the nodes gone silent, until quit.
func (p *peers) watch(quit <-chan struct{}) {
	t := time.NewTicker(peerBeat)
	defer t.Stop()
	p.sendState()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		p.send(nil)
		var gone []string
		p.mu.Lock()
		for node, q := range p.known {
			if time.Since(q.seen) > peerSilence {
				delete(p.known, node)
				gone = append(gone, node)
			}
		}
		p.mu.Unlock()
		for _, node := range gone {
			p.a.log.Info("a node went silent; its users leave their rooms", zap.String("node", node))
			p.a.hub.ForgetNode(node)
		}
	}
}

// alive is how many other nodes are known to be alive.
func (p *peers) alive() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.known)
}

// Ask runs op on every other node that is alive and returns their answers
// (gateway.Remote).
func (p *peers) Ask(ctx context.Context, op gateway.Op) ([]gateway.Answer, error) {
	nc := p.a.conn.Load()
	want := p.alive()
	if nc == nil || want == 0 {
		return nil, nil
	}
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	b, _ := json.Marshal(op)
	if err := nc.PublishRequest(opsSubject, inbox, b); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, opsWait)
	defer cancel()
	var answers []gateway.Answer
	for len(answers) < want {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			p.a.log.Debug("not every node answered an operation", zap.String("op", op.Kind), zap.Int("answers", len(answers)), zap.Int("nodes", want))
			break
		}
		var a gateway.Answer
		if json.Unmarshal(m.Data, &a) == nil {
			answers = append(answers, a)
		}
	}
	return answers, nil
}

// Serve answers the other nodes' operations with run (gateway.Remote).
func (p *peers) Serve(run func(context.Context, gateway.Op) gateway.Answer) {
	p.mu.Lock()
	p.run = run
	p.mu.Unlock()
}

// answer runs another node's operation.
func (p *peers) answer(m *nats.Msg) {
	p.mu.Lock()
	run := p.run
	p.mu.Unlock()
	var op gateway.Op
	if run == nil || json.Unmarshal(m.Data, &op) != nil {
		return
	}
	go func() { // an operation may wait (a kick for close frames): not on NATS's goroutine
		ctx, cancel := context.WithTimeout(context.Background(), opsWait)
		defer cancel()
		b, _ := json.Marshal(run(ctx, op))
		_ = m.Respond(b)
	}()
}

// Nodes is how many nodes, this one included, are alive to deliver a
// message with a receipt (gateway.ReceiptBus).
func (p *peers) Nodes() int { return p.alive() + 1 }

// Report sends a receipt's report to its origin (gateway.ReceiptBus).
func (p *peers) Report(origin string, r gateway.ReceiptReport) {
	nc := p.a.conn.Load()
	if nc == nil {
		return
	}
	b, _ := json.Marshal(r)
	_ = nc.Publish(reportPrefix+nodeKey(origin), b) // lost: its recipients time out at the origin
}

// reported hands another node's report of this node's receipt to the hub.
func (p *peers) reported(m *nats.Msg) {
	var r gateway.ReceiptReport
	if json.Unmarshal(m.Data, &r) == nil {
		p.a.hub.Reported(r)
	}
}

// subscribe starts hearing the other nodes on nc.
func (p *peers) subscribe(nc *nats.Conn) error {
	subjects := map[string]nats.MsgHandler{
		presencePrefix + "*":           p.receive,
		opsSubject:                     p.answer,
		reportPrefix + nodeKey(p.node): p.reported,
	}
	p.mu.Lock()
	if p.poll != nil {
		subjects[pollPrefix+p.pollTag] = p.relayed
	}
	p.mu.Unlock()
	for subject, handler := range subjects {
		if _, err := nc.Subscribe(subject, handler); err != nil {
			return err
		}
	}
	return nil
}
