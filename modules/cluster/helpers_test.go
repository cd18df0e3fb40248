package cluster_test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/fx"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/cluster"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

// startNATS runs a NATS server in the test process on 127.0.0.1:port, a
// free port when port is -1, until the test ends.
func startNATS(t testing.TB, port int) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(gt.Timeout) {
		t.Fatal("NATS server not ready")
	}
	t.Cleanup(func() { stopNATS(s) })
	return s
}

func stopNATS(s *server.Server) {
	s.Shutdown()
	s.WaitForShutdown()
}

// startWallet runs a wallet simulator on a loopback port until the test
// ends, and returns it with its port.
func startWallet(t testing.TB) (*walletsim.Server, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sim := walletsim.New(walletsim.Options{})
	done := make(chan struct{})
	go func() { defer close(done); _ = sim.Serve(ln) }()
	t.Cleanup(func() { _ = sim.Close(); <-done })
	return sim, ln.Addr().(*net.TCPAddr).Port
}

// node is a gateway node on a NATS server.
type node struct {
	*gt.Node
	adapter *cluster.Adapter
}

// nodeConfig is the configuration of a node on the NATS server at natsURL
// whose wallet is on walletPort.
func nodeConfig(natsURL string, walletPort int) config.Config {
	cfg := gt.Config()
	cfg.Wallet.NodeID = fmt.Sprint("node-", nodeIDs.Add(1)) // the nodes share a process id
	cfg.Cluster.NATSURL = natsURL
	cfg.Wallet.Port = walletPort
	return cfg
}

func startNode(t testing.TB, cfg config.Config) node {
	t.Helper()
	var n node
	n.Node = gt.Start(t, cfg, fx.Populate(&n.adapter))
	return n
}

var nodeIDs atomic.Int64

// startNodes starts n nodes on the NATS server at natsURL, linked to one
// wallet simulator, as a deployment would be.
func startNodes(t testing.TB, natsURL string, n int) []node {
	t.Helper()
	_, wallet := startWallet(t)
	nodes := make([]node, n)
	for i := range nodes {
		nodes[i] = startNode(t, nodeConfig(natsURL, wallet))
	}
	return nodes
}

// waitInterest waits until exactly nodes connections subscribe to room on s.
func waitInterest(t testing.TB, s *server.Server, room string, nodes int) {
	t.Helper()
	waitfor.Until(t, gt.Timeout, func() error {
		sz, err := s.Subsz(&server.SubszOptions{Subscriptions: true, Test: cluster.RoomSubject(room)})
		if err != nil {
			return err
		}
		if len(sz.Subs) != nodes {
			return fmt.Errorf("%d nodes subscribe to room %q, want %d", len(sz.Subs), room, nodes)
		}
		return nil
	})
}

// dialJoin connects user to n and joins it to rooms.
func dialJoin(t testing.TB, n node, user string, rooms ...string) *gt.Client {
	t.Helper()
	c := n.Dial(t, gt.Token(t, user))
	for _, r := range rooms {
		c.Join(r)
	}
	return c
}

// expect reads c's next frame and fails unless it is event with data (as
// JSON: key order does not matter).
func expect(t testing.TB, c *gt.Client, event string, data any) {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	f := c.Next()
	if err := json.Unmarshal(f.Data, &got); err != nil || f.Event != event || !reflect.DeepEqual(got, want) {
		t.Fatalf("user %s got %s %s, want %s %s", c.Connected.UserID, f.Event, f.Data, event, b)
	}
}

// readyz returns GET /readyz's status code and the state of each part.
func readyz(t testing.TB, n node) (int, map[string]string) {
	t.Helper()
	resp, err := http.Get(n.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// waitCluster waits until /readyz shows the cluster part in state and a
// status code that agrees: 200 only when every part, the cluster among
// them, is up.
func waitCluster(t testing.TB, n node, timeout time.Duration, state string) {
	t.Helper()
	waitfor.Until(t, timeout, func() error {
		code, body := readyz(t, n)
		want := http.StatusOK
		for part, s := range body {
			if part != "status" && s != "up" {
				want = http.StatusServiceUnavailable
			}
		}
		if body["cluster"] != state || code != want {
			return fmt.Errorf("/readyz: %d %v, want cluster %q and %d", code, body, state, want)
		}
		return nil
	})
}

// closedPort is a loopback port nothing listens on, for now.
func closedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
