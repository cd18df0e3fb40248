package wsconn

import "encoding/binary"

// mask XORs b with the masking key (RFC 6455 §5.3), b being the payload's
// bytes from offset pos%4 of the key on, and returns the position after b.
// Eight bytes at a time: unmasking is on every message's path.
func mask(b []byte, key [4]byte, pos int) int {
	next := (pos + len(b)) & 3
	var k [8]byte
	for i := range k {
		k[i] = key[(pos+i)&3]
	}
	k64 := binary.LittleEndian.Uint64(k[:])
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= k[i]
	}
	return next
}
