// Package config loads the gateway's configuration: config.yaml first, then
// the environment variables NestJS deployments already set (docs/protocol.md,
// "Configuration"), which win. Each module receives only its own section
// through fx; a module of another team declares its own with Section.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"go.uber.org/zap/zapcore"
)

// DevJWTSecret is the secret shipped in config.yaml. Starting with it logs a
// warning, since anyone can mint tokens for it.
const DevJWTSecret = "dev-secret-change-me"

// Config is the whole configuration. Modules depend on one section each.
type Config struct {
	HTTP         HTTP         `koanf:"http"`
	Log          Log          `koanf:"log"`
	Auth         Auth         `koanf:"auth"`
	Gateway      Gateway      `koanf:"gateway"`
	Wallet       Wallet       `koanf:"wallet"`
	Notification Notification `koanf:"notification"`
	Cluster      Cluster      `koanf:"cluster"`
	Recovery     Recovery     `koanf:"recovery"`
	// ShutdownTimeout bounds the graceful stop (docs/protocol.md, "Stopping").
	ShutdownTimeout time.Duration `koanf:"shutdownTimeout"`
	// ShutdownDrainDelay is how long a stopping node keeps serving with
	// /readyz at 503, so that load balancers take it out first.
	ShutdownDrainDelay time.Duration `koanf:"shutdownDrainDelay"`

	// extensions are the file's top-level sections that are not the
	// gateway's, by key, as read: Section decodes them for the modules that
	// declare them, and the application refuses those nobody declares.
	extensions map[string]any
	// lookup is the environment Load read, which Section reads too.
	lookup func(string) (string, bool)
}

// HTTP configures the echo server that also serves /game.
type HTTP struct {
	Addr string `koanf:"addr"`
	// MaxBodyBytes: larger REST bodies get 413.
	MaxBodyBytes int64 `koanf:"maxBodyBytes"`
	// Pprof serves net/http/pprof under /debug/pprof/ for profiling. Off by
	// default: it exposes internals.
	Pprof bool `koanf:"pprof"`
	// RequestTimeout bounds reading a request, headers and body: a
	// connection that has not sent a whole request by then is closed.
	RequestTimeout time.Duration `koanf:"requestTimeout"`
	// WriteTimeout bounds a REST response, from the end of its request's
	// headers. Upgraded WebSockets have their own (gateway.writeTimeout).
	WriteTimeout time.Duration `koanf:"writeTimeout"`
	// IdleTimeout closes keep-alive connections idle for that long.
	IdleTimeout time.Duration `koanf:"idleTimeout"`
	// MaxConnections caps open connections (WebSockets included); beyond
	// it, requests other than health and metrics get 503. 0: what the
	// process's open-file limit allows, less a reserve.
	MaxConnections int `koanf:"maxConnections"`
}

// Log configures zap.
type Log struct {
	Level  string `koanf:"level"`
	Format string `koanf:"format"`
}

// Auth configures how client tokens are verified.
type Auth struct {
	JWTSecret string `koanf:"jwtSecret"`
	JWKSURL   string `koanf:"jwksUrl"`
	JWKSFile  string `koanf:"jwksFile"`
	// Algorithms pins the accepted JWS algorithms. Empty means HS256 with a
	// secret, and RS256 and ES256 with a JWKS.
	Algorithms []string      `koanf:"algorithms"`
	Leeway     time.Duration `koanf:"leeway"`
	// ExpireConnections closes a connection with 4001 at its token's exp
	// (plus Leeway) unless refreshToken replaced the token in time.
	ExpireConnections bool `koanf:"expireConnections"`
}

// Gateway configures the /game WebSocket endpoint.
type Gateway struct {
	Path            string    `koanf:"path"`
	CORS            CORS      `koanf:"cors"`
	MaxMessageBytes int64     `koanf:"maxMessageBytes"`
	RateLimit       RateLimit `koanf:"rateLimit"`
	QueueSize       int       `koanf:"queueSize"`
	Receipts        Receipts  `koanf:"receipts"`
	// MaxSessionsPerUser, when not 0, closes a user's oldest connection
	// with 4002 when a new one would pass it, counting every node.
	MaxSessionsPerUser int `koanf:"maxSessionsPerUser"`
	// MaxQueueBytes bounds what waits for one client, in bytes, the
	// kernel's send buffer included: past it the client is a slow consumer.
	MaxQueueBytes int64         `koanf:"maxQueueBytes"`
	PingInterval  time.Duration `koanf:"pingInterval"`
	PongTimeout   time.Duration `koanf:"pongTimeout"`
	WriteTimeout  time.Duration `koanf:"writeTimeout"`
	SocketIO      SocketIO      `koanf:"socketIO"`
}

