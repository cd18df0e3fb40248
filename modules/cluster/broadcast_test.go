package cluster_test

import (
	"fmt"
	"testing"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// A broadcast from any node reaches every member on every node once: the
// marker sent after it is the next frame, so no copy came in between.
func TestRoomBroadcastReachesEveryNodeOnce(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 3)
	var members []*gt.Client
	for i, n := range nodes {
		for j := range 2 {
			members = append(members, dialJoin(t, n, fmt.Sprintf("player%d%d", i, j), "arena"))
		}
	}
	outsider := dialJoin(t, nodes[2], "outsider", "lobby")
	waitInterest(t, srv, "arena", 3)

	ctx := t.Context()
	for from, n := range nodes {
		for seq := range 3 {
			if err := n.Emitter.ToRoom(ctx, "arena", "tick", []int{from, seq}); err != nil {
				t.Fatal(err)
			}
		}
		if err := n.Emitter.ToRoom(ctx, "arena", "marker", from); err != nil {
			t.Fatal(err)
		}
		for _, c := range members {
			for seq := range 3 {
				expect(t, c, "tick", []int{from, seq})
			}
			expect(t, c, "marker", from)
		}
	}
	outsider.Alive()
}

func TestToAllReachesEveryNodeOnce(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 2)
	a, b := dialJoin(t, nodes[0], "alice"), dialJoin(t, nodes[1], "bob")
	// Every node subscribes to messages for every client from the start.
	waitInterest(t, srv, "", 2)

	ctx := t.Context()
	for _, n := range nodes {
		if err := n.Emitter.ToAll(ctx, "announcement", "maintenance at noon"); err != nil {
			t.Fatal(err)
		}
		if err := n.Emitter.ToAll(ctx, "marker", nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*gt.Client{a, b} {
			expect(t, c, "announcement", "maintenance at noon")
			expect(t, c, "marker", nil)
		}
	}
}

// ToRoomExcept leaves out one client, on whichever node it is.
func TestExceptWorksAcrossNodes(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 2)
	a := dialJoin(t, nodes[0], "alice", "table")
	b1, b2 := dialJoin(t, nodes[1], "bob", "table"), dialJoin(t, nodes[1], "carol", "table")
	waitInterest(t, srv, "table", 2)

	ctx := t.Context()
	for _, tc := range []struct {
		from   node
		except *gt.Client
	}{
		{nodes[0], b1}, // remote client left out
		{nodes[1], a},  // remote client left out, the other way
		{nodes[1], b2}, // local client left out
	} {
		if err := tc.from.Emitter.ToRoomExcept(ctx, "table", tc.except.Connected.ClientID, "said", "gg"); err != nil {
			t.Fatal(err)
		}
		if err := tc.from.Emitter.ToRoom(ctx, "table", "marker", nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*gt.Client{a, b1, b2} {
			if c != tc.except {
				expect(t, c, "said", "gg")
			}
			expect(t, c, "marker", nil)
		}
	}
}

// A wallet push arriving at one node reaches the user on any other: it goes
// through Emitter.ToUser, to the user's personal room.
func TestUserPushReachesTheUserOnAnotherNode(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 3)
	alice := dialJoin(t, nodes[2], "alice")
	aliceToo := dialJoin(t, nodes[0], "alice")
	bob := dialJoin(t, nodes[2], "bob")
	waitInterest(t, srv, "user:alice", 2)

	push := map[string]any{"userId": "alice", "balance": 1500, "currency": "USD", "txId": "tx-1"}
	if err := nodes[1].Emitter.ToUser(t.Context(), "alice", "balanceUpdated", push); err != nil {
		t.Fatal(err)
	}
	expect(t, alice, "balanceUpdated", push)
	expect(t, aliceToo, "balanceUpdated", push)
	alice.Alive()
	aliceToo.Alive()
	bob.Alive()
}

// The same, end to end: the wallet pushes a balance change on its one link,
// to node 2, and the user is on node 3.
func TestWalletPushReachesTheUserOnAnotherNode(t *testing.T) {
	srv := startNATS(t, -1)
	sim, wallet := startWallet(t)
	elsewhere := closedPort(t)
	nodes := []node{
		startNode(t, nodeConfig(srv.ClientURL(), elsewhere)),
		startNode(t, nodeConfig(srv.ClientURL(), wallet)),
		startNode(t, nodeConfig(srv.ClientURL(), elsewhere)),
	}
	waitfor.Until(t, gt.Timeout, func() error {
		if _, body := readyz(t, nodes[1]); body["wallet"] != "up" {
			return fmt.Errorf("node 2's wallet link is %q", body["wallet"])
		}
		return nil
	})
	alice := dialJoin(t, nodes[2], "alice")
	waitInterest(t, srv, "user:alice", 1)

	balance, err := sim.Credit(walletproto.Transfer{UserID: "alice", Amount: 500, TxID: "tx-1"})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, alice, "balanceUpdated", map[string]any{
		"userId": "alice", "balance": balance.Balance, "currency": balance.Currency, "txId": "tx-1"})
}
