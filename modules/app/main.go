package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/token"
)

const defaultConfig = "./config.yaml"

// Main is the gateway's command line, for cmd/gateway and for the binary of
// a team that adds its own modules:
//
//	gateway [serve] [--config config.yaml]
//	gateway token --sub ID [--roles a,b] [--ttl 1h] [--config config.yaml]
//
// serve runs Options plus extra until SIGINT or SIGTERM. Main returns the
// exit status: 0, 1 for a failed start or stop, 2 for bad usage or a bad
// configuration, the sections of extra's modules included.
func Main(args []string, stdout, stderr io.Writer, extra ...fx.Option) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stderr, extra)
	case "token":
		return mint(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "gateway: unknown command %q (want serve or token)\n", cmd)
		return 2
	}
}

func loadConfig(fs *flag.FlagSet, args []string, stderr io.Writer) (config.Config, bool) {
	path := fs.String("config", defaultConfig, "configuration file")
	if err := fs.Parse(args); err != nil {
		return config.Config{}, false
	}
	cfg, err := config.Load(*path, *path == defaultConfig, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return config.Config{}, false
	}
	return cfg, true
}

func serve(args []string, stderr io.Writer, extra []fx.Option) int {
	fs := flag.NewFlagSet("gateway serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg, ok := loadConfig(fs, args, stderr)
	if !ok {
		return 2
	}
	var log *zap.Logger
	application := fx.New(Options(cfg), fx.Options(extra...), fx.Populate(&log))
	if err := application.Err(); err != nil {
		if bad, ok := config.Invalid(err); ok {
			fmt.Fprintf(stderr, "gateway: %v\n", bad)
			return 2
		}
		fmt.Fprintf(stderr, "gateway: %v\n", err)
		return 1
	}
	startCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := application.Start(startCtx); err != nil {
		fmt.Fprintf(stderr, "gateway: start: %v\n", err)
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	var got os.Signal
	select {
	case got = <-sig:
	case got = <-application.Done():
	}
	log.Info("stopping", zap.Stringer("signal", got),
		zap.Duration("shutdownDrainDelay", cfg.ShutdownDrainDelay), zap.Duration("shutdownTimeout", cfg.ShutdownTimeout))
	start := time.Now()
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancelStop()
	if err := application.Stop(stopCtx); err != nil {
		log.Error("stopped, but not cleanly", zap.Duration("took", time.Since(start)), zap.Error(err))
		fmt.Fprintf(stderr, "gateway: stop: %v\n", err)
		return 1
	}
	log.Info("stopped", zap.Duration("took", time.Since(start)))
	_ = log.Sync()
	return 0
}

func mint(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "user id (the sub claim), required")
	roles := fs.String("roles", "", "comma-separated roles, e.g. admin")
	ttl := fs.Duration("ttl", time.Hour, "lifetime")
	cfg, ok := loadConfig(fs, args, stderr)
	if !ok {
		return 2
	}
	if *sub == "" {
		fmt.Fprintln(stderr, "gateway token: --sub is required")
		return 2
	}
	if cfg.Auth.JWTSecret == "" {
		fmt.Fprintln(stderr, "gateway token: no JWT_SECRET configured; tokens for a JWKS must come from your identity provider")
		return 2
	}
	var roleList []string
	for _, r := range strings.Split(*roles, ",") {
		if r = strings.TrimSpace(r); r != "" {
			roleList = append(roleList, r)
		}
	}
	tok, err := token.Mint([]byte(cfg.Auth.JWTSecret), *sub, roleList, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "gateway token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}
