package sessions_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/pkg/token"
)

// call makes a REST request with tok (none when "") and returns the status
// and the body.
func call(t *testing.T, method, url, tok, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestRoomMembers(t *testing.T) {
	n := gt.Start(t, gt.Config())
	admin := gt.Token(t, "ops", "admin")
	for _, user := range []string{"alice", "alice", "bob"} {
		n.Dial(t, gt.Token(t, user)).Join("lobby")
	}
	for _, tc := range []struct {
		path, tok string
		code      int
		body      string
	}{
		{"/rooms/lobby/members", admin, 200, `{"roomId":"lobby","users":[{"userId":"alice","connections":2},{"userId":"bob","connections":1}],"count":2}`},
		{"/rooms/nobody/members", admin, 200, `{"roomId":"nobody","users":[],"count":0}`},
		{"/rooms/no%20spaces/members", admin, 400, `{"statusCode":400,"message":"roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]","error":"Bad Request"}`},
		{"/rooms/lobby/members", gt.Token(t, "alice"), 403, `{"statusCode":403,"message":"role \"admin\" required","error":"Forbidden"}`},
		{"/rooms/lobby/members", "", 401, `{"statusCode":401,"message":"missing bearer token","error":"Unauthorized"}`},
	} {
		if code, body := call(t, http.MethodGet, n.URL+tc.path, tc.tok, ""); code != tc.code || body != tc.body {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, code, body, tc.code, tc.body)
		}
	}
}

