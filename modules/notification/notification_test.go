package notification_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func post(t *testing.T, url, tok, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// A REST broadcast reaches exactly the room's members, and no one else.
func TestBroadcastReachesExactlyTheRoom(t *testing.T) {
	n := gt.Start(t, gt.Config())
	admin := gt.Token(t, "ops", "admin")
	in1, in2 := n.Dial(t, gt.Token(t, "alice")), n.Dial(t, gt.Token(t, "bob"))
	out := n.Dial(t, gt.Token(t, "carol"))
	in1.Join("lobby")
	in2.Join("lobby")
	out.Join("other")

	code, body := post(t, n.URL+"/notifications/broadcast", admin, "application/json",
		`{"roomId":"lobby","message":{"text":"gg","n":[1,2]}}`)
	if code != 200 || body != `{"success":true}` {
		t.Fatalf("%d %s", code, body)
	}
	for _, c := range []*gt.Client{in1, in2} {
		if f := c.Expect("notification"); string(f.Data) != `{"text":"gg","n":[1,2]}` {
			t.Fatalf("data %s", f.Data)
		}
	}
	// A custom event name, and a scalar message.
	code, _ = post(t, n.URL+"/notifications/broadcast", admin, "application/json",
		`{"roomId":"lobby","message":"round over","event":"roundOver"}`)
	if code != 200 {
		t.Fatal(code)
	}
	if f := in1.Expect("roundOver"); string(f.Data) != `"round over"` {
		t.Fatalf("data %s", f.Data)
	}
	in2.Expect("roundOver")
	// carol got neither: the next frame she sees is her own pong.
	out.Alive()
}

func TestUserNotificationReachesEveryConnectionOfTheUser(t *testing.T) {
	n := gt.Start(t, gt.Config())
	tab1, tab2 := n.Dial(t, gt.Token(t, "alice")), n.Dial(t, gt.Token(t, "alice"))
	other := n.Dial(t, gt.Token(t, "bob"))
	code, body := post(t, n.URL+"/notifications/users/alice", gt.Token(t, "ops", "admin"), "application/json",
		`{"message":{"gift":5},"event":"gift"}`)
	if code != 200 || body != `{"success":true}` {
		t.Fatalf("%d %s", code, body)
	}
	for _, c := range []*gt.Client{tab1, tab2} {
		if f := c.Expect("gift"); string(f.Data) != `{"gift":5}` {
			t.Fatalf("data %s", f.Data)
		}
	}
	other.Alive()
}

func TestBadRequestsGetNestShapedErrors(t *testing.T) {
	n := gt.Start(t, gt.Config())
	admin := gt.Token(t, "ops", "admin")
	broadcast := n.URL + "/notifications/broadcast"
	user := n.URL + "/notifications/users/alice"
	const json = "application/json"
	cases := []struct {
		name, url, tok, ctype, body string
		code                        int
		message                     string
	}{
		{"no token", broadcast, "", json, `{}`, 401, "missing bearer token"},
		{"bad token", broadcast, "garbage", json, `{}`, 401, "malformed token"},
		{"wrong role", broadcast, gt.Token(t, "alice", "player"), json, `{}`, 403, `role \"admin\" required`},
		{"malformed JSON", broadcast, admin, json, `{"roomId":`, 400, "malformed JSON"},
		{"trailing garbage", broadcast, admin, json, `{"roomId":"a","message":1} x`, 400, "malformed JSON"},
		{"not an object", broadcast, admin, json, `[1]`, 400, "body must be a JSON object"},
		{"empty body", broadcast, admin, json, ``, 400, "body must be a JSON object"},
		{"not JSON content", broadcast, admin, "text/plain", `{"roomId":"a","message":1}`, 400, "Content-Type must be application/json"},
		{"missing roomId", broadcast, admin, json, `{"message":1}`, 400, "roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]"},
		{"bad roomId", broadcast, admin, json, `{"roomId":"a b","message":1}`, 400, "roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]"},
		{"roomId not a string", broadcast, admin, json, `{"roomId":7,"message":1}`, 400, "roomId must be a string"},
		{"missing message", broadcast, admin, json, `{"roomId":"a"}`, 400, "message should not be null or undefined"},
		{"null message", user, admin, json, `{"message":null}`, 400, "message should not be null or undefined"},
		{"event not a string", user, admin, json, `{"message":1,"event":3}`, 400, "event must be a string"},
		{"empty event", user, admin, json, `{"message":1,"event":""}`, 400, "event must be a non-empty string"},
		{"not UTF-8", user, admin, json, "{\"message\":\"caf\xe9\"}", 400, "body must be valid UTF-8"},
		{"over 1 MiB", broadcast, admin, json, `{"roomId":"a","message":"` + strings.Repeat("x", 1<<20) + `"}`, 413, "request entity too large"},
	}
	reason := map[int]string{400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 413: "Request Entity Too Large"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := post(t, tc.url, tc.tok, tc.ctype, tc.body)
			want := `{"statusCode":` + strconv.Itoa(tc.code) + `,"message":"` + tc.message + `","error":"` + reason[tc.code] + `"}`
			if code != tc.code || body != want {
				t.Fatalf("got %d %s\nwant %d %s", code, body, tc.code, want)
			}
		})
	}
	// The server serves on.
	if code, _ := post(t, broadcast, admin, json, `{"roomId":"a","message":1}`); code != 200 {
		t.Fatal(code)
	}
}
