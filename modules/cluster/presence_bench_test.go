package cluster_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// BenchmarkPresenceTraffic counts what presence puts on NATS: 100 users on
// node 1 of 2 each join a room, then each leave it; a subscriber to every
// node's presence subject counts the messages that carry counts (not the
// nodes' beats, one a second each) and their bytes. NATS delivers each to
// every other node: the traffic out of the broker is that times the nodes
// less one.
func BenchmarkPresenceTraffic(b *testing.B) {
	const users = 100
	srv := startNATS(b, -1)
	nodes := startNodes(b, srv.ClientURL(), 2)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	var msgs, bytes atomic.Int64
	sub, err := nc.Subscribe("gamegate.presence.>", func(m *nats.Msg) {
		var p struct {
			Counts []json.RawMessage `json:"counts"`
		}
		if json.Unmarshal(m.Data, &p) == nil && len(p.Counts) > 0 {
			msgs.Add(1)
			bytes.Add(int64(len(m.Subject) + len(m.Data)))
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = sub.Unsubscribe() })
	clients := make([]*gt.Client, users)
	for i := range clients {
		clients[i] = nodes[0].Dial(b, gt.Token(b, "u"+strconv.Itoa(i)))
	}
	if err := nc.Flush(); err != nil {
		b.Fatal(err)
	}
	// phase waits until the subscriber has seen want count messages since
	// base, and returns their bytes.
	phase := func(base, baseBytes, want int64) int64 {
		waitfor.Until(b, gt.Timeout, func() error {
			if got := msgs.Load() - base; got < want {
				return fmt.Errorf("%d presence messages of %d", got, want)
			}
			return nil
		})
		return bytes.Load() - baseBytes
	}
	var joinMsgs, joinBytes, leaveMsgs, leaveBytes int64
	rooms := 0
	for b.Loop() {
		rooms++
		room := "room-" + strconv.Itoa(rooms)
		m0, b0 := msgs.Load(), bytes.Load()
		for _, c := range clients {
			c.Join(room)
		}
		joinBytes += phase(m0, b0, users)
		joinMsgs += msgs.Load() - m0
		m1, b1 := msgs.Load(), bytes.Load()
		for _, c := range clients {
			c.Send("leaveRoom", map[string]string{"roomId": room}, nil)
			c.Expect("leftRoom")
		}
		leaveBytes += phase(m1, b1, users)
		leaveMsgs += msgs.Load() - m1
	}
	per := float64(b.N * users)
	b.ReportMetric(float64(joinMsgs)/per, "msgs/join")
	b.ReportMetric(float64(joinBytes)/per, "bytes/join")
	b.ReportMetric(float64(leaveMsgs)/per, "msgs/leave")
	b.ReportMetric(float64(leaveBytes)/per, "bytes/leave")
}
