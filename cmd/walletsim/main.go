// Command walletsim runs a wallet server that speaks the wallet link
// (docs/wallet.md), for development, demos and benchmarks.
//
//	walletsim [--addr host:port] [--currency USD] [--initial-balance 10000]
//	          [--admin-addr host:port] [--max-frame-bytes N] [--log-level info]
//
// Every balance push carries a pushId and is sent again on the next link
// until a gateway acknowledges it (pushAck).
//
// --addr defaults to WALLET_HOST:WALLET_PORT, else 127.0.0.1:7070. With
// --admin-addr, an HTTP endpoint lets a person move money while it runs:
//
//	curl -d '{"userId":"u1","amount":500}' http://127.0.0.1:7071/credit
//
// SIGINT or SIGTERM stops it.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/logging"
	"github.com/gamegate/gamegate/modules/walletsim"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends and returns the exit status: 0, 1 for a failed
// start, 2 for bad usage.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, logCfg, err := parse(args, getenv, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	}
	log, err := logging.New(logCfg)
	if err != nil {
		fmt.Fprintf(stderr, "walletsim: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()

	sim := walletsim.New(cfg, log)
	if err := sim.Start(); err != nil {
		log.Error("walletsim did not start", zap.Error(err))
		return 1
	}
	<-ctx.Done()
	log.Info("walletsim stopping")
	if err := sim.Stop(context.Background()); err != nil {
		log.Error("walletsim did not stop cleanly", zap.Error(err))
		return 1
	}
	return 0
}

// parse reads the flags, with defaults from the environment. It tells
// stderr what is wrong with them.
func parse(args []string, getenv func(string) string, stderr io.Writer) (config.Wallet, config.Log, error) {
	def := config.Default()
	cfg := def.Wallet
	fs := flag.NewFlagSet("walletsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", net.JoinHostPort(cmp.Or(getenv("WALLET_HOST"), cfg.Host),
		cmp.Or(getenv("WALLET_PORT"), strconv.Itoa(cfg.Port))), "listen address (default from WALLET_HOST:WALLET_PORT)")
	fs.StringVar(&cfg.Simulated.Currency, "currency", cfg.Simulated.Currency, "currency of every balance")
	fs.Int64Var(&cfg.Simulated.InitialBalance, "initial-balance", cfg.Simulated.InitialBalance, "balance of a new user, in minor units")
	fs.StringVar(&cfg.Simulated.AdminAddr, "admin-addr", "", "listen address of the admin HTTP endpoint (off when empty)")
	fs.IntVar(&cfg.MaxFrameBytes, "max-frame-bytes", cfg.MaxFrameBytes, "largest request accepted")
	level := fs.String("log-level", cmp.Or(getenv("LOG_LEVEL"), def.Log.Level), "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, config.Log{}, err
	}
	host, port, err := net.SplitHostPort(*addr)
	if err == nil {
		cfg.Port, err = strconv.Atoi(port)
	}
	if err != nil || cfg.Port < 0 || cfg.Port > 65535 {
		fmt.Fprintf(stderr, "walletsim: --addr %q is not host:port\n", *addr)
		return cfg, config.Log{}, fmt.Errorf("bad --addr %q", *addr)
	}
	if cfg.MaxFrameBytes < 1 {
		fmt.Fprintln(stderr, "walletsim: --max-frame-bytes must be positive")
		return cfg, config.Log{}, fmt.Errorf("bad --max-frame-bytes %d", cfg.MaxFrameBytes)
	}
	cfg.Host = host
	return cfg, config.Log{Level: *level, Format: cmp.Or(getenv("LOG_FORMAT"), def.Log.Format)}, nil
}
