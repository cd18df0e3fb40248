package httpserver_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test stops its nodes and closes its connections; nothing may
// outlive them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
