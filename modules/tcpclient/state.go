package tcpclient

import "sync"

// State is the state of the wallet link.
type State int32

const (
	// Down: no connection; the client waits out its backoff, or was closed.
	Down State = iota
	// Connecting: dialing, or waiting for the reply to hello.
	Connecting
	// Up: hello answered; calls go out.
	Up
)

func (s State) String() string {
	switch s {
	case Down:
		return "down"
	case Connecting:
		return "connecting"
	case Up:
		return "up"
	}
	return "unknown"
}

// subscribers holds the functions told about state changes.
type subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[int]func(State)
}

func (s *subscribers) add(f func(State)) (cancel func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[int]func(State){}
	}
	id := s.next
	s.next++
	s.fns[id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns, id)
	}
}

func (s *subscribers) notify(st State) {
	s.mu.Lock()
	fns := make([]func(State), 0, len(s.fns))
	for _, f := range s.fns {
		fns = append(fns, f)
	}
	s.mu.Unlock()
	for _, f := range fns {
		f(st)
	}
}
