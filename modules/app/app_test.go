package app_test

import (
	"regexp"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/app"
	"github.com/gamegate/gamegate/modules/httpserver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The configuration refuses a WebSocket path on any REST route the
// application serves, its optional ones included: its list of them is kept
// in step with the modules.
func TestConfigKnowsEveryRESTRoute(t *testing.T) {
	cfg := gt.Config()
	cfg.Wallet.Simulator = true // mounts the simulator's admin routes
	var routes []httpserver.Route
	a := fx.New(app.Options(cfg), fx.NopLogger,
		fx.Invoke(fx.Annotate(func(r []httpserver.Route) { routes = r },
			fx.ParamTags(`group:"`+httpserver.RouteGroup+`"`))))
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`:[^/]+|\*`)
	checked := 0
	for _, r := range routes {
		if r.Path == cfg.Gateway.Path || r.Path == cfg.Gateway.SocketIO.Path {
			continue
		}
		c := cfg
		c.Gateway.Path = param.ReplaceAllString(r.Path, "x") // a path the route matches
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "gateway.path: ") || !strings.Contains(err.Error(), "REST route") {
			t.Errorf("gateway.path %q, on the route %s %s: Validate = %v, want it taken by a REST route", c.Gateway.Path, r.Method, r.Path, err)
		}
		checked++
	}
	if checked < 6 {
		t.Errorf("checked %d REST routes; the application has more", checked)
	}
}
