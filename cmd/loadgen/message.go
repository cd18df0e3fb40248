package main

import (
	"bytes"
	"strconv"
)

// The bench message a broadcast carries: {"seq":k,"ts":unixNanos}. seq counts
// the measured broadcasts from 0; warm-up broadcasts have negative seqs, so a
// client tells them apart without being told when the measured phase starts.
// ts is the send time by the wall clock, which every process on the machine
// shares, so the client that receives it computes the latency itself. (A
// JavaScript server re-encodes ts as a double: ±128 ns of rounding, far
// below what is measured.)

// RoomName is the name of bench room r.
func RoomName(prefix string, r int) string { return prefix + strconv.Itoa(r) }

// appendBroadcast appends the body of POST /notifications/broadcast.
func appendBroadcast(dst []byte, room string, seq, ts int64, pad string) []byte {
	dst = append(dst, `{"roomId":`...)
	dst = strconv.AppendQuote(dst, room)
	dst = append(dst, `,"message":{"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"ts":`...)
	dst = strconv.AppendInt(dst, ts, 10)
	if pad != "" {
		dst = append(dst, `,"pad":"`...)
		dst = append(dst, pad...)
		dst = append(dst, '"')
	}
	return append(dst, "}}"...)
}

var (
	keyEvent   = []byte(`"event":`)
	keySeq     = []byte(`"seq":`)
	keyTS      = []byte(`"ts":`)
	keyID      = []byte(`"id":`)
	keyMessage = []byte(`"message":`)
)

// The readers parse every frame by hand rather than with encoding/json: a
// reader handles one delivery in a few hundred nanoseconds this way, and the
// load generator must stay far from being the bottleneck. The frames are the
// gateway's own, compact JSON from both the Go and the NestJS servers.

// stringField returns the value of the first string field key in b, without
// its quotes (escapes are not decoded: event names and the messages we keep
// for display need none).
func stringField(b, key []byte) ([]byte, bool) {
	v, ok := after(b, key, false)
	if !ok || len(v) == 0 || v[0] != '"' {
		return nil, false
	}
	v = v[1:]
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '\\':
			i++
		case '"':
			return v[:i], true
		}
	}
	return nil, false
}

// intField returns the integer value of field key in b: the first occurrence,
// or the last one when last is set (a reply's "id" follows its data).
func intField(b, key []byte, last bool) (int64, bool) {
	v, ok := after(b, key, last)
	if !ok {
		return 0, false
	}
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	var n int64
	digits := 0
	for ; digits < len(v) && digits < 19 && v[digits] >= '0' && v[digits] <= '9'; digits++ {
		n = n*10 + int64(v[digits]-'0')
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// after returns what follows key and any blanks.
func after(b, key []byte, last bool) ([]byte, bool) {
	var i int
	if last {
		i = bytes.LastIndex(b, key)
	} else {
		i = bytes.Index(b, key)
	}
	if i < 0 {
		return nil, false
	}
	return bytes.TrimLeft(b[i+len(key):], " \t\r\n"), true
}
