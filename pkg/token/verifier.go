package token

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Options configures a Verifier: either a Secret for HMAC tokens, or a JWKS
// (a file or a URL) for RSA and EC tokens. When a JWKS is configured the
// Secret is ignored, since the JWKS replaces it and a development secret may
// well still be configured.
type Options struct {
	// Secret is the HMAC key. Any length is accepted; warning about a short
	// one is left to the caller.
	Secret []byte

	// JWKSURL is fetched when the Verifier is made, and again in the
	// background every RefreshInterval. At most one of JWKSURL and JWKSFile
	// may be set.
	JWKSURL string

	// JWKSFile is read once, when the Verifier is made.
	JWKSFile string

	// Algorithms are the only "alg" header values accepted. Empty means
	// HS256 with a Secret, and RS256 and ES256 with a JWKS. HMAC algorithms
	// (HS*) need a Secret; RSA and EC ones (RS*, PS*, ES*) need a JWKS.
	Algorithms []string

	// Leeway tolerates clock skew between the issuer and the gateway when
	// checking "exp" and "nbf".
	Leeway time.Duration

	// HTTPClient fetches JWKSURL, each fetch within 10 seconds. Nil means
	// a client of its own.
	HTTPClient *http.Client

	// RefreshInterval is how often JWKSURL is fetched again, so that
	// rotated keys are picked up; a refresh may come up to one interval
	// late. Zero means 15 minutes; the minimum is one second.
	RefreshInterval time.Duration

	// OnRefreshError, if not nil, is told of every failed background
	// refresh; the keys fetched last stay in use. It must not block.
	OnRefreshError func(error)
}

const (
	defaultRefreshInterval = 15 * time.Minute
	fetchTimeout           = 10 * time.Second
	maxJWKSBytes           = 1 << 20
)

// keyTypes maps each supported algorithm to the type of key it verifies with.
var keyTypes = map[jwa.SignatureAlgorithm]jwa.KeyType{
	jwa.HS256: jwa.OctetSeq,
	jwa.HS384: jwa.OctetSeq,
	jwa.HS512: jwa.OctetSeq,
	jwa.RS256: jwa.RSA,
	jwa.RS384: jwa.RSA,
	jwa.RS512: jwa.RSA,
	jwa.PS256: jwa.RSA,
	jwa.PS384: jwa.RSA,
	jwa.PS512: jwa.RSA,
	jwa.ES256: jwa.EC,
	jwa.ES384: jwa.EC,
	jwa.ES512: jwa.EC,
}

// A Verifier checks client tokens. It is safe for concurrent use.
type Verifier struct {
	algs   []jwa.SignatureAlgorithm
	leeway time.Duration
	verify []jws.VerifyOption

	secret any                         // HMAC mode: the []byte key, boxed once rather than per token
	keys   atomic.Pointer[[]publicKey] // JWKS mode, swapped on refresh
	stop   context.CancelFunc          // stops the JWKS refresh; nil without a JWKS URL
}

// publicKey is a JWKS key ready for verification: converted once, when the
// JWKS is loaded, rather than on every token.
type publicKey struct {
	kid string
	alg jwa.SignatureAlgorithm // the JWK's own "alg", or "" when it has none
	kty jwa.KeyType
	raw any // *rsa.PublicKey or *ecdsa.PublicKey
}

// verifies reports whether k can check a signature made with alg.
func (k *publicKey) verifies(alg jwa.SignatureAlgorithm) bool {
	return k.kty == keyTypes[alg] && (k.alg == "" || k.alg == alg)
}

// NewVerifier returns a Verifier for opts. With a JWKS URL it fetches the
// JWKS before returning, within ctx, so that a wrong URL fails the start;
// the background refresh that follows outlives ctx and runs until Close.
func NewVerifier(ctx context.Context, opts Options) (*Verifier, error) {
	jwks := opts.JWKSURL != "" || opts.JWKSFile != ""
	switch {
	case opts.JWKSURL != "" && opts.JWKSFile != "":
		return nil, errors.New("token: both a JWKS URL and a JWKS file are configured")
	case !jwks && len(opts.Secret) == 0:
		return nil, errors.New("token: neither a secret nor a JWKS is configured")
	case opts.Leeway < 0:
		return nil, fmt.Errorf("token: negative leeway %s", opts.Leeway)
	}
	algs, err := pinAlgorithms(opts.Algorithms, jwks)
	if err != nil {
		return nil, err
	}

	v := &Verifier{algs: algs, leeway: opts.Leeway}
	v.verify = []jws.VerifyOption{jws.WithCompact(), jws.WithKeyProvider(jws.KeyProviderFunc(v.fetchKeys))}
	switch {
	case opts.JWKSFile != "":
		set, err := jwk.ReadFile(opts.JWKSFile)
		if err == nil {
			err = v.setKeys(set)
		}
		if err != nil {
			return nil, fmt.Errorf("token: JWKS file %s: %w", opts.JWKSFile, err)
		}
	case opts.JWKSURL != "":
		if err := v.watch(ctx, opts); err != nil {
			return nil, err
		}
	default:
		v.secret = bytes.Clone(opts.Secret)
	}
	return v, nil
}

