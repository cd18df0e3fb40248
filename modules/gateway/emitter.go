package gateway

import (
	"context"
	"strings"
	"time"
)

// Broker carries a delivery to every member of its room: on this node
// through the hub, and on other nodes when the gateway is clustered. The
// local broker is the default; a cluster module replaces it with fx.Decorate.
type Broker interface {
	Publish(ctx context.Context, d Delivery) error
}

// LocalBroker delivers on this node only.
type LocalBroker struct{ Hub *Hub }

// Publish delivers d to the hub's local members.
func (b LocalBroker) Publish(_ context.Context, d Delivery) error {
	b.Hub.Deliver(d)
	return nil
}

// Emitter sends server events to clients, in socket.io's vocabulary. Each
// message is encoded once per transport, whatever the number of recipients.
//
// Its Sockets methods (FetchSockets, SocketsJoin, SocketsLeave,
// DisconnectSockets) act on live connections on every node.
type Emitter struct {
	*Sockets
	broker Broker
	hub    *Hub
}

// NewEmitter returns an emitter publishing through broker.
func NewEmitter(broker Broker, sockets *Sockets, hub *Hub) *Emitter {
	return &Emitter{Sockets: sockets, broker: broker, hub: hub}
}

// ToRoom sends {event, data} to every member of room (server.to(room).emit).
func (e *Emitter) ToRoom(ctx context.Context, room, event string, data any) error {
	return e.emit(ctx, Delivery{Room: room}, event, data)
}

// ToRoomExcept sends to every member of room but the client with id
// exceptClientID (socket.to(room).emit from that client).
func (e *Emitter) ToRoomExcept(ctx context.Context, room, exceptClientID, event string, data any) error {
	return e.emit(ctx, Delivery{Room: room, Except: exceptClientID}, event, data)
}

// ToUser sends to every connection of user userID, through its personal room.
func (e *Emitter) ToUser(ctx context.Context, userID, event string, data any) error {
	return e.ToRoom(ctx, PersonalRoom(userID), event, data)
}

// ToAll sends to every connected client (server.emit).
func (e *Emitter) ToAll(ctx context.Context, event string, data any) error {
	return e.emit(ctx, Delivery{}, event, data)
}

func (e *Emitter) emit(ctx context.Context, d Delivery, event string, data any) error {
	msg, err := NewMessage(event, data)
	if err != nil {
		return err
	}
	d.Msg = msg
	return e.broker.Publish(ctx, d)
}

// ToRoomWithReceipt sends {event, data} to every member of room, on every
// node, asking each to acknowledge it, and returns once every recipient
// has acked, or at timeout: which recipients acked and which did not.
func (e *Emitter) ToRoomWithReceipt(ctx context.Context, room, event string, data any, timeout time.Duration) (ReceiptResult, error) {
	msg, err := NewMessage(event, data)
	if err != nil {
		return ReceiptResult{}, err
	}
	rs := e.hub.receipts
	r, w, err := rs.begin(timeout)
	if err != nil {
		return ReceiptResult{}, err
	}
	msg.WithReceipt(r)
	if err := e.broker.Publish(ctx, Delivery{Room: room, Msg: msg, Receipt: &r}); err != nil {
		rs.cancel(r.ID)
		return ReceiptResult{}, err
	}
	return rs.wait(ctx, r, w), nil
}

// ToUserWithReceipt is ToRoomWithReceipt to every connection of userID.
func (e *Emitter) ToUserWithReceipt(ctx context.Context, userID, event string, data any, timeout time.Duration) (ReceiptResult, error) {
	return e.ToRoomWithReceipt(ctx, PersonalRoom(userID), event, data, timeout)
}

// IsPersonal reports whether room is a user's personal room.
func IsPersonal(room string) bool { return strings.HasPrefix(room, personalPrefix) }

// PersonalRoom is the room every connection of userID is in.
func PersonalRoom(userID string) string { return personalPrefix + userID }

const personalPrefix = "user:"
