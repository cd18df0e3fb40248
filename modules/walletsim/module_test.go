package walletsim_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
	"go.uber.org/zap"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
	"github.com/gamegate/gamegate/modules/config"
	"github.com/gamegate/gamegate/modules/walletsim"
	"github.com/gamegate/gamegate/pkg/frame"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// freePort returns a loopback port nothing listens on.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func walletConfig(t *testing.T, simulator bool) config.Wallet {
	cfg := config.Default().Wallet
	cfg.Host, cfg.Port, cfg.Simulator = "127.0.0.1", freePort(t), simulator
	return cfg
}

func app(t *testing.T, cfg config.Wallet) *fxtest.App {
	return fxtest.New(t, fx.NopLogger, fx.Supply(cfg, zap.NewNop()), walletsim.Module)
}

// hello says hello on a new connection and returns whether it was answered.
func hello(t *testing.T, addr string) bool {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	body, _ := walletproto.JSON{}.Append(nil, walletproto.Header{Type: walletproto.TypeHello, RequestID: "1"}, walletproto.Hello{NodeID: "t"})
	w := frame.LengthPrefix{}.NewWriter(conn, 1<<20)
	if w.WriteFrame(body) != nil || w.Flush() != nil {
		return false
	}
	reply, err := frame.LengthPrefix{}.NewReader(conn, 1<<20).ReadFrame()
	var env walletproto.Envelope
	return err == nil && walletproto.JSON{}.Decode(reply, &env) == nil && env.OK && env.RequestID == "1"
}

func TestSimulatorRunsWhenConfigured(t *testing.T) {
	cfg := walletConfig(t, true)
	cfg.Simulated.AdminAddr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	a := app(t, cfg)
	a.RequireStart()
	if !hello(t, cfg.Addr()) {
		t.Fatal("the embedded simulator does not answer hello")
	}
	res, err := http.Get("http://" + cfg.Simulated.AdminAddr + "/balance/u1")
	if err != nil {
		t.Fatal(err)
	}
	var b struct{ Balance int64 }
	_ = json.NewDecoder(res.Body).Decode(&b)
	res.Body.Close()
	if b.Balance != cfg.Simulated.InitialBalance {
		t.Errorf("admin balance = %d, want %d", b.Balance, cfg.Simulated.InitialBalance)
	}
	a.RequireStop()
	if hello(t, cfg.Addr()) {
		t.Error("the simulator still answers after stop")
	}
}

func TestSimulatorOffByConfig(t *testing.T) {
	cfg := walletConfig(t, false)
	a := app(t, cfg)
	a.RequireStart()
	defer a.RequireStop()
	if hello(t, cfg.Addr()) {
		t.Error("a simulator answers although wallet.simulator is false")
	}
}

func TestStartFailsWhenThePortIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for name, edit := range map[string]func(*config.Wallet){
		"wallet port": func(c *config.Wallet) { c.Port = taken.Addr().(*net.TCPAddr).Port },
		"admin port":  func(c *config.Wallet) { c.Simulated.AdminAddr = taken.Addr().String() },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := walletConfig(t, true)
			edit(&cfg)
			a := fx.New(fx.NopLogger, fx.Supply(cfg, zap.NewNop()), walletsim.Module)
			err := a.Start(context.Background())
			if err == nil || !strings.Contains(err.Error(), "wallet simulator") || !strings.Contains(err.Error(), "address already in use") {
				t.Errorf("Start = %v, want a clear 'address already in use'", err)
			}
			_ = a.Stop(context.Background())
			if name == "admin port" && hello(t, cfg.Addr()) {
				t.Error("the wallet port stayed open after the failed start")
			}
		})
	}
}

// The embedded simulator's admin endpoint is on the gateway's own HTTP
// server under /dev/wallet/, and only while the simulator is embedded.
func TestAdminEndpointIsMountedOnTheGateway(t *testing.T) {
	for _, simulator := range []bool{true, false} {
		t.Run("simulator="+strconv.FormatBool(simulator), func(t *testing.T) {
			cfg := gt.Config()
			cfg.Wallet = walletConfig(t, simulator)
			n := gt.Start(t, cfg)
			res, err := http.Post(n.URL+walletsim.DevPrefix+"/credit", "application/json",
				strings.NewReader(`{"userId":"u1","amount":500}`))
			if err != nil {
				t.Fatal(err)
			}
			var b struct{ Balance int64 }
			_ = json.NewDecoder(res.Body).Decode(&b)
			res.Body.Close()
			switch {
			case simulator && (res.StatusCode != http.StatusOK || b.Balance != cfg.Wallet.Simulated.InitialBalance+500):
				t.Errorf("credit: %d, balance %d; want 200 and %d", res.StatusCode, b.Balance, cfg.Wallet.Simulated.InitialBalance+500)
			case !simulator && res.StatusCode != http.StatusNotFound:
				t.Errorf("credit without a simulator: %d, want 404", res.StatusCode)
			}
		})
	}
}
