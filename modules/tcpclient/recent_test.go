package tcpclient

import (
	"strconv"
	"testing"
)

// The client remembers the last pushMemory pushIds: a repeat among them is
// refused, an older one is new again.
func TestRecentPushesRemembersTheLatestOnly(t *testing.T) {
	var r recentPushes
	for i := range pushMemory + 1 {
		if !r.add(strconv.Itoa(i)) {
			t.Fatalf("pushId %d refused the first time", i)
		}
	}
	if r.add(strconv.Itoa(pushMemory)) || r.add("1") {
		t.Error("a recent pushId was taken again")
	}
	if !r.add("0") {
		t.Error("the oldest pushId is still remembered past the bound")
	}
}
