package main

import (
	"encoding/binary"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A read may come without its timestamp message (oobn 0, or cut short):
// the reader falls back to the time it read, and never panics.
func TestArrival(t *testing.T) {
	stamp := time.Unix(1700000000, 123456789)
	var ts [16]byte
	binary.NativeEndian.PutUint64(ts[:], uint64(stamp.Unix()))
	binary.NativeEndian.PutUint64(ts[8:], uint64(stamp.Nanosecond()))
	msg := make([]byte, unix.CmsgSpace(len(ts)))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&msg[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(len(ts)))
	copy(msg[unix.CmsgLen(0):], ts[:])
	if got := arrival(msg); !got.Equal(stamp) {
		t.Errorf("arrival of a SCM_TIMESTAMPNS message = %v, want %v", got, stamp)
	}
	for _, oob := range [][]byte{nil, {}, msg[:4], msg[:unix.CmsgLen(0)]} {
		before := time.Now()
		if got := arrival(oob); got.Before(before) {
			t.Errorf("arrival(%d bytes) = %v, want the time of the read", len(oob), got)
		}
	}
}
