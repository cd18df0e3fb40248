package sessions_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// BenchmarkRoomMembers is GET /rooms/:roomId/members for a room of 10,000
// users, over real HTTP: answered from the node's memory, with no NATS
// request. The users stand on another node (as the cluster reports them),
// so no socket is needed. It reports the p99 of the requests.
func BenchmarkRoomMembers(b *testing.B) {
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	n := gt.Start(b, cfg)
	for i := range 10_000 {
		n.Hub.PresenceOn("node-2", "arena", fmt.Sprintf("player-%05d", i), 1+i%3)
	}
	req, _ := http.NewRequest(http.MethodGet, n.URL+"/rooms/arena/members", nil)
	req.Header.Set("Authorization", "Bearer "+gt.Token(b, "ops", "admin"))
	client := &http.Client{Transport: &http.Transport{}}
	var took []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
