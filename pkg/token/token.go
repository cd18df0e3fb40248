// Package token verifies the JWTs that authenticate gateway clients and
// mints HS256 tokens for development.
//
// A Verifier accepts only the signature algorithms it was configured with,
// so a token can never choose how it is checked: "none" is never accepted,
// and an HMAC key is never mixed up with an RSA or EC one.
package token

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Every error returned by Verify wraps exactly one of these. Their messages
// are safe to send to the client, for example as the message of a 401 body;
// see Message.
var (
	ErrMissing     = errors.New("missing token")
	ErrMalformed   = errors.New("malformed token")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not yet valid")
	ErrSignature   = errors.New("invalid signature")
	ErrAlgorithm   = errors.New("algorithm not allowed")
	ErrNoSubject   = errors.New("token has no sub claim")
	ErrNoExpiry    = errors.New("token has no exp claim")
)

var sentinels = []error{
	ErrMissing, ErrMalformed, ErrExpired, ErrNotYetValid,
	ErrSignature, ErrAlgorithm, ErrNoSubject, ErrNoExpiry,
}

// Message returns the public message of the sentinel that err wraps. The
// rest of err's text, which may describe the token or the keys, is left out
// so that it can be logged but never reaches the client. An error that wraps
// no sentinel gives "invalid token".
func Message(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "invalid token"
}

// Claims are the verified claims the gateway acts on.
type Claims struct {
	// Subject is the "sub" claim: the user id.
	Subject string
	// Roles is the optional "roles" claim, which guards check.
	Roles []string
	// ExpiresAt is the "exp" claim.
	ExpiresAt time.Time
}

// HasRole reports whether role is one of c.Roles.
func (c Claims) HasRole(role string) bool {
	return slices.Contains(c.Roles, role)
}

// FromRequest returns the token a client sent with r: the credentials of an
// "Authorization: Bearer" header (the scheme is case-insensitive) or else,
// because browsers cannot set headers on a WebSocket handshake, the "token"
// query parameter. It returns "" when there is neither.
func FromRequest(r *http.Request) string {
	if t := Bearer(r.Header.Get("Authorization")); t != "" {
		return t
	}
	return r.URL.Query().Get("token")
}

// Bearer returns the credentials of an Authorization header value with the
// Bearer scheme (case-insensitive), or "" for any other value.
func Bearer(authorization string) string {
	scheme, credentials, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(credentials)
}

// Mint returns an HS256 token for sub, signed with secret, issued now and
// expiring after ttl. roles, if not nil, becomes the "roles" claim. It is
// meant for development, where no identity provider issues tokens.
func Mint(secret []byte, sub string, roles []string, ttl time.Duration) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("token: mint: empty secret")
	case sub == "":
		return "", errors.New("token: mint: empty subject")
	case ttl <= 0:
		return "", fmt.Errorf("token: mint: ttl %s is not positive", ttl)
	}
	now := time.Now()
	b := jwt.NewBuilder().Subject(sub).IssuedAt(now).Expiration(now.Add(ttl))
	if roles != nil {
		b = b.Claim("roles", roles)
	}
	t, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("token: mint: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.HS256, secret))
	if err != nil {
		return "", fmt.Errorf("token: mint: %w", err)
	}
	return string(signed), nil
}
