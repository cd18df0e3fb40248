package walletproto

// Codes of the errors the simulator replies with. A real wallet may use
// others; callers branch on the ones they know.
const (
	CodeBadRequest        = "BAD_REQUEST"
	CodeInsufficientFunds = "INSUFFICIENT_FUNDS"
	CodeUnknownType       = "UNKNOWN_TYPE"
)

// ErrInsufficientFunds matches, with errors.Is, any wallet error of code
// CodeInsufficientFunds.
var ErrInsufficientFunds = &Error{Code: CodeInsufficientFunds, Message: "insufficient funds"}

// Error is the error of a reply with "ok": false. It travels as
// "error": {"code", "message"}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "wallet error " + e.Code + ": " + e.Message }

// Is reports whether target is an *Error with the same code, whatever its
// message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
