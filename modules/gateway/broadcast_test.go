package gateway_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// marker proves by order that nothing else reached c: it is emitted to c's
// personal room after the deliveries under test, so it must be c's next frame.
func marker(t *testing.T, n *gt.Node, c *gt.Client, user string) {
	t.Helper()
	if err := n.Emitter.ToUser(t.Context(), user, "marker", nil); err != nil {
		t.Fatal(err)
	}
	c.Expect("marker")
}

func TestEmitterVocabulary(t *testing.T) {
	n := gt.Start(t, gt.Config())
	alice := n.Dial(t, gt.Token(t, "alice"))
	bob := n.Dial(t, gt.Token(t, "bob"))
	bob2 := n.Dial(t, gt.Token(t, "bob")) // a second tab
	carol := n.Dial(t, gt.Token(t, "carol"))
	alice.Join("table")
	bob.Join("table")
	ctx := t.Context()

	// To a room: its members only.
	if err := n.Emitter.ToRoom(ctx, "table", "deal", map[string]string{"card": "A♠"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*gt.Client{alice, bob} {
		if f := c.Expect("deal"); string(f.Data) != `{"card":"A♠"}` {
			t.Fatalf("deal %s", f.Data)
		}
	}
	marker(t, n, bob2, "bob")
	bob.Expect("marker")
	marker(t, n, carol, "carol")

	// To a room except one client.
	if err := n.Emitter.ToRoomExcept(ctx, "table", alice.Connected.ClientID, "move", 1); err != nil {
		t.Fatal(err)
	}
	bob.Expect("move")
	marker(t, n, alice, "alice")

	// To a user: every connection of that user.
	if err := n.Emitter.ToUser(ctx, "bob", "dm", "hi"); err != nil {
		t.Fatal(err)
	}
	bob.Expect("dm")
	bob2.Expect("dm")
	marker(t, n, alice, "alice")

	// To everyone.
	if err := n.Emitter.ToAll(ctx, "maintenance", nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*gt.Client{alice, bob, bob2, carol} {
		c.Expect("maintenance")
	}
}

func TestLeaveAndDisconnectStopDelivery(t *testing.T) {
	n := gt.Start(t, gt.Config())
	alice := n.Dial(t, gt.Token(t, "alice"))
	bob := n.Dial(t, gt.Token(t, "bob"))
	alice.Join("table")
	bob.Join("table")
	rooms := n.Hub.Rooms() // table and two personal rooms
	if rooms != 3 {
		t.Fatalf("rooms = %d, want 3", rooms)
	}

	alice.Send("leaveRoom", map[string]string{"roomId": "table"}, nil)
	alice.Expect("leftRoom")
	_ = n.Emitter.ToRoom(t.Context(), "table", "deal", nil)
	bob.Expect("deal")
	marker(t, n, alice, "alice")

	_ = bob.Conn.CloseNow()
	waitfor.Until(t, gt.Timeout, func() error {
		if n.Hub.Clients() != 1 || n.Hub.Rooms() != 1 {
			return fmt.Errorf("clients %d rooms %d, want 1 and 1", n.Hub.Clients(), n.Hub.Rooms())
		}
		return nil
	})
}

// A broadcast is encoded once and every member sees the same bytes, in order.
func TestRoomBroadcastOrderToManyMembers(t *testing.T) {
	n := gt.Start(t, gt.Config())
	const members, messages = 50, 100
	clients := make([]*gt.Client, members)
	for i := range clients {
		clients[i] = n.Dial(t, gt.Token(t, fmt.Sprintf("p%d", i)))
		clients[i].Join("arena")
	}
	for i := range messages {
		if err := n.Emitter.ToRoom(t.Context(), "arena", "tick", i); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients {
		for i := range messages {
			if f := c.Expect("tick"); string(f.Data) != fmt.Sprint(i) {
				t.Fatalf("tick %s, want %d", f.Data, i)
			}
		}
	}
}

// Frames are built by the gateway itself: every header length form arrives
// intact (7-bit, 16-bit and 64-bit payload lengths).
func TestFrameLengths(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))
	// {"event":"big","data":"…"} adds 24 bytes: payloads of 125/126 and
	// 65535/65536 bytes sit on either side of each header form's limit.
	for _, size := range []int{0, 101, 102, 65511, 65512, 70000} {
		text := strings.Repeat("x", size)
		if err := n.Emitter.ToUser(t.Context(), "alice", "big", text); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := json.Unmarshal(c.Expect("big").Data, &got); err != nil || got != text {
			t.Fatalf("size %d: got %d bytes, %v", size, len(got), err)
		}
	}
}
