package gateway_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Every test stops its nodes; nothing the gateway started may outlive them.
// The test binary doubles as the benchmark's client process (see
// runBenchClients).
func TestMain(m *testing.M) {
	if os.Getenv(benchClientsEnv) != "" {
		os.Exit(runBenchClients())
	}
	goleak.VerifyTestMain(m)
}
