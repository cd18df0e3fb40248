// socket.io-client v4, unchanged, against the gateway's /socket.io/ endpoint.
// socketio_client_test.go starts a gateway and runs this with node --test;
// it passes GATEWAY_URL, TOKEN_ALICE, TOKEN_BOB, TOKEN_ADMIN and CONTROL_URL
// (POST /restart stops the gateway and starts it again on the same port).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';

const { GATEWAY_URL, TOKEN_ALICE, TOKEN_BOB, TOKEN_ADMIN, CONTROL_URL } = process.env;
const sockets = [];
after(() => sockets.forEach((s) => s.close()));

// open connects to the /game namespace the way a game client in the field does.
function open(token, opts = {}) {
  const s = io(`${GATEWAY_URL}/game`, { transports: ['websocket'], auth: token ? { token } : {}, ...opts });
  sockets.push(s);
  return s;
}

function once(socket, event, ms = 5000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms`)), ms);
    socket.once(event, (arg) => {
      clearTimeout(timer);
      resolve(arg);
    });
  });
}

async function connected(token) {
  const s = open(token);
  const hello = await once(s, 'connected');
  return { s, hello };
}

test('connects with auth.token and is greeted', async () => {
  const { s, hello } = await connected(TOKEN_ALICE);
  assert.equal(hello.userId, 'alice');
  assert.equal(hello.clientId, s.id);
  assert.equal(s.connected, true);
});

test('a missing or bad token is refused as connect_error', async () => {
  const s = open(undefined, { reconnection: false });
  const err = await once(s, 'connect_error');
  assert.equal(err.message, 'missing token');
  const bad = open('not-a-token', { reconnection: false });
  assert.equal((await once(bad, 'connect_error')).message, 'malformed token');
});

test('emit with an ack callback: the reply is the acknowledgement', async () => {
  const { s } = await connected(TOKEN_ALICE);
  const reply = await new Promise((resolve) => s.emit('joinRoom', { roomId: 'lobby' }, resolve));
  assert.deepEqual(reply, { roomId: 'lobby' });
});

test('without an ack the reply arrives as its event', async () => {
  const { s } = await connected(TOKEN_ALICE);
  s.emit('joinRoom', { roomId: 'lobby' });
  assert.deepEqual(await once(s, 'joinedRoom'), { roomId: 'lobby' });
});

test('timeout().emitWithAck', async () => {
  const { s } = await connected(TOKEN_ALICE);
  const before = Date.now();
  const pong = await s.timeout(3000).emitWithAck('ping');
  assert.ok(pong.ts >= before && pong.ts <= Date.now(), JSON.stringify(pong));
  const refused = await s.timeout(3000).emitWithAck('joinRoom', { roomId: 'user:bob' });
  assert.deepEqual(refused, { status: 'error', message: 'forbidden' });
});

test('errors without an ack arrive as exception events', async () => {
  const { s } = await connected(TOKEN_ALICE);
  s.emit('fly');
  assert.deepEqual(await once(s, 'exception'), { status: 'error', message: 'unknown event "fly"' });
});

test('a REST broadcast reaches socket.io members of the room', async () => {
  const alice = await connected(TOKEN_ALICE);
  const bob = await connected(TOKEN_BOB);
  await alice.s.emitWithAck('joinRoom', { roomId: 'table-7' });
  await bob.s.emitWithAck('joinRoom', { roomId: 'table-7' });
  const got = Promise.all([once(alice.s, 'notification'), once(bob.s, 'notification')]);
  const res = await fetch(`${GATEWAY_URL}/notifications/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_ADMIN}` },
    body: JSON.stringify({ roomId: 'table-7', message: { text: 'gg' } }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await got, [{ text: 'gg' }, { text: 'gg' }]);
});

test('binary attachments are refused with a clear message', async () => {
  const { s } = await connected(TOKEN_ALICE);
  const reply = await s.timeout(3000).emitWithAck('upload', Buffer.from([1, 2, 3]));
  assert.deepEqual(reply, { status: 'error', message: 'binary attachments are not supported: send JSON' });
  assert.ok((await s.timeout(3000).emitWithAck('ping')).ts > 0, 'the connection goes on');
});

test('the polling transport is refused with a clear reason', async () => {
  const res = await fetch(`${GATEWAY_URL}/socket.io/?EIO=4&transport=polling`);
  assert.equal(res.status, 400);
  assert.match((await res.json()).message, /transports: \["websocket"\]/);
});

test('a server-initiated disconnect is "io server disconnect"', async () => {
  const { s } = await connected(TOKEN_ALICE);
  s.emit('kickMe');
  assert.equal(await once(s, 'disconnect'), 'io server disconnect');
  assert.equal(s.active, false, 'the client does not reconnect by itself');
});

test('the client reconnects by itself after the server restarts', async () => {
  const s = open(TOKEN_BOB, { reconnectionDelay: 100, reconnectionDelayMax: 500 });
  const first = await once(s, 'connected');
  const down = once(s, 'disconnect');
  const res = await fetch(`${CONTROL_URL}/restart`, { method: 'POST' });
  assert.equal(res.status, 200);
  assert.equal(await down, 'transport close');
  const again = await once(s, 'connected', 10000);
  assert.equal(again.userId, 'bob');
  assert.notEqual(again.clientId, first.clientId);
  assert.deepEqual(await s.timeout(3000).emitWithAck('joinRoom', { roomId: 'after' }), { roomId: 'after' });
});

async function broadcast(roomId, message) {
  const res = await fetch(`${GATEWAY_URL}/notifications/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN_ADMIN}` },
    body: JSON.stringify({ roomId, message }),
  });
  assert.equal(res.status, 200);
}

async function until(cond, ms = 5000) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('connection state recovery: the socket comes back with its id and rooms, and what it missed', async () => {
  const s = open(TOKEN_ALICE, { reconnectionDelay: 200, reconnectionDelayMax: 400 });
  const hello = await once(s, 'connected');
  assert.equal(s.recovered, false);
  await s.emitWithAck('joinRoom', { roomId: 'table-9' });
  const got = [];
  s.on('notification', (m) => got.push(m.n));
  await broadcast('table-9', { n: 0 });
  await until(() => got.length === 1);

  const down = once(s, 'disconnect');
  s.io.engine.close(); // the connection goes; the client reconnects by itself
  await down;
  for (let n = 1; n <= 5; n++) await broadcast('table-9', { n });
  await once(s, 'connect', 10000);
  assert.equal(s.recovered, true, 'socket.recovered');
  assert.equal(s.id, hello.clientId, 'the same socket id');
  await broadcast('table-9', { n: 6 }); // live again, in the same room
  await until(() => got.length === 7);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6], 'each once, in order');
});
