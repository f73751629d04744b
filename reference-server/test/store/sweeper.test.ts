// The periodic sweep of expired pending messages (OFFLINE-SWEEP-1): batches, one per
// event-loop turn, each committed on its own; and the server's timer that runs it.
import { describe, expect, it } from "vitest";
import type { LogLevel } from "../../src/log.js";
import { startServer } from "../../src/server.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { DEFAULT_SWEEP_INTERVAL_MS, PendingSweeper } from "../../src/store/sweeper.js";
import { APP, message } from "./support-store.js";

const WEEK_MS = 604_800_000;

/** Stores `count` messages at timestamp `t`, each pending for one peer of its own. */
function fill(store: Store, count: number, t: number, prefix = "m"): void {
  for (let i = 0; i < count; i++) {
    const id = `${prefix}${i}`;
    store.insertMessage(message({ id, timestamp: t, toPeerIds: [`p${i}`] }));
    store.addPending(APP, `p${i}`, id, t, 50);
  }
  store.commit();
}

/** Resolves once `check` holds, polling; fails after `ms`. */
async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("PendingSweeper", () => {
  it("[OFFLINE-SWEEP-1] sweeps a backlog in batches, each in its own event-loop turn and committed on its own", async () => {
    const store = SqliteStore.open(":memory:");
    fill(store, 25, 1000, "old");
    fill(store, 3, WEEK_MS + 5000, "new");
    const calls: string[] = [];
    const commit = store.commit.bind(store);
    store.commit = () => {
      calls.push("commit");
      commit();
    };
    const sweep = store.sweepExpired.bind(store);
    store.sweepExpired = (notBefore, maxRows) => {
      const n = sweep(notBefore, maxRows);
      calls.push(`sweep ${n}`);
      return n;
    };
    const sweeper = new PendingSweeper({
      store,
      ttlMs: WEEK_MS,
      intervalMs: 0,
      batchRows: 10,
      now: () => WEEK_MS + 2000,
      beforeBatch: () => calls.push("before"),
    });
    // Scheduled before the round: runs between its first and second batch, proving that
    // the round gives the event loop back between batches.
    setImmediate(() => calls.push("other work"));
    expect(await sweeper.sweep()).toBe(25);
    expect(calls).toEqual([
      ...["before", "sweep 10", "commit", "other work"],
      ...["before", "sweep 10", "commit"],
      ...["before", "sweep 5", "commit"],
    ]);
    expect(store.pendingCount(APP)).toBe(3);
    store.close();
  });

  it("[OFFLINE-SWEEP-1] joins a running round instead of starting a second one, and stops after the current batch", async () => {
    const store = new MemoryStore();
    fill(store, 30, 1);
    let batches = 0;
    const sweep = store.sweepExpired.bind(store);
    store.sweepExpired = (notBefore, maxRows) => {
      batches++;
      return sweep(notBefore, maxRows);
    };
    const sweeper = new PendingSweeper({ store, ttlMs: 0, batchRows: 10, now: () => 2 });
    const first = sweeper.sweep();
    expect(sweeper.sweep()).toBe(first);
    expect(batches).toBe(1); // the first batch runs at once, in the caller's turn
    sweeper.stop();
    expect(await first).toBe(10);
    expect(batches).toBe(1);
    expect(store.pendingCount(APP)).toBe(20);
  });

  it("[OFFLINE-SWEEP-1] reports a failed commit, ends the round and tries again in the next", async () => {
    // A store whose commit fails, as a full disk makes it: the batch is rolled back (the
    // Store contract), so its rows are still there for the next round.
    let rows = 25;
    let uncommitted = 0;
    let failing = true;
    const store = {
      sweepExpired: (_notBefore: number, maxRows: number) => {
        const n = Math.min(maxRows, rows - uncommitted);
        uncommitted += n;
        return n;
      },
      commit: () => {
        if (failing) {
          uncommitted = 0;
          throw new Error("disk full");
        }
        rows -= uncommitted;
        uncommitted = 0;
      },
    } as unknown as Store;
    const errors: unknown[] = [];
    const sweeper = new PendingSweeper({
      store,
      ttlMs: 0,
      batchRows: 10,
      onError: (err) => errors.push(err),
    });
    expect(await sweeper.sweep()).toBe(0);
    expect(errors).toEqual([new Error("disk full")]);
    expect(rows).toBe(25);
    failing = false;
    expect(await sweeper.sweep()).toBe(25);
    expect(rows).toBe(0);
  });

  it("[OFFLINE-SWEEP-1] runs once a minute by default", () => {
    expect(DEFAULT_SWEEP_INTERVAL_MS).toBe(60_000);
  });
});

describe("the server's sweep", () => {
  it("[OFFLINE-SWEEP-1] removes expired pending messages on its timer, keeps history, and stops on close", async () => {
    const store = new MemoryStore();
    // Expired long ago by the server's clock, and for peers that never connect.
    fill(store, 40, 1000);
    const now = Date.now();
    store.insertMessage(message({ id: "fresh", timestamp: now, toPeerIds: ["bob"] }));
    store.addPending(APP, "bob", "fresh", now, 50);
    const logged: { level: LogLevel; event: string; fields: unknown }[] = [];
    const server = await startServer({
      db: store,
      sweepIntervalMs: 10,
      logger: { log: (level, event, fields) => logged.push({ level, event, fields }) },
    });
    try {
      await until(() => store.pendingCount(APP) === 1);
      expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["fresh"]);
      expect(store.history({ appId: APP, limit: 100 })).toHaveLength(41);
      expect(logged).toContainEqual({
        level: "info",
        event: "pending_swept",
        fields: { rows: 40, ms: expect.any(Number) },
      });
    } finally {
      await server.close();
    }
    // No round after close: a new expired entry stays.
    store.insertMessage(message({ id: "late", timestamp: 1000, toPeerIds: ["p0"] }));
    store.addPending(APP, "p0", "late", 1000, 50);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(store.pendingCount(APP)).toBe(2);
  });
});
