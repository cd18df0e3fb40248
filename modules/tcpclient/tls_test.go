package tcpclient_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

// selfSigned returns a certificate for "wallet.test" and its PEM.
func selfSigned(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wallet.test"},
		DNSNames:              []string{"wallet.test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestTLS(t *testing.T) {
	cert, caPEM := selfSigned(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	sim := walletsim.New(walletsim.Options{InitialBalance: 42})
	var wg sync.WaitGroup
	wg.Go(func() { _ = sim.Serve(ln) })
	defer wg.Wait()
	defer sim.Close()

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, ln.Addr().String())
	cfg.TLS, cfg.TLSCAFile, cfg.TLSServerName = true, caFile, "wallet.test"

	c, _ := start(t, cfg)
	if b, err := c.GetBalance(context.Background(), "u1"); err != nil || b.Balance != 42 {
		t.Fatalf("GetBalance over TLS = %+v, %v", b, err)
	}

	cfg.TLSServerName = "other.test"
	bad, logs := start(t, cfg)
	waitLog(t, logs, "wallet link down", "certificate is valid for wallet.test, not other.test")
	_ = bad.Close()
}

func TestTLSWithABadCAFile(t *testing.T) {
	cfg := testConfig(t, freeAddr(t))
	cfg.TLS = true
	cfg.TLSCAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := tcpclient.New(cfg, zapNop(), nil); err == nil || !strings.Contains(err.Error(), "wallet.tlsCaFile") {
		t.Errorf("New = %v, want an error naming wallet.tlsCaFile", err)
	}
	if err := os.WriteFile(cfg.TLSCAFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tcpclient.New(cfg, zapNop(), nil); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("New = %v, want 'no PEM certificate'", err)
	}
}
