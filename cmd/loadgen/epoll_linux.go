package main

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The epoll reader reads the clients the way the gateway parks its idle
// ones: their sockets wait in an epoll set, one per CPU, each read by one
// goroutine that takes whatever is ready — many sockets per wake-up — with
// no goroutine per client. A goroutine per client costs a wake-up of the
// runtime's netpoller, a goroutine switch and two reads per message (the
// second to find the socket empty): ~10 µs of CPU per delivery on a 2-CPU
// VM, more than the server spends writing it, so the tool measured itself.
// What no reader avoids is the ACK that reading a message sends, which on
// loopback also runs the server socket's receipt of it: ~2.6 µs of a
// delivery's ~6 when each message is read on its own (a steady fan-out),
// shared by several when a read takes several (flat out: ~2 µs in all).
//
// A socket leaves Go's netpoller when the set takes it (handOver): the
// runtime would otherwise be woken by every message as well, and the
// kernel would run both sets' callbacks in the writer's send. From then
// on it is a bare descriptor that only its loop reads and closes; the
// requester's writes and the loop's pongs share it under the connection's
// mutex, and events carry a token, never the descriptor.

const (
	epollReader   = true
	defaultReader = "epoll"
)

// readChunk is the read buffer of each loop, and how much a client's
// pending bytes grow by when a read ends inside a frame.
const readChunk = 64 << 10

// epollSet is a shard's epoll reader: a loop per CPU.
type epollSet struct {
	s     *Shard
	loops []*epollLoop
	next  atomic.Uint64
	wg    sync.WaitGroup
}

type epollLoop struct {
	set    *epollSet
	epfd   int
	ep     *os.File        // epfd, in Go's netpoller
	raw    syscall.RawConn // ep's, to wait on
	wakefd int             // an eventfd: written to stop the loop

	mu      sync.Mutex
	clients []*epollClient // by token − 1; nil once ended
}

type epollClient struct {
	c    *client
	conn *ownConn
	sock *fdSocket
}

// wakeToken is the eventfd's token; the clients' start at 1. A token is
// an index into a loop's clients, which fits in epoll_data's fd field.
const wakeToken = 0

func newEpollSet(s *Shard) (*epollSet, error) {
	set := &epollSet{s: s}
	for range runtime.GOMAXPROCS(0) {
		l, err := newEpollLoop(set)
		if err != nil {
			set.stop()
			return nil, err
		}
		set.loops = append(set.loops, l)
		set.wg.Go(l.run)
	}
	return set, nil
}

func newEpollLoop(set *epollSet) (*epollLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll reader: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("epoll reader: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeToken}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll reader: %w", err)
	}
	// Non-blocking, the descriptor goes to Go's netpoller; the file owns
	// it from here.
	var raw syscall.RawConn
	err = unix.SetNonblock(epfd, true)
	ep := os.NewFile(uintptr(epfd), "epoll")
	if err == nil {
		raw, err = ep.SyscallConn()
	}
	if err != nil {
		ep.Close()
		unix.Close(wakefd)
		return nil, fmt.Errorf("epoll reader: %w", err)
	}
	return &epollLoop{set: set, epfd: epfd, ep: ep, raw: raw, wakefd: wakefd}, nil
}

// add hands c's connected socket to a loop, the loops taking clients in
// turn. What the connect phase read ahead is handled first.
func (set *epollSet) add(c *client, conn *ownConn) error {
	sock, err := conn.handOver()
	if err != nil {
		return err
	}
	e := &epollClient{c: c, conn: conn, sock: sock}
	if err := set.handle(e, nil, time.Now()); err != nil {
		_ = conn.CloseNow()
		return err
	}
	l := set.loops[set.next.Add(1)%uint64(len(set.loops))]
	l.mu.Lock()
	l.clients = append(l.clients, e)
	token := int32(len(l.clients))
	l.mu.Unlock()
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: token}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, sock.fd, &ev); err != nil {
		l.mu.Lock()
		l.clients[token-1] = nil
		l.mu.Unlock()
		_ = conn.CloseNow()
		return fmt.Errorf("epoll reader: %w", err)
	}
	return nil
}

// handOver takes c's socket out of Go's netpoller: a duplicate of its
// descriptor (non-blocking, as the file it shares is) outlives the
// net.Conn, whose Close removes it from the runtime's epoll set.
func (c *ownConn) handOver() (*fdSocket, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.in.Buffered(); n > 0 {
		ahead, _ := c.in.Peek(n)
		c.pending = append(c.pending, ahead...)
	}
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return nil, errors.New("epoll reader: not a socket")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("epoll reader: %w", err)
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(s uintptr) { fd, dupErr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil || dupErr != nil {
		return nil, fmt.Errorf("epoll reader: %w", errors.Join(err, dupErr))
	}
	_ = c.nc.Close()
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("epoll reader: SO_TIMESTAMPNS: %w", err)
	}
	sock := &fdSocket{fd: fd}
	c.sock, c.nc, c.in = sock, nil, nil
	return sock, nil
}

