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
		{"zero pong timeout", good + "gateway:\n  pongTimeout: 0s\n", nil, "gateway.pongTimeout"},
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

// Every duration, and the relations between them, and the WebSocket paths
// are checked at start: a bad one names its key on one line.
func TestValidate(t *testing.T) {
	valid := func() Config {
		c := Default()
		c.Auth.JWTSecret = "s"
		return c
	}
	cases := []struct {
		name string
		edit func(*Config)
		key  string // "" when the configuration is valid
		says string
	}{
		{"defaults", func(*Config) {}, "", ""},
		{"http request timeout 0", func(c *Config) { c.HTTP.RequestTimeout = 0 }, "http.requestTimeout", "must be positive, got 0s"},
		{"http write timeout negative", func(c *Config) { c.HTTP.WriteTimeout = -time.Second }, "http.writeTimeout", "must be positive"},
		{"http idle timeout 0", func(c *Config) { c.HTTP.IdleTimeout = 0 }, "http.idleTimeout", "must be positive"},
		{"max connections negative", func(c *Config) { c.HTTP.MaxConnections = -1 }, "http.maxConnections", "must not be negative"},
		{"max connections 0 is the default", func(c *Config) { c.HTTP.MaxConnections = 0 }, "", ""},
		{"leeway negative", func(c *Config) { c.Auth.Leeway = -time.Second }, "auth.leeway", "must not be negative"},
		{"leeway 0", func(c *Config) { c.Auth.Leeway = 0 }, "", ""},
		{"gateway ping interval 0", func(c *Config) { c.Gateway.PingInterval = 0 }, "gateway.pingInterval", "must be positive"},
		{"gateway pong timeout 0", func(c *Config) { c.Gateway.PongTimeout = 0 }, "gateway.pongTimeout", "must be positive"},
		{"gateway pong after the next ping", func(c *Config) { c.Gateway.PongTimeout = c.Gateway.PingInterval }, "gateway.pongTimeout", "must be less than gateway.pingInterval (25s), got 25s"},
		{"gateway write timeout 0", func(c *Config) { c.Gateway.WriteTimeout = 0 }, "gateway.writeTimeout", "must be positive"},
		{"socket.io connect timeout 0", func(c *Config) { c.Gateway.SocketIO.ConnectTimeout = 0 }, "gateway.socketIO.connectTimeout", "must be positive"},
		{"queue bytes 0", func(c *Config) { c.Gateway.MaxQueueBytes = 0 }, "gateway.maxQueueBytes", "must be positive"},
		{"wallet ping interval 0", func(c *Config) { c.Wallet.PingInterval = 0 }, "wallet.pingInterval", "must be positive"},
		{"wallet pong timeout 0", func(c *Config) { c.Wallet.PongTimeout = 0 }, "wallet.pongTimeout", "must be positive"},
		{"wallet pong after the next ping", func(c *Config) { c.Wallet.PongTimeout = time.Minute }, "wallet.pongTimeout", "must be less than wallet.pingInterval (15s), got 1m0s"},
		{"wallet call timeout 0", func(c *Config) { c.Wallet.CallTimeout = 0 }, "wallet.callTimeout", "must be positive"},
		{"wallet backoff min 0", func(c *Config) { c.Wallet.BackoffMin = 0 }, "wallet.backoffMin", "must be positive"},
		{"wallet backoff max 0", func(c *Config) { c.Wallet.BackoffMax = 0 }, "wallet.backoffMax", "must be positive"},
		{"wallet backoff min over max", func(c *Config) { c.Wallet.BackoffMin = time.Minute }, "wallet.backoffMin", "must not exceed wallet.backoffMax (10s), got 1m0s"},
		{"wallet backoff min equal to max", func(c *Config) { c.Wallet.BackoffMin = c.Wallet.BackoffMax }, "", ""},
		{"shutdown timeout 0", func(c *Config) { c.ShutdownTimeout = 0 }, "shutdownTimeout", "must be positive"},
		{"drain delay negative", func(c *Config) { c.ShutdownDrainDelay = -time.Second }, "shutdownDrainDelay", "must not be negative"},
		{"drain delay as long as the stop", func(c *Config) { c.ShutdownDrainDelay = c.ShutdownTimeout }, "shutdownDrainDelay", "must be less than shutdownTimeout (10s), got 10s"},
		{"drain delay within the stop", func(c *Config) { c.ShutdownDrainDelay = 5 * time.Second }, "", ""},
		{"gateway path relative", func(c *Config) { c.Gateway.Path = "game" }, "gateway.path", `must start with "/"`},
		{"gateway path a pattern", func(c *Config) { c.Gateway.Path = "/game/:id" }, "gateway.path", "plain path"},
		{"gateway path on a REST route", func(c *Config) { c.Gateway.Path = "/healthz" }, "gateway.path", "taken by the REST route /healthz"},
		{"gateway path in a REST subtree", func(c *Config) { c.Gateway.Path = "/notifications/ws" }, "gateway.path", "taken by the REST route /notifications/"},
		{"gateway path the lobby page", func(c *Config) { c.Gateway.Path = "/" }, "gateway.path", "taken by the REST route /"},
		{"gateway path elsewhere", func(c *Config) { c.Gateway.Path = "/play/ws" }, "", ""},
		{"socket.io path relative", func(c *Config) { c.Gateway.SocketIO.Path = "socket.io/" }, "gateway.socketIO.path", `must start with "/"`},
		{"socket.io path on a REST route", func(c *Config) { c.Gateway.SocketIO.Path = "/metrics/" }, "gateway.socketIO.path", "taken by the REST route /metrics"},
		{"socket.io path the gateway's", func(c *Config) { c.Gateway.SocketIO.Path = "/game/" }, "gateway.socketIO.path", `"/game/" must differ from gateway.path`},
		{"socket.io off, its path unused", func(c *Config) {
			c.Gateway.SocketIO.Enabled, c.Gateway.SocketIO.Path = false, "/game"
		}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.edit(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			want := "invalid configuration: " + tc.key + ": "
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tc.says) ||
				strings.Contains(err.Error(), "\n") {
				t.Fatalf("Validate = %v, want one line %q…%q", err, want, tc.says)
			}
		})
	}
}
