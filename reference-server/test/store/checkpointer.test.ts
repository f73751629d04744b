// The background checkpointer (issue 11): WAL checkpoints on a worker thread, the log kept
// bounded, every committed row still there, a clean close, and SQLite's own checkpoints back
// when the worker fails [ACK-DURABLE-1].
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os, { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CHECKPOINTER_DEFAULTS,
  Checkpointer,
  type CheckpointerOptions,
  type CheckpointerStats,
} from "../../src/store/checkpointer.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { APP, message } from "./support-store.js";

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "confab-ckpt-"));
  dbPath = join(dir, "c.db");
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const root = fileURLToPath(new URL("../../../", import.meta.url));
const builtStore = pathToFileURL(join(root, "reference-server/dist/src/store/sqlite-store.js"));

/**
 * The first CPU this process may run on, when `taskset` can pin a process to it; else
 * undefined. (A cpuset need not hold CPU 0.)
 */
function firstCpu(): string | undefined {
  if (process.platform !== "linux") return undefined;
  const allowed = /Cpus_allowed_list:\s*(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
  if (!allowed) return undefined;
  const probe = spawnSync("taskset", ["-c", allowed[1] as string, "true"]);
  return probe.status === 0 ? allowed[1] : undefined;
}
const pinCpu = firstCpu();

// The store-only loop of the starved-worker test, in a process of its own pinned to one core
// (the built store: a child process cannot load the TypeScript sources). It commits 20
// messages at a time and yields after each commit, so that the worker's answers are read
// and it is asked again and again, as under a saturated server's load.
const STARVED_LOOP = `
import { statSync } from "node:fs";
const { SqliteStore } = await import(process.env.STORE_URL);
const path = process.env.DB_PATH;
const store = SqliteStore.open(path, {
  checkpoints: "background",
  checkpointer: { resetFrames: Number(process.env.RESET_FRAMES) },
});
const text = "z".repeat(300);
const end = Date.now() + Number(process.env.RUN_MS);
let n = 0;
while (Date.now() < end) {
  for (let k = 0; k < 20; k++, n++) {
    store.insertMessage({ appId: "a", id: "m" + n, cid: "c" + (n % 20), fromPeerId: "p" + (n % 20),
      toPeerIds: ["q"], roomId: undefined, msg: text, timestamp: n, receipt: false });
  }
  store.commit();
  await new Promise((r) => setImmediate(r));
}
// The log file is never truncated: its size is the longest the log has been.
const walBytes = statSync(path + "-wal").size;
console.log(JSON.stringify({ messages: n, walBytes, stats: store.checkpointerStats() }));
store.close();
`;

const walBytes = () => statSync(`${dbPath}-wal`, { throwIfNoEntry: false })?.size ?? 0;

/** Until `done()` holds or `ms` pass, yielding to the event loop (the worker's answers). */
async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!done() && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
}

/** A store with background checkpoints tuned by `tuning`, and a writer of its messages. */
function openStore(tuning: Partial<CheckpointerOptions>) {
  const store = SqliteStore.open(dbPath, { checkpoints: "background", checkpointer: tuning });
  let n = 0;
  return {
    store,
    stats: () => store.checkpointerStats() as CheckpointerStats,
    /** Commits `rows` messages of `bytes` each (3000: a page of the log each). */
    write(rows: number, bytes = 3000): void {
      for (let k = 0; k < rows; k++, n++) {
        store.insertMessage(message({ id: `w${n}`, msg: "w".repeat(bytes), timestamp: n }));
      }
      store.commit();
    },
  };
}

/**
 * A store whose worker stays inside each checkpoint for `holdMs` (a starved worker), asked
 * for one at every commit, its log reset past 64 frames.
 */
const heldStore = (holdMs: number) =>
  openStore({ periodMs: 1, maxPeriodMs: 1, targetFrames: 0, resetFrames: 64, holdMs });

/**
 * A reader's snapshot, until its COMMIT: no checkpoint copies the frames after it, and the
 * log cannot start over.
 */
function readerSnapshot(table = "messages"): Database.Database {
  const reader = new Database(dbPath, { readonly: true });
  reader.exec("BEGIN");
  reader.prepare(`SELECT count(*) FROM ${table}`).get();
  return reader;
}

