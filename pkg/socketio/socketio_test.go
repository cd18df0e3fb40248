package socketio

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		in      string
		typ     Type
		ns      string
		att     int
		id, pay string
		err     error
	}{
		{in: `0`, typ: Connect, ns: "/"},
		{in: `0/game,{"token":"t"}`, typ: Connect, ns: "/game", pay: `{"token":"t"}`},
		{in: `1/game,`, typ: Disconnect, ns: "/game"},
		{in: `1/game`, typ: Disconnect, ns: "/game"},
		{in: `2/game,["joinRoom",{"roomId":"a"}]`, typ: Event, ns: "/game", pay: `["joinRoom",{"roomId":"a"}]`},
		{in: `2/game,12["ping"]`, typ: Event, ns: "/game", id: "12", pay: `["ping"]`},
		{in: `2["hello",1]`, typ: Event, ns: "/", pay: `["hello",1]`},
		{in: `3/game,5[{"ok":true}]`, typ: Ack, ns: "/game", id: "5", pay: `[{"ok":true}]`},
		{in: `51-/game,["up",{"_placeholder":true,"num":0}]`, typ: BinaryEvent, ns: "/game", att: 1, pay: `["up",{"_placeholder":true,"num":0}]`},
		{in: ``, err: ErrMalformed},
		{in: `9`, err: ErrMalformed},
		{in: `2/game,["a"`, err: ErrMalformed},
		{in: `5-["a"]`, err: ErrMalformed},
		{in: `5x-["a"]`, err: ErrMalformed},
		{in: `2/game,1234567890123456["a"]`, err: ErrMalformed},
	}
	for _, tc := range cases {
		p, err := Decode([]byte(tc.in))
		if !errors.Is(err, tc.err) {
			t.Errorf("Decode(%q) error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		if p.Type != tc.typ || p.Namespace != tc.ns || p.Attachments != tc.att || string(p.ID) != tc.id || string(p.Payload) != tc.pay {
			t.Errorf("Decode(%q) = %+v", tc.in, p)
		}
	}
}

func TestEvent(t *testing.T) {
	for in, want := range map[string]struct{ name, data string }{
		`["ping"]`:                  {"ping", ""},
		`["joinRoom",{"roomId":1}]`: {"joinRoom", `{"roomId":1}`},
		`["a",1,2,3]`:               {"a", "1"},
	} {
		name, data, err := Packet{Type: Event, Payload: json.RawMessage(in)}.Event()
		if err != nil || name != want.name || string(data) != want.data {
			t.Errorf("Event(%s) = %q %s %v", in, name, data, err)
		}
	}
	for _, in := range []string{``, `[]`, `{}`, `[1]`, `[""]`, `"a"`} {
		if _, _, err := (Packet{Type: Event, Payload: json.RawMessage(in)}).Event(); !errors.Is(err, ErrNotEvent) {
			t.Errorf("Event(%s) error %v", in, err)
		}
	}
}

func TestAppend(t *testing.T) {
	for got, want := range map[string]string{
		string(AppendEvent(nil, "/game", "notification", json.RawMessage(`{"a":1}`), "", "")):               `42/game,["notification",{"a":1}]`,
		string(AppendEvent(nil, "/game", "notification", json.RawMessage(`{"a":1}`), "e1-7", "")):           `42/game,["notification",{"a":1},"e1-7"]`,
		string(AppendEvent(nil, "/game", "tick", nil, "e1-8", "5")):                                         `42/game,5["tick"]`, // no offset beside an ack
		string(AppendEvent(nil, "/", "tick", nil, "", "")):                                                  `42["tick"]`,
		string(AppendAck(nil, "/game", []byte("7"), json.RawMessage(`{"roomId":"a"}`))):                     `43/game,7[{"roomId":"a"}]`,
		string(AppendAck(nil, "/game", []byte("7"), nil)):                                                   `43/game,7[null]`,
		string(AppendConnect(nil, "/game", "abc", "")):                                                      `40/game,{"sid":"abc"}`,
		string(AppendConnect(nil, "/game", "abc", "p1")):                                                    `40/game,{"sid":"abc","pid":"p1"}`,
		string(AppendConnectError(nil, "/game", `bad "token"`)):                                             `44/game,{"message":"bad \"token\""}`,
		string(AppendDisconnect(nil, "/game")):                                                              `41/game,`,
		string(AppendOpen(nil, Open{SID: "s", PingInterval: 25000, PingTimeout: 10000, MaxPayload: 65536})): `0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":10000,"maxPayload":65536}`,
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// What we write, Decode reads back.
func TestRoundTrip(t *testing.T) {
	frame := AppendEvent(nil, "/game", "say", json.RawMessage(`{"t":"x"}`), "", "")
	p, err := Decode(frame[1:])
	if err != nil {
		t.Fatal(err)
	}
	name, data, err := p.Event()
	if err != nil || name != "say" || string(data) != `{"t":"x"}` || p.Namespace != "/game" {
		t.Fatalf("%+v %q %s %v", p, name, data, err)
	}
}

// FuzzDecode: no input panics, and a decoded Event packet re-encodes to a
// packet that decodes to the same event.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`0/game,{"token":"t"}`, `2/game,12["a",{"b":1}]`, `51-/game,["u",{}]`, `3/game,1[1]`, `1/game,`, `2["x"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := Decode(in)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		if p.Type != Event {
			return
		}
		name, data, err := p.Event()
		if err != nil {
			return
		}
		again, err := Decode(AppendEvent(nil, p.Namespace, name, data, "", "")[1:])
		if err != nil {
			t.Fatalf("re-encoded packet does not decode: %v", err)
		}
		name2, data2, err := again.Event()
		if err != nil || name2 != name || !json.Valid(data2) && len(data2) > 0 {
			t.Fatalf("round trip: %q %s %v; was %q %s", name2, data2, err, name, data)
		}
	})
}
