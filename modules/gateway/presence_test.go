package gateway_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// joinPresence joins room asking for presence and returns the members the
// reply lists.
func joinPresence(t *testing.T, c *gt.Client, room string) []string {
	t.Helper()
	c.Send("joinRoom", map[string]any{"roomId": room, "presence": true}, "p")
	var got struct {
		RoomID  string   `json:"roomId"`
		Members []string `json:"members"`
	}
	if err := json.Unmarshal(c.Expect("joinedRoom").Data, &got); err != nil || got.RoomID != room {
		t.Fatalf("joinedRoom %+v %v", got, err)
	}
	return got.Members
}

func expectPresence(t *testing.T, c *gt.Client, event, room, user string) {
	t.Helper()
	f := c.Expect(event)
	if want := fmt.Sprintf(`{"roomId":%q,"userId":%q}`, room, user); string(f.Data) != want {
		t.Fatalf("%s %s, want %s", event, f.Data, want)
	}
}

// Presence counts users, not connections: a second tab is not a second
// join, and only the last leaving is a leave. A plain member gets no
// presence events.
func TestPresenceCountsUsers(t *testing.T) {
	n := gt.Start(t, gt.Config())
	watcher := n.Dial(t, gt.Token(t, "watcher"))
	if got := joinPresence(t, watcher, "lobby"); !slices.Equal(got, []string{"watcher"}) {
		t.Fatalf("members %v", got)
	}
	plain := n.Dial(t, gt.Token(t, "plain"))
	plain.Join("lobby")
	expectPresence(t, watcher, "memberJoined", "lobby", "plain")

	tab1 := n.Dial(t, gt.Token(t, "alice"))
	tab1.Join("lobby")
	expectPresence(t, watcher, "memberJoined", "lobby", "alice")
	tab2 := n.Dial(t, gt.Token(t, "alice"))
	tab2.Join("lobby")
	tab1.Send("leaveRoom", map[string]string{"roomId": "lobby"}, nil)
	tab1.Expect("leftRoom")
	// Neither the second tab nor the first tab's leave was an event: the
	// watcher's next one is bob's join, which came after them.
	bob := n.Dial(t, gt.Token(t, "bob"))
	bob.Join("lobby")
	expectPresence(t, watcher, "memberJoined", "lobby", "bob")
	_ = tab2.Conn.Close(websocket.StatusNormalClosure, "")
	expectPresence(t, watcher, "memberLeft", "lobby", "alice") // a disconnect is a leave

	// roomMembers, for members of the room only.
	plain.Send("roomMembers", map[string]string{"roomId": "lobby"}, 1)
	if f := plain.Expect("roomMembers"); string(f.Data) != `{"roomId":"lobby","users":["bob","plain","watcher"],"count":3}` {
		t.Fatalf("roomMembers %s", f.Data)
	}
	tab1.Send("roomMembers", map[string]string{"roomId": "lobby"}, 2)
	if f := tab1.Expect("exception"); string(f.Data) != `{"status":"error","message":"not a member of room \"lobby\""}` {
		t.Fatalf("exception %s", f.Data)
	}
	plain.Alive()
}

// Many users joining at once: a watcher gets one roomMembers frame with the
// whole list instead of an event per user.
func TestPresenceBurstIsOneFrame(t *testing.T) {
	n := gt.Start(t, gt.Config())
	watcher := n.Dial(t, gt.Token(t, "watcher"))
	joinPresence(t, watcher, "arena")
	const users = 40
	players := make([]*gt.Client, users)
	for i := range players {
		players[i] = n.Dial(t, gt.Token(t, fmt.Sprint("player-", i)))
	}
	for _, c := range players {
		c.Send("joinRoom", map[string]string{"roomId": "arena"}, nil) // all at once
	}
	seen := map[string]bool{}
	frames := 0
	for len(seen) < users {
		f := watcher.Next()
		frames++
		switch f.Event {
		case "memberJoined":
			var e struct{ UserID string }
			_ = json.Unmarshal(f.Data, &e)
			seen[e.UserID] = true
		case "roomMembers":
			var m struct{ Users []string }
			_ = json.Unmarshal(f.Data, &m)
			for _, u := range m.Users {
				if u != "watcher" {
					seen[u] = true
				}
			}
		default:
			t.Fatalf("unexpected %s %s", f.Event, f.Data)
		}
	}
	if frames > users/2 {
		t.Fatalf("%d frames for %d users joining at once", frames, users)
	}
	watcher.Alive()
}
