package cluster_test

import (
	"fmt"
	"testing"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// A node subscribes to a room while it has members in it, and no longer:
// other nodes' messages to it stop crossing.
func TestLastLeaveDropsTheSubscription(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 2)
	from, to := nodes[0], nodes[1]
	bob, carol := dialJoin(t, to, "bob", "lobby"), dialJoin(t, to, "carol", "lobby")
	waitInterest(t, srv, "lobby", 1)
	waitInterest(t, srv, "user:carol", 1)
	if got := to.adapter.Subscriptions(); got != 3 { // lobby and the two personal rooms
		t.Fatalf("node subscribes to %d rooms, want 3", got)
	}

	ctx := t.Context()
	bob.Send("leaveRoom", map[string]string{"roomId": "lobby"}, nil)
	bob.Expect("leftRoom")
	// carol is still in: the room still crosses.
	if err := from.Emitter.ToRoom(ctx, "lobby", "tick", 1); err != nil {
		t.Fatal(err)
	}
	expect(t, carol, "tick", 1)

	carol.Send("leaveRoom", map[string]string{"roomId": "lobby"}, nil)
	carol.Expect("leftRoom")
	waitInterest(t, srv, "lobby", 0)
	waitfor.Until(t, gt.Timeout, func() error {
		if got := to.adapter.Subscriptions(); got != 2 {
			return fmt.Errorf("node subscribes to %d rooms, want 2", got)
		}
		return nil
	})
	received := to.Metric(t, "gamegate_cluster_messages_received_total")
	if err := from.Emitter.ToRoom(ctx, "lobby", "tick", 2); err != nil {
		t.Fatal(err)
	}
	if err := from.Emitter.ToUser(ctx, "carol", "marker", nil); err != nil {
		t.Fatal(err)
	}
	expect(t, carol, "marker", nil)
	if got := to.Metric(t, "gamegate_cluster_messages_received_total"); got != received+1 {
		t.Fatalf("node received %v messages after the last leave, want only the marker", got-received)
	}
	bob.Alive()
}

// A user's personal room is followed like any other: a disconnect drops it.
func TestDisconnectDropsThePersonalRoom(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 1)
	dave := dialJoin(t, nodes[0], "dave", "lobby")
	waitInterest(t, srv, "user:dave", 1)
	waitInterest(t, srv, "lobby", 1)

	if err := dave.Conn.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatal(err)
	}
	waitInterest(t, srv, "user:dave", 0)
	waitInterest(t, srv, "lobby", 0)
	waitfor.Until(t, gt.Timeout, func() error {
		if got := nodes[0].adapter.Subscriptions(); got != 0 {
			return fmt.Errorf("node subscribes to %d rooms, want 0", got)
		}
		return nil
	})
}

// Room and user ids with characters that are special in NATS subjects reach
// their own members only.
func TestSpecialRoomIDsDoNotCollide(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 2)
	users := []string{"a", "a.b", "a.*", "a.>", "*", ">", "a b", " ", "\t", "ünïcødé", "user:a", "a.b.c", "gamegate.all"}
	rooms := []string{"r", "r.s", "r:s", "r.s.t", "-", "_", ".", "..", "r.", ".r", "R", "gamegate.all", "r-s_t:u.v"}
	clients := make([]*gt.Client, len(users))
	for i, u := range users {
		clients[i] = dialJoin(t, nodes[1], u, rooms[i])
	}
	for i, u := range users {
		waitInterest(t, srv, "user:"+u, 1)
		waitInterest(t, srv, rooms[i], 1)
	}

	ctx := t.Context()
	for i, u := range users {
		if err := nodes[0].Emitter.ToUser(ctx, u, "mine", i); err != nil {
			t.Fatal(err)
		}
	}
	for i, r := range rooms {
		if err := nodes[0].Emitter.ToRoom(ctx, r, "room", i); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[0].Emitter.ToAll(ctx, "marker", nil); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		expect(t, c, "mine", i)
		expect(t, c, "room", i)
		expect(t, c, "marker", nil)
	}
}
