package frame_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/gamegate/gamegate/pkg/frame"
)

// Uint16 is the framing of a wallet whose header is a 2-byte big-endian
// length. The wallet client takes it instead of the default with
//
//	fx.Decorate(func(frame.Framing) frame.Framing { return Uint16{} })
type Uint16 struct{}

func (Uint16) NewReader(r io.Reader, max int) frame.Reader {
	return &uint16Reader{r: bufio.NewReader(r), max: min(max, math.MaxUint16)}
}

func (Uint16) NewWriter(w io.Writer, max int) frame.Writer {
	return &uint16Writer{w: bufio.NewWriter(w), max: min(max, math.MaxUint16)}
}

type uint16Reader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func (fr *uint16Reader) ReadFrame() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(fr.r, h[:]); err != nil {
		return nil, err // io.EOF between frames, io.ErrUnexpectedEOF inside one
	}
	n := int(binary.BigEndian.Uint16(h[:]))
	switch {
	case n == 0:
		return nil, frame.ErrEmptyFrame
	case n > fr.max:
		return nil, fmt.Errorf("%w: length %d", frame.ErrFrameTooLarge, n)
	}
	if cap(fr.buf) < n {
		fr.buf = make([]byte, n)
	}
	fr.buf = fr.buf[:n]
	if _, err := io.ReadFull(fr.r, fr.buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return fr.buf, nil
}

type uint16Writer struct {
	w   *bufio.Writer
	max int
}

func (fw *uint16Writer) WriteFrame(p []byte) error {
	switch {
	case len(p) == 0:
		return frame.ErrEmptyFrame
	case len(p) > fw.max:
		return fmt.Errorf("%w: length %d", frame.ErrFrameTooLarge, len(p))
	}
	_, _ = fw.w.Write(binary.BigEndian.AppendUint16(nil, uint16(len(p))))
	_, err := fw.w.Write(p)
	return err
}

func (fw *uint16Writer) Flush() error { return fw.w.Flush() }

func Example_anotherFraming() {
	var stream bytes.Buffer
	w := Uint16{}.NewWriter(&stream, 1<<20)
	_ = w.WriteFrame([]byte(`{"type":"ping","requestId":"1"}`))
	_ = w.Flush()
	fmt.Printf("% x ...\n", stream.Bytes()[:4])

	r := Uint16{}.NewReader(&stream, 1<<20)
	body, err := r.ReadFrame()
	fmt.Printf("%s %v\n", body, err)
	_, err = r.ReadFrame()
	fmt.Println(err)
	// Output:
	// 00 1f 7b 22 ...
	// {"type":"ping","requestId":"1"} <nil>
	// EOF
}
