package walletproto

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// reflectDecode is what JSON.Decode does for a type without a fast path.
func reflectDecode(body []byte, v any) error {
	if kind := jsonKind(body); kind != "object" {
		return fmt.Errorf("%w: it is %s", ErrMalformed, kind)
	}
	err := json.Unmarshal(body, v)
	if syntax := (*json.SyntaxError)(nil); errors.As(err, &syntax) {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return err
}

// FuzzJSONDecode checks the reflection-free decoding against encoding/json:
// the same values, and the same verdict (well formed, malformed, or a
// field of the wrong type) for any input.
func FuzzJSONDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"getBalance","requestId":"7","ok":true,"balance":1000,"currency":"USD"}`,
		`{"type":"debit","requestId":"8","ok":false,"error":{"code":"INSUFFICIENT_FUNDS","message":"no"}}`,
		`{"type":"balanceChanged","userId":"u1","balance":-5,"currency":"EUR","txId":"t"}`,
		`{"type":"balanceChanged","pushId":"p-7","userId":"u1","balance":5,"currency":"EUR"}`,
		`{"type":"balanceChanged","pushId":7}`,
		`{"type":"debit","userId":"u","amount":12,"currency":"USD","txId":"x","nodeId":"n"}`,
		` { "TYPE" : "x" , "RequestID":"1", "ſ":1, "oK":true, "extra":[1,{"a":[true,false,null]},"\u00e9"] } `,
		`{"type":"a\"b\\c\u0041\ud83d\ude00","amount":1.5,"balance":1e3,"ok":"yes","error":null}`,
		`{"amount":-0,"balance":9223372036854775808,"userId":null}`,
		`{"type":"` + "\xff\xfe" + `"}`, `{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":tru}`, `{"a":"\x01"}`,
		`{"a":1,}`, `{,}`, `{"a" 1}`, `[1]`, `"s"`, `null`, `{"a":1}x`, `{"a":"\u12"}`, `{"a":"\q"}`, `{"error":{"code":5}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		targets := []func() any{
			func() any { return new(Envelope) },
			func() any { return new(Transfer) },
			func() any { return new(Debit) },
			func() any { return new(BalanceChanged) },
			func() any { return new(Balance) },
			func() any { return new(Hello) },
			func() any { return new(GetBalance) },
			func() any { return new(Error) },
		}
		for _, target := range targets {
			fast, slow := target(), target()
			fastErr := JSON{}.Decode(body, fast)
			slowErr := reflectDecode(body, slow)
			switch {
			case errors.Is(slowErr, ErrMalformed) != errors.Is(fastErr, ErrMalformed):
				t.Fatalf("%T from %q: fast error %v, encoding/json error %v", fast, body, fastErr, slowErr)
			case (slowErr == nil) != (fastErr == nil):
				t.Fatalf("%T from %q: fast error %v, encoding/json error %v", fast, body, fastErr, slowErr)
			case slowErr == nil && !reflect.DeepEqual(fast, slow):
				t.Fatalf("%T from %q: fast %+v, encoding/json %+v", fast, body, fast, slow)
			}
		}
	})
}

// FuzzJSONAppend checks the reflection-free encoding against
// encoding/json, byte for byte.
func FuzzJSONAppend(f *testing.F) {
	f.Add("getBalance", "7", "u1", int64(1000), "USD", true, "CODE", "msg <&> \u2028 \x01 \xff")
	f.Add("", "", "", int64(-1), "", false, "", "")
	f.Fuzz(func(t *testing.T, typ, id, user string, n int64, currency string, ok bool, code, msg string) {
		parts := []any{
			Header{Type: typ, RequestID: id},
			Header{Type: typ, PushID: msg},
			Status{OK: ok},
			Status{OK: ok, Error: &Error{Code: code, Message: msg}},
			Envelope{Header{Type: typ, RequestID: id}, Status{OK: ok}},
			Hello{NodeID: user},
			Ping{},
			GetBalance{UserID: user},
			Transfer{UserID: user, Amount: n, Currency: currency, TxID: id},
			Debit{UserID: user, Amount: n, Currency: currency, TxID: id},
			Credit{UserID: user, Amount: n, TxID: msg},
			Balance{Balance: n, Currency: currency},
			BalanceChanged{UserID: user, Balance: n, Currency: currency, TxID: msg},
			Error{Code: code, Message: msg},
		}
		for _, p := range parts {
			fast, err := JSON{}.Append(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(fast) != string(want) {
				t.Fatalf("%T:\nfast          %s\nencoding/json %s", p, fast, want)
			}
		}
	})
}

func TestEmbeddingATypeDoesNotTakeItsFastPath(t *testing.T) {
	type extended struct {
		Header
		Extra string `json:"extra"`
	}
	got, err := JSON{}.Append(nil, extended{Header{Type: "x"}, "kept"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"x","extra":"kept"}`; string(got) != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var back extended
	if err := (JSON{}).Decode(got, &back); err != nil || back.Extra != "kept" || back.Type != "x" {
		t.Errorf("decoded %+v, %v", back, err)
	}
}

func TestJSONDecodeNestingLimitMatchesEncodingJSON(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth} {
		body := `{"type":"x","extra":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
		var fast, slow Envelope
		fastErr, slowErr := JSON{}.Decode([]byte(body), &fast), reflectDecode([]byte(body), &slow)
		if errors.Is(fastErr, ErrMalformed) != errors.Is(slowErr, ErrMalformed) || (fastErr == nil) != (slowErr == nil) {
			t.Errorf("nested %d deep: fast error %v, encoding/json error %v", depth, fastErr, slowErr)
		}
	}
}
