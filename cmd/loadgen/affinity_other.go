//go:build !linux

package main

import "errors"

// pinCPUs is Linux-only; elsewhere use the system's own tool.
func pinCPUs(string) error { return errors.New("--cpu is supported on Linux only") }
