// Package httpserver runs the echo server that carries REST, the health
// endpoints and the WebSocket upgrades. Other modules add routes through the
// "http.routes" value group; start and stop are fx lifecycle hooks.
package httpserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers on http.DefaultServeMux, served only with http.pprof
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/config"
)

// Route is one endpoint contributed by a module.
type Route struct {
	Method     string
	Path       string
	Handler    echo.HandlerFunc
	Middleware []echo.MiddlewareFunc
	// OwnCORS: the handler answers CORS itself, preflights included, and
	// the server's CORS middleware leaves its path alone.
	OwnCORS bool
	// Release, when set, marks a route whose requests are held open until
	// there is something to answer (a long-poll): it runs once the server
	// stops accepting, so that the stop, which waits for the requests in
	// flight, does not wait for them; and Held reports such requests, whose
	// duration is a wait, not a latency.
	Release func()
}

// The server's value groups.
const (
	// RouteGroup holds the modules' []Route, see AsRoutes.
	RouteGroup = "http.routes"
	// MiddlewareGroup holds Middleware, see AsMiddleware.
	MiddlewareGroup = "http.middleware"
)

// AsRoutes annotates a constructor returning []Route so that its routes join
// the server, e.g. fx.Provide(httpserver.AsRoutes(NewController)).
func AsRoutes(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+RouteGroup+`,flatten"`))
}

// Middleware wraps every route; modules add to it through the
// "http.middleware" group (metrics, tracing). The order within the group is
// not defined.
type Middleware echo.MiddlewareFunc

// AsMiddleware annotates a constructor returning Middleware.
func AsMiddleware(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"`+MiddlewareGroup+`"`))
}

// Params are the server's dependencies.
type Params struct {
	fx.In

	Config   config.HTTP
	CORS     config.Gateway
	Shutdown config.Shutdown
	Drain    *Drain
	Log      *zap.Logger
	// RouteGroup and MiddlewareGroup: a struct tag cannot be built from a
	// constant.
	Routes     []Route      `group:"http.routes"`
	Middleware []Middleware `group:"http.middleware"`
}

// Server is the HTTP server. Its listener is opened in Start, so a port in
// use fails the start.
type Server struct {
	echo  *echo.Echo
	srv   *http.Server
	addr  string
	log   *zap.Logger
	limit *connLimit
	ln    *listener
	done  chan struct{}
	drain *Drain
	delay time.Duration // shutdownDrainDelay
}

// Drain says whether the node has begun to stop. The HTTP server sets it
// first thing in its stop and keeps serving for shutdownDrainDelay:
// readiness reports it, so that load balancers take the node out while it
// still answers.
type Drain struct{ draining atomic.Bool }

// Draining reports whether the stop has begun.
func (d *Drain) Draining() bool { return d.draining.Load() }

// New builds the server and registers every route.
func New(p Params) *Server {
	limit := &connLimit{max: int64(p.Config.MaxConnections)}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = ErrorHandler(p.Log)
	e.Use(middleware.Recover())
	for _, m := range p.Middleware {
		e.Use(echo.MiddlewareFunc(m))
	}
	e.Use(middleware.BodyLimit(fmt.Sprint(p.Config.MaxBodyBytes) + "B"))
	ownCORS := make(map[string]bool)
	for _, r := range p.Routes {
		if r.OwnCORS {
			ownCORS[r.Path] = true
		}
	}
	e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
		AllowOrigins: p.CORS.CORS.Origins,
		Skipper:      func(c echo.Context) bool { return ownCORS[c.Path()] },
	}))
	e.Use(atCap(limit))
	srv := &http.Server{
		Handler:  e,
		ErrorLog: zap.NewStdLog(p.Log.Named("http")),
		// ReadTimeout bounds the whole request from its first byte, the
		// headers too (ReadHeaderTimeout defaults to it), however slowly
		// it trickles in. Upgraded WebSockets are hijacked: the gateway
		// sets their deadlines.
		ReadTimeout:  p.Config.RequestTimeout,
		WriteTimeout: p.Config.WriteTimeout,
		IdleTimeout:  p.Config.IdleTimeout,
		ConnContext:  markOverCap,
	}
	for _, r := range p.Routes {
		mw := r.Middleware
		if r.Release != nil {
			srv.RegisterOnShutdown(r.Release)
			mw = append([]echo.MiddlewareFunc{markHeld}, mw...)
		}
		e.Add(r.Method, r.Path, r.Handler, mw...)
	}
	if p.Config.Pprof {
		e.Any("/debug/pprof/*", echo.WrapHandler(http.DefaultServeMux))
		p.Log.Warn("serving profiles at /debug/pprof/ (http.pprof): do not expose this port publicly")
	}
	return &Server{
		echo:  e,
		srv:   srv,
		addr:  p.Config.Addr,
		log:   p.Log.Named("http"),
		limit: limit,
		drain: p.Drain,
		delay: p.Shutdown.DrainDelay,
	}
}

// Start opens the listener and serves in the background.
func (s *Server) Start(context.Context) error {
	if s.limit.max == 0 {
		n, err := defaultMaxConnections()
		if err != nil {
			return fmt.Errorf("http.maxConnections: %w", err)
		}
		s.limit.max = n
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("http.addr %s: cannot listen (is another process using the port? set HTTP_ADDR): %w", s.addr, err)
	}
	s.ln = newListener(ln.(*net.TCPListener), s.limit, s.log)
	s.done = make(chan struct{})
	s.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Int64("maxConnections", s.limit.max))
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("serve", zap.Error(err))
		}
	}()
	return nil
}

// Stop begins the node's stop: readiness fails at once, the server keeps
// serving for shutdownDrainDelay, then stops accepting and waits for
// in-flight requests, bounded by ctx. Upgraded WebSockets are not tracked
// here: the gateway closes them.
func (s *Server) Stop(ctx context.Context) error {
	s.drain.draining.Store(true)
	if s.delay > 0 {
		s.log.Info("stopping: /readyz answers 503; serving on for shutdownDrainDelay", zap.Duration("shutdownDrainDelay", s.delay))
		select {
		case <-time.After(s.delay):
		case <-ctx.Done():
		}
	}
	s.log.Info("no longer accepting connections; finishing in-flight requests",
		zap.Int64("openConnections", s.limit.open.Load()))
	start := time.Now()
	err := s.srv.Shutdown(ctx)
	<-s.done
	if err != nil {
		s.log.Warn("in-flight requests cut at the shutdown timeout", zap.Error(err))
		return err
	}
	s.log.Info("in-flight requests finished", zap.Duration("took", time.Since(start)))
	return nil
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// OpenConnections is how many accepted connections are open, upgraded
// WebSockets included.
func (s *Server) OpenConnections() int64 { return s.limit.open.Load() }

// RejectedConnections counts the connections accepted over
// http.maxConnections since the start: each got 503 (health and metrics
// excepted) and was closed.
func (s *Server) RejectedConnections() uint64 { return s.limit.rejected.Load() }

// Echo is the underlying router, for tests and for modules that need more
// than Route offers.
func (s *Server) Echo() *echo.Echo { return s.echo }

const heldKey = "httpserver.held"

func markHeld(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Set(heldKey, true)
		return next(c)
	}
}

// Held reports whether c's route holds its requests open (Route.Release).
func Held(c echo.Context) bool {
	held, _ := c.Get(heldKey).(bool)
	return held
}
