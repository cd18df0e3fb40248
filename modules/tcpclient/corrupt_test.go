package tcpclient_test

import (
	"context"
	"errors"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// A corrupt stream fails the call in flight, is logged as an error, drops
// the connection, and the client dials a fresh one that serves calls.
func TestCorruptStreamDropsTheConnectionAndRedials(t *testing.T) {
	tests := []struct {
		name    string
		bytes   []byte
		errText string
	}{
		{"length 0", []byte{0, 0, 0, 0}, "empty frame"},
		{"length 2^31 over the limit", []byte{0x80, 0, 0, 0}, "frame too large: length 2147483648, limit 1048576"},
		{"body not JSON", frameOf([]byte("hello wallet")), "not a JSON object"},
		{"JSON array", frameOf([]byte(`[{"type":"getBalance","requestId":"2","ok":true}]`)), "it is an array"},
		{"JSON string", frameOf([]byte(`"getBalance"`)), "it is a string"},
		{"JSON number", frameOf([]byte(`42`)), "it is a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newFakeWallet(t, func(p *peer, req request) bool {
				if p.n == 1 && req.Type == walletproto.TypeGetBalance {
					p.raw(tt.bytes)
					return true
				}
				return false
			})
			c, logs := start(t, testConfig(t, w.addr()))

			_, err := c.GetBalance(context.Background(), "u1")
			if !errors.Is(err, tcpclient.ErrConnectionLost) {
				t.Fatalf("call in flight: error = %v, want ErrConnectionLost", err)
			}
			e := waitLog(t, logs, "wallet link down", "corrupt stream")
			if e.Level != zapcore.ErrorLevel {
				t.Errorf("logged at %v, want error", e.Level)
			}
			waitLog(t, logs, "wallet link down", tt.errText)

			if b, err := c.GetBalance(context.Background(), "u1"); err != nil || b.Balance != 1000 {
				t.Fatalf("after redial: GetBalance = %+v, %v", b, err)
			}
			if n := w.conns.Load(); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
		})
	}
}

func TestWalletClosingMidFrame(t *testing.T) {
	w := newFakeWallet(t, func(p *peer, req request) bool {
		if p.n == 1 && req.Type == walletproto.TypeGetBalance {
			p.raw(append([]byte{0, 0, 0, 100}, `{"type":"get`...))
			p.conn.Close()
			return true
		}
		return false
	})
	c, logs := start(t, testConfig(t, w.addr()))
	if _, err := c.GetBalance(context.Background(), "u1"); !errors.Is(err, tcpclient.ErrConnectionLost) {
		t.Fatalf("call in flight: error = %v, want ErrConnectionLost", err)
	}
	waitLog(t, logs, "wallet link down", "wallet closed the connection mid-frame")
	if _, err := c.GetBalance(context.Background(), "u1"); err != nil {
		t.Fatalf("after redial: %v", err)
	}
}