// A user's connections, both transports, listed and then put in a room,
// out of it, and closed; a kicked session does not recover.
func TestUserSessions(t *testing.T) {
	n := gt.Start(t, gt.Config())
	admin := gt.Token(t, "ops", "admin")
	ws := n.Dial(t, gt.Token(t, "alice"))
	ws.Join("lobby")
	sio := n.DialSocketIO(t, "alice")
	other := n.Dial(t, gt.Token(t, "bob"))

	code, body := call(t, http.MethodGet, n.URL+"/users/alice/sessions", admin, "")
	var got struct {
		UserID   string `json:"userId"`
		Sessions []struct {
			ClientID, Node, Transport string
			ConnectedAt               time.Time
			Rooms                     []string
		} `json:"sessions"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || code != 200 || got.UserID != "alice" || len(got.Sessions) != 2 {
		t.Fatalf("GET sessions: %d %s", code, body)
	}
	if s := got.Sessions[0]; s.ClientID != ws.Connected.ClientID || s.Transport != "ws" || s.Node == "" ||
		strings.Join(s.Rooms, ",") != "lobby,user:alice" || time.Since(s.ConnectedAt) > time.Minute {
		t.Fatalf("first session %+v", s)
	}
	if s := got.Sessions[1]; s.Transport != "socketio" {
		t.Fatalf("second session %+v", s)
	}
	if code, body := call(t, http.MethodGet, n.URL+"/users/nobody/sessions", admin, ""); code != 200 || body != `{"sessions":[],"userId":"nobody"}` {
		t.Fatalf("unknown user: %d %s", code, body)
	}

	// Into a room and out of it: each connection is told, without an id.
	if code, body := call(t, http.MethodPut, n.URL+"/users/alice/rooms/table-1", admin, ""); code != 200 || body != `{"connections":2}` {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if f := ws.Expect("joinedRoom"); string(f.Data) != `{"roomId":"table-1"}` || f.ID != nil {
		t.Fatalf("joinedRoom %s id %s", f.Data, f.ID)
	}
	sio.ExpectPacket(`42/game,["joinedRoom",{"roomId":"table-1"}]`)
	if err := n.Emitter.ToRoom(t.Context(), "table-1", "deal", 1); err != nil {
		t.Fatal(err)
	}
	ws.Expect("deal")
	sio.ExpectPrefix(`42/game,["deal",1,"`)
	if code, body := call(t, http.MethodDelete, n.URL+"/users/alice/rooms/table-1", admin, ""); code != 200 || body != `{"connections":2}` {
		t.Fatalf("DELETE room: %d %s", code, body)
	}
	ws.Expect("leftRoom")
	sio.ExpectPacket(`42/game,["leftRoom",{"roomId":"table-1"}]`)
	for _, path := range []string{"/users/alice/rooms/user:bob", "/users/alice/rooms/a%20b"} {
		if code, _ := call(t, http.MethodPut, n.URL+path, admin, ""); code != 400 {
			t.Fatalf("PUT %s: %d, want 400", path, code)
		}
	}

	// Kicked: 4000 with the reason, Socket.IO with a DISCONNECT first.
	if code, body := call(t, http.MethodDelete, n.URL+"/users/alice/sessions", admin, `{"reason":"banned for cheating"}`); code != 200 || body != `{"closed":2}` {
		t.Fatalf("DELETE sessions: %d %s", code, body)
	}
	if code, reason := ws.Closed(); code != 4000 || reason != "banned for cheating" {
		t.Fatalf("kicked with %d %q", code, reason)
	}
	sio.ExpectPacket(`41/game,`)
	if code, reason := sio.Closed(); code != 4000 || reason != "banned for cheating" {
		t.Fatalf("socket.io kicked with %d %q", code, reason)
	}
	other.Alive()
	back := redial(t, n, "alice", ws.Connected.SessionID)
	if back.Connected.Recovered || back.Connected.Reason != "unknown session" {
		t.Fatalf("a kicked session came back: %+v", back.Connected)
	}
	if code, body := call(t, http.MethodDelete, n.URL+"/users/alice/sessions", admin, `{"reason":7}`); code != 400 {
		t.Fatalf("bad body: %d %s", code, body)
	}
	if code, body := call(t, http.MethodDelete, n.URL+"/users/alice/sessions", admin, ""); code != 200 || body != `{"closed":1}` {
		t.Fatalf("DELETE without a body: %d %s", code, body)
	}
	if code, reason := back.Closed(); code != 4000 || reason != "kicked" {
		t.Fatalf("kicked with %d %q", code, reason)
	}
}

// refreshToken replaces the token of a live connection with a valid one of
// the same user; anything else is refused and the old token stands.
func TestRefreshToken(t *testing.T) {
	n := gt.Start(t, gt.Config())
	c := n.Dial(t, gt.Token(t, "alice"))
	tok, err := token.Mint([]byte(gt.Secret), "alice", []string{"chatter"}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c.Send("refreshToken", map[string]string{"token": tok}, 1)
	f := c.Expect("tokenRefreshed")
	var got struct{ Exp int64 }
	if err := json.Unmarshal(f.Data, &got); err != nil || got.Exp < time.Now().Add(110*time.Minute).Unix() || string(f.ID) != "1" {
		t.Fatalf("tokenRefreshed %s id %s", f.Data, f.ID)
	}
	exp := time.Now().Add(-time.Hour).Unix()
	expired, err := jws.Sign([]byte(fmt.Sprintf(`{"sub":"alice","exp":%d}`, exp)), jws.WithKey(jwa.HS256, []byte(gt.Secret)))
	if err != nil {
		t.Fatal(err)
	}
	none := "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSIsImV4cCI6OTk5OTk5OTk5OX0."
	for _, tc := range []struct{ token, message string }{
		{gt.Token(t, "bob"), "the token is for another user"},
		{string(expired), "token expired"},
		{none, "algorithm not allowed"},
		{"not-a-token", "malformed token"},
	} {
		c.Send("refreshToken", map[string]string{"token": tc.token}, nil)
		if f := c.Expect("exception"); !strings.Contains(string(f.Data), tc.message) {
			t.Errorf("refresh with %.20s…: %s, want %q", tc.token, f.Data, tc.message)
		}
	}
	c.Send("refreshToken", map[string]int{"token": 1}, nil)
	c.Expect("exception")
	c.Alive()
}

// With auth.expireConnections a connection closes with 4001 at its token's
// exp, unless refreshed in time.
func TestConnectionsExpireWithTheirToken(t *testing.T) {
	cfg := gt.Config()
	cfg.Auth.ExpireConnections = true
	cfg.Auth.Leeway = 0
	n := gt.Start(t, cfg)
	short := func(user string) string {
		tok, err := token.Mint([]byte(gt.Secret), user, nil, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	lapsed := n.Dial(t, short("alice"))
	kept := n.Dial(t, short("bob"))
	kept.Send("refreshToken", map[string]string{"token": gt.Token(t, "bob")}, nil)
	kept.Expect("tokenRefreshed")
	if code, reason := lapsed.Closed(); code != 4001 || reason != "token expired" {
		t.Fatalf("closed %d %q", code, reason)
	}
	kept.Alive()
}

// With gateway.maxSessionsPerUser a new connection beyond it closes the
// user's oldest with 4002.
func TestSessionLimit(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.MaxSessionsPerUser = 2
	n := gt.Start(t, cfg)
	first := n.Dial(t, gt.Token(t, "alice"))
	second := n.Dial(t, gt.Token(t, "alice"))
	other := n.Dial(t, gt.Token(t, "bob"))
	third := n.Dial(t, gt.Token(t, "alice"))
	if code, reason := first.Closed(); code != 4002 || reason != "session limit" {
		t.Fatalf("oldest closed %d %q", code, reason)
	}
	second.Alive()
	third.Alive()
	other.Alive()
	if got := n.Metric(t, `gamegate_ws_session_actions_total{action="session_limit"}`); got != 1 {
		t.Fatalf("session-limit closes counted %v, want 1", got)
	}
}

// redial reconnects user with sessionID.
func redial(t *testing.T, n *gt.Node, user, sessionID string) *gt.Client {
	t.Helper()
	conn, _, err := n.DialRawURL(n.WSURL()+"?sessionId="+sessionID, http.Header{"Authorization": {"Bearer " + gt.Token(t, user)}})
	if err != nil {
		t.Fatal(err)
	}
	c := gt.Watch(t, conn)
	if err := json.Unmarshal(c.Expect("connected").Data, &c.Connected); err != nil {
		t.Fatal(err)
	}
	return c
}
