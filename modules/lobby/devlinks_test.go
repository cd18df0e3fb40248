package lobby

import (
	"net"
	"testing"
)

func TestBrowsable(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "localhost:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "localhost:8080"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9000}, "127.0.0.1:9000"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 9000}, "[::1]:9000"},
		{&net.TCPAddr{IP: net.IPv4(192, 168, 1, 20), Port: 80}, "192.168.1.20:80"},
	} {
		if got := browsable(tc.addr); got != tc.want {
			t.Errorf("browsable(%v) = %s, want %s", tc.addr, got, tc.want)
		}
	}
}
