package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

const usageText = `loadgen drives a game gateway — this project's or the NestJS peer, which
speak the same protocol — with WebSocket clients on loopback, and reports
what it measured. Clients speak the gateway's plain frames at /game, or
Socket.IO with --proto socketio (both servers serve it at /socket.io/),
over a WebSocket or, with --transport polling, over Engine.IO's HTTP
long-polling, never upgraded (fanout and connections).

usage: loadgen <scenario> [flags]

scenarios:
  fanout       clients in rooms; broadcasts through POST /notifications/broadcast,
               paced (--rate) or flat out (--inflight): deliveries/s, latency, lost
  connections  idle authenticated clients: connect rate, handshake latency,
               the server's RSS per connection
  echo         ping → pong round trips
  wallet       getBalance → balance round trips, through the gateway to the wallet

Progress and a readable summary go to stderr, one JSON line to stdout. Exit
status: 0 a clean run; 1 a run that failed, lost messages, had errors or
failed connections; 2 bad usage.

The server's CPU and RSS come from /proc with --server-pid, else from its
/metrics. Clients beyond --per-process go to worker processes (the open-file
limit), beyond 25,000 they spread over source addresses 127.0.0.N.

Clients read from one epoll set per CPU (--reader epoll, the default on
Linux), many sockets per wake-up, so that the tool costs far less CPU per
delivery than the server; --reader goroutine gives each connection a
goroutine of its own, the plain way. A polling client is a goroutine that
makes one request at a time over a keep-alive connection of its own: a long
GET that takes every packet waiting, a POST to answer a ping. A cluster:
--url once per node (client i on node i % n, broadcasts to the first),
--server-pid once per node, --broker-pid for NATS or Redis.

examples:
  loadgen fanout --clients 5000 --rate 10 --duration 20s --server-pid $PID
  loadgen fanout --clients 1000 --inflight 4 --duration 20s --server-pid $PID
  loadgen fanout --proto socketio --transport polling --clients 200 --rate 10 --duration 10s --server-pid $PID
  loadgen fanout --clients 1000 --stalled 500 --rate 20 --payload 1000 --duration 90s --settle 3s
  loadgen fanout --clients 2000 --rate 10 --url $A --url $B --server-pid $PA --server-pid $PB --broker-pid $NATS
  loadgen connections --clients 10000 --server-pid $PID
  loadgen echo --clients 100 --rate 0
  loadgen wallet

Run "loadgen <scenario> --help" for the scenario's flags.
`

// command is a parsed command line: a scenario bound to its options.
type command struct {
	scenario string
	common   *Common
	cpus     string // --cpu
	run      func(ctx context.Context) (*Report, error)
}

// errHelp is returned when the user asked for help, which was printed.
var errHelp = flag.ErrHelp

// parseArgs parses the command line; help and errors go to stderr.
func parseArgs(args []string, stderr io.Writer) (*command, error) {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usageText)
		if len(args) == 0 {
			return nil, errors.New("no scenario")
		}
		return nil, errHelp
	}
	cmd := &command{scenario: args[0]}
	fs := flag.NewFlagSet("loadgen "+cmd.scenario, flag.ContinueOnError)
	fs.SetOutput(stderr)
	switch cmd.scenario {
	case "fanout":
		o := DefaultFanout()
		fanoutFlags(fs, &o)
		cmd.common, cmd.run = &o.Common, func(ctx context.Context) (*Report, error) { return runFanout(ctx, o) }
	case "connections":
		o := DefaultConnections()
		fs.DurationVar(&o.Hold, "hold", o.Hold, "how long the clients stay connected before the server's RSS is read")
		cmd.common, cmd.run = &o.Common, func(ctx context.Context) (*Report, error) { return runConnections(ctx, o) }
	case "echo", "wallet":
		o := DefaultEcho()
		if cmd.scenario == "wallet" {
			o = DefaultWallet()
		}
		roundTripFlags(fs, &o)
		cmd.common, cmd.run = &o.Common, func(ctx context.Context) (*Report, error) { return runRoundTrips(ctx, cmd.scenario, o) }
	default:
		fmt.Fprint(stderr, usageText)
		return nil, fmt.Errorf("unknown scenario %q", cmd.scenario)
	}
	commonFlags(fs, cmd.common)
	var secret string
	fs.StringVar(&secret, "secret", "", "HS256 key to sign the tokens with (default $JWT_SECRET, else the shipped development key)")
	fs.StringVar(&cmd.cpus, "cpu", "", "pin loadgen and its workers to these CPUs, as taskset -c takes them (\"1\", \"0-3,6\")")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loadgen %s [flags]\n\n%s\nflags:\n", cmd.scenario, scenarioHelp[cmd.scenario])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// A polling client is a goroutine of its own: the default reader is
	// for WebSockets.
	if cmd.common.polling() && !flagSet(fs, "reader") {
		cmd.common.Reader = "goroutine"
	}
	if secret = cmp.Or(secret, os.Getenv("JWT_SECRET")); secret != "" {
		cmd.common.Secret = secret
	}
	return cmd, nil
}

