package wsconn

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// HandshakeError is a request that is not a WebSocket opening handshake the
// server can accept. Upgrade writes no response for it: the caller answers
// with Status in its own error format, and with Header (Sec-WebSocket-Version
// on a 426).
type HandshakeError struct {
	Status  int
	Message string
	Header  http.Header
}

func (e *HandshakeError) Error() string { return "websocket handshake: " + e.Message }

func badHandshake(format string, args ...any) *HandshakeError {
	return &HandshakeError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// acceptGUID is RFC 6455's constant for Sec-WebSocket-Accept.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey is the Sec-WebSocket-Accept value for a request's key (§4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + acceptGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// checkHandshake applies §4.2.1 to r and returns its key.
func checkHandshake(r *http.Request) (string, error) {
	switch {
	case r.Method != http.MethodGet:
		return "", &HandshakeError{Status: http.StatusMethodNotAllowed, Message: "a WebSocket handshake is a GET request"}
	case !r.ProtoAtLeast(1, 1):
		return "", badHandshake("a WebSocket handshake needs HTTP/1.1")
	case !hasToken(r.Header, "Connection", "upgrade"):
		return "", &HandshakeError{Status: http.StatusUpgradeRequired, Message: `this endpoint speaks WebSocket only: send "Connection: Upgrade"`,
			Header: http.Header{"Upgrade": {"websocket"}}}
	case !hasToken(r.Header, "Upgrade", "websocket"):
		return "", &HandshakeError{Status: http.StatusUpgradeRequired, Message: `this endpoint speaks WebSocket only: send "Upgrade: websocket"`,
			Header: http.Header{"Upgrade": {"websocket"}}}
	case r.Header.Get("Sec-WebSocket-Version") != "13":
		return "", &HandshakeError{Status: http.StatusUpgradeRequired, Message: "unsupported Sec-WebSocket-Version: use 13",
			Header: http.Header{"Sec-WebSocket-Version": {"13"}}}
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 16 {
		return "", badHandshake("Sec-WebSocket-Key must be 16 bytes in base64")
	}
	return key, nil
}

// hasToken reports whether the comma-separated header name lists token,
// case-insensitively.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Upgrade completes the opening handshake for r (RFC 6455 §4.2): it takes
// the connection over from net/http, answers 101 and returns the
// connection, which does nothing until Serve. A request that is not a
// valid handshake gets a *HandshakeError and no response. Extensions and
// subprotocols the client offers are declined by not naming them.
func (s *Server) Upgrade(w http.ResponseWriter, r *http.Request) (*Conn, error) {
	key, err := checkHandshake(r)
	if err != nil {
		return nil, err
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, fmt.Errorf("websocket handshake: taking over the connection: %w", err)
	}
	// net/http may leave its request deadlines on a hijacked connection;
	// from here on the connection's own timeouts apply.
	_ = nc.SetDeadline(time.Time{})
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		acceptKey(key) + "\r\n\r\n"
	_ = nc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout))
	_, err = nc.Write([]byte(resp))
	_ = nc.SetWriteDeadline(time.Time{})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake: writing the response: %w", err)
	}
	// Bytes the client sent right behind its handshake are in net/http's
	// reader: they are the first of the connection's.
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
	}
	return s.newConn(nc, early), nil
}
