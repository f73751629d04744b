// The Store contract (store.ts; decisions D5, D6, D9, D10), run against both implementations:
// the protocol tests run on MemoryStore, so it must behave exactly like SqliteStore.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MemoryStore } from "../../src/store/memory-store.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import type { Store, StoredMessage } from "../../src/store/store.js";
import { APP, message } from "./support-store.js";

const OTHER_APP = "app2";

/** A peer message, with defaults for what a test does not care about. */

/** A group message of room `roomId` (its cid is the room id, it has no recipients). */
function groupMessage(
  over: Partial<StoredMessage> & { id: string; roomId: string },
): StoredMessage {
  return message({ cid: over.roomId, toPeerIds: [], ...over });
}

const ids = (messages: readonly StoredMessage[]): string[] => messages.map((m) => m.id);

/** Expected history order: newest first by (timestamp, id), ids compared as ASCII. */
function newestFirst(a: StoredMessage, b: StoredMessage): number {
  if (a.timestamp !== b.timestamp) return b.timestamp - a.timestamp;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

function storeContract(name: string, open: () => Store): void {
  /** Runs `body` on a fresh store and closes it, also when the body throws. */
  function withStore<T>(body: (store: Store) => T): T {
    const store = open();
    try {
      return body(store);
    } finally {
      store.close();
    }
  }

  describe(`${name}: atomically`, () => {
    it("[ERROR-NOEFFECT-1, ACK-FAIL-1] undoes every write of a block that throws, and keeps earlier writes", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m0" }));
        store.createRoom(APP, "room1", 1);
        expect(() =>
          store.atomically(() => {
            store.insertMessage(message({ id: "m1", timestamp: 1001 }));
            store.addPending(APP, "bob", "m1", 1001, 50);
            store.addMembers(APP, "room1", ["alice"]);
            expect(store.useNonce(APP, "n1", 10_000, 1)).toBe(true);
            throw new Error("half-way");
          }),
        ).toThrow("half-way");
        expect(store.getMessage(APP, "m1")).toBeUndefined();
        expect(store.pendingFor(APP, "bob", 0)).toEqual([]);
        expect(store.members(APP, "room1")).toEqual([]);
        expect(store.useNonce(APP, "n1", 10_000, 1)).toBe(true);
        expect(store.getMessage(APP, "m0")?.id).toBe("m0");
        store.commit();
        expect(store.getMessage(APP, "m0")?.id).toBe("m0");
      }));

    it("[ERROR-NOEFFECT-1] undoes a nested block that throws and is caught, and keeps the outer block's writes", () =>
      withStore((store) => {
        store.pendingFor(APP, "bob", 0);
        store.atomically(() => {
          store.insertMessage(message({ id: "m1" }));
          store.addPendingMany(APP, ["bob"], "m1", 1000, 50);
          expect(() =>
            store.atomically(() => {
              store.insertMessage(message({ id: "m2", timestamp: 1001 }));
              store.addPending(APP, "bob", "m2", 1001, 50);
              store.removePending(APP, "bob", ["m1"]);
              throw new Error("inner");
            }),
          ).toThrow("inner");
        });
        store.commit();
        expect(store.getMessage(APP, "m2")).toBeUndefined();
        expect(store.pendingFor(APP, "bob", 0).map((m) => m.id)).toEqual(["m1"]);
        expect(store.pendingCount(APP)).toBe(1);
      }));

    it("keeps the writes of a block that returns, and returns its value", () =>
      withStore((store) => {
        const value = store.atomically(() => {
          store.insertMessage(message({ id: "m1" }));
          return 42;
        });
        expect(value).toBe(42);
        store.commit();
        expect(store.getMessage(APP, "m1")?.id).toBe("m1");
      }));
  });

  describe(`${name}: messages`, () => {
    it("returns a stored message by id with every field intact", () =>
      withStore((store) => {
        const direct = message({ id: "m1", toPeerIds: ["bob"], receipt: true, msg: "héllo 👋" });
        const multi = message({ id: "m2", toPeerIds: ["bob", "carol"], timestamp: 1001 });
        const group = groupMessage({ id: "m3", roomId: "room1", timestamp: 1002 });
        for (const m of [direct, multi, group]) store.insertMessage(m);
        expect(store.getMessage(APP, "m1")).toStrictEqual(direct);
        expect(store.getMessage(APP, "m2")).toStrictEqual(multi);
        expect(store.getMessage(APP, "m3")).toStrictEqual(group);
        expect(store.getMessage(APP, "nope")).toBeUndefined();
      }));

    it("rejects a second message with the same id in the same app", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1", msg: "first" }));
        expect(() => store.insertMessage(message({ id: "m1", msg: "second" }))).toThrow();
        expect(store.getMessage(APP, "m1")?.msg).toBe("first");
        // The failed insert leaves the store usable and unchanged.
        store.insertMessage(message({ id: "m2" }));
        expect(ids(store.history({ appId: APP, limit: 10 }))).toEqual(["m2", "m1"]);
      }));

    it("does not let a caller change a stored message through a returned object", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1", toPeerIds: ["bob"] }));
        const got = store.getMessage(APP, "m1") as StoredMessage;
        // A store may hand out a copy (the change then stays in it) or a frozen object (the
        // change throws); either way the stored message stays as it was.
        try {
          (got.toPeerIds as string[]).push("mallory");
        } catch (err) {
          expect(err).toBeInstanceOf(TypeError);
        }
        expect(store.getMessage(APP, "m1")?.toPeerIds).toEqual(["bob"]);
      }));

    it("records the sender and every recipient of a peer message as participants", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1", cid: "c1", toPeerIds: ["bob", "carol"] }));
        for (const peer of ["alice", "bob", "carol"]) {
          expect(store.isParticipant(APP, "c1", peer)).toBe(true);
        }
        expect(store.isParticipant(APP, "c1", "dave")).toBe(false);
        expect(store.isParticipant(APP, "c2", "alice")).toBe(false);
      }));

    it("records only the sender of a group message, under the room id", () =>
      withStore((store) => {
        store.createRoom(APP, "room1", 1);
        store.addMembers(APP, "room1", ["alice", "bob"]);
        store.insertMessage(groupMessage({ id: "g1", roomId: "room1", fromPeerId: "alice" }));
        expect(store.isParticipant(APP, "room1", "alice")).toBe(true);
        expect(store.isParticipant(APP, "room1", "bob")).toBe(false);
      }));
  });

  describe(`${name}: history`, () => {
    it("orders newest first, breaking timestamp ties by id compared bytewise", () =>
      withStore((store) => {
        // ASCII order: "-" < "0" < "B" < "_" < "a" (a locale compare would differ).
        for (const id of ["a", "B", "_", "-", "0"]) store.insertMessage(message({ id }));
        store.insertMessage(message({ id: "z-old", timestamp: 999 }));
        store.insertMessage(message({ id: "-new", timestamp: 1001 }));
        expect(ids(store.history({ appId: APP, limit: 100 }))).toEqual([
          "-new",
          "a",
          "_",
          "B",
          "0",
          "-",
          "z-old",
        ]);
      }));

    it("returns at most limit items, and none for a limit of 0", () =>
      withStore((store) => {
        for (let i = 0; i < 5; i++) store.insertMessage(message({ id: `m${i}`, timestamp: i }));
        expect(ids(store.history({ appId: APP, limit: 2 }))).toEqual(["m4", "m3"]);
        expect(store.history({ appId: APP, limit: 0 })).toEqual([]);
      }));

    it("filters by conversation, by sender, by both, or takes the whole app", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "a1", cid: "c1", fromPeerId: "alice", timestamp: 1 }));
        store.insertMessage(message({ id: "b1", cid: "c1", fromPeerId: "bob", timestamp: 2 }));
        store.insertMessage(message({ id: "a2", cid: "c2", fromPeerId: "alice", timestamp: 3 }));
        store.insertMessage(groupMessage({ id: "g1", roomId: "c3", fromPeerId: "bob" }));
        const page = (q: { cid?: string; fromPeerId?: string }) =>
          ids(store.history({ appId: APP, limit: 10, ...q }));
        expect(page({ cid: "c1" })).toEqual(["b1", "a1"]);
        expect(page({ fromPeerId: "alice" })).toEqual(["a2", "a1"]);
        expect(page({ cid: "c1", fromPeerId: "alice" })).toEqual(["a1"]);
        expect(page({ cid: "c3" })).toEqual(["g1"]);
        expect(page({})).toEqual(["g1", "a2", "b1", "a1"]);
      }));

    it("with maxTs alone returns only timestamps strictly below it (legacy, skips ties)", () =>
      withStore((store) => {
        for (const [id, timestamp] of [
          ["x", 5],
          ["y", 5],
          ["w", 4],
          ["v", 3],
        ] as const) {
          store.insertMessage(message({ id, timestamp }));
        }
        expect(ids(store.history({ appId: APP, maxTs: 5, limit: 10 }))).toEqual(["w", "v"]);
      }));

    it("with maxTs and msgId returns the items strictly before the (timestamp, id) cursor", () =>
      withStore((store) => {
        for (const [id, timestamp] of [
          ["c", 6],
          ["z", 5],
          ["y", 5],
          ["x", 5],
          ["w", 4],
        ] as const) {
          store.insertMessage(message({ id, timestamp }));
        }
        const before = (maxTs: number, msgId: string) =>
          ids(store.history({ appId: APP, maxTs, msgId, limit: 10 }));
        expect(before(5, "y")).toEqual(["x", "w"]);
        // A cursor id that is not stored still splits the tie by comparison.
        expect(before(5, "xx")).toEqual(["x", "w"]);
        expect(before(5, "")).toEqual(["w"]);
        expect(before(6, "c")).toEqual(["z", "y", "x", "w"]);
      }));

    it("combines the cursor with the conversation and sender filters", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "a", cid: "c1", fromPeerId: "alice", timestamp: 5 }));
        store.insertMessage(message({ id: "b", cid: "c1", fromPeerId: "bob", timestamp: 5 }));
        store.insertMessage(message({ id: "c", cid: "c2", fromPeerId: "alice", timestamp: 5 }));
        store.insertMessage(message({ id: "d", cid: "c1", fromPeerId: "alice", timestamp: 4 }));
        const q = { appId: APP, maxTs: 5, msgId: "c", limit: 10 };
        expect(ids(store.history({ ...q, cid: "c1" }))).toEqual(["b", "a", "d"]);
        expect(ids(store.history({ ...q, fromPeerId: "alice" }))).toEqual(["a", "d"]);
        expect(ids(store.history({ ...q, cid: "c1", fromPeerId: "alice" }))).toEqual(["a", "d"]);
      }));

    it("ignores msgId without maxTs", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "a", timestamp: 1 }));
        store.insertMessage(message({ id: "b", timestamp: 2 }));
        expect(ids(store.history({ appId: APP, msgId: "a", limit: 10 }))).toEqual(["b", "a"]);
      }));

    // Many equal timestamps and small pages: the (timestamp, id) cursor must neither skip nor
    // repeat an item, whatever the filter.
    it("pages through any message set with the cursor without skipping or repeating", () => {
      const messages = fc.uniqueArray(
        fc.record({
          id: fc.stringMatching(/^[A-Za-z0-9_-]{1,3}$/),
          timestamp: fc.integer({ min: 0, max: 3 }),
          cid: fc.constantFrom("c1", "c2"),
          fromPeerId: fc.constantFrom("alice", "bob"),
        }),
        { selector: (m) => m.id, maxLength: 40 },
      );
      const filter = fc.constantFrom<{ cid?: string; fromPeerId?: string }>(
        {},
        { cid: "c1" },
        { fromPeerId: "alice" },
        { cid: "c2", fromPeerId: "bob" },
      );
      fc.assert(
        fc.property(messages, filter, fc.integer({ min: 1, max: 4 }), (fields, f, limit) =>
          withStore((store) => {
            const all = fields.map((m) => message(m));
            for (const m of all) store.insertMessage(m);
            const expected = all
              .filter((m) => f.cid === undefined || m.cid === f.cid)
              .filter((m) => f.fromPeerId === undefined || m.fromPeerId === f.fromPeerId)
              .sort(newestFirst);
            const seen: StoredMessage[] = [];
            let page = store.history({ appId: APP, ...f, limit });
            while (page.length > 0) {
              expect(page.length).toBeLessThanOrEqual(limit);
              seen.push(...page);
              // A cursor that does not advance must fail the test, not hang the run.
              if (seen.length > all.length) throw new Error("the cursor does not advance");
              const last = page[page.length - 1] as StoredMessage;
              page = store.history({
                appId: APP,
                ...f,
                maxTs: last.timestamp,
                msgId: last.id,
                limit,
              });
            }
            expect(ids(seen)).toEqual(ids(expected));
          }),
        ),
        { numRuns: 60 },
      );
    });

    it("with maxTs alone returns exactly the newest items below it, for any message set", () => {
      const messages = fc.uniqueArray(
        fc.record({
          id: fc.stringMatching(/^[A-Za-z0-9_-]{1,3}$/),
          timestamp: fc.integer({ min: 0, max: 4 }),
        }),
        { selector: (m) => m.id, maxLength: 25 },
      );
      fc.assert(
        fc.property(messages, fc.integer({ min: 0, max: 5 }), fc.nat(6), (fields, maxTs, limit) =>
          withStore((store) => {
            const all = fields.map((m) => message(m));
            for (const m of all) store.insertMessage(m);
            const expected = all
              .filter((m) => m.timestamp < maxTs)
              .sort(newestFirst)
              .slice(0, limit);
            expect(ids(store.history({ appId: APP, maxTs, limit }))).toEqual(ids(expected));
          }),
        ),
        { numRuns: 40 },
      );
    });
  });

  describe(`${name}: offline store`, () => {
    it("returns pending messages oldest first by (timestamp, id) as full messages", () =>
      withStore((store) => {
        const m = [
          message({ id: "b", timestamp: 2 }),
          message({ id: "a", timestamp: 2 }),
          message({ id: "z", timestamp: 1, receipt: true }),
        ];
        for (const x of m) {
          store.insertMessage(x);
          store.addPending(APP, "bob", x.id, x.timestamp, 50);
        }
        const pending = store.pendingFor(APP, "bob", 0);
        expect(ids(pending)).toEqual(["z", "a", "b"]);
        expect(pending[0]).toStrictEqual(m[2]);
      }));

    it("keeps messages pending after they are read, until they are removed", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1" }));
        store.addPending(APP, "bob", "m1", 1000, 50);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m1"]);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m1"]);
        expect(store.pendingFor(APP, "carol", 0)).toEqual([]);
      }));

    it("keeps each peer's pending messages separate", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1", toPeerIds: ["bob", "carol"] }));
        store.addPending(APP, "bob", "m1", 1000, 50);
        store.addPending(APP, "carol", "m1", 1000, 50);
        expect(store.removePending(APP, "bob", ["m1"])).toEqual(["m1"]);
        expect(ids(store.pendingFor(APP, "carol", 0))).toEqual(["m1"]);
        expect(store.pendingFor(APP, "bob", 0)).toEqual([]);
      }));

    it("adds a message already pending for the peer only once", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1" }));
        store.addPending(APP, "bob", "m1", 1000, 50);
        store.addPending(APP, "bob", "m1", 1000, 50);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m1"]);
      }));

    it("[OFFLINE-PENDING-1] adds a message for many peers as for each in turn: once per peer, the limit kept per peer", () =>
      withStore((store) => {
        for (let i = 1; i <= 3; i++) {
          store.insertMessage(message({ id: `m${i}`, timestamp: i, toPeerIds: ["bob", "carol"] }));
        }
        store.addPending(APP, "bob", "m1", 1, 3);
        // m1 is pending for bob already, and carol is named twice: two rows in all.
        store.addPendingMany(APP, ["bob", "carol", "carol"], "m1", 1, 3);
        expect(store.pendingCount(APP)).toBe(2);
        store.addPendingMany(APP, ["bob", "carol"], "m2", 2, 3);
        store.addPendingMany(APP, ["bob", "carol"], "m3", 3, 3);
        // Three each, at the limit: nothing evicted (a count off by one would evict m1).
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m1", "m2", "m3"]);
        expect(ids(store.pendingFor(APP, "carol", 0))).toEqual(["m1", "m2", "m3"]);
        expect(store.pendingCount(APP)).toBe(6);
        store.insertMessage(message({ id: "m4", timestamp: 4, toPeerIds: ["bob", "carol"] }));
        store.addPendingMany(APP, ["carol", "bob"], "m4", 4, 3);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m2", "m3", "m4"]);
        expect(ids(store.pendingFor(APP, "carol", 0))).toEqual(["m2", "m3", "m4"]);
        expect(store.pendingCount(APP)).toBe(6);
        expect(() => store.addPendingMany(APP, ["bob", "carol"], "ghost", 5, 3)).toThrow();
      }));

    it("refuses to make a message pending that is not stored", () =>
      withStore((store) => {
        expect(() => store.addPending(APP, "bob", "ghost", 1000, 50)).toThrow();
        expect(store.pendingFor(APP, "bob", 0)).toEqual([]);
      }));

    it("keeps exactly limit messages and evicts the oldest beyond it", () =>
      withStore((store) => {
        for (let i = 1; i <= 3; i++) {
          store.insertMessage(message({ id: `m${i}`, timestamp: i }));
          store.addPending(APP, "bob", `m${i}`, i, 3);
        }
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m1", "m2", "m3"]);
        store.insertMessage(message({ id: "m4", timestamp: 4 }));
        store.addPending(APP, "bob", "m4", 4, 3);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m2", "m3", "m4"]);
        // Eviction never removes history.
        expect(store.getMessage(APP, "m1")).toBeDefined();
        expect(store.history({ appId: APP, limit: 10 })).toHaveLength(4);
      }));

    it("evicts by age, not by arrival: an older message added to a full store goes at once", () =>
      withStore((store) => {
        for (const [id, t] of [
          ["b", 5],
          ["a", 5],
          ["old", 1],
        ] as const) {
          store.insertMessage(message({ id, timestamp: t }));
          store.addPending(APP, "bob", id, t, 2);
        }
        // "a" and "b" tie on timestamp; "old" is older than both, so it is the one evicted.
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["a", "b"]);
        store.insertMessage(message({ id: "c", timestamp: 5 }));
        store.addPending(APP, "bob", "c", 5, 2);
        // On a timestamp tie the smaller id is the older.
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["b", "c"]);
      }));

    it("drops and deletes pending messages older than notBefore", () =>
      withStore((store) => {
        for (let t = 1; t <= 4; t++) {
          store.insertMessage(message({ id: `m${t}`, timestamp: t }));
          store.addPending(APP, "bob", `m${t}`, t, 50);
        }
        // notBefore is inclusive: a message exactly that old is kept.
        expect(ids(store.pendingFor(APP, "bob", 3))).toEqual(["m3", "m4"]);
        // The dropped ones are gone, not just hidden.
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m3", "m4"]);
        expect(store.removePending(APP, "bob", ["m1", "m2"])).toEqual([]);
        expect(store.getMessage(APP, "m1")).toBeDefined();
      }));

    it("removes acked messages and returns exactly the ids that were pending, once each", () =>
      withStore((store) => {
        for (const id of ["m1", "m2", "m3"]) {
          store.insertMessage(message({ id }));
          store.addPending(APP, "bob", id, 1000, 50);
        }
        expect(store.removePending(APP, "bob", ["m2", "unknown", "m2", "m1", "m1"])).toEqual([
          "m2",
          "m1",
        ]);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m3"]);
        expect(store.removePending(APP, "bob", ["m1", "m2"])).toEqual([]);
        expect(store.removePending(APP, "nobody", ["m3"])).toEqual([]);
        expect(store.removePending(APP, "bob", [])).toEqual([]);
      }));
  });

  describe(`${name}: bounded storage`, () => {
    /** Stores message `id` at `t` and makes it pending for each of `peers` of `app`. */
    function pend(store: Store, id: string, t: number, peers: string[], app = APP): void {
      store.insertMessage(message({ id, appId: app, timestamp: t, toPeerIds: peers }));
      for (const p of peers) store.addPending(app, p, id, t, 50);
    }

    /** Every pending id of `peer`, whatever its age. */
    const pendingIds = (store: Store, peer: string, app = APP) =>
      ids(store.pendingFor(app, peer, Number.NEGATIVE_INFINITY));

    it("[OFFLINE-SWEEP-1] removes the pending entries older than notBefore of every app and peer, and no others", () =>
      withStore((store) => {
        pend(store, "m1", 1, ["bob", "carol"]);
        pend(store, "m2", 2, ["bob"]);
        pend(store, "m3", 3, ["bob", "carol"]);
        pend(store, "x1", 1, ["zed"], OTHER_APP);
        // notBefore is exclusive, as for pendingFor: an entry exactly that old stays.
        expect(store.sweepExpired(3, 100)).toBe(4);
        expect(pendingIds(store, "bob")).toEqual(["m3"]);
        expect(pendingIds(store, "carol")).toEqual(["m3"]);
        expect(pendingIds(store, "zed", OTHER_APP)).toEqual([]);
        expect(store.sweepExpired(3, 100)).toBe(0);
      }));

    it("[OFFLINE-SWEEP-1] removes at most maxRows per call, oldest first by (timestamp, app, peer, id)", () =>
      withStore((store) => {
        pend(store, "b", 2, ["bob"]);
        pend(store, "a", 2, ["bob", "amy"]);
        pend(store, "old", 1, ["carol"]);
        pend(store, "x", 2, ["bob"], OTHER_APP);
        // Oldest first: old@carol; then at 2, app1 before app2, amy before bob, a before b.
        expect(store.sweepExpired(10, 2)).toBe(2);
        expect(pendingIds(store, "carol")).toEqual([]);
        expect(pendingIds(store, "amy")).toEqual([]);
        expect(pendingIds(store, "bob")).toEqual(["a", "b"]);
        expect(store.sweepExpired(10, 1)).toBe(1);
        expect(pendingIds(store, "bob")).toEqual(["b"]);
        expect(store.sweepExpired(10, 0)).toBe(0);
        expect(store.sweepExpired(10, -5)).toBe(0);
        expect(store.sweepExpired(10, 1.9)).toBe(1);
        expect(pendingIds(store, "bob")).toEqual([]);
        expect(pendingIds(store, "bob", OTHER_APP)).toEqual(["x"]);
        expect(store.sweepExpired(10, 5)).toBe(1);
        expect(store.sweepExpired(10, 5)).toBe(0);
      }));

    it("[OFFLINE-SWEEP-1] [OFFLINE-HISTORY-1] keeps swept messages in history", () =>
      withStore((store) => {
        pend(store, "m1", 1, ["bob"]);
        expect(store.sweepExpired(2, 10)).toBe(1);
        expect(store.getMessage(APP, "m1")?.id).toBe("m1");
        expect(ids(store.history({ appId: APP, limit: 10 }))).toEqual(["m1"]);
        expect(store.isParticipant(APP, "c1", "bob")).toBe(true);
      }));

    it("[OFFLINE-SWEEP-1] counts only entries still pending: acked, evicted and expired ones are gone already", () =>
      withStore((store) => {
        pend(store, "acked", 1, ["bob"]);
        pend(store, "expired", 1, ["carol"]);
        store.insertMessage(message({ id: "evicted", timestamp: 1 }));
        store.addPending(APP, "dan", "evicted", 1, 1);
        pend(store, "kept", 1, ["eve"]);
        store.insertMessage(message({ id: "newer", timestamp: 5 }));
        store.addPending(APP, "dan", "newer", 5, 1); // evicts "evicted"
        store.removePending(APP, "bob", ["acked"]);
        expect(store.pendingFor(APP, "carol", 2)).toEqual([]);
        // Made pending again after an ack: one entry, swept once.
        store.addPending(APP, "bob", "acked", 1, 50);
        expect(store.sweepExpired(2, 1)).toBe(1);
        expect(store.sweepExpired(2, 1)).toBe(1);
        expect(store.sweepExpired(2, 10)).toBe(0);
        expect(pendingIds(store, "bob")).toEqual([]);
        expect(pendingIds(store, "eve")).toEqual([]);
        expect(pendingIds(store, "dan")).toEqual(["newer"]);
      }));

    it("[LIMIT-STORE-2] counts an app's pending entries through adds, duplicates, evictions, expiry, acks and sweeps", () =>
      withStore((store) => {
        expect(store.pendingCount(APP)).toBe(0);
        pend(store, "m1", 1, ["bob", "carol", "dan"]);
        expect(store.pendingCount(APP)).toBe(3);
        store.addPending(APP, "bob", "m1", 1, 50); // already pending
        expect(store.pendingCount(APP)).toBe(3);
        store.insertMessage(message({ id: "m2", timestamp: 2 }));
        store.addPending(APP, "bob", "m2", 2, 1); // evicts m1 for bob: no change
        expect(store.pendingCount(APP)).toBe(3);
        store.insertMessage(message({ id: "m3", timestamp: 3 }));
        store.addPending(APP, "bob", "m3", 3, 0); // a limit of 0 keeps nothing
        expect(store.pendingCount(APP)).toBe(2);
        expect(store.removePending(APP, "carol", ["m1", "m1", "ghost"])).toEqual(["m1"]);
        expect(store.pendingCount(APP)).toBe(1);
        pend(store, "m4", 4, ["eve", "fay"]);
        store.pendingFor(APP, "dan", 2); // expires m1 for dan
        expect(store.pendingCount(APP)).toBe(2);
        expect(store.sweepExpired(5, 1)).toBe(1);
        expect(store.pendingCount(APP)).toBe(1);
        pend(store, "x1", 1, ["zed"], OTHER_APP);
        expect(store.pendingCount(OTHER_APP)).toBe(1);
        expect(store.pendingCount(APP)).toBe(1);
        expect(store.pendingCount("nobody")).toBe(0);
        store.commit();
        expect(store.pendingCount(APP)).toBe(1);
      }));

    it("[LIMIT-STORE-2] [ERROR-NOEFFECT-1] rolls the count back with the writes of a block that throws", () =>
      withStore((store) => {
        pend(store, "m1", 1, ["bob", "carol"]);
        expect(() =>
          store.atomically(() => {
            pend(store, "m2", 2, ["dan", "eve"]);
            store.removePending(APP, "bob", ["m1"]);
            store.sweepExpired(2, 10);
            expect(store.pendingCount(APP)).toBe(2);
            throw new Error("half-way");
          }),
        ).toThrow("half-way");
        expect(store.pendingCount(APP)).toBe(2);
        expect(pendingIds(store, "bob")).toEqual(["m1"]);
        // The rolled-back sweep removed nothing: a later one still finds both entries.
        expect(store.sweepExpired(2, 10)).toBe(2);
        expect(store.pendingCount(APP)).toBe(0);
      }));
  });

  describe(`${name}: groups`, () => {
    it("creates an empty group that then exists", () =>
      withStore((store) => {
        expect(store.roomExists(APP, "r1")).toBe(false);
        store.createRoom(APP, "r1", 1000);
        expect(store.roomExists(APP, "r1")).toBe(true);
        expect(store.members(APP, "r1")).toEqual([]);
        expect(store.members(APP, "unknown")).toEqual([]);
      }));

    it("refuses to create a group that exists", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice"]);
        expect(() => store.createRoom(APP, "r1", 2000)).toThrow();
        expect(store.members(APP, "r1")).toEqual(["alice"]);
      }));

    it("lists members in join order, ignoring peers already present", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["carol", "alice"]);
        store.addMembers(APP, "r1", ["bob", "carol", "bob", "dave"]);
        expect(store.members(APP, "r1")).toEqual(["carol", "alice", "bob", "dave"]);
      }));

    it("puts a peer that leaves and joins again at the end", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice", "bob", "carol"]);
        store.removeMembers(APP, "r1", ["alice", "nobody"]);
        expect(store.members(APP, "r1")).toEqual(["bob", "carol"]);
        store.addMembers(APP, "r1", ["alice"]);
        expect(store.members(APP, "r1")).toEqual(["bob", "carol", "alice"]);
        // Removing the last joiner and adding someone new still appends.
        store.removeMembers(APP, "r1", ["alice"]);
        store.addMembers(APP, "r1", ["dave"]);
        expect(store.members(APP, "r1")).toEqual(["bob", "carol", "dave"]);
      }));

    it("reads the members as they are after each change, and hands out a list the caller may change", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice", "bob", "carol"]);
        // Read twice: a store may hold what it read the first time.
        expect(store.members(APP, "r1")).toEqual(["alice", "bob", "carol"]);
        const read = store.members(APP, "r1");
        expect(read).toEqual(["alice", "bob", "carol"]);
        read.push("mallory");
        read.reverse();
        expect(store.members(APP, "r1")).toEqual(["alice", "bob", "carol"]);
        store.removeMembers(APP, "r1", ["bob"]);
        expect(store.members(APP, "r1")).toEqual(["alice", "carol"]);
        store.addMembers(APP, "r1", ["bob"]);
        expect(store.members(APP, "r1")).toEqual(["alice", "carol", "bob"]);
      }));

    it("[ERROR-NOEFFECT-1] takes back the membership changes of a block that fails", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice", "bob"]);
        expect(store.members(APP, "r1")).toEqual(["alice", "bob"]);
        expect(() =>
          store.atomically(() => {
            store.addMembers(APP, "r1", ["carol"]);
            expect(store.members(APP, "r1")).toEqual(["alice", "bob", "carol"]);
            store.removeMembers(APP, "r1", ["alice"]);
            expect(store.members(APP, "r1")).toEqual(["bob", "carol"]);
            throw new Error("half-way");
          }),
        ).toThrow("half-way");
        expect(store.members(APP, "r1")).toEqual(["alice", "bob"]);
      }));

    it("[ERROR-NOEFFECT-1] takes back the membership changes of a failing block that read the members first inside it", () =>
      withStore((store) => {
        // Nothing read the members before the block: a store that keeps a copy of them
        // makes its first one inside, from the block's own writes, and must not keep it.
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice"]);
        store.commit();
        expect(() =>
          store.atomically(() => {
            store.addMembers(APP, "r1", ["bob"]);
            expect(store.members(APP, "r1")).toEqual(["alice", "bob"]);
            throw new Error("half-way");
          }),
        ).toThrow("half-way");
        expect(store.members(APP, "r1")).toEqual(["alice"]);
        store.commit();
        // The same for a removal, on a group nobody read yet.
        store.createRoom(APP, "r2", 1000);
        store.addMembers(APP, "r2", ["alice", "bob"]);
        store.commit();
        expect(() =>
          store.atomically(() => {
            store.removeMembers(APP, "r2", ["alice"]);
            expect(store.members(APP, "r2")).toEqual(["bob"]);
            throw new Error("half-way");
          }),
        ).toThrow("half-way");
        expect(store.members(APP, "r2")).toEqual(["alice", "bob"]);
      }));

    it("keeps a group whose members all left", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice"]);
        store.removeMembers(APP, "r1", ["alice"]);
        expect(store.roomExists(APP, "r1")).toBe(true);
        expect(store.members(APP, "r1")).toEqual([]);
      }));

    it("keeps each group's members separate", () =>
      withStore((store) => {
        store.createRoom(APP, "r1", 1000);
        store.createRoom(APP, "r2", 1000);
        store.addMembers(APP, "r1", ["alice", "bob"]);
        store.addMembers(APP, "r2", ["bob", "carol"]);
        store.removeMembers(APP, "r2", ["bob"]);
        expect(store.members(APP, "r1")).toEqual(["alice", "bob"]);
        expect(store.members(APP, "r2")).toEqual(["carol"]);
      }));

    it("refuses to add members to a group that does not exist", () =>
      withStore((store) => {
        expect(() => store.addMembers(APP, "ghost", ["alice"])).toThrow();
        expect(store.roomExists(APP, "ghost")).toBe(false);
        store.removeMembers(APP, "ghost", ["alice"]);
      }));
  });

  describe(`${name}: a peer's groups`, () => {
    /** Creates `roomId` with `members`. */
    function room(store: Store, roomId: string, members: readonly string[], app = APP): void {
      store.createRoom(app, roomId, 1000);
      store.addMembers(app, roomId, members);
    }

    it("[ROOM-LIST-1] lists the groups a peer is a member of, ascending by bytes, at most limit", () =>
      withStore((store) => {
        for (const id of ["b", "a", "_", "Z", "-", "0", "é", "😀", "ｚ"])
          room(store, id, ["alice"]);
        room(store, "c", ["bob"]);
        // UTF-8 byte order: '-' < '0' < 'Z' < '_' < 'a' < 'b' < 'é' < 'ｚ' (U+FF5A) < '😀' (U+1F600),
        // where JavaScript's UTF-16 order would put the emoji before U+FF5A.
        expect(store.roomsOf(APP, "alice", undefined, 100)).toEqual([
          "-",
          "0",
          "Z",
          "_",
          "a",
          "b",
          "é",
          "ｚ",
          "😀",
        ]);
        expect(store.roomsOf(APP, "alice", undefined, 3)).toEqual(["-", "0", "Z"]);
        expect(store.roomsOf(APP, "alice", undefined, 0)).toEqual([]);
        expect(store.roomsOf(APP, "bob", undefined, 10)).toEqual(["c"]);
        expect(store.roomsOf(APP, "nobody", undefined, 10)).toEqual([]);
      }));

    it("[ROOM-LIST-1] lists only the ids strictly greater than after, which need not be a group", () =>
      withStore((store) => {
        for (const id of ["a1", "a2", "b1"]) room(store, id, ["alice"]);
        expect(store.roomsOf(APP, "alice", "a1", 10)).toEqual(["a2", "b1"]);
        expect(store.roomsOf(APP, "alice", "a", 10)).toEqual(["a1", "a2", "b1"]);
        expect(store.roomsOf(APP, "alice", "a2", 1)).toEqual(["b1"]);
        expect(store.roomsOf(APP, "alice", "b1", 10)).toEqual([]);
        expect(store.roomsOf(APP, "alice", "zzz", 10)).toEqual([]);
      }));

    it("[ROOM-LIST-1] follows joins and leaves, and leaves out a group the peer left", () =>
      withStore((store) => {
        room(store, "r1", ["alice", "bob"]);
        room(store, "r2", ["bob"]);
        store.addMembers(APP, "r2", ["alice"]);
        store.removeMembers(APP, "r1", ["alice"]);
        expect(store.roomsOf(APP, "alice", undefined, 10)).toEqual(["r2"]);
        expect(store.roomsOf(APP, "bob", undefined, 10)).toEqual(["r1", "r2"]);
        // Left and joined again: listed once, by id, not by join order.
        store.addMembers(APP, "r1", ["alice"]);
        expect(store.roomsOf(APP, "alice", undefined, 10)).toEqual(["r1", "r2"]);
      }));

    it("[ROOM-LIST-1] keeps apps apart", () =>
      withStore((store) => {
        room(store, "r1", ["alice"]);
        room(store, "r2", ["alice"], OTHER_APP);
        expect(store.roomsOf(APP, "alice", undefined, 10)).toEqual(["r1"]);
        expect(store.roomsOf(OTHER_APP, "alice", undefined, 10)).toEqual(["r2"]);
      }));

    it("[ROOM-LIST-1] [ERROR-NOEFFECT-1] forgets the memberships of a block that throws", () =>
      withStore((store) => {
        room(store, "r1", ["alice"]);
        expect(() =>
          store.atomically(() => {
            room(store, "r0", ["alice"]);
            store.removeMembers(APP, "r1", ["alice"]);
            throw new Error("half-way");
          }),
        ).toThrow("half-way");
        expect(store.roomsOf(APP, "alice", undefined, 10)).toEqual(["r1"]);
      }));

    it("[ROOM-LIST-1] pages through any set of groups with after, without skipping or repeating", () => {
      fc.assert(
        fc.property(
          fc.uniqueArray(fc.stringMatching(/^[A-Za-z0-9_-]{1,3}$/), { maxLength: 25 }),
          fc.integer({ min: 1, max: 6 }),
          (ids, limit) =>
            withStore((store) => {
              for (const id of ids) room(store, id, ["alice"]);
              const seen: string[] = [];
              let after: string | undefined;
              for (;;) {
                const page = store.roomsOf(APP, "alice", after, limit);
                seen.push(...page);
                // A cursor that does not advance must fail the test, not hang the run.
                if (seen.length > ids.length) throw new Error("the cursor does not advance");
                if (page.length < limit) break;
                after = page.at(-1);
              }
              expect(seen).toEqual([...ids].sort());
            }),
        ),
        { numRuns: 40 },
      );
    });
  });

  describe(`${name}: nonces`, () => {
    it("accepts a nonce once and rejects its replay until it expires", () =>
      withStore((store) => {
        expect(store.useNonce(APP, "n1", 2000, 1000)).toBe(true);
        expect(store.useNonce(APP, "n1", 2500, 1500)).toBe(false);
        expect(store.useNonce(APP, "n1", 2999, 1999)).toBe(false);
        // Expired at expiresAt itself: the nonce may be used again, and is then recorded anew.
        expect(store.useNonce(APP, "n1", 3000, 2000)).toBe(true);
        expect(store.useNonce(APP, "n1", 3500, 2500)).toBe(false);
        expect(store.useNonce(APP, "n2", 3500, 2500)).toBe(true);
      }));

    it("records nonces per app", () =>
      withStore((store) => {
        expect(store.useNonce(APP, "n1", 2000, 1000)).toBe(true);
        expect(store.useNonce(OTHER_APP, "n1", 2000, 1000)).toBe(true);
        expect(store.useNonce(OTHER_APP, "n1", 2000, 1000)).toBe(false);
        expect(store.useNonce(APP, "n1", 2000, 1000)).toBe(false);
      }));

    it("still rejects unexpired replays after purging many expired nonces", () =>
      withStore((store) => {
        for (let i = 0; i < 100; i++) expect(store.useNonce(APP, `old${i}`, 100 + i, 0)).toBe(true);
        for (let i = 0; i < 20; i++) expect(store.useNonce(APP, `new${i}`, 10_000, 500)).toBe(true);
        // Every old nonce has expired by now (purged or not), every new one has not.
        for (let i = 0; i < 100; i++)
          expect(store.useNonce(APP, `old${i}`, 20_000, 1000)).toBe(true);
        for (let i = 0; i < 20; i++)
          expect(store.useNonce(APP, `new${i}`, 20_000, 1000)).toBe(false);
      }));
  });

  describe(`${name}: apps`, () => {
    it("shows nothing of one app in another", () =>
      withStore((store) => {
        store.insertMessage(message({ id: "m1", cid: "c1", toPeerIds: ["bob"] }));
        store.addPending(APP, "bob", "m1", 1000, 50);
        store.createRoom(APP, "r1", 1000);
        store.addMembers(APP, "r1", ["alice"]);
        store.insertMessage(groupMessage({ id: "g1", roomId: "r1" }));

        expect(store.getMessage(OTHER_APP, "m1")).toBeUndefined();
        expect(store.history({ appId: OTHER_APP, limit: 10 })).toEqual([]);
        expect(store.history({ appId: OTHER_APP, cid: "c1", limit: 10 })).toEqual([]);
        expect(store.history({ appId: OTHER_APP, fromPeerId: "alice", limit: 10 })).toEqual([]);
        expect(store.isParticipant(OTHER_APP, "c1", "alice")).toBe(false);
        expect(store.pendingFor(OTHER_APP, "bob", 0)).toEqual([]);
        expect(store.removePending(OTHER_APP, "bob", ["m1"])).toEqual([]);
        expect(store.roomExists(OTHER_APP, "r1")).toBe(false);
        expect(store.members(OTHER_APP, "r1")).toEqual([]);
        expect(() => store.addPending(OTHER_APP, "bob", "m1", 1000, 50)).toThrow();

        // The same ids are free in the other app, and stay apart.
        store.insertMessage(message({ id: "m1", appId: OTHER_APP, msg: "other" }));
        store.createRoom(OTHER_APP, "r1", 2000);
        store.addMembers(OTHER_APP, "r1", ["zed"]);
        expect(store.getMessage(APP, "m1")?.msg).toBe("text of m1");
        expect(ids(store.history({ appId: OTHER_APP, limit: 10 }))).toEqual(["m1"]);
        expect(store.members(APP, "r1")).toEqual(["alice"]);
        expect(ids(store.pendingFor(APP, "bob", 0))).toEqual(["m1"]);
      }));
  });

  describe(`${name}: commit`, () => {
    it("keeps every write readable across commits", () =>
      withStore((store) => {
        store.commit();
        store.insertMessage(message({ id: "m1" }));
        store.commit();
        store.commit();
        store.insertMessage(message({ id: "m2", timestamp: 1001 }));
        expect(ids(store.history({ appId: APP, limit: 10 }))).toEqual(["m2", "m1"]);
        store.commit();
        expect(ids(store.history({ appId: APP, limit: 10 }))).toEqual(["m2", "m1"]);
      }));
  });

  describe(`${name}: history read row by row (LOGS-BYTES-1)`, () => {
    /** Stores m000 … m(n-1), one per millisecond; returns their ids newest first. */
    function fill(store: Store, n: number): string[] {
      const all: string[] = [];
      for (let k = 0; k < n; k++) {
        const id = `m${String(k).padStart(3, "0")}`;
        store.insertMessage(message({ id, timestamp: 1000 + k }));
        all.unshift(id);
      }
      return all;
    }

    it("[LOGS-BYTES-1] offers each message of the page to take, newest first, and stops reading at the first it refuses", () =>
      withStore((store) => {
        const all = fill(store, 50);
        const offered: string[] = [];
        const page = store.history({ appId: APP, cid: "c1", limit: 40 }, (m) => {
          offered.push(m.id);
          return offered.length <= 7;
        });
        // The refused message is not in the page, and nothing after it was read.
        expect(ids(page)).toEqual(all.slice(0, 7));
        expect(offered).toEqual(all.slice(0, 8));
        // The page equals the plain query's prefix, field for field.
        expect(page).toEqual(store.history({ appId: APP, cid: "c1", limit: 7 }));
      }));

    it("[LOGS-BYTES-1] reads at most limit messages, and the whole page when take accepts all, whatever the filter and cursor", () =>
      withStore((store) => {
        const all = fill(store, 30);
        for (const q of [
          { appId: APP, limit: 10 },
          { appId: APP, cid: "c1", limit: 10, maxTs: 1020 },
          { appId: APP, fromPeerId: "alice", limit: 10, maxTs: 1020, msgId: "m020" },
          { appId: APP, cid: "c1", fromPeerId: "alice", limit: 100 },
        ]) {
          let offered = 0;
          const page = store.history(q, () => ++offered > 0);
          expect(ids(page), JSON.stringify(q)).toEqual(ids(store.history(q)));
          expect(offered, JSON.stringify(q)).toBe(page.length);
        }
        expect(ids(store.history({ appId: APP, limit: 100 }, () => true))).toEqual(all);
      }));

    it("[LOGS-BYTES-1] leaves the store usable after take refuses or throws mid-page", () =>
      withStore((store) => {
        const all = fill(store, 20);
        expect(store.history({ appId: APP, limit: 20 }, () => false)).toEqual([]);
        expect(() =>
          store.history({ appId: APP, limit: 20 }, (m) => {
            if (m.id === all[3]) throw new Error("stop");
            return true;
          }),
        ).toThrow("stop");
        // The statement was reset: the store reads and writes as before.
        store.insertMessage(message({ id: "m999", timestamp: 5000 }));
        expect(ids(store.history({ appId: APP, limit: 2 }))).toEqual(["m999", all[0]]);
        store.commit();
      }));
  });
}

storeContract("MemoryStore", () => new MemoryStore());
storeContract("SqliteStore", () => SqliteStore.open(":memory:"));
