package main

import (
	"encoding/binary"
	"net"
	"net/http"
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
		return dialers{newHTTPClient(&net.Dialer{Timeout: timeout})}
	}
	d := make(dialers, n)
	for j := range d {
		d[j] = newHTTPClient(&net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: sourceAddr(j)}})
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

func (d dialers) closeIdle() {
	for _, c := range d {
		c.CloseIdleConnections()
	}
}

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
