package cluster

import (
	"maps"
	"testing"
)

// Interest keeps the latest change per room and signals once per batch.
func TestInterestKeepsTheLatestChange(t *testing.T) {
	i := NewInterest()
	i.RoomActive("a")
	i.RoomActive("b")
	i.RoomIdle("b")
	i.RoomIdle("c")
	i.RoomActive("c")
	select {
	case <-i.changed:
	default:
		t.Fatal("no signal after changes")
	}
	select {
	case <-i.changed:
		t.Fatal("a second signal for one batch")
	default:
	}
	if got, want := i.take(), map[string]bool{"a": true, "b": false, "c": true}; !maps.Equal(got, want) {
		t.Fatalf("take: %v, want %v", got, want)
	}
	if got := i.take(); len(got) != 0 {
		t.Fatalf("second take: %v, want nothing", got)
	}
}
