package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestShippedConfigLoads(t *testing.T) {
	cfg, err := Load("../../config.yaml", false, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != ":8080" || !cfg.Wallet.Simulator || cfg.Auth.JWTSecret != DevJWTSecret ||
		cfg.Gateway.MaxMessageBytes != 64<<10 || cfg.Gateway.QueueSize != 256 || cfg.ShutdownTimeout != 10*time.Second {
		t.Fatalf("shipped config: %+v", cfg)
	}
}

func TestEnvironmentWins(t *testing.T) {
	p := writeFile(t, "http:\n  addr: \":9000\"\nwallet:\n  port: 7000\nauth:\n  jwtSecret: file\n")
	cfg, err := Load(p, false, env(map[string]string{
		"HTTP_ADDR": "127.0.0.1:9100", "WALLET_PORT": "7100", "WALLET_SIMULATOR": "false",
		"JWT_SECRET": "from-env", "CORS_ORIGINS": "https://a.example, https://b.example",
		"LOG_LEVEL": "debug", "LOG_FORMAT": "console", "CLUSTER_NATS_URL": "nats://127.0.0.1:4222",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "127.0.0.1:9100" || cfg.Wallet.Port != 7100 || cfg.Wallet.Simulator ||
		cfg.Auth.JWTSecret != "from-env" || cfg.Log.Level != "debug" || cfg.Log.Format != "console" ||
		cfg.Cluster.NATSURL != "nats://127.0.0.1:4222" ||
		!slices.Equal(cfg.Gateway.CORS.Origins, []string{"https://a.example", "https://b.example"}) {
		t.Fatalf("config: %+v", cfg)
	}
}

func TestMissingDefaultFileIsFine(t *testing.T) {
	cfg, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), true, env(map[string]string{"JWT_SECRET": "s"}))
	if err != nil || cfg.HTTP.Addr != ":8080" {
		t.Fatalf("%+v %v", cfg, err)
	}
}

// Each bad value stops the start with one line that names the key.
func TestBadValuesNameTheKey(t *testing.T) {
	good := "auth:\n  jwtSecret: s\n"
	cases := []struct {
		name, file string
		env        map[string]string
		key        string
	}{
		{"unparseable file", "http: [", nil, "config.yaml"},
		{"bad port", good, map[string]string{"WALLET_PORT": "70000"}, "wallet.port"},
		{"port not a number", good, map[string]string{"WALLET_PORT": "seventy"}, "wallet.port"},
		{"bad http addr", good, map[string]string{"HTTP_ADDR": "8080"}, "http.addr"},
		{"unknown log level", good, map[string]string{"LOG_LEVEL": "loud"}, "log.level"},
		{"bad log format", good, map[string]string{"LOG_FORMAT": "xml"}, "log.format"},
		{"no secret", "", nil, "auth.jwtSecret"},
		{"unknown key", good + "gateway:\n  maxMesageBytes: 10\n", nil, "maxMesageBytes"},
		{"bad duration", good + "gateway:\n  pingInterval: soon\n", nil, "gateway.pingInterval"},
		{"bad bool", good, map[string]string{"WALLET_SIMULATOR": "maybe"}, "wallet.simulator"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(writeFile(t, tc.file), false, env(tc.env))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err %v, want ErrInvalid", err)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.key) || strings.Contains(msg, "\n") {
				t.Fatalf("message %q should name %s on one line", msg, tc.key)
			}
		})
	}
}
