package gateway

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Room is the data of joinRoom, leaveRoom and their replies.
type Room struct {
	RoomID string `json:"roomId" validate:"roomid"`
}

// builtinHandlers are joinRoom, leaveRoom and ping (docs/protocol.md).
func builtinHandlers() []Handler {
	return []Handler{
		On("joinRoom", func(_ context.Context, c *Client, in Room) (*Reply, error) {
			if strings.HasPrefix(in.RoomID, personalPrefix) && in.RoomID != PersonalRoom(c.userID) {
				return nil, ErrForbidden
			}
			c.Join(in.RoomID)
			return &Reply{Event: "joinedRoom", Data: in}, nil
		}),
		On("leaveRoom", func(_ context.Context, c *Client, in Room) (*Reply, error) {
			c.Leave(in.RoomID)
			return &Reply{Event: "leftRoom", Data: in}, nil
		}),
		{Event: "ping", Handle: func(context.Context, *Client, json.RawMessage) (*Reply, error) {
			return &Reply{Event: "pong", Data: pong{TS: time.Now().UnixMilli()}}, nil
		}},
	}
}

type pong struct {
	TS int64 `json:"ts"`
}
