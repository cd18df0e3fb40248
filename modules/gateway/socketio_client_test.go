package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gamegate/gamegate/pkg/wsconn"
	"go.uber.org/fx"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/nodetest"
	"github.com/gamegate/gamegate/modules/gateway"
)

// TestSocketIOClient runs the real socket.io-client v4 (testdata/socketio,
// pinned in its package-lock.json) against a gateway from this tree.
func TestSocketIOClient(t *testing.T) {
	dir := filepath.Join("testdata", "socketio")
	node := nodetest.Node(t, dir, "socket.io-client", "the socket.io-client suite")

	// kickMe lets the suite see a server-initiated disconnect.
	kick := fx.Provide(gateway.AsHandler(func() gateway.Handler {
		return gateway.Handler{Event: "kickMe", Handle: func(_ context.Context, c *gateway.Client, _ json.RawMessage) (*gateway.Reply, error) {
			c.Close(wsconn.StatusPolicyViolation, "kicked")
			return nil, nil
		}}
	}))
	cfg := gt.Config()
	var mu sync.Mutex
	n := gt.Start(t, cfg, kick)
	url := n.URL
	cfg.HTTP.Addr = n.Server.Addr().String() // restarts reuse the port
	control := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/restart" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		n.Stop(t)
		n = gt.Start(t, cfg, kick)
		w.WriteHeader(http.StatusOK)
	}))
	defer control.Close()

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "client.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GATEWAY_URL="+url, "CONTROL_URL="+control.URL,
		"TOKEN_ALICE="+gt.Token(t, "alice"), "TOKEN_BOB="+gt.Token(t, "bob"), "TOKEN_ADMIN="+gt.Token(t, "ops", "admin"))
	out, err := cmd.CombinedOutput()
	t.Logf("socket.io-client suite:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client suite failed: %v", err)
	}
}
