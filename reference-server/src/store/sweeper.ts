/**
 * The periodic sweep of expired pending messages [OFFLINE-SWEEP-1].
 *
 * A pending entry is removed when its peer acknowledges it, when its peer's offline store
 * evicts it, or when its peer opens a session after it expired; an entry of a peer that
 * never returns would stay forever, and count against the app's bound [LIMIT-STORE-2]. The
 * sweeper removes those in the background: every `intervalMs` it runs one round of batches
 * of {@link Store.sweepExpired}, each committed on its own and each in its own event-loop
 * turn, so that a backlog never holds the event loop for longer than one batch.
 * @module
 */
import type { Store } from "./store.js";

/** How often a round starts by default, ms. */
export const DEFAULT_SWEEP_INTERVAL_MS = 60_000;

/**
 * Rows one batch removes by default. A removal touches three b-trees (the table and two
 * indexes) at rows that are far apart, since the sweep goes by age and the table by peer:
 * 25 000 to 40 000 rows/s were measured on a busy two-core VM, so a batch of 250 holds the
 * event loop for about 10 ms (500 took 20 ms on average, with outliers near 100 ms).
 */
export const DEFAULT_SWEEP_BATCH_ROWS = 250;

/** Options of {@link PendingSweeper}. */
export interface PendingSweeperOptions {
  /** The store to sweep. */
  readonly store: Store;
  /** The offline age limit, ms: entries older than that are removed [OFFLINE-AGE-1]. */
  readonly ttlMs: number;
  /** Period of the rounds, ms; 0 or less starts none (call {@link PendingSweeper.sweep}). */
  readonly intervalMs?: number | undefined;
  /** Rows one batch removes at most. Default {@link DEFAULT_SWEEP_BATCH_ROWS}. */
  readonly batchRows?: number | undefined;
  /** The clock, ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /**
   * Runs before each batch. The server flushes its adapter here, which commits the writes
   * of the current turn with their frames; the batch's own commit then holds the sweep's
   * removals only, and if it fails it loses nothing else.
   */
  readonly beforeBatch?: (() => void) | undefined;
  /** Told the rows a round removed and how long it took (ms), when it removed any. */
  readonly onSwept?: ((rows: number, ms: number) => void) | undefined;
  /** Told why a batch failed. The round ends there; the next one tries again. */
  readonly onError?: ((err: unknown) => void) | undefined;
}

/** Runs {@link Store.sweepExpired} periodically, in bounded batches [OFFLINE-SWEEP-1]. */
export class PendingSweeper {
  readonly #store: Store;
  readonly #ttlMs: number;
  readonly #intervalMs: number;
  readonly #batchRows: number;
  readonly #now: () => number;
  readonly #beforeBatch: () => void;
  readonly #onSwept: (rows: number, ms: number) => void;
  readonly #onError: (err: unknown) => void;
  #timer: NodeJS.Timeout | undefined;
  #round: Promise<number> | undefined;
  #stopped = false;

  /** Creates a sweeper; {@link PendingSweeper.start} starts its timer. */
  constructor(options: PendingSweeperOptions) {
    this.#store = options.store;
    this.#ttlMs = options.ttlMs;
    this.#intervalMs = options.intervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    // At least one row, or a round would never end (0 removed is never "fewer than 0").
    this.#batchRows = Math.max(1, Math.floor(options.batchRows ?? DEFAULT_SWEEP_BATCH_ROWS));
    this.#now = options.now ?? Date.now;
    this.#beforeBatch = options.beforeBatch ?? (() => {});
    this.#onSwept = options.onSwept ?? (() => {});
    this.#onError = options.onError ?? (() => {});
  }

  /**
   * Starts a round every `intervalMs`. The timer is unref'd: it never keeps the process
   * alive on its own.
   */
  start(): void {
    if (this.#stopped || this.#timer !== undefined || this.#intervalMs <= 0) return;
    this.#timer = setInterval(() => void this.sweep(), this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * Stops the timer, and a running round after its current batch: no batch starts after
   * this returns, so the store may be closed right away. Idempotent.
   */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Runs one round now, or joins the one running: batches until one removes fewer rows than
   * a batch holds, yielding to the event loop between batches. Resolves with the rows the
   * round removed; never rejects (a failure goes to `onError`).
   */
  sweep(): Promise<number> {
    this.#round ??= this.#sweepRound().finally(() => {
      this.#round = undefined;
    });
    return this.#round;
  }

  async #sweepRound(): Promise<number> {
    const started = this.#now();
    // One cut-off for the whole round: entries that expire meanwhile wait for the next.
    const notBefore = started - this.#ttlMs;
    let total = 0;
    while (!this.#stopped) {
      let removed: number;
      try {
        this.#beforeBatch();
        removed = this.#store.sweepExpired(notBefore, this.#batchRows);
        this.#store.commit();
      } catch (err) {
        // A failed commit has rolled the batch back: those rows are still there.
        this.#onError(err);
        break;
      }
      total += removed;
      if (removed < this.#batchRows) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (total > 0) this.#onSwept(total, this.#now() - started);
    return total;
  }
}
