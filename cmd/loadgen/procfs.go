package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ): 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// selfCPU is this process's user + system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// raiseFileLimit raises the soft open-file limit to the hard one and
// returns it: every client is a socket.
func raiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("open-file limit: %w", err)
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
			return 0, fmt.Errorf("raise open-file limit to %d: %w", l.Max, err)
		}
	}
	return l.Cur, nil
}

// ProcSample is a server's CPU time and resident memory at one moment.
type ProcSample struct {
	CPU time.Duration
	RSS int64 // bytes
}

// serverProbe reads the server's CPU time and RSS: from /proc with
// --server-pid, else from its Prometheus process metrics (the Go gateway's
// /metrics has them; the NestJS peer has no /metrics and needs the pid).
type serverProbe interface {
	Sample(ctx context.Context) (ProcSample, error)
	Source() string
}

type procProbe struct{ pid int }

func (p procProbe) Source() string { return "/proc/" + strconv.Itoa(p.pid) }

func (p procProbe) Sample(context.Context) (ProcSample, error) {
	cpu, err := procCPU(p.pid)
	if err != nil {
		return ProcSample{}, err
	}
	rss, err := procRSS(p.pid)
	return ProcSample{CPU: cpu, RSS: rss}, err
}

// procCPU is utime + stime of /proc/PID/stat.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// fields from the last ')'. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("server CPU: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("server CPU: malformed /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("server CPU: %w", err)
	}
	return time.Duration(utime+stime) * clockTick, nil
}

// procRSS is VmRSS of /proc/PID/status, in bytes.
func procRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("server RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("server RSS: %w", err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("server RSS: no VmRSS in /proc/%d/status", pid)
}

type metricsProbe struct {
	url    string
	client *http.Client
}

func (m metricsProbe) Source() string { return m.url }

func (m metricsProbe) Sample(ctx context.Context) (ProcSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return ProcSample{}, fmt.Errorf("server metrics: %w", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return ProcSample{}, fmt.Errorf("server metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ProcSample{}, fmt.Errorf("server metrics: %s", resp.Status)
	}
	return parseProcessMetrics(resp.Body)
}

// parseProcessMetrics reads process_cpu_seconds_total and
// process_resident_memory_bytes from Prometheus text.
func parseProcessMetrics(r io.Reader) (ProcSample, error) {
	var s ProcSample
	var cpu, rss bool
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		switch name {
		case "process_cpu_seconds_total":
			f, err := strconv.ParseFloat(value, 64)
			s.CPU, cpu = time.Duration(f*float64(time.Second)), err == nil
		case "process_resident_memory_bytes":
			f, err := strconv.ParseFloat(value, 64)
			s.RSS, rss = int64(f), err == nil
		}
	}
	if !cpu || !rss {
		return ProcSample{}, errors.New("server metrics: no process_cpu_seconds_total or process_resident_memory_bytes")
	}
	return s, sc.Err()
}

// hostCPU is the machine's busy and total CPU time from /proc/stat, summed
// over every CPU.
func hostCPU() (busy, total time.Duration, err error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0, fmt.Errorf("host CPU: %w", err)
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("host CPU: %w", err)
	}
	// cpu user nice system idle iowait irq softirq steal guest guest_nice;
	// guest time is already inside user.
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, 0, errors.New("host CPU: malformed /proc/stat")
	}
	for i, v := range fields[1:9] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("host CPU: %w", err)
		}
		total += time.Duration(n) * clockTick
		if i != 3 && i != 4 { // idle, iowait
			busy += time.Duration(n) * clockTick
		}
	}
	return busy, total, nil
}

// cpusAllowed is the Cpus_allowed_list of /proc/self/status ("0-1"), or ""
// where there is no /proc.
func cpusAllowed() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// tcpMemory is what the kernel holds for the TCP sockets of the whole
// machine, in bytes: the pages of the "mem" field of /proc/net/sockstat's
// TCP line.
func tcpMemory() (int64, error) {
	b, err := os.ReadFile("/proc/net/sockstat")
	if err != nil {
		return 0, fmt.Errorf("kernel TCP memory: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		fields, ok := strings.CutPrefix(line, "TCP:")
		if !ok {
			continue
		}
		f := strings.Fields(fields)
		for i := 0; i+1 < len(f); i += 2 {
			if f[i] == "mem" {
				pages, err := strconv.ParseInt(f[i+1], 10, 64)
				if err != nil {
					return 0, fmt.Errorf("kernel TCP memory: %w", err)
				}
				return pages * int64(os.Getpagesize()), nil
			}
		}
	}
	return 0, errors.New("kernel TCP memory: no TCP mem in /proc/net/sockstat")
}
