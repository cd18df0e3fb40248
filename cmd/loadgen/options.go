package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// Common are the options every scenario shares.
type Common struct {
	// URL is the server's base URL, http://host:port; the WebSocket
	// endpoint is URL+Path on ws://, the REST API under URL. OtherURLs are
	// more nodes of the same cluster: client i connects to the i % n-th of
	// all n, and broadcasts still go to URL (node A).
	URL       string   `json:"url"`
	OtherURLs []string `json:"otherUrls,omitempty"`
	Path      string   `json:"path"`
	// Proto is "contract" (the plain frames at Path) or "socketio"
	// (Engine.IO at SIOPath, namespace Path). Transport is Socket.IO's:
	// "websocket", or "polling" (HTTP long-polling, never upgraded).
	Proto     string `json:"proto"`
	SIOPath   string `json:"sioPath,omitempty"`
	Transport string `json:"transport"`
	// Secret is the HS256 key the clients' and the REST caller's tokens are
	// signed with; Role is the role the REST token carries.
	Secret     string `json:"-"`
	Role       string `json:"role"`
	UserPrefix string `json:"userPrefix"`

	Clients        int           `json:"clients"`
	Concurrency    int           `json:"concurrency"`
	ConnectTimeout time.Duration `json:"connectTimeoutNs"`
	// Workers > 0 puts the clients in that many worker processes; 0 does so
	// only when Clients exceeds PerProcess.
	Workers    int `json:"workers"`
	PerProcess int `json:"perProcess"`
	// SourceAddrs > 0 spreads the clients' source addresses over
	// 127.0.0.1 … 127.0.0.SourceAddrs; 0 picks one per 25,000 clients.
	SourceAddrs int `json:"sourceAddrs"`

	// Reader is how clients read: "epoll" (many sockets in one epoll set
	// per CPU, read where the wake-up lands) or "goroutine" (a goroutine
	// per connection, in coder/websocket).
	Reader string `json:"reader"`

	// ServerPIDs, when set, are where the servers' CPU time and RSS are
	// read (summed); else each URL's /metrics. BrokerPID is the cluster's
	// message broker (nats-server, redis-server), measured on its own.
	ServerPIDs []int `json:"serverPids,omitempty"`
	BrokerPID  int   `json:"brokerPid,omitempty"`
	// Progress is the interval of progress lines on Log; 0: none.
	Progress time.Duration `json:"-"`
	Log      io.Writer     `json:"-"`
	Label    string        `json:"-"`
}

// portsPerAddr is how many connections one source address is given: the
// kernel's default ephemeral range holds ~28,000 ports.
const portsPerAddr = 25_000

func defaultCommon(clients int) Common {
	return Common{
		URL: "http://127.0.0.1:8080", Path: "/game", Proto: "contract", SIOPath: "/socket.io/", Transport: "websocket", Reader: defaultReader,
		Secret: "dev-secret-change-me", Role: "admin",
		UserPrefix: "lg-", Clients: clients, Concurrency: 64, ConnectTimeout: 30 * time.Second,
		PerProcess: 10_000, Progress: time.Second, Log: io.Discard,
	}
}

