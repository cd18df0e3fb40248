// The members of the rooms the page watches, kept from the gateway's
// presence frames: a list (joinedRoom's `members`, or a roomMembers reply or
// push), then memberJoined and memberLeft as users come and go.
//
// A list is a snapshot taken while the server handled the request, and its
// reply can arrive after presence events that are newer than it: the server
// writes those events on a timer, not in line with replies. So from the
// moment a list is asked for until it arrives, the room's events are held,
// and replayed on top of the list. Replaying an event older than the list is
// harmless: each event sets one user's state, in the order the server made
// them, so the last one for a user always matches the server.

export class Presence {
  #rooms = new Map(); // room id → {users: Set | null, asked: number, held: Change[]}

  /** The room's users, sorted, or null while they are not known. */
  users(room) {
    const users = this.#rooms.get(room)?.users;
    return users ? [...users].sort(byCodePoint) : null;
  }

  /** A list of room was asked for: hold its events until settle. */
  expect(room) {
    const state = this.#state(room);
    state.asked++;
  }

  /** The list that was asked for arrived: it, then the events held since. */
  settle(room, users) {
    const state = this.#rooms.get(room);
    if (!state || state.asked === 0) return; // forgotten meanwhile
    state.users = new Set(users);
    for (const change of state.held) apply(state, change);
    state.asked--;
    if (state.asked === 0) state.held = [];
  }

  /**
   * A presence frame (memberJoined, memberLeft, roomMembers) that is not a
   * reply. Returns the change it made, or null when it is about a room the
   * page does not watch, or one whose list is unknown.
   * @returns {{room: string, user?: string, joined?: boolean} | null}
   */
  receive(event, data) {
    const change = toChange(event, data);
    const state = change && this.#rooms.get(change.room);
    if (!state) return null;
    if (state.asked > 0) state.held.push(change);
    if (!state.users) return null; // an event before any list: the list will include it
    apply(state, change);
    return change;
  }

  /** Stops tracking room: the page left it. */
  forget(room) {
    this.#rooms.delete(room);
  }

  /** Forgets every list: the connection is gone, and so are its requests. */
  clear() {
    this.#rooms.clear();
  }

  #state(room) {
    let state = this.#rooms.get(room);
    if (!state) {
      state = { users: null, asked: 0, held: [] };
      this.#rooms.set(room, state);
    }
    return state;
  }
}

/**
 * @typedef {{room: string, user?: string, joined?: boolean, users?: string[]}} Change
 */

/** The change a frame describes, or null when it is not a well-formed presence frame. */
function toChange(event, data) {
  const room = data?.roomId;
  if (typeof room !== 'string') return null;
  switch (event) {
    case 'memberJoined':
    case 'memberLeft':
      if (typeof data.userId !== 'string') return null;
      return { room, user: data.userId, joined: event === 'memberJoined' };
    case 'roomMembers': // a burst of events, sent as the whole list instead
      if (!Array.isArray(data.users)) return null;
      return { room, users: data.users.filter((u) => typeof u === 'string') };
    default:
      return null;
  }
}

function apply(state, change) {
  if (change.users) state.users = new Set(change.users);
  else if (!state.users) return;
  else if (change.joined) state.users.add(change.user);
  else state.users.delete(change.user);
}

/** The order Go's sort.Strings gives ASCII ids, as the server lists them. */
function byCodePoint(a, b) {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}
