package main

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"time"
)

// dialers hand out the HTTP clients the WebSocket handshakes go through, one
// per source address. A source address has ~28,000 ephemeral ports (the
// kernel's default range), so 100,000 connections to one server port need
// several: client i dials from 127.0.0.1 + i%n, any of which reaches a
// loopback server.
type dialers []*http.Client

func newDialers(n int, timeout time.Duration) dialers {
	if n <= 0 {
		return dialers{{Transport: upgrader{&net.Dialer{Timeout: timeout}}}}
	}
	d := make(dialers, n)
	for j := range d {
		d[j] = &http.Client{Transport: upgrader{&net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: sourceAddr(j)}}}}
	}
	return d
}

// sourceAddr is 127.0.0.1 + j.
func sourceAddr(j int) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, 0x7f000001+uint32(j))
	return ip
}

func (d dialers) forClient(i int) *http.Client { return d[i%len(d)] }

// netDialer is client i's dialer, for a client that makes its own
// connections (long-polling).
func (d dialers) netDialer(i int) *net.Dialer { return d.forClient(i).Transport.(upgrader).dialer }

// upgrader is the handshakes' RoundTripper: it dials, writes the request and
// reads the response itself, and hands the connection over as the 101
// response's body, which is how coder/websocket takes it. net/http's
// Transport would start two goroutines per connection and pool it only to
// give it up at once: that made the load generator spend more CPU per
// handshake than the server it measures. Like net/http's, it hands the
// connection to the request's httptrace.ClientTrace, if any: a stalled
// client keeps its socket that way.
type upgrader struct{ dialer *net.Dialer }

func (u upgrader) RoundTrip(req *http.Request) (*http.Response, error) {
	conn, err := u.dialer.DialContext(req.Context(), "tcp", req.URL.Host)
	if err != nil {
		return nil, err
	}
	if trace := httptrace.ContextClientTrace(req.Context()); trace != nil && trace.GotConn != nil {
		trace.GotConn(httptrace.GotConnInfo{Conn: conn})
	}
	if deadline, ok := req.Context().Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	br := bufio.NewReader(conn)
	var resp *http.Response
	if err = req.Write(conn); err == nil {
		resp, err = http.ReadResponse(br, req)
	}
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	if resp.StatusCode == http.StatusSwitchingProtocols {
		resp.Body = &upgraded{in: br, Conn: conn}
	} else {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{resp.Body, conn}
	}
	return resp, nil
}

// upgraded is the connection after a 101: bytes the server sent right
// behind its response are in the reader.
type upgraded struct {
	in *bufio.Reader
	net.Conn
}

func (u *upgraded) Read(p []byte) (int, error) { return u.in.Read(p) }

// newHTTPClient returns a client that ignores proxy settings (the target is
// on this machine) and keeps enough idle connections for the REST sender.
func newHTTPClient(d *net.Dialer) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		DialContext:         d.DialContext,
		MaxIdleConnsPerHost: 256,
		DisableCompression:  true,
	}}
}