// run reads until stop. The loop waits for its epoll set in Go's netpoller
// (an epoll descriptor is readable while it has events) and takes them
// with a wait that never blocks: an epoll_wait blocking in the goroutine
// would hold a P in a system call, which the runtime's sysmon then takes
// back every time, waking every 20 µs while any loop waits (a sixth of the
// tool's CPU, in a profile).
func (l *epollLoop) run() {
	events := make([]unix.EpollEvent, 256)
	buf, oob := make([]byte, readChunk), make([]byte, 64)
	for {
		var n int
		var err error
		rerr := l.raw.Read(func(uintptr) bool {
			n, err = unix.EpollWait(l.epfd, events, 0)
			return n != 0 || (err != nil && err != unix.EINTR)
		})
		if err = cmp.Or(rerr, err); err != nil {
			l.set.s.errs.note("epoll reader: " + err.Error())
			return
		}
		for i := range events[:n] {
			t := events[i].Fd
			if t == wakeToken {
				return
			}
			l.mu.Lock()
			e := l.clients[t-1]
			l.mu.Unlock()
			if e != nil {
				l.read(t, e, buf, oob)
			}
		}
	}
}

// read takes what e's socket holds: into the loop's buffer, or behind the
// client's pending bytes when a frame was cut. The socket is in the set
// edge-triggered, so it is read until a read does not fill its buffer (a
// stream socket returns all it holds, up to the buffer): a level-triggered
// set would look at every socket it returned once more at the next wait,
// to find it empty.
func (l *epollLoop) read(token int32, e *epollClient, buf, oob []byte) {
	c := e.conn
	for {
		dst := buf
		if len(c.pending) > 0 {
			c.pending = slices.Grow(c.pending, readChunk)
			dst = c.pending[len(c.pending):cap(c.pending)]
		}
		n, oobn, _, _, err := unix.Recvmsg(e.sock.fd, dst, oob, 0)
		switch {
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			continue
		case err != nil:
			l.end(token, e, err)
			return
		case n == 0:
			l.end(token, e, io.EOF)
			return
		}
		data := dst[:n]
		if len(c.pending) > 0 {
			data = c.pending[:len(c.pending)+n]
		}
		if err := l.set.handle(e, data, arrival(oob[:oobn])); err != nil {
			l.end(token, e, err)
			return
		}
		if n < len(dst) {
			return
		}
	}
}

// arrival is when the kernel received the last of the bytes a read
// returned, from its SO_TIMESTAMPNS message (on loopback: during the
// server's write); now if there is none. A loop that takes a few hundred
// sockets per wake-up would otherwise add its own order of reading to the
// latency of the last ones.
func arrival(oob []byte) time.Time {
	if len(oob) < unix.SizeofCmsghdr { // no message: x/sys would index past an empty buffer
		return time.Now()
	}
	h, data, _, err := unix.ParseOneSocketControlMessage(oob)
	if err != nil || h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS || len(data) < 16 {
		return time.Now()
	}
	return time.Unix(int64(binary.NativeEndian.Uint64(data)), int64(binary.NativeEndian.Uint64(data[8:])))
}

// handle handles the whole messages of data, or of e's pending bytes when
// data is nil, and keeps what is left of a frame cut by the read.
func (set *epollSet) handle(e *epollClient, data []byte, now time.Time) error {
	c := e.conn
	if data == nil {
		data = c.pending
	}
	off := 0
	for {
		msg, used, err := c.next(data[off:])
		off += used
		if err != nil {
			return err
		}
		if msg == nil {
			break
		}
		set.s.handle(e.c, msg, now)
	}
	c.pending = append(c.pending[:0], data[off:]...)
	if len(c.pending) == 0 && cap(c.pending) > readChunk {
		c.pending = nil // a large message's buffer goes with it
	}
	return nil
}

// end drops a client whose connection ended or broke.
func (l *epollLoop) end(token int32, e *epollClient, err error) {
	l.mu.Lock()
	l.clients[token-1] = nil
	l.mu.Unlock()
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, e.sock.fd, nil)
	_ = e.conn.CloseNow()
	l.set.s.lost(e.c, err)
}

// stop ends the loops and lets the clients still in them go: their
// connections are the shard's to close.
func (set *epollSet) stop() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	for _, l := range set.loops {
		_, _ = unix.Write(l.wakefd, one[:])
	}
	set.wg.Wait()
	for _, l := range set.loops {
		for _, e := range l.clients {
			if e != nil {
				close(e.c.done)
			}
		}
		l.ep.Close()
		unix.Close(l.wakefd)
	}
}

// fdSocket is a client's bare socket: non-blocking, outside the runtime's
// netpoller. Its descriptor is closed under the connection's mutex, and
// only once no loop reads it any more (by the loop itself, or after the
// loops stopped).
type fdSocket struct{ fd int }

// write writes all of b, waiting in poll(2) for room up to timeout.
func (s *fdSocket) write(b []byte, timeout time.Duration) error {
	if s.fd < 0 {
		return net.ErrClosed
	}
	deadline := time.Now().Add(timeout)
	for len(b) > 0 {
		n, err := unix.Write(s.fd, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == nil || err == unix.EINTR:
		case err == unix.EAGAIN:
			left := time.Until(deadline)
			if left <= 0 {
				return errors.New("write: timed out")
			}
			fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(fds, int(left.Milliseconds())+1); err != nil && err != unix.EINTR {
				return fmt.Errorf("write: %w", err)
			}
		default:
			return fmt.Errorf("write: %w", err)
		}
	}
	return nil
}

func (s *fdSocket) close() error {
	if s.fd < 0 {
		return nil
	}
	err := unix.Close(s.fd)
	s.fd = -1
	return err
}
