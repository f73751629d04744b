/**
 * Sessions and presence (spec/02-sessions.md): opening and ending sessions, and telling
 * watchers when a peer comes online or goes offline. Every change goes through the app's
 * {@link Journal}, so a command that fails after opening a session undoes it
 * [SESSION-OPEN-6].
 * @module
 */
import type { Presence as PresenceFrame } from "@confab/protocol";
import { AppState, type ConnectionState, Journal, type Session } from "./state.js";
import type { Output } from "./types.js";

/** What presence needs from the engine. */
export interface PresenceHost {
  /** Appends an output. */
  emit(output: Output): void;
  /** Records a log event. */
  record(event: string, fields: Record<string, unknown>): void;
}

/** One app in an engine snapshot (`EngineSnapshot.apps`, from `Engine.snapshot()`): its presence state and counters. */
export interface AppSnapshot {
  /** Each online peer with how many sessions it has open, sorted by peer. */
  online: [string, number][];
  /** Each watched peer with the sessions (`conn:peer`) that watch it, sorted. */
  watchers: [string, string[]][];
  /** The app's open sessions, as counted for its bound [LIMIT-SESSIONS-APP-1]. */
  sessions: number;
  /** The app's watch entries, as counted for its bound [LIMIT-WATCH-APP-1]. */
  watchEntries: number;
  /** Connections bound to the app, as counted for its bound [LIMIT-CONN-APP-1]. */
  connections: number;
}

/** What {@link Presence.audit} recounts for one app. */
interface Recount {
  connections: number;
  sessions: number;
  watchEntries: number;
  online: Map<string, number>;
  watchers: Map<string, number>;
}

/** The in-memory sessions of every app, and the presence events their changes cause. */
export class Presence {
  readonly #apps = new Map<string, AppState>();
  /** Remote address → its open connections [LIMIT-QUOTA-1]. */
  readonly #addresses = new Map<string, number>();

  /**
   * @param host how to emit frames and log events.
   * @param journal the engine's undo log, shared by every app.
   */
  constructor(
    private readonly host: PresenceHost,
    readonly journal: Journal = new Journal(),
  ) {}

  /** The state of an app, created on first use. */
  app(appId: string): AppState {
    let s = this.#apps.get(appId);
    if (!s) {
      s = new AppState(this.journal);
      this.#apps.set(appId, s);
    }
    return s;
  }

  /** The state of an app if it has any. */
  existing(appId: string): AppState | undefined {
    return this.#apps.get(appId);
  }

  /**
   * Counts a new connection under its remote address, unless the address holds `max`
   * connections already: then returns false and counts nothing, and the engine refuses the
   * connection [LIMIT-CONN-IP-1]. A connection without an address (the adapter knows none)
   * is not counted. IPv4-mapped IPv6 addresses count as their IPv4 address.
   */
  admitAddress(c: ConnectionState, address: string | undefined, max: number): boolean {
    if (address === undefined || address === "") return true;
    const key = address.startsWith("::ffff:") ? address.slice(7) : address;
    const n = this.#addresses.get(key) ?? 0;
    if (n >= max) return false;
    this.#addresses.set(key, n + 1);
    c.address = key;
    return true;
  }

