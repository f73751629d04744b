/**
 * WAL checkpoints on a worker thread, for {@link SqliteStore} (issue 11).
 *
 * SQLite's own checkpoint runs inside the COMMIT that takes the log past 1000 pages: it
 * copies those pages into the database file and syncs both files, and under W3 that stalled
 * the event loop for 7-8 ms about five times a second, with every frame of the flush waiting.
 * Here the store's connection checkpoints by itself only as a backstop, when the log holds
 * twice {@link CheckpointerOptions.resetFrames} frames (`wal_autocheckpoint`). A
 * worker thread with a connection of its own runs `PRAGMA wal_checkpoint(PASSIVE)`, which
 * copies and syncs the log without blocking the writer, while commits come. Its period
 * adapts to the log's growth: about {@link CheckpointerOptions.targetFrames} new frames per
 * checkpoint, as SQLite's own 1000 pages, between {@link CheckpointerOptions.periodMs} and
 * {@link CheckpointerOptions.maxPeriodMs}. (With a fixed 200 ms, W5, whose log grows slowly,
 * paid for a checkpoint and its two syncs every 200 ms however few frames it found: the
 * worker used 45 ms of CPU over a run, against 28 ms with the adaptive period.)
 *
 * A passive checkpoint never lets the log start over while the writer keeps appending: SQLite
 * restarts the log at a write only when every frame in it was copied. So once the log holds
 * {@link CheckpointerOptions.resetFrames} frames, the store's own connection runs one passive
 * checkpoint right after a commit. It only has to copy what came since the worker's, and the
 * next write then restarts the log: the log file stays bounded.
 *
 * The worker runs at the lowest priority (Linux, where it is per thread): on a server pinned
 * to one core, W3's p99 was 5.2 and 9.3 ms in two runs at the default priority, 4.9 and 5.2
 * at the lowest.
 *
 * Durability is SQLite's: a checkpoint only copies committed frames, at any time, and a crash
 * in the middle of one loses nothing. If the worker fails, the connection checkpoints by
 * itself again (the default 1000 pages).
 * @module
 */

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";

/** Tuning of a {@link Checkpointer}. */
export interface CheckpointerOptions {
  /** The shortest time between two of the worker's checkpoints, ms. */
  readonly periodMs: number;
  /** The longest, ms, while commits come. */
  readonly maxPeriodMs: number;
  /**
   * How many new frames a checkpoint should find: the period doubles after one that found
   * fewer than half as many, and halves after one that found more.
   */
  readonly targetFrames: number;
  /** How many frames the log may hold before the store's connection lets it start over. */
  readonly resetFrames: number;
}

/**
 * The defaults: checkpoints of about 1000 frames, at most five a second and at least one
 * every 3.2 s while commits come, and a log of at most about 16 MB.
 */
export const CHECKPOINTER_DEFAULTS: CheckpointerOptions = {
  periodMs: 200,
  maxPeriodMs: 3200,
  targetFrames: 1000,
  resetFrames: 4096,
};

/** What the worker answers to a checkpoint request: `PRAGMA wal_checkpoint`'s row. */
interface CheckpointResult {
  readonly busy?: number;
  readonly log?: number;
  readonly checkpointed?: number;
  /**
   * The log's generation (its header's checkpoint sequence and first salt, which change each
   * time the log starts over), read before and after the checkpoint; undefined when the
   * header could not be read.
   */
  readonly before?: string;
  readonly after?: string;
  readonly error?: string;
}

/** What a {@link Checkpointer} has done, for tests and the bench. */
export interface CheckpointerStats {
  /** Checkpoints the worker ran. */
  readonly background: number;
  /** Passive checkpoints the store's own connection ran to let the log start over. */
  readonly resets: number;
  /** False once the worker failed and the connection checkpoints by itself again. */
  readonly running: boolean;
  /** The current shortest time between two of the worker's checkpoints, ms. */
  readonly periodMs: number;
}

