package gateway

import "testing"

// ackID reads the form clients send on its own; whatever it reads that way
// must be what encoding/json and the validator would have given, and any
// other data gets decode's answer.
func FuzzAckID(f *testing.F) {
	for _, s := range []string{
		`{"ackId":"123456789012345"}`, `{"ackId":""}`, `{"ackId":"12a"}`, `{"ackId":"1\u0032"}`,
		`{"ackId":"1"} `, `{"ackId":1}`, `{}`, `null`, ``, `[]`, `{"ackId":"1","x":2}`, `{"ackId":"1"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gotErr := ackID(data)
		var in ackData
		wantErr := decode(data, &in)
		if (gotErr == nil) != (wantErr == nil) || gotErr == nil && got != in.AckID {
			t.Fatalf("ackID(%q) = %q, %v; decode gives %q, %v", data, got, gotErr, in.AckID, wantErr)
		}
		if gotErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("ackID(%q): %v, decode: %v", data, gotErr, wantErr)
		}
	})
}