// pinAlgorithms validates the configured algorithm names against the kind of
// key configured, so that an HMAC algorithm is never checked with a public key
// nor an RSA or EC one with the secret.
func pinAlgorithms(names []string, jwks bool) ([]jwa.SignatureAlgorithm, error) {
	if len(names) == 0 {
		if jwks {
			return []jwa.SignatureAlgorithm{jwa.RS256, jwa.ES256}, nil
		}
		return []jwa.SignatureAlgorithm{jwa.HS256}, nil
	}
	algs := make([]jwa.SignatureAlgorithm, 0, len(names))
	for _, name := range names {
		alg := jwa.SignatureAlgorithm(name)
		kty, ok := keyTypes[alg]
		switch {
		case !ok:
			return nil, fmt.Errorf("token: algorithm %q is not supported", name)
		case jwks && kty == jwa.OctetSeq:
			return nil, fmt.Errorf("token: algorithm %s needs a secret, not a JWKS", name)
		case !jwks && kty != jwa.OctetSeq:
			return nil, fmt.Errorf("token: algorithm %s needs a JWKS, not a secret", name)
		}
		algs = append(algs, alg)
	}
	return algs, nil
}

// watch fetches the JWKS at opts.JWKSURL and keeps refreshing it in the
// background until Close.
func (v *Verifier) watch(ctx context.Context, opts Options) error {
	interval := opts.RefreshInterval
	switch {
	case interval == 0:
		interval = defaultRefreshInterval
	case interval < time.Second:
		return fmt.Errorf("token: JWKS refresh interval %s is under one second", interval)
	}
	cacheOpts := []jwk.CacheOption{jwk.WithRefreshWindow(interval)}
	if opts.OnRefreshError != nil {
		cacheOpts = append(cacheOpts, jwk.WithErrSink(errSinkFunc(opts.OnRefreshError)))
	}

	client := opts.HTTPClient
	if client == nil {
		// One request per interval: keep-alive would only leave an idle
		// connection, and its goroutines, behind after Close.
		client = &http.Client{
			Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true},
		}
	}

	bg, stop := context.WithCancel(context.Background())
	cache := jwk.NewCache(bg, cacheOpts...)
	err := cache.Register(opts.JWKSURL,
		jwk.WithHTTPClient(jwksFetcher{ctx: bg, client: client}),
		jwk.WithRefreshInterval(interval),
		jwk.WithPostFetcher(jwk.PostFetchFunc(v.postFetch)),
	)
	if err == nil {
		_, err = cache.Refresh(ctx, opts.JWKSURL)
	}
	if err != nil {
		stop()
		return fmt.Errorf("token: JWKS %s: %w", opts.JWKSURL, err)
	}
	v.stop = stop
	return nil
}

// jwksFetcher is the jwk.HTTPClient of a Verifier. Each fetch is bounded by
// a timeout and by ctx, which Close cancels, and returns a response whose
// body is already read and closed: jwk.Cache never closes a body, and on a
// failed fetch does not even read it, which would leak the connection.
type jwksFetcher struct {
	ctx    context.Context
	client *http.Client
}

