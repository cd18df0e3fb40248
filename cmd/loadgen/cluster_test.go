package main

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/config"
)

// A room spread over the two nodes of a cluster: half the clients on each,
// every broadcast posted to node A, and each member gets each one once.
// The nodes and the NATS server run in this process, whose pid stands for
// both servers' and the broker's.
func TestFanoutCluster(t *testing.T) {
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("NATS server not ready")
	}
	var nodes []*gt.Node
	for i := range 2 {
		nodes = append(nodes, startNode(t, func(cfg *config.Config) {
			cfg.Cluster.NATSURL = ns.ClientURL()
			cfg.Wallet.NodeID = fmt.Sprint("loadgen-node-", i)
		}))
	}
	for _, proto := range []string{"contract", "socketio"} {
		t.Run(proto, func(t *testing.T) {
			o := DefaultFanout()
			o.Common = common(t, nodes[0], 20)
			o.OtherURLs, o.Proto = []string{nodes[1].URL}, proto
			o.UserPrefix, o.RoomPrefix = proto+"-", proto+"-"
			o.ServerPIDs, o.BrokerPID = []int{os.Getpid(), os.Getpid()}, os.Getpid()
			o.Messages, o.CheckClients = 20, 4
			// Node B hears of a room about a NATS round trip after its
			// joinedRoom: warm-up broadcasts go after that.
			o.Settle = 200 * time.Millisecond
			r, err := runFanout(ctxFor(t), o)
			if err != nil {
				t.Fatal(err)
			}
			checkConnected(t, r, 20)
			f := r.Fanout
			if f.Expected != 400 || f.Received != 400 || f.Lost != 0 || f.Duplicates != 0 || !r.OK {
				t.Errorf("fanout %+v, warnings %v: want 400 deliveries, once each", f, r.Warnings)
			}
			if c := r.CPU; c == nil || c.Server == nil || len(c.Servers) != 2 || c.Broker == nil {
				t.Errorf("cpu %+v: want both servers and the broker", c)
			}
			if m := r.Memory; m == nil || m.BrokerMB <= 0 || m.Source != fmt.Sprintf("/proc/%d + /proc/%d", os.Getpid(), os.Getpid()) {
				t.Errorf("memory %+v: want both servers' RSS and the broker's", m)
			}
			if len(r.OtherURLs) != 1 {
				t.Errorf("report names the nodes %q %q", r.URL, r.OtherURLs)
			}
		})
	}
}
