package main

import (
	"cmp"
	"syscall"

	"golang.org/x/sys/unix"
)

// TCP states, as TCP_INFO gives them (include/net/tcp_states.h).
const (
	tcpEstablished = 1
	tcpClose       = 7
)

// serverEnded tells from the socket's TCP_INFO, without reading what waits
// in it, whether the server ended the connection: a reset leaves the socket
// CLOSE, a FIN CLOSE_WAIT.
func serverEnded(raw syscall.RawConn) (ended, reset bool, err error) {
	var info *unix.TCPInfo
	cerr := raw.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err = cmp.Or(cerr, err); err != nil {
		return false, false, err
	}
	return info.State != tcpEstablished, info.State == tcpClose, nil
}
