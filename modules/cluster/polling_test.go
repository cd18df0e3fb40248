package cluster_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/nodetest"
)

// roundRobin stands for a load balancer without sticky sessions: it sends
// each request, WebSocket upgrades included, to the next of nodes in turn.
// It returns the balancer's URL.
func roundRobin(t testing.TB, nodes ...node) string {
	t.Helper()
	tr := &http.Transport{}
	proxies := make([]*httputil.ReverseProxy, len(nodes))
	for i, n := range nodes {
		u, err := url.Parse(n.URL)
		if err != nil {
			t.Fatal(err)
		}
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
		proxies[i].Transport = tr
	}
	var next atomic.Uint64
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[(next.Add(1)-1)%uint64(len(proxies))].ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		lb.CloseClientConnections() // long-polls under way
		lb.Close()
		tr.CloseIdleConnections()
	})
	return lb.URL
}

// A polling session's requests that reach another node are relayed to the
// session's node: the client sees the same answers, byte for byte.
func TestPollingAcrossNodes(t *testing.T) {
	s := startNATS(t, -1)
	nodes := startNodes(t, s.ClientURL(), 3)
	p := gt.OpenPolling(t, nodes[0].URL)
	p.Base = nodes[1].URL // every request from now on reaches another node
	p.Connect(gt.Token(t, "alice"))
	p.Post(`42/game,1["joinRoom",{"roomId":"table"}]`, `42/game,2["fly"]`)
	if got := p.Get(); len(got) != 2 || got[0] != `43/game,1[{"roomId":"table"}]` || got[1] != `43/game,2[{"status":"error","message":"unknown event \"fly\""}]` {
		t.Fatalf("got %q", got)
	}
	// A relayed GET waits on the session's node for what comes.
	got := p.GetAsync()
	if err := nodes[0].Emitter.ToRoom(t.Context(), "table", "deal", "A"); err != nil {
		t.Fatal(err)
	}
	if a := <-got; a.Err != nil || a.Status != 200 || !strings.HasPrefix(a.Body, `42/game,["deal","A","`) {
		t.Fatalf("the relayed GET: %+v", a)
	}
	p.Base = nodes[2].URL
	p.Post(`42/game,3["ping"]`)
	if got := p.Get(); len(got) != 1 || !strings.HasPrefix(got[0], `43/game,3[{"ts":`) {
		t.Fatalf("got %q", got)
	}

	// A WebSocket cannot follow the session to its node: refused, the
	// client goes on polling.
	ws := "ws" + strings.TrimPrefix(nodes[1].URL, "http") + p.Path("websocket")
	if _, resp, err := nodes[1].DialRawURL(ws, nil); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("an upgrade on another node: %v %v", resp, err)
	}
	p.Post(`42/game,4["ping"]`)
	if got := p.Get(); len(got) != 1 || !strings.HasPrefix(got[0], `43/game,4[{"ts":`) {
		t.Fatalf("got %q", got)
	}

	// Sessions no node holds are unknown, wherever the request lands.
	unknown := `{"code":1,"message":"Session ID unknown"}`
	tag := p.SID[strings.IndexByte(p.SID, '-'):]
	for _, sid := range []string{strings.Repeat("A", 26) + tag, strings.Repeat("A", 26) + "-AAAAAAAA"} {
		resp, body := p.Request(http.MethodGet, "/socket.io/?EIO=4&transport=polling&sid="+sid, nil, "")
		if resp.StatusCode != 400 || body != unknown {
			t.Fatalf("sid %s: %d %s", sid, resp.StatusCode, body)
		}
	}
	// ...the session too, once its node has stopped.
	nodes[0].Stop(t)
	if code, body := p.Do(http.MethodGet, ""); code != 400 || body != unknown {
		t.Fatalf("GET after its node stopped: %d %s", code, body)
	}
}

// TestSocketIOClientAcrossNodes runs the real socket.io-client against two
// nodes behind a round-robin balancer (testdata/socketio/cluster.test.mjs
// of the gateway, whose suite pins socket.io-client's version).
func TestSocketIOClientAcrossNodes(t *testing.T) {
	dir := filepath.Join("..", "gateway", "testdata", "socketio")
	node := nodetest.Node(t, dir, "socket.io-client", "the socket.io-client suite across nodes")
	// JetStream, as deployed by default: every node delivers in the shared
	// log's order, so broadcasts POSTed one after another to alternating
	// nodes arrive in that order. Plain NATS orders each node's own only.
	s := startJetStream(t, -1, t.TempDir())
	lb := roundRobin(t, startNodes(t, s.ClientURL(), 2)...)

	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "--test-reporter=spec", "cluster.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GATEWAY_URL="+lb,
		"TOKEN_ALICE="+gt.Token(t, "alice"), "TOKEN_BOB="+gt.Token(t, "bob"), "TOKEN_ADMIN="+gt.Token(t, "ops", "admin"))
	out, err := cmd.CombinedOutput()
	t.Logf("socket.io-client suite across nodes:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client suite failed: %v", err)
	}
}
