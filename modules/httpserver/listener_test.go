package httpserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/gamegate/gamegate/internal/waitfor"
)

// flaky is a real listener whose AcceptTCP first fails as scripted: each
// entry is an error to return, or nil to accept for real.
type flaky struct {
	*net.TCPListener
	script []error
}

func (f *flaky) AcceptTCP() (*net.TCPConn, error) {
	if len(f.script) == 0 {
		return f.TCPListener.AcceptTCP()
	}
	err := f.script[0]
	f.script = f.script[1:]
	if err == nil {
		return f.TCPListener.AcceptTCP()
	}
	return nil, err
}

// acceptErr is what accept4 returns when the process is out of descriptors.
func acceptErr(errno syscall.Errno) error {
	return &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", errno)}
}

func newFlaky(t *testing.T, script ...error) *flaky {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return &flaky{TCPListener: ln, script: script}
}

func dialTCP(t *testing.T, addr net.Addr) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
}

// A burst of accept errors is one line when it starts and one when
// accepting works again, however many errors it had.
func TestAcceptErrorsAreLoggedOncePerBurst(t *testing.T) {
	emfile, enfile := acceptErr(syscall.EMFILE), acceptErr(syscall.ENFILE)
	f := newFlaky(t, emfile, emfile, emfile, emfile, nil, enfile, enfile, nil)
	core, logs := observer.New(zap.DebugLevel)
	l := newListener(f, &connLimit{max: 10}, zap.New(core))
	dialTCP(t, f.Addr())
	dialTCP(t, f.Addr())
	for range 2 {
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	var got []string
	for _, e := range logs.All() {
		ctx := e.ContextMap()
		detail, ok := ctx["error"]
		if !ok {
			detail = ctx["failedAccepts"]
		}
		got = append(got, fmt.Sprint(e.Level, " ", e.Message, ": ", detail))
	}
	want := []string{
		"warn accept failing; backing off until it recovers: accept tcp: accept4: too many open files",
		"info accepting again: 4",
		"warn accept failing; backing off until it recovers: accept tcp: accept4: too many open files in system",
		"info accepting again: 2",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("logged\n%q\nwant\n%q", got, want)
	}
}

// Closing the listener ends an Accept that is backing off.
func TestCloseEndsAcceptBackoff(t *testing.T) {
	emfile := acceptErr(syscall.EMFILE)
	f := newFlaky(t, slices.Repeat([]error{emfile}, 1000)...)
	core, logs := observer.New(zap.DebugLevel)
	l := newListener(f, &connLimit{max: 10}, zap.New(core))
	done := make(chan error)
	go func() {
		_, err := l.Accept()
		done <- err
	}()
	waitfor.Until(t, 30*time.Second, func() error {
		if logs.Len() == 0 {
			return errors.New("no accept error yet")
		}
		return nil
	})
	_ = l.Close()
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

// An accepted connection counts until its first Close, and keeps what the
// gateway needs of a TCP connection.
func TestConnCountsOnceAndKeepsItsDescriptor(t *testing.T) {
	f := newFlaky(t)
	limit := &connLimit{max: 10}
	l := newListener(f, limit, zap.NewNop())
	dialTCP(t, f.Addr())
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Error("the connection lost CloseWrite")
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatal("the connection is no syscall.Conn")
	}
	if _, err := sc.SyscallConn(); err != nil {
		t.Fatal(err)
	}
	if open := limit.open.Load(); open != 1 {
		t.Fatalf("%d open", open)
	}
	_ = c.Close()
	_ = c.Close()
	if open := limit.open.Load(); open != 0 {
		t.Fatalf("%d open after closing twice, want 0", open)
	}
}
