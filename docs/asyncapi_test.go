package docs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/docs"
	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/nodetest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/app"
	"github.com/gamegate/gamegate/modules/gateway"
)

// asyncAPI is asyncapi.yaml as JSON values.
func asyncAPI(t *testing.T) map[string]any {
	t.Helper()
	b, err := docs.Specs.ReadFile("asyncapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		t.Fatalf("asyncapi.yaml: %v", err)
	}
	// Through JSON, so that numbers and maps are what a JSON decoder makes.
	j, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return doc.(map[string]any)
}

// messages are the doc's messages by event name, each its payload's
// compiled schema and its examples.
func messages(t *testing.T, doc map[string]any) map[string]message {
	t.Helper()
	c := jsonschema.NewCompiler()
	if err := c.AddResource("asyncapi.json", doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]message{}
	for key, v := range doc["components"].(map[string]any)["messages"].(map[string]any) {
		m := v.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			t.Fatalf("message %s has no name: the name is the event's", key)
		}
		schema, err := c.Compile("asyncapi.json#/components/messages/" + key + "/payload")
		if err != nil {
			t.Fatalf("message %s: %v", key, err)
		}
		var examples []any
		for _, e := range m["examples"].([]any) {
			examples = append(examples, e.(map[string]any)["payload"])
		}
		out[name] = message{schema, examples}
	}
	return out
}

type message struct {
	payload  *jsonschema.Schema
	examples []any
}

// The AsyncAPI project's own parser accepts asyncapi.yaml with no error and
// no warning. It runs under Node.js, from testdata/asyncapi (pinned in its
// package-lock.json).
func TestAsyncAPIParses(t *testing.T) {
	dir := filepath.Join("testdata", "asyncapi")
	node := nodetest.Node(t, dir, "@asyncapi/parser", "the AsyncAPI parser")
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "validate.mjs", "../../asyncapi.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("@asyncapi/parser:\n%s", out)
	if err != nil {
		t.Fatalf("asyncapi.yaml does not parse: %v", err)
	}
}

// Every event of the gateway's own modules is a message of asyncapi.yaml,
// those clients send (the handlers) and those the server sends (declared
// with gateway.AsEvents), and every message there is one of them.
func TestAsyncAPICoversEveryEvent(t *testing.T) {
	var events []string
	a := fx.New(app.Options(allRoutes()), fx.NopLogger, fx.Decorate(zap.NewNop),
		fx.Invoke(fx.Annotate(func(handlers []gateway.Handler, sent []string) {
			for _, h := range handlers {
				events = append(events, h.Event)
			}
			events = append(events, sent...)
		}, fx.ParamTags(`group:"`+gateway.HandlerGroup+`"`, `group:"`+gateway.EventGroup+`"`))))
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	documented := messages(t, asyncAPI(t))
	for _, e := range events {
		if _, ok := documented[e]; !ok {
			t.Errorf("event %q is not a message of asyncapi.yaml", e)
		}
	}
	for name := range documented {
		if !slices.Contains(events, name) {
			t.Errorf("asyncapi.yaml has the message %q, which no module handles or sends", name)
		}
	}
}

// Each message's examples match its payload's schema, and so do the frames
// a running node sends, each checked against the message of its event.
func TestFramesMatchAsyncAPI(t *testing.T) {
	documented := messages(t, asyncAPI(t))
	for name, m := range documented {
		for _, e := range m.examples {
			if err := m.payload.Validate(e); err != nil {
				t.Errorf("an example of %s does not match its payload: %v", name, err)
			}
		}
	}

	cfg := allRoutes()
	cfg.Wallet.Port = gt.FreePort(t)
	n := gt.Start(t, cfg)
	waitfor.Until(t, gt.Timeout, func() error { return expectStatus(n.URL+"/readyz", http.StatusOK) })
	conn, resp, err := n.DialRaw(gt.Token(t, "alice"), nil)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer conn.CloseNow()
	// read checks the next frame against the message of its event; a
	// REST caller's own event names are notifications.
	read := func(want string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), gt.Timeout)
		defer cancel()
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		event, _ := v.(map[string]any)["event"].(string)
		name := event
		if _, ok := documented[name]; !ok {
			name = "notification"
		}
		if event != want {
			t.Fatalf("got %s, want %s", b, want)
		}
		if err := documented[name].payload.Validate(v); err != nil {
			t.Errorf("%s does not match asyncapi.yaml: %v", b, err)
		}
	}
	send := func(frame string) {
		t.Helper()
		if err := conn.Write(t.Context(), websocket.MessageText, []byte(frame)); err != nil {
			t.Fatal(err)
		}
	}

	read("connected")
	send(`{"event":"joinRoom","data":{"roomId":"lobby"},"id":1}`)
	read("joinedRoom")
	send(`{"event":"ping","id":"p"}`)
	read("pong")
	send(`{"event":"getBalance","id":"b"}`)
	read("balance")
	postAsAdmin(t, n.URL+"/notifications/broadcast", `{"roomId":"lobby","message":{"text":"gg"}}`)
	read("notification")
	postAsAdmin(t, n.URL+"/notifications/users/alice", `{"message":[1,2],"event":"gift"}`)
	read("gift")
	postAsAdmin(t, n.URL+"/dev/wallet/credit", `{"userId":"alice","amount":500}`)
	read("balanceUpdated")
	send(`{"event":"leaveRoom","data":{"roomId":"lobby"}}`)
	read("leftRoom")
	send(`{"event":"fly","id":"f"}`)
	read("exception")
	send(`{"event":"joinRoom","data":{"roomId":"a b"}}`)
	read("exception")
}