// flagSet reports whether the command line set flag name.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

var scenarioHelp = map[string]string{
	"fanout": `Clients join rooms (client i: room i % --rooms); broadcasts go through
POST /notifications/broadcast, each carrying its seq and send time; every
client times what it receives and checks off its room's seqs. --warmup
unmeasured broadcasts, then --duration (or --messages) of measured ones, paced
at --rate per second or flat out with --inflight broadcasts undelivered; then
up to --drain for what is still due. Reports deliveries/s, latency from POST
to receipt, lost = expected - received, and the server's CPU per delivery.
With the gateway's /metrics reachable, also its own fan-out time (a
broadcast's arrival to its last member's frame written) over the measured
phase. --check-clients N reads N clients, picked at random, with a
goroutine each and reports their latency apart: a check on the main
reader's figures.

With --proto socketio --transport polling the clients long-poll: each
makes the Engine.IO handshake GET, POSTs its CONNECT (auth {token}) and
joinRoom, then GETs in a loop, each GET answered with every packet waiting
(a POST of 3 answers a ping before the next GET); a delivery's latency ends
when its GET's answer has been read whole. --stalled does not apply.

--stalled N adds N clients (numbered on from --clients, in rooms the same
way) that join their room, read their greeting and joinedRoom, and then never
read again: what is sent to them backs up until the server closes them as
slow consumers. They connect with the others and are spread over the same
processes, but count in no delivery figure (lost, latency). Their sockets
are looked at every 50 ms (TCP_INFO), never read: the report says how many
the server closed (and reset), when, counted from the first measured
broadcast, and how many bytes of broadcasts had been sent to each by then;
and the machine's kernel TCP memory (/proc/net/sockstat) before the first
broadcast, at its peak, and at the end: after the drain, up to --drain more
for the server to end the stalled clients still open, then --settle. A
stalled client learns of its end only when its connection is cut: at once if
the server resets it, else when the server stops waiting for an answer to
its close frame (5 s in this gateway), which the time then includes. Send for
long enough to fill the server's bound (gateway.maxQueueBytes, with the
kernel's buffers on top), and set its heartbeat long if the bound alone is
to act.
`,
	"connections": `Connects --clients idle authenticated clients and holds them for --hold.
Reports the connect rate, handshake latency (dial to the "connected" event),
the server's CPU per handshake and RSS per connection, and any dropped.
With --proto socketio --transport polling, each client holds a GET waiting.
`,
	"echo": `Every client sends ping and times the pong with the same id, --rate per
second each (0: a closed loop, one at a time).
`,
	"wallet": `Every client sends getBalance and times the balance with the same id: a round
trip through the gateway to the wallet server and back.
`,
}

func commonFlags(fs *flag.FlagSet, o *Common) {
	fs.Var(&urlsFlag{o: o}, "url", "the server's base URL; repeated, the nodes of one cluster: client i connects to the i % n-th, broadcasts go to the first")
	fs.StringVar(&o.Path, "path", o.Path, "the WebSocket endpoint's path (the namespace, with --proto socketio)")
	fs.StringVar(&o.Proto, "proto", o.Proto, "contract (the plain {\"event\",\"data\"} frames) or socketio (Engine.IO 4, over --transport)")
	fs.StringVar(&o.SIOPath, "sio-path", o.SIOPath, "the Socket.IO endpoint's path, with --proto socketio")
	fs.StringVar(&o.Transport, "transport", o.Transport, "Socket.IO's transport, with --proto socketio: websocket, or polling (HTTP long-polling, never upgraded; fanout and connections only)")
	fs.StringVar(&o.Role, "role", o.Role, "role of the REST caller's token")
	fs.StringVar(&o.UserPrefix, "user-prefix", o.UserPrefix, "client i is user <prefix><i>")
	fs.IntVar(&o.Clients, "clients", o.Clients, "WebSocket clients")
	fs.IntVar(&o.Concurrency, "concurrency", o.Concurrency, "handshakes under way at once")
	fs.DurationVar(&o.ConnectTimeout, "connect-timeout", o.ConnectTimeout, "bound of one client's handshake and join")
	fs.IntVar(&o.Workers, "workers", o.Workers, "worker processes holding the clients (0: as many as --per-process requires)")
	fs.IntVar(&o.PerProcess, "per-process", o.PerProcess, "most clients in one process (keep under the open-file limit)")
	fs.IntVar(&o.SourceAddrs, "src-addrs", o.SourceAddrs, "spread source addresses over 127.0.0.1..N (0: one per 25,000 clients)")
	fs.StringVar(&o.Reader, "reader", o.Reader, "how clients read: epoll (one epoll set per CPU, many sockets per wake-up; Linux) or goroutine (one per connection; always, with --transport polling)")
	fs.Var(pidsFlag{&o.ServerPIDs}, "server-pid", "the server's pid, for its CPU time and RSS from /proc (else from its /metrics); repeated for the nodes of a cluster, summed")
	fs.IntVar(&o.BrokerPID, "broker-pid", o.BrokerPID, "the cluster's message broker's pid (nats-server, redis-server), for its CPU time and RSS")
	fs.DurationVar(&o.Progress, "progress", o.Progress, "interval of progress lines on stderr (0: none)")
	fs.StringVar(&o.Label, "label", o.Label, "a label copied into the report")
}

