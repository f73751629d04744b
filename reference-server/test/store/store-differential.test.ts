// SqliteStore against MemoryStore on random sequences of the offline-store operations, with
// blocks that throw half-way (rolled back) and commits in between. SqliteStore keeps in-memory
// mirrors of its rows (pending counts per app and per peer, known participants, recent
// messages; issue 11) that must never drift from the rows: after every step both stores must
// answer every observable question alike [LIMIT-STORE-2, OFFLINE-LIMIT-1, ERROR-NOEFFECT-1,
// LOGS-AUTH-1, ACK-REMOVE-1, OFFLINE-PENDING-1].
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { PairMap } from "../../src/store/pair-map.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import type { Store } from "../../src/store/store.js";
import { APP, message } from "./support-store.js";

const PEERS = ["bob", "carol", "dan"];
const APPS = [APP, "app2"];
const SENDERS = ["alice", "erin"];

type Op =
  | { kind: "send"; app: number; from: number; to: number[]; limit: number; many: boolean }
  | { kind: "read"; app: number; peer: number; limit: number }
  | { kind: "ack"; app: number; peer: number; picks: number[] }
  | { kind: "open"; app: number; peer: number; age: number }
  | { kind: "sweep"; age: number; max: number }
  | { kind: "block"; ops: Op[]; fail: boolean }
  | { kind: "commit" };

// What may run inside a block: everything but commit (no caller commits inside atomically).
const work: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("send" as const),
      app: fc.nat(1),
      from: fc.nat(1),
      to: fc.uniqueArray(fc.nat(PEERS.length - 1), { minLength: 1, maxLength: 3 }),
      limit: fc.integer({ min: 0, max: 4 }),
      // Every recipient at once (SqliteStore's one INSERT for the peers it knows), or one at a time.
      many: fc.boolean(),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("ack" as const),
      app: fc.nat(1),
      peer: fc.nat(PEERS.length - 1),
      // How far back from the newest message each acked one is: an ack mostly names a
      // message sent lately, which is one still pending more often than a random id is.
      picks: fc.array(fc.nat(8), { maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("open" as const),
      app: fc.nat(1),
      peer: fc.nat(PEERS.length - 1),
      age: fc.nat(30),
    }),
  },
  {
    // A history read writes the keys of the messages not yet indexed (SqliteStore), so it
    // runs inside blocks too, where a rollback must take that write back.
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      app: fc.nat(1),
      peer: fc.nat(PEERS.length - 1),
      limit: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("sweep" as const),
      age: fc.nat(30),
      max: fc.integer({ min: 0, max: 5 }),
    }),
  },
);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: work },
  { weight: 1, arbitrary: fc.constant({ kind: "commit" as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("block" as const),
      ops: fc.array(work, { maxLength: 5 }),
      fail: fc.boolean(),
    }),
  },
);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Applies `o` to `store`; message n is "m<n>" at timestamp n (ids sort like timestamps). */
function apply(store: Store, o: Op, state: { n: number }): void {
  switch (o.kind) {
    case "send": {
      const n = state.n++;
      const id = `m${String(n).padStart(3, "0")}`;
      const appId = APPS[o.app] as string;
      const to = o.to.map((p) => PEERS[p] as string);
      const fromPeerId = SENDERS[o.from] as string;
      store.insertMessage(
        message({ id, appId, cid: `c-${to[0]}`, fromPeerId, toPeerIds: to, timestamp: n }),
      );
      if (o.many) store.addPendingMany(appId, to, id, n, o.limit);
      else for (const p of to) store.addPending(appId, p, id, n, o.limit);
      return;
    }
    case "ack": {
      // Before the first message, an id that was never sent ("m0-1"), as a client may ack.
      const ids = o.picks.map((k) => `m${String(state.n - 1 - k).padStart(3, "0")}`);
      store.removePending(APPS[o.app] as string, PEERS[o.peer] as string, ids);
      return;
    }
    case "read":
      store.history({ appId: APPS[o.app] as string, cid: `c-${PEERS[o.peer]}`, limit: o.limit });
      return;
    case "open":
      store.pendingFor(APPS[o.app] as string, PEERS[o.peer] as string, state.n - o.age);
      return;
    case "sweep":
      store.sweepExpired(state.n - o.age, o.max);
      return;
    case "commit":
      store.commit();
      return;
    case "block":
      try {
        store.atomically(() => {
          for (const inner of o.ops) apply(store, inner, state);
          if (o.fail) throw new Error("half-way");
        });
      } catch (err) {
        if (!(err instanceof Error) || err.message !== "half-way") throw err;
      }
      return;
  }
}

const idOf = (m: { id: string }): string => m.id;

