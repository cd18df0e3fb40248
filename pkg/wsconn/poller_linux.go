package wsconn

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller holds the connections that have nothing to read without a
// goroutine each. An idle connection's reader goroutine would be a third of
// its memory (its stack, which the runtime does not shrink once grown);
// instead, each idle socket waits in one epoll set, armed one-shot and
// level-triggered, and the poller's single goroutine starts a reader for it
// when data arrives.
//
// Every epoll_ctl runs inside the connection's RawConn.Control, which keeps
// the descriptor from being closed (and its number reused) meanwhile; a
// closed descriptor leaves the set by itself. Events name a token, never a
// descriptor or a pointer, so a late event for a connection that has gone
// finds nothing.
type poller struct {
	epfd   int
	wakefd int // an eventfd: written to stop the poller

	start   sync.Once
	stopped chan struct{}
	next    atomic.Uint64
	mu      sync.Mutex
	conns   map[uint64]*Conn
}

// wakeToken is the eventfd's token; connections' tokens start at 1.
const wakeToken = 0

func newPoller() (*poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	setToken(&ev, wakeToken)
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, err
	}
	return &poller{epfd: epfd, wakefd: wakefd, stopped: make(chan struct{}), conns: make(map[uint64]*Conn)}, nil
}

// setToken and eventToken keep a uint64 in the 8 bytes of epoll_data.
func setToken(ev *unix.EpollEvent, t uint64) {
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], t)
	ev.Fd = int32(binary.NativeEndian.Uint32(b[:4]))
	ev.Pad = int32(binary.NativeEndian.Uint32(b[4:]))
}

func eventToken(ev *unix.EpollEvent) uint64 {
	var b [8]byte
	binary.NativeEndian.PutUint32(b[:4], uint32(ev.Fd))
	binary.NativeEndian.PutUint32(b[4:], uint32(ev.Pad))
	return binary.NativeEndian.Uint64(b[:])
}

// park hands c, whose reader has nothing buffered, to the poller. It reports
// false if c cannot wait there; the caller then goes on reading. On true the
// caller must return: another goroutine may be reading c already.
func (p *poller) park(c *Conn) bool {
	if c.raw == nil {
		return false
	}
	p.start.Do(func() { go p.run() })
	op := unix.EPOLL_CTL_MOD
	if c.token == 0 {
		c.token = p.next.Add(1)
		p.mu.Lock()
		p.conns[c.token] = c
		p.mu.Unlock()
		op = unix.EPOLL_CTL_ADD
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT}
	setToken(&ev, c.token)
	c.parked.Store(true) // before arming: the event may come at once
	var ctlErr error
	err := c.raw.Control(func(fd uintptr) { ctlErr = unix.EpollCtl(p.epfd, op, int(fd), &ev) })
	if err == nil && ctlErr == nil {
		return true
	}
	// The connection is closing: read on, to see the end. Unless a wake
	// came first and another reader has it already.
	return !c.parked.CompareAndSwap(true, false)
}

// forget drops c's token once its connection has ended.
func (p *poller) forget(c *Conn) {
	if c.token == 0 {
		return
	}
	p.mu.Lock()
	delete(p.conns, c.token)
	p.mu.Unlock()
}

func (p *poller) run() {
	defer close(p.stopped)
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for i := range events[:n] {
			t := eventToken(&events[i])
			if t == wakeToken {
				return
			}
			p.mu.Lock()
			c := p.conns[t]
			p.mu.Unlock()
			if c != nil {
				c.unpark()
			}
		}
	}
}

// stop ends the poller's goroutine, once every connection has ended.
func (p *poller) stop() {
	started := true
	p.start.Do(func() { started = false })
	if started {
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		_, _ = unix.Write(p.wakefd, one[:])
		<-p.stopped
	}
	unix.Close(p.epfd)
	unix.Close(p.wakefd)
}

// unsentBytes is how many bytes the kernel holds for the peer of raw: sent
// and not yet acknowledged, or not sent yet (SIOCOUTQ).
func unsentBytes(raw syscall.RawConn) int {
	if raw == nil {
		return 0
	}
	n := 0
	_ = raw.Control(func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), unix.SIOCOUTQ); err == nil {
			n = v
		}
	})
	return n
}
