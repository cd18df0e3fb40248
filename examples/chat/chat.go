package chat

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/gamegate/gamegate/modules/auth"
	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/pkg/token"
)

// The events the chat sends to clients.
const (
	// SaidEvent carries a message to the members of its room.
	SaidEvent = "said"
	// SentEvent answers the sender's say.
	SentEvent = "sent"
	// MutedEvent tells a user that a moderator muted or unmuted them.
	MutedEvent = "muted"
)

// Say is the data of the say event. Its tags are checked before the
// handler runs; a refusal names the field.
type Say struct {
	RoomID string `json:"roomId" validate:"roomid"`
	Text   string `json:"text" validate:"required"`
}

// Said is what each member of the room gets.
type Said struct {
	RoomID string `json:"roomId"`
	From   string `json:"from"`
	Text   string `json:"text"`
}

// Muted is the data of the muted event and of the mute routes' answers.
type Muted struct {
	UserID string `json:"userId"`
	Muted  bool   `json:"muted"`
}

// Room is the answer of GET /chat/rooms/:roomId: who is in the room, on
// every node, and which of them are muted.
type Room struct {
	RoomID string  `json:"roomId"`
	Users  []Muted `json:"users"`
}

// Chat holds who is muted, on this node.
type Chat struct {
	cfg  Config
	emit *gateway.Emitter
	hub  *gateway.Hub

	mu    sync.Mutex
	muted map[string]bool
}

// New returns a chat in which nobody is muted.
func New(cfg Config, emit *gateway.Emitter, hub *gateway.Hub) *Chat {
	return &Chat{cfg: cfg, emit: emit, hub: hub, muted: map[string]bool{}}
}

// SayHandler is the say event: a member of a room sends text to everyone
// in it, itself included, unless muted.
func (ch *Chat) SayHandler() gateway.Handler {
	return gateway.On("say", ch.say, ch.notMuted)
}

func (ch *Chat) say(ctx context.Context, c *gateway.Client, in Say) (*gateway.Reply, error) {
	if utf8.RuneCountInString(in.Text) > ch.cfg.MaxLength {
		return nil, gateway.Exceptionf("text must be at most %d characters", ch.cfg.MaxLength)
	}
	if !slices.Contains(c.Rooms(), in.RoomID) {
		return nil, gateway.Exceptionf("join %s first", in.RoomID)
	}
	if err := ch.emit.ToRoom(ctx, in.RoomID, SaidEvent, Said{RoomID: in.RoomID, From: c.UserID(), Text: in.Text}); err != nil {
		return nil, err
	}
	return &gateway.Reply{Event: SentEvent, Data: map[string]string{"roomId": in.RoomID}}, nil
}

// notMuted is the say event's guard.
func (ch *Chat) notMuted(_ context.Context, c *gateway.Client, _ string) error {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.muted[c.UserID()] {
		return gateway.Exceptionf("you are muted")
	}
	return nil
}

// Hooks put every client in the lobby as it connects.
func (ch *Chat) Hooks() gateway.Hooks {
	return gateway.Hooks{OnConnect: func(_ context.Context, c *gateway.Client) error {
		c.Join(ch.cfg.Lobby)
		return nil
	}}
}

// Routes are PUT and DELETE /chat/mutes/:userId, and GET
// /chat/rooms/:roomId, for tokens whose roles hold the moderator role.
func (ch *Chat) Routes(v *token.Verifier) []httpserver.Route {
	guard := []echo.MiddlewareFunc{auth.RequireRole(v, ch.cfg.ModeratorRole)}
	return []httpserver.Route{
		{Method: http.MethodPut, Path: "/chat/mutes/:userId", Handler: ch.setMuted(true), Middleware: guard},
		{Method: http.MethodDelete, Path: "/chat/mutes/:userId", Handler: ch.setMuted(false), Middleware: guard},
		{Method: http.MethodGet, Path: "/chat/rooms/:roomId", Handler: ch.room, Middleware: guard},
	}
}

// room answers who is in a room and which of them are muted. The members
// come from the gateway's presence, which every node keeps whole: users
// connected to other nodes are listed without asking those nodes.
func (ch *Chat) room(c echo.Context) error {
	r := Room{RoomID: c.Param("roomId"), Users: []Muted{}}
	ch.mu.Lock()
	for _, m := range ch.hub.Members(r.RoomID) {
		r.Users = append(r.Users, Muted{UserID: m.UserID, Muted: ch.muted[m.UserID]})
	}
	ch.mu.Unlock()
	return c.JSON(http.StatusOK, r)
}

// setMuted mutes or unmutes the route's user and tells them so.
func (ch *Chat) setMuted(muted bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		m := Muted{UserID: c.Param("userId"), Muted: muted}
		ch.mu.Lock()
		ch.muted[m.UserID] = muted
		ch.mu.Unlock()
		if err := ch.emit.ToUser(c.Request().Context(), m.UserID, MutedEvent, m); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, m)
	}
}
