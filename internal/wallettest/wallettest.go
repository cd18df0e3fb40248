// Package wallettest is a scriptable wallet peer for tests: it speaks the
// wallet link's framing over real loopback TCP and answers each request the way
// a test says, now, later or never. Its Proxy puts a real wallet behind
// links that a test drops at a chosen message.
package wallettest

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"sync"
	"testing"
)

// Request is what the peer reads of a request, and a Proxy of any message.
type Request struct {
	Type      string `json:"type"`
	RequestID string `json:"requestId"`
	PushID    string `json:"pushId"`
	UserID    string `json:"userId"`
}

// Reply sends one message to the link the request came on; it is safe to
// call from any goroutine, at any time until the test ends.
type Reply func(msg string) error

// Fake accepts gateway links until the test ends.
type Fake struct {
	ln net.Listener
	// Port is the loopback port it listens on.
	Port int

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// Addr is the loopback host:port it listens on.
func (f *Fake) Addr() string { return f.ln.Addr().String() }

// Start listens on a loopback port and passes every request to answer, on
// the link's read loop: answer must not block, but may keep reply to answer
// later, or never.
func Start(t testing.TB, answer func(Request, Reply)) *Fake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &Fake{ln: ln, Port: ln.Addr().(*net.TCPAddr).Port}
	f.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, conn)
			f.mu.Unlock()
			f.wg.Go(func() { serve(conn, answer) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func serve(conn net.Conn, answer func(Request, Reply)) {
	var mu sync.Mutex
	reply := func(msg string) error {
		mu.Lock()
		defer mu.Unlock()
		_, err := conn.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(msg))), msg...))
		return err
	}
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(conn, hdr[:]); err != nil {
			return
		}
		body := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(conn, body); err != nil {
			return
		}
		var r Request
		_ = json.Unmarshal(body, &r)
		answer(r, reply)
	}
}

// OK is the successful reply to r, with fields (JSON members, e.g.
// `"balance":7`) beside its status.
func OK(r Request, fields string) string {
	if fields != "" {
		fields = "," + fields
	}
	return `{"type":` + quote(r.Type) + `,"requestId":` + quote(r.RequestID) + `,"ok":true` + fields + `}`
}

// Fail is the reply refusing r with a wallet error.
func Fail(r Request, code, message string) string {
	return `{"type":` + quote(r.Type) + `,"requestId":` + quote(r.RequestID) +
		`,"ok":false,"error":{"code":` + quote(code) + `,"message":` + quote(message) + `}}`
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
