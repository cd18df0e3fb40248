package gateway_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// Every test stops its nodes; nothing the gateway started may outlive them.
// The test binary doubles as the benchmarks' client process.
func TestMain(m *testing.M) {
	if os.Getenv(gt.BenchClientsEnv) != "" {
		os.Exit(gt.RunBenchClients())
	}
	goleak.VerifyTestMain(m)
}
