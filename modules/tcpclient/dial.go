package tcpclient

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"github.com/gamegate/gamegate/modules/config"
)

type dialFunc func(ctx context.Context) (net.Conn, error)

// newDialer returns how to reach the wallet: plain TCP, or TLS verified
// against cfg.TLSCAFile (the system roots when empty).
func newDialer(cfg config.Wallet) (dialFunc, error) {
	addr := cfg.Addr()
	tcp := &net.Dialer{}
	if !cfg.TLS {
		return func(ctx context.Context) (net.Conn, error) { return tcp.DialContext(ctx, "tcp", addr) }, nil
	}
	tc := &tls.Config{ServerName: cmp.Or(cfg.TLSServerName, cfg.Host), MinVersion: tls.VersionTLS12}
	if cfg.TLSCAFile != "" {
		pem, err := os.ReadFile(cfg.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("wallet.tlsCaFile: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("wallet.tlsCaFile: no PEM certificate in %s", cfg.TLSCAFile)
		}
	}
	d := &tls.Dialer{NetDialer: tcp, Config: tc}
	return func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }, nil
}
