// The HTTP calls of the page: the REST API, and the wallet simulator's
// development endpoint that the gateway mounts when it embeds the simulator.

/** A refused HTTP call; message is the server's own. */
export class HTTPError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** POST /notifications/broadcast, as the holder of token. */
export function broadcast(token, roomId, message) {
  return call('POST', '/notifications/broadcast', { roomId, message }, bearer(token));
}

/**
 * DELETE /users/:userId/sessions, as the holder of token: the gateway closes
 * every connection of userId, on every node, with 4000 and reason.
 * @returns {Promise<{closed: number}>}
 */
export function kick(token, userId, reason) {
  return call('DELETE', sessionsPath(userId), { reason }, bearer(token));
}

/** The path of a user's sessions, as the page names it in results and errors. */
export function sessionsPath(userId) {
  return `/users/${encodeURIComponent(userId)}/sessions`;
}

function bearer(token) {
  return { Authorization: `Bearer ${token}` };
}

const devWallet = '/dev/wallet';

/** Whether the gateway embeds the wallet simulator and so offers its endpoint. */
export async function devWalletAvailable(userId) {
  try {
    const res = await fetch(`${devWallet}/balance/${encodeURIComponent(userId)}`, { cache: 'no-store' });
    return res.ok;
  } catch {
    return false;
  }
}

/** Credits userId with amount minor units in the simulator. */
export function deposit(userId, amount) {
  return call('POST', `${devWallet}/credit`, { userId, amount });
}

async function call(method, path, body, headers = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { 'Content-Type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  } catch (err) {
    throw new HTTPError(0, `${path}: ${err.message}`);
  }
  const reply = await res.json().catch(() => null);
  if (!res.ok) {
    // NestJS-shaped {statusCode, message, error} from the API, {code, message} from the simulator.
    throw new HTTPError(res.status, reply?.message ?? res.statusText);
  }
  return reply;
}
