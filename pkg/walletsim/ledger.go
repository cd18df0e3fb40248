package walletsim

import (
	"fmt"
	"sync"

	"github.com/gamegate/gamegate/pkg/walletproto"
)

// ledger keeps balances in memory and remembers the outcome of every txId,
// so that a repeated debit or credit changes nothing and gets the same reply.
type ledger struct {
	currency string
	initial  int64

	mu       sync.Mutex
	balances map[string]int64
	outcomes map[string]outcome // by txId
}

type outcome struct {
	balance int64
	err     *walletproto.Error
}

func newLedger(currency string, initial int64) *ledger {
	return &ledger{
		currency: currency,
		initial:  initial,
		balances: map[string]int64{},
		outcomes: map[string]outcome{},
	}
}

// balance returns a user's balance; a user never seen has the initial one.
func (l *ledger) balance(userID string) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.balanceLocked(userID)
}

func (l *ledger) balanceLocked(userID string) int64 {
	if b, ok := l.balances[userID]; ok {
		return b
	}
	return l.initial
}

// apply debits (sign -1) or credits (sign +1) t. changed reports whether
// this call moved the balance: false for a repeated txId or an error.
func (l *ledger) apply(sign int64, t walletproto.Transfer) (balance int64, changed bool, err *walletproto.Error) {
	if err := l.check(t); err != nil {
		return 0, false, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if o, ok := l.outcomes[t.TxID]; ok {
		return o.balance, false, o.err
	}
	current := l.balanceLocked(t.UserID)
	o := outcome{balance: current + sign*t.Amount}
	switch {
	case sign > 0 && o.balance < current:
		o = outcome{balance: current, err: badRequest("the balance would overflow")}
	case o.balance < 0:
		o = outcome{balance: current, err: &walletproto.Error{
			Code:    walletproto.CodeInsufficientFunds,
			Message: fmt.Sprintf("balance %d is less than %d", current, t.Amount),
		}}
	default:
		l.balances[t.UserID] = o.balance
	}
	l.outcomes[t.TxID] = o
	return o.balance, o.err == nil, o.err
}

func (l *ledger) check(t walletproto.Transfer) *walletproto.Error {
	switch {
	case t.UserID == "":
		return badRequest("userId is required")
	case t.Amount <= 0:
		return badRequest("amount must be a positive integer of minor units")
	case t.TxID == "":
		return badRequest("txId is required")
	case t.Currency != "" && t.Currency != l.currency:
		return badRequest(fmt.Sprintf("currency %q, this wallet holds %s", t.Currency, l.currency))
	}
	return nil
}

func badRequest(msg string) *walletproto.Error {
	return &walletproto.Error{Code: walletproto.CodeBadRequest, Message: msg}
}
