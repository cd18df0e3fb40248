package gateway_test

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkLoopbackWriteFloor is the physics under every delivery figure:
// the CPU one write(2) of a small frame to a loopback socket costs its
// writer (the kernel runs the receiving side's TCP work in that call too),
// and what a write carrying several frames costs. The writer runs on a
// locked thread whose own CPU time (RUSAGE_THREAD) is divided by writes;
// readers drain every socket on other threads. "bursts" is the steady
// fan-out's pattern: one frame to each of 5,000 sockets, then 100 ms idle, so
// every write wakes a reader that was waiting.
func BenchmarkLoopbackWriteFloor(b *testing.B) {
	frame := append([]byte{0x81, 70}, make([]byte, 70)...) // a ~70-byte notification frame
	for _, tc := range []struct {
		sockets, framesPerWrite int
		pause                   time.Duration
	}{{1000, 1, 0}, {1000, 4, 0}, {5000, 1, 100 * time.Millisecond}} {
		name := fmt.Sprintf("sockets=%d/frames=%d", tc.sockets, tc.framesPerWrite)
		if tc.pause > 0 {
			name += "/bursts"
		}
		b.Run(name, func(b *testing.B) {
			conns := loopbackPairs(b, tc.sockets)
			buf := make([]byte, 0, len(frame)*tc.framesPerWrite)
			for range tc.framesPerWrite {
				buf = append(buf, frame...)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu time.Duration
			writes := 0
			for b.Loop() {
				start := threadCPU(b)
				for _, c := range conns {
					if _, err := c.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
				cpu += threadCPU(b) - start
				writes += len(conns)
				time.Sleep(tc.pause)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(writes), "cpu-ns/write")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(writes*tc.framesPerWrite), "cpu-ns/frame")
		})
	}
}

// loopbackPairs connects n loopback TCP pairs, drains the far ends and
// returns the near ends.
func loopbackPairs(b *testing.B, n int) []net.Conn {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		far, err := ln.Accept()
		if err != nil {
			b.Fatal(err)
		}
		go io.Copy(io.Discard, far) //nolint:errcheck // ends when the pair closes
		conns[i] = c
		b.Cleanup(func() { c.Close(); far.Close() })
	}
	return conns
}

// threadCPU is the CPU time the calling thread has used.
func threadCPU(b *testing.B) time.Duration { return cpuTime(b, 1 /* RUSAGE_THREAD */) }

// processCPU is the CPU time this process has used.
func processCPU(b *testing.B) time.Duration { return cpuTime(b, syscall.RUSAGE_SELF) }

func cpuTime(b *testing.B, who int) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