func fanoutFlags(fs *flag.FlagSet, o *FanoutOptions) {
	fs.IntVar(&o.Rooms, "rooms", o.Rooms, "rooms; client i joins room i % rooms, broadcast k goes to room k % rooms")
	fs.StringVar(&o.RoomPrefix, "room-prefix", o.RoomPrefix, "room names are <prefix><n>")
	fs.Float64Var(&o.Rate, "rate", o.Rate, "broadcasts per second over all rooms (0: flat out, see --inflight)")
	fs.IntVar(&o.InFlight, "inflight", o.InFlight, "flat out: broadcasts sent but not yet received by every member")
	fs.IntVar(&o.Messages, "messages", o.Messages, "measured broadcasts (0: as many as --duration allows)")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "longest measured sending")
	fs.IntVar(&o.Warmup, "warmup", o.Warmup, "unmeasured broadcasts first")
	fs.DurationVar(&o.Drain, "drain", o.Drain, "how long to wait for deliveries still due (also: the longest stall while sending)")
	fs.IntVar(&o.Payload, "payload", o.Payload, "pad each message with this many bytes")
	fs.DurationVar(&o.Settle, "settle", o.Settle, "pause after joining, before reading the server's RSS and sending; with --stalled, also after the drain, before reading the kernel's TCP memory")
	fs.IntVar(&o.Stalled, "stalled", o.Stalled, "more clients that join their room and then never read, for the server to close as slow consumers (see above)")
	fs.IntVar(&o.CheckClients, "check-clients", o.CheckClients, "this many clients, picked at random, read with a goroutine each whatever --reader says; their latency is reported apart")
}

// urlsFlag is --url: the first one replaces the default, each further one
// adds a node.
type urlsFlag struct {
	o   *Common
	set bool
}

func (f *urlsFlag) String() string {
	if f.o == nil {
		return ""
	}
	return strings.Join(f.o.urls(), " ")
}

func (f *urlsFlag) Set(v string) error {
	if !f.set {
		f.o.URL, f.set = v, true
		return nil
	}
	f.o.OtherURLs = append(f.o.OtherURLs, v)
	return nil
}

// pidsFlag is --server-pid, repeatable; 0 stands for none.
type pidsFlag struct{ pids *[]int }

func (f pidsFlag) String() string {
	if f.pids == nil {
		return ""
	}
	return strings.Trim(fmt.Sprint(*f.pids), "[]")
}

func (f pidsFlag) Set(v string) error {
	pid, err := strconv.Atoi(v)
	if err != nil || pid < 0 {
		return fmt.Errorf("want a process id, not %q", v)
	}
	if pid > 0 {
		*f.pids = append(*f.pids, pid)
	}
	return nil
}

func roundTripFlags(fs *flag.FlagSet, o *RoundTripOptions) {
	fs.Float64Var(&o.Rate, "rate", o.Rate, "requests per second per client (0: closed loop); the gateway allows 50 messages/s per connection by default")
	fs.IntVar(&o.Window, "window", o.Window, "requests one client may have awaiting a reply (0: 1 in a closed loop, 8 when paced)")
	fs.DurationVar(&o.Warmup, "warmup", o.Warmup, "unmeasured requests first, for this long")
	fs.DurationVar(&o.Duration, "duration", o.Duration, "measured phase")
	fs.DurationVar(&o.Drain, "drain", o.Drain, "how long to wait for replies still due")
}
