package auth

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gamegate/gamegate/pkg/token"
)

// RequireRole is echo middleware that lets a request through when its
// Bearer token is valid (401 otherwise) and its roles hold role (403
// otherwise), like the NestJS AdminJwtGuard it replaces.
func RequireRole(v *token.Verifier, role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			raw := token.Bearer(req.Header.Get(echo.HeaderAuthorization))
			if raw == "" {
				return echo.NewHTTPError(http.StatusUnauthorized, "missing bearer token")
			}
			claims, err := v.Verify(req.Context(), raw)
			if err != nil {
				return echo.NewHTTPError(http.StatusUnauthorized, token.Message(err))
			}
			if !claims.HasRole(role) {
				return echo.NewHTTPError(http.StatusForbidden, `role "`+role+`" required`)
			}
			return next(c)
		}
	}
}
