package docs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/docs"
	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/app"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/httpserver"
)

// openAPI is openapi.yaml, validated as OpenAPI 3.1 with its examples.
func openAPI(t *testing.T) *openapi3.T {
	t.Helper()
	b, err := docs.Specs.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	return doc
}

func TestOpenAPIIsValid(t *testing.T) { openAPI(t) }

// allRoutes is a configuration under which the application registers every
// route it has: the embedded simulator's and the profiles too.
func allRoutes() config.Config {
	cfg := gt.Config()
	cfg.Wallet.Simulator = true
	cfg.HTTP.Pprof = true
	return cfg
}

// Every route the application registers in echo is in openapi.yaml with its
// method, and every operation there is registered. Left out, as
// docs/protocol.md says: the WebSocket endpoint /game (asyncapi.yaml
// describes it) and /debug/pprof/, Go's own profiles. /socket.io/ is in:
// its WebSocket shares GET with the handshake and long-polling. A route
// ending in * serves every path under it, so it answers for the operations
// under its prefix.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	cfg := allRoutes()
	var srv *httpserver.Server
	a := fx.New(app.Options(cfg), fx.NopLogger, fx.Decorate(zap.NewNop), fx.Populate(&srv))
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	type route struct{ method, path string }
	param := regexp.MustCompile(`:(\w+)`)
	var registered []route
	for _, r := range srv.Echo().Routes() {
		switch {
		case r.Path == cfg.Gateway.Path, strings.HasPrefix(r.Path, "/debug/pprof/"):
			continue
		}
		registered = append(registered, route{r.Method, param.ReplaceAllString(r.Path, "{$1}")})
	}
	var documented []route
	for path, item := range openAPI(t).Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, route{method, path})
		}
	}
	covers := func(r, op route) bool {
		prefix, wildcard := strings.CutSuffix(r.path, "*")
		return r.method == op.method && (r.path == op.path || wildcard && strings.HasPrefix(op.path, prefix))
	}
	for _, r := range registered {
		if !slices.ContainsFunc(documented, func(op route) bool { return covers(r, op) }) {
			t.Errorf("%s %s is served but not in openapi.yaml", r.method, r.path)
		}
	}
	for _, op := range documented {
		if !slices.ContainsFunc(registered, func(r route) bool { return covers(r, op) }) {
			t.Errorf("%s %s is in openapi.yaml but not served", op.method, op.path)
		}
	}
	if len(registered) < 10 {
		t.Fatalf("found %d routes: the application has more", len(registered))
	}
}

