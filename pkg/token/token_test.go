package token

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestFromRequest(t *testing.T) {
	tests := []struct {
		name   string
		target string
		auth   string
		want   string
	}{
		{name: "none", target: "/game"},
		{name: "bearer", target: "/game", auth: "Bearer abc.def.ghi", want: "abc.def.ghi"},
		{name: "scheme case-insensitive", target: "/game", auth: "bEaReR abc", want: "abc"},
		{name: "extra spaces", target: "/game", auth: "Bearer   abc ", want: "abc"},
		{name: "query", target: "/game?token=abc", want: "abc"},
		{name: "header wins over query", target: "/game?token=q", auth: "Bearer h", want: "h"},
		{name: "other scheme falls back to query", target: "/game?token=q", auth: "Basic dXNlcjpwdw==", want: "q"},
		{name: "other scheme only", target: "/game", auth: "Basic dXNlcjpwdw=="},
		{name: "empty bearer falls back to query", target: "/game?token=q", auth: "Bearer ", want: "q"},
		{name: "scheme without credentials", target: "/game", auth: "Bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tt.target, nil)
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			if got := FromRequest(r); got != tt.want {
				t.Errorf("FromRequest() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	for _, s := range sentinels {
		wrapped := fmt.Errorf("%w: detail that must not leak: %w", s, io.ErrUnexpectedEOF)
		if got := Message(wrapped); got != s.Error() {
			t.Errorf("Message(%q) = %q, want %q", wrapped, got, s.Error())
		}
	}
	if got := Message(io.EOF); got != "invalid token" {
		t.Errorf("Message(io.EOF) = %q, want %q", got, "invalid token")
	}
}

func TestMint(t *testing.T) {
	v := newVerifier(t, Options{Secret: testSecret})
	raw, err := Mint(testSecret, "u1", []string{"admin", "player"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("Verify(minted) = %v", err)
	}
	if c.Subject != "u1" || !slices.Equal(c.Roles, []string{"admin", "player"}) || !c.HasRole("admin") {
		t.Errorf("claims = %+v", c)
	}
	if d := time.Until(c.ExpiresAt); d < 59*time.Minute || d > time.Hour {
		t.Errorf("ExpiresAt in %s, want about an hour", d)
	}

	var payload struct {
		Iat, Exp int64
		Roles    []string
	}
	seg := strings.Split(raw, ".")[1]
	if b, err := base64.RawURLEncoding.DecodeString(seg); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(b, &payload); err != nil {
		t.Fatal(err)
	}
	if payload.Exp-payload.Iat != 3600 {
		t.Errorf("exp - iat = %d, want 3600", payload.Exp-payload.Iat)
	}

	noRoles, err := Mint(testSecret, "u2", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := v.Verify(t.Context(), noRoles); err != nil || c.Roles != nil || c.HasRole("admin") {
		t.Errorf("Verify(no roles) = %+v, %v", c, err)
	}
}

func TestMintRefusesBadInput(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		sub    string
		ttl    time.Duration
	}{
		{name: "no secret", sub: "u1", ttl: time.Hour},
		{name: "no subject", secret: testSecret, ttl: time.Hour},
		{name: "zero ttl", secret: testSecret, sub: "u1"},
		{name: "negative ttl", secret: testSecret, sub: "u1", ttl: -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if raw, err := Mint(tt.secret, tt.sub, nil, tt.ttl); err == nil {
				t.Errorf("Mint() = %q, want an error", raw)
			}
		})
	}
}
