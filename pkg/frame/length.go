package frame

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// LengthPrefix is the wallet link's framing: a 4-byte big-endian length
// N, then N bytes of body, with 1 ≤ N ≤ max.
type LengthPrefix struct{}

const (
	headerLen = 4
	// readBufSize is the Reader's initial buffer: many small frames per read.
	readBufSize = 32 << 10
	// flushSize is how much a Writer buffers before it writes on its own.
	flushSize = 64 << 10
	// maxEmptyReads bounds the reads that return nothing, as bufio does, so
	// a broken io.Reader cannot spin a Reader forever.
	maxEmptyReads = 100
)

// NewReader returns a Reader of length-prefixed frames from r. Its buffer
// grows to the largest frame read, never beyond 4+max bytes: a length is
// checked against max before any allocation.
func (LengthPrefix) NewReader(r io.Reader, max int) Reader {
	max = clampMax(max)
	return &lengthReader{r: r, max: max, buf: make([]byte, min(readBufSize, headerLen+max))}
}

// NewWriter returns a Writer of length-prefixed frames to w.
func (LengthPrefix) NewWriter(w io.Writer, max int) Writer {
	return &lengthWriter{w: w, max: clampMax(max)}
}

// clampMax keeps max within what the 4-byte header can say.
func clampMax(max int) int {
	if max < 1 {
		panic(fmt.Sprintf("frame: max %d is not positive", max))
	}
	return int(min(uint64(max), math.MaxUint32))
}

type lengthReader struct {
	r   io.Reader
	max int
	// buf[start:end] is read but not yet returned.
	buf        []byte
	start, end int
	readErr    error // from r, returned once the buffered bytes run out
	err        error // sticky: the stream is over or corrupt
}

func (fr *lengthReader) ReadFrame() ([]byte, error) {
	if fr.err != nil {
		return nil, fr.err
	}
	if err := fr.fill(headerLen); err != nil {
		fr.err = err
		return nil, err
	}
	n := binary.BigEndian.Uint32(fr.buf[fr.start:])
	switch {
	case n == 0:
		fr.err = fmt.Errorf("%w: length 0", ErrEmptyFrame)
		return nil, fr.err
	case uint64(n) > uint64(fr.max):
		fr.err = fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, n, fr.max)
		return nil, fr.err
	}
	size := headerLen + int(n)
	if err := fr.fill(size); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		fr.err = err
		return nil, err
	}
	body := fr.buf[fr.start+headerLen : fr.start+size : fr.start+size]
	fr.start += size
	return body, nil
}

// fill reads until buf holds at least need unreturned bytes. It may move
// them, which is why a returned body lives only until the next ReadFrame.
func (fr *lengthReader) fill(need int) error {
	if fr.start == fr.end {
		fr.start, fr.end = 0, 0
	}
	if fr.start+need > len(fr.buf) {
		buf := fr.buf
		if need > len(buf) {
			buf = make([]byte, min(max(need, 2*len(buf)), headerLen+fr.max))
		}
		fr.end = copy(buf, fr.buf[fr.start:fr.end])
		fr.start, fr.buf = 0, buf
	}
	for empty := 0; fr.end-fr.start < need; {
		if fr.readErr != nil {
			if fr.readErr == io.EOF && fr.end > fr.start {
				return io.ErrUnexpectedEOF
			}
			return fr.readErr
		}
		n, err := fr.r.Read(fr.buf[fr.end:])
		fr.end += n
		fr.readErr = err
		if n == 0 && err == nil {
			if empty++; empty == maxEmptyReads {
				fr.readErr = io.ErrNoProgress
			}
		}
	}
	return nil
}

type lengthWriter struct {
	w   io.Writer
	max int
	buf []byte
	err error // sticky: a write failed
}

func (fw *lengthWriter) WriteFrame(p []byte) error {
	switch {
	case fw.err != nil:
		return fw.err
	case len(p) == 0:
		return ErrEmptyFrame
	case len(p) > fw.max:
		return fmt.Errorf("%w: length %d, limit %d", ErrFrameTooLarge, len(p), fw.max)
	}
	if len(fw.buf) > 0 && len(fw.buf)+headerLen+len(p) > flushSize {
		if err := fw.Flush(); err != nil {
			return err
		}
	}
	fw.buf = binary.BigEndian.AppendUint32(fw.buf, uint32(len(p)))
	fw.buf = append(fw.buf, p...)
	return nil
}

func (fw *lengthWriter) Flush() error {
	if fw.err != nil || len(fw.buf) == 0 {
		return fw.err
	}
	_, fw.err = fw.w.Write(fw.buf)
	fw.buf = fw.buf[:0]
	return fw.err
}
