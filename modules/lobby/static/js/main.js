// The lobby page: wires the socket, the REST calls and the DOM together.
//
// A notification frame, {"event":"notification","data":message}, does not
// say which room it was sent to. The page shows a room only when the message
// itself names one in a `roomId` field (its own broadcast form adds it), and
// says "room not stated" otherwise, rather than guess.
//
// Rooms are joined with presence: each lists its members live under it, and
// an admin can kick any of them but themself.

import * as api from './api.js';
import { formatDateTime, formatMoney, formatTime } from './format.js';
import { Presence } from './presence.js';
import { GameSocket } from './socket.js';
import { hasRole, readClaims, tokenFromURL } from './token.js';

const DEPOSIT = 500; // minor units the "simulate a deposit" button credits
const LIST_LIMIT = 50; // entries kept in the notification and error lists
const MEMBER_LIMIT = 30; // members shown under a room; the rest are counted
const KICK_REASON = 'kicked from the lobby page'; // the close reason the kicked user sees

const $ = (id) => document.getElementById(id);

const session = {
  token: '',
  claims: null,
  userId: '', // from the server's `connected`, not from the token
  rooms: new Map(), // room id → 'joined' | 'joining': the rooms the page wants to be in
  balance: null, // {balance, currency}
  drops: 0,
  state: 'idle', // the socket's
  kicking: new Set(), // users with a kick in flight
  arrival: '', // "room\nuser" of the last memberJoined, drawn arriving once
};
const presence = new Presence();

const gameURL = new URL('/game', window.location.href);
gameURL.protocol = gameURL.protocol === 'https:' ? 'wss:' : 'ws:';
const socket = new GameSocket(gameURL.href);

// --- connection ---

socket.addEventListener('state', ({ detail }) => {
  session.state = detail.state;
  $('status').dataset.state = detail.state;
  $('status-text').textContent = statusText(detail);
  if (detail.state !== 'connected') $('recovery').textContent = '';
  if (detail.state === 'refused') {
    addProblem('connection', `The gateway refused the connection: ${detail.message}`, 'GET /game');
  }
  renderRooms(); // a room waiting for the socket says whether it is on its way back
});

function statusText({ state, attempt, delay, message, userId, code, reason }) {
  switch (state) {
    case 'connecting':
      return attempt ? `Connecting (attempt ${attempt + 1})…` : 'Connecting…';
    case 'connected':
      return `Connected as ${userId}`;
    case 'reconnecting':
      return `Disconnected · retrying in ${(delay / 1000).toFixed(1)} s`;
    case 'refused':
      return `Refused: ${message}`;
    case 'kicked':
      return `Kicked: ${reason || 'kicked'}`;
    case 'ended':
      return `Closed by the gateway: ${reason || `code ${code}`}`;
    default:
      return 'Not connected';
  }
}

socket.addEventListener('connected', ({ detail }) => {
  session.userId = detail.userId;
  $('ended').hidden = true;
  const status = $('status');
  if (detail.recovered) {
    // The server put the page back in its rooms, still watching their
    // members, and sent the room messages it missed; presence events are
    // not among those, so ask each room's list afresh.
    for (const room of session.rooms.keys()) {
      session.rooms.set(room, 'joined');
      refreshMembers(room);
    }
  } else {
    // A new session: no rooms yet but the personal one; join them again.
    for (const room of session.rooms.keys()) join(room);
  }
  if (session.drops > 0) {
    status.dataset.recovered = String(Boolean(detail.recovered));
    $('recovery').textContent = detail.recovered
      ? ' · session recovered'
      : ` · new session${detail.reason ? ` (${detail.reason})` : ''}`;
  }
  renderRooms();
  refreshBalance();
});

/** The connection is gone: the rooms wait to be back, their members unknown. */
function offline() {
  presence.clear();
  for (const room of session.rooms.keys()) session.rooms.set(room, 'joining');
  renderRooms();
}

