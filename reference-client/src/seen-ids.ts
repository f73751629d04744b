/**
 * The default {@link SeenIdStore}: the ids of the messages handed to the app, in memory,
 * bounded in count and remembered for 7 days [OFFLINE-DEDUP-1, OFFLINE-DEDUP-2].
 *
 * A message is redelivered only while it is pending for this peer, that is until an `ack`
 * of it reaches the server; the client acks every message it hands over, so the ids that
 * can come back are those of the last few deliveries before a connection dropped. The
 * bound therefore only has to exceed what one offline store holds (50 by default); 10000
 * leaves a wide margin. An app that must dedupe across restarts passes its own store.
 * @module
 */
import { OFFLINE_TTL_MS } from "@confab/protocol";
import type { SeenIdStore } from "./types.js";

/** Default bound of the in-memory store. */
export const SEEN_IDS_MAX = 10_000;

/**
 * An LRU of message ids with an age limit: an id is forgotten after `ttlMs` or when
 * `max` newer ids have been added.
 *
 * @example
 * const seen = new MemorySeenIds();
 * seen.add("m1", Date.now());
 * seen.has("m1"); // true
 */
export class MemorySeenIds implements SeenIdStore {
  readonly #ids = new Map<string, number>();
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #now: () => number;

  /**
   * @param options.max - most ids remembered (default 10000)
   * @param options.ttlMs - how long an id is remembered, ms (default 7 days, OFFLINE-AGE-1)
   * @param options.now - the clock, ms
   */
  constructor(options: { max?: number; ttlMs?: number; now?: () => number } = {}) {
    this.#max = options.max ?? SEEN_IDS_MAX;
    this.#ttlMs = options.ttlMs ?? OFFLINE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.#ids.size;
  }

  /** Whether `id` was added less than `ttlMs` ago and not pushed out since. */
  has(id: string): boolean {
    const at = this.#ids.get(id);
    if (at === undefined) return false;
    if (this.#now() - at >= this.#ttlMs) {
      this.#ids.delete(id);
      return false;
    }
    return true;
  }

  /** Remembers `id` as handed at `now`, forgetting the oldest beyond the bound. */
  add(id: string, now: number): void {
    this.#ids.delete(id);
    this.#ids.set(id, now);
    // A Map iterates in insertion order, so its first key is the least recently added.
    while (this.#ids.size > this.#max) {
      const oldest = this.#ids.keys().next().value as string;
      this.#ids.delete(oldest);
    }
  }

  /** Forgets `id`. */
  delete(id: string): void {
    this.#ids.delete(id);
  }
}