/** The frames in the log now (`mxFrame`, as the checkpointer reads it). */
function logFrames(): number {
  const shm = readFileSync(`${dbPath}-shm`);
  return os.endianness() === "LE" ? shm.readUInt32LE(16) : shm.readUInt32BE(16);
}

describe("SqliteStore with background checkpoints", () => {
  it("[ACK-DURABLE-1] checkpoints on the worker, lets the log start over, and loses no committed row", async () => {
    const store = SqliteStore.open(dbPath, {
      checkpoints: "background",
      // A checkpoint per burst whatever it finds (no adaptation), a reset every 64 frames.
      checkpointer: { periodMs: 0, maxPeriodMs: 0, targetFrames: 0, resetFrames: 64 },
    });
    expect(store.settings().checkpoints).toBe("background");
    const text = "x".repeat(2000);
    // The worker's first answer: it has started (in about 30 ms).
    store.insertMessage(message({ id: "warm-up", timestamp: 0 }));
    store.commit();
    await until(() => (store.checkpointerStats()?.background ?? 0) > 0);
    let maxWal = 0;
    // Bursts of commits, as under load: the worker's checkpoint, asked for at a burst's first
    // commit, ends while the burst still writes, so the log never starts over by itself. Each
    // burst then waits for the worker's answer, which a slow machine delays.
    for (let n = 0; n < 600; n++) {
      store.insertMessage(message({ id: `m${n}`, msg: text, timestamp: n }));
      store.addPending(APP, "bob", `m${n}`, n, 1000);
      store.commit();
      maxWal = Math.max(maxWal, walBytes());
      if (n % 30 === 29) {
        const answered = store.checkpointerStats()?.background ?? 0;
        await until(() => (store.checkpointerStats()?.background ?? 0) > answered);
      }
    }
    const stats = store.checkpointerStats();
    expect(stats?.running).toBe(true);
    expect(stats?.background).toBeGreaterThan(0);
    // 600 commits wrote about 13 MB of log (what it grows to without the resets); started
    // over every 64 frames or so, it stays far below.
    expect(maxWal).toBeLessThan(3_000_000);
    // Who let the log start over depends on timing: the worker's checkpoint when it found
    // no commit after it, SQLite's backstop at 128 frames when the worker was starved (two
    // CPU hogs: every time), or the store's reset. The reset has a test of its own (next).
    // Another connection reads every committed row.
    const other = new Database(dbPath, { readonly: true });
    expect(other.prepare("SELECT count(*) AS n FROM messages").get()).toEqual({ n: 601 });
    expect(other.prepare("SELECT count(*) AS n FROM pending").get()).toEqual({ n: 600 });
    other.close();
    // The worker's connection closes first, so the store's, the last, removes the log.
    store.close();
    expect(existsSync(`${dbPath}-wal`)).toBe(false);
    const again = SqliteStore.open(dbPath);
    expect(again.getMessage(APP, "m599")?.msg).toBe(text);
    expect(again.pendingFor(APP, "bob", 0)).toHaveLength(600);
    again.close();
  });

  it("resets the log only after a lead-in checkpoint on the worker, which leaves it the frames since", async () => {
    const store = SqliteStore.open(dbPath, {
      checkpoints: "background",
      checkpointer: { periodMs: 1, maxPeriodMs: 64, targetFrames: 200, resetFrames: 64 },
    });
    const stats = () => store.checkpointerStats() ?? { background: 0, resets: 0, periodMs: -1 };
    /** Commits `rows` rows of `bytes` each; then waits for the worker's answer if it was asked. */
    let n = 0;
    const commit = async (rows: number, bytes: number) => {
      for (let k = 0; k < rows; k++, n++) {
        store.insertMessage(message({ id: `l${n}`, msg: "l".repeat(bytes), timestamp: n }));
      }
      const answered = stats().background;
      store.commit();
      await until(() => stats().background > answered, 20_000);
      return stats().background > answered;
    };
    await new Promise((r) => setTimeout(r, 5));
    expect(await commit(1, 10)).toBe(true); // the first checkpoint
    // A reader's snapshot: no checkpoint can copy the frames after it, so the log cannot
    // start over by itself (here, with no commit during the worker's checkpoints, each
    // copied every frame, and the next write restarted the log).
    const reader = readerSnapshot();
    await new Promise((r) => setTimeout(r, 5));
    // 70 frames or more (a page a row): the worker's answer says the log is over resetFrames.
    expect(await commit(70, 3000)).toBe(true);
    const period = stats().periodMs;
    // The next commit does not reset: it asks the worker first, at once (not after the
    // period), and that lead-in leaves the period as it was (it found only one commit).
    expect(await commit(1, 10)).toBe(true);
    expect(stats().resets).toBe(0);
    expect(stats().periodMs).toBe(period);
    // Then the commit after resets, without asking the worker again: of the log's frames,
    // the reset has only those after the lead-in to copy.
    const before = stats().background;
    store.insertMessage(message({ id: "l-last", timestamp: 10_000 }));
    store.commit();
    expect(stats().resets).toBe(1);
    expect(stats().background).toBe(before);
    reader.exec("COMMIT");
    reader.close();
    store.close();
  });

  it.runIf(process.platform === "linux")(
    "runs the worker at the lowest priority, and only the worker",
    async () => {
      // Field 19 of stat is the niceness; the command (field 2) may hold spaces, so count
      // from the closing parenthesis.
      const niceOf = (statFile: string) => {
        const stat = readFileSync(statFile, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
      };
      // By thread id: the worker of an earlier test's store may still be exiting, and then
      // disappears between two counts.
      const lowestThreads = () =>
        readdirSync("/proc/self/task").filter((tid) => {
          try {
            return niceOf(`/proc/self/task/${tid}/stat`) === 19;
          } catch {
            return false; // it exited while we read
          }
        });
      // This thread opens the store and runs the event loop: it must keep its niceness.
      const own = () => niceOf("/proc/thread-self/stat");
      const ownBefore = own();
      const before = new Set(lowestThreads());
      const store = SqliteStore.open(dbPath, { checkpoints: "background" });
      store.insertMessage(message({ id: "m1" }));
      store.commit();
      await until(() => (store.checkpointerStats()?.background ?? 0) > 0);
      expect(lowestThreads().filter((tid) => !before.has(tid))).toHaveLength(1);
      expect(own()).toBe(ownBefore);
      store.close();
    },
  );

  it("spaces the worker's checkpoints out while the log grows slowly, and closes them up when it grows fast", async () => {
    const store = SqliteStore.open(dbPath, {
      checkpoints: "background",
      checkpointer: { periodMs: 1, maxPeriodMs: 64, targetFrames: 200, resetFrames: 100_000 },
    });
    const stats = () => store.checkpointerStats() ?? { background: 0, periodMs: -1 };
    let n = 0;
    /**
     * Commits `messages` messages of `bytes` each in one commit, then waits for the worker's
     * answer. One commit asks for one checkpoint, which then finds the whole burst: with a
     * commit per message, a burst that outlasted the period (a loaded machine: a CI run
     * failed this test at 4 ms, expected 1) asked for a second checkpoint in its middle,
     * which found few frames and doubled the period back.
     */
    const burst = async (messages: number, bytes: number) => {
      const answered = stats().background;
      for (let k = 0; k < messages; k++, n++) {
        store.insertMessage(message({ id: `m${n}`, msg: "x".repeat(bytes), timestamp: n }));
      }
      store.commit();
      await until(() => stats().background > answered, 2000);
    };
    // A few frames per checkpoint: the period doubles up to its bound.
    for (let k = 0; k < 12 && stats().periodMs < 64; k++) {
      await new Promise((r) => setTimeout(r, stats().periodMs + 1));
      await burst(1, 10);
    }
    expect(stats().periodMs).toBe(64);
    // Hundreds of frames per checkpoint: it halves back down to its floor.
    for (let k = 0; k < 12 && stats().periodMs > 1; k++) {
      await new Promise((r) => setTimeout(r, stats().periodMs + 1));
      await burst(600, 3000); // about 450 frames in one commit: over targetFrames
    }
    expect(stats().periodMs).toBe(1);
    store.close();
  });

  it("bounds the log when the worker never answers: SQLite's own checkpoint is the backstop", () => {
    // A saturated server leaves the lowest-priority worker no CPU: here the store commits in
    // one synchronous loop, so no answer of the worker is ever read and the reset, which
    // counts the frames the worker reports, never comes. Without the backstop the log grew
    // to about 12 MB (3000 commits of 2 KB rows and their index pages).
    const store = SqliteStore.open(dbPath, {
      checkpoints: "background",
      checkpointer: { periodMs: 0, maxPeriodMs: 0, targetFrames: 0, resetFrames: 64 },
    });
    const text = "y".repeat(2000);
    let maxWal = 0;
    for (let n = 0; n < 3000; n++) {
      store.insertMessage(message({ id: `s${n}`, msg: text, timestamp: n }));
      store.commit();
      maxWal = Math.max(maxWal, walBytes());
    }
    expect(store.checkpointerStats()?.background).toBe(0);
    // Twice 64 frames of 4 KB and their headers, and what one commit adds past the bound.
    expect(maxWal).toBeLessThan(1_000_000);
    store.close();
  });

  // A saturated core leaves the lowest-priority worker almost no CPU, and a worker in the
  // middle of its checkpoint holds SQLite's checkpoint lock, so the backstop above cannot run
  // either. Before the store's connection waited for a starved worker, this loop took the log
  // to 14.5-17 MB in 1.5 s (its bound about 2.1 MB), the worker finishing 3-4 checkpoints;
  // at the default bound, to 222-449 MB in 4 s (bound about 34 MB). It needs a core to pin
  // the loop to, and a niceness below 19 (else the worker's is no lower than the loop's);
  // even at 18 it passed with the wait planted out. The tests with a held worker, below,
  // check the wait's logic on any machine; this one checks that it bounds a real starvation.
  it.runIf(pinCpu !== undefined && getPriority() < 19)(
    "bounds the log when the worker is starved inside a checkpoint: the store's connection waits for it",
    () => {
      const resetFrames = 256;
      const run = spawnSync(
        "taskset",
        ["-c", pinCpu as string, process.execPath, "--input-type=module", "-e", STARVED_LOOP],
        {
          env: {
            ...process.env,
            STORE_URL: builtStore.href,
            DB_PATH: dbPath,
            RESET_FRAMES: String(resetFrames),
            RUN_MS: "1500",
          },
          encoding: "utf8",
          timeout: 30_000,
        },
      );
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const result = JSON.parse(run.stdout) as {
        messages: number;
        walBytes: number;
        stats: CheckpointerStats;
      };
      expect(result.messages).toBeGreaterThan(10_000);
      // The worker ran (under the child's --input-type=module too).
      expect(result.stats.running).toBe(true);
      expect(result.stats.background).toBeGreaterThan(0);
      // Twice resetFrames frames of 4 KB and their 24-byte headers, and what the commit that
      // crossed it added (2.4 MB measured): twice that is the limit here. Who bounded it is
      // not asserted: alone, the store's connection waited 1-3 times a run; beside two CPU
      // hogs, in some runs the backstop found the lock free each time and did it alone.
      expect(result.walBytes).toBeLessThan(2 * (2 * resetFrames * (4096 + 24)));
    },
    40_000,
  );

  // The store's wait for a starved worker, made deterministic: the worker stays inside each
  // checkpoint for holdMs before its PRAGMA (its busy flag set), as a starved one would.
  it("waits for a worker inside its checkpoint only once the log reaches the backstop's length, until the worker is out", async () => {
    const resetFrames = 64;
    const { store, stats, write } = heldStore(600);
    // Two rounds: the second shows the first left nothing behind (the log started over, the
    // wait's guard cleared).
    for (let round = 1; round <= 2; round++) {
      write(1, 10); // asks the worker: its last checkpoint is older than the period
      expect(stats().pending).toBe(true);
      await until(() => stats().inCheckpoint, 20_000);
      // Over resetFrames, under twice as many: the worker is left to finish.
      write(80);
      expect(logFrames()).toBeGreaterThan(resetFrames);
      expect(logFrames()).toBeLessThan(2 * resetFrames);
      expect(stats().inCheckpoint).toBe(true); // the hold is not over: the test is valid
      expect(stats().waits).toBe(round - 1);
      // Past twice resetFrames: the commit waits for the worker to come out, then resets.
      write(80);
      expect(stats().waits).toBe(round);
      expect(stats().inCheckpoint).toBe(false); // out of its checkpoint: the wait did wait
      expect(stats().resets).toBe(round);
      await until(() => !stats().pending, 20_000);
      // The reset copied every frame: the next write starts the log over.
      write(1, 10);
      expect(logFrames()).toBeLessThan(resetFrames);
      await until(() => !stats().pending, 20_000);
      await new Promise((r) => setTimeout(r, 2)); // the period
    }
    store.close();
  });

  it("waits for a worker inside its checkpoint at most 1 s, and once per checkpoint", async () => {
    const resetFrames = 64;
    const holdMs = 2500;
    const { store, stats, write } = heldStore(holdMs);
    write(1, 10);
    await until(() => stats().inCheckpoint, 20_000);
    const heldSince = performance.now();
    // A reader's snapshot keeps the log from starting over after the reset, so that it stays
    // at the backstop's length for the next commit.
    const reader = readerSnapshot();
    const start = performance.now();
    write(160);
    const waited = performance.now() - start;
    expect(stats().waits).toBe(1);
    // The wait timed out: the worker is still inside its checkpoint.
    expect(stats().inCheckpoint).toBe(true);
    expect(waited).toBeGreaterThanOrEqual(900);
    expect(waited).toBeLessThan(holdMs - (start - heldSince) - 300);
    // The log is still at the backstop's length and the worker still inside the same
    // checkpoint: no second wait.
    expect(logFrames()).toBeGreaterThanOrEqual(2 * resetFrames);
    const again = performance.now();
    write(10);
    expect(stats().waits).toBe(1);
    expect(performance.now() - again).toBeLessThan(500);
    reader.exec("COMMIT");
    reader.close();
    store.close();
  }, 20_000);

  it("counts every frame as new when the log started over during the worker's checkpoint", async () => {
    const targetFrames = 200;
    const { store, stats, write } = openStore({
      periodMs: 1,
      maxPeriodMs: 64,
      targetFrames,
      resetFrames: 10_000, // no reset: only the worker's checkpoints
      holdMs: 300,
    });
    // A reader's snapshot keeps the log from starting over between two checkpoints.
    let reader = readerSnapshot();
    write(40);
    await until(() => !stats().pending, 20_000);
    const first = logFrames(); // what the first answer counted: under half of targetFrames
    expect(first).toBeLessThan(targetFrames / 2);
    const period = stats().periodMs;
    // The next checkpoint reads the log's generation, then is held: meanwhile another
    // connection copies the whole log, and the store's next write starts it over.
    await new Promise((r) => setTimeout(r, period + 1));
    write(1, 10);
    await until(() => stats().inCheckpoint, 20_000);
    reader.exec("COMMIT");
    reader.close();
    const other = new Database(dbPath);
    other.pragma("wal_checkpoint(PASSIVE)");
    other.close();
    write(150); // a log of about 150 frames, from its start
    reader = readerSnapshot(); // not restarted again before the checkpoint ends
    // New frames: between half of targetFrames and targetFrames. Counted from the first
    // answer's count: under half. And no fewer than that count, which would also tell.
    const now = logFrames();
    expect(now).toBeGreaterThanOrEqual(targetFrames / 2);
    expect(now).toBeLessThanOrEqual(targetFrames);
    expect(now - first).toBeLessThan(targetFrames / 2);
    expect(now).toBeGreaterThanOrEqual(first);
    expect(stats().pending).toBe(true);
    await until(() => !stats().pending, 20_000);
    // Every frame is new: the period stays. Counted from the first answer's count, as if
    // the log had not started over, the checkpoint found too few and the period doubled.
    expect(stats().periodMs).toBe(period);
    reader.exec("COMMIT");
    reader.close();
    store.close();
  });

  it("asks the worker for the lead-in at once, whatever the period", async () => {
    const { store, stats, write } = openStore({
      periodMs: 60_000,
      maxPeriodMs: 60_000,
      targetFrames: 200,
      resetFrames: 64,
    });
    // A reader's snapshot of the schema the store wrote keeps the log from starting over (as
    // in the test above), whoever checkpoints it.
    const reader = readerSnapshot();
    // The first commit asks at once (no checkpoint yet); its answer: a log over resetFrames.
    write(80);
    expect(stats().pending).toBe(true);
    await until(() => !stats().pending, 20_000);
    // The next commit comes well within the period, and still asks for the lead-in at once.
    write(1, 10);
    expect(stats().pending).toBe(true);
    await until(() => !stats().pending, 20_000);
    expect(stats().resets).toBe(0);
    // Then the reset.
    write(1, 10);
    expect(stats().resets).toBe(1);
    expect(stats().pending).toBe(false);
    reader.exec("COMMIT");
    reader.close();
    store.close();
  });

  it("does not count a reset that SQLite answered busy (a worker still inside its checkpoint)", async () => {
    const db = new Database(dbPath);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE t (x TEXT)");
    // The log must not start over by itself (as above).
    const reader = readerSnapshot("t");
    // SQLite answers a passive checkpoint `busy` while another connection is inside one
    // (https://www.sqlite.org/pragma.html#pragma_wal_checkpoint): a worker that a timed-out
    // wait left there. The store's connection answers so here when `busy` is set.
    let busy = false;
    const answering = new Proxy(db, {
      get(target, key) {
        if (key === "pragma") {
          return (source: string, options?: Database.PragmaOptions) =>
            busy && source === "wal_checkpoint(PASSIVE)"
              ? [{ busy: 1, log: -1, checkpointed: -1 }]
              : target.pragma(source, options);
        }
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const checkpointer = new Checkpointer(answering, dbPath, {
      periodMs: 60_000,
      maxPeriodMs: 60_000,
      targetFrames: 200,
      resetFrames: 64,
    });
    const insert = db.prepare("INSERT INTO t VALUES (?)");
    const commit = (rows: number) => {
      db.transaction(() => {
        for (let k = 0; k < rows; k++) insert.run("t".repeat(3000));
      })();
      checkpointer.afterCommit();
    };
    const answered = () => until(() => !checkpointer.stats().pending, 20_000);
    commit(80); // the first checkpoint: a log over resetFrames
    await answered();
    commit(1); // the lead-in
    expect(checkpointer.stats().pending).toBe(true);
    await answered();
    busy = true;
    commit(1); // the reset, answered busy
    expect(checkpointer.stats()).toMatchObject({ resets: 0, pending: false, running: true });
    checkpointer.close();
    reader.exec("COMMIT");
    reader.close();
    db.close();
  });

  // The worker's code is CommonJS: node flags it inherited broke it (--input-type=module made
  // it fail at once, and the checkpoints silently went back to SQLite).
  it("runs the worker in a process started with --input-type=module", () => {
    const child = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `const { SqliteStore } = await import(process.env.STORE_URL);
         const store = SqliteStore.open(process.env.DB_PATH, { checkpoints: "background" });
         store.insertMessage({ appId: "a", id: "m1", cid: "c", fromPeerId: "p", toPeerIds: ["q"],
           roomId: undefined, msg: "x", timestamp: 1, receipt: false });
         store.commit();
         const end = Date.now() + 20000;
         while (store.checkpointerStats().running && store.checkpointerStats().background === 0
           && Date.now() < end) await new Promise((r) => setTimeout(r, 5));
         console.log(JSON.stringify(store.checkpointerStats()));
         store.close();`,
      ],
      {
        env: { ...process.env, STORE_URL: builtStore.href, DB_PATH: dbPath },
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    expect(child.stderr).toBe("");
    const stats = JSON.parse(child.stdout) as CheckpointerStats;
    expect(stats.running).toBe(true);
    expect(stats.background).toBe(1);
  }, 40_000);

  it("leaves the checkpoints to SQLite for an in-memory database", () => {
    const store = SqliteStore.open(":memory:", { checkpoints: "background" });
    expect(store.settings().checkpoints).toBe("inline");
    expect(store.checkpointerStats()).toBeUndefined();
    store.close();
  });

  it("gives the checkpoints back to SQLite when the worker cannot open the database", async () => {
    const db = new Database(dbPath);
    db.pragma("journal_mode = WAL");
    const checkpointer = new Checkpointer(db, join(dir, "missing.db"), {
      ...CHECKPOINTER_DEFAULTS,
      periodMs: 0,
    });
    // While the worker runs, SQLite's own checkpoint is only the backstop at twice the bound.
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(
      2 * CHECKPOINTER_DEFAULTS.resetFrames,
    );
    await until(() => !checkpointer.stats().running);
    expect(checkpointer.stats().running).toBe(false);
    expect(db.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    // Nothing to close any more, and asking for a checkpoint is harmless.
    checkpointer.afterCommit();
    checkpointer.close();
    db.close();
  });
});
