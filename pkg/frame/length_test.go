package frame

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

// stream joins bodies as length-prefixed frames.
func stream(t testing.TB, bodies ...string) []byte {
	t.Helper()
	var out bytes.Buffer
	w := LengthPrefix{}.NewWriter(&out, math.MaxInt32)
	for _, b := range bodies {
		if err := w.WriteFrame([]byte(b)); err != nil {
			t.Fatalf("WriteFrame(%q): %v", b, err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func header(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }

// readAll reads frames until an error, copying each since a body only lives
// until the next ReadFrame.
func readAll(r Reader) ([]string, error) {
	var got []string
	for {
		b, err := r.ReadFrame()
		if err != nil {
			return got, err
		}
		got = append(got, string(b))
	}
}

func TestReader(t *testing.T) {
	big := strings.Repeat("x", 100_000)
	tests := []struct {
		name    string
		in      io.Reader
		max     int
		want    []string
		wantErr error
	}{
		{"one frame", bytes.NewReader(stream(t, `{"a":1}`)), 64, []string{`{"a":1}`}, io.EOF},
		{"sticky frames in one read", bytes.NewReader(stream(t, "a", "bb", "ccc")), 64, []string{"a", "bb", "ccc"}, io.EOF},
		{"split byte by byte", iotest.OneByteReader(bytes.NewReader(stream(t, "hello", "world"))), 64, []string{"hello", "world"}, io.EOF},
		{"frame larger than the initial buffer", iotest.HalfReader(bytes.NewReader(stream(t, "a", big, "b"))), 1 << 20, []string{"a", big, "b"}, io.EOF},
		{"frame of exactly max", bytes.NewReader(stream(t, "1234")), 4, []string{"1234"}, io.EOF},
		{"empty stream", bytes.NewReader(nil), 64, nil, io.EOF},
		{"cut in the header", bytes.NewReader(stream(t, "ok", "cut")[:8]), 64, []string{"ok"}, io.ErrUnexpectedEOF},
		{"cut in the body", bytes.NewReader(stream(t, "ok", "cut")[:12]), 64, []string{"ok"}, io.ErrUnexpectedEOF},
		{"length 0", bytes.NewReader(append(stream(t, "ok"), header(0)...)), 64, []string{"ok"}, ErrEmptyFrame},
		{"one over max", bytes.NewReader(stream(t, "12345")), 4, nil, ErrFrameTooLarge},
		{"length 2^31", bytes.NewReader(header(1 << 31)), 1 << 20, nil, ErrFrameTooLarge},
		{"read error", iotest.TimeoutReader(bytes.NewReader(stream(t, "a", "b"))), 64, []string{"a", "b"}, iotest.ErrTimeout},
		{"reader making no progress", iotest.OneByteReader(&emptyReader{}), 64, nil, io.ErrNoProgress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := LengthPrefix{}.NewReader(tt.in, tt.max)
			got, err := readAll(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("frames = %.40q, want %.40q", got, tt.want)
			}
			if _, again := r.ReadFrame(); !errors.Is(again, tt.wantErr) {
				t.Errorf("second error = %v, want %v again", again, tt.wantErr)
			}
		})
	}
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }

func TestReaderChecksLengthBeforeAllocating(t *testing.T) {
	r := LengthPrefix{}.NewReader(bytes.NewReader(header(1<<31)), 1<<20).(*lengthReader)
	before := cap(r.buf)
	if _, err := r.ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("error = %v, want ErrFrameTooLarge", err)
	}
	if cap(r.buf) != before {
		t.Errorf("buffer grew from %d to %d bytes for a refused frame", before, cap(r.buf))
	}
}

func TestReaderReusesItsBuffer(t *testing.T) {
	data := stream(t, "first", "second")
	r := LengthPrefix{}.NewReader(iotest.OneByteReader(bytes.NewReader(data)), 64)
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := readAll(r); err != io.EOF {
			t.Fatal(err)
		}
	})
	// readAll's own slice and strings; the Reader adds nothing.
	if allocs > 5 {
		t.Errorf("%v allocations to read 2 frames", allocs)
	}
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := LengthPrefix{}.NewWriter(&out, 4)
	if err := w.WriteFrame(nil); !errors.Is(err, ErrEmptyFrame) {
		t.Errorf("empty frame: error = %v, want ErrEmptyFrame", err)
	}
	if err := w.WriteFrame([]byte("12345")); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("frame over max: error = %v, want ErrFrameTooLarge", err)
	}
	p := []byte("ab")
	if err := w.WriteFrame(p); err != nil {
		t.Fatal(err)
	}
	copy(p, "zz") // WriteFrame copied p.
	if out.Len() != 0 {
		t.Errorf("wrote %d bytes before Flush", out.Len())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := "\x00\x00\x00\x02ab"; out.String() != want {
		t.Errorf("stream = %q, want %q", out.String(), want)
	}
}

