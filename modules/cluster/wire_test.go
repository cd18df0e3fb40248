package cluster

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/gamegate/gamegate/modules/gateway"
)

// Every room is one subject token that matches no other room's subject,
// whatever the room id holds.
func TestRoomSubjectIsOneLiteralToken(t *testing.T) {
	rooms := []string{"lobby", "a.b", "a.*", "a.>", "*", ">", "a b", "\t\r\n", "ünïcødé", "user:a.b",
		"gamegate.all", "", strings.Repeat("x", 128), "\x00"}
	seen := map[string]string{}
	for _, r := range rooms {
		s := roomSubject(r)
		if !server.IsValidLiteralSubject(s) {
			t.Errorf("room %q: subject %q is not a literal subject", r, s)
		}
		if r != "" && strings.Count(s, ".") != strings.Count(roomPrefix, ".") {
			t.Errorf("room %q: subject %q is more than one token after the prefix", r, s)
		}
		if other, dup := seen[s]; dup {
			t.Errorf("rooms %q and %q share subject %q", r, other, s)
		}
		seen[s] = r
		back, err := subjectRoom(s)
		if err != nil || back != r {
			t.Errorf("room %q: subject %q decodes to %q, %v", r, s, back, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	for _, d := range []gateway.Delivery{
		{Room: "lobby", Msg: &gateway.Message{Event: "notification", Data: []byte(`{"text":"gg","n":[1,2]}`)}},
		{Room: "user:a.b", Except: "CLIENTID234567ABCDEFGHIJKL", Msg: &gateway.Message{Event: "said", Data: []byte(`{}`)}},
		{Msg: &gateway.Message{Event: strings.Repeat("e", 300)}},
		{Room: ">", Msg: &gateway.Message{Data: []byte(`"\u0000"`)}},
	} {
		got, err := unmarshal(roomSubject(d.Room), marshal(d))
		if err != nil {
			t.Fatalf("%+v: %v", d, err)
		}
		if !sameDelivery(got, d) {
			t.Fatalf("round trip of %+v gave %+v", d, got)
		}
	}
	// A message with a receipt carries it, and its room when it travels on
	// the receipt subject.
	r := &gateway.Receipt{ID: 1<<52 - 1, Origin: "node-7", Deadline: time.UnixMilli(1_795_702_994_123)}
	d := gateway.Delivery{Room: "table-9", Msg: &gateway.Message{Event: "deal", Data: []byte(`1`)}, Receipt: r}
	for _, subject := range []string{roomSubject(d.Room), receiptSubject} {
		got, err := unmarshal(subject, marshal(d))
		if err != nil || !sameDelivery(got, d) || got.Receipt == nil || *got.Receipt != *r {
			t.Fatalf("receipt round trip on %s: %+v %+v %v", subject, got, got.Receipt, err)
		}
	}
}

func TestUnmarshalRejectsMalformed(t *testing.T) {
	good := marshal(gateway.Delivery{Room: "lobby", Except: "x", Msg: &gateway.Message{Event: "e", Data: []byte("{}")}})
	for name, tc := range map[string]struct {
		subject string
		data    []byte
	}{
		"empty":              {roomSubject("lobby"), nil},
		"other version":      {roomSubject("lobby"), append([]byte{wireVersion + 1}, good[1:]...)},
		"event past the end": {roomSubject("lobby"), []byte{wireVersion, 5, 'e'}},
		"no except":          {roomSubject("lobby"), []byte{wireVersion, 1, 'e'}},
		"bad varint":         {roomSubject("lobby"), []byte{wireVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
		"foreign subject":    {"orders.created", good},
		"empty room token":   {roomPrefix, good},
		"not base64":         {roomPrefix + "a+b", good},
		"data not JSON":      {roomSubject("lobby"), []byte{wireVersion, 1, 'e', 0, '{'}},
	} {
		if _, err := unmarshal(tc.subject, tc.data); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err %v, want errMalformed", name, err)
		}
	}
}

// FuzzUnmarshal: any payload either fails cleanly or decodes to a delivery
// that survives marshal and unmarshal unchanged.
func FuzzUnmarshal(f *testing.F) {
	f.Add(marshal(gateway.Delivery{Except: "x", Msg: &gateway.Message{Event: "e", Data: []byte(`{"a":1}`)}}))
	f.Add([]byte{wireVersion, 0x80})
	f.Add(marshal(gateway.Delivery{Room: "lobby", Msg: &gateway.Message{Event: "e"}, Receipt: &gateway.Receipt{ID: 7, Origin: "n", Deadline: time.UnixMilli(5)}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := unmarshal(roomSubject("lobby"), data)
		if err != nil {
			return
		}
		again, err := unmarshal(roomSubject("lobby"), marshal(d))
		if err != nil || !sameDelivery(again, d) {
			t.Fatalf("%q decodes to %+v, which round-trips to %+v, %v", data, d, again, err)
		}
	})
}

func sameDelivery(a, b gateway.Delivery) bool {
	return a.Room == b.Room && a.Except == b.Except && a.Msg.Event == b.Msg.Event && bytes.Equal(a.Msg.Data, b.Msg.Data) &&
		(a.Receipt == nil) == (b.Receipt == nil) && (a.Receipt == nil || *a.Receipt == *b.Receipt)
}
