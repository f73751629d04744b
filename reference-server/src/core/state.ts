/**
 * In-memory protocol state: connections, sessions, who is online and who watches whom.
 * None of it is persisted: sessions and watch sets live as long as their connection
 * (decision D4).
 * @module
 */
import type { ConnId } from "./types.js";

/**
 * A session: one peer on one connection (decision D4). A new object for every open, so
 * nothing of an ended session survives into the next [SESSION-END-2].
 */
export interface Session {
  /** The connection the session lives on. */
  readonly conn: ConnId;
  /** The app of that connection. */
  readonly appId: string;
  /** The session's peer: at most one session per peer per connection. */
  readonly peerId: string;
  /** Peers this session watches (distinct; at most 10000) [WATCH-LIMIT-1]. */
  readonly watch: Set<string>;
  /** Super peer: may message peers it does not watch [SUPERPEER-OPEN-1, SUPERPEER-SEND-1]. */
  sp: boolean;
  /**
   * Receives the messages its peer sends from other sessions: set by `session/open` with
   * `echo: true`, absent or false otherwise [ECHO-OPEN-1, ECHO-OTHER-2, ECHO-OFF-1].
   * Optional so that a fresh session starts without echo [SESSION-END-2].
   */
  echo?: boolean;
}

/** What the engine keeps about one WebSocket connection. */
export interface ConnectionState {
  /** The adapter's id of the connection. */
  readonly id: ConnId;
  /** The `Origin` header of the upgrade request, if any (for the 4110 check). */
  readonly origin: string | undefined;
  /**
   * The remote address the connection is counted under [LIMIT-QUOTA-1], set when the
   * connection is admitted; absent when the adapter gave none or the connection was refused.
   */
  address?: string | undefined;
  /** The app the connection is bound to by its first command [SESSION-APP-1]. */
  appId: string | undefined;
  /** Open sessions by peer id [SESSION-MULTI-1]. */
  readonly sessions: Map<string, Session>;
  /** Last time anything arrived (frame, ping, pong): read timeout [TIMEOUT-READ-1]. */
  lastSeen: number;
  /** Since when the connection has had no open session: login timeout [TIMEOUT-LOGIN-1]. */
  noSessionSince: number | undefined;
  /** Tokens left in the flood limit's bucket [FLOOD-RATE-1]. */
  tokens: number;
  /** When the bucket was last refilled, ms. */
  lastRefill: number;
  /** A close was decided: later frames are ignored and nothing more is sent on it. */
  closing: boolean;
}

/**
 * The undo log of the command being handled. Every change to in-memory state inside a
 * command records its inverse here; when the command fails, the engine rolls the changes
 * back in reverse order, so that a failed command leaves no trace in memory, just as
 * `Store.atomically` leaves none in storage [ERROR-NOEFFECT-1, SESSION-OPEN-6,
 * SESSION-REOPEN-5]. Outside a command (disconnects, timeouts) nothing is recorded.
 */
export class Journal {
  #undo: (() => void)[] | undefined;

  /** Starts recording for one command. */
  begin(): void {
    this.#undo = [];
  }

  /** Whether a command is being handled, so that changes must record their inverse. */
  get recording(): boolean {
    return this.#undo !== undefined;
  }

  /** Records the inverse of a change just made, if a command is being handled. */
  record(undo: () => void): void {
    this.#undo?.push(undo);
  }

  /** Keeps the command's changes and stops recording. */
  commit(): void {
    this.#undo = undefined;
  }

  /** Undoes the command's changes, newest first, and stops recording. */
  rollback(): void {
    const undo = this.#undo ?? [];
    this.#undo = undefined;
    for (let k = undo.length - 1; k >= 0; k--) (undo[k] as () => void)();
  }
}

/**
 * A multimap from peer id to sessions, for the per-app indexes. A peer with one session,
 * or watched by one session, is the common case: it is stored as that session itself, and
 * a `Set` is made only for a second one. A `Set` per key cost some 140 bytes, more than
 * half of what a watch entry cost when 18 connections filled one app's index to V8's
 * limit of 2^24 entries (issue 8.1); the app's bounds keep this one `Map` far below that
 * limit [LIMIT-QUOTA-1].
 */
export class SessionIndex {
  readonly #map = new Map<string, Session | Set<Session>>();

  /** How many keys (distinct peers) the index holds. */
  get size(): number {
    return this.#map.size;
  }

  /** The sessions under `key` (empty when none); live, so do not change the index while iterating. */
  get(key: string): Iterable<Session> {
    const v = this.#map.get(key);
    if (v === undefined) return NONE;
    return v instanceof Set ? v : [v];
  }

  /** How many sessions are under `key`. */
  count(key: string): number {
    const v = this.#map.get(key);
    if (v === undefined) return 0;
    return v instanceof Set ? v.size : 1;
  }

