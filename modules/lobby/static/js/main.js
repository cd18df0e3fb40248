// The lobby page: wires the socket, the REST calls and the DOM together.
//
// A notification frame, {"event":"notification","data":message}, does not
// say which room it was sent to. The page shows a room only when the message
// itself names one in a `roomId` field (its own broadcast form adds it), and
// says "room not stated" otherwise, rather than guess.

import * as api from './api.js';
import { formatDateTime, formatMoney, formatTime } from './format.js';
import { GameSocket } from './socket.js';
import { hasRole, readClaims, tokenFromURL } from './token.js';

const DEPOSIT = 500; // minor units the "simulate a deposit" button credits
const LIST_LIMIT = 50; // entries kept in the notification and error lists

const $ = (id) => document.getElementById(id);

const session = {
  token: '',
  claims: null,
  userId: '', // from the server's `connected`, not from the token
  rooms: new Map(), // room id → 'joined' | 'joining': the rooms the page wants to be in
  balance: null, // {balance, currency}
  drops: 0,
};

const gameURL = new URL('/game', window.location.href);
gameURL.protocol = gameURL.protocol === 'https:' ? 'wss:' : 'ws:';
const socket = new GameSocket(gameURL.href);

// --- connection ---

socket.addEventListener('state', ({ detail }) => {
  $('status').dataset.state = detail.state;
  $('status-text').textContent = statusText(detail);
  if (detail.state !== 'connected') $('recovery').textContent = '';
  if (detail.state === 'refused') {
    addProblem('connection', `The gateway refused the connection: ${detail.message}`, 'GET /game');
  }
});

function statusText({ state, attempt, delay, message, userId }) {
  switch (state) {
    case 'connecting':
      return attempt ? `Connecting (attempt ${attempt + 1})…` : 'Connecting…';
    case 'connected':
      return `Connected as ${userId}`;
    case 'reconnecting':
      return `Disconnected · retrying in ${(delay / 1000).toFixed(1)} s`;
    case 'refused':
      return `Refused: ${message}`;
    default:
      return 'Not connected';
  }
}

socket.addEventListener('connected', ({ detail }) => {
  session.userId = detail.userId;
  const status = $('status');
  if (detail.recovered) {
    // The server put the page back in its rooms and sent what it missed.
    for (const room of session.rooms.keys()) session.rooms.set(room, 'joined');
  } else {
    // A new session: no rooms yet but the personal one; join them again.
    for (const room of session.rooms.keys()) join(room);
  }
  if (session.drops > 0) {
    status.dataset.recovered = String(Boolean(detail.recovered));
    $('recovery').textContent = detail.recovered
      ? ' · session recovered'
      : ` · new session (${detail.reason ?? 'not recovered'})`;
  }
  renderRooms();
  refreshBalance();
});

socket.addEventListener('drop', ({ detail }) => {
  session.drops++;
  for (const room of session.rooms.keys()) session.rooms.set(room, 'joining');
  renderRooms();
  $('status').dataset.drops = String(session.drops);
  const drops = $('drops');
  drops.hidden = false;
  drops.textContent = `Connection dropped ${session.drops}×, last at ${formatTime(new Date())} ` +
    `with ${closeText(detail)}. The page reconnects by itself: the gateway recovers its session, ` +
    'with its rooms and what it missed, when it can; otherwise the page joins its rooms again.';
});

function closeText({ code, reason }) {
  if (code === 1006) return 'code 1006 (no close frame)';
  return reason ? `code ${code} (${reason})` : `code ${code}`;
}

socket.addEventListener('message', ({ detail: { event, data } }) => {
  if (event === 'balanceUpdated') {
    if (data?.userId === session.userId) showBalance(data, { pushed: true });
    return;
  }
  addNotification(event, data); // `notification`, or an event name a REST caller chose
});

socket.addEventListener('exception', ({ detail: { message, id, request } }) => {
  let about = 'not a reply to a request';
  if (request) about = `in reply to ${request} #${id}`;
  else if (id !== undefined && id !== null) about = `request #${id}`;
  addProblem('exception', message, about);
});

// --- identity ---

function start(token) {
  session.token = token;
  session.claims = readClaims(token);
  session.userId = '';
  session.balance = null;
  $('balance').textContent = '—';
  $('balance').dataset.balance = '';
  renderIdentity();
  renderRooms();
  $('broadcast').hidden = !hasRole(session.claims, 'admin');
  $('deposit').hidden = true;
  const sub = session.claims?.sub;
  if (typeof sub === 'string') {
    api.devWalletAvailable(sub).then((available) => {
      if (session.token === token) $('deposit').hidden = !available;
    });
  }
  socket.connect(token);
}

function renderIdentity() {
  const { claims } = session;
  $('claims').hidden = !claims;
  $('token-hint').hidden = Boolean(claims);
  if (!claims) return;
  $('claim-sub').textContent = claims.sub ?? '(none)';
  $('claim-roles').textContent = Array.isArray(claims.roles) && claims.roles.length ? claims.roles.join(', ') : 'none';
  if (typeof claims.exp === 'number') {
    const exp = new Date(claims.exp * 1000);
    $('claim-exp').textContent = `${exp < new Date() ? 'expired ' : ''}${formatDateTime(exp)}`;
  } else {
    $('claim-exp').textContent = 'never (the gateway will refuse it)';
  }
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  start($('token').value.trim());
});

// --- rooms ---

const personalRoom = () => `user:${session.userId}`;

async function join(room) {
  session.rooms.set(room, 'joining');
  renderRooms();
  if (!socket.connected) return; // joined once connected
  try {
    await socket.request('joinRoom', { roomId: room });
    session.rooms.set(room, 'joined');
    if (!$('broadcast-room').value) $('broadcast-room').value = room;
  } catch (err) {
    if (!err.lost) session.rooms.delete(room); // refused; the exception is listed
  }
  renderRooms();
}