// Requests to a running node, answered and refused, are as openapi.yaml
// describes them: each request that should be accepted validates, and
// every answer, errors included, has a documented status and body.
func TestOpenAPIDescribesTheAnswers(t *testing.T) {
	cfg := allRoutes()
	cfg.Wallet.Port = gt.FreePort(t)
	cfg.Gateway.CORS.Origins = []string{"https://games.example.com"}
	n := gt.Start(t, cfg)
	doc := openAPI(t)
	doc.Servers = openapi3.Servers{{URL: n.URL}} // the router matches the host too
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	admin := "Bearer " + gt.Token(t, "ops", "admin")
	json := http.Header{"Content-Type": {"application/json"}, "Authorization": {admin}}
	waitfor.Until(t, gt.Timeout, func() error { // the wallet link, so that a debit finds the user's balance
		return expectStatus(n.URL+"/readyz", http.StatusOK)
	})

	for _, tc := range []struct {
		name, method, path string
		header             http.Header
		body               string
		status             int
		valid              bool // openapi.yaml allows the request's shape (the token is the server's to judge)
	}{
		{"broadcast", "POST", "/notifications/broadcast", json, `{"roomId":"lobby","message":{"text":"gg"}}`, 200, true},
		{"broadcast with an event", "POST", "/notifications/broadcast", json, `{"roomId":"lobby","message":"over","event":"roundOver"}`, 200, true},
		{"broadcast without a token", "POST", "/notifications/broadcast", http.Header{"Content-Type": {"application/json"}}, `{"roomId":"lobby","message":1}`, 401, true},
		{"broadcast without the role", "POST", "/notifications/broadcast",
			http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + gt.Token(t, "alice")}}, `{"roomId":"lobby","message":1}`, 403, true},
		{"broadcast, bad room", "POST", "/notifications/broadcast", json, `{"roomId":"a b","message":1}`, 400, false},
		{"broadcast, null message", "POST", "/notifications/broadcast", json, `{"roomId":"a","message":null}`, 400, false},
		{"broadcast, malformed", "POST", "/notifications/broadcast", json, `{"roomId":`, 400, false},
		{"broadcast, too large", "POST", "/notifications/broadcast", json, `{"roomId":"a","message":"` + strings.Repeat("x", 1<<20) + `"}`, 413, true},
		{"to a user", "POST", "/notifications/users/alice", json, `{"message":{"gift":5},"event":"gift"}`, 200, true},
		{"to a user, empty event", "POST", "/notifications/users/alice", json, `{"message":1,"event":""}`, 400, false},
		{"health", "GET", "/healthz", nil, "", 200, true},
		{"readiness", "GET", "/readyz", nil, "", 200, true},
		{"metrics", "GET", "/metrics", nil, "", 200, true},
		{"openapi", "GET", "/docs/openapi.yaml", nil, "", 200, true},
		{"asyncapi", "GET", "/docs/asyncapi.yaml", nil, "", 200, true},
		{"lobby", "GET", "/", nil, "", 200, true},
		{"lobby file", "GET", "/lobby/lobby.css", nil, "", 200, true},
		{"no such lobby file", "GET", "/lobby/absent.js", nil, "", 404, true},
		{"simulator credit", "POST", "/dev/wallet/credit", http.Header{"Content-Type": {"application/json"}}, `{"userId":"alice","amount":500}`, 200, true},
		{"simulator debit refused", "POST", "/dev/wallet/debit", http.Header{"Content-Type": {"application/json"}}, `{"userId":"alice","amount":999999999}`, 409, true},
		{"simulator bad body", "POST", "/dev/wallet/debit", http.Header{"Content-Type": {"application/json"}}, `{"userId":"alice","amount":0}`, 400, false},
		{"simulator balance", "GET", "/dev/wallet/balance/alice", nil, "", 200, true},
		{"socket.io handshake", "GET", "/socket.io/?EIO=4&transport=polling&t=PbXq1", nil, "", 200, true},
		{"socket.io unknown session", "GET", "/socket.io/?EIO=4&transport=polling&sid=nope", nil, "", 400, true},
		{"socket.io packets, unknown session", "POST", "/socket.io/?EIO=4&transport=polling&sid=nope",
			http.Header{"Content-Type": {"text/plain;charset=UTF-8"}}, `42/game,["ping"]`, 400, true},
		{"socket.io, another version", "GET", "/socket.io/?EIO=3&transport=polling", nil, "", 400, false},
		{"socket.io, another origin", "GET", "/socket.io/?EIO=4&transport=polling", http.Header{"Origin": {"https://evil.example.net"}}, "", 403, true},
		{"socket.io preflight", "OPTIONS", "/socket.io/?EIO=4&transport=polling",
			http.Header{"Origin": {"https://games.example.com"}, "Access-Control-Request-Method": {"POST"}}, "", 204, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, n.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.header {
				req.Header[k] = v
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("openapi.yaml has no operation for %s %s: %v", tc.method, tc.path, err)
			}
			in := &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true},
			}
			if err := openapi3filter.ValidateRequest(context.Background(), in); (err == nil) != tc.valid {
				t.Fatalf("request validates: %v, want %v (%v)", err == nil, tc.valid, err)
			}
			req.Body = io.NopCloser(strings.NewReader(tc.body)) // validation read it
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, body, tc.status)
			}
			out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: in.Options}
			out.SetBodyBytes(body)
			if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
				t.Fatalf("the answer is not as documented: %v\n%s", err, shorten(body))
			}
		})
	}
}

// postAsAdmin POSTs the JSON body to url with an admin's token, and fails
// the test unless it is answered 200.
func postAsAdmin(t *testing.T, url, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+gt.Token(t, "ops", "admin"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d", url, resp.StatusCode)
	}
}

// expectStatus is nil when url answers GET with status.
func expectStatus(url string, status int) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return nil
}

func shorten(b []byte) []byte {
	if len(b) > 300 {
		return append(bytes.Clone(b[:300]), "…"...)
	}
	return b
}