  /** Puts `s` under `key`; returns false if it was there already. */
  add(key: string, s: Session): boolean {
    const v = this.#map.get(key);
    if (v === undefined) {
      this.#map.set(key, s);
      return true;
    }
    if (v === s) return false;
    if (v instanceof Set) {
      if (v.has(s)) return false;
      v.add(s);
      return true;
    }
    this.#map.set(key, new Set([v, s]));
    return true;
  }

  /** Removes `s` from under `key`; returns false if it was not there. */
  delete(key: string, s: Session): boolean {
    const v = this.#map.get(key);
    if (v === undefined) return false;
    if (v === s) {
      this.#map.delete(key);
      return true;
    }
    if (!(v instanceof Set) || !v.delete(s)) return false;
    // Back to the compact form once one session is left.
    if (v.size === 1) this.#map.set(key, v.values().next().value as Session);
    return true;
  }

  /** Every key with its sessions, for snapshots. */
  *entries(): IterableIterator<[string, Iterable<Session>]> {
    for (const [key, v] of this.#map) yield [key, v instanceof Set ? v : [v]];
  }
}

const NONE: readonly Session[] = [];

/**
 * Per-app indexes over the sessions of all connections, and the counts that the app's
 * bounds are checked against in O(1) [LIMIT-SESSIONS-APP-1, LIMIT-WATCH-APP-1,
 * LIMIT-CONN-APP-1].
 */
export class AppState {
  /** peer → its open sessions, on any connection. */
  readonly online = new SessionIndex();
  /** peer → the sessions that watch it. */
  readonly watchers = new SessionIndex();
  /**
   * Connections bound to the app [LIMIT-QUOTA-1]. A binding outlives any command that
   * makes it [SESSION-APP-1], so this count is not journaled.
   */
  connections = 0;
  #sessions = 0;
  #watchEntries = 0;

  /** @param journal where changes made inside a command record their inverse. */
  constructor(readonly journal: Journal = new Journal()) {}

  /** Open sessions of the app, on every connection [LIMIT-QUOTA-1]. */
  get sessions(): number {
    return this.#sessions;
  }

  /**
   * Watch entries of the app: the sizes of its sessions' watch sets, summed; a peer
   * watched by two sessions counts twice [LIMIT-QUOTA-1].
   */
  get watchEntries(): number {
    return this.#watchEntries;
  }

  /** Whether nothing of the app is left, so that its state may be dropped. */
  get empty(): boolean {
    return this.connections === 0 && this.#sessions === 0 && this.#watchEntries === 0;
  }

  /** The open sessions of a peer (empty when offline). */
  sessionsOf(peerId: string): Iterable<Session> {
    return this.online.get(peerId);
  }

  /** Whether the peer has at least one open session, on any connection [PRESENCE-ONLINE-1]. */
  isOnline(peerId: string): boolean {
    return this.online.count(peerId) > 0;
  }

  /** Adds a session; returns true if it is the peer's first (the peer came online). */
  addSession(s: Session): boolean {
    if (!this.online.add(s.peerId, s)) return false;
    this.#sessions++;
    this.journal.record(() => this.removeSession(s));
    return this.online.count(s.peerId) === 1;
  }

  /** Removes a session and its watches; returns true if it was the peer's last. */
  removeSession(s: Session): boolean {
    if (this.journal.recording) {
      for (const w of [...s.watch]) this.unwatch(s, w);
    } else {
      // Outside a command (a connection closed) nothing can be undone: drop the watches
      // without an inverse each. Many connections of 20000 entries closing in one turn of
      // the event loop must not stall it (issue 8.1) [LIMIT-WATCH-CONN-1].
      for (const w of s.watch) this.watchers.delete(w, s);
      this.#watchEntries -= s.watch.size;
      s.watch.clear();
    }
    if (!this.online.delete(s.peerId, s)) return false;
    this.#sessions--;
    this.journal.record(() => this.addSession(s));
    return this.online.count(s.peerId) === 0;
  }

  /** Records that `s` watches `peerId`. */
  watch(s: Session, peerId: string): void {
    if (s.watch.has(peerId)) return;
    s.watch.add(peerId);
    this.watchers.add(peerId, s);
    this.#watchEntries++;
    this.journal.record(() => this.unwatch(s, peerId));
  }

  /** Records that `s` no longer watches `peerId`. */
  unwatch(s: Session, peerId: string): void {
    if (!s.watch.delete(peerId)) return;
    this.watchers.delete(peerId, s);
    this.#watchEntries--;
    this.journal.record(() => this.watch(s, peerId));
  }

  /** Sets whether `s` is a super peer [SUPERPEER-OPEN-1]. */
  setSuperPeer(s: Session, sp: boolean): void {
    const was = s.sp;
    if (was === sp) return;
    s.sp = sp;
    this.journal.record(() => {
      s.sp = was;
    });
  }

  /** The sessions watching a peer. */
  watchersOf(peerId: string): Iterable<Session> {
    return this.watchers.get(peerId);
  }
}
