package tcpclient_test

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/internal/waitfor"
	"github.com/gamegate/gamegate/modules/tcpclient"
	simmodule "github.com/gamegate/gamegate/modules/walletsim"
	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// countingFraming wraps a Framing and counts the frames it reads.
type countingFraming struct {
	frame.Framing
	frames *atomic.Int64
}

func (f countingFraming) NewReader(r io.Reader, max int) frame.Reader {
	return countingReader{f.Framing.NewReader(r, max), f.frames}
}

type countingReader struct {
	frame.Reader
	frames *atomic.Int64
}

func (r countingReader) ReadFrame() ([]byte, error) {
	b, err := r.Reader.ReadFrame()
	if err == nil {
		r.frames.Add(1)
	}
	return b, err
}

// The wiring another package uses: the module, a push handler added with
// fx options alone, and the framing replaced through fx.Decorate.
func TestModule(t *testing.T) {
	cfg := testConfig(t, freeAddr(t))
	cfg.Simulator = true
	rec := &pushRecorder{typ: walletproto.TypeBalanceChanged}
	var frames atomic.Int64
	var client *tcpclient.Client
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(cfg, zap.NewNop()),
		simmodule.Module,
		tcpclient.Module,
		fx.Provide(tcpclient.AsPushHandler(func() *pushRecorder { return rec })),
		fx.Decorate(func(f frame.Framing) frame.Framing { return countingFraming{f, &frames} }),
		fx.Populate(&client),
	)
	app.RequireStart()

	if _, err := client.Debit(context.Background(), walletproto.Transfer{UserID: "u1", Amount: 1, TxID: "t1"}); err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 5*time.Second, func() error {
		if got, _ := rec.received(); len(got) != 1 || got[0].UserID != "u1" {
			return fmt.Errorf("pushes = %+v", got)
		}
		return nil
	})
	if frames.Load() == 0 {
		t.Error("the decorated framing was not used")
	}
	app.RequireStop()
	if st := client.State(); st != tcpclient.Down {
		t.Errorf("state after stop = %v, want down", st)
	}
}

func TestModuleStartDoesNotWaitForTheWallet(t *testing.T) {
	var client *tcpclient.Client
	app := fxtest.New(t, fx.NopLogger,
		fx.Supply(testConfig(t, freeAddr(t)), zap.NewNop()),
		tcpclient.Module,
		fx.Populate(&client),
	)
	app.RequireStart()
	if st := client.State(); st == tcpclient.Up {
		t.Errorf("state = %v with no wallet", st)
	}
	app.RequireStop()
}
