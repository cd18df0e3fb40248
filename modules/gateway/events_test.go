package gateway_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

func TestConnectedGreetingAndPersonalRoom(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))
	if c.Connected.UserID != "alice" || c.Connected.ClientID == "" {
		t.Fatalf("connected: %+v", c.Connected)
	}
	if err := n.Emitter.ToUser(t.Context(), "alice", "hello", map[string]int{"n": 1}); err != nil {
		t.Fatal(err)
	}
	if f := c.Expect("hello"); string(f.Data) != `{"n":1}` {
		t.Fatalf("data %s", f.Data)
	}
}

func TestBuiltinEvents(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))

	c.SendRaw(`{"event":"joinRoom","data":{"roomId":"table-1"},"id":7}`)
	f := c.Expect("joinedRoom")
	if string(f.Data) != `{"roomId":"table-1"}` || string(f.ID) != "7" {
		t.Fatalf("joinedRoom %s id %s", f.Data, f.ID)
	}

	// Without an id the reply has no "id" key at all.
	c.Send("leaveRoom", map[string]string{"roomId": "table-1"}, nil)
	f = c.Expect("leftRoom")
	if string(f.Data) != `{"roomId":"table-1"}` || f.ID != nil {
		t.Fatalf("leftRoom %s id %s", f.Data, f.ID)
	}

	before := time.Now().UnixMilli()
	c.Send("ping", "anything", "p1")
	f = c.Expect("pong")
	var p struct{ TS int64 }
	if err := json.Unmarshal(f.Data, &p); err != nil || p.TS < before || p.TS > time.Now().UnixMilli() {
		t.Fatalf("pong %s", f.Data)
	}
	if string(f.ID) != `"p1"` {
		t.Fatalf("pong id %s", f.ID)
	}

	// Joining one's own personal room is allowed and changes nothing.
	c.Send("joinRoom", map[string]string{"roomId": "user:alice"}, nil)
	c.Expect("joinedRoom")
}

// Each bad message gets the exact exception, and the connection stays usable.
func TestBadMessagesGetExceptions(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))
	cases := []struct {
		name, frame, message, id string
	}{
		{"malformed JSON", `{"event":`, "malformed JSON", ""},
		{"not an object", `[1,2]`, "frame must be a JSON object", ""},
		{"missing event", `{"data":{},"id":"m1"}`, "missing event", `"m1"`},
		{"event not a string", `{"event":5,"id":2}`, "missing event", "2"},
		{"unknown event", `{"event":"fly","id":"u1"}`, `unknown event "fly"`, `"u1"`},
		{"roomId missing", `{"event":"joinRoom","data":{},"id":1}`, "roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]", "1"},
		{"roomId not a string", `{"event":"joinRoom","data":{"roomId":5}}`, "roomId must be a string", ""},
		{"data not an object", `{"event":"joinRoom","data":"lobby"}`, "data must be an object", ""},
		{"bad room id", `{"event":"joinRoom","data":{"roomId":"a b"}}`, "roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]", ""},
		{"room id too long", `{"event":"joinRoom","data":{"roomId":"` + strings.Repeat("r", 129) + `"}}`, "roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]", ""},
		{"another user's room", `{"event":"joinRoom","data":{"roomId":"user:bob"},"id":"f"}`, "forbidden", `"f"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.SendRaw(tc.frame)
			f := c.Expect("exception")
			want := `{"status":"error","message":` + mustJSON(tc.message) + `}`
			if string(f.Data) != want {
				t.Fatalf("data %s, want %s", f.Data, want)
			}
			if string(f.ID) != tc.id {
				t.Fatalf("id %s, want %q", f.ID, tc.id)
			}
			c.Alive()
		})
	}
	// The refused join did not happen: bob's pushes do not reach alice.
	_ = n.Emitter.ToUser(t.Context(), "bob", "secret", 1)
	c.Alive()
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
