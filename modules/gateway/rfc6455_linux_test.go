package gateway_test

import "syscall"

// rfcReadBuffer, when not 0, is the receive buffer of a client that backs
// the server's writes up. On Linux the kernel's default stays: with a
// smaller one, such a client that went on writing was seen to drop the
// server's packets, its buffer full, and its own writes then stalled for
// seconds in retransmission back-off.
const rfcReadBuffer = 0

// tuneBackedUpSocket makes that client announce small TCP segments (its
// MSS) before it connects. The server's kernel sizes its send buffer in
// segments: with loopback's 64 KiB ones it holds about 4 MiB towards a
// client that does not read, with these under 1 MiB, and a backlog beyond
// that costs far less (under -race every byte the server copies counts).
func tuneBackedUpSocket(fd uintptr) error {
	return syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 1024)
}
