//go:build !linux

package wsconn

import "syscall"

// poller is Linux's (epoll). Elsewhere every connection keeps its reader
// goroutine: park always declines.
type poller struct{}

func newPoller() (*poller, error) { return &poller{}, nil }

func (*poller) park(*Conn) bool { return false }
func (*poller) forget(*Conn)    {}
func (*poller) stop()           {}

// unsentBytes is not known here: only the frames queued count.
func unsentBytes(syscall.RawConn) int { return 0 }
