package cluster

// State is the state of the node's NATS connection.
type State int32

const (
	// Connecting: no connection yet (the zero State); nats.go is retrying.
	Connecting State = iota
	// Up: connected; messages cross nodes.
	Up
	// Down: the connection was lost; nats.go is reconnecting and the node
	// delivers to its own members only.
	Down
	// Closed: stopped.
	Closed
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Up:
		return "up"
	case Down:
		return "down"
	case Closed:
		return "closed"
	}
	return "unknown"
}
