package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gamegate/gamegate/pkg/token"
)

// gatewayBin is the gateway built from this tree, run as a user would.
var gatewayBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gateway-bin")
	if err != nil {
		panic(err)
	}
	gatewayBin = filepath.Join(dir, "gateway")
	if out, err := exec.Command("go", "build", "-o", gatewayBin, ".").CombinedOutput(); err != nil {
		panic("go build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// gateway runs the binary with env added to a clean environment and returns
// its exit status and standard error.
func gateway(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, gatewayBin, args...)
	cmd.Dir = "../.." // the shipped config.yaml
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func TestBadConfigurationExits2WithOneLine(t *testing.T) {
	zeroPong := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(zeroPong, []byte("auth:\n  jwtSecret: s\ngateway:\n  pongTimeout: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A top-level key no module reads is found once the application is
	// built, and refused the same way.
	typo := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(typo, []byte("auth:\n  jwtSecret: s\ngatway:\n  path: /play\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		env  []string
		args []string
		key  string
	}{
		{[]string{"WALLET_PORT=99999"}, nil, "wallet.port"},
		{[]string{"HTTP_ADDR=nonsense"}, nil, "http.addr"},
		{[]string{"LOG_LEVEL=chatty"}, nil, "log.level"},
		{nil, []string{"--config", "/nonexistent/config.yaml"}, "/nonexistent/config.yaml"},
		{nil, []string{"--config", zeroPong}, "gateway.pongTimeout: must be positive, got 0s"},
		{nil, []string{"--config", typo}, "gatway: unknown key"},
		{nil, []string{"frobnicate"}, "unknown command"},
	} {
		code, _, stderr := gateway(t, tc.env, tc.args...)
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		if code != 2 || len(lines) != 1 || !strings.Contains(lines[0], tc.key) {
			t.Errorf("%v %v: exit %d, stderr %q; want 2 and one line naming %s", tc.env, tc.args, code, stderr, tc.key)
		}
	}
}

func TestTokenCommand(t *testing.T) {
	code, stdout, stderr := gateway(t, []string{"JWT_SECRET=cli-secret"}, "token", "--sub", "u7", "--roles", "admin, ops", "--ttl", "2h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	v, err := token.NewVerifier(t.Context(), token.Options{Secret: []byte("cli-secret")})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(t.Context(), strings.TrimSpace(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "u7" || len(claims.Roles) != 2 || claims.Roles[1] != "ops" ||
		time.Until(claims.ExpiresAt) < 119*time.Minute || time.Until(claims.ExpiresAt) > 2*time.Hour {
		t.Fatalf("claims %+v", claims)
	}
	if code, _, stderr := gateway(t, nil, "token"); code != 2 || !strings.Contains(stderr, "--sub is required") {
		t.Fatalf("without --sub: exit %d %q", code, stderr)
	}
}

func TestPortInUseFailsTheStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := gateway(t, []string{"HTTP_ADDR=" + ln.Addr().String(), "WALLET_SIMULATOR=false"})
	if code != 1 || !strings.Contains(stderr, "cannot listen") || !strings.Contains(stderr, ln.Addr().String()) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
}
