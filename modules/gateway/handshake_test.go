package gateway_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/config"
)

func signHS(t *testing.T, secret []byte, build func(*jwt.Builder) *jwt.Builder) string {
	t.Helper()
	tok, err := build(jwt.NewBuilder()).Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.HS256, secret))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func noneToken(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	claims, _ := json.Marshal(map[string]any{"sub": sub, "exp": time.Now().Add(time.Hour).Unix()})
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(claims) + "."
}

// getGame sends a plain upgrade request, so the test sees the refusal's
// status and body exactly as a client library would.
func getGame(t *testing.T, n *gt.Node, header http.Header, query string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, n.URL+"/game"+query, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestHandshakeRefusesBadTokens(t *testing.T) {
	n := gt.Start(t, gt.Config())
	secret := []byte(gt.Secret)
	hour := time.Hour
	cases := []struct {
		name, token, message string
	}{
		{"missing", "", "missing token"},
		{"malformed", "not-a-jwt", "malformed token"},
		{"expired", signHS(t, secret, func(b *jwt.Builder) *jwt.Builder {
			return b.Subject("u1").Expiration(time.Now().Add(-hour))
		}), "token expired"},
		{"not yet valid", signHS(t, secret, func(b *jwt.Builder) *jwt.Builder {
			return b.Subject("u1").Expiration(time.Now().Add(2 * hour)).NotBefore(time.Now().Add(hour))
		}), "token not yet valid"},
		{"wrong signature", signHS(t, []byte("another-secret-0123456789abcdef0"), func(b *jwt.Builder) *jwt.Builder {
			return b.Subject("u1").Expiration(time.Now().Add(hour))
		}), "invalid signature"},
		{"alg none", noneToken("u1"), "algorithm not allowed"},
		{"no exp", signHS(t, secret, func(b *jwt.Builder) *jwt.Builder { return b.Subject("u1") }), "token has no exp claim"},
		{"no sub", signHS(t, secret, func(b *jwt.Builder) *jwt.Builder {
			return b.Expiration(time.Now().Add(hour))
		}), "token has no sub claim"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.token != "" {
				h.Set("Authorization", "Bearer "+tc.token)
			}
			code, body := getGame(t, n, h, "")
			want := `{"statusCode":401,"message":"` + tc.message + `","error":"Unauthorized"}`
			if code != http.StatusUnauthorized || body != want+"\n" {
				t.Fatalf("got %d %q, want 401 %s", code, body, want)
			}
		})
	}
	// The node serves on after every refusal.
	c := n.Dial(t, gt.Token(t, "u1"))
	c.Alive()
}

func TestHandshakeTokenInQuery(t *testing.T) {
	n := gt.Start(t, gt.Config())
	conn, _, err := n.DialRawURL(n.WSURL()+"?token="+gt.Token(t, "browser-user"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := gt.Watch(t, conn)
	f := c.Expect("connected")
	var d struct{ ClientID, UserID string }
	if err := json.Unmarshal(f.Data, &d); err != nil || d.UserID != "browser-user" || d.ClientID == "" {
		t.Fatalf("connected data %s", f.Data)
	}
}

func TestHandshakeRSAKeysAndAlgorithmConfusion(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := jwk.FromRaw(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	_ = pub.Set(jwk.KeyIDKey, "k1")
	_ = pub.Set(jwk.AlgorithmKey, jwa.RS256)
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	raw, _ := json.Marshal(set)
	file := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := gt.Config()
	cfg.Auth.JWTSecret = ""
	cfg.Auth.JWKSFile = file
	n := gt.Start(t, cfg)

	priv, _ := jwk.FromRaw(key)
	_ = priv.Set(jwk.KeyIDKey, "k1")
	tok, _ := jwt.NewBuilder().Subject("rs-user").Expiration(time.Now().Add(time.Hour)).Build()
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, priv))
	if err != nil {
		t.Fatal(err)
	}
	c := n.Dial(t, string(signed))
	if c.Connected.UserID != "rs-user" {
		t.Fatalf("userId %q", c.Connected.UserID)
	}

	// HS256 signed with the public key's bytes: the classic confusion attack.
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	forged := signHS(t, pemBytes, func(b *jwt.Builder) *jwt.Builder {
		return b.Subject("attacker").Expiration(time.Now().Add(time.Hour))
	})
	h := http.Header{}
	h.Set("Authorization", "Bearer "+forged)
	code, body := getGame(t, n, h, "")
	if code != 401 || body != `{"statusCode":401,"message":"algorithm not allowed","error":"Unauthorized"}`+"\n" {
		t.Fatalf("forged HS256: %d %s", code, body)
	}
}

func TestHandshakeOrigin(t *testing.T) {
	cfg := gt.Config()
	cfg.Gateway.CORS = config.CORS{Origins: []string{"https://play.example.com", "*.games.example.org"}}
	n := gt.Start(t, cfg)
	tok := gt.Token(t, "u1")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://play.example.com", true},
		{"https://eu.games.example.org", true},
		{"https://evil.example.net", false},
		{"null", false},
	} {
		h := http.Header{}
		h.Set("Origin", tc.origin)
		conn, resp, err := n.DialRaw(tok, h)
		if tc.ok {
			if err != nil {
				t.Fatalf("origin %s refused: %v", tc.origin, err)
			}
			gt.Watch(t, conn).Expect("connected")
			continue
		}
		if err == nil {
			t.Fatalf("origin %s accepted", tc.origin)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("origin %s: response %v, want 403", tc.origin, resp)
		}
		body, _ := io.ReadAll(resp.Body)
		if string(body) != `{"statusCode":403,"message":"origin not allowed","error":"Forbidden"}`+"\n" {
			t.Fatalf("origin %s: body %s", tc.origin, body)
		}
	}
	// No Origin (a game client, not a browser) is allowed.
	n.Dial(t, tok).Alive()
}
