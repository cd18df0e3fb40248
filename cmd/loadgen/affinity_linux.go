package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// pinCPUs confines this process, and the workers it will start, to the CPUs
// of list ("1", "0-3,6"), like taskset -c: on a 2-CPU machine, the server on
// one CPU and the load generator on the other keeps either from measuring
// the other's limits. The affinity of a Linux thread is its own, so every
// thread of the process is set; threads started later inherit it, and so
// do child processes.
func pinCPUs(list string) error {
	var set unix.CPUSet
	for part := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a || b >= 1024 {
			return fmt.Errorf("--cpu %q: want a list such as 1 or 0-3,6", list)
		}
		for cpu := a; cpu <= b; cpu++ {
			set.Set(cpu)
		}
	}
	// Pass over the threads until no new one turns up: one started by a
	// thread not yet pinned would keep the old mask.
	pinned := make(map[string]bool)
	for {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("--cpu: %w", err)
		}
		found := false
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil || pinned[t.Name()] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil {
				return fmt.Errorf("--cpu %q: %w", list, err)
			}
			pinned[t.Name()], found = true, true
		}
		if !found {
			break
		}
	}
	runtime.GOMAXPROCS(set.Count())
	return nil
}
