package gateway

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/pkg/token"
)

// refreshTokenData is refreshToken's data.
type refreshTokenData struct {
	Token string `json:"token" validate:"required"`
}

// tokenRefreshed is refreshToken's reply: the new token's exp (JWT
// NumericDate, seconds).
type tokenRefreshed struct {
	Exp int64 `json:"exp"`
}

// refreshToken replaces the connection's token with a valid one of the same
// user; anything else is refused and the old token stands.
func refreshToken(ctx context.Context, c *Client, in refreshTokenData) (*Reply, error) {
	claims, err := c.srv.verifier.Verify(ctx, in.Token)
	if err != nil {
		return nil, &Exception{Message: token.Message(err)}
	}
	if claims.Subject != c.userID {
		return nil, Exceptionf("the token is for another user")
	}
	c.claims.Store(&claims)
	c.armExpiry()
	c.srv.metrics.SessionAction("refresh")
	return &Reply{Event: "tokenRefreshed", Data: tokenRefreshed{Exp: claims.ExpiresAt.Unix()}}, nil
}

// armExpiry closes the connection with 4001 at its token's exp (plus the
// leeway), with auth.expireConnections; a later call replaces the earlier.
func (c *Client) armExpiry() {
	a := c.srv.auth
	if !a.ExpireConnections {
		return
	}
	at := time.Until(c.claims.Load().ExpiresAt.Add(a.Leeway))
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if c.expiry == nil {
		c.expiry = time.AfterFunc(at, func() {
			c.srv.log.Info("token expired; closing with 4001", zap.String("clientId", c.id), zap.String("userId", c.userID))
			c.srv.metrics.SessionAction("token_expired")
			c.Close(StatusTokenExpired, "token expired")
		})
		return
	}
	c.expiry.Reset(at)
}

func (c *Client) disarmExpiry() {
	c.roomsMu.Lock()
	defer c.roomsMu.Unlock()
	if c.expiry != nil {
		c.expiry.Stop()
	}
}

// limitSessions closes the user's oldest connections, on every node, when
// the new one c passes gateway.maxSessionsPerUser.
func (s *Server) limitSessions(c *Client) {
	limit := s.cfg.MaxSessionsPerUser
	if limit == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, storeTimeout)
	defer cancel()
	room := PersonalRoom(c.userID)
	all, err := s.sockets.FetchSockets(ctx, room)
	if err != nil {
		s.log.Warn("counting the user's connections failed; the session limit is not applied", zap.Error(err))
	}
	for _, old := range all[:max(0, len(all)-limit)] { // oldest first
		_, _ = s.sockets.count(ctx, Op{Kind: "disconnect", Room: room, Only: old.ClientID,
			Code: int(StatusSessionLimit), Reason: "session limit"})
	}
}
