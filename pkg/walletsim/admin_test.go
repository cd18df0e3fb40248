package walletsim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gamegate/gamegate/pkg/walletsim"
)

func TestAdminEndpoint(t *testing.T) {
	s, addr := start(t, walletsim.Options{Currency: "EUR", InitialBalance: 100})
	g := dial(t, addr)
	admin := httptest.NewServer(s.AdminHandler())
	defer admin.Close()

	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, admin.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, out
	}

	status, out := do("POST", "/credit", `{"userId":"u1","amount":250}`)
	if status != 200 || out["balance"] != 350.0 || out["currency"] != "EUR" || out["txId"] == "" {
		t.Fatalf("credit: %d %v", status, out)
	}
	pushes := g.pushesUntilPong()
	if len(pushes) != 1 || pushes[0].UserID != "u1" || pushes[0].Balance != 350 || pushes[0].TxID != out["txId"] {
		t.Errorf("pushes after the admin credit = %+v", pushes)
	}

	if status, out := do("POST", "/debit", `{"userId":"u1","amount":1000}`); status != http.StatusConflict || out["code"] != "INSUFFICIENT_FUNDS" {
		t.Errorf("debit over the balance: %d %v", status, out)
	}
	if status, out := do("POST", "/debit", `{"userId":"u1","amount":50,"txId":"d1"}`); status != 200 || out["balance"] != 300.0 {
		t.Errorf("debit: %d %v", status, out)
	}
	if status, out := do("POST", "/credit", `{"user":"u1"}`); status != http.StatusBadRequest || out["code"] != "BAD_REQUEST" {
		t.Errorf("bad body: %d %v", status, out)
	}
	if status, out := do("GET", "/balance/u1", ""); status != 200 || out["balance"] != 300.0 || out["userId"] != "u1" {
		t.Errorf("balance: %d %v", status, out)
	}
}
