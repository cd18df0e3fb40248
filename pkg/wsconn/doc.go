// Package wsconn is the gateway's WebSocket connection layer: the server
// side of RFC 6455, from the HTTP upgrade to the closed socket. It owns the
// opening handshake, reading and checking frames, the close handshake,
// writing, and the waiting of idle connections; its user pushes whole
// frames (TextFrame, FinishText) and hears of messages and of the end
// through a Handler. It depends on nothing but the standard library and
// x/sys: net/http's Hijack for the handshake, and, on Linux, epoll and
// SIOCOUTQ on the socket's descriptor.
//
// # Protocol
//
// No extension or subprotocol is negotiated, so every reserved bit and
// opcode is refused. Client frames must be masked; control frames must be
// whole and at most 125 bytes; a 64-bit length must have its top bit clear;
// continuation frames must continue an open message and data frames must
// not interrupt one. Each of those fails the connection with 1002, a
// message over MaxMessageBytes (whole or in fragments) with 1009, text that
// is not UTF-8 with 1007, checked piece by piece as it arrives, so that a
// bad byte fails the connection before the rest of the message is sent. A
// close frame's code must be one a peer may send and its reason UTF-8.
// Server frames are never fragmented or masked; close reasons are cut on a
// character boundary to fit.
//
// Every close frame the server sends comes after the whole frames queued
// before it, whoever started the close: the server (Close), the peer (its
// close frame is answered with its own code and reason) or a broken
// protocol. After it the server writes nothing.
//
// # States
//
// A connection has a reading side, a writing side and a lifetime:
//
//	reading side (the reader goroutine, or none):
//
//	    Serve ──▶ reading ──── quiet: nothing buffered, no data frame ───▶ parked
//	                 ▲          since the timer's last tick                 │
//	                 └─────────── the peer sent something (poller) ─────────┘
//
//	writing side (the writer: whoever found it idle):
//
//	    idle ──── Send / Fanout finds nobody writing ───▶ writing
//	     ▲            (one inline write that cannot block;    │
//	     │             the rest in the writers or a goroutine) │
//	     └──────────────────── queue empty ────────────────────┘
//
//	lifetime:
//
//	    open ── Close / peer's close / protocol error / slow consumer ──▶ closing
//	    closing ── queue written, close frame out ──▶ answering (CloseTimeout)
//	    answering ── peer's close frame, or lingering ended ──▶ closed
//	    any state ── Abort / socket error / write timeout / no answer ──▶ closed (reset)
//
// Who touches what:
//   - The reader (at most one goroutine at a time: the one Serve or the
//     poller started) owns the read buffer and the message being read, and
//     alone calls OnMessage, OnPong and OnClose. Parked, the connection has
//     no reader and no read buffer; the poller starts one when data arrives
//     or when the connection is cut.
//   - The writer owns the batch; the queue, and the flags that say who
//     writes and whether a close waits, are under the connection's mutex.
//     Any goroutine may Send or Close; senders never wait for the socket.
//   - Closing, nothing more is queued and data messages are no longer
//     delivered; pings are not answered once the close frame is out.
//   - The timer runs the handler's ticks (OnTimer), parks quiet readers and
//     cuts a connection whose peer does not answer the close frame.
//   - A slow consumer (more than MaxQueue frames, not counting a backlog
//     sent with SendBacklog, or more than MaxQueueBytes counting what the
//     kernel holds, waiting for it) loses
//     its queue; its close frame goes out only if the socket takes it at
//     once, and a connection whose socket is full is reset, so that the
//     kernel frees what it held.
package wsconn
