//go:build !linux

package main

import "errors"

// The epoll reader is Linux's; elsewhere every client reads with a
// goroutine of its own (--reader goroutine), and options.go refuses
// --reader epoll before a shard could ask for it.

const (
	epollReader   = false
	defaultReader = "goroutine"
)

type epollSet struct{}

func newEpollSet(*Shard) (*epollSet, error) { return nil, errors.New("--reader epoll: Linux only") }

func (*epollSet) add(*client, *ownConn) error { return errors.New("--reader epoll: Linux only") }

func (*epollSet) stop() {}
