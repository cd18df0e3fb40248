package cluster_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// Every test stops its nodes and NATS servers; nothing they started may
// outlive them. The test binary doubles as the benchmark's client process.
func TestMain(m *testing.M) {
	if os.Getenv(gt.BenchClientsEnv) != "" {
		os.Exit(gt.RunBenchClients())
	}
	goleak.VerifyTestMain(m)
}
