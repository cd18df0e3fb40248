package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/gamegate/gamegate/modules/gateway"
)

// A long-polling request for an Engine.IO session held by another node goes
// to that node over NATS request-reply, on gamegate.poll.<tag>: the tag
// names the node in the sids it gives, so no node asks who holds a session
// (gateway.PollRelay). The requesting node answers the client with the
// reply, so a load balancer needs no sticky sessions.
const pollPrefix = "gamegate.poll."

// errDown: NATS is not reachable, so neither is the session's node.
var errDown = errors.New("cluster: NATS is down")

// Relay has the node that tag names answer req (gateway.PollRelay).
func (p *peers) Relay(ctx context.Context, tag string, req gateway.PollRequest) (gateway.PollAnswer, error) {
	var a gateway.PollAnswer
	nc := p.a.conn.Load()
	if nc == nil || p.a.State() != Up {
		return a, errDown
	}
	b, err := json.Marshal(req)
	if err != nil {
		return a, err
	}
	m, err := nc.RequestWithContext(ctx, pollPrefix+tag, b)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		return a, gateway.ErrNoNode
	case err != nil:
		return a, fmt.Errorf("cluster: relaying a polling request: %w", err)
	}
	if err := json.Unmarshal(m.Data, &a); err != nil {
		return a, fmt.Errorf("cluster: a relayed poll's answer: %w", err)
	}
	return a, nil
}

// ServePolls answers, with serve, the requests relayed to this node, which
// tag names (gateway.PollRelay). The gateway calls it as it is built,
// before the adapter starts.
func (p *peers) ServePolls(tag string, serve func(context.Context, gateway.PollRequest) gateway.PollAnswer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pollTag, p.poll = tag, serve
}

// relayed answers a polling request another node relayed here.
func (p *peers) relayed(m *nats.Msg) {
	p.mu.Lock()
	serve := p.poll
	p.mu.Unlock()
	var req gateway.PollRequest
	if serve == nil || json.Unmarshal(m.Data, &req) != nil {
		return
	}
	go func() { // a GET waits for the session's next packet: not on NATS's goroutine
		b, _ := json.Marshal(serve(context.Background(), req))
		_ = m.Respond(b) // lost: the client's request fails, and it opens a new session
	}()
}
