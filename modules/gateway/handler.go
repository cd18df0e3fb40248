package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"
	"go.uber.org/fx"
)

// Handler answers one client event (NestJS's @SubscribeMessage). Modules
// contribute handlers through the "gateway.handlers" value group; see AsHandler.
type Handler struct {
	Event string
	// Guards run, after the global ones, before Handle; the first error
	// refuses the event.
	Guards []Guard
	// Async runs Handle in its own goroutine so a slow call (the wallet, say)
	// does not hold up the client's next messages. Replies may then arrive
	// out of order; the request id tells them apart.
	Async bool
	// Handle returns the reply to send, or nil for none. An *Exception
	// becomes an `exception` frame with its message; any other error is
	// logged and answered "Internal server error".
	Handle func(ctx context.Context, c *Client, data json.RawMessage) (*Reply, error)
}

// Reply is a handler's answer, sent as {event, data, id}.
type Reply struct {
	Event string
	Data  any
}

// Guard decides whether c may send event (NestJS's CanActivate). Return
// ErrForbidden, or an *Exception with another message, to refuse.
type Guard func(ctx context.Context, c *Client, event string) error

// Hooks run when a client connects (after `connected` is queued and the
// personal room joined) and when it disconnects. An OnConnect error closes
// the connection with 1008 and the error's text as the reason.
type Hooks struct {
	OnConnect    func(ctx context.Context, c *Client) error
	OnDisconnect func(c *Client)
}

// Exception is an error whose message the client sees (NestJS's WsException).
type Exception struct{ Message string }

func (e *Exception) Error() string { return e.Message }

// Exceptionf returns an *Exception with a formatted message.
func Exceptionf(format string, args ...any) *Exception {
	return &Exception{Message: fmt.Sprintf(format, args...)}
}

// ErrForbidden is a guard's refusal.
var ErrForbidden = &Exception{Message: "forbidden"}

// RequireRoles is a guard that lets an event through when the token's roles
// hold at least one of roles.
func RequireRoles(roles ...string) Guard {
	return func(_ context.Context, c *Client, _ string) error {
		for _, r := range roles {
			if c.HasRole(r) {
				return nil
			}
		}
		return ErrForbidden
	}
}

// AsHandler annotates a constructor returning Handler so it joins the
// gateway: fx.Provide(gateway.AsHandler(NewMyHandler)).
func AsHandler(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+HandlerGroup+`"`))
}

// AsGuard annotates a constructor returning Guard as a global guard that runs
// before every event's own guards.
func AsGuard(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+GuardGroup+`"`))
}

// AsHooks annotates a constructor returning Hooks.
func AsHooks(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+HookGroup+`"`))
}

// On builds a Handler whose data is decoded into In and validated with its
// `validate` struct tags before fn runs. A decoding or validation failure
// answers an exception naming the field.
func On[In any](event string, fn func(ctx context.Context, c *Client, in In) (*Reply, error), guards ...Guard) Handler {
	return Handler{
		Event:  event,
		Guards: guards,
		Handle: func(ctx context.Context, c *Client, data json.RawMessage) (*Reply, error) {
			var in In
			if err := decode(data, &in); err != nil {
				return nil, err
			}
			return fn(ctx, c, in)
		},
	}
}

var validate = newValidator()

func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			return f.Name
		}
		return name
	})
	_ = v.RegisterValidation("roomid", func(fl validator.FieldLevel) bool { return ValidRoomID(fl.Field().String()) })
	return v
}

// decode unmarshals data into v (a pointer) and validates it when it is a
// struct. Absent data decodes as an empty object, so `required` fields are
// reported by name.
func decode(data json.RawMessage, v any) error {
	if len(data) == 0 || string(data) == "null" {
		data = json.RawMessage("{}")
	}
	if err := json.Unmarshal(data, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			if te.Field == "" {
				return Exceptionf("data must be %s", article(te.Type.Kind()))
			}
			return Exceptionf("%s must be %s", te.Field, article(te.Type.Kind()))
		}
		return Exceptionf("invalid data")
	}
	if reflect.Indirect(reflect.ValueOf(v)).Kind() != reflect.Struct {
		return nil
	}
	if err := validate.Struct(v); err != nil {
		var ve validator.ValidationErrors
		if errors.As(err, &ve) && len(ve) > 0 {
			return &Exception{Message: fieldMessage(ve[0])}
		}
		return Exceptionf("invalid data")
	}
	return nil
}

func article(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func fieldMessage(fe validator.FieldError) string {
	field := fe.Namespace()
	if _, rest, ok := strings.Cut(field, "."); ok {
		field = rest
	}
	switch fe.Tag() {
	case "required":
		return field + " is required"
	case "roomid":
		return field + " must be 1 to 128 characters of [A-Za-z0-9_.:-]"
	case "min":
		return fmt.Sprintf("%s must be at least %s", field, fe.Param())
	case "max":
		return fmt.Sprintf("%s must be at most %s", field, fe.Param())
	case "oneof":
		return fmt.Sprintf("%s must be one of: %s", field, fe.Param())
	default:
		return fmt.Sprintf("%s is invalid (%s)", field, fe.Tag())
	}
}

// ValidRoomID reports whether id is 1 to 128 characters of [A-Za-z0-9_.:-].
func ValidRoomID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}