async function leave(room) {
  if (socket.connected) {
    try {
      await socket.request('leaveRoom', { roomId: room });
    } catch (err) {
      if (!err.lost) return; // refused; the exception is listed
    }
  }
  session.rooms.delete(room);
  renderRooms();
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('room').value.trim();
  $('room').value = '';
  if (room && !session.rooms.has(room) && room !== personalRoom()) join(room);
});

function renderRooms() {
  const items = [];
  if (session.userId) items.push(roomItem(personalRoom(), 'joined', true));
  for (const [room, state] of session.rooms) items.push(roomItem(room, state, false));
  $('rooms').replaceChildren(...items);
  $('room-options').replaceChildren(...[...session.rooms.keys()].map((room) => new Option(room)));
}

function roomItem(room, state, personal) {
  const item = el('li', { className: 'room', dataset: { room, state } },
    el('span', { className: 'room-name', textContent: room }));
  if (personal) {
    item.append(tag('personal', 'Your own room: wallet pushes and messages to you arrive through it'));
    return item;
  }
  if (state === 'joining') item.append(tag('joining…'));
  const button = el('button', { type: 'button', className: 'link', textContent: 'Leave' });
  button.setAttribute('aria-label', `Leave ${room}`);
  button.addEventListener('click', () => leave(room));
  item.append(button);
  return item;
}

// --- balance ---

async function refreshBalance() {
  try {
    showBalance(await socket.request('getBalance'), { pushed: false });
  } catch (err) {
    if (!err.lost) $('balance-note').textContent = 'The wallet did not answer; the error is listed.';
  }
}

function showBalance({ balance, currency }, { pushed }) {
  const previous = session.balance;
  session.balance = { balance, currency };
  const node = $('balance');
  node.textContent = formatMoney(balance, currency);
  node.dataset.balance = String(balance);
  const at = formatTime(new Date());
  if (pushed) {
    const change = previous?.currency === currency ? balance - previous.balance : 0;
    $('balance-note').textContent =
      `${change ? `${formatMoney(change, currency, { signed: true })} · ` : ''}updated live at ${at} (balanceUpdated)`;
    node.classList.remove('flash');
    void node.offsetWidth; // restart the animation
    node.classList.add('flash');
  } else {
    $('balance-note').textContent = `As of ${at} (getBalance)`;
  }
  $('deposit-button').textContent = `Simulate a deposit of ${formatMoney(DEPOSIT, currency)}`;
}

$('deposit-button').addEventListener('click', async (e) => {
  const button = e.currentTarget;
  button.disabled = true;
  try {
    await api.deposit(session.userId || session.claims?.sub, DEPOSIT); // the new balance arrives on the socket
  } catch (err) {
    addProblem(`HTTP ${err.status}`, err.message, 'POST /dev/wallet/credit');
  } finally {
    button.disabled = false;
  }
});

// --- broadcast (admin) ---

$('broadcast-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const roomId = $('broadcast-room').value.trim();
  const text = $('broadcast-text').value.trim();
  const result = $('broadcast-result');
  result.textContent = 'Sending…';
  try {
    // The room goes into the message too: the frame the room receives does not carry it.
    await api.broadcast(session.token, roomId, { text, roomId, from: session.userId || session.claims?.sub });
    result.textContent = `Sent to ${roomId} at ${formatTime(new Date())}`;
    $('broadcast-text').value = '';
  } catch (err) {
    result.textContent = 'Not sent; the error is listed.';
    addProblem(`HTTP ${err.status}`, err.message, 'POST /notifications/broadcast');
  }
});

// --- lists ---

function addNotification(event, message) {
  const room = typeof message?.roomId === 'string' ? message.roomId : '';
  const from = typeof message?.from === 'string' ? message.from : '';
  const head = el('div', { className: 'entry-head' },
    room
      ? el('span', { className: 'chip', textContent: room })
      : el('span', {
        className: 'chip unknown',
        textContent: 'room not stated',
        title: 'The notification frame does not say which room it was sent to, and this message names none.',
      }),
    event !== 'notification' && tag(event, 'The event name the sender chose'),
    from && el('span', { className: 'from', textContent: `from ${from}` }),
    timeNode(new Date()));
  const text = typeof message === 'string' ? message : message?.text;
  const body = typeof text === 'string'
    ? el('p', { className: 'entry-body', textContent: text })
    : el('pre', { className: 'entry-body', textContent: JSON.stringify(message, null, 2) });
  prepend('feed', el('li', { className: 'entry', dataset: { event } }, head, body));
}

function addProblem(source, message, about) {
  const head = el('div', { className: 'entry-head' },
    el('span', { className: 'chip danger', textContent: source }),
    el('span', { className: 'from', textContent: about }),
    timeNode(new Date()));
  prepend('problems', el('li', { className: 'entry' }, head, el('p', { className: 'entry-body', textContent: message })));
}

function prepend(listId, item) {
  const list = $(listId);
  list.prepend(item);
  while (list.children.length > LIST_LIMIT) list.lastElementChild.remove();
  $(`${listId}-empty`).hidden = true;
}

function timeNode(date) {
  return el('time', { dateTime: date.toISOString(), textContent: formatTime(date) });
}

function tag(text, title = '') {
  return el('span', { className: 'tag', textContent: text, title });
}

/** A new element with properties (dataset merged) and children; false children are skipped. */
function el(name, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(name), props);
  Object.assign(node.dataset, dataset);
  node.append(...children.filter(Boolean));
  return node;
}

// --- start ---

const initial = tokenFromURL();
if (initial) {
  $('token').value = initial;
  start(initial);
}
