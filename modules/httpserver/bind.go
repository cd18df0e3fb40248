package httpserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// BindJSON decodes a JSON object body into v, a pointer to a struct. Each
// failure is a 400 whose message names what is wrong, in NestJS's error
// shape; a body over http.maxBodyBytes keeps its 413.
func BindJSON(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return badRequest("Content-Type must be application/json")
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) { // the body limit
			return he
		}
		return badRequest("incomplete body")
	}
	// What a body carries may reach browsers in WebSocket text frames,
	// which must be UTF-8.
	if !utf8.Valid(b) {
		return badRequest("body must be valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			return badRequest(te.Field + " must be a " + te.Type.Kind().String())
		case errors.As(err, &te), errors.Is(err, io.EOF):
			return badRequest("body must be a JSON object")
		default:
			return badRequest("malformed JSON")
		}
	}
	if dec.More() {
		return badRequest("malformed JSON")
	}
	return nil
}

func badRequest(msg string) error { return echo.NewHTTPError(http.StatusBadRequest, msg) }
