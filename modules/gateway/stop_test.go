package gateway_test

import (
	"net/http"
	"testing"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

func TestStopClosesClientsWith1001(t *testing.T) {
	n := gt.Start(t, gt.Config())
	clients := []*gt.Client{n.Dial(t, gt.Token(t, "a")), n.Dial(t, gt.Token(t, "b"))}
	clients[0].Join("table")
	n.Stop(t)
	for _, c := range clients {
		if code, reason := c.Closed(); code != websocket.StatusGoingAway || reason != "server stopping" {
			t.Fatalf("close %d %q, want 1001", code, reason)
		}
	}
	if _, err := http.Get(n.URL + "/game"); err == nil {
		t.Fatal("stopped node still accepts connections")
	}
}