socket.addEventListener('drop', ({ detail }) => {
  session.drops++;
  offline();
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

// The gateway ended the connection on purpose (kicked, or a close that
// reconnecting would undo): the socket does not come back by itself.
socket.addEventListener('ended', ({ detail }) => {
  session.drops++;
  offline();
  $('ended-text').textContent = `${endedText(detail)} The page does not reconnect by itself: ` +
    'coming straight back would undo what the gateway did. Reconnect starts a new session and joins your rooms again.';
  $('ended').hidden = false;
  addProblem(`close ${detail.code}`, detail.reason || closeText(detail), 'the gateway closed the connection');
});

function endedText({ code, reason }) {
  const at = formatTime(new Date());
  const user = session.userId || 'this user';
  switch (code) {
    case 4000:
      return `Kicked at ${at}: the gateway closed every connection of ${user} with ${closeText({ code, reason })}.`;
    case 4002:
      return `Closed at ${at} with ${closeText({ code, reason })}: a newer connection of ${user} passed the gateway's ` +
        'limit of connections per user, and this one was the oldest.';
    case 4003:
      return `Closed at ${at} with ${closeText({ code, reason })}: another connection took this session over.`;
    default:
      return `Closed at ${at} with ${closeText({ code, reason })}.`;
  }
}

$('reconnect').addEventListener('click', () => socket.connect(session.token));

const PRESENCE_EVENTS = new Set(['memberJoined', 'memberLeft', 'roomMembers']);

socket.addEventListener('message', ({ detail: { event, data } }) => {
  if (event === 'balanceUpdated') {
    if (data?.userId === session.userId) showBalance(data, { pushed: true });
    return;
  }
  if (PRESENCE_EVENTS.has(event)) {
    const change = presence.receive(event, data);
    if (change) showPresenceChange(change);
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
  presence.clear();
  $('ended').hidden = true;
  $('balance').textContent = '—';
  $('balance').dataset.balance = '';
  renderIdentity();
  renderRooms();
  $('broadcast').hidden = !isAdmin();
  $('kick-result').hidden = !isAdmin();
  $('deposit').hidden = true;
  const sub = session.claims?.sub;
  if (typeof sub === 'string') {
    api.devWalletAvailable(sub).then((available) => {
      if (session.token === token) $('deposit').hidden = !available;
    });
  }
  socket.connect(token);
}

/** Whether to offer the admin's controls: the token says so; the server decides. */
function isAdmin() {
  return hasRole(session.claims, 'admin');
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
  presence.expect(room);
  try {
    // With presence: the reply lists the room's users, and memberJoined and
    // memberLeft follow as they come and go.
    const reply = await socket.request('joinRoom', { roomId: room, presence: true });
    settleMembers(room, reply?.members);
    session.rooms.set(room, 'joined');
    if (!$('broadcast-room').value) $('broadcast-room').value = room;
  } catch (err) {
    presence.forget(room);
    if (!err.lost) session.rooms.delete(room); // refused; the exception is listed
  }
  renderRooms();
}

/** Asks a room's list again: a recovered session missed the presence events meanwhile. */
async function refreshMembers(room) {
  presence.expect(room);
  try {
    const reply = await socket.request('roomMembers', { roomId: room });
    settleMembers(room, reply?.users);
  } catch (err) {
    presence.forget(room);
    if (!err.lost) join(room); // the session came back without the room; the exception is listed
  }
  renderRooms();
}

function settleMembers(room, users) {
  if (Array.isArray(users)) presence.settle(room, users);
  else presence.forget(room); // a gateway without presence: show no list rather than a wrong one
}

async function leave(room) {
  if (socket.connected) {
    try {
      await socket.request('leaveRoom', { roomId: room });
    } catch (err) {
      if (!err.lost) return; // refused; the exception is listed
    }
  }
  presence.forget(room);
  session.rooms.delete(room);
  renderRooms();
}

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const room = $('room').value.trim();
  $('room').value = '';
  if (room && !session.rooms.has(room) && room !== personalRoom()) join(room);
});

/** Draws a memberJoined or memberLeft (or a whole new list), and tells screen readers. */
function showPresenceChange({ room, user, joined }) {
  if (user !== undefined && user !== session.userId) {
    if (joined) session.arrival = `${room}\n${user}`;
    $('presence-news').textContent = `${user} ${joined ? 'joined' : 'left'} ${room}`;
  }
  renderRooms();
}

function renderRooms() {
  const restoreFocus = rememberFocus();
  const items = [];
  if (session.userId) items.push(roomItem(personalRoom(), 'joined', true));
  for (const [room, state] of session.rooms) items.push(roomItem(room, state, false));
  $('rooms').replaceChildren(...items);
  session.arrival = ''; // drawn arriving once, not at every redraw
  $('room-options').replaceChildren(...[...session.rooms.keys()].map((room) => new Option(room)));
  restoreFocus();
}

/**
 * The list is redrawn whole at every change; this puts keyboard focus back
 * on the same button (or, when it is gone, such as a kicked member's, on its
 * room's Leave) so that a member joining does not throw it out of the list.
 */
function rememberFocus() {
  const active = document.activeElement;
  if (!(active instanceof HTMLElement) || !active.dataset.focus || !$('rooms').contains(active)) return () => {};
  const { focus } = active.dataset;
  const room = active.closest('[data-room]')?.dataset.room;
  return () => {
    const item = [...$('rooms').children].find((li) => li.dataset.room === room);
    const target = item?.querySelector(`[data-focus="${CSS.escape(focus)}"]`) ?? item?.querySelector('[data-focus="leave"]');
    target?.focus();
  };
}

function roomItem(room, state, personal) {
  const head = el('div', { className: 'room-head' }, el('span', { className: 'room-name', textContent: room }));
  const item = el('li', { className: 'room', dataset: { room, state } }, head);
  if (personal) {
    head.append(tag('personal', 'Your own room: wallet pushes and messages to you arrive through it'));
    return item;
  }
  if (state === 'joining') head.append(tag(willRejoin() ? 'joining…' : 'offline'));
  const users = state === 'joined' ? presence.users(room) : null;
  if (users) {
    head.append(el('span', { className: 'room-count', textContent: `${users.length} ${users.length === 1 ? 'member' : 'members'}` }));
  }
  const button = el('button', { type: 'button', className: 'link', textContent: 'Leave', dataset: { focus: 'leave' } });
  button.setAttribute('aria-label', `Leave ${room}`);
  button.addEventListener('click', () => leave(room));
  head.append(button);
  if (users) item.append(memberList(room, users));
  return item;
}

/** Whether the page joins its rooms by itself: the socket is up or on its way, not stopped until the user acts. */
function willRejoin() {
  return ['connecting', 'connected', 'reconnecting'].includes(session.state);
}

function memberList(room, users) {
  const me = session.userId;
  const ordered = users.includes(me) ? [me, ...users.filter((user) => user !== me)] : users;
  const shown = ordered.slice(0, MEMBER_LIMIT);
  const more = ordered.length - shown.length;
  const list = el('ul', { className: 'members' },
    ...shown.map((user) => memberItem(room, user)),
    more > 0 && el('li', { className: 'member more', textContent: `and ${more} more` }));
  list.setAttribute('aria-label', `Members of ${room}`);
  return list;
}

function memberItem(room, user) {
  const item = el('li', { className: 'member', dataset: { user } }, el('span', { className: 'member-name', textContent: user }));
  if (session.arrival === `${room}\n${user}`) item.classList.add('arrived');
  if (user === session.userId) item.append(tag('you'));
  else if (isAdmin()) item.append(kickButton(user));
  return item;
}

function kickButton(user) {
  const button = el('button', { type: 'button', className: 'link kick', textContent: 'Kick', dataset: { focus: `kick:${user}` } });
  button.setAttribute('aria-label', `Kick ${user}: close all of their connections`);
  // aria-disabled rather than disabled while the call is out: a disabled
  // button drops keyboard focus.
  if (session.kicking.has(user)) button.setAttribute('aria-disabled', 'true');
  button.addEventListener('click', () => {
    if (!session.kicking.has(user)) kick(user);
  });
  return button;
}

// --- kick (admin) ---

async function kick(user) {
  const result = $('kick-result');
  session.kicking.add(user);
  renderRooms();
  result.textContent = `Kicking ${user}…`;
  try {
    // The member's pages get close code 4000 with the reason; their
    // memberLeft reaches this page over the socket, not from this reply.
    const { closed } = await api.kick(session.token, user, KICK_REASON);
    result.textContent = `Kicked ${user} at ${formatTime(new Date())}: ` +
      `${closed} ${closed === 1 ? 'connection' : 'connections'} closed.`;
  } catch (err) {
    result.textContent = `${user} not kicked; the error is listed.`;
    addProblem(`HTTP ${err.status}`, err.message, `DELETE ${api.sessionsPath(user)}`);
  } finally {
    session.kicking.delete(user);
    renderRooms();
  }
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
