// Package walletevents joins the wallet link to the gateway: the WebSocket
// getBalance event asks the wallet, and the wallet's balanceChanged pushes
// reach the user's connections as balanceUpdated.
package walletevents

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/gamegate/gamegate/modules/gateway"
	"github.com/gamegate/gamegate/modules/logging"
	"github.com/gamegate/gamegate/modules/tcpclient"
	"github.com/gamegate/gamegate/pkg/walletproto"
)

// Module adds the getBalance event and the balanceChanged relay.
var Module = fx.Module("walletevents",
	fx.Provide(
		gateway.AsHandler(NewGetBalance),
		tcpclient.AsPushHandler(NewBalanceRelay),
		gateway.AsEvents(BalanceEvent, BalanceUpdatedEvent),
	),
)

// The events this module sends to clients.
const (
	// BalanceEvent is the reply to getBalance.
	BalanceEvent = "balance"
	// BalanceUpdatedEvent carries a balanceChanged push.
	BalanceUpdatedEvent = "balanceUpdated"
)

// Balance is the data of the `balance` reply.
type Balance struct {
	UserID   string `json:"userId"`
	Balance  int64  `json:"balance"`
	Currency string `json:"currency"`
}

// BalanceUpdated is the data of the `balanceUpdated` push.
type BalanceUpdated struct {
	UserID   string `json:"userId"`
	Balance  int64  `json:"balance"`
	Currency string `json:"currency"`
	TxID     string `json:"txId,omitempty"`
}

// failureLogInterval is how often a failing wallet call is logged: during an
// outage every call fails, and one line a second says so.
const failureLogInterval = time.Second

// NewGetBalance answers getBalance for the token's user, never one named in
// data. It runs async: a slow wallet must not hold up the client's pings.
func NewGetBalance(wallet *tcpclient.Client, log *zap.Logger) gateway.Handler {
	log = logging.Sampled(log.Named("walletevents"), failureLogInterval)
	return gateway.Handler{
		Event: "getBalance",
		Async: true,
		Handle: func(ctx context.Context, c *gateway.Client, _ json.RawMessage) (*gateway.Reply, error) {
			b, err := wallet.GetBalance(ctx, c.UserID())
			if err != nil {
				log.Info("getBalance failed", zap.String("userId", c.UserID()), zap.Error(err))
				return nil, clientError(err)
			}
			return &gateway.Reply{Event: BalanceEvent, Data: Balance{UserID: c.UserID(), Balance: b.Balance, Currency: b.Currency}}, nil
		},
	}
}

// clientError turns a wallet failure into a message a game client can show.
func clientError(err error) error {
	var we *walletproto.Error
	switch {
	case errors.As(err, &we):
		return gateway.Exceptionf("wallet: %s", we.Message)
	case errors.Is(err, tcpclient.ErrConnectionLost):
		return gateway.Exceptionf("wallet connection lost; try again")
	case errors.Is(err, tcpclient.ErrUnavailable):
		return gateway.Exceptionf("wallet unavailable; try again later")
	case errors.Is(err, context.DeadlineExceeded):
		return gateway.Exceptionf("wallet timed out; try again")
	default:
		return gateway.Exceptionf("wallet unavailable; try again later")
	}
}

// NewBalanceRelay forwards balanceChanged to room user:<userId> on every
// node, whichever node's link the wallet chose.
func NewBalanceRelay(e *gateway.Emitter) tcpclient.PushHandler {
	return tcpclient.NewPushHandler(walletproto.TypeBalanceChanged, func(p tcpclient.Push) error {
		var m walletproto.BalanceChanged
		if err := p.Decode(&m); err != nil {
			return err
		}
		if m.UserID == "" {
			return errors.New("balanceChanged without userId")
		}
		return e.ToUser(context.Background(), m.UserID, BalanceUpdatedEvent, BalanceUpdated(m))
	})
}