/** The history pages of an app: by conversation, by sender, both, and the whole app. */
function historyOf(store: Store, app: string): Record<string, unknown> {
  return {
    byCid: PEERS.map((q) => store.history({ appId: app, cid: `c-${q}`, limit: 100 }).map(idOf)),
    bySender: SENDERS.map((f) =>
      store.history({ appId: app, fromPeerId: f, limit: 100 }).map(idOf),
    ),
    byBoth: store.history({ appId: app, cid: "c-bob", fromPeerId: "erin", limit: 100 }).map(idOf),
    all: store.history({ appId: app, limit: 100 }).map(idOf),
  };
}

/**
 * SqliteStore's counts of its pending sets (the entries, the sets with one, each peer's
 * entries), kept as the sets change and undone with them, against a count of the sets
 * themselves: the bounds read the first two, and a peer's count, eviction and session open
 * the third. A wrong count is not always visible (a set's entries moved to rows early read
 * the same), so the counts are compared directly.
 */
function setCounts(store: SqliteStore): { kept: unknown; counted: unknown } {
  const s = store as unknown as {
    sets: PairMap<{ app: string; peers: Set<string> }>;
    setEntries: number;
    liveSets: number;
    setHolders: PairMap<number>;
  };
  const holders: Record<string, number> = {};
  let entries = 0;
  let live = 0;
  for (const set of s.sets.values()) {
    entries += set.peers.size;
    if (set.peers.size > 0) live++;
    for (const p of set.peers) holders[`${set.app}/${p}`] = (holders[`${set.app}/${p}`] ?? 0) + 1;
  }
  const kept: Record<string, number> = {};
  for (const [app, peer, n] of s.setHolders.entries()) kept[`${app}/${peer}`] = n;
  return {
    kept: { entries: s.setEntries, live: s.liveSets, holders: kept },
    counted: { entries, live, holders },
  };
}

/**
 * Everything a caller can observe of the offline store, participants and messages; with
 * `history`, the history pages too (a read writes the keys of unindexed messages in
 * SqliteStore, so reading them after every step would leave none for a block to roll back);
 * with `pending`, each peer's pending messages. Reading those sets SqliteStore's mirrored
 * count of each peer to the rows' count, which would heal a drift of that mirror at every
 * step before a later eviction could show it: so some runs read them only at the end.
 */
function observe(store: Store, upTo: number, history = false, pending = true): unknown {
  return APPS.map((app) => ({
    ...(history && historyOf(store, app)),
    count: store.pendingCount(app),
    // pendingFor with notBefore 0 expires nothing (timestamps start at 0).
    ...(pending && { pending: PEERS.map((p) => store.pendingFor(app, p, 0).map((m) => m.id)) }),
    participants: [...SENDERS, ...PEERS].map((p) =>
      PEERS.map((q) => store.isParticipant(app, `c-${q}`, p)),
    ),
    messages: Array.from({ length: upTo }, (_, k) => {
      const m = store.getMessage(app, `m${String(k).padStart(3, "0")}`);
      return m === undefined ? null : [m.id, m.toPeerIds.join(","), m.timestamp];
    }),
  }));
}

describe("SqliteStore and MemoryStore agree on random histories", () => {
  it("[LIMIT-STORE-2] [OFFLINE-LIMIT-1] [ERROR-NOEFFECT-1] keeps counts, evictions, participants and messages exact through rollbacks and commits", () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 30 }),
        fc.boolean(),
        fc.boolean(),
        (ops, watch, tight) => {
          const dir = mkdtempSync(join(tmpdir(), "confab-diff-"));
          dirs.push(dir);
          // A small history batch, so that commits write history keys too, and small
          // generations of recent messages, so that blocks roll back across a new generation.
          // Tight: bounds of pending sets that commits pass often, so that sets move to rows
          // while their entries are counted as they change (the counts the bounds read).
          const sqlite = SqliteStore.open(join(dir, "d.db"), {
            historyBatch: 3,
            recentMessages: 2,
            ...(tight && { maxSets: 2, maxSetEntries: 4 }),
          });
          const memory = new MemoryStore();
          const a = { n: 0 };
          const b = { n: 0 };
          try {
            for (const o of ops) {
              apply(sqlite, o, a);
              apply(memory, o, b);
              expect(observe(sqlite, a.n, false, watch)).toEqual(
                observe(memory, b.n, false, watch),
              );
              const { kept, counted } = setCounts(sqlite);
              expect(kept).toEqual(counted);
            }
            // What was committed is what a fresh open reads, also when the first store never
            // closed (as after a crash): the keys it held in memory come back from the rows.
            sqlite.commit();
            const again = SqliteStore.open(join(dir, "d.db"));
            try {
              expect(observe(again, a.n, true)).toEqual(observe(memory, b.n, true));
            } finally {
              again.close();
            }
            expect(observe(sqlite, a.n, true)).toEqual(observe(memory, b.n, true));
          } finally {
            sqlite.close();
            rmSync(dir, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
