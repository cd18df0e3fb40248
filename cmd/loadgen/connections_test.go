package main

import (
	"strings"
	"testing"
	"time"
)

func TestConnections(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultConnections()
	o.Common = common(t, n, 50)
	o.Hold = 200 * time.Millisecond
	r, err := runConnections(ctxFor(t), o)
	if err != nil {
		t.Fatal(err)
	}
	checkConnected(t, r, 50)
	if r.Memory == nil || r.Memory.Connections != 50 || r.Memory.AfterMB <= 0 {
		t.Errorf("memory %+v: want the server's RSS with 50 connections", r.Memory)
	}
	if r.CPU == nil || r.CPU.Op != "handshake" || r.CPU.Server == nil {
		t.Errorf("cpu %+v: want the server's CPU per handshake", r.CPU)
	}
	if !r.OK {
		t.Errorf("not ok: %v %v", r.Warnings, r.Errors)
	}
}

// A wrong secret gets every handshake refused: the run fails and says why.
func TestConnectionsRefused(t *testing.T) {
	n := startNode(t, nil)
	o := DefaultConnections()
	o.Common = common(t, n, 3)
	o.Secret = "not-the-secret"
	_, err := runConnections(ctxFor(t), o)
	if err == nil || !strings.Contains(err.Error(), "no client connected") || !strings.Contains(err.Error(), "HTTP 401") {
		t.Fatalf("err %v, want no client connected, HTTP 401", err)
	}
}