// Receipts bounds delivery receipts on a node.
type Receipts struct {
	// MaxPending is how many receipts a node waits for at once; past it a
	// REST call asking for one gets 503.
	MaxPending int `koanf:"maxPending"`
	// MaxRecipients is how many recipients of one receipt a node tracks.
	MaxRecipients int `koanf:"maxRecipients"`
}

// SocketIO configures the Socket.IO endpoint, whose namespace is the
// gateway's path.
type SocketIO struct {
	Enabled bool   `koanf:"enabled"`
	Path    string `koanf:"path"`
	// ConnectTimeout bounds the wait for the client's CONNECT packet.
	ConnectTimeout time.Duration `koanf:"connectTimeout"`
}

// CORS lists the Origins allowed on /game and on REST.
type CORS struct {
	Origins []string `koanf:"origins"`
}

// RateLimit is the per-connection limit on incoming messages.
type RateLimit struct {
	PerSecond float64 `koanf:"perSecond"`
	Burst     int     `koanf:"burst"`
	// MaxExcess is how many refused messages in a row close the connection
	// with 1008; each refused one gets an exception first.
	MaxExcess int `koanf:"maxExcess"`
}

// Wallet configures the TCP link to the wallet server.
type Wallet struct {
	Host          string        `koanf:"host"`
	Port          int           `koanf:"port"`
	Simulator     bool          `koanf:"simulator"`
	NodeID        string        `koanf:"nodeId"`
	MaxFrameBytes int           `koanf:"maxFrameBytes"`
	PingInterval  time.Duration `koanf:"pingInterval"`
	PongTimeout   time.Duration `koanf:"pongTimeout"`
	CallTimeout   time.Duration `koanf:"callTimeout"`
	BackoffMin    time.Duration `koanf:"backoffMin"`
	BackoffMax    time.Duration `koanf:"backoffMax"`
	TLS           bool          `koanf:"tls"`
	// TLSCAFile, when set, is the CA bundle that verifies the wallet's certificate.
	TLSCAFile     string `koanf:"tlsCaFile"`
	TLSServerName string `koanf:"tlsServerName"`
	// Simulated holds the embedded simulator's ledger settings.
	Simulated Simulated `koanf:"simulated"`
}

