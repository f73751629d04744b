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
 * checkpoint right after a commit, on the event loop. It only has to copy what came since the
 * worker's, which it asks for right before (a lead-in), and the next write then restarts the
 * log: the log file stays bounded.
 *
 * The worker runs at the lowest priority (Linux, where it is per thread): on a server pinned
 * to one core, W3's p99 was 5.2 and 9.3 ms in two runs at the default priority, 4.9 and 5.2
 * at the lowest.
 *
 * That priority has a cost on a saturated core: the worker then gets almost no CPU, and in the
 * middle of a checkpoint it holds SQLite's checkpoint lock, so neither the reset nor the
 * backstop can run. A store-only loop pinned to one core took the log to 222-449 MB in 4 s
 * (its bound about 34 MB), the worker finishing 3-4 checkpoints. So once the log reaches the
 * backstop's length while the worker is inside a checkpoint, the store's connection waits for
 * it (the event loop gives it the core), then lets the log start over itself.
 *
 * Durability is SQLite's: a checkpoint only copies committed frames, at any time, and a crash
 * in the middle of one loses nothing. If the worker fails, the connection checkpoints by
 * itself again (the default 1000 pages).
 * @module
 */

import { closeSync, openSync, readSync } from "node:fs";
import { createRequire } from "node:module";
import { endianness } from "node:os";
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
  /**
   * For tests only (0 by default): how long the worker stays inside each checkpoint before
   * it runs the PRAGMA, ms, its busy flag set and the log's generation read, as a worker
   * starved of CPU would. This makes the store's wait for a starved worker, and a log that
   * starts over during a checkpoint, happen at known times, where a real starvation depends
   * on the machine's load (a test that relied on it proved nothing at a raised niceness).
   */
  readonly holdMs?: number;
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
  /**
   * Passive checkpoints the store's own connection ran to let the log start over (not those
   * that SQLite answered `busy`: the worker was inside its own).
   */
  readonly resets: number;
  /**
   * Times the store's connection waited for a starved worker to finish its checkpoint, the
   * log being as long as the backstop's (each is followed by a reset, counted in `resets`
   * unless the wait timed out and the worker still held SQLite's checkpoint lock).
   */
  readonly waits: number;
  /** False once the worker failed and the connection checkpoints by itself again. */
  readonly running: boolean;
  /** Whether a checkpoint was asked of the worker and not answered yet. */
  readonly pending: boolean;
  /** Whether the worker is inside a checkpoint now (its busy flag). */
  readonly inCheckpoint: boolean;
  /** The current shortest time between two of the worker's checkpoints, ms. */
  readonly periodMs: number;
}

// The shared flags' slots: the worker's connection closed; the worker is inside a checkpoint.
const CLOSED = 0;
const BUSY = 1;

