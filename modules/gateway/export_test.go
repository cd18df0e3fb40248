package gateway

// WaitingPolls is how many long-polling GETs wait for something to send,
// for tests that must act while one waits.
func (s *Server) WaitingPolls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.polls {
		c.poll.mu.Lock()
		if c.poll.waiter != nil {
			n++
		}
		c.poll.mu.Unlock()
	}
	return n
}
