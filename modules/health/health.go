// Package health serves GET /healthz (the process serves) and GET /readyz
// (every required part is up). Modules add their parts to readiness through
// the CheckGroup value group (AsCheck).
package health

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"go.uber.org/fx"

	"github.com/gamegate/gamegate/modules/httpserver"
)

// Check is one part of readiness, such as the wallet link.
type Check struct {
	// Name is the part's key in the /readyz body.
	Name string
	// State returns the part's state, e.g. "up" or "connecting", and
	// whether it counts as ready.
	State func() (state string, ready bool)
}

// CheckGroup is the value group of the Checks /readyz reports.
const CheckGroup = "health.checks"

// AsCheck annotates a constructor returning Check.
func AsCheck(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+CheckGroup+`"`))
}

// Module adds /healthz and /readyz.
var Module = fx.Module("health",
	fx.Provide(fx.Annotate(Routes,
		fx.ParamTags(`group:"`+CheckGroup+`"`, ``),
		fx.ResultTags(`group:"`+httpserver.RouteGroup+`,flatten"`))),
)

// Routes are the two endpoints over checks. Once the node has begun to stop
// (drain), it is not ready, whatever the checks say.
func Routes(checks []Check, drain *httpserver.Drain) []httpserver.Route {
	return []httpserver.Route{
		{Method: http.MethodGet, Path: "/healthz", Handler: func(c echo.Context) error {
			return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
		}},
		{Method: http.MethodGet, Path: "/readyz", Handler: func(c echo.Context) error {
			body := map[string]string{"status": "ok"}
			code := http.StatusOK
			for _, ch := range checks {
				state, ready := ch.State()
				body[ch.Name] = state
				if !ready {
					body["status"], code = "degraded", http.StatusServiceUnavailable
				}
			}
			if drain.Draining() {
				body["status"], code = "stopping", http.StatusServiceUnavailable
			}
			return c.JSON(code, body)
		}},
	}
}
