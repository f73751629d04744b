/**
 * The two-level map of the SQLite store's mirrors (src/store/pair-map.ts): keyed by an app
 * and an id, it must behave as one map keyed by the pair, whatever the ids hold.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PairMap } from "../../src/store/pair-map.js";

describe("PairMap", () => {
  it("keeps apps apart: the same id in two apps is two entries", () => {
    const m = new PairMap<number>();
    m.set("a", "x", 1);
    m.set("b", "x", 2);
    expect(m.get("a", "x")).toBe(1);
    expect(m.get("b", "x")).toBe(2);
    expect(m.size).toBe(2);
    // A pair that a key built by concatenation could confuse ("a"+"bx" and "ab"+"x").
    m.set("ab", "x", 3);
    m.set("a", "bx", 4);
    expect(m.get("ab", "x")).toBe(3);
    expect(m.get("a", "bx")).toBe(4);
  });

  it("drops an app's map when its last entry is deleted, and prune drops one an undo emptied", () => {
    const m = new PairMap<number>();
    m.set("a", "x", 1);
    expect(m.delete("a", "x")).toBe(true);
    expect(m.delete("a", "x")).toBe(false);
    expect(m.innerIfAny("a")).toBeUndefined();
    // The store's undo log deletes from the inner map itself.
    m.inner("b").set("y", 2);
    m.inner("b").delete("y");
    expect(m.innerIfAny("b")).toBeDefined();
    expect(m.empty).toBe(true);
    m.prune();
    expect(m.innerIfAny("b")).toBeUndefined();
  });

  it("hands out each app's map, apps in the order they first got a value, entries in theirs", () => {
    const m = new PairMap<number>();
    m.set("b", "y", 1);
    m.set("a", "x", 2);
    m.set("b", "w", 3);
    expect([...m.inners()].map((inner) => [...inner.entries()])).toEqual([
      [
        ["y", 1],
        ["w", 3],
      ],
      [["x", 2]],
    ]);
    // The maps themselves, so that a walk may stop early and change them.
    m.inner("a").delete("x");
    expect([...m.inners()].map((inner) => inner.size)).toEqual([2, 0]);
  });

  it("agrees with a Map keyed by the pair over random operations", () => {
    const id = fc.constantFrom("", "a", "b", "ab", "\u0000", "__proto__", "1:a");
    const op = fc.oneof(
      fc.record({ k: fc.constant("set" as const), app: id, id, v: fc.integer() }),
      fc.record({ k: fc.constant("delete" as const), app: id, id }),
      fc.record({ k: fc.constant("undo-delete" as const), app: id, id }),
      fc.record({ k: fc.constant("clear" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const m = new PairMap<number>();
        const model = new Map<string, [string, string, number]>();
        const key = (a: string, i: string) => JSON.stringify([a, i]);
        for (const o of ops) {
          if (o.k === "set") {
            m.set(o.app, o.id, o.v);
            model.set(key(o.app, o.id), [o.app, o.id, o.v]);
          } else if (o.k === "delete") {
            expect(m.delete(o.app, o.id)).toBe(model.delete(key(o.app, o.id)));
          } else if (o.k === "undo-delete") {
            m.innerIfAny(o.app)?.delete(o.id);
            model.delete(key(o.app, o.id));
          } else {
            m.clear();
            model.clear();
          }
          expect(m.size).toBe(model.size);
          expect(m.empty).toBe(model.size === 0);
        }
        for (const [a, i, v] of model.values()) {
          expect(m.get(a, i)).toBe(v);
          expect(m.has(a, i)).toBe(true);
        }
        const entries = [...m.entries()].map(([a, i, v]) => `${key(a, i)}=${v}`).sort();
        const expected = [...model.values()].map(([a, i, v]) => `${key(a, i)}=${v}`).sort();
        expect(entries).toEqual(expected);
        expect([...m.values()].sort()).toEqual([...model.values()].map((e) => e[2]).sort());
      }),
    );
  });
});