// The worker's code. A string (eval), not a module file: the same code then runs from the
// compiled server and from the TypeScript sources under test. `driver` is better-sqlite3's
// entry, resolved by the main thread; `closed` a shared flag set once the connection closed.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
// The lowest priority: on a server pinned to one core the checkpoint's copying then runs
// while the event loop waits, instead of taking turns with it. Linux sets it per thread;
// elsewhere it would lower the whole process.
if (process.platform === "linux") require("node:os").setPriority(19);
const db = new Database(workerData.path, { fileMustExist: true });
const closed = new Int32Array(workerData.closed);
const fs = require("node:fs");
const header = Buffer.alloc(20);
// The log's generation: SQLite rewrites the WAL header's checkpoint sequence (bytes 12-15)
// and salt-1 (16-19) each time the log starts over, which a later write does by itself once
// a checkpoint copied every frame. undefined if the file cannot be read (it is only a hint).
function generation() {
  let fd;
  try {
    fd = fs.openSync(workerData.path + "-wal", "r");
    if (fs.readSync(fd, header, 0, 20, 0) < 20) return undefined;
    return header.readUInt32BE(12) + ":" + header.readUInt32BE(16);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
parentPort.on("message", (request) => {
  if (request === "close") {
    try {
      db.close();
    } finally {
      Atomics.store(closed, 0, 1);
      Atomics.notify(closed, 0);
      parentPort.close();
    }
    return;
  }
  let result;
  try {
    const before = generation();
    const row = db.pragma("wal_checkpoint(PASSIVE)")[0];
    const after = generation();
    result = { busy: row.busy, log: row.log, checkpointed: row.checkpointed, before, after };
  } catch (err) {
    result = { error: String(err && err.message ? err.message : err) };
  }
  parentPort.postMessage(result);
});
`;

/** How long {@link Checkpointer.close} waits for the worker's connection to close, ms. */
const CLOSE_WAIT_MS = 10_000;

/**
 * Runs the WAL checkpoints of `db` (a file database in WAL mode, opened at `path`) on a
 * worker thread; the store calls {@link Checkpointer.afterCommit} after each COMMIT that
 * wrote, and {@link Checkpointer.close} before it closes `db`.
 */
export class Checkpointer {
  readonly #db: Database.Database;
  readonly #options: CheckpointerOptions;
  readonly #closed = new Int32Array(new SharedArrayBuffer(4));
  #worker: Worker | undefined;
  #inFlight = false;
  #lastRequestAt = Number.NEGATIVE_INFINITY;
  /** Frames in the log at the worker's last checkpoint. */
  #logFrames = 0;
  /** The log's generation at the worker's last checkpoint (see {@link CheckpointResult}). */
  #generation: string | undefined;
  /** The current shortest time between two of the worker's checkpoints, ms. */
  #periodMs: number;
  #background = 0;
  #resets = 0;

  /** Starts the worker; `db`'s own checkpoints stop until it fails. */
  constructor(db: Database.Database, path: string, options: CheckpointerOptions) {
    this.#db = db;
    this.#options = options;
    this.#periodMs = options.periodMs;
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { path, driver, closed: this.#closed.buffer },
    });
    // Never what keeps a process alive: close() ends it, and at exit a checkpoint cut short
    // loses nothing.
    worker.unref();
    worker.on("message", (result: CheckpointResult) => this.#done(result));
    worker.on("error", () => this.#fail());
    worker.on("exit", () => this.#fail());
    this.#worker = worker;
    // SQLite's own checkpoint only as a backstop, at twice the log's bound: the reset below
    // counts the frames the worker reports, and a worker that gets no CPU (its priority is the
    // lowest, and a saturated server leaves it none) reports nothing. Then the log grew
    // without bound, 457 MB in 6 s of commits with no idle time, every frame landing on
    // new file blocks that the kernel zeroes first (22% of the CPU in `__pi_memset`), and
    // 29-32% fewer messages stored than with SQLite's own checkpoints (issue 11).
    db.pragma(`wal_autocheckpoint = ${2 * options.resetFrames}`);
  }

  /** What the checkpointer has done so far. */
  stats(): CheckpointerStats {
    return {
      background: this.#background,
      resets: this.#resets,
      running: this.#worker !== undefined,
      periodMs: this.#periodMs,
    };
  }

  /**
   * After a COMMIT that wrote: lets the log start over once it is long, else asks the worker
   * for a checkpoint if none is running and the last one is the current period old.
   */
  afterCommit(): void {
    if (this.#worker === undefined || this.#inFlight) return;
    if (this.#logFrames >= this.#options.resetFrames) {
      // No transaction is open and the worker is idle: this copies the frames since the
      // worker's checkpoint, and the next write restarts the log. The commit is done either
      // way; a checkpoint that fails (I/O) is tried again after the worker's next one.
      this.#logFrames = 0;
      try {
        this.#db.pragma("wal_checkpoint(PASSIVE)");
        this.#resets++;
      } catch {
        // Nothing is lost: the frames stay in the log.
      }
      return;
    }
    const now = performance.now();
    if (now - this.#lastRequestAt < this.#periodMs) return;
    this.#lastRequestAt = now;
    this.#inFlight = true;
    this.#worker.postMessage("checkpoint");
  }

  /**
   * Closes the worker's connection and waits for it (bounded), so that the store's connection,
   * the last one, checkpoints the whole log and removes it as it closes.
   */
  close(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    worker.removeAllListeners();
    worker.on("error", () => {}); // closing anyway: nothing left to fall back to
    worker.postMessage("close");
    Atomics.wait(this.#closed, 0, 0, CLOSE_WAIT_MS);
  }

  #done(result: CheckpointResult): void {
    this.#inFlight = false;
    if (result.error !== undefined) {
      this.#fail();
      return;
    }
    this.#background++;
    const log = result.log ?? -1;
    // -1: the checkpoint could not run (another process held SQLite's checkpoint lock).
    if (log < 0) return;
    // Frames since the last checkpoint. Every frame is new when the log started over since
    // then: its generation changed, or it holds fewer frames. (The count alone missed a log
    // that started over and grew back to as many frames: the period then doubled where it
    // should have halved, and alternated.) A generation that changed during the checkpoint
    // leaves the count ambiguous; it is taken as all new.
    const restarted =
      (result.before !== undefined && result.before !== this.#generation) ||
      result.before !== result.after ||
      log < this.#logFrames;
    const fresh = restarted ? log : log - this.#logFrames;
    this.#logFrames = log;
    this.#generation = result.after;
    const { periodMs, maxPeriodMs, targetFrames } = this.#options;
    if (fresh < targetFrames / 2) {
      this.#periodMs = Math.min(Math.max(2 * this.#periodMs, 1), maxPeriodMs);
    } else if (fresh > targetFrames) {
      this.#periodMs = Math.max(this.#periodMs / 2, periodMs);
    }
  }

  /** The worker is gone or broken: the connection checkpoints by itself again. */
  #fail(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    this.#inFlight = false;
    worker.removeAllListeners();
    worker.on("error", () => {});
    void worker.terminate();
    if (this.#db.open) this.#db.pragma("wal_autocheckpoint = 1000");
  }
}
