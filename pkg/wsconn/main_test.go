package wsconn

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test ends its connections and servers: no reader, writer or poller
// may outlive it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
