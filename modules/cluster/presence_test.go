package cluster_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// rest makes an admin REST call and returns the status and the body.
func rest(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+gt.Token(t, "ops", "admin"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func watchRoom(t *testing.T, c *gt.Client, room string) {
	t.Helper()
	c.Send("joinRoom", map[string]any{"roomId": room, "presence": true}, nil)
	c.Expect("joinedRoom")
}

func expectMember(t *testing.T, c *gt.Client, event, room, user string) {
	t.Helper()
	f := c.Expect(event)
	if want := fmt.Sprintf(`{"roomId":%q,"userId":%q}`, room, user); string(f.Data) != want {
		t.Fatalf("%s %s, want %s", event, f.Data, want)
	}
}

// A user with a tab on each of two nodes joins a room once and leaves it
// once, as a watcher on a third node sees it; the members list counts its
// connections on every node.
func TestPresenceAcrossNodes(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 3)
	watcher := nodes[2].Dial(t, gt.Token(t, "watcher"))
	watchRoom(t, watcher, "lobby")
	tab1 := dialJoin(t, nodes[0], "alice", "lobby")
	expectMember(t, watcher, "memberJoined", "lobby", "alice")
	tab2 := dialJoin(t, nodes[1], "alice", "lobby")
	waitfor.Until(t, gt.Timeout, func() error {
		code, body := rest(t, http.MethodGet, nodes[2].URL+"/rooms/lobby/members")
		if want := `{"roomId":"lobby","users":[{"userId":"alice","connections":2},{"userId":"watcher","connections":1}],"count":2}`; code != 200 || body != want {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	_ = tab1.Conn.Close(websocket.StatusNormalClosure, "")
	// alice is still there, on node 1: the watcher's next event is bob's
	// join, sent from node 0 after tab1's leave.
	waitfor.Until(t, gt.Timeout, func() error {
		if _, body := rest(t, http.MethodGet, nodes[2].URL+"/rooms/lobby/members"); !strings.Contains(body, `{"userId":"alice","connections":1}`) {
			return errors.New(body)
		}
		return nil
	})
	dialJoin(t, nodes[0], "bob", "lobby")
	expectMember(t, watcher, "memberJoined", "lobby", "bob")
	_ = tab2.Conn.Close(websocket.StatusNormalClosure, "")
	expectMember(t, watcher, "memberLeft", "lobby", "alice")
}

// A node that dies takes its users out of their rooms within 10 s, on every
// other node, each once, and leaves no ghost in the members list.
func TestPresenceForgetsADeadNode(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 2)
	watcher := nodes[0].Dial(t, gt.Token(t, "watcher"))
	watchRoom(t, watcher, "arena")
	const players = 200
	for i := range players {
		c := nodes[1].Dial(t, gt.Token(t, fmt.Sprint("player-", i)))
		c.Send("joinRoom", map[string]string{"roomId": "arena"}, nil)
	}
	count := func() int {
		_, body := rest(t, http.MethodGet, nodes[0].URL+"/rooms/arena/members")
		var got struct{ Count int }
		_ = json.Unmarshal([]byte(body), &got)
		return got.Count
	}
	waitfor.Until(t, gt.Timeout, func() error {
		if n := count(); n != players+1 {
			return fmt.Errorf("%d members", n)
		}
		return nil
	})
	// The watcher hears of every join, as events or as roomMembers frames.
	joined := map[string]bool{}
	for len(joined) < players {
		f := watcher.Next()
		switch f.Event {
		case "memberJoined":
			var e struct{ UserID string }
			_ = json.Unmarshal(f.Data, &e)
			joined[e.UserID] = true
		case "roomMembers":
			var m struct{ Users []string }
			_ = json.Unmarshal(f.Data, &m)
			for _, u := range m.Users {
				if u != "watcher" {
					joined[u] = true
				}
			}
		}
	}

	died := time.Now()
	nodes[1].adapter.Sever()
	nodes[1].Stop(t)
	left := map[string]bool{}
	for len(left) < players {
		f := watcher.NextWithin(10 * time.Second)
		switch f.Event {
		case "memberLeft":
			var e struct{ UserID string }
			_ = json.Unmarshal(f.Data, &e)
			if left[e.UserID] {
				t.Fatalf("%s left twice", e.UserID)
			}
			left[e.UserID] = true
		case "roomMembers":
			var m struct{ Users []string }
			_ = json.Unmarshal(f.Data, &m)
			if len(m.Users) == 1 {
				for i := range players {
					left[fmt.Sprint("player-", i)] = true
				}
			}
		default:
			t.Fatalf("unexpected %s %s", f.Event, f.Data)
		}
	}
	if took := time.Since(died); took > 10*time.Second {
		t.Fatalf("the dead node's users left after %v", took)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d members after the node died, want the watcher only", n)
	}
}

// The server's hand reaches every node: a user's sessions listed from any
// node, put in a room on every node before the answer (so a broadcast
// right after reaches every tab, every time), and kicked everywhere.
func TestSessionsAcrossNodes(t *testing.T) {
	srv := startNATS(t, -1)
	nodes := startNodes(t, srv.ClientURL(), 3)
	var tabs []*gt.Client
	for _, n := range nodes {
		tabs = append(tabs, n.Dial(t, gt.Token(t, "alice")))
	}
	code, body := rest(t, http.MethodGet, nodes[0].URL+"/users/alice/sessions")
	var got struct{ Sessions []struct{ Node string } }
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 || len(got.Sessions) != 3 {
		t.Fatalf("GET sessions: %d %s", code, body)
	}

	const tries = 1000
	for i := range tries {
		room := fmt.Sprint("table-", i)
		if code, body := rest(t, http.MethodPut, nodes[i%3].URL+"/users/alice/rooms/"+room); code != 200 || body != `{"connections":3}` {
			t.Fatalf("PUT %s: %d %s", room, code, body)
		}
		if err := nodes[(i+1)%3].Emitter.ToRoom(t.Context(), room, "deal", i); err != nil {
			t.Fatal(err)
		}
		for j, tab := range tabs {
			tab.Expect("joinedRoom")
			if f := tab.Expect("deal"); string(f.Data) != fmt.Sprint(i) {
				t.Fatalf("try %d: tab %d got %s", i, j, f.Data)
			}
		}
	}

	if code, body := rest(t, http.MethodDelete, nodes[1].URL+"/users/alice/sessions"); code != 200 || body != `{"closed":3}` {
		t.Fatalf("DELETE sessions: %d %s", code, body)
	}
	for i, tab := range tabs {
		if code, reason := tab.Closed(); code != 4000 || reason != "kicked" {
			t.Fatalf("tab %d closed %d %q", i, code, reason)
		}
	}
}
