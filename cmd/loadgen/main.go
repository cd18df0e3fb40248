// Command loadgen is the gateway's load generator: it drives a running
// gateway (this project's, or the NestJS peer it replaces) with WebSocket
// clients and REST broadcasts over loopback, and reports throughput,
// latency, losses and who used the CPU. "loadgen --help" says how.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if os.Getenv(workerEnv) != "" {
		os.Exit(serveWorker(os.Stdin, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run returns the exit status: 0 a clean run, 1 a failed or unclean one, 2
// bad usage.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, err := parseArgs(args, stderr)
	if errors.Is(err, errHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	cmd.common.Log = stderr
	if cmd.cpus != "" {
		if err := pinCPUs(cmd.cpus); err != nil {
			fmt.Fprintln(stderr, "loadgen:", err)
			return 2
		}
	}
	if _, err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
	}
	report, err := cmd.run(ctx)
	if err != nil && ctx.Err() != nil {
		err = errors.New("interrupted") // rather than each shard's "context canceled"
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	if err := report.WriteJSON(stdout); err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	report.WriteSummary(stderr)
	if !report.OK {
		return 1
	}
	return 0
}

// errUsage marks options that do not make a run.
var errUsage = errors.New("invalid options")
