// Package lobby is the gateway's own browser client: a small page at GET /
// that connects to /game with a token, joins and leaves rooms and lists
// their members live, shows notifications, the balance and every exception,
// and lets an admin broadcast and kick through the REST API. It is plain HTML, CSS and JavaScript
// modules embedded in the binary, so it needs no build step and no other
// server: a new user runs the gateway and opens the address it prints.
package lobby

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gamegate/gamegate/modules/httpserver"
)

//go:embed static
var files embed.FS

// static is the page's files, rooted so that static/js/main.js is js/main.js.
var static = must(fs.Sub(files, "static"))

// contentSecurityPolicy allows the page nothing but its own origin: its
// files, /game, the REST API and the simulator's dev endpoint. The page shows
// notification text that any REST caller chose, and this keeps a mistake in
// how it does so from running someone else's script.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

func routes() []httpserver.Route {
	return []httpserver.Route{
		{Method: http.MethodGet, Path: "/", Handler: page(echo.StaticFileHandler("index.html", static))},
		{Method: http.MethodGet, Path: "/lobby/*", Handler: echo.StaticDirectoryHandler(static, false)},
	}
}

// page serves the document with its security policy.
func page(serve echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Set("Content-Security-Policy", contentSecurityPolicy)
		return serve(c)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
