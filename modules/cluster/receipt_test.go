package cluster_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

type receiptAnswer struct {
	Recipients int
	Acked      []struct{ UserID, ClientID string }
	TimedOut   []struct{ UserID, ClientID string }
}

// broadcastWithReceipt posts a broadcast with a receipt to n in the
// background, and sends back the answer and how long it took.
func broadcastWithReceipt(t *testing.T, n node, room string, timeoutMs int) <-chan struct {
	answer receiptAnswer
	took   time.Duration
} {
	out := make(chan struct {
		answer receiptAnswer
		took   time.Duration
	}, 1)
	start := time.Now()
	body := `{"roomId":"` + room + `","message":"go","receipt":{"timeoutMs":` + strconvItoa(timeoutMs) + `}}`
	go func() {
		req, _ := http.NewRequest(http.MethodPost, n.URL+"/notifications/broadcast", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+gt.Token(t, "ops", "admin"))
		req.Header.Set("Content-Type", "application/json")
		var a receiptAnswer
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = json.NewDecoder(resp.Body).Decode(&a)
			resp.Body.Close()
		}
		out <- struct {
			answer receiptAnswer
			took   time.Duration
		}{a, time.Since(start)}
	}()
	return out
}

func strconvItoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// Receipts count recipients on every node, whichever node took the call:
// with everyone acking (a Socket.IO client through its ack callback) the
// answer comes at once; with one stalling, at the timeout, with the exact
// lists; a member whose node dies ends in timedOut. With JetStream's shared
// log and without it.
func TestReceiptsAcrossNodes(t *testing.T) {
	for _, jetStream := range []bool{false, true} {
		name := "core"
		if jetStream {
			name = "jetstream"
		}
		t.Run(name, func(t *testing.T) {
			var url string
			if jetStream {
				url = startJetStream(t, -1, t.TempDir()).ClientURL()
			} else {
				url = startNATS(t, -1).ClientURL()
			}
			nodes := startNodes(t, url, 3)
			a := dialJoin(t, nodes[0], "alice", "table")
			b := nodes[1].DialSocketIO(t, "bob")
			b.SendRaw(`42/game,1["joinRoom",{"roomId":"table"}]`)
			b.ExpectPacket(`43/game,1[{"roomId":"table"}]`)
			c := dialJoin(t, nodes[1], "carol", "table")
			waitPeers(t, nodes)

			done := broadcastWithReceipt(t, nodes[2], "table", 30_000)
			a.Send("ack", map[string]string{"ackId": a.Expect("notification").AckID}, nil)
			rest := b.ExpectPrefix(`42/game,`)
			id, _, _ := strings.Cut(rest, "[")
			b.SendRaw("43/game," + id + "[]")
			c.Send("ack", map[string]string{"ackId": c.Expect("notification").AckID}, nil)
			r := <-done
			if r.answer.Recipients != 3 || len(r.answer.Acked) != 3 || len(r.answer.TimedOut) != 0 || r.took > 10*time.Second {
				t.Fatalf("everyone acked: %+v after %v", r.answer, r.took)
			}

			// Carol stalls, and bob's node dies before he acks.
			done = broadcastWithReceipt(t, nodes[0], "table", 1500)
			a.Send("ack", map[string]string{"ackId": a.Expect("notification").AckID}, nil)
			c.Expect("notification")
			b.ExpectPrefix(`42/game,`)
			nodes[1].adapter.Sever()
			nodes[1].Stop(t)
			r = <-done
			if r.answer.Recipients != 3 || len(r.answer.Acked) != 1 || r.answer.Acked[0].UserID != "alice" || len(r.answer.TimedOut) != 2 {
				t.Fatalf("one acked: %+v", r.answer)
			}
			if r.took < 1500*time.Millisecond || r.took > 5*time.Second {
				t.Fatalf("answered after %v, for a timeout of 1.5 s", r.took)
			}
		})
	}
}

// waitPeers waits until every node knows every other, so that a receipt's
// sender waits for each.
func waitPeers(t *testing.T, nodes []node) {
	t.Helper()
	deadline := time.Now().Add(gt.Timeout)
	for _, n := range nodes {
		for n.adapter.Peers() < len(nodes)-1 {
			if time.Now().After(deadline) {
				t.Fatalf("a node knows %d peers of %d", n.adapter.Peers(), len(nodes)-1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}
