// socket.io-client v4, unchanged, against the gateway's /socket.io/ endpoint.
// socketio_client_test.go starts a gateway and runs this with node --test;
// it passes GATEWAY_URL, TOKEN_ALICE, TOKEN_BOB, TOKEN_ADMIN and CONTROL_URL
// (POST /restart stops the gateway and starts it again on the same port).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { io } from 'socket.io-client';
import { broadcast, joinAndTalk, once, until } from './helpers.mjs';

const { GATEWAY_URL, TOKEN_ALICE, TOKEN_BOB, CONTROL_URL } = process.env;
const sockets = [];
after(() => sockets.forEach((s) => s.close()));

// open connects to the /game namespace over a WebSocket only, as the clients
// of the NestJS service were told to (transports: ['websocket']); opts may
// change that.
function open(token, opts = {}) {
  const s = io(`${GATEWAY_URL}/game`, { transports: ['websocket'], auth: token ? { token } : {}, ...opts });
  sockets.push(s);
  return s;
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
  await broadcast('table-7', { text: 'gg' });
  assert.deepEqual(await got, [{ text: 'gg' }, { text: 'gg' }]);
});

test('a broadcast with a receipt: the listener gets (data, ack), and its ack is counted', async () => {
  const alice = await connected(TOKEN_ALICE);
  const bob = await connected(TOKEN_BOB);
  await alice.s.emitWithAck('joinRoom', { roomId: 'stage-2' });
  await bob.s.emitWithAck('joinRoom', { roomId: 'stage-2' });
  const args = new Promise((resolve) => {
    alice.s.once('notification', (...a) => {
      resolve(a);
      if (typeof a[1] === 'function') a[1]();
    });
  });
  const unanswered = once(bob.s, 'notification'); // bob reads it and never acks
  const res = await fetch(`${GATEWAY_URL}/notifications/broadcast`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.TOKEN_ADMIN}` },
    body: JSON.stringify({ roomId: 'stage-2', message: { stage: 2 }, receipt: { timeoutMs: 1000 } }),
  });
  assert.equal(res.status, 200);
  const [data, ack, ...more] = await args;
  assert.deepEqual(data, { stage: 2 });
  assert.equal(typeof ack, 'function', 'the ack callback comes right after the data');
  assert.equal(more.length, 0);
  assert.deepEqual(await unanswered, { stage: 2 });
  assert.deepEqual(await res.json(), {
    success: true,
    recipients: 2,
    acked: [{ userId: 'alice', clientId: alice.s.id }],
    timedOut: [{ userId: 'bob', clientId: bob.s.id }],
  });
});

test('binary attachments are refused with a clear message', async () => {
  const { s } = await connected(TOKEN_ALICE);
  const reply = await s.timeout(3000).emitWithAck('upload', Buffer.from([1, 2, 3]));
  assert.deepEqual(reply, { status: 'error', message: 'binary attachments are not supported: send JSON' });
  assert.ok((await s.timeout(3000).emitWithAck('ping')).ts > 0, 'the connection goes on');
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

// recovers checks connection state recovery on s, a new socket: it comes
// back with its id and its room, and what it missed, each once, in order.
async function recovers(s, room) {
  const hello = await once(s, 'connected');
  assert.equal(s.recovered, false);
  await s.emitWithAck('joinRoom', { roomId: room });
  const got = [];
  s.on('notification', (m) => got.push(m.n));
  await broadcast(room, { n: 0 });
  await until(() => got.length === 1);

  const down = once(s, 'disconnect');
  s.io.engine.close(); // the connection goes; the client reconnects by itself
  await down;
  for (let n = 1; n <= 5; n++) await broadcast(room, { n });
  await once(s, 'connect', 10000);
  assert.equal(s.recovered, true, 'socket.recovered');
  assert.equal(s.id, hello.clientId, 'the same socket id');
  await broadcast(room, { n: 6 }); // live again, in the same room
  await until(() => got.length === 7);
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6], 'each once, in order');
}

const quickReconnect = { reconnectionDelay: 200, reconnectionDelayMax: 400 };

test('connection state recovery: the socket comes back with its id and rooms, and what it missed', async () => {
  await recovers(open(TOKEN_ALICE, quickReconnect), 'table-9');
});

// Default options: HTTP long-polling first, then the upgrade to a WebSocket.

// gatedAgent holds the TCP connection of the client's WebSocket until
// open() is called, so that a test sees the session on polling first and
// chooses when the upgrade happens. It changes nothing else.
function gatedAgent() {
  let open;
  const opened = new Promise((resolve) => { open = resolve; });
  const agent = new http.Agent();
  agent.createConnection = (options, done) => {
    opened.then(() => done(null, net.createConnection(options)));
  };
  return { agent, open };
}

// openDefault connects with socket.io-client's default options; the
// WebSocket of the upgrade waits for the gate.
function openDefault(token, gate) {
  const s = io(`${GATEWAY_URL}/game`, { auth: { token }, transportOptions: { websocket: { agent: gate.agent } } });
  sockets.push(s);
  return s;
}

const transport = (s) => s.io.engine.transport.name;

// exchange checks events both ways: an ack, a reply as its event, an
// exception, and a REST broadcast to a room.
async function exchange(s, room) {
  await joinAndTalk(s, room);
  const got = once(s, 'notification');
  await broadcast(room, { text: room });
  assert.deepEqual(await got, { text: room });
}

test('default options: the session opens on polling, works there, then upgrades to websocket', async () => {
  const gate = gatedAgent();
  const s = openDefault(TOKEN_ALICE, gate);
  const hello = await once(s, 'connected');
  assert.equal(transport(s), 'polling');
  await exchange(s, 'before-upgrade');
  assert.equal(transport(s), 'polling', 'everything so far went over polling');

  const upgraded = new Promise((resolve) => s.io.engine.once('upgrade', (t) => resolve(t.name)));
  gate.open();
  assert.equal(await upgraded, 'websocket');
  assert.equal(transport(s), 'websocket');
  await exchange(s, 'after-upgrade');
  assert.equal(s.id, hello.clientId, 'the same socket throughout');
});

test('default options: broadcasts before, during and after the upgrade arrive once each, in order', async () => {
  const gate = gatedAgent();
  const s = openDefault(TOKEN_BOB, gate);
  await once(s, 'connected');
  await s.emitWithAck('joinRoom', { roomId: 'seam' });
  const got = [];
  const on = { polling: 0, websocket: 0 };
  s.on('notification', (m) => {
    got.push(m.n);
    on[transport(s)]++;
  });
  let upgraded = false;
  s.io.engine.once('upgrade', () => { upgraded = true; });
  let sent = 0;
  for (let after = 0; after < 20; sent++) {
    if (sent === 10) { // 10 over polling; the next ones race the upgrade
      await until(() => got.length === 10);
      gate.open();
    }
    await broadcast('seam', { n: sent });
    if (upgraded) after++;
  }
  await until(() => got.length >= sent);
  assert.deepEqual(got, [...Array(sent).keys()], 'each once, in order');
  assert.ok(on.polling >= 10 && on.websocket >= 20, JSON.stringify(on));
});

test('transports: ["polling"] only: events both ways, acks, broadcasts and the server\'s disconnect', async () => {
  const s = open(TOKEN_ALICE, { transports: ['polling'] });
  const hello = await once(s, 'connected');
  assert.equal(hello.clientId, s.id);
  await exchange(s, 'polling-only');
  const refused = await s.timeout(3000).emitWithAck('joinRoom', { roomId: 'user:bob' });
  assert.deepEqual(refused, { status: 'error', message: 'forbidden' });
  assert.equal(transport(s), 'polling');
  s.emit('kickMe');
  assert.equal(await once(s, 'disconnect'), 'io server disconnect');
  assert.equal(s.active, false, 'the client does not reconnect by itself');
});

test('transports: ["polling"] only: connection state recovery', async () => {
  await recovers(open(TOKEN_BOB, { transports: ['polling'], ...quickReconnect }), 'poll-9');
});
