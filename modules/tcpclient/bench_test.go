package tcpclient_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

// BenchmarkCall measures GetBalance round trips over one loopback link to
// the simulator, with callers pipelined on it; calls/s is the throughput.
func BenchmarkCall(b *testing.B) {
	for _, callers := range []int{1, 64, 1024} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			_, addr, _ := serveSim(b, "127.0.0.1:0", walletsim.Options{InitialBalance: 1000})
			c, err := tcpclient.New(testConfig(b, addr), zap.NewNop(), nil)
			if err != nil {
				b.Fatal(err)
			}
			c.Start()
			defer c.Close()
			waitUp(b, c)

			ctx := context.Background()
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ReportAllocs()
			b.ResetTimer()
			began := time.Now()
			for range callers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if _, err := c.GetBalance(ctx, "u1"); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "calls/s")
		})
	}
}
