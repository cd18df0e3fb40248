package walletsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gamegate/gamegate/pkg/walletproto"
)

// AdminHandler returns the HTTP endpoint that lets a person move money
// while the simulator runs, e.g. to show a balanceUpdated in a demo:
//
//	POST /credit       {"userId":"u1","amount":500}   (txId optional)
//	POST /debit        {"userId":"u1","amount":500}
//	GET  /balance/{userId}
//
// A debit or credit is pushed to a connected gateway like any other. The
// replies are JSON; a refusal is {"code","message"} with status 400 or 409.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /credit", s.adminTransfer(s.Credit))
	mux.HandleFunc("POST /debit", s.adminTransfer(s.Debit))
	mux.HandleFunc("GET /balance/{userId}", func(w http.ResponseWriter, r *http.Request) {
		userID := r.PathValue("userId")
		writeJSON(w, http.StatusOK, adminBalance{UserID: userID, Balance: s.Balance(userID)})
	})
	return mux
}

type adminBalance struct {
	UserID string `json:"userId"`
	walletproto.Balance
	TxID string `json:"txId,omitempty"`
}

func (s *Server) adminTransfer(apply func(walletproto.Transfer) (walletproto.Balance, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var t walletproto.Transfer
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			writeJSON(w, http.StatusBadRequest, badRequest("body: "+err.Error()))
			return
		}
		if t.TxID == "" {
			t.TxID = fmt.Sprintf("admin-%d-%d", time.Now().UnixNano(), s.adminTxs.Add(1))
		}
		balance, err := apply(t)
		var werr *walletproto.Error
		switch {
		case errors.Is(err, walletproto.ErrInsufficientFunds):
			writeJSON(w, http.StatusConflict, err)
		case errors.As(err, &werr):
			writeJSON(w, http.StatusBadRequest, werr)
		default:
			writeJSON(w, http.StatusOK, adminBalance{UserID: t.UserID, Balance: balance, TxID: t.TxID})
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
