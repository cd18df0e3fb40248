// Package auth provides the token verifier shared by the WebSocket handshake
// and the REST guards.
package auth

import (
	"context"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/token"
)

// Module provides *token.Verifier, closed when the application stops.
var Module = fx.Module("auth", fx.Provide(NewVerifier))

// NewVerifier builds the verifier from the auth section. A JWKS URL is
// fetched once here, so an unreachable one fails the start.
func NewVerifier(lc fx.Lifecycle, cfg config.Auth, log *zap.Logger) (*token.Verifier, error) {
	if cfg.JWTSecret == config.DevJWTSecret && cfg.JWKSURL == "" && cfg.JWKSFile == "" {
		log.Warn("JWT_SECRET is the development value shipped in config.yaml: anyone can mint tokens; set JWT_SECRET (or JWT_JWKS_URL) before going to production")
	}
	v, err := token.NewVerifier(context.Background(), token.Options{
		Secret:     []byte(cfg.JWTSecret),
		JWKSURL:    cfg.JWKSURL,
		JWKSFile:   cfg.JWKSFile,
		Algorithms: cfg.Algorithms,
		Leeway:     cfg.Leeway,
		OnRefreshError: func(err error) {
			log.Warn("refreshing the JWKS failed; still using the keys fetched last", zap.String("url", cfg.JWKSURL), zap.Error(err))
		},
	})
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(v.Close))
	return v, nil
}