// Node is this node's name: nodeId (NODE_ID), else the host name and the
// process id. The wallet's hello and the cluster's session records name
// the node by it.
func (w Wallet) Node() string {
	if w.NodeID != "" {
		return w.NodeID
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}

// Addr is the wallet's host:port.
func (w Wallet) Addr() string { return net.JoinHostPort(w.Host, strconv.Itoa(w.Port)) }

// Simulated configures the wallet simulator (embedded or cmd/walletsim).
type Simulated struct {
	Currency       string `koanf:"currency"`
	InitialBalance int64  `koanf:"initialBalance"`
	// AdminAddr, when set, serves the simulator's admin HTTP endpoint that
	// lets a person credit or debit a user during a demo.
	AdminAddr string `koanf:"adminAddr"`
}

// Notification configures the REST → WebSocket endpoints.
type Notification struct {
	Role string `koanf:"role"`
}

// Recovery configures session recovery: a client that reconnects with its
// session id and last offset gets its rooms back and what it missed.
type Recovery struct {
	Enabled bool `koanf:"enabled"`
	// Window is how long a disconnected session can be recovered.
	Window time.Duration `koanf:"window"`
	// MaxMessages is how many messages are kept per room.
	MaxMessages int `koanf:"maxMessages"`
}

// Cluster configures the NATS adapter.
type Cluster struct {
	NATSURL string `koanf:"natsUrl"`
}

// Default returns the built-in defaults; config.yaml and the environment
// override them.
func Default() Config {
	return Config{
		HTTP: HTTP{
			Addr: ":8080", MaxBodyBytes: 1 << 20,
			RequestTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second, IdleTimeout: 60 * time.Second,
		},
		Log:  Log{Level: "info", Format: "json"},
		Auth: Auth{Leeway: 5 * time.Second},
		Gateway: Gateway{
			Path:            "/game",
			CORS:            CORS{Origins: []string{"*"}},
			MaxMessageBytes: 64 << 10,
			RateLimit:       RateLimit{PerSecond: 50, Burst: 100, MaxExcess: 50},
			QueueSize:       256,
			MaxQueueBytes:   1 << 20,
			Receipts:        Receipts{MaxPending: 1000, MaxRecipients: 10_000},
			PingInterval:    25 * time.Second,
			PongTimeout:     10 * time.Second,
			WriteTimeout:    10 * time.Second,
			SocketIO:        SocketIO{Enabled: true, Path: "/socket.io/", ConnectTimeout: 10 * time.Second},
		},
		Wallet: Wallet{
			Host:          "127.0.0.1",
			Port:          7070,
			MaxFrameBytes: 1 << 20,
			PingInterval:  15 * time.Second,
			PongTimeout:   5 * time.Second,
			CallTimeout:   5 * time.Second,
			BackoffMin:    100 * time.Millisecond,
			BackoffMax:    10 * time.Second,
			Simulated:     Simulated{Currency: "USD", InitialBalance: 10000},
		},
		Notification:    Notification{Role: "admin"},
		Recovery:        Recovery{Enabled: true, Window: 2 * time.Minute, MaxMessages: 10_000},
		ShutdownTimeout: 10 * time.Second,
	}
}

// envKeys maps the fixed environment names to configuration keys.
var envKeys = map[string]string{
	"HTTP_ADDR":        "http.addr",
	"WALLET_HOST":      "wallet.host",
	"WALLET_PORT":      "wallet.port",
	"WALLET_SIMULATOR": "wallet.simulator",
	"JWT_SECRET":       "auth.jwtSecret",
	"JWT_JWKS_URL":     "auth.jwksUrl",
	"JWT_JWKS_FILE":    "auth.jwksFile",
	"CORS_ORIGINS":     "gateway.cors.origins",
	"CLUSTER_NATS_URL": "cluster.natsUrl",
	"LOG_LEVEL":        "log.level",
	"LOG_FORMAT":       "log.format",
	"HTTP_PPROF":       "http.pprof",
	"NODE_ID":          "wallet.nodeId",
}

// EnvNames lists the environment variables Load reads, for documentation.
func EnvNames() map[string]string { return envKeys }

// ErrInvalid marks a configuration that must stop the start (exit status 2).
var ErrInvalid = errors.New("invalid configuration")

// Invalid reports whether err is, or wraps, a configuration error, and
// returns that error without what wrapped it: a section's bad value reaches
// the application wrapped in fx's account of the constructor that failed,
// and the user needs only the one line naming the key.
func Invalid(err error) (error, bool) {
	if !errors.Is(err, ErrInvalid) {
		return nil, false
	}
	for {
		inner := errors.Unwrap(err)
		if inner == nil || inner == ErrInvalid || !errors.Is(inner, ErrInvalid) {
			return err, true
		}
		err = inner
	}
}

// Load reads the file at path (a missing file is fine when path is the
// default and optional is true), then the environment from lookup. Top-level
// keys that are none of Config's are kept for Section.
func Load(path string, optional bool, lookup func(string) (string, bool)) (Config, error) {
	k := koanf.New(".")
	if _, err := os.Stat(path); err == nil || !optional {
		if err := k.Load(file.Provider(path), yaml.Parser()); err != nil {
			return Config{}, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
		}
	}
	extensions := map[string]any{}
	for key, v := range k.Raw() {
		if !slices.Contains(ownKeys, key) {
			extensions[key] = v
			k.Delete(key)
		}
	}
	env := map[string]any{}
	for name, key := range envKeys {
		v, ok := lookup(name)
		if !ok {
			continue
		}
		if key == "gateway.cors.origins" {
			env[key] = splitList(v)
		} else {
			env[key] = v
		}
	}
	if err := k.Load(confmap.Provider(env, "."), nil); err != nil {
		return Config{}, fmt.Errorf("%w: environment: %v", ErrInvalid, err)
	}
	cfg := Default()
	if err := unmarshal(k, &cfg); err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	cfg.extensions, cfg.lookup = extensions, lookup
	return cfg, nil
}

// ownKeys are the top-level keys of Config.
var ownKeys = func() []string {
	var keys []string
	for f := range reflect.TypeFor[Config]().Fields() {
		if key := f.Tag.Get("koanf"); key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}()

// unmarshal decodes everything in k into out, a pointer to a struct whose
// fields hold their defaults. A key out has no field for, or a value of the
// wrong type, is an error naming the key, on one line.
func unmarshal(k *koanf.Koanf, out any) error {
	err := k.UnmarshalWithConf("", out, koanf.UnmarshalConf{
		Tag: "koanf",
		DecoderConfig: &mapstructure.DecoderConfig{
			DecodeHook: mapstructure.ComposeDecodeHookFunc(
				mapstructure.StringToTimeDurationHookFunc(),
				mapstructure.StringToSliceHookFunc(","),
			),
			WeaklyTypedInput: true,
			ErrorUnused:      true,
			Result:           out,
		},
	})
	if err != nil {
		return fmt.Errorf("%w: %s", ErrInvalid, firstLine(err.Error()))
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimPrefix(s, "decoding failed due to the following error(s):\n\n")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// Validate checks the values that would otherwise fail later and less
// clearly, or not fail at all (a pong timeout of 0 drops every client at its
// first ping). The error names the first bad key, on one line.
func (c Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		return bad("http.addr", "%q is not host:port", c.HTTP.Addr)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return bad("http.addr", "bad port %q", port)
	}
	if c.HTTP.MaxConnections < 0 {
		return bad("http.maxConnections", "must not be negative (0: from the open-file limit), got %d", c.HTTP.MaxConnections)
	}
	if _, err := zapcore.ParseLevel(c.Log.Level); err != nil {
		return bad("log.level", "unknown level %q (debug, info, warn, error)", c.Log.Level)
	}
	if c.Log.Format != "json" && c.Log.Format != "console" {
		return bad("log.format", "%q is neither json nor console", c.Log.Format)
	}
	if c.Auth.JWTSecret == "" && c.Auth.JWKSURL == "" && c.Auth.JWKSFile == "" {
		return bad("auth.jwtSecret", "set JWT_SECRET, or JWT_JWKS_URL / JWT_JWKS_FILE")
	}
	if c.Auth.Leeway < 0 {
		return bad("auth.leeway", "must not be negative, got %v", c.Auth.Leeway)
	}
	if c.Wallet.Port < 1 || c.Wallet.Port > 65535 {
		return bad("wallet.port", "must be 1..65535, got %d", c.Wallet.Port)
	}
	if c.Wallet.MaxFrameBytes < 1 {
		return bad("wallet.maxFrameBytes", "must be positive")
	}
	if c.Gateway.MaxMessageBytes < 1 {
		return bad("gateway.maxMessageBytes", "must be positive")
	}
	if c.Gateway.QueueSize < 1 {
		return bad("gateway.queueSize", "must be positive")
	}
	if c.Gateway.MaxQueueBytes < 1 {
		return bad("gateway.maxQueueBytes", "must be positive, got %d", c.Gateway.MaxQueueBytes)
	}
	if c.Gateway.RateLimit.PerSecond <= 0 || c.Gateway.RateLimit.Burst < 1 {
		return bad("gateway.rateLimit", "perSecond and burst must be positive")
	}
	if c.Gateway.Receipts.MaxPending < 1 || c.Gateway.Receipts.MaxRecipients < 1 {
		return bad("gateway.receipts", "maxPending and maxRecipients must be positive")
	}
	if c.Gateway.MaxSessionsPerUser < 0 {
		return bad("gateway.maxSessionsPerUser", "must not be negative (0: no limit), got %d", c.Gateway.MaxSessionsPerUser)
	}
	if c.Recovery.MaxMessages < 1 {
		return bad("recovery.maxMessages", "must be positive, got %d", c.Recovery.MaxMessages)
	}
	if len(c.Gateway.CORS.Origins) == 0 {
		return bad("gateway.cors.origins", "list at least one origin, or \"*\"")
	}
	if err := c.validateDurations(); err != nil {
		return err
	}
	return c.validatePaths()
}

// bad is the error of an invalid key: one line, naming it.
func bad(key, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalid, key, fmt.Sprintf(format, args...))
}

// validateDurations checks every duration: each is positive (or, for a
// delay or a leeway, not negative), and related ones are in order.
func (c Config) validateDurations() error {
	for _, d := range []struct {
		key string
		d   time.Duration
	}{
		{"http.requestTimeout", c.HTTP.RequestTimeout},
		{"http.writeTimeout", c.HTTP.WriteTimeout},
		{"http.idleTimeout", c.HTTP.IdleTimeout},
		{"gateway.pingInterval", c.Gateway.PingInterval},
		{"gateway.pongTimeout", c.Gateway.PongTimeout},
		{"gateway.writeTimeout", c.Gateway.WriteTimeout},
		{"gateway.socketIO.connectTimeout", c.Gateway.SocketIO.ConnectTimeout},
		{"wallet.pingInterval", c.Wallet.PingInterval},
		{"wallet.pongTimeout", c.Wallet.PongTimeout},
		{"wallet.callTimeout", c.Wallet.CallTimeout},
		{"wallet.backoffMin", c.Wallet.BackoffMin},
		{"wallet.backoffMax", c.Wallet.BackoffMax},
		{"shutdownTimeout", c.ShutdownTimeout},
		{"recovery.window", c.Recovery.Window},
	} {
		if d.d <= 0 {
			return bad(d.key, "must be positive, got %v", d.d)
		}
	}
	// A pong that may come after the next ping is due leaves no time to
	// tell a dead peer from a slow one.
	if c.Gateway.PongTimeout >= c.Gateway.PingInterval {
		return bad("gateway.pongTimeout", "must be less than gateway.pingInterval (%v), got %v", c.Gateway.PingInterval, c.Gateway.PongTimeout)
	}
	if c.Wallet.PongTimeout >= c.Wallet.PingInterval {
		return bad("wallet.pongTimeout", "must be less than wallet.pingInterval (%v), got %v", c.Wallet.PingInterval, c.Wallet.PongTimeout)
	}
	if c.Wallet.BackoffMin > c.Wallet.BackoffMax {
		return bad("wallet.backoffMin", "must not exceed wallet.backoffMax (%v), got %v", c.Wallet.BackoffMax, c.Wallet.BackoffMin)
	}
	if c.ShutdownDrainDelay < 0 {
		return bad("shutdownDrainDelay", "must not be negative, got %v", c.ShutdownDrainDelay)
	}
	// The drain delay is spent inside the stop's bound, which must leave
	// time for the stop itself.
	if c.ShutdownDrainDelay >= c.ShutdownTimeout {
		return bad("shutdownDrainDelay", "must be less than shutdownTimeout (%v), got %v", c.ShutdownTimeout, c.ShutdownDrainDelay)
	}
	return nil
}

// restRoutes are the paths the gateway's own modules serve over HTTP; one
// ending in "/" stands for its whole subtree. The WebSocket endpoints must
// not take one of them. modules/app's test checks that every route the
// application registers is here.
var restRoutes = []string{
	"/", "/healthz", "/readyz", "/metrics", "/notifications/", "/rooms/", "/users/", "/lobby/", "/dev/wallet/", "/debug/pprof/", "/docs/",
}

// validatePaths checks the WebSocket endpoints' paths: each is a plain path,
// they differ, and neither takes a REST route.
func (c Config) validatePaths() error {
	paths := []struct{ key, path string }{{"gateway.path", c.Gateway.Path}}
	if c.Gateway.SocketIO.Enabled {
		paths = append(paths, struct{ key, path string }{"gateway.socketIO.path", c.Gateway.SocketIO.Path})
	}
	for _, p := range paths {
		if !strings.HasPrefix(p.path, "/") || strings.ContainsAny(p.path, ":*?# ") {
			return bad(p.key, "%q must start with \"/\" and be a plain path (no ':', '*', '?', '#' or space)", p.path)
		}
		if r, ok := restRoute(p.path); ok {
			return bad(p.key, "%q is taken by the REST route %s", p.path, r)
		}
	}
	if len(paths) == 2 && strings.TrimSuffix(paths[0].path, "/") == strings.TrimSuffix(paths[1].path, "/") {
		return bad("gateway.socketIO.path", "%q must differ from gateway.path", paths[1].path)
	}
	return nil
}

// restRoute returns the REST route that p would take, if any.
func restRoute(p string) (string, bool) {
	trimmed := strings.TrimSuffix(p, "/")
	for _, r := range restRoutes {
		subtree := r != "/" && strings.HasSuffix(r, "/")
		if trimmed == strings.TrimSuffix(r, "/") || subtree && strings.HasPrefix(p, r) {
			return r, true
		}
	}
	return "", false
}
