package envelope

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDecode(t *testing.T) {
	cases := []struct {
		in              string
		event, data, id string
		err             error
	}{
		{in: `{"event":"joinRoom","data":{"roomId":"a"},"id":7}`, event: "joinRoom", data: `{"roomId":"a"}`, id: "7"},
		{in: ` {"event":"ping","id":"x"}`, event: "ping", id: `"x"`},
		{in: `{"event":"ping","id":-1.5}`, event: "ping", id: "-1.5"},
		{in: `{"event":"ping","id":{"no":1}}`, event: "ping"},
		{in: `{"event":"ping","id":null}`, event: "ping"},
		{in: `{"event":"ping","id":true}`, event: "ping"},
		{in: `{"event":"\u0070ing"}`, event: "ping"},
		{in: `{"event":`, err: ErrMalformed},
		{in: ``, err: ErrMalformed},
		{in: `{"event":"a"} x`, err: ErrMalformed},
		{in: `nope`, err: ErrMalformed},
		{in: `[]`, err: ErrNotObject},
		{in: `"event"`, err: ErrNotObject},
		{in: `null`, err: ErrNotObject},
		{in: `{"data":1,"id":"q"}`, id: `"q"`, data: "1", err: ErrMissingEvent},
		{in: `{"event":""}`, err: ErrMissingEvent},
		{in: `{"event":5}`, err: ErrMissingEvent},
		{in: `{"event":null}`, err: ErrMissingEvent},
	}
	for _, tc := range cases {
		env, err := Decode([]byte(tc.in))
		if !errors.Is(err, tc.err) {
			t.Errorf("Decode(%q) error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if env.Event != tc.event || string(env.Data) != tc.data || string(env.ID) != tc.id {
			t.Errorf("Decode(%q) = %q %s %s, want %q %s %s", tc.in, env.Event, env.Data, env.ID, tc.event, tc.data, tc.id)
		}
	}
}

func TestAppend(t *testing.T) {
	cases := []struct {
		event string
		data  any
		id    string
		want  string
	}{
		{"joinedRoom", map[string]string{"roomId": "a"}, "7", `{"event":"joinedRoom","data":{"roomId":"a"},"id":7}`},
		{"pong", nil, "", `{"event":"pong","data":null}`},
		{"raw", json.RawMessage(`[1,2]`), `"i"`, `{"event":"raw","data":[1,2],"id":"i"}`},
		{`we"ird<>`, 1, "", `{"event":"we\"ird\u003c\u003e","data":1}`},
	}
	for _, tc := range cases {
		var id json.RawMessage
		if tc.id != "" {
			id = json.RawMessage(tc.id)
		}
		var data json.RawMessage
		if tc.data != nil {
			data, _ = json.Marshal(tc.data)
		}
		got := Append(nil, tc.event, data, id)
		if string(got) != tc.want {
			t.Errorf("Append(%q) = %s; want %s", tc.event, got, tc.want)
		}
		if !json.Valid(got) {
			t.Errorf("Append(%q) is not valid JSON", tc.event)
		}
	}
}

// FuzzDecode: no input panics; a successful decode has a non-empty event, and
// re-encoding what was decoded gives a frame that decodes to the same thing.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event":"joinRoom","data":{"roomId":"a"},"id":7}`, `{"event":"ping"}`, `[]`, `{`, `{"id":"x"}`,
		`{"event":"a\u0000b","data":"\ud800"}`, `{"event":"e","data":1e999}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		env, err := Decode(in)
		if want, wantErr := reference(in); !errors.Is(err, wantErr) || env.Event != want.Event ||
			string(env.Data) != string(want.Data) || string(env.ID) != string(want.ID) {
			t.Fatalf("Decode(%q) = %+v, %v; encoding/json says %+v, %v", in, env, err, want, wantErr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotObject) && !errors.Is(err, ErrMissingEvent) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if env.Event == "" {
			t.Fatal("decoded an empty event")
		}
		again, err := Decode(Append(nil, env.Event, env.Data, env.ID))
		if err != nil || again.Event != env.Event || string(again.ID) != string(env.ID) {
			t.Fatalf("round trip: %+v, %v; was %+v", again, err, env)
		}
	})
}

// reference decodes a frame with encoding/json, the scanner's oracle.
func reference(msg []byte) (Envelope, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(msg, &m); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Envelope{}, ErrNotObject
		}
		return Envelope{}, ErrMalformed
	}
	if m == nil { // null
		return Envelope{}, ErrNotObject
	}
	env := Envelope{Data: m["data"]}
	if isStringOrNumber(m["id"]) {
		env.ID = m["id"]
	}
	if json.Unmarshal(m["event"], &env.Event) != nil || env.Event == "" {
		env.Event = ""
		return env, ErrMissingEvent
	}
	return env, nil
}

func BenchmarkDecode(b *testing.B) {
	msg := []byte(`{"event":"joinRoom","data":{"roomId":"table-42"},"id":17}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppend(b *testing.B) {
	data := json.RawMessage(`{"roomId":"table-42","seq":17,"text":"good game"}`)
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(Append(nil, "notification", data, nil))))
	b.ReportAllocs()
	for b.Loop() {
		buf = Append(buf[:0], "notification", data, nil)
	}
}

func TestAppendDelivered(t *testing.T) {
	for _, tc := range []struct {
		data, offset, ackID, want string
	}{
		{`{"text":"gg"}`, "k2x9-41", "", `{"event":"notification","data":{"text":"gg"},"offset":"k2x9-41"}`},
		{``, "k2x9-42", "", `{"event":"notification","data":null,"offset":"k2x9-42"}`},
		{`1`, "", "", `{"event":"notification","data":1}`},
		{`1`, "k2x9-43", "17", `{"event":"notification","data":1,"offset":"k2x9-43","ackId":"17"}`},
		{`1`, "", "18", `{"event":"notification","data":1,"ackId":"18"}`},
	} {
		got := AppendDelivered(nil, "notification", json.RawMessage(tc.data), tc.offset, tc.ackID)
		if string(got) != tc.want || !json.Valid(got) {
			t.Errorf("AppendDelivered(%s, %q, %q) = %s; want %s", tc.data, tc.offset, tc.ackID, got, tc.want)
		}
	}
}
