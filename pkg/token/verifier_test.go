package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// testSecret is deliberately short, like the development secret.
var testSecret = []byte("dev-secret")

var (
	rsaKey      = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	otherRSAKey = sync.OnceValue(func() *rsa.PrivateKey { return must(rsa.GenerateKey(rand.Reader, 2048)) })
	ecKey       = sync.OnceValue(func() *ecdsa.PrivateKey { return must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader)) })
)

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// claims returns the claims of a valid token for user "u1", with each
// name/value pair of kv set, or removed when the value is nil.
func claims(kv ...any) map[string]any {
	m := map[string]any{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(m, kv[i].(string))
		} else {
			m[kv[i].(string)] = kv[i+1]
		}
	}
	return m
}

// sign returns payload as a compact JWS signed with key, marshalling it to
// JSON unless it is already a string.
func sign(t testing.TB, alg jwa.SignatureAlgorithm, key any, kid string, payload any) string {
	t.Helper()
	b, ok := payload.(string)
	if !ok {
		raw, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		b = string(raw)
	}
	hdr := jws.NewHeaders()
	if kid != "" {
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jws.Sign([]byte(b), jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// unsigned assembles a compact JWS by hand, for tokens jwx refuses to make.
func unsigned(header, payload, signature string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + "." + enc([]byte(signature))
}

// jwksJSON returns a JWKS holding the public part of each key, by kid.
func jwksJSON(t testing.TB, keys map[string]any) []byte {
	t.Helper()
	set := jwk.NewSet()
	for kid, raw := range keys {
		pub, err := jwk.PublicRawKeyOf(raw)
		if err != nil {
			t.Fatal(err)
		}
		k, err := jwk.FromRaw(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Set(jwk.KeyIDKey, kid); err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// jwksServer serves whatever JWKS was stored last, or a 500 when nil.
func jwksServer(t testing.TB, jwks *atomic.Pointer[[]byte]) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := jwks.Load()
		if b == nil {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(*b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newVerifier(t testing.TB, opts Options) *Verifier {
	t.Helper()
	v, err := NewVerifier(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

// testKeys is the JWKS of the verifiers under test. Its symmetric key must
// never verify anything, whatever the token's kid says.
func testKeys(t testing.TB) []byte {
	t.Helper()
	return jwksJSON(t, map[string]any{
		"rsa-1": rsaKey(),
		"ec-1":  ecKey(),
		"oct-1": []byte("symmetric key in a JWKS"),
	})
}

func TestVerify(t *testing.T) {
	hs := newVerifier(t, Options{Secret: testSecret})
	hsLeeway := newVerifier(t, Options{Secret: testSecret, Leeway: time.Minute})
	file := newVerifier(t, Options{JWKSFile: writeFile(t, testKeys(t))})
	var served atomic.Pointer[[]byte]
	jwks := testKeys(t)
	served.Store(&jwks)
	url := newVerifier(t, Options{JWKSURL: jwksServer(t, &served).URL})

	rsaPEM := pem.EncodeToMemory(&pem.Block{
		Type:  "PUBLIC KEY",
		Bytes: must(x509.MarshalPKIXPublicKey(&rsaKey().PublicKey)),
	})
	valid := sign(t, jwa.HS256, testSecret, "", claims())
	segs := strings.Split(valid, ".")
	now := time.Now()

	tests := []struct {
		name  string
		v     *Verifier
		raw   string
		want  error // nil: accepted
		roles []string
	}{
		{name: "valid HS256", v: hs, raw: valid},
		{name: "missing", v: hs, raw: "", want: ErrMissing},
		{name: "garbage", v: hs, raw: "garbage", want: ErrMalformed},
		{name: "two segments", v: hs, raw: segs[0] + "." + segs[1], want: ErrMalformed},
		{name: "four segments", v: hs, raw: valid + ".x", want: ErrMalformed},
		{name: "bad base64", v: hs, raw: "!!!." + segs[1] + "." + segs[2], want: ErrMalformed},
		{name: "bad header JSON", v: hs, raw: unsigned(`{"alg":`, `{"sub":"u1"}`, "sig"), want: ErrMalformed},
		{name: "unknown alg", v: hs, raw: unsigned(`{"alg":"HS257"}`, `{"sub":"u1"}`, "sig"), want: ErrAlgorithm},
		{name: "bad payload JSON", v: hs, raw: sign(t, jwa.HS256, testSecret, "", `{"sub":`), want: ErrMalformed},
		{name: "payload not an object", v: hs, raw: sign(t, jwa.HS256, testSecret, "", `["u1"]`), want: ErrMalformed},
		{name: "JSON serialization", v: hs, raw: `{"payload":"e30","signatures":[]}`, want: ErrMalformed},
		{name: "expired", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", now.Add(-time.Hour).Unix())), want: ErrExpired},
		{name: "exp zero", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", 0)), want: ErrExpired},
		{name: "expired within leeway", v: hsLeeway, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", now.Add(-10*time.Second).Unix()))},
		{name: "expired beyond leeway", v: hsLeeway, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", now.Add(-2*time.Minute).Unix())), want: ErrExpired},
		{name: "fractional exp", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", float64(now.Add(time.Hour).UnixMilli())/1e3))},
		{name: "not yet valid", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("nbf", now.Add(time.Hour).Unix())), want: ErrNotYetValid},
		{name: "nbf within leeway", v: hsLeeway, raw: sign(t, jwa.HS256, testSecret, "", claims("nbf", now.Add(10*time.Second).Unix()))},
		{name: "nbf passed", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("nbf", now.Add(-time.Minute).Unix()))},
		{name: "iat in the future is ignored", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("iat", now.Add(time.Hour).Unix()))},
		{name: "no exp", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", nil)), want: ErrNoExpiry},
		{name: "exp null", v: hs, raw: sign(t, jwa.HS256, testSecret, "", `{"sub":"u1","exp":null}`), want: ErrNoExpiry},
		{name: "exp not a number", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("exp", "tomorrow")), want: ErrMalformed},
		{name: "no sub", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("sub", nil)), want: ErrNoSubject},
		{name: "empty sub", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("sub", "")), want: ErrNoSubject},
		{name: "sub not a string", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("sub", 42)), want: ErrMalformed},
		{name: "roles", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("roles", []string{"admin", "player"})), roles: []string{"admin", "player"}},
		{name: "roles empty", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("roles", []string{})), roles: []string{}},
		{name: "roles not an array", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("roles", "admin")), want: ErrMalformed},
		{name: "roles with a number", v: hs, raw: sign(t, jwa.HS256, testSecret, "", claims("roles", []any{"admin", 1})), want: ErrMalformed},
		{name: "other secret", v: hs, raw: sign(t, jwa.HS256, []byte("another secret"), "", claims()), want: ErrSignature},
		{name: "tampered payload", v: hs, raw: segs[0] + "." + strings.Split(sign(t, jwa.HS256, testSecret, "", claims("sub", "u2")), ".")[1] + "." + segs[2], want: ErrSignature},
		{name: "alg none", v: hs, raw: unsigned(`{"alg":"none","typ":"JWT"}`, `{"sub":"u1","exp":9999999999}`, ""), want: ErrAlgorithm},
		{name: "alg none with a signature", v: hs, raw: unsigned(`{"alg":"none"}`, `{"sub":"u1","exp":9999999999}`, "x"), want: ErrAlgorithm},
		{name: "alg none against JWKS", v: file, raw: unsigned(`{"alg":"none","kid":"rsa-1"}`, `{"sub":"u1","exp":9999999999}`, ""), want: ErrAlgorithm},
		{name: "crit header", v: hs, raw: unsigned(`{"alg":"HS256","crit":["exp"],"exp":1}`, `{"sub":"u1","exp":9999999999}`, "x"), want: ErrMalformed},
		{name: "b64 header", v: hs, raw: unsigned(`{"alg":"HS256","b64":false}`, `{"sub":"u1","exp":9999999999}`, "x"), want: ErrMalformed},
		{name: "no alg", v: hs, raw: unsigned(`{"typ":"JWT"}`, `{"sub":"u1","exp":9999999999}`, "x"), want: ErrAlgorithm},
		{name: "HS384 not pinned", v: hs, raw: sign(t, jwa.HS384, testSecret, "", claims()), want: ErrAlgorithm},
		{name: "RS256 against secret", v: hs, raw: sign(t, jwa.RS256, rsaKey(), "rsa-1", claims()), want: ErrAlgorithm},
		{name: "HS256 keyed with the RSA public key", v: file, raw: sign(t, jwa.HS256, rsaPEM, "rsa-1", claims()), want: ErrAlgorithm},
		{name: "HS256 keyed with the JWKS oct key", v: file, raw: sign(t, jwa.HS256, []byte("symmetric key in a JWKS"), "oct-1", claims()), want: ErrAlgorithm},
		{name: "RS256 from file", v: file, raw: sign(t, jwa.RS256, rsaKey(), "rsa-1", claims("roles", []string{"admin"})), roles: []string{"admin"}},
		{name: "ES256 from file", v: file, raw: sign(t, jwa.ES256, ecKey(), "ec-1", claims())},
		{name: "RS256 without kid", v: file, raw: sign(t, jwa.RS256, rsaKey(), "", claims())},
		{name: "ES256 without kid", v: file, raw: sign(t, jwa.ES256, ecKey(), "", claims())},
		{name: "unknown kid", v: file, raw: sign(t, jwa.RS256, rsaKey(), "rsa-9", claims()), want: ErrSignature},
		{name: "kid of a key of another type", v: file, raw: sign(t, jwa.ES256, ecKey(), "rsa-1", claims()), want: ErrSignature},
		{name: "RS256 by an unknown key", v: file, raw: sign(t, jwa.RS256, otherRSAKey(), "rsa-1", claims()), want: ErrSignature},
		{name: "RS256 by an unknown key without kid", v: file, raw: sign(t, jwa.RS256, otherRSAKey(), "", claims()), want: ErrSignature},
		{name: "PS256 not pinned", v: file, raw: sign(t, jwa.PS256, rsaKey(), "rsa-1", claims()), want: ErrAlgorithm},
		{name: "expired from file", v: file, raw: sign(t, jwa.ES256, ecKey(), "ec-1", claims("exp", now.Add(-time.Hour).Unix())), want: ErrExpired},
		{name: "RS256 from URL", v: url, raw: sign(t, jwa.RS256, rsaKey(), "rsa-1", claims())},
		{name: "ES256 from URL", v: url, raw: sign(t, jwa.ES256, ecKey(), "ec-1", claims())},
		{name: "RS256 by an unknown key from URL", v: url, raw: sign(t, jwa.RS256, otherRSAKey(), "rsa-1", claims()), want: ErrSignature},
		{name: "HS256 against URL", v: url, raw: sign(t, jwa.HS256, rsaPEM, "rsa-1", claims()), want: ErrAlgorithm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.Verify(t.Context(), tt.raw)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("Verify() error = %v, want %v", err, tt.want)
				}
				if got := Message(err); got != tt.want.Error() {
					t.Errorf("Message() = %q, want %q", got, tt.want.Error())
				}
				if c.Subject != "" {
					t.Errorf("Verify() claims = %+v on error", c)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if c.Subject != "u1" || !slices.Equal(c.Roles, tt.roles) || (c.Roles == nil) != (tt.roles == nil) || c.ExpiresAt.IsZero() {
				t.Errorf("Verify() = %+v, want subject u1, roles %q", c, tt.roles)
			}
		})
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	var served atomic.Pointer[[]byte]
	down := jwksServer(t, &served)
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	jwksFile := writeFile(t, testKeys(t))
	symmetricOnly := writeFile(t, jwksJSON(t, map[string]any{"oct-1": []byte("k")}))
	ecOnly := writeFile(t, jwksJSON(t, map[string]any{"ec-1": ecKey()}))

	tests := []struct {
		name    string
		opts    Options
		mention string
	}{
		{name: "nothing", opts: Options{}, mention: "neither"},
		{name: "file and URL", opts: Options{JWKSFile: jwksFile, JWKSURL: down.URL}, mention: "both"},
		{name: "negative leeway", opts: Options{Secret: testSecret, Leeway: -time.Second}, mention: "leeway"},
		{name: "none", opts: Options{Secret: testSecret, Algorithms: []string{"none"}}, mention: `"none"`},
		{name: "unknown algorithm", opts: Options{Secret: testSecret, Algorithms: []string{"hs256"}}, mention: `"hs256"`},
		{name: "RS256 with a secret", opts: Options{Secret: testSecret, Algorithms: []string{"RS256"}}, mention: "RS256"},
		{name: "HS256 with a JWKS", opts: Options{JWKSFile: jwksFile, Algorithms: []string{"RS256", "HS256"}}, mention: "HS256"},
		{name: "missing file", opts: Options{JWKSFile: "/nonexistent/jwks.json"}, mention: "/nonexistent/jwks.json"},
		{name: "file without signing keys", opts: Options{JWKSFile: symmetricOnly}, mention: symmetricOnly},
		{name: "file without keys for the algorithms", opts: Options{JWKSFile: ecOnly, Algorithms: []string{"RS256"}}, mention: "no signing key"},
		{name: "URL failing", opts: Options{JWKSURL: down.URL}, mention: down.URL},
		{name: "URL unreachable", opts: Options{JWKSURL: closed.URL}, mention: closed.URL},
		{name: "refresh too often", opts: Options{JWKSURL: down.URL, RefreshInterval: time.Millisecond}, mention: "refresh interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := NewVerifier(t.Context(), tt.opts)
			if err == nil {
				v.Close()
				t.Fatal("NewVerifier() succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("NewVerifier() error = %q, want it to mention %q", err, tt.mention)
			}
		})
	}
}

// TestJWKSURLRefresh rotates the served keys and checks that the background
// refresh picks the new key up, and keeps the old keys while the JWKS URL
// fails.
func TestJWKSURLRefresh(t *testing.T) {
	var served atomic.Pointer[[]byte]
	old := jwksJSON(t, map[string]any{"rsa-1": rsaKey()})
	served.Store(&old)
	refreshErrs := make(chan error, 10)
	v := newVerifier(t, Options{
		JWKSURL:         jwksServer(t, &served).URL,
		RefreshInterval: time.Second,
		OnRefreshError: func(err error) {
			select {
			case refreshErrs <- err:
			default:
			}
		},
	})
	oldToken := sign(t, jwa.RS256, rsaKey(), "rsa-1", claims())
	newToken := sign(t, jwa.RS256, otherRSAKey(), "rsa-2", claims())

	served.Store(nil)
	select {
	case err := <-refreshErrs:
		t.Logf("refresh error, as expected: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no refresh error reported while the JWKS URL fails")
	}
	if _, err := v.Verify(t.Context(), oldToken); err != nil {
		t.Fatalf("Verify(old key) after a failed refresh = %v", err)
	}

	rotated := jwksJSON(t, map[string]any{"rsa-2": otherRSAKey()})
	served.Store(&rotated)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(t.Context(), newToken)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrSignature) || time.Now().After(deadline) {
			t.Fatalf("Verify(new key) = %v, want the rotated key picked up", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := v.Verify(t.Context(), oldToken); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify(retired key) = %v, want %v", err, ErrSignature)
	}
}

func TestCloseTwice(t *testing.T) {
	var served atomic.Pointer[[]byte]
	jwks := testKeys(t)
	served.Store(&jwks)
	v, err := NewVerifier(t.Context(), Options{JWKSURL: jwksServer(t, &served).URL})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	v.Close()
	if _, err := v.Verify(t.Context(), sign(t, jwa.RS256, rsaKey(), "rsa-1", claims())); err != nil {
		t.Errorf("Verify() after Close = %v, want the last keys still in use", err)
	}
}

func FuzzVerify(f *testing.F) {
	valid := sign(f, jwa.HS256, testSecret, "", claims("roles", []string{"a"}))
	for _, seed := range []string{
		"",
		"garbage",
		"a.b",
		"a.b.c",
		"...",
		valid,
		valid[:len(valid)-3],
		unsigned(`{"alg":"none"}`, `{"sub":"u1","exp":9999999999}`, ""),
		unsigned(`{"alg":"HS256","crit":["b64"],"b64":false}`, `{}`, "x"),
		`{"payload":"e30","signatures":[{"protected":"e30","signature":""}]}`,
	} {
		f.Add(seed)
	}
	v, err := NewVerifier(f.Context(), Options{Secret: testSecret})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(t.Context(), raw)
		if err == nil {
			if c.Subject == "" {
				t.Fatalf("Verify(%q) accepted a token without subject", raw)
			}
			return
		}
		if !slices.ContainsFunc(sentinels, func(s error) bool { return errors.Is(err, s) }) {
			t.Fatalf("Verify(%q) = %v, which wraps no sentinel", raw, err)
		}
	})
}

func BenchmarkVerifyHS256(b *testing.B) {
	v, err := NewVerifier(b.Context(), Options{Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := Mint(testSecret, "user-42", []string{"player"}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(b.Context(), raw); err != nil {
			b.Fatal(err)
		}
	}
}
