package gateway

// Metrics receives the gateway's counts. The metrics module provides one;
// without it nothing is counted.
type Metrics interface {
	// MessageIn counts a well-formed message from a client.
	MessageIn(event string)
	// MessagesOut counts n frames of event queued for clients.
	MessagesOut(event string, n int)
	// SlowConsumer counts a client closed because its queue overflowed.
	SlowConsumer()
	// Dropped counts frames discarded with a slow consumer's queue.
	Dropped(n int)
}

// NopMetrics counts nothing.
type NopMetrics struct{}

func (NopMetrics) MessageIn(string)        {}
func (NopMetrics) MessagesOut(string, int) {}
func (NopMetrics) SlowConsumer()           {}
func (NopMetrics) Dropped(int)             {}
