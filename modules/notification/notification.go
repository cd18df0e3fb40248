// Package notification is the REST → WebSocket bridge: thin echo handlers
// over the gateway's emitter, for game backends that push to players.
package notification

import (
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gamegate/gamegate/modules/auth"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/pkg/token"
)

// DefaultEvent is the event of a notification whose body names none.
const DefaultEvent = "notification"

// BroadcastBody is the body of POST /notifications/broadcast.
type BroadcastBody struct {
	RoomID  string          `json:"roomId"`
	Message json.RawMessage `json:"message"`
	Event   *string         `json:"event"`
}

// UserBody is the body of POST /notifications/users/:userId.
type UserBody struct {
	Message json.RawMessage `json:"message"`
	Event   *string         `json:"event"`
}

// Controller holds the two endpoints.
type Controller struct {
	emitter  *gateway.Emitter
	verifier *token.Verifier
	role     string
}

// NewController builds the controller.
func NewController(e *gateway.Emitter, v *token.Verifier, cfg config.Notification) *Controller {
	return &Controller{emitter: e, verifier: v, role: cfg.Role}
}

// Routes are the controller's endpoints, each behind the role guard.
func (ctl *Controller) Routes() []httpserver.Route {
	guard := []echo.MiddlewareFunc{auth.RequireRole(ctl.verifier, ctl.role)}
	return []httpserver.Route{
		{Method: http.MethodPost, Path: "/notifications/broadcast", Handler: ctl.broadcast, Middleware: guard},
		{Method: http.MethodPost, Path: "/notifications/users/:userId", Handler: ctl.toUser, Middleware: guard},
	}
}

type success struct {
	Success bool `json:"success"`
}

func (ctl *Controller) broadcast(c echo.Context) error {
	var body BroadcastBody
	if err := httpserver.BindJSON(c, &body); err != nil {
		return err
	}
	if !gateway.ValidRoomID(body.RoomID) {
		return badRequest("roomId must be 1 to 128 characters of [A-Za-z0-9_.:-]")
	}
	event, err := eventOf(body.Message, body.Event)
	if err != nil {
		return err
	}
	if err := ctl.emitter.ToRoom(c.Request().Context(), body.RoomID, event, body.Message); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, success{true})
}

func (ctl *Controller) toUser(c echo.Context) error {
	var body UserBody
	if err := httpserver.BindJSON(c, &body); err != nil {
		return err
	}
	event, err := eventOf(body.Message, body.Event)
	if err != nil {
		return err
	}
	if err := ctl.emitter.ToUser(c.Request().Context(), c.Param("userId"), event, body.Message); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, success{true})
}

// eventOf checks the fields both bodies share and returns the event name.
func eventOf(message json.RawMessage, event *string) (string, error) {
	if len(message) == 0 || string(message) == "null" {
		return "", badRequest("message should not be null or undefined")
	}
	if event == nil {
		return DefaultEvent, nil
	}
	if *event == "" {
		return "", badRequest("event must be a non-empty string")
	}
	return *event, nil
}

func badRequest(msg string) error { return echo.NewHTTPError(http.StatusBadRequest, msg) }
