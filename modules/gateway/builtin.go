package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Room is the data of leaveRoom, roomMembers and of the replies to
// joinRoom and leaveRoom.
type Room struct {
	RoomID string `json:"roomId" validate:"roomid"`
}

// JoinRoom is joinRoom's data: with Presence, the client also gets the
// room's memberJoined and memberLeft events, and its reply the room's users.
type JoinRoom struct {
	RoomID   string `json:"roomId" validate:"roomid"`
	Presence bool   `json:"presence"`
}

// joinedRoom is joinRoom's reply.
type joinedRoom struct {
	RoomID  string   `json:"roomId"`
	Members []string `json:"members,omitempty"`
}

// builtinHandlers are the built-in events (docs/protocol.md).
func builtinHandlers() []Handler {
	return []Handler{
		On("joinRoom", func(_ context.Context, c *Client, in JoinRoom) (*Reply, error) {
			if strings.HasPrefix(in.RoomID, personalPrefix) && in.RoomID != PersonalRoom(c.userID) {
				return nil, ErrForbidden
			}
			c.Join(in.RoomID)
			out := joinedRoom{RoomID: in.RoomID}
			if in.Presence {
				out.Members = c.watch(in.RoomID)
			}
			return &Reply{Event: "joinedRoom", Data: out}, nil
		}),
		On("roomMembers", func(_ context.Context, c *Client, in Room) (*Reply, error) {
			if !c.InRoom(in.RoomID) {
				return nil, Exceptionf("not a member of room %q", in.RoomID)
			}
			users := c.srv.hub.presence.members(in.RoomID)
			out := roomMembersData{RoomID: in.RoomID, Users: make([]string, len(users)), Count: len(users)}
			for i, m := range users {
				out.Users[i] = m.UserID
			}
			return &Reply{Event: "roomMembers", Data: out}, nil
		}),
		On("leaveRoom", func(_ context.Context, c *Client, in Room) (*Reply, error) {
			c.Leave(in.RoomID)
			return &Reply{Event: "leftRoom", Data: in}, nil
		}),
		On("refreshToken", refreshToken),
		On("ack", func(_ context.Context, c *Client, in ackData) (*Reply, error) {
			if err := c.srv.hub.receipts.ack(c, in.AckID); err != nil {
				return nil, &Exception{Message: err.Error()}
			}
			return nil, nil
		}),
		{Event: "ping", Handle: func(context.Context, *Client, json.RawMessage) (*Reply, error) {
			return &Reply{Event: "pong", Data: pong{TS: time.Now().UnixMilli()}}, nil
		}},
	}
}

// ackData is ack's data: a delivery receipt's ackId, as the frame carried it.
type ackData struct {
	AckID string `json:"ackId" validate:"required"`
}

type pong struct {
	TS int64 `json:"ts"`
}