// The worker's code. A string (eval), not a module file: the same code then runs from the
// compiled server and from the TypeScript sources under test. `driver` is better-sqlite3's
// entry, resolved by the main thread; `flags` the shared flags (CLOSED, BUSY).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
// The lowest priority: on a server pinned to one core the checkpoint's copying then runs
// while the event loop waits, instead of taking turns with it. Linux sets it per thread;
// elsewhere it would lower the whole process.
if (process.platform === "linux") require("node:os").setPriority(19);
const db = new Database(workerData.path, { fileMustExist: true });
const flags = new Int32Array(workerData.flags);
const fs = require("node:fs");
const header = Buffer.alloc(20);
// For tests: the hold inside each checkpoint (CheckpointerOptions.holdMs), on a private cell.
const hold = new Int32Array(new SharedArrayBuffer(4));
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
      Atomics.store(flags, ${CLOSED}, 1);
      Atomics.notify(flags, ${CLOSED});
      parentPort.close();
    }
    return;
  }
  let result;
  // Set while this thread may hold SQLite's checkpoint lock: the store's connection waits on
  // it when the log is too long (a starved worker).
  Atomics.store(flags, ${BUSY}, 1);
  try {
    const before = generation();
    if (workerData.holdMs > 0) Atomics.wait(hold, 0, 0, workerData.holdMs);
    const row = db.pragma("wal_checkpoint(PASSIVE)")[0];
    const after = generation();
    result = { busy: row.busy, log: row.log, checkpointed: row.checkpointed, before, after };
  } catch (err) {
    result = { error: String(err && err.message ? err.message : err) };
  } finally {
    Atomics.store(flags, ${BUSY}, 0);
    Atomics.notify(flags, ${BUSY});
  }
  parentPort.postMessage(result);
});
`;

/** How long {@link Checkpointer.close} waits for the worker's connection to close, ms. */
const CLOSE_WAIT_MS = 10_000;

/**
 * How long the store's connection waits for a worker in the middle of a checkpoint once the
 * log is too long, ms: the worker only has to finish copying (at most twice
 * {@link CheckpointerOptions.resetFrames} frames, tens of ms); a worker that is stuck (a disk
 * that does not answer) must not stall the event loop for longer than SQLite's own inline
 * checkpoint would.
 */
const STARVED_WAIT_MS = 1000;

/** The -shm file's fields are in the machine's byte order. */
const LITTLE_ENDIAN = endianness() === "LE";

/**
 * Runs the WAL checkpoints of `db` (a file database in WAL mode, opened at `path`) on a
 * worker thread; the store calls {@link Checkpointer.afterCommit} after each COMMIT that
 * wrote, and {@link Checkpointer.close} before it closes `db`.
 */
export class Checkpointer {
  readonly #db: Database.Database;
  readonly #options: CheckpointerOptions;
  readonly #path: string;
  /** Shared with the worker: {@link CLOSED} and {@link BUSY}. */
  readonly #flags = new Int32Array(new SharedArrayBuffer(8));
  /** The -shm file, opened at the first look at the log's length. */
  #shm: number | undefined;
  readonly #shmHeader = Buffer.alloc(20);
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
  #waits = 0;
  /** Whether the store's connection already waited for the checkpoint now in flight. */
  #waited = false;
  /** Whether the checkpoint in flight is a reset's lead-in (see {@link Checkpointer.afterCommit}). */
  #leadInAsked = false;
  /** Whether the worker's last answer was a lead-in's: the reset may follow. */
  #leadInDone = false;

  /** Starts the worker; `db`'s own checkpoints stop until it fails. */
  constructor(db: Database.Database, path: string, options: CheckpointerOptions) {
    this.#db = db;
    this.#path = path;
    this.#options = options;
    this.#periodMs = options.periodMs;
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      // None of the process's node flags: the worker's code is CommonJS and self-contained,
      // and inherited ones broke it (`--input-type=module` made the worker fail at once, and
      // its checkpoints went back to SQLite) or ran in it too (an `--import` preload).
      execArgv: [],
      workerData: { path, driver, flags: this.#flags.buffer, holdMs: options.holdMs ?? 0 },
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
      waits: this.#waits,
      running: this.#worker !== undefined,
      pending: this.#inFlight,
      inCheckpoint: Atomics.load(this.#flags, BUSY) === 1,
      periodMs: this.#periodMs,
    };
  }

  /**
   * After a COMMIT that wrote: lets the log start over once it is long, else asks the worker
   * for a checkpoint if none is running and the last one is the current period old.
   */
  afterCommit(): void {
    if (this.#worker === undefined) return;
    if (this.#inFlight) {
      this.#unlessStarved();
      return;
    }
    if (this.#logFrames >= this.#options.resetFrames) {
      if (this.#leadInDone) {
        // No transaction is open and the worker is idle: this copies the frames since the
        // worker's lead-in, and the next write restarts the log.
        this.#reset();
      } else {
        // The reset copies and syncs, on the event loop, every frame since the worker's last
        // checkpoint began: 36-1732 frames, 3.6-24 ms with its two syncs (a W3 run, the worst
        // stalls of its measured window). A checkpoint on the worker first, right away,
        // leaves it only the frames that came during that one.
        this.#request(true);
      }
      return;
    }
    if (performance.now() - this.#lastRequestAt < this.#periodMs) return;
    this.#request(false);
  }

  /** Asks the worker for a checkpoint; `leadIn`: the one right before a reset. */
  #request(leadIn: boolean): void {
    this.#lastRequestAt = performance.now();
    this.#inFlight = true;
    this.#leadInAsked = leadIn;
    (this.#worker as Worker).postMessage("checkpoint");
  }

  /**
   * While the worker's checkpoint is in flight: if the worker is inside it (holding SQLite's
   * checkpoint lock, so that SQLite's own backstop cannot run) and the log has reached the
   * backstop's length, the worker is starved. Then the event loop waits for it, which on a
   * saturated core is what gives it the CPU, and lets the log start over itself. Once per
   * checkpoint: a worker that the wait did not bring to an end is left to SQLite's backstop.
   */
  #unlessStarved(): void {
    if (this.#waited || Atomics.load(this.#flags, BUSY) === 0) return;
    const frames = this.#walFrames();
    if (frames === undefined || frames < 2 * this.#options.resetFrames) return;
    this.#waited = true;
    this.#waits++;
    Atomics.wait(this.#flags, BUSY, 1, STARVED_WAIT_MS);
    this.#reset();
  }

  /**
   * A passive checkpoint on the store's connection, between two transactions: it copies what
   * the worker's did not, and the next write restarts the log. The commit is done either way;
   * a checkpoint that fails (I/O, or the worker still inside its own, which SQLite answers
   * with `busy`, after a wait that timed out) is tried again later, and is not counted.
   */
  #reset(): void {
    this.#logFrames = 0;
    this.#leadInDone = false;
    try {
      const row = this.#db.pragma("wal_checkpoint(PASSIVE)") as CheckpointResult[];
      if (row[0]?.busy === 0) this.#resets++;
    } catch {
      // Nothing is lost: the frames stay in the log.
    }
  }

  /**
   * The frames in the log now: `mxFrame` of the wal-index header, 4 bytes at offset 16 of
   * the -shm file in the machine's byte order (https://www.sqlite.org/walformat.html). The
   * worker's answers say it too, but a starved worker does not answer. undefined when the
   * file cannot be read (it is only a hint).
   */
  #walFrames(): number | undefined {
    try {
      this.#shm ??= openSync(`${this.#path}-shm`, "r");
      if (readSync(this.#shm, this.#shmHeader, 0, 20, 0) < 20) return undefined;
      return LITTLE_ENDIAN ? this.#shmHeader.readUInt32LE(16) : this.#shmHeader.readUInt32BE(16);
    } catch {
      return undefined;
    }
  }

  #closeShm(): void {
    if (this.#shm === undefined) return;
    closeSync(this.#shm);
    this.#shm = undefined;
  }

  /**
   * Closes the worker's connection and waits for it (bounded), so that the store's connection,
   * the last one, checkpoints the whole log and removes it as it closes.
   */
  close(): void {
    const worker = this.#worker;
    if (worker === undefined) return;
    this.#worker = undefined;
    this.#closeShm();
    worker.removeAllListeners();
    worker.on("error", () => {}); // closing anyway: nothing left to fall back to
    worker.postMessage("close");
    Atomics.wait(this.#flags, CLOSED, 0, CLOSE_WAIT_MS);
  }

  #done(result: CheckpointResult): void {
    this.#inFlight = false;
    const waited = this.#waited;
    this.#waited = false;
    const leadIn = this.#leadInAsked;
    this.#leadInAsked = false;
    this.#leadInDone = false;
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
    // After a reset while it was in flight, the answer's log is one that has started over.
    this.#logFrames = waited ? 0 : log;
    this.#generation = waited ? undefined : result.after;
    // A lead-in found what came since the last checkpoint, however recent: not a measure of
    // the log's growth over a period.
    if (leadIn) {
      this.#leadInDone = !waited;
      return;
    }
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
    this.#closeShm();
    worker.removeAllListeners();
    worker.on("error", () => {});
    void worker.terminate();
    if (this.#db.open) this.#db.pragma("wal_autocheckpoint = 1000");
  }
}
