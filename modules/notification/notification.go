// Package notification is the REST → WebSocket bridge: thin echo handlers
// over the gateway's emitter, for game backends that push to players.
package notification

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

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
	Receipt *ReceiptSpec    `json:"receipt"`
}

// UserBody is the body of POST /notifications/users/:userId.
type UserBody struct {
	Message json.RawMessage `json:"message"`
	Event   *string         `json:"event"`
	Receipt *ReceiptSpec    `json:"receipt"`
}

// ReceiptSpec asks for a delivery receipt: the answer comes once every
// recipient has acked, or after TimeoutMs.
type ReceiptSpec struct {
	TimeoutMs json.RawMessage `json:"timeoutMs"`
}

// maxReceiptTimeout bounds how long a REST call waits for acks.
const maxReceiptTimeout = 30_000

// timeout is the spec's timeout, if it is an integer from 1 to 30,000 ms.
func (r *ReceiptSpec) timeout() (time.Duration, error) {
	var ms int64
	if err := json.Unmarshal(r.TimeoutMs, &ms); err != nil || ms < 1 || ms > maxReceiptTimeout {
		return 0, badRequest("receipt.timeoutMs must be an integer from 1 to 30000")
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// receiptAnswer is a call's answer with a receipt.
type receiptAnswer struct {
	Success bool `json:"success"`
	gateway.ReceiptResult
}

// send sends to room, with a receipt when spec asks for one, and answers.
func (ctl *Controller) send(c echo.Context, room, event string, message json.RawMessage, spec *ReceiptSpec) error {
	ctx := c.Request().Context()
	if spec == nil {
		if err := ctl.emitter.ToRoom(ctx, room, event, message); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, success{true})
	}
	timeout, err := spec.timeout()
	if err != nil {
		return err
	}
	res, err := ctl.emitter.ToRoomWithReceipt(ctx, room, event, message, timeout)
	if errors.Is(err, gateway.ErrTooManyReceipts) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, err.Error())
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, receiptAnswer{Success: true, ReceiptResult: res})
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
	return ctl.send(c, body.RoomID, event, body.Message, body.Receipt)
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
	return ctl.send(c, gateway.PersonalRoom(c.Param("userId")), event, body.Message, body.Receipt)
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
