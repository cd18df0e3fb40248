package cluster_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// BenchmarkRecoverAtOnce measures 10,000 members of one room, on one node
// following the shared log (JetStream), losing their connections together
// and reconnecting together with their sessions while 10 broadcasts went
// by. resume-ms runs from the first reconnect until the last member has
// been told it recovered and has read its 10 missed frames; jetstream-api/op
// counts the JetStream API requests meanwhile (the sessions were this
// node's, found in its memory; one another node held would cost a read of
// the sessions bucket); room-log-consumers, the consumers reading the
// rooms' log at the end: the node reads it once, as it goes, and a recovery
// reads the node's memory, not the log.
func BenchmarkRecoverAtOnce(b *testing.B) {
	const members, missed = 10_000, 10
	srv := startJetStream(b, -1, b.TempDir())
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	cfg.Cluster.NATSURL = srv.ClientURL()
	n := startNode(b, cfg)
	clients := gt.StartBenchClients(b, members, "arena", gt.Token(b, "bench"), n.WSURL())
	payload := map[string]any{"seq": 1, "text": "a typical game event of about one hundred bytes, all told"}
	broadcast := func() {
		if err := n.Emitter.ToRoom(b.Context(), "arena", "notification", payload); err != nil {
			b.Fatal(err)
		}
	}
	broadcast() // every member has an offset to resume from
	clients.Wait(b)
	var resume time.Duration
	api := jetStreamAPI(b, srv)
	for b.Loop() {
		clients.Drop(b)
		waitfor.Until(b, gt.Timeout, func() error {
			if got := n.Hub.Clients(); got != 0 {
				return fmt.Errorf("%d clients still connected", got)
			}
			return nil
		})
		for range missed {
			broadcast()
		}
		resume += clients.Resume(b, missed)
	}
	b.ReportMetric(float64(resume.Microseconds())/1e3/float64(b.N), "resume-ms")
	b.ReportMetric(float64(jetStreamAPI(b, srv)-api)/float64(b.N), "jetstream-api/op")
	b.ReportMetric(float64(roomLogConsumers(b, srv)), "room-log-consumers")
}

// jetStreamAPI is how many JetStream API requests s has served.
func jetStreamAPI(b *testing.B, s *server.Server) uint64 {
	info, err := s.Jsz(nil)
	if err != nil {
		b.Fatal(err)
	}
	return info.API.Total
}

// roomLogConsumers counts the consumers of the rooms' log.
func roomLogConsumers(b *testing.B, s *server.Server) int {
	info, err := s.Jsz(&server.JSzOptions{Accounts: true, Streams: true, Consumer: true})
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, acc := range info.AccountDetails {
		for _, st := range acc.Streams {
			if st.Name == "GAMEGATE_ROOMS" {
				n += len(st.Consumer)
			}
		}
	}
	return n
}
