//go:build !linux

package main

import (
	"cmp"
	"syscall"
)

// serverEnded tells from the socket's pending error, without reading what
// waits in it, whether the server reset the connection. (A FIN shows only
// in Linux's TCP_INFO: here a connection the server closed without a reset
// looks open.)
func serverEnded(raw syscall.RawConn) (ended, reset bool, err error) {
	var soErr int
	cerr := raw.Control(func(fd uintptr) {
		soErr, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_ERROR)
	})
	if err = cmp.Or(cerr, err); err != nil {
		return false, false, err
	}
	return soErr != 0, soErr == int(syscall.ECONNRESET), nil
}
