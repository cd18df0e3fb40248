package cluster

// RoomSubject lets the tests ask the NATS server who subscribes to a room.
var RoomSubject = roomSubject

// Sever cuts the node off NATS at once, as its death would: it tells the
// others nothing more.
func (a *Adapter) Sever() { a.conn.Load().Close() }

// Peers is how many other nodes the node knows alive.
func (a *Adapter) Peers() int { return a.peers.alive() }
