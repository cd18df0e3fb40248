// Package sessions is the REST side of presence and of the server's hand on
// live connections: a room's members, a user's connections, closing them,
// and putting them in rooms or out of them, on every node. Each route needs
// a Bearer token whose roles hold notification.role, as the notification
// routes do.
package sessions

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/auth"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/pkg/token"
)

// Module adds GET /rooms/:roomId/members, GET and DELETE
// /users/:userId/sessions, and PUT and DELETE /users/:userId/rooms/:roomId.
var Module = fx.Module("sessions",
	fx.Provide(fx.Private, NewController),
	fx.Provide(httpserver.AsRoutes((*Controller).Routes)),
)

// Controller holds the routes.
type Controller struct {
	emitter  *gateway.Emitter
	hub      *gateway.Hub
	verifier *token.Verifier
	role     string
}

// NewController builds the controller.
func NewController(e *gateway.Emitter, h *gateway.Hub, v *token.Verifier, cfg config.Notification) *Controller {
	return &Controller{emitter: e, hub: h, verifier: v, role: cfg.Role}
}

// Routes are the controller's routes, each behind the role guard.
func (ctl *Controller) Routes() []httpserver.Route {
	guard := []echo.MiddlewareFunc{auth.RequireRole(ctl.verifier, ctl.role)}
	return []httpserver.Route{
		{Method: http.MethodGet, Path: "/rooms/:roomId/members", Handler: ctl.members, Middleware: guard},
		{Method: http.MethodGet, Path: "/users/:userId/sessions", Handler: ctl.sessions, Middleware: guard},
		{Method: http.MethodDelete, Path: "/users/:userId/sessions", Handler: ctl.kick, Middleware: guard},
		{Method: http.MethodPut, Path: "/users/:userId/rooms/:roomId", Handler: ctl.join, Middleware: guard},
		{Method: http.MethodDelete, Path: "/users/:userId/rooms/:roomId", Handler: ctl.leave, Middleware: guard},
	}
}

// members answers a room's users and their connections, on every node. An
// unknown or empty room has none: 200 with an empty list.
func (ctl *Controller) members(c echo.Context) error {
	room, err := roomParam(c)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, ctl.hub.MembersJSON(room))
}

// session is a connection as GET /users/:userId/sessions lists it.
type session struct {
	ClientID    string    `json:"clientId"`
	Node        string    `json:"node"`
	Transport   string    `json:"transport"`
	ConnectedAt time.Time `json:"connectedAt"`
	Rooms       []string  `json:"rooms"`
}

// sessions lists a user's connections on every node, oldest first.
func (ctl *Controller) sessions(c echo.Context) error {
	user := c.Param("userId")
	sockets, err := ctl.emitter.FetchSockets(c.Request().Context(), gateway.PersonalRoom(user))
	if err != nil {
		return err
	}
	out := make([]session, len(sockets))
	for i, s := range sockets {
		out[i] = session{ClientID: s.ClientID, Node: s.Node, Transport: s.Transport, ConnectedAt: s.ConnectedAt, Rooms: s.Rooms}
	}
	return c.JSON(http.StatusOK, map[string]any{"userId": user, "sessions": out})
}

// kickBody is DELETE /users/:userId/sessions' optional body.
type kickBody struct {
	Reason string `json:"reason"`
}

// kick closes every connection of a user, on every node, with 4000 and the
// reason (default "kicked"), and answers once they are closed. A kicked
// session is not recoverable.
func (ctl *Controller) kick(c echo.Context) error {
	var body kickBody
	if c.Request().ContentLength != 0 {
		if err := httpserver.BindJSON(c, &body); err != nil {
			return err
		}
	}
	if body.Reason == "" {
		body.Reason = "kicked"
	}
	n, err := ctl.emitter.DisconnectSockets(c.Request().Context(), gateway.PersonalRoom(c.Param("userId")), gateway.StatusKicked, body.Reason)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"closed": n})
}

// join puts every connection of a user in a room, on every node, before it
// answers: a broadcast sent after the answer reaches them all.
func (ctl *Controller) join(c echo.Context) error {
	return ctl.move(c, ctl.emitter.SocketsJoin)
}

// leave takes every connection of a user out of a room, on every node.
func (ctl *Controller) leave(c echo.Context) error {
	return ctl.move(c, ctl.emitter.SocketsLeave)
}

func (ctl *Controller) move(c echo.Context, op func(ctx context.Context, room, target string) (int, error)) error {
	room, err := roomParam(c)
	if err != nil {
		return err
	}
	user := c.Param("userId")
	if gateway.IsPersonal(room) && room != gateway.PersonalRoom(user) {
		return echo.NewHTTPError(http.StatusBadRequest, "a user cannot be put in another user's personal room")
	}
	n, err := op(c.Request().Context(), gateway.PersonalRoom(user), room)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]int{"connections": n})
}

// roomParam is the :roomId of the path, if it is a room id.
func roomParam(c echo.Context) (string, error) {
	room := c.Param("roomId")
	if !gateway.ValidRoomID(room) {
		return "", echo.NewHTTPError(http.StatusBadRequest, "roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]")
	}
	return room, nil
}
