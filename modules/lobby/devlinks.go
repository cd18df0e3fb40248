package lobby

import (
	"net"
	"strconv"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/httpserver"
	"github.com/gamegate/gamegate/pkg/token"
)

// The identities of the development links: a player, and an operator whose
// admin role unlocks the page's broadcast form (notification.role's default).
const (
	devPlayer = "alice"
	devAdmin  = "ops"
	devTTL    = 24 * time.Hour
)

// logDevLinks logs, once the HTTP server listens, an address of the lobby
// with a player token and one with an admin token, when tokens are checked
// against the development secret only. Anyone can mint those tokens anyway,
// and the person who just ran `go run ./cmd/gateway` needs no second
// command. With a real secret or a JWKS nothing is logged.
func logDevLinks(lc fx.Lifecycle, srv *httpserver.Server, cfg config.Auth, log *zap.Logger) {
	if cfg.JWTSecret != config.DevJWTSecret || cfg.JWKSURL != "" || cfg.JWKSFile != "" {
		return
	}
	lc.Append(fx.StartHook(func() error {
		base := "http://" + browsable(srv.Addr()) + "/?token="
		player, err := token.Mint([]byte(cfg.JWTSecret), devPlayer, nil, devTTL)
		if err != nil {
			return err
		}
		admin, err := token.Mint([]byte(cfg.JWTSecret), devAdmin, []string{"admin"}, devTTL)
		if err != nil {
			return err
		}
		log.Named("lobby").Info("DEVELOPMENT ONLY: open the lobby in a browser (tokens signed with the development JWT secret)",
			zap.String("player", base+player), zap.String("admin", base+admin), zap.Stringer("validFor", devTTL))
		return nil
	}))
}

// browsable is the server's address as a browser on this machine opens it:
// localhost when the server listens on every interface.
func browsable(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if tcp.IP.IsUnspecified() {
		return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
	}
	return tcp.String()
}
