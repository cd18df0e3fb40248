// Package logging builds the zap logger every module uses, and routes fx's
// own events through it.
package logging

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/gamegate/gamegate/modules/config"
)

// Module provides *zap.Logger from the log section.
var Module = fx.Module("logging", fx.Provide(New))

// FxLogger logs fx's events (provides, invokes, hooks) at debug level, and
// its errors at error level, so a normal start stays quiet.
var FxLogger = fx.WithLogger(func(log *zap.Logger) fxevent.Logger {
	l := &fxevent.ZapLogger{Logger: log.Named("fx")}
	l.UseLogLevel(zapcore.DebugLevel)
	return configQuiet{l}
})

// configQuiet leaves out the failures that a bad configuration (a module's
// section, say) causes: the command prints that error alone, one line
// naming the key, and a log record would only repeat it with a stack.
type configQuiet struct{ fxevent.Logger }

func (l configQuiet) LogEvent(e fxevent.Event) {
	switch e := e.(type) {
	case *fxevent.Invoked:
		if errors.Is(e.Err, config.ErrInvalid) {
			return
		}
	case *fxevent.Run:
		if errors.Is(e.Err, config.ErrInvalid) {
			return
		}
	}
	l.Logger.LogEvent(e)
}

// New builds a logger writing to standard error in the configured format.
func New(cfg config.Log) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	zc := zap.NewProductionConfig()
	if cfg.Format == "console" {
		zc = zap.NewDevelopmentConfig()
		zc.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
	}
	zc.Level = zap.NewAtomicLevelAt(level)
	zc.Sampling = nil
	zc.DisableStacktrace = level > zapcore.DebugLevel
	zc.EncoderConfig.TimeKey = "time"
	zc.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	return zc.Build()
}

// Sampled returns log writing the first line of each message per interval
// and dropping the others, for lines written once per failed call or per
// message: an outage then writes one line an interval, not thousands (the
// failures themselves are counted in /metrics).
func Sampled(log *zap.Logger, interval time.Duration) *zap.Logger {
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, interval, 1, 0)
	}))
}
