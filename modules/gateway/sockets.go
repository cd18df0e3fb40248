package gateway

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"go.uber.org/fx"

	"github.com/gamegate/gamegate/pkg/wsconn"
)

// The server's hand on live connections, on every node, named as
// socket.io's server API: FetchSockets, SocketsJoin, SocketsLeave and
// DisconnectSockets act on the connections in a room (a user's: its
// personal room), wherever they are, and return once every node has done
// its part.

// Socket describes a live connection.
type Socket struct {
	ClientID    string    `json:"clientId"`
	UserID      string    `json:"userId"`
	Node        string    `json:"node"`
	Transport   string    `json:"transport"` // "ws" or "socketio"
	ConnectedAt time.Time `json:"connectedAt"`
	Rooms       []string  `json:"rooms"`
}

// Close codes of the server's hand.
const (
	StatusKicked       wsconn.StatusCode = 4000
	StatusTokenExpired wsconn.StatusCode = 4001
	StatusSessionLimit wsconn.StatusCode = 4002
)

// Op is an operation on the connections in Room, run on every node: "fetch",
// "join" or "leave" Target, "disconnect" with Code and Reason.
type Op struct {
	Kind   string `json:"kind"`
	Room   string `json:"room"`
	Target string `json:"target,omitempty"`
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Only, when set, limits the op to that client.
	Only string `json:"only,omitempty"`
}

// Answer is a node's result of an Op: the connections it fetched, or how
// many it acted on.
type Answer struct {
	Sockets []Socket `json:"sockets,omitempty"`
	Count   int      `json:"count"`
}

// Remote runs Ops on the other nodes; the cluster module provides it.
// Without it there are no other nodes.
type Remote interface {
	// Ask runs op on every other node that is alive and returns their
	// answers once all have answered, or ctx ends.
	Ask(ctx context.Context, op Op) ([]Answer, error)
	// Serve answers the other nodes' Ops with run.
	Serve(run func(context.Context, Op) Answer)
}

// ErrUnknownOp is an Op of a kind this node does not know.
var ErrUnknownOp = errors.New("gateway: unknown op")

// Sockets runs Ops here and on the other nodes. The Server it acts on
// attaches itself: the Emitter, which other modules use while they are
// built, depends on Sockets, not on the Server.
type Sockets struct {
	srv    *Server
	remote Remote // nil on one node
}

// SocketsParams are the Sockets' dependencies.
type SocketsParams struct {
	fx.In

	Remote Remote `optional:"true"`
}

// NewSockets returns the Sockets, to be attached to the Server.
func NewSockets(p SocketsParams) *Sockets { return &Sockets{remote: p.Remote} }

// attach makes s act on srv's connections, and answer the other nodes'
// Ops.
func (s *Sockets) attach(srv *Server) {
	s.srv, srv.sockets = srv, s
	if s.remote != nil {
		s.remote.Serve(s.local)
	}
}

// FetchSockets lists the live connections in room, on every node
// (io.in(room).fetchSockets()).
func (s *Sockets) FetchSockets(ctx context.Context, room string) ([]Socket, error) {
	answers, err := s.run(ctx, Op{Kind: "fetch", Room: room})
	var out []Socket
	for _, a := range answers {
		out = append(out, a.Sockets...)
	}
	slices.SortFunc(out, func(a, b Socket) int { return a.ConnectedAt.Compare(b.ConnectedAt) })
	return out, err
}

// SocketsJoin puts every live connection in room in target as well, on
// every node, and returns how many; each gets joinedRoom (without an id). A
// message sent to target once it returns reaches them all
// (io.in(room).socketsJoin(target)).
func (s *Sockets) SocketsJoin(ctx context.Context, room, target string) (int, error) {
	return s.count(ctx, Op{Kind: "join", Room: room, Target: target})
}

// SocketsLeave takes every live connection in room out of target, on every
// node; each gets leftRoom (io.in(room).socketsLeave(target)).
func (s *Sockets) SocketsLeave(ctx context.Context, room, target string) (int, error) {
	return s.count(ctx, Op{Kind: "leave", Room: room, Target: target})
}

// DisconnectSockets closes every live connection in room, on every node,
// with code and reason (Socket.IO: a DISCONNECT packet first), and returns
// how many, once their close frames are out. Their sessions are forgotten:
// a connection the server put out does not recover
// (io.in(room).disconnectSockets(true)).
func (s *Sockets) DisconnectSockets(ctx context.Context, room string, code wsconn.StatusCode, reason string) (int, error) {
	return s.count(ctx, Op{Kind: "disconnect", Room: room, Code: int(code), Reason: reason})
}

func (s *Sockets) count(ctx context.Context, op Op) (int, error) {
	answers, err := s.run(ctx, op)
	n := 0
	for _, a := range answers {
		n += a.Count
	}
	return n, err
}

// run runs op here and on the other nodes at the same time.
func (s *Sockets) run(ctx context.Context, op Op) ([]Answer, error) {
	if s.remote == nil {
		return []Answer{s.local(ctx, op)}, nil
	}
	done := make(chan []Answer, 1)
	var err error
	go func() {
		var answers []Answer
		answers, err = s.remote.Ask(ctx, op)
		done <- answers
	}()
	mine := s.local(ctx, op)
	return append(<-done, mine), err
}

// local runs op on this node's connections.
func (s *Sockets) local(ctx context.Context, op Op) Answer {
	var clients []*Client
	for _, c := range s.srv.hub.members(op.Room) {
		if op.Only == "" || c.id == op.Only {
			clients = append(clients, c)
		}
	}
	var a Answer
	switch op.Kind {
	case "fetch":
		for _, c := range clients {
			rooms, _ := c.roomSnapshot()
			a.Sockets = append(a.Sockets, Socket{
				ClientID: c.id, UserID: c.userID, Node: s.srv.node, Transport: c.t.name(),
				ConnectedAt: c.connectedAt, Rooms: slices.Sorted(maps.Keys(rooms)),
			})
		}
		a.Count = len(a.Sockets)
	case "join", "leave":
		event := "joinedRoom"
		if op.Kind == "leave" {
			event = "leftRoom"
		}
		for _, c := range clients {
			if op.Kind == "join" {
				c.Join(op.Target)
			} else {
				c.Leave(op.Target)
			}
			c.sendReply(event, Room{RoomID: op.Target}, nil)
		}
		s.srv.hub.sync(ctx) // the rooms reach the other nodes before the answer
		a.Count = len(clients)
	case "disconnect":
		switch wsconn.StatusCode(op.Code) {
		case StatusKicked:
			s.srv.metrics.SessionAction("kick")
		case StatusSessionLimit:
			s.srv.metrics.SessionAction("session_limit")
		}
		for _, c := range clients {
			if s.srv.sessions != nil && c.session != nil {
				s.srv.sessions.drop(c.session) // put out: not to be recovered
			}
			c.Close(wsconn.StatusCode(op.Code), op.Reason)
		}
		for _, c := range clients {
			select {
			case <-c.conn().CloseSent():
			case <-ctx.Done():
			}
		}
		a.Count = len(clients)
	}
	return a
}
