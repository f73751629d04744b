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
}

/** What the engine keeps about one WebSocket connection. */
export interface ConnectionState {
  /** The adapter's id of the connection. */
  readonly id: ConnId;
  /** The `Origin` header of the upgrade request, if any (for the 4110 check). */
  readonly origin: string | undefined;
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

/** Per-app indexes over the sessions of all connections. */
export class AppState {
  /** peer → its open sessions, on any connection. */
  readonly online = new Map<string, Set<Session>>();
  /** peer → the sessions that watch it. */
  readonly watchers = new Map<string, Set<Session>>();

  /** @param journal where changes made inside a command record their inverse. */
  constructor(readonly journal: Journal = new Journal()) {}

  /** The open sessions of a peer (empty when offline). */
  sessionsOf(peerId: string): ReadonlySet<Session> {
    return this.online.get(peerId) ?? EMPTY;
  }

  /** Whether the peer has at least one open session, on any connection [PRESENCE-ONLINE-1]. */
  isOnline(peerId: string): boolean {
    return (this.online.get(peerId)?.size ?? 0) > 0;
  }

  /** Adds a session; returns true if it is the peer's first (the peer came online). */
  addSession(s: Session): boolean {
    let set = this.online.get(s.peerId);
    if (!set) {
      set = new Set();
      this.online.set(s.peerId, set);
    }
    if (set.has(s)) return false;
    set.add(s);
    this.journal.record(() => this.removeSession(s));
    return set.size === 1;
  }

  /** Removes a session and its watches; returns true if it was the peer's last. */
  removeSession(s: Session): boolean {
    for (const w of [...s.watch]) this.unwatch(s, w);
    const set = this.online.get(s.peerId);
    if (!set?.delete(s)) return false;
    this.journal.record(() => this.addSession(s));
    if (set.size > 0) return false;
    this.online.delete(s.peerId);
    return true;
  }

  /** Records that `s` watches `peerId`. */
  watch(s: Session, peerId: string): void {
    if (s.watch.has(peerId)) return;
    s.watch.add(peerId);
    let set = this.watchers.get(peerId);
    if (!set) {
      set = new Set();
      this.watchers.set(peerId, set);
    }
    set.add(s);
    this.journal.record(() => this.unwatch(s, peerId));
  }

  /** Records that `s` no longer watches `peerId`. */
  unwatch(s: Session, peerId: string): void {
    if (!s.watch.delete(peerId)) return;
    const set = this.watchers.get(peerId);
    if (set) {
      set.delete(s);
      if (set.size === 0) this.watchers.delete(peerId);
    }
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
  watchersOf(peerId: string): ReadonlySet<Session> {
    return this.watchers.get(peerId) ?? EMPTY;
  }
}

const EMPTY: ReadonlySet<Session> = new Set();
