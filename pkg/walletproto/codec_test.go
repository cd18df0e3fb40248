package walletproto

import (
	"errors"
	"testing"
)

func TestJSONAppendFlattensParts(t *testing.T) {
	tests := []struct {
		name  string
		parts []any
		want  string
	}{
		{"request", []any{Header{Type: TypeGetBalance, RequestID: "7"}, GetBalance{UserID: "u1"}},
			`{"type":"getBalance","requestId":"7","userId":"u1"}`},
		{"reply", []any{Header{Type: TypeDebit, RequestID: "8"}, Status{OK: true}, Balance{Balance: 900, Currency: "USD"}},
			`{"type":"debit","requestId":"8","ok":true,"balance":900,"currency":"USD"}`},
		{"error reply", []any{Header{Type: TypeDebit, RequestID: "9"}, Status{Error: &Error{Code: CodeInsufficientFunds, Message: "no"}}},
			`{"type":"debit","requestId":"9","ok":false,"error":{"code":"INSUFFICIENT_FUNDS","message":"no"}}`},
		{"push", []any{Header{Type: TypeBalanceChanged}, BalanceChanged{UserID: "u", Balance: 5, Currency: "EUR"}},
			`{"type":"balanceChanged","userId":"u","balance":5,"currency":"EUR"}`},
		{"push with an id", []any{Header{Type: TypeBalanceChanged, PushID: "p-1"}, BalanceChanged{UserID: "u", Balance: 5, Currency: "EUR"}},
			`{"type":"balanceChanged","pushId":"p-1","userId":"u","balance":5,"currency":"EUR"}`},
		{"push acknowledgement", []any{Header{Type: TypePushAck, PushID: "p-1"}},
			`{"type":"pushAck","pushId":"p-1"}`},
		{"part without fields", []any{Ping{}, Header{Type: TypePing, RequestID: "1"}, Ping{}},
			`{"type":"ping","requestId":"1"}`},
		{"nothing", nil, `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := JSON{}.Append([]byte("keep"), tt.parts...)
			if err != nil {
				t.Fatal(err)
			}
			if want := "keep" + tt.want; string(got) != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func TestJSONAppendRefusesNonObjects(t *testing.T) {
	for _, part := range []any{"text", 42, []int{1}, nil, make(chan int)} {
		got, err := JSON{}.Append([]byte("keep"), Header{Type: "x"}, part)
		if err == nil {
			t.Errorf("Append(%T) = %s, want an error", part, got)
		}
		if string(got) != "keep" {
			t.Errorf("Append(%T) left %q in dst, want it untouched", part, got)
		}
	}
}

func TestJSONDecode(t *testing.T) {
	var env Envelope
	body := `{"type":"debit","requestId":"3","ok":false,"error":{"code":"INSUFFICIENT_FUNDS","message":"balance 5 < 10"},"extra":[1]}`
	if err := (JSON{}).Decode([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	if env.Type != TypeDebit || env.RequestID != "3" || env.OK {
		t.Errorf("envelope = %+v", env)
	}
	if err := env.Err(); !errors.Is(err, ErrInsufficientFunds) {
		t.Errorf("Err() = %v, want ErrInsufficientFunds", err)
	}
}

func TestJSONDecodeRefusesWhatIsNotAnObject(t *testing.T) {
	for _, body := range []string{``, ` `, `[{"type":"ping"}]`, `"ping"`, `42`, `-1`, `true`, `null`, `{"type":`, `{"a":1}}`, "\x00garbage", `not json`} {
		var env Envelope
		if err := (JSON{}).Decode([]byte(body), &env); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) error = %v, want ErrMalformed", body, err)
		}
	}
}

func TestJSONDecodeFieldOfWrongType(t *testing.T) {
	var env Envelope
	err := JSON{}.Decode([]byte(`{"type":5}`), &env)
	if err == nil || errors.Is(err, ErrMalformed) {
		t.Errorf("error = %v, want a field error that is not ErrMalformed", err)
	}
}

func TestStatusErr(t *testing.T) {
	if err := (Status{OK: true}).Err(); err != nil {
		t.Errorf("ok: Err() = %v", err)
	}
	var werr *Error
	if err := (Status{}).Err(); !errors.As(err, &werr) {
		t.Errorf("not ok without error: Err() = %v, want an *Error", err)
	}
	e := &Error{Code: CodeBadRequest, Message: "userId is required"}
	if err := (Status{Error: e}).Err(); err != e {
		t.Errorf("Err() = %v, want %v", err, e)
	}
	if errors.Is(e, ErrInsufficientFunds) {
		t.Error("a BAD_REQUEST error matches ErrInsufficientFunds")
	}
	if got := e.Error(); got != "wallet error BAD_REQUEST: userId is required" {
		t.Errorf("Error() = %q", got)
	}
}

func BenchmarkJSONAppendRequest(b *testing.B) {
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		buf, err = JSON{}.Append(buf[:0], Header{Type: TypeDebit, RequestID: "123456"}, Debit{UserID: "user-42", Amount: 100, TxID: "tx-1"})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONDecodeEnvelope(b *testing.B) {
	body := []byte(`{"type":"getBalance","requestId":"123456","ok":true,"balance":10000,"currency":"USD"}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var env Envelope
		if err := (JSON{}).Decode(body, &env); err != nil {
			b.Fatal(err)
		}
	}
}
