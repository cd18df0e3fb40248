package notification_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	gt "github.com/gamegate/gamegate/internal/gatewaytest"
)

type receiptAnswer struct {
	Success    bool
	Recipients int
	Acked      []struct{ UserID, ClientID string }
	TimedOut   []struct{ UserID, ClientID string }
}

// postAsync posts in the background and sends its answer and how long it
// took.
func postAsync(t *testing.T, url, tok, body string) <-chan receiptResult {
	out := make(chan receiptResult, 1)
	start := time.Now()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		var r receiptResult
		if err == nil {
			r.code = resp.StatusCode
			_ = json.NewDecoder(resp.Body).Decode(&r.answer)
			resp.Body.Close()
		}
		r.err, r.took = err, time.Since(start)
		out <- r
	}()
	return out
}

type receiptResult struct {
	code   int
	answer receiptAnswer
	err    error
	took   time.Duration
}

// Two recipients, one acks, one stalls: the answer lists each, and comes at
// the timeout, not before it.
func TestReceiptAtTheTimeout(t *testing.T) {
	n := gt.Start(t, gt.Config())
	acker := n.Dial(t, gt.Token(t, "alice"))
	stall := n.Dial(t, gt.Token(t, "bob"))
	acker.Join("table")
	stall.Join("table")
	const timeout = 700 * time.Millisecond
	done := postAsync(t, n.URL+"/notifications/broadcast", gt.Token(t, "ops", "admin"),
		fmt.Sprintf(`{"roomId":"table","message":{"round":2},"receipt":{"timeoutMs":%d}}`, timeout.Milliseconds()))
	f := acker.Expect("notification")
	if f.AckID == "" || stall.Expect("notification").AckID != f.AckID {
		t.Fatalf("frames without one ackId: %+v", f)
	}
	acker.Send("ack", map[string]string{"ackId": f.AckID}, nil)
	acker.Send("ack", map[string]string{"ackId": f.AckID}, nil) // repeated while pending: counted once
	r := <-done
	if r.err != nil || r.code != 200 || !r.answer.Success || r.answer.Recipients != 2 ||
		len(r.answer.Acked) != 1 || r.answer.Acked[0].ClientID != acker.Connected.ClientID || r.answer.Acked[0].UserID != "alice" ||
		len(r.answer.TimedOut) != 1 || r.answer.TimedOut[0].ClientID != stall.Connected.ClientID {
		t.Fatalf("answer %d %+v %v", r.code, r.answer, r.err)
	}
	if r.took < timeout {
		t.Fatalf("answered after %v, before the timeout %v", r.took, timeout)
	}
	if r.took > timeout+3*time.Second {
		t.Fatalf("answered %v after the timeout", r.took-timeout)
	}
	// Late and repeated acks are ignored; an ackId the client never got, or
	// never was, is refused.
	stall.Send("ack", map[string]string{"ackId": f.AckID}, nil)
	acker.Send("ack", map[string]string{"ackId": f.AckID}, nil)
	for _, forged := range []string{"12345", "not-a-number", ""} {
		stall.Send("ack", map[string]string{"ackId": forged}, nil)
		if e := stall.Expect("exception"); !strings.Contains(string(e.Data), "ackId") {
			t.Fatalf("forged ackId %q: %s", forged, e.Data)
		}
	}
	stall.Alive()
	acker.Alive()
	for name, want := range map[string]float64{
		`gamegate_receipts_total{result="asked"}`: 1, `gamegate_receipts_total{result="acked"}`: 1,
		`gamegate_receipts_total{result="timed_out"}`: 1, "gamegate_receipts_ack_latency_seconds_count": 1,
	} {
		if got := n.Metric(t, name); got != want {
			t.Errorf("%s %v, want %v", name, got, want)
		}
	}
}

// Everyone acks: the answer comes at once, long before the timeout. A
// Socket.IO client acks through its emit's ack callback, and a client may
// not ack another's delivery.
func TestReceiptWhenEveryoneAcked(t *testing.T) {
	n := gt.Start(t, gt.Config())
	plain := n.Dial(t, gt.Token(t, "alice"))
	outsider := n.Dial(t, gt.Token(t, "carol"))
	sio := n.DialSocketIO(t, "bob")
	done := postAsync(t, n.URL+"/notifications/users/alice", gt.Token(t, "ops", "admin"),
		`{"message":"hi","receipt":{"timeoutMs":30000}}`)
	f := plain.Expect("notification")
	outsider.Send("ack", map[string]string{"ackId": f.AckID}, nil)
	if e := outsider.Expect("exception"); string(e.Data) != `{"status":"error","message":"unknown ackId"}` {
		t.Fatalf("another's ack: %s", e.Data)
	}
	plain.Send("ack", map[string]string{"ackId": f.AckID}, nil)
	r := <-done
	if r.code != 200 || r.answer.Recipients != 1 || len(r.answer.Acked) != 1 || len(r.answer.TimedOut) != 0 || r.took > 10*time.Second {
		t.Fatalf("answer %d %+v after %v", r.code, r.answer, r.took)
	}

	// Socket.IO: the event carries an ack id; the ack packet acknowledges.
	done = postAsync(t, n.URL+"/notifications/users/bob", gt.Token(t, "ops", "admin"),
		`{"message":{"gift":5},"receipt":{"timeoutMs":30000}}`)
	frame := sio.Packet()
	rest, ok := strings.CutPrefix(frame, "42/game,")
	id, _, _ := strings.Cut(rest, "[")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		t.Fatalf("event without an ack id: %s", frame)
	}
	sio.SendRaw("43/game," + id + "[]")
	if r := <-done; r.code != 200 || len(r.answer.Acked) != 1 || r.answer.Acked[0].UserID != "bob" {
		t.Fatalf("socket.io answer %d %+v", r.code, r.answer)
	}
}

func TestReceiptBadInput(t *testing.T) {
	n := gt.Start(t, gt.Config())
	admin := gt.Token(t, "ops", "admin")
	want := `{"statusCode":400,"message":"receipt.timeoutMs must be an integer from 1 to 30000","error":"Bad Request"}`
	for _, timeout := range []string{`0`, `30001`, `"500"`, `-5`, `1.5`, `null`} {
		body := `{"roomId":"r","message":1,"receipt":{"timeoutMs":` + timeout + `}}`
		if code, got := post(t, n.URL+"/notifications/broadcast", admin, "application/json", body); code != 400 || got != want {
			t.Errorf("timeoutMs %s: %d %s", timeout, code, got)
		}
	}
	if code, got := post(t, n.URL+"/notifications/broadcast", admin, "application/json", `{"roomId":"r","message":1,"receipt":7}`); code != 400 {
		t.Errorf("receipt 7: %d %s", code, got)
	}
	// Nobody in the room: an answer at once, with nobody.
	code, got := post(t, n.URL+"/notifications/broadcast", admin, "application/json", `{"roomId":"empty","message":1,"receipt":{"timeoutMs":30000}}`)
	if code != 200 || got != `{"success":true,"recipients":0,"acked":[],"timedOut":[]}` {
		t.Errorf("empty room: %d %s", code, got)
	}
}