  /**
   * Binds a connection to its app [SESSION-APP-1], unless the app has `max` connections
   * bound already: then returns false, binds nothing, and the engine closes the connection
   * [LIMIT-CONN-APP-1]. Not journaled: a binding outlives the command that makes it.
   */
  bind(c: ConnectionState, appId: string, max: number): boolean {
    if ((this.#apps.get(appId)?.connections ?? 0) >= max) return false;
    this.app(appId).connections++;
    c.appId = appId;
    return true;
  }

  /**
   * Forgets a connection that is gone, once its sessions have ended: its address and app
   * no longer count it, and an app left with nothing is dropped, so that app ids named
   * once (any valid one is served in development mode) do not accumulate. Call once per
   * connection.
   */
  release(c: ConnectionState): void {
    if (c.address !== undefined) {
      const n = (this.#addresses.get(c.address) ?? 1) - 1;
      if (n > 0) this.#addresses.set(c.address, n);
      else this.#addresses.delete(c.address);
      c.address = undefined;
    }
    const app = c.appId !== undefined ? this.#apps.get(c.appId) : undefined;
    if (!app || c.appId === undefined) return;
    app.connections--;
    if (app.empty) this.#apps.delete(c.appId);
  }

  /**
   * A plain, deterministic description of every app's in-memory indexes and the counts its
   * bounds are checked against: who is online with how many sessions, which sessions watch
   * whom, and the app's sessions, watch entries and bound connections [LIMIT-QUOTA-1]. For
   * tests and debugging: a failed command must leave all of it as it was, the counts too,
   * which nothing but a later refusal would otherwise show.
   */
  snapshot(): Record<string, AppSnapshot> {
    const out: Record<string, AppSnapshot> = {};
    for (const [appId, app] of [...this.#apps].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const online = [...app.online.entries()]
        .map(([p, set]): [string, number] => [p, [...set].length])
        .sort();
      const watchers = [...app.watchers.entries()]
        .map(([p, set]): [string, string[]] => [
          p,
          [...set].map((w) => `${w.conn}:${w.peerId}`).sort(),
        ])
        .sort();
      const { sessions, watchEntries, connections } = app;
      out[appId] = { online, watchers, sessions, watchEntries, connections };
    }
    return out;
  }

  /**
   * Recounts, from the connections themselves, everything this class keeps counted or
   * indexed, and returns each disagreement (none when all agree): per address the open
   * connections [LIMIT-CONN-IP-1]; per app the bound connections, the open sessions, the
   * watch entries [LIMIT-QUOTA-1], who is online with how many sessions and who is watched
   * by how many; and no state kept for an app with nothing in it. For tests: a count that
   * drifts shows otherwise only as a wrong refusal, or a wrong admission, long after.
   * @param conns every connection the engine holds, closing ones included.
   */
  audit(conns: Iterable<ConnectionState>): string[] {
    const problems: string[] = [];
    const addresses = new Map<string, number>();
    const apps = new Map<string, Recount>();
    for (const c of conns) {
      if (c.address !== undefined) addresses.set(c.address, (addresses.get(c.address) ?? 0) + 1);
      if (c.appId === undefined) continue;
      let a = apps.get(c.appId);
      if (!a) {
        a = {
          connections: 0,
          sessions: 0,
          watchEntries: 0,
          online: new Map(),
          watchers: new Map(),
        };
        apps.set(c.appId, a);
      }
      a.connections++;
      for (const s of c.sessions.values()) {
        a.sessions++;
        a.watchEntries += s.watch.size;
        a.online.set(s.peerId, (a.online.get(s.peerId) ?? 0) + 1);
        for (const w of s.watch) a.watchers.set(w, (a.watchers.get(w) ?? 0) + 1);
      }
    }
    const differ = (what: string, kept: Map<string, number>, want: Map<string, number>) => {
      for (const key of new Set([...kept.keys(), ...want.keys()])) {
        const k = kept.get(key) ?? 0;
        const w = want.get(key) ?? 0;
        if (k !== w) problems.push(`${what} ${key}: ${k} counted, ${w} recounted`);
      }
    };
    differ("address", this.#addresses, addresses);
    for (const appId of new Set([...this.#apps.keys(), ...apps.keys()])) {
      const app = this.#apps.get(appId);
      const want = apps.get(appId);
      if (!app) {
        problems.push(`app ${appId}: no state kept for its ${want?.connections} bound connections`);
        continue;
      }
      if (app.empty) problems.push(`app ${appId}: state kept with nothing in it`);
      for (const k of ["connections", "sessions", "watchEntries"] as const) {
        const w = want?.[k] ?? 0;
        if (app[k] !== w) problems.push(`app ${appId}: ${k} ${app[k]} counted, ${w} recounted`);
      }
      const count = (index: AppState["online"]) =>
        new Map([...index.entries()].map(([key, set]) => [key, [...set].length]));
      differ(`app ${appId}: online peer`, count(app.online), want?.online ?? new Map());
      differ(`app ${appId}: watched peer`, count(app.watchers), want?.watchers ?? new Map());
    }
    return problems;
  }

  /** Opens a session; publishes presence `on` if it is the peer's first [PRESENCE-ON-2]. */
  open(c: ConnectionState, app: AppState, peerId: string): Session {
    // A fresh object: nothing of an earlier session of the peer survives [SESSION-END-2].
    const session: Session = {
      conn: c.id,
      appId: c.appId as string,
      peerId,
      watch: new Set(),
      sp: false,
    };
    const since = c.noSessionSince;
    c.sessions.set(peerId, session);
    c.noSessionSince = undefined;
    this.journal.record(() => {
      if (c.sessions.get(peerId) === session) c.sessions.delete(peerId);
      c.noSessionSince = since;
    });
    this.host.record("session-open", { conn: c.id, appId: session.appId, peerId });
    // Only the peer's first session is news [PRESENCE-ON-2, PRESENCE-DEVICES-1]. Published
    // while the new session's watch set is still empty, so the new session itself never
    // hears it: its reply says the peer is online [SESSION-SELF-1, PRESENCE-ALT-1].
    if (app.addSession(session)) this.publish(app, peerId, "on");
    return session;
  }

  /** Ends a session; publishes presence `off` if it was the peer's last [PRESENCE-OFF-1]. */
  end(c: ConnectionState, app: AppState, session: Session, now: number): void {
    if (c.sessions.get(session.peerId) !== session) return;
    const since = c.noSessionSince;
    c.sessions.delete(session.peerId);
    // The login timeout runs again from the end of the last session [TIMEOUT-LOGIN-1].
    if (c.sessions.size === 0) c.noSessionSince = now;
    this.journal.record(() => {
      c.sessions.set(session.peerId, session);
      c.noSessionSince = since;
    });
    this.host.record("session-close", {
      conn: c.id,
      appId: session.appId,
      peerId: session.peerId,
    });
    // Only the peer's last session is news [PRESENCE-OFF-1, PRESENCE-DEVICES-1].
    if (app.removeSession(session)) this.publish(app, session.peerId, "off");
  }

  /** Ends every session of a connection [SESSION-END-1]. */
  endAll(c: ConnectionState, now: number): void {
    const app = c.appId !== undefined ? this.#apps.get(c.appId) : undefined;
    if (!app) return;
    for (const s of [...c.sessions.values()]) this.end(c, app, s, now);
  }

  /**
   * Tells every open session that watches `peerId`, and only those [PRESENCE-SCOPE-1], that
   * it came online or went offline: one frame per watching session, for its own peer
   * [FRAME-PEERID-1]. Transitions alternate, so each watcher hears on, off, on, …
   * [PRESENCE-ALT-1].
   */
  publish(app: AppState, peerId: string, status: "on" | "off"): void {
    for (const w of app.watchersOf(peerId)) {
      const frame: PresenceFrame = {
        cmd: "presence",
        peerId: w.peerId,
        status,
        sessionPeerIds: [peerId],
      };
      this.host.emit({ type: "send", conn: w.conn, frame });
    }
  }
}
