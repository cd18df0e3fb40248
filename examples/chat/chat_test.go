package chat_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"example.com/studio/chat"
	"github.com/gamegate/gamegate/modules/app"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/pkg/token"
)

const secret = "chat-test-secret-0123456789abcdef"

// start runs the whole gateway with the chat module, configured by
// ../config.yaml and env, on a loopback port until the test ends, and
// returns its address.
func start(t *testing.T, env map[string]string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a free port for the embedded wallet simulator
	if err != nil {
		t.Fatal(err)
	}
	walletPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	all := map[string]string{"HTTP_ADDR": "127.0.0.1:0", "JWT_SECRET": secret, "WALLET_PORT": walletPort}
	for k, v := range env {
		all[k] = v
	}
	cfg, err := config.Load("../config.yaml", false, func(k string) (string, bool) { v, ok := all[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	var srv *httpserver.Server
	a := fx.New(app.Options(cfg), chat.Module, fx.NopLogger, fx.Decorate(zap.NewNop), fx.Populate(&srv))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return srv.Addr().String()
}

func mint(t *testing.T, sub string, roles ...string) string {
	t.Helper()
	tok, err := token.Mint([]byte(secret), sub, roles, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is a player's WebSocket.
type client struct {
	t    *testing.T
	conn *websocket.Conn
}

type frame struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	ID    json.RawMessage `json:"id"`
}

// dial connects sub and reads its greeting.
func dial(t *testing.T, addr, sub string) *client {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws://"+addr+"/game", &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer " + mint(t, sub)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	c := &client{t, conn}
	c.expect("connected", "")
	return c
}

func (c *client) send(frame string) {
	c.t.Helper()
	if err := c.conn.Write(c.t.Context(), websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads the next frame: event, with data data unless data is "".
func (c *client) expect(event, data string) frame {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := c.conn.Read(ctx)
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", event, err)
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		c.t.Fatal(err)
	}
	if f.Event != event || data != "" && string(f.Data) != data {
		c.t.Fatalf("got %s, want %s %s", b, event, data)
	}
	return f
}

// refused expects the exception message.
func (c *client) refused(message string) {
	c.t.Helper()
	c.expect("exception", `{"status":"error","message":"`+message+`"}`)
}

func request(t *testing.T, method, url, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, strings.TrimSpace(b.String())
}

// The chat on a whole gateway: the hook puts players in the lobby, say
// reaches the room and answers the sender, its data is validated, its
// guard refuses muted players, and the REST routes mute and unmute them
// and list a room's members, from the gateway's presence.
func TestChat(t *testing.T) {
	addr := start(t, map[string]string{"CHAT_MAX_LENGTH": "20"}) // the environment wins over the file's 280
	alice, bob := dial(t, addr, "alice"), dial(t, addr, "bob")

	alice.send(`{"event":"say","data":{"roomId":"lobby","text":"gg"},"id":1}`)
	said := `{"roomId":"lobby","from":"alice","text":"gg"}`
	alice.expect("said", said)
	if f := alice.expect("sent", `{"roomId":"lobby"}`); string(f.ID) != "1" {
		t.Fatalf("sent with id %s, want 1", f.ID)
	}
	bob.expect("said", said)

	alice.send(`{"event":"say","data":{"roomId":"lobby"}}`)
	alice.refused("text is required")
	alice.send(`{"event":"say","data":{"roomId":"lobby","text":"twenty-one characters"}}`)
	alice.refused("text must be at most 20 characters")
	alice.send(`{"event":"say","data":{"roomId":"arena","text":"hi"}}`)
	alice.refused("join arena first")

	mutes := "http://" + addr + "/chat/mutes/bob"
	if code, body := request(t, http.MethodPut, mutes, mint(t, "alice")); code != http.StatusForbidden {
		t.Fatalf("a player mutes: %d %s", code, body)
	}
	moderator := mint(t, "mia", "moderator")
	if code, body := request(t, http.MethodPut, mutes, moderator); code != http.StatusOK || body != `{"userId":"bob","muted":true}` {
		t.Fatalf("mute: %d %s", code, body)
	}
	bob.expect("muted", `{"userId":"bob","muted":true}`)
	bob.send(`{"event":"say","data":{"roomId":"lobby","text":"hey"}}`)
	bob.refused("you are muted")
	room := "http://" + addr + "/chat/rooms/lobby"
	if code, body := request(t, http.MethodGet, room, moderator); code != http.StatusOK ||
		body != `{"roomId":"lobby","users":[{"userId":"alice","muted":false},{"userId":"bob","muted":true}]}` {
		t.Fatalf("room: %d %s", code, body)
	}
	if code, body := request(t, http.MethodGet, "http://"+addr+"/chat/rooms/nowhere", moderator); code != http.StatusOK || body != `{"roomId":"nowhere","users":[]}` {
		t.Fatalf("empty room: %d %s", code, body)
	}
	if code, _ := request(t, http.MethodGet, room, mint(t, "alice")); code != http.StatusForbidden {
		t.Fatalf("room for a player: %d, want 403", code)
	}

	if code, body := request(t, http.MethodDelete, mutes, moderator); code != http.StatusOK {
		t.Fatalf("unmute: %d %s", code, body)
	}
	bob.expect("muted", `{"userId":"bob","muted":false}`)
	bob.send(`{"event":"say","data":{"roomId":"lobby","text":"thanks"}}`)
	bob.expect("said", `{"roomId":"lobby","from":"bob","text":"thanks"}`)
	alice.expect("said", `{"roomId":"lobby","from":"bob","text":"thanks"}`)
}

// A bad value of the chat's section stops the gateway before it starts,
// with one line naming the key and exit status 2, as the gateway's own
// keys do.
func TestBadChatConfigurationExits2(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		line       string
	}{
		{"from the file", "chat:\n  maxLength: 0\n", nil, "chat.maxLength: must be at least 1, got 0"},
		{"from the environment", "", map[string]string{"CHAT_LOBBY": "the lobby"}, `chat.lobby: fails alphanum, got "the lobby"`},
		{"not a number", "", map[string]string{"CHAT_MAX_LENGTH": "long"}, "'chat.maxLength' cannot parse value as 'int'"},
		{"unknown key", "chat:\n  maxLen: 10\n", nil, "'chat' has invalid keys: maxLen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte("auth:\n  jwtSecret: s\n"+tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := app.Main([]string{"--config", path}, &stdout, &stderr, chat.Module)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if code != 2 || len(lines) != 1 || !strings.HasPrefix(lines[0], "gateway: invalid configuration: ") ||
				!strings.Contains(lines[0], tc.line) {
				t.Fatalf("exit %d, stderr %q; want 2 and one line with %q", code, stderr.String(), tc.line)
			}
		})
	}
}
