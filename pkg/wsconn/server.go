package wsconn

import (
	"fmt"
	"net"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is what a Server's connections share.
type Config struct {
	// MaxMessageBytes: a longer message, whole or in fragments, fails the
	// connection with 1009.
	MaxMessageBytes int64
	// MaxQueue is how many frames may wait for a peer before it is a slow
	// consumer.
	MaxQueue int
	// MaxQueueBytes bounds, in bytes, what waits for a peer: the frames
	// queued here and those the kernel holds unsent or unacknowledged.
	MaxQueueBytes int64
	// WriteTimeout: a write a peer does not take within it fails the
	// connection.
	WriteTimeout time.Duration
	// CloseTimeout is how long the peer has to answer the server's close
	// frame, and how long a closed connection is drained (default 5 s).
	CloseTimeout time.Duration
	// Writers write broadcasts' frames; connections that share a Fanout
	// must share them. Nil: the server's own.
	Writers *Writers
}

// Server makes and keeps connections: Upgrade turns a request into a Conn,
// and its connections share the writers and the idle poller.
type Server struct {
	cfg     Config
	poller  *poller
	readers atomic.Int64
}

// NewServer returns a server for cfg. Close it once every connection has
// ended.
func NewServer(cfg Config) (*Server, error) {
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = 5 * time.Second
	}
	if cfg.Writers == nil {
		cfg.Writers = new(Writers)
	}
	p, err := newPoller()
	if err != nil {
		return nil, fmt.Errorf("websocket: idle poller: %w", err)
	}
	return &Server{cfg: cfg, poller: p}, nil
}

// Readers is how many connections have a reader goroutine now: those not
// parked.
func (s *Server) Readers() int { return int(s.readers.Load()) }

// Close stops the idle poller.
func (s *Server) Close() { s.poller.stop() }

// newConn makes the connection of nc, whose first bytes from the peer are
// early followed by what nc reads.
func (s *Server) newConn(nc net.Conn, early []byte) *Conn {
	c := &Conn{srv: s, nc: nc, closeSent: make(chan struct{})}
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			c.raw = raw
			c.out.try = c.out.tryWrite
		}
	}
	c.out.conn, c.out.raw = nc, c.raw
	c.in.nc = nc
	c.in.seed(early)
	c.timer = time.AfterFunc(time.Hour, c.tick)
	c.timer.Stop()
	return c
}
