/**
 * The last known state of each watched peer. Every report (`session/opened`,
 * `session/added`, `session/query-result`, `presence`) is a snapshot that a later `presence`
 * frame supersedes [PRESENCE-CLIENT-1]; every list in them is a set [SESSION-LIST-2].
 * @module
 */
import { uniqueIds } from "@confab/protocol";

/** The peers whose state changed: those now online, those now offline. */
export interface PresenceChange {
  readonly came: string[];
  readonly went: string[];
}

/**
 * Watched peers' states. A peer never reported is unknown, and becoming `off` from unknown
 * is no change worth reporting.
 *
 * @example
 * const p = new PresenceTable();
 * p.snapshot(["bob"], ["bob"], new Set(["bob"])); // { came: ["bob"], went: [] }
 * p.apply("off", ["bob"], new Set(["bob"]));       // { came: [], went: ["bob"] }
 */
export class PresenceTable {
  readonly #state = new Map<string, "on" | "off">();

  /** The peers last reported online. */
  get online(): string[] {
    return [...this.#state].filter(([, s]) => s === "on").map(([id]) => id);
  }

  /** The last reported state of `peerId`, if any. */
  get(peerId: string): "on" | "off" | undefined {
    return this.#state.get(peerId);
  }

  /** A reply's snapshot: of the watched peers `asked`, those in `online` are on, the rest off. */
  snapshot(
    asked: readonly string[],
    online: readonly string[],
    watched: ReadonlySet<string>,
  ): PresenceChange {
    const on = new Set(online);
    const change: PresenceChange = { came: [], went: [] };
    for (const id of uniqueIds([...asked])) {
      if (!watched.has(id)) continue;
      const status = on.has(id) ? "on" : "off";
      const before = this.#state.get(id);
      this.#state.set(id, status);
      if (before === status || (before === undefined && status === "off")) continue;
      (status === "on" ? change.came : change.went).push(id);
    }
    return change;
  }

  /** A `presence` frame: the watched peers it names are now `status`. */
  apply(
    status: "on" | "off",
    peerIds: readonly string[],
    watched: ReadonlySet<string>,
  ): PresenceChange {
    const change: PresenceChange = { came: [], went: [] };
    for (const id of uniqueIds([...peerIds])) {
      if (!watched.has(id) || this.#state.get(id) === status) continue;
      this.#state.set(id, status);
      (status === "on" ? change.came : change.went).push(id);
    }
    return change;
  }

  /** Forgets the peers no longer watched. */
  retain(watched: ReadonlySet<string>): void {
    for (const id of [...this.#state.keys()]) if (!watched.has(id)) this.#state.delete(id);
  }

  /** Forgets one peer. */
  delete(peerId: string): void {
    this.#state.delete(peerId);
  }
}
