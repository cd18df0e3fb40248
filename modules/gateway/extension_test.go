package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"go.uber.org/fx"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/gateway"
)

// chatModule is what another team writes in its own package: an event, a
// guard and a connect hook, added with fx options alone.
type chatModule struct {
	mu        sync.Mutex
	connected []string
}

type say struct {
	RoomID string `json:"roomId" validate:"roomid"`
	Text   string `json:"text" validate:"required,max=200"`
}

func (m *chatModule) options() fx.Option {
	return fx.Module("chat",
		fx.Provide(
			gateway.AsHandler(func(e *gateway.Emitter) gateway.Handler {
				return gateway.On("say", func(ctx context.Context, c *gateway.Client, in say) (*gateway.Reply, error) {
					if err := e.ToRoomExcept(ctx, in.RoomID, c.ID(), "said", map[string]string{"from": c.UserID(), "text": in.Text}); err != nil {
						return nil, err
					}
					return &gateway.Reply{Event: "sent", Data: in}, nil
				}, gateway.RequireRoles("chatter"))
			}),
			gateway.AsGuard(func() gateway.Guard {
				return func(_ context.Context, c *gateway.Client, event string) error {
					if c.UserID() == "banned" && event != "ping" {
						return gateway.Exceptionf("you are banned")
					}
					return nil
				}
			}),
			gateway.AsHooks(func() gateway.Hooks {
				return gateway.Hooks{OnConnect: func(_ context.Context, c *gateway.Client) error {
					c.Join("lobby")
					m.mu.Lock()
					m.connected = append(m.connected, c.UserID())
					m.mu.Unlock()
					return nil
				}}
			}),
		),
	)
}

func TestExtensionModule(t *testing.T) {
	chat := &chatModule{}
	n := gt.Start(t, gt.Config(), chat.options())
	alice := n.Dial(t, gt.Token(t, "alice", "chatter"))
	bob := n.Dial(t, gt.Token(t, "bob"))
	banned := n.Dial(t, gt.Token(t, "banned", "chatter"))

	// The hook runs for each, after `connected`, and puts them in the lobby.
	waitfor.Until(t, gt.Timeout, func() error {
		chat.mu.Lock()
		defer chat.mu.Unlock()
		if len(chat.connected) != 3 {
			return fmt.Errorf("hook saw %v", chat.connected)
		}
		return nil
	})

	alice.Send("say", map[string]string{"roomId": "lobby", "text": "gg"}, 1)
	if f := alice.Expect("sent"); string(f.ID) != "1" || string(f.Data) != `{"roomId":"lobby","text":"gg"}` {
		t.Fatalf("sent %s id %s", f.Data, f.ID)
	}
	for _, c := range []*gt.Client{bob, banned} {
		if f := c.Expect("said"); string(f.Data) != `{"from":"alice","text":"gg"}` {
			t.Fatalf("said %s", f.Data)
		}
	}
	marker(t, n, alice, "alice") // not to the sender

	// The handler's own guard: bob lacks the role.
	bob.Send("say", map[string]string{"roomId": "lobby", "text": "hi"}, nil)
	if f := bob.Expect("exception"); string(f.Data) != `{"status":"error","message":"forbidden"}` {
		t.Fatalf("exception %s", f.Data)
	}
	// The global guard runs before every event, built-in ones included.
	banned.Send("joinRoom", map[string]string{"roomId": "x"}, nil)
	if f := banned.Expect("exception"); string(f.Data) != `{"status":"error","message":"you are banned"}` {
		t.Fatalf("exception %s", f.Data)
	}
	// Validation by struct tags names the field.
	alice.Send("say", map[string]string{"roomId": "lobby"}, nil)
	if f := alice.Expect("exception"); string(f.Data) != `{"status":"error","message":"text is required"}` {
		t.Fatalf("exception %s", f.Data)
	}
}
