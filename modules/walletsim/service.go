// Package walletsim runs the wallet simulator of pkg/walletsim on the
// configured addresses: inside the gateway when wallet.simulator is true
// (Module), or as a process of its own (cmd/walletsim).
package walletsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/pkg/walletsim"
)

// Service is a simulator listening on cfg.Addr(), with its admin endpoint
// on cfg.Simulated.AdminAddr when that is set.
type Service struct {
	cfg   config.Wallet
	log   *zap.Logger
	sim   *walletsim.Server
	admin *http.Server
	wg    sync.WaitGroup
}

// New returns a Service; nothing listens before Start.
func New(cfg config.Wallet, log *zap.Logger) *Service {
	log = log.Named("walletsim")
	return &Service{
		cfg: cfg,
		log: log,
		sim: walletsim.New(walletsim.Options{
			Currency:       cfg.Simulated.Currency,
			InitialBalance: cfg.Simulated.InitialBalance,
			MaxFrameBytes:  cfg.MaxFrameBytes,
			Logger:         log,
		}),
	}
}

// Start opens the listeners, so that a port in use fails it, then serves
// in the background.
func (s *Service) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Addr())
	if err != nil {
		return fmt.Errorf("wallet simulator: %w", err)
	}
	if addr := s.cfg.Simulated.AdminAddr; addr != "" {
		aln, err := net.Listen("tcp", addr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("wallet simulator admin endpoint: %w", err)
		}
		s.admin = &http.Server{Handler: s.sim.AdminHandler(), ReadHeaderTimeout: 5 * time.Second}
		s.log.Info("wallet simulator admin endpoint listening", zap.Stringer("addr", aln.Addr()))
		s.wg.Go(func() { s.serve("admin endpoint", s.admin.Serve(aln)) })
	}
	s.wg.Go(func() { s.serve("simulator", s.sim.Serve(ln)) })
	return nil
}

func (s *Service) serve(what string, err error) {
	if !errors.Is(err, walletsim.ErrServerClosed) && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error("wallet "+what+" stopped", zap.Error(err))
	}
}

// Stop closes the simulator's connections and lets admin requests finish
// until ctx ends.
func (s *Service) Stop(ctx context.Context) error {
	var err error
	if s.admin != nil {
		err = s.admin.Shutdown(ctx)
	}
	err = errors.Join(err, s.sim.Close())
	s.wg.Wait()
	return err
}
