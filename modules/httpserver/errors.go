package httpserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// ErrorBody is NestJS's error shape, which REST and handshake clients parse.
type ErrorBody struct {
	StatusCode int    `json:"statusCode"`
	Message    string `json:"message"`
	Error      string `json:"error"`
}

// NewError is the error body for status code with message.
func NewError(code int, message string) ErrorBody {
	return ErrorBody{StatusCode: code, Message: message, Error: http.StatusText(code)}
}

// ErrorHandler writes every error as an ErrorBody. Errors that are not
// *echo.HTTPError are logged and answered 500 without their text.
func ErrorHandler(log *zap.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		body := NewError(http.StatusInternalServerError, "Internal server error")
		var he *echo.HTTPError
		switch {
		case errors.Is(err, echo.ErrNotFound) || errors.Is(err, echo.ErrMethodNotAllowed):
			body = NewError(http.StatusNotFound, fmt.Sprintf("Cannot %s %s", c.Request().Method, c.Request().URL.Path))
		case errors.As(err, &he):
			msg := fmt.Sprint(he.Message)
			if he.Code == http.StatusRequestEntityTooLarge {
				msg = "request entity too large"
			}
			body = NewError(he.Code, msg)
		default:
			log.Error("request failed", zap.String("path", c.Path()), zap.Error(err))
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(body.StatusCode)
		} else {
			err = c.JSON(body.StatusCode, body)
		}
		if err != nil {
			log.Debug("writing error response", zap.Error(err))
		}
	}
}
