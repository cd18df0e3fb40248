package gateway

import (
	"errors"
	"strconv"
	"strings"
)

// Offset names a room message in a history: the history's epoch and the
// message's sequence number in it, on the wire "<epoch>-<seq>". Sequence
// numbers grow across every room, so a client keeps one offset, the last
// it received. The epoch changes whenever a history starts afresh (a node's
// memory after a restart, a new stream), so an offset from another history
// is never read as one of this one.
type Offset struct {
	Epoch string
	Seq   uint64
}

func (o Offset) String() string { return o.Epoch + "-" + strconv.FormatUint(o.Seq, 10) }

// maxEpoch bounds an epoch's length: offsets come from clients.
const maxEpoch = 32

// errBadOffset is an offset that is not one a history gives.
var errBadOffset = errors.New("malformed offset")

// ParseOffset reads an offset as String writes it.
func ParseOffset(s string) (Offset, error) {
	epoch, seq, ok := strings.Cut(s, "-")
	if !ok || epoch == "" || len(epoch) > maxEpoch || seq == "" || (seq[0] == '0' && len(seq) > 1) {
		return Offset{}, errBadOffset
	}
	for i := range len(epoch) {
		if c := epoch[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return Offset{}, errBadOffset
		}
	}
	n, err := strconv.ParseUint(seq, 10, 64)
	if err != nil || seq[0] == '+' {
		return Offset{}, errBadOffset
	}
	return Offset{Epoch: epoch, Seq: n}, nil
}
