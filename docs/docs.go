// Package docs holds the gateway's documentation, and serves its
// machine-readable part: asyncapi.yaml (the WebSocket protocol) and
// openapi.yaml (the REST routes), embedded in the binary. protocol.md is
// the same protocol in prose.
package docs

import (
	"embed"
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/httpserver"
)

// Specs holds asyncapi.yaml and openapi.yaml.
//
//go:embed asyncapi.yaml openapi.yaml
var Specs embed.FS

// Module serves the descriptions at GET /docs/asyncapi.yaml and
// GET /docs/openapi.yaml.
var Module = fx.Module("docs", fx.Provide(httpserver.AsRoutes(Routes)))

// Routes serve each file of Specs under /docs/.
func Routes() []httpserver.Route {
	return []httpserver.Route{
		{Method: http.MethodGet, Path: "/docs/asyncapi.yaml", Handler: serve("asyncapi.yaml")},
		{Method: http.MethodGet, Path: "/docs/openapi.yaml", Handler: serve("openapi.yaml")},
	}
}

// serve answers with the file name of Specs, as YAML (RFC 9512).
func serve(name string) echo.HandlerFunc {
	b, err := Specs.ReadFile(name)
	if err != nil {
		panic(err) // embedded: only a build without the file gets here
	}
	return func(c echo.Context) error { return c.Blob(http.StatusOK, "application/yaml", b) }
}
