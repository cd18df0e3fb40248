package httpserver

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
)

// Hostile networks: connections that hold a descriptor and send nothing
// useful must not exhaust the process's open files, which would take
// /healthz and /readyz down with everything else. net/http's timeouts (set
// in New) close slow requests; the cap here bounds how many connections are
// open at once; the listener rides out the accept errors of a full
// descriptor table.

// overCapGrace is how long a connection accepted over the cap may live,
// whatever deadlines net/http sets: long enough for a health check's
// request and answer, short enough that a flood beyond the cap holds few
// descriptors.
const overCapGrace = 2 * time.Second

// connLimit counts open connections against the cap.
type connLimit struct {
	max      int64
	open     atomic.Int64
	rejected atomic.Uint64
}

// admit counts a new connection and reports whether it is within the cap.
func (l *connLimit) admit() bool {
	if l.open.Add(1) <= l.max {
		return true
	}
	l.rejected.Add(1)
	return false
}

// defaultMaxConnections is the cap when http.maxConnections is 0: the
// open-file limit (Go raises the soft limit to the hard one as the process
// starts) less a reserve, for the process's own descriptors (listener,
// pollers, the wallet link, NATS, logs) and for the connections accepted
// over the cap, which hold one each for up to overCapGrace. The reserve is a
// tenth of the limit, at least 64 and at most half of it.
func defaultMaxConnections() (int64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("reading the open-file limit: %w", err)
	}
	n := int64(min(rl.Cur, math.MaxInt64))
	return n - min(max(n/10, 64), n/2), nil
}

type overCapKey struct{}

// markOverCap tells atCap, through the request's context, which connections
// were accepted over the cap.
func markOverCap(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := nc.(*conn); ok && c.overCap() {
		return context.WithValue(ctx, overCapKey{}, true)
	}
	return ctx
}

// servedAtCap are the paths a connection over the cap may still GET:
// orchestrators and monitoring must see the node when it is full.
var servedAtCap = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

// atCap answers the other requests of a connection accepted over the cap
// with 503. Either way that connection closes after its first response.
func atCap(limit *connLimit) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.Context().Value(overCapKey{}) == nil {
				return next(c)
			}
			c.Response().Header().Set(echo.HeaderConnection, "close")
			if req.Method == http.MethodGet && servedAtCap[req.URL.Path] {
				return next(c)
			}
			return echo.NewHTTPError(http.StatusServiceUnavailable, fmt.Sprintf(
				"too many connections: this node is at its limit of %d (http.maxConnections); try again later", limit.max))
		}
	}
}
