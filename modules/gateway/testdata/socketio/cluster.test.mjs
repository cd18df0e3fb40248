// socket.io-client v4, unchanged, against two gateway nodes behind a load
// balancer without sticky sessions: each request goes to the next node in
// turn. modules/cluster's TestSocketIOClientAcrossNodes runs this with
// node --test; it passes GATEWAY_URL (the balancer's), TOKEN_ALICE,
// TOKEN_BOB and TOKEN_ADMIN.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { io } from 'socket.io-client';
import { broadcast, joinAndTalk, once, until } from './helpers.mjs';

const { GATEWAY_URL, TOKEN_ALICE, TOKEN_BOB } = process.env;
const sockets = [];
after(() => sockets.forEach((s) => s.close()));

// open connects without reconnecting by itself, and records what would
// have made it: a failed request of its Engine.IO session ends the session.
function open(token, opts) {
  const s = io(`${GATEWAY_URL}/game`, { auth: { token }, reconnection: false, ...opts });
  sockets.push(s);
  s.trouble = [];
  s.on('connect_error', (err) => s.trouble.push(`connect_error: ${err.message}`));
  s.on('disconnect', (reason) => s.trouble.push(`disconnect: ${reason}`));
  return s;
}

// works checks events both ways, acks and broadcasts on s, a connected
// socket, all through the balancer.
async function works(s, room) {
  await joinAndTalk(s, room);
  assert.deepEqual(await s.timeout(3000).emitWithAck('joinRoom', { roomId: 'user:nobody' }), { status: 'error', message: 'forbidden' });

  // A broadcast that reaches the other node crosses once the room's
  // subscription has reached NATS, a moment after joinedRoom: probe until
  // one arrives, then send a run that must arrive whole, once each, in the
  // order posted, though posted to both nodes in turn: they share one log.
  const got = [];
  s.on('notification', (m) => got.push(m.n));
  for (let tries = 0; got.length === 0; tries++) {
    assert.ok(tries < 50, 'no broadcast arrived');
    await broadcast(room, { n: 'probe' });
    await new Promise((r) => setTimeout(r, 100));
  }
  const run = () => got.filter((n) => n !== 'probe');
  for (let n = 0; n < 20; n++) await broadcast(room, { n });
  await until(() => run().length === 20);
  assert.deepEqual(run(), [...Array(20).keys()], 'each once, in order');
}

test('transports: ["polling"] only: each request to the next node, the session works end to end', async () => {
  const s = open(TOKEN_ALICE, { transports: ['polling'] });
  const hello = await once(s, 'connected');
  assert.equal(hello.clientId, s.id);
  const sid = s.io.engine.id;
  await works(s, 'cluster-polling');
  assert.equal(s.io.engine.id, sid, 'one Engine.IO session throughout');
  assert.equal(s.io.engine.transport.name, 'polling');
  assert.deepEqual(s.trouble, []);
});

test('default options: the client upgrades when its WebSocket reaches the session\'s node, and polls on otherwise', async (t) => {
  const s = open(TOKEN_BOB, {});
  const moved = new Promise((resolve) => {
    s.io.on('open', () => {
      s.io.engine.once('upgrade', () => resolve('upgraded'));
      s.io.engine.once('upgradeError', () => resolve('refused'));
    });
  });
  await once(s, 'connected');
  const sid = s.io.engine.id;
  const outcome = await moved;
  t.diagnostic(`the upgrade: ${outcome}`);
  assert.equal(s.io.engine.transport.name, outcome === 'upgraded' ? 'websocket' : 'polling');
  await works(s, 'cluster-default');
  assert.equal(s.io.engine.id, sid, 'one Engine.IO session throughout');
  assert.deepEqual(s.trouble, []);
});