func (o Common) validate() error {
	var errs []error
	if o.Clients < 1 {
		errs = append(errs, errors.New("--clients must be at least 1"))
	}
	if o.Concurrency < 1 {
		errs = append(errs, errors.New("--concurrency must be at least 1"))
	}
	if o.PerProcess < 1 {
		errs = append(errs, errors.New("--per-process must be at least 1"))
	}
	if o.Workers < 0 || o.Workers > o.Clients {
		errs = append(errs, errors.New("--workers must be 0 (automatic) to --clients"))
	}
	if o.SourceAddrs < 0 || o.SourceAddrs > 1<<16 {
		errs = append(errs, errors.New("--src-addrs must be 0 (automatic) to 65536"))
	}
	for _, raw := range o.urls() {
		u, err := url.Parse(raw)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--url: %w", err))
		case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
			errs = append(errs, fmt.Errorf("--url %q: want http://host:port", raw))
		case o.polling() && u.Scheme != "http":
			errs = append(errs, fmt.Errorf("--url %q: the polling clients speak plain HTTP: want http://host:port", raw))
		case o.sourceAddrs() > 0 && !isLoopback(u.Hostname()):
			errs = append(errs, fmt.Errorf("--src-addrs: the source addresses are in 127.0.0.0/8, which reaches only a loopback server, not %s", u.Hostname()))
		}
	}
	if o.Reader != "goroutine" && o.Reader != "epoll" {
		errs = append(errs, fmt.Errorf("--reader %q: want epoll or goroutine", o.Reader))
	} else if o.Reader == "epoll" && !epollReader {
		errs = append(errs, errors.New("--reader epoll: Linux only; use --reader goroutine"))
	}
	if !strings.HasPrefix(o.Path, "/") || !strings.HasPrefix(o.SIOPath, "/") {
		errs = append(errs, errors.New("--path and --sio-path must start with /"))
	}
	if o.Proto != "contract" && o.Proto != "socketio" {
		errs = append(errs, fmt.Errorf("--proto %q: want contract or socketio", o.Proto))
	}
	switch {
	case o.Transport != "websocket" && o.Transport != "polling":
		errs = append(errs, fmt.Errorf("--transport %q: want websocket or polling", o.Transport))
	case o.polling() && o.Proto != "socketio":
		errs = append(errs, errors.New("--transport polling is Socket.IO's (Engine.IO long-polling): add --proto socketio"))
	case o.polling() && o.Reader == "epoll":
		errs = append(errs, errors.New("--transport polling: each client polls with a goroutine of its own; --reader epoll does not apply (leave --reader out)"))
	}
	return errors.Join(errs...)
}

// polling reports whether the clients are Socket.IO's over long-polling.
func (o Common) polling() bool { return o.Transport == "polling" }

// errPollingScenario refuses a scenario the polling clients do not run.
func errPollingScenario(scenario string) error {
	return fmt.Errorf("%s: not with --transport polling, whose clients send only between their GETs (a request would wait behind a pending poll); fanout and connections poll", scenario)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sourceAddrs is the number of source addresses to spread over, 0 for the
// kernel's choice.
func (o Common) sourceAddrs() int {
	if o.SourceAddrs > 0 {
		return o.SourceAddrs
	}
	if n := (o.Clients + portsPerAddr - 1) / portsPerAddr; n > 1 {
		return n
	}
	return 0
}

// urls is every node the clients connect to, node A first.
func (o Common) urls() []string { return append([]string{o.URL}, o.OtherURLs...) }

// clientURLs is the endpoint the clients connect to on each of o.urls():
// the WebSocket one, or Engine.IO's long-polling handshake.
func (o Common) clientURLs() ([]string, error) {
	var all []string
	for _, raw := range o.urls() {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("--url: %w", err)
		}
		switch {
		case o.Proto == "socketio" && o.polling():
			u.Path, u.RawQuery = o.SIOPath, "EIO=4&transport=polling"
		case o.Proto == "socketio":
			u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
			u.Path, u.RawQuery = o.SIOPath, "EIO=4&transport=websocket"
		default:
			u.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
			u.Path = o.Path
		}
		all = append(all, u.String())
	}
	return all, nil
}

// FanoutOptions drive the fanout scenario: clients in rooms, broadcasts
// through POST /notifications/broadcast.
type FanoutOptions struct {
	Common
	Rooms      int    `json:"rooms"`
	RoomPrefix string `json:"roomPrefix"`
	// Rate is broadcasts per second over all rooms; 0 sends flat out,
	// keeping InFlight broadcasts sent but not yet received by every member.
	Rate     float64 `json:"rate"`
	InFlight int     `json:"inFlight"`
	// The measured phase sends Messages broadcasts (0: no limit) for at most
	// Duration, after Warmup unmeasured ones; then it waits up to Drain for
	// the deliveries still due.
	Messages int           `json:"messages"`
	Duration time.Duration `json:"durationNs"`
	Warmup   int           `json:"warmup"`
	Drain    time.Duration `json:"drainNs"`
	// Payload pads each message with that many bytes.
	Payload int `json:"payload"`
	// Settle is a pause after joining, before the server's RSS is read;
	// with stalled clients, also after the drain, before the kernel's TCP
	// memory is read the last time.
	Settle time.Duration `json:"settleNs"`
	// Stalled clients join the rooms as well (numbered on from Clients, in
	// rooms the same way) and then never read: the server must find and
	// close them, and the clients that read must not notice.
	Stalled int `json:"stalled,omitempty"`
	// CheckClients of the readers, picked at random, read with a goroutine
	// each in coder/websocket whatever Reader is: their latencies, reported
	// apart, check the other readers' figures.
	CheckClients int `json:"checkClients,omitempty"`
}

