package gateway

import (
	"bytes"
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
		{Event: "ack", Handle: func(_ context.Context, c *Client, data json.RawMessage) (*Reply, error) {
			id, err := ackID(data)
			if err != nil {
				return nil, err
			}
			if err := c.ack(id); err != nil {
				return nil, &Exception{Message: err.Error()}
			}
			return nil, nil
		}},
		{Event: "ping", Handle: func(context.Context, *Client, json.RawMessage) (*Reply, error) {
			return &Reply{Event: "pong", Data: pong{TS: time.Now().UnixMilli()}}, nil
		}},
	}
}

// ackData is ack's data: a delivery receipt's ackId, as the frame carried it.
type ackData struct {
	AckID string `json:"ackId" validate:"required"`
}

// ackID is the ackId of ack's data. The form clients send, {"ackId":"<the
// digits they were given>"}, is read as it is: a receipt brings one ack per
// recipient, and encoding/json with the validator cost more than the rest
// of taking an ack. Any other form goes through decode, for its answer.
func ackID(data json.RawMessage) (string, error) {
	const open, end = `{"ackId":"`, `"}`
	if len(data) > len(open)+len(end) && string(data[:len(open)]) == open && string(data[len(data)-len(end):]) == end {
		id := data[len(open) : len(data)-len(end)]
		if !bytes.ContainsFunc(id, func(r rune) bool { return r < '0' || r > '9' }) {
			return string(id), nil
		}
	}
	var in ackData
	if err := decode(data, &in); err != nil {
		return "", err
	}
	return in.AckID, nil
}

type pong struct {
	TS int64 `json:"ts"`
}
