// Package frame splits a byte stream into frames and joins frames into a
// byte stream. The wire format is pluggable through Framing; LengthPrefix is
// the wallet link's: a 4-byte big-endian length N, then N bytes.
package frame

import (
	"errors"
	"io"
)

// Errors for a frame the format or the limit forbids, wrapped with details.
// From a Reader they mean the stream can no longer be trusted, and the Reader
// keeps returning them; a Writer that refuses a frame has written nothing.
var (
	ErrEmptyFrame    = errors.New("frame: empty frame")
	ErrFrameTooLarge = errors.New("frame: frame too large")
)

// Reader reads frames from a byte stream.
type Reader interface {
	// ReadFrame returns the body of the next frame. The slice aliases the
	// Reader's buffer: it is valid only until the next call to ReadFrame,
	// so a caller that keeps it must copy it.
	//
	// At the end of the stream ReadFrame returns io.EOF if the stream ended
	// between frames and io.ErrUnexpectedEOF if it ended inside one.
	ReadFrame() ([]byte, error)
}

// Writer writes frames to a byte stream. It buffers like bufio.Writer, so
// that many frames can leave in one write: nothing is sure to reach the
// stream before Flush. It is not safe for concurrent use; Queue is.
type Writer interface {
	// WriteFrame buffers p as one frame. It copies p, so the caller may
	// reuse p as soon as it returns.
	WriteFrame(p []byte) error
	// Flush writes the buffered frames to the stream.
	Flush() error
}

// Framing makes Readers and Writers for one wire format. max is the largest
// body, in bytes, a frame may carry; it must be positive.
type Framing interface {
	NewReader(r io.Reader, max int) Reader
	NewWriter(w io.Writer, max int) Writer
}
