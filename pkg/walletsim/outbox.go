package walletsim

import (
	"math/rand/v2"
	"slices"
	"strconv"

	"github.com/gamegate/gamegate/pkg/walletproto"
)

// maxUnacked bounds the pushes the simulator keeps for a gateway that does
// not acknowledge them (one that predates pushAck, say); past it the oldest
// is dropped.
const maxUnacked = 10_000

// outbox numbers the pushes and keeps each until a gateway acknowledges it
// with a pushAck, so that a push sent on a link that dropped, or made while
// no gateway was connected, is sent again on the next link with the same
// pushId. The Server's mutex guards it, with the links it sends on.
type outbox struct {
	prefix  string // this Server's: pushIds differ across restarts
	seq     uint64
	unacked map[string]*outPush // by pushId
	order   []*outPush          // oldest first; acknowledged ones are skipped
}

// outPush is one push not yet acknowledged.
type outPush struct {
	id    string
	msg   walletproto.BalanceChanged
	on    *link // the link it went out on; nil while it waits for one
	acked bool
}

func newOutbox() outbox {
	return outbox{
		prefix:  strconv.FormatUint(rand.Uint64(), 36) + "-",
		unacked: map[string]*outPush{},
	}
}

// add numbers msg and keeps it; it returns the push, and the oldest one
// dropped to make room, if any.
func (o *outbox) add(msg walletproto.BalanceChanged) (p, dropped *outPush) {
	if len(o.unacked) >= maxUnacked {
		dropped = o.oldest()
		o.ack(dropped.id)
	}
	o.seq++
	p = &outPush{id: o.prefix + strconv.FormatUint(o.seq, 10), msg: msg}
	o.unacked[p.id] = p
	o.order = append(o.order, p)
	return p, dropped
}

// ack forgets the push with id; an unknown id (acknowledged twice, or
// dropped) changes nothing.
func (o *outbox) ack(id string) {
	p, ok := o.unacked[id]
	if !ok {
		return
	}
	p.acked = true
	delete(o.unacked, id)
	for len(o.order) > 0 && o.order[0].acked {
		o.order[0] = nil
		o.order = o.order[1:]
	}
	// Acks out of order leave acknowledged pushes behind an old one.
	if len(o.order) > 2*len(o.unacked)+64 {
		o.order = slices.DeleteFunc(o.order, func(p *outPush) bool { return p.acked })
	}
}

// oldest returns the oldest push not acknowledged; there must be one.
func (o *outbox) oldest() *outPush {
	for _, p := range o.order {
		if !p.acked {
			return p
		}
	}
	panic("walletsim: outbox is empty")
}

// waiting returns the pushes that wait for a link, oldest first.
func (o *outbox) waiting() []*outPush {
	var ps []*outPush
	for _, p := range o.order {
		if !p.acked && p.on == nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// lost marks the pushes sent on l, which ended, as waiting for a link.
func (o *outbox) lost(l *link) {
	for _, p := range o.order {
		if p.on == l {
			p.on = nil
		}
	}
}
