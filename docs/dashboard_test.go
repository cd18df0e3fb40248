package docs_test

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/internal/waitfor"
)

// The Grafana dashboard asks only for metrics the gateway exports. They are
// read from the /metrics of a clustered node with its wallet, once a client
// has connected, sent a message, asked its balance and got a broadcast, so
// that the labelled series exist, and each name the dashboard's queries use
// must be one of them (a histogram's _bucket, _sum and _count included).
func TestDashboardUsesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dashboard any
	if err := json.Unmarshal(b, &dashboard); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	used := map[string]bool{}
	metric := regexp.MustCompile(`\b(?:gamegate|go|process)_[a-zA-Z0-9_:]*`)
	for _, q := range queries(dashboard) {
		for _, name := range metric.FindAllString(q, -1) {
			used[name] = true
		}
	}
	if len(used) < 15 {
		t.Fatalf("the dashboard's queries name %d metrics: %v", len(used), used)
	}

	exported := exportedMetrics(t)
	for name := range used {
		if !exported[name] {
			t.Errorf("the dashboard asks for %s, which the gateway does not export", name)
		}
	}
}

// queries are the PromQL strings of a dashboard: its panels' expressions
// and its variables' queries.
func queries(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
				out = append(out, s)
				continue
			}
			out = append(out, queries(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, queries(x)...)
		}
	}
	return out
}

// exportedMetrics are the series names a clustered node exports once it
// has served a little of everything.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	nats, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true, JetStream: true, StoreDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	nats.Start()
	t.Cleanup(func() { nats.Shutdown(); nats.WaitForShutdown() })
	if !nats.ReadyForConnections(gt.Timeout) {
		t.Fatal("NATS server not ready")
	}
	cfg := gt.Config()
	cfg.Cluster.NATSURL = nats.ClientURL()
	cfg.Wallet.Simulator, cfg.Wallet.Port = true, gt.FreePort(t)
	n := gt.Start(t, cfg)
	waitfor.Until(t, gt.Timeout, func() error { return expectStatus(n.URL+"/readyz", http.StatusOK) })

	c := n.Dial(t, gt.Token(t, "alice"))
	c.Join("lobby")
	c.Send("getBalance", nil, 1)
	c.Expect("balance")
	postAsAdmin(t, n.URL+"/notifications/broadcast", `{"roomId":"lobby","message":1}`)
	c.Expect("notification")

	resp, err := http.Get(n.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		if slices.Contains([]string{"HISTOGRAM", "SUMMARY"}, f.GetType().String()) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}
