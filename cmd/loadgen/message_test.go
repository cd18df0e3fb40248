package main

import (
	"encoding/json"
	"testing"
)

func TestAppendBroadcast(t *testing.T) {
	b := appendBroadcast(nil, "bench-1", -3, 1764160000123456789, "xx")
	var body struct {
		RoomID  string `json:"roomId"`
		Message struct {
			Seq int64  `json:"seq"`
			TS  int64  `json:"ts"`
			Pad string `json:"pad"`
		} `json:"message"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if body.RoomID != "bench-1" || body.Message.Seq != -3 || body.Message.TS != 1764160000123456789 || body.Message.Pad != "xx" {
		t.Errorf("%s decodes to %+v", b, body)
	}
	if got := string(contract{}.appendEvent(nil, "getBalance", "", 7)); got != `{"event":"getBalance","id":7}` {
		t.Errorf("request %s", got)
	}
	if got := string(contract{}.appendEvent(nil, "joinRoom", `{"roomId":"r"}`, 0)); got != `{"event":"joinRoom","data":{"roomId":"r"}}` {
		t.Errorf("join %s", got)
	}
	if got := string(socketIO{ns: "/game"}.appendEvent(nil, "joinRoom", `{"roomId":"r"}`, 3)); got != `42/game,["joinRoom",{"roomId":"r"}]` {
		t.Errorf("socket.io join %s", got)
	}
}

func TestFields(t *testing.T) {
	for _, c := range []struct {
		frame   string
		event   string
		seq, ts int64
		id      int64
		hasSeq  bool
		hasID   bool
		why     string
	}{
		{`{"event":"notification","data":{"seq":12,"ts":1764160000123456789}}`, "notification", 12, 1764160000123456789, 0, true, false, "Go gateway"},
		// NestJS re-encodes ts through a double, and may space things out.
		{`{"event": "notification", "data": {"seq": -4, "ts": 1764160000123456800}}`, "notification", -4, 1764160000123456800, 0, true, false, "NestJS"},
		{`{"event":"pong","data":{"ts":1764160000123},"id":42}`, "pong", 0, 1764160000123, 42, false, true, "reply"},
		{`{"event":"balance","data":{"userId":"lg-1","balance":10000,"currency":"EUR"},"id":9}`, "balance", 0, 0, 9, false, true, "userId is not id"},
		{`{"event":"exce\"ption","data":null}`, `exce\"ption`, 0, 0, 0, false, false, "escaped quote"},
	} {
		ev, _ := stringField([]byte(c.frame), keyEvent)
		seq, okSeq := intField([]byte(c.frame), keySeq, false)
		ts, _ := intField([]byte(c.frame), keyTS, false)
		id, okID := intField([]byte(c.frame), keyID, true)
		if string(ev) != c.event || okSeq != c.hasSeq || seq != c.seq || okID != c.hasID || id != c.id || (c.ts != 0 && ts != c.ts) {
			t.Errorf("%s: event %q seq %d/%v ts %d id %d/%v", c.why, ev, seq, okSeq, ts, id, okID)
		}
	}
	if _, ok := intField([]byte(`{"seq":"x"}`), keySeq, false); ok {
		t.Error("a string parsed as an int")
	}
}
