package wsconn

import (
	"errors"
	"fmt"
)

// CloseError says how a connection's close handshake went: the code and
// reason of the close frame the peer sent (Remote), or of the one the server
// sent when it failed the connection for breaking the protocol.
type CloseError struct {
	Code   StatusCode
	Reason string
	Remote bool
}

func (e *CloseError) Error() string {
	who := "server"
	if e.Remote {
		who = "peer"
	}
	if e.Code == StatusNoStatus {
		return "websocket: closed by " + who
	}
	return fmt.Sprintf("websocket: closed by %s: %d %s", who, e.Code, e.Reason)
}

func protocolError(reason string) error {
	return &CloseError{Code: StatusProtocolError, Reason: reason}
}

// Errors a connection ends with, besides the socket's own.
var (
	// ErrCloseTimeout: the peer did not answer the server's close frame in
	// time.
	ErrCloseTimeout = errors.New("websocket: no answer to the close frame")
	// ErrAborted: the server cut the connection (Conn.Abort).
	ErrAborted = errors.New("websocket: connection aborted")
	// ErrSlowConsumer: what waited for the peer passed the queue's bounds.
	ErrSlowConsumer = errors.New("websocket: slow consumer")
)

// errQuiet ends a reader's wait for a peer that has gone quiet, so that it
// parks.
var errQuiet = errors.New("websocket: peer quiet")
