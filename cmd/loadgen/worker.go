package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/rpc"
	"os"
	"os/exec"
	"time"
)

// A process holds at most as many connections as its open-file limit allows
// (20,000 here, and raising the hard limit needs privileges), so a large run
// spreads its clients over worker processes: copies of this program, started
// with workerEnv set, each serving one Shard over net/rpc on its stdin and
// stdout. A worker whose stdin closes (its coordinator ended, however) closes
// its connections and exits.

// workerEnv marks a worker process.
const workerEnv = "LOADGEN_WORKER"

// ShardService is a Shard as the worker's RPC service.
type ShardService struct{ s *Shard }

// Connect is Shard.Connect.
func (w *ShardService) Connect(spec ShardSpec, out *ConnectResult) (err error) {
	*out, err = w.s.Connect(context.Background(), spec)
	return err
}

// Stats is Shard.Stats.
func (w *ShardService) Stats(_ struct{}, out *Stats) (err error) {
	*out, err = w.s.Stats(context.Background())
	return err
}

// AwaitArgs bound a wait for deliveries: a call over a pipe has no context.
type AwaitArgs struct {
	Target  int64
	Timeout time.Duration
}

// AwaitDelivered is Shard.AwaitDelivered.
func (w *ShardService) AwaitDelivered(args AwaitArgs, _ *struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), args.Timeout)
	defer cancel()
	return w.s.AwaitDelivered(ctx, args.Target)
}

// StartRequests is Shard.StartRequests.
func (w *ShardService) StartRequests(spec RequestSpec, _ *struct{}) error {
	return w.s.StartRequests(context.Background(), spec)
}

// Result is Shard.Result.
func (w *ShardService) Result(args ResultArgs, out *ShardResult) (err error) {
	*out, err = w.s.Result(context.Background(), args)
	return err
}

// serveWorker is a worker process's main.
func serveWorker(stdin io.ReadCloser, stdout io.WriteCloser, stderr io.Writer) int {
	if _, err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "loadgen worker:", err)
	}
	s := NewShard()
	srv := rpc.NewServer()
	if err := srv.RegisterName("Shard", &ShardService{s}); err != nil {
		fmt.Fprintln(stderr, "loadgen worker:", err)
		return 1
	}
	srv.ServeConn(pipe{stdin, stdout})
	_ = s.Close()
	return 0
}

// pipe joins a read and a write stream into the connection net/rpc wants.
type pipe struct {
	io.ReadCloser
	w io.WriteCloser
}

func (p pipe) Write(b []byte) (int, error) { return p.w.Write(b) }

func (p pipe) Close() error { return errors.Join(p.ReadCloser.Close(), p.w.Close()) }

// remoteShard drives a Shard in a worker process.
type remoteShard struct {
	cmd *exec.Cmd
	rpc *rpc.Client
}

// startWorker starts a worker process.
func startWorker() (*remoteShard, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), workerEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	return &remoteShard{cmd: cmd, rpc: rpc.NewClient(pipe{stdout, stdin})}, nil
}

// call makes one RPC; when ctx ends first, the worker is killed, which also
// ends the call.
func (r *remoteShard) call(ctx context.Context, method string, args, reply any) error {
	c := r.rpc.Go("Shard."+method, args, reply, make(chan *rpc.Call, 1))
	select {
	case <-c.Done:
		return r.callError(method, c.Error)
	case <-ctx.Done():
		_ = r.cmd.Process.Kill()
		<-c.Done
		return ctx.Err()
	}
}

func (r *remoteShard) callError(method string, err error) error {
	if err != nil {
		return fmt.Errorf("worker %d: %s: %w", r.cmd.Process.Pid, method, err)
	}
	return nil
}

// AwaitDelivered waits in the worker, bounded by ctx's deadline there. If
// ctx ends first the call is left to end by itself: waiting is harmless.
func (r *remoteShard) AwaitDelivered(ctx context.Context, target int64) error {
	timeout := time.Hour
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d)
	}
	c := r.rpc.Go("Shard.AwaitDelivered", AwaitArgs{target, timeout}, &struct{}{}, make(chan *rpc.Call, 1))
	select {
	case <-c.Done:
		if c.Error != nil && c.Error.Error() == context.DeadlineExceeded.Error() {
			return context.DeadlineExceeded // the same wait, ended there
		}
		return r.callError("AwaitDelivered", c.Error)
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *remoteShard) Connect(ctx context.Context, spec ShardSpec) (res ConnectResult, err error) {
	return res, r.call(ctx, "Connect", spec, &res)
}

func (r *remoteShard) Stats(ctx context.Context) (st Stats, err error) {
	return st, r.call(ctx, "Stats", struct{}{}, &st)
}

func (r *remoteShard) StartRequests(ctx context.Context, spec RequestSpec) error {
	return r.call(ctx, "StartRequests", spec, &struct{}{})
}

func (r *remoteShard) Result(ctx context.Context, args ResultArgs) (res ShardResult, err error) {
	return res, r.call(ctx, "Result", args, &res)
}

// Close ends the worker: closing its stdin makes it close its connections
// and exit; one that has not after 10 s is killed.
func (r *remoteShard) Close() error {
	_ = r.rpc.Close()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		return <-done
	}
}