func (f jwksFetcher) Get(url string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(f.ctx, fetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	return res, nil
}

// errSinkFunc adapts a function to jwk.ErrSink.
type errSinkFunc func(error)

func (f errSinkFunc) Error(err error) { f(err) }

// postFetch installs every JWKS the cache fetches. A JWKS without a usable
// key is refused, which keeps the previous keys in use.
func (v *Verifier) postFetch(_ string, set jwk.Set) (jwk.Set, error) {
	if err := v.setKeys(set); err != nil {
		return nil, err
	}
	return set, nil
}

// setKeys replaces the verification keys with those in set that are meant
// for signatures and can check one of the pinned algorithms.
func (v *Verifier) setKeys(set jwk.Set) error {
	var keys []publicKey
	for i := range set.Len() {
		key, _ := set.Key(i)
		if use := key.KeyUsage(); use != "" && use != jwk.ForSignature.String() {
			continue
		}
		k := publicKey{
			kid: key.KeyID(),
			alg: jwa.SignatureAlgorithm(key.Algorithm().String()),
			kty: key.KeyType(),
		}
		if !slices.ContainsFunc(v.algs, k.verifies) {
			continue
		}
		raw, err := jwk.PublicRawKeyOf(key)
		if err != nil {
			return fmt.Errorf("key %q: %w", k.kid, err)
		}
		k.raw = raw
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return fmt.Errorf("no signing key for %v", v.algs)
	}
	v.keys.Store(&keys)
	return nil
}

// Close stops the background refresh of a JWKS URL; Verify keeps using the
// keys fetched last. It is safe to call more than once, and does nothing for
// a Verifier without a JWKS URL.
func (v *Verifier) Close() {
	if v.stop != nil {
		v.stop()
	}
}

// Verify checks raw, a compact JWS, and returns its claims. The "alg" header
// must be one of the pinned algorithms and the signature must match the
// configured keys; "exp" and "sub" are required, and "exp" and "nbf" are
// honoured with the configured leeway. A token with a "kid" header is
// checked only with the JWKS key of that id, one without with every key
// that suits its algorithm.
//
// The error wraps one of the package's sentinels, and may wrap the jwx error
// behind it. Verify does no I/O: a JWKS URL is refreshed in the background.
func (v *Verifier) Verify(ctx context.Context, raw string) (Claims, error) {
	if raw == "" {
		return Claims{}, ErrMissing
	}
	if strings.Count(raw, ".") != 2 {
		return Claims{}, fmt.Errorf("%w: want three dot-separated segments", ErrMalformed)
	}
	payload, err := jws.Verify([]byte(raw), v.verify...)
	switch {
	case err == nil:
	case errors.Is(err, ErrAlgorithm), errors.Is(err, ErrSignature), errors.Is(err, ErrMalformed):
		return Claims{}, err
	case jws.IsVerificationError(err):
		return Claims{}, fmt.Errorf("%w: %w", ErrSignature, err)
	default:
		return Claims{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}

	var c claimSet
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, claimsError(err)
	}
	return c.check(time.Now(), v.leeway)
}

// fetchKeys is the jws.KeyProvider of v. It refuses an "alg" header that is
// not pinned before any key is tried; the keys it offers are then used with
// that algorithm only. It never trusts a key named by the token itself (the
// "jwk" and "jku" headers), and it refuses the "crit" and "b64" headers,
// which jwx would ignore or apply although the gateway supports no JWS
// extension.
func (v *Verifier) fetchKeys(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	alg := h.Algorithm()
	if !slices.Contains(v.algs, alg) {
		return fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	for _, name := range [...]string{jws.CriticalKey, "b64"} {
		if _, ok := h.Get(name); ok {
			return fmt.Errorf("%w: unsupported %q header", ErrMalformed, name)
		}
	}
	if v.secret != nil {
		sink.Key(alg, v.secret)
		return nil
	}
	kid := h.KeyID()
	found := false
	keys := *v.keys.Load()
	for i := range keys {
		k := &keys[i]
		if (kid == "" || kid == k.kid) && k.verifies(alg) {
			sink.Key(alg, k.raw)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("%w: no %s key with kid %q", ErrSignature, alg, kid)
	}
	return nil
}

// claimSet is the JSON payload of a token, reduced to the claims the gateway
// reads. Decoding into it, rather than into a jwt.Token, types "roles" and
// tells an absent "exp" from a zero one, which jwx's validation skips.
type claimSet struct {
	Sub   string   `json:"sub"`
	Exp   *float64 `json:"exp"`
	Nbf   *float64 `json:"nbf"`
	Roles []string `json:"roles"`
}

// claimTypes names the JSON type each decoded claim must have.
var claimTypes = map[string]string{
	"sub":   "a string",
	"exp":   "a number",
	"nbf":   "a number",
	"roles": "an array of strings",
}

// claimsError explains why a verified payload could not be decoded.
func claimsError(err error) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		if want, ok := claimTypes[typeErr.Field]; ok {
			return fmt.Errorf("%w: %s claim must be %s", ErrMalformed, typeErr.Field, want)
		}
	}
	return fmt.Errorf("%w: claims: %w", ErrMalformed, err)
}

// check validates c at now, allowing leeway of clock skew.
func (c *claimSet) check(now time.Time, leeway time.Duration) (Claims, error) {
	if c.Exp == nil {
		return Claims{}, ErrNoExpiry
	}
	if c.Sub == "" {
		return Claims{}, ErrNoSubject
	}
	exp := numericDate(*c.Exp)
	if !now.Add(-leeway).Before(exp) {
		return Claims{}, fmt.Errorf("%w: exp %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if c.Nbf != nil {
		if nbf := numericDate(*c.Nbf); now.Add(leeway).Before(nbf) {
			return Claims{}, fmt.Errorf("%w: nbf %s", ErrNotYetValid, nbf.UTC().Format(time.RFC3339))
		}
	}
	return Claims{Subject: c.Sub, Roles: c.Roles, ExpiresAt: exp}, nil
}

// numericDate converts a JWT NumericDate, seconds since the Unix epoch that
// may have a fraction. Absurd values are clamped so that they cannot
// overflow into the past.
func numericDate(sec float64) time.Time {
	const limit = 1 << 53 // hundreds of millions of years, exact in a float64
	whole, frac := math.Modf(max(-limit, min(sec, limit)))
	return time.Unix(int64(whole), int64(frac*1e9))
}
