package wallettest

import (
	"encoding/json"
	"net"
	"sync"
	"testing"

	"github.com/gamegate/gamegate/pkg/frame"
)

// Proxy relays gateway links to a wallet over loopback, frame by frame, so
// that a test can drop a link at a chosen message, or take the wallet away
// for a while and bring it back on the same port.
type Proxy struct {
	// Port is the loopback port gateways dial.
	Port   int
	addr   string
	wallet string
	cut    func(fromGateway bool, m Request) bool

	mu    sync.Mutex
	ln    net.Listener // nil while down
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// StartProxy relays every link it accepts to the wallet at walletAddr. cut,
// when not nil, sees each message on its way; when it returns true that
// message is not relayed and the link is closed on both sides. It is called
// from the link's two relaying goroutines at once.
func StartProxy(t testing.TB, walletAddr string, cut func(fromGateway bool, m Request) bool) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{
		Port: ln.Addr().(*net.TCPAddr).Port, addr: ln.Addr().String(),
		wallet: walletAddr, cut: cut, conns: map[net.Conn]struct{}{},
	}
	p.serve(ln)
	t.Cleanup(func() {
		p.Down()
		p.wg.Wait()
	})
	return p
}

// Down closes the listener and every link: the wallet is gone for the
// gateways, which see their links drop and their dials refused.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
}

// Up listens again on the same port.
func (p *Proxy) Up(t testing.TB) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

func (p *Proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			gateway, err := ln.Accept()
			if err != nil {
				return
			}
			wallet, err := net.Dial("tcp", p.wallet)
			if err != nil {
				gateway.Close()
				continue
			}
			if !p.track(ln, gateway, wallet) {
				return
			}
			p.wg.Go(func() { p.relay(gateway, wallet, true) })
			p.wg.Go(func() { p.relay(wallet, gateway, false) })
		}
	})
}

// track keeps the link's connections for Down, unless ln has been closed
// meanwhile; then it closes them.
func (p *Proxy) track(ln net.Listener, conns ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range conns {
		if p.ln != ln {
			c.Close()
			continue
		}
		p.conns[c] = struct{}{}
	}
	return p.ln == ln
}

// relay copies frames from src to dst until either ends or cut says so,
// then closes both.
func (p *Proxy) relay(src, dst net.Conn, fromGateway bool) {
	defer func() {
		p.mu.Lock()
		delete(p.conns, src)
		delete(p.conns, dst)
		p.mu.Unlock()
		src.Close()
		dst.Close()
	}()
	r := frame.LengthPrefix{}.NewReader(src, 1<<20)
	w := frame.LengthPrefix{}.NewWriter(dst, 1<<20)
	for {
		body, err := r.ReadFrame()
		if err != nil {
			return
		}
		var m Request
		_ = json.Unmarshal(body, &m)
		if p.cut != nil && p.cut(fromGateway, m) {
			return
		}
		if w.WriteFrame(body) != nil || w.Flush() != nil {
			return
		}
	}
}
