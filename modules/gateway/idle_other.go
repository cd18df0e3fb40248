//go:build !linux

package gateway

// idlePoller is Linux's (epoll). Elsewhere every connection keeps its
// reader goroutine: park always declines.
type idlePoller struct{}

func newIdlePoller() (*idlePoller, error) { return nil, nil }

func (*idlePoller) park(*Client) bool { return false }
func (*idlePoller) forget(*Client)    {}
func (*idlePoller) stop()             {}
