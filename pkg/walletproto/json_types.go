package walletproto

// The package's message types, encoded and decoded without reflection.
// A type switch, not an interface, picks them: a caller's struct embedding
// one of them must not be mistaken for it.

// appendMembers appends p's members, without braces, if p is one of the
// package's types.
func appendMembers(dst []byte, p any) ([]byte, bool) {
	switch p := p.(type) {
	case Header:
		return p.appendMembers(dst), true
	case Status:
		return p.appendMembers(dst), true
	case Envelope:
		return p.appendMembers(dst), true
	case Hello:
		return p.appendMembers(dst), true
	case Ping:
		return dst, true
	case GetBalance:
		return p.appendMembers(dst), true
	case Transfer:
		return p.appendMembers(dst), true
	case Debit:
		return Transfer(p).appendMembers(dst), true
	case Credit:
		return Transfer(p).appendMembers(dst), true
	case Balance:
		return p.appendMembers(dst), true
	case BalanceChanged:
		return p.appendMembers(dst), true
	case Error:
		return p.appendMembers(dst), true
	}
	return dst, false
}

// memberDecoderOf returns v as a memberDecoder if it points to one of the
// package's types.
func memberDecoderOf(v any) memberDecoder {
	switch v := v.(type) {
	case *Header:
		return v
	case *Status:
		return v
	case *Envelope:
		return v
	case *Hello:
		return v
	case *GetBalance:
		return v
	case *Transfer:
		return v
	case *Debit:
		return (*Transfer)(v)
	case *Credit:
		return (*Transfer)(v)
	case *Balance:
		return v
	case *BalanceChanged:
		return v
	case *Error:
		return v
	}
	return nil
}

func (h Header) appendMembers(dst []byte) []byte {
	dst = appendString(append(dst, `"type":`...), h.Type)
	if h.RequestID != "" {
		dst = appendString(append(dst, `,"requestId":`...), h.RequestID)
	}
	if h.PushID != "" {
		dst = appendString(append(dst, `,"pushId":`...), h.PushID)
	}
	return dst
}

func (h *Header) decodeMember(key []byte, s *scanner) (bool, error) {
	switch {
	case is(key, "type"):
		return true, s.string("type", &h.Type)
	case is(key, "requestId"):
		return true, s.string("requestId", &h.RequestID)
	case is(key, "pushId"):
		return true, s.string("pushId", &h.PushID)
	}
	return false, nil
}

func (st Status) appendMembers(dst []byte) []byte {
	if st.OK {
		dst = append(dst, `"ok":true`...)
	} else {
		dst = append(dst, `"ok":false`...)
	}
	if st.Error != nil {
		dst = append(st.Error.appendMembers(append(dst, `,"error":{`...)), '}')
	}
	return dst
}

func (st *Status) decodeMember(key []byte, s *scanner) (bool, error) {
	switch {
	case is(key, "ok"):
		return true, s.bool("ok", &st.OK)
	case is(key, "error"):
		if s.peek() != '{' {
			return true, s.mismatch("error", "an object")
		}
		if st.Error == nil {
			st.Error = new(Error)
		}
		return true, s.object(st.Error)
	}
	return false, nil
}

func (e Envelope) appendMembers(dst []byte) []byte {
	return e.Status.appendMembers(append(e.Header.appendMembers(dst), ','))
}

func (e *Envelope) decodeMember(key []byte, s *scanner) (bool, error) {
	if ok, err := e.Header.decodeMember(key, s); ok {
		return ok, err
	}
	return e.Status.decodeMember(key, s)
}

func (e Error) appendMembers(dst []byte) []byte {
	dst = appendString(append(dst, `"code":`...), e.Code)
	return appendString(append(dst, `,"message":`...), e.Message)
}

func (e *Error) decodeMember(key []byte, s *scanner) (bool, error) {
	switch {
	case is(key, "code"):
		return true, s.string("code", &e.Code)
	case is(key, "message"):
		return true, s.string("message", &e.Message)
	}
	return false, nil
}

func (h Hello) appendMembers(dst []byte) []byte {
	return appendString(append(dst, `"nodeId":`...), h.NodeID)
}

func (h *Hello) decodeMember(key []byte, s *scanner) (bool, error) {
	if is(key, "nodeId") {
		return true, s.string("nodeId", &h.NodeID)
	}
	return false, nil
}

func (g GetBalance) appendMembers(dst []byte) []byte {
	return appendString(append(dst, `"userId":`...), g.UserID)
}

func (g *GetBalance) decodeMember(key []byte, s *scanner) (bool, error) {
	if is(key, "userId") {
		return true, s.string("userId", &g.UserID)
	}
	return false, nil
}

func (t Transfer) appendMembers(dst []byte) []byte {
	dst = appendString(append(dst, `"userId":`...), t.UserID)
	dst = appendInt(append(dst, `,"amount":`...), t.Amount)
	if t.Currency != "" {
		dst = appendString(append(dst, `,"currency":`...), t.Currency)
	}
	return appendString(append(dst, `,"txId":`...), t.TxID)
}

func (t *Transfer) decodeMember(key []byte, s *scanner) (bool, error) {
	switch {
	case is(key, "userId"):
		return true, s.string("userId", &t.UserID)
	case is(key, "amount"):
		return true, s.int64("amount", &t.Amount)
	case is(key, "currency"):
		return true, s.string("currency", &t.Currency)
	case is(key, "txId"):
		return true, s.string("txId", &t.TxID)
	}
	return false, nil
}

func (b Balance) appendMembers(dst []byte) []byte {
	dst = appendInt(append(dst, `"balance":`...), b.Balance)
	if b.Currency != "" {
		dst = appendString(append(dst, `,"currency":`...), b.Currency)
	}
	return dst
}

func (b *Balance) decodeMember(key []byte, s *scanner) (bool, error) {
	switch {
	case is(key, "balance"):
		return true, s.int64("balance", &b.Balance)
	case is(key, "currency"):
		return true, s.string("currency", &b.Currency)
	}
	return false, nil
}

func (bc BalanceChanged) appendMembers(dst []byte) []byte {
	dst = appendString(append(dst, `"userId":`...), bc.UserID)
	dst = appendInt(append(dst, `,"balance":`...), bc.Balance)
	dst = appendString(append(dst, `,"currency":`...), bc.Currency)
	if bc.TxID != "" {
		dst = appendString(append(dst, `,"txId":`...), bc.TxID)
	}
	return dst
}

func (bc *BalanceChanged) decodeMember(key []byte, s *scanner) (bool, error) {
	switch {
	case is(key, "userId"):
		return true, s.string("userId", &bc.UserID)
	case is(key, "balance"):
		return true, s.int64("balance", &bc.Balance)
	case is(key, "currency"):
		return true, s.string("currency", &bc.Currency)
	case is(key, "txId"):
		return true, s.string("txId", &bc.TxID)
	}
	return false, nil
}
