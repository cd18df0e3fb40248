package cluster

// RoomSubject lets the tests ask the NATS server who subscribes to a room.
var RoomSubject = roomSubject
