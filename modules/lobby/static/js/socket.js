// GameSocket keeps one WebSocket to the gateway's /game endpoint: it
// reconnects with exponential backoff and jitter when the socket drops, and
// matches replies to requests by their id.
//
// Events it dispatches (CustomEvent, payload in `detail`):
//   state      {state, ...}      idle | connecting | connected | reconnecting |
//                                refused | kicked | ended
//   connected  {clientId, userId, sessionId, recovered, reason?} the server's
//              greeting, after every (re)connect
//   drop       {code, reason}    an established connection ended; it reconnects
//   ended      {state, code, reason} the server ended it for good (FINAL_CLOSES);
//              it does not reconnect until connect is called again
//   message    {event, data}     a frame that is not a reply to a request
//   exception  {message, id, request} every `exception` frame

// Close codes with which the gateway ends a connection on purpose, where
// coming back at once would undo what it did. The socket stops and says so;
// connecting again is the user's decision.
const FINAL_CLOSES = new Map([
  // DELETE /users/:userId/sessions: an operator closed every connection of
  // the user. The session is gone, and a new connection would be accepted.
  [4000, 'kicked'],
  // A newer connection of the user passed gateway.maxSessionsPerUser and
  // closed this, the oldest: coming back would close that one in turn, and
  // two tabs would take turns forever.
  [4002, 'ended'],
  // Another connection recovered this session: taking it back would close
  // that one with 4003, which would take it back…
  [4003, 'ended'],
]);

/** A request that failed: the server answered `exception`, or the socket dropped. */
export class RequestError extends Error {
  constructor(message, { lost = false } = {}) {
    super(message);
    this.lost = lost;
  }
}

export class GameSocket extends EventTarget {
  #url;
  #minDelay;
  #maxDelay;
  #token = '';
  #ws = null;
  #generation = 0; // bumped by connect and close, so stale callbacks do nothing
  #attempt = 0;
  #timer = 0;
  #nextId = 1;
  #pending = new Map(); // id → {event, resolve, reject}
  #connected = false;
  // Session recovery: the session the server gave, and the offset of the
  // last room message received, sent back on a reconnect so that the server
  // restores the rooms and sends what was missed meanwhile.
  #sessionId = '';
  #offset = '';

  /**
   * @param {string} url ws: or wss: address of /game
   * @param {{minDelay?: number, maxDelay?: number}} backoff in milliseconds
   */
  constructor(url, { minDelay = 500, maxDelay = 10_000 } = {}) {
    super();
    this.#url = url;
    this.#minDelay = minDelay;
    this.#maxDelay = maxDelay;
  }

  get connected() {
    return this.#connected;
  }

  /** Connects with token, replacing any current connection. */
  connect(token) {
    this.close();
    this.#token = token;
    this.#sessionId = this.#offset = ''; // another token: another session
    this.#open(this.#generation);
  }

  /** Closes the connection and stops reconnecting. */
  close() {
    this.#generation++;
    clearTimeout(this.#timer);
    this.#connected = false;
    this.#failPending('connection closed');
    if (this.#ws) {
      this.#ws.close(1000);
      this.#ws = null;
    }
    this.#attempt = 0;
    this.#emit('state', { state: 'idle' });
  }

  /**
   * Sends {event, data, id} and resolves with the data of the reply. It
   * rejects with a RequestError when the server answers `exception`, or
   * with `lost` set when the socket is not connected or drops first.
   */
  request(event, data) {
    if (!this.#connected) {
      return Promise.reject(new RequestError('not connected', { lost: true }));
    }
    const id = this.#nextId++;
    const frame = data === undefined ? { event, id } : { event, data, id };
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { event, resolve, reject });
      this.#ws.send(JSON.stringify(frame));
    });
  }

  #open(generation) {
    this.#emit('state', { state: 'connecting', attempt: this.#attempt });
    const query = new URLSearchParams({ token: this.#token });
    if (this.#sessionId) {
      query.set('sessionId', this.#sessionId);
      if (this.#offset) query.set('offset', this.#offset);
    }
    const ws = new WebSocket(`${this.#url}?${query}`);
    this.#ws = ws;
    let opened = false;
    ws.addEventListener('open', () => { opened = true; });
    ws.addEventListener('message', (e) => {
      if (generation === this.#generation) this.#receive(e.data);
    });
    ws.addEventListener('close', (e) => {
      if (generation === this.#generation) this.#closed(e, opened, generation);
    });
  }

  #receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      this.#emit('exception', { message: `the server sent a frame that is not JSON: ${text.slice(0, 80)}` });
      return;
    }
    const { event, data, id, offset } = frame;
    if (typeof offset === 'string') this.#offset = offset;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (pending) this.#pending.delete(id);

    if (event === 'exception') {
      const message = data?.message ?? JSON.stringify(data);
      this.#emit('exception', { message, id, request: pending?.event });
      pending?.reject(new RequestError(message));
      return;
    }
    if (pending) {
      pending.resolve(data);
      return;
    }
    if (event === 'connected') {
      this.#connected = true;
      this.#sessionId = data.sessionId ?? '';
      this.#attempt = 0;
      this.#emit('state', { state: 'connected', userId: data.userId });
      this.#emit('connected', data);
      return;
    }
    this.#emit('message', { event, data });
  }

  async #closed(event, opened, generation) {
    this.#ws = null;
    this.#failPending('connection lost');
    const wasConnected = this.#connected;
    this.#connected = false;
    const final = FINAL_CLOSES.get(event.code);
    if (final && opened) {
      // Not recoverable, or not ours to recover: a later connect starts afresh.
      this.#sessionId = this.#offset = '';
      const detail = { state: final, code: event.code, reason: event.reason };
      this.#emit('state', detail);
      this.#emit('ended', detail);
      return;
    }
    if (wasConnected) this.#emit('drop', { code: event.code, reason: event.reason });
    // A browser hides why a handshake failed. Ask the same URL over plain
    // HTTP: a refused token (401) or origin (403) will not get better by
    // retrying, so say why and stop.
    if (!opened) {
      const refusal = await this.#refusal();
      if (generation !== this.#generation) return;
      if (refusal) {
        this.#emit('state', { state: 'refused', message: refusal });
        return;
      }
    }
    // "Equal jitter": half the backoff, plus up to as much again at random,
    // so that many pages dropped at once do not come back at once.
    const backoff = Math.min(this.#maxDelay, this.#minDelay * 2 ** this.#attempt);
    const delay = backoff / 2 + Math.random() * (backoff / 2);
    this.#attempt++;
    this.#emit('state', { state: 'reconnecting', attempt: this.#attempt, delay });
    this.#timer = setTimeout(() => this.#open(generation), delay);
  }

  /** The reason the server refuses the handshake for good, or '' when it may be transient. */
  async #refusal() {
    const url = new URL(this.#url);
    url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
    url.searchParams.set('token', this.#token);
    try {
      const res = await fetch(url, { cache: 'no-store' });
      if (res.status < 400 || res.status >= 500 || res.status === 426) return ''; // 426: the token is fine
      const body = await res.json().catch(() => null);
      return `${res.status} ${body?.message ?? res.statusText}`;
    } catch {
      return ''; // the server is unreachable: keep trying
    }
  }

  #failPending(message) {
    for (const { reject } of this.#pending.values()) {
      reject(new RequestError(message, { lost: true }));
    }
    this.#pending.clear();
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
