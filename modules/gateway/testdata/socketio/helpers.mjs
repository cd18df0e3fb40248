// What the suites share: waiting for events and conditions, and REST
// broadcasts through GATEWAY_URL with TOKEN_ADMIN.
import assert from 'node:assert/strict';

const { GATEWAY_URL, TOKEN_ADMIN } = process.env;

export function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

export async function until(cond, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// joinAndTalk joins s to room, with an ack, and checks a reply that comes
// as its event and an exception.
export async function joinAndTalk(s, room) {
  assert.deepEqual(await s.timeout(3000).emitWithAck('joinRoom', { roomId: room }), { roomId: room });
  s.emit('ping');
  assert.ok((await once(s, 'pong')).ts > 0);
  s.emit('fly');
  assert.deepEqual(await once(s, 'exception'), { status: 'error', message: 'unknown event "fly"' });
}

export async function broadcast(roomId, message) {
  const res = await fetch(`${GATEWAY_URL}/notifications/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_ADMIN}` },
    body: JSON.stringify({ roomId, message }),
  });
  assert.equal(res.status, 200);
}
