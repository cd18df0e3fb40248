package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

// BenchmarkPresenceJoinBurst measures 2,000 users joining one presence room
// at once, each then watching it: a frame per join to every watcher would
// be 2,000,000 memberJoined frames (half that counting only the watchers
// already in). ns/op (and all-see-all-ms) runs from the joins until every
// member knows every other; frames/member counts the presence frames
// (memberJoined, roomMembers) each member got on the way, beside its
// joinedRoom.
func BenchmarkPresenceJoinBurst(b *testing.B) {
	const members = 2000
	cfg := gt.Config()
	cfg.Log.Level = "warn"
	n := gt.Start(b, cfg)
	conns := make([]*websocket.Conn, members)
	for i := range conns {
		conn, resp, err := n.DialRaw(gt.Token(b, "u"+strconv.Itoa(i)), nil)
		if err != nil {
			b.Fatalf("dial: %v %v", err, resp)
		}
		b.Cleanup(func() { _ = conn.CloseNow() })
		if _, _, err := conn.Read(context.Background()); err != nil { // connected
			b.Fatal(err)
		}
		conns[i] = conn
	}
	var joined, roomMembers, rooms atomic.Int64
	var took time.Duration
	for b.Loop() {
		room := fmt.Sprint("lobby-", rooms.Add(1))
		join, _ := json.Marshal(map[string]any{"event": "joinRoom", "data": map[string]any{"roomId": room, "presence": true}})
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, members)
		for _, conn := range conns {
			wg.Go(func() {
				w := watcher{room: room, known: make(map[string]bool, members)}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if err := conn.Write(ctx, websocket.MessageText, join); err != nil {
					errs <- err
					return
				}
				for len(w.known) < members {
					_, msg, err := conn.Read(ctx)
					if err != nil {
						errs <- fmt.Errorf("%s: %d of %d members known: %w", room, len(w.known), members, err)
						return
					}
					if err := w.read(msg); err != nil {
						errs <- err
						return
					}
				}
				joined.Add(w.joined)
				roomMembers.Add(w.roomMembers)
			})
		}
		wg.Wait()
		took += time.Since(start)
		select {
		case err := <-errs:
			b.Fatal(err)
		default:
		}
	}
	per := float64(b.N * members)
	b.ReportMetric(float64(took.Microseconds())/1e3/float64(b.N), "all-see-all-ms")
	b.ReportMetric(float64(joined.Load()+roomMembers.Load())/per, "frames/member")
	b.ReportMetric(float64(joined.Load())/per, "memberJoined/member")
	b.ReportMetric(float64(roomMembers.Load())/per, "roomMembers/member")
}

// watcher is what one member of a presence room knows of it.
type watcher struct {
	room                string
	known               map[string]bool
	joined, roomMembers int64
}

// read applies one frame: joinedRoom's list, a memberJoined, or a
// roomMembers list. Frames of other rooms (a previous burst's late ones)
// are left alone.
func (w *watcher) read(msg []byte) error {
	var f struct {
		Event string `json:"event"`
		Data  struct {
			RoomID  string   `json:"roomId"`
			UserID  string   `json:"userId"`
			Members []string `json:"members"`
			Users   []string `json:"users"`
		} `json:"data"`
	}
	if err := json.Unmarshal(msg, &f); err != nil {
		return fmt.Errorf("%q: %w", msg, err)
	}
	if f.Data.RoomID != w.room {
		return nil
	}
	switch f.Event {
	case "joinedRoom":
		add(w.known, f.Data.Members)
	case "memberJoined":
		w.joined++
		w.known[f.Data.UserID] = true
	case "roomMembers":
		w.roomMembers++
		add(w.known, f.Data.Users)
	default:
		if !strings.HasPrefix(f.Event, "member") {
			return fmt.Errorf("unexpected %s", msg)
		}
	}
	return nil
}

func add(set map[string]bool, users []string) {
	for _, u := range users {
		set[u] = true
	}
}
