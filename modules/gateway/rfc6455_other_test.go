//go:build !linux

package gateway_test

// rfcReadBuffer is the receive buffer of a client that backs the server's
// writes up: small, so that the server's replies pile up on the server's
// side rather than in the client's kernel, and not smaller: a window under
// one of loopback's large segments lets a few kilobytes through per
// delayed ACK.
const rfcReadBuffer = 64 << 10

// tuneBackedUpSocket leaves the socket as it is: the server's kernel holds
// megabytes towards a client that does not read, and the backlog, sized
// after it, costs more.
func tuneBackedUpSocket(uintptr) error { return nil }