func TestWriterFlushesLargeBatchesByItself(t *testing.T) {
	var out bytes.Buffer
	w := LengthPrefix{}.NewWriter(&out, flushSize)
	body := bytes.Repeat([]byte("x"), flushSize/2)
	for range 3 {
		if err := w.WriteFrame(body); err != nil {
			t.Fatal(err)
		}
	}
	if out.Len() == 0 {
		t.Error("buffered more than flushSize without writing")
	}
}

func TestWriterErrorIsSticky(t *testing.T) {
	w := LengthPrefix{}.NewWriter(failWriter{}, 64)
	_ = w.WriteFrame([]byte("a"))
	if err := w.Flush(); !errors.Is(err, errBroken) {
		t.Fatalf("Flush error = %v, want %v", err, errBroken)
	}
	if err := w.WriteFrame([]byte("b")); !errors.Is(err, errBroken) {
		t.Errorf("WriteFrame after a failed write = %v, want %v", err, errBroken)
	}
}

var errBroken = errors.New("broken pipe")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errBroken }

// chunkReader returns data in reads whose sizes cycle through cuts.
type chunkReader struct {
	data []byte
	cuts []byte
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	size := len(c.data)
	if len(c.cuts) > 0 {
		size = int(c.cuts[c.n%len(c.cuts)]) + 1
		c.n++
	}
	n := copy(p, c.data[:min(size, len(c.data))])
	c.data = c.data[n:]
	return n, nil
}

// FuzzReader feeds arbitrary bytes: no input may panic, make a frame outside
// 1..max, or grow the buffer beyond one frame, and the frames must not
// depend on how the input is split into reads.
func FuzzReader(f *testing.F) {
	f.Add(stream(f, "a", `{"type":"ping"}`, "ccc"), []byte{0, 3, 1}, uint16(64))
	f.Add(stream(f, "x"), []byte{}, uint16(1))
	f.Add(header(1<<31), []byte{1}, uint16(1024))
	f.Add(append(stream(f, "ok"), header(0)...), []byte{2}, uint16(8))
	f.Fuzz(func(t *testing.T, data, cuts []byte, max16 uint16) {
		max := int(max16) + 1
		whole, wholeErr := readAll(LengthPrefix{}.NewReader(bytes.NewReader(data), max))
		r := LengthPrefix{}.NewReader(&chunkReader{data: data, cuts: cuts}, max).(*lengthReader)
		split, splitErr := readAll(r)
		if strings.Join(whole, "\x00") != strings.Join(split, "\x00") || len(whole) != len(split) {
			t.Fatalf("split reads gave %d frames, one read %d", len(split), len(whole))
		}
		if wholeErr.Error() != splitErr.Error() {
			t.Fatalf("split reads ended with %v, one read with %v", splitErr, wholeErr)
		}
		for _, b := range split {
			if len(b) < 1 || len(b) > max {
				t.Fatalf("frame of %d bytes, limit %d", len(b), max)
			}
		}
		if cap(r.buf) > headerLen+max {
			t.Fatalf("buffer of %d bytes for frames of at most %d", cap(r.buf), max)
		}
	})
}

// FuzzRoundTrip writes frames (data cut at each 0 byte) and reads them back
// through arbitrary splits.
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello\x00world\x00{}"), []byte{0})
	f.Add(bytes.Repeat([]byte("z"), 40_000), []byte{200, 7})
	f.Fuzz(func(t *testing.T, data, cuts []byte) {
		var want []string
		for _, b := range bytes.Split(data, []byte{0}) {
			if len(b) > 0 {
				want = append(want, string(b))
			}
		}
		got, err := readAll(LengthPrefix{}.NewReader(&chunkReader{data: stream(t, want...), cuts: cuts}, 1<<16))
		if err != io.EOF {
			t.Fatalf("error = %v, want io.EOF", err)
		}
		if strings.Join(got, "\x00") != strings.Join(want, "\x00") || len(got) != len(want) {
			t.Fatalf("read %d frames back, wrote %d", len(got), len(want))
		}
	})
}

// loopReader replays data forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

var benchSizes = []struct {
	name string
	size int
}{{"64B", 64}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

func BenchmarkReadFrame(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			body := strings.Repeat("x", bs.size)
			var data []byte
			for range max(1, (256<<10)/bs.size) {
				data = append(data, stream(b, body)...)
			}
			r := LengthPrefix{}.NewReader(&loopReader{data: data}, 1<<20)
			b.SetBytes(int64(headerLen + bs.size))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteFrame(b *testing.B) {
	for _, bs := range benchSizes {
		b.Run(bs.name, func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), bs.size)
			w := LengthPrefix{}.NewWriter(io.Discard, 1<<20)
			b.SetBytes(int64(headerLen + bs.size))
			b.ReportAllocs()
			for b.Loop() {
				if err := w.WriteFrame(body); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