// DefaultFanout is 1,000 clients in one room, flat out with 4 in flight.
func DefaultFanout() FanoutOptions {
	return FanoutOptions{
		Common: defaultCommon(1000), Rooms: 1, RoomPrefix: "bench-", InFlight: 4,
		Duration: 10 * time.Second, Warmup: 10, Drain: 10 * time.Second,
	}
}

func (o FanoutOptions) validate() error {
	var errs []error
	if o.Rooms < 1 {
		errs = append(errs, errors.New("--rooms must be at least 1"))
	}
	if o.Rate < 0 {
		errs = append(errs, errors.New("--rate must be 0 (flat out) or more"))
	}
	if o.InFlight < 1 {
		errs = append(errs, errors.New("--inflight must be at least 1"))
	}
	if o.Messages < 0 || o.Warmup < 0 || o.Payload < 0 || o.Stalled < 0 {
		errs = append(errs, errors.New("--messages, --warmup, --payload and --stalled must not be negative"))
	}
	if o.CheckClients < 0 || o.CheckClients > o.Clients {
		errs = append(errs, errors.New("--check-clients must be 0 to --clients"))
	}
	if o.Messages == 0 && o.Duration <= 0 {
		errs = append(errs, errors.New("set --messages or a positive --duration"))
	}
	if o.Stalled > 0 && o.polling() {
		errs = append(errs, errors.New("--stalled: not with --transport polling (a polling client that stops polling is ended by the heartbeat, not as a slow consumer)"))
	}
	return errors.Join(append(errs, o.Common.validate())...)
}

// ConnectionsOptions drive the connections scenario: idle clients, held.
type ConnectionsOptions struct {
	Common
	// Hold is how long the clients stay connected before the server's RSS
	// is read and they are checked.
	Hold time.Duration `json:"holdNs"`
}

// DefaultConnections is 1,000 clients held 3 s.
func DefaultConnections() ConnectionsOptions {
	return ConnectionsOptions{Common: defaultCommon(1000), Hold: 3 * time.Second}
}

// RoundTripOptions drive echo (ping → pong) and wallet (getBalance →
// balance).
type RoundTripOptions struct {
	Common
	Event string `json:"event"`
	Reply string `json:"reply"`
	// Rate is requests per second per client; 0: closed loop, the next
	// request as soon as a reply frees the window.
	Rate float64 `json:"rate"`
	// Window bounds one client's requests awaiting a reply; 0: 1 in a
	// closed loop, 8 when paced.
	Window   int           `json:"window"`
	Warmup   time.Duration `json:"warmupNs"`
	Duration time.Duration `json:"durationNs"`
	Drain    time.Duration `json:"drainNs"`
}

// DefaultEcho is 200 clients, 40 pings per second each: below the
// gateway's default limit of 50 messages per second per connection.
func DefaultEcho() RoundTripOptions {
	return RoundTripOptions{
		Common: defaultCommon(200), Event: "ping", Reply: "pong", Rate: 40,
		Warmup: time.Second, Duration: 10 * time.Second, Drain: 5 * time.Second,
	}
}

// DefaultWallet is DefaultEcho asking for balances.
func DefaultWallet() RoundTripOptions {
	o := DefaultEcho()
	o.Event, o.Reply = "getBalance", "balance"
	return o
}

func (o RoundTripOptions) validate() error {
	var errs []error
	if o.Rate < 0 {
		errs = append(errs, errors.New("--rate must be 0 (closed loop) or more"))
	}
	if o.Window < 0 {
		errs = append(errs, errors.New("--window must be 0 (automatic) or more"))
	}
	if o.Duration <= 0 {
		errs = append(errs, errors.New("--duration must be positive"))
	}
	return errors.Join(append(errs, o.Common.validate())...)
}
