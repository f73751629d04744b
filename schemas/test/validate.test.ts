// Unit and property tests of the validators: lookup by cmd/op, error paths, byte limits.
import {
  classify,
  findEntry,
  formatErrors,
  MAX_MSG_BYTES,
  REGISTRY,
  validate,
  wellFormedErrors,
} from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const base = { peerId: "alice", appId: "app1" };
const direct = (msg: string) => ({ cmd: "direct", ...base, msg, toPeerIds: ["bob"] });

describe("validate", () => {
  it("finds the message by direction, cmd and op", () => {
    expect(validate("c2s", { cmd: "ack", ...base, ids: ["m1"] })).toMatchObject({
      ok: true,
      name: "ack",
    });
    expect(validate("s2c", { cmd: "ack", peerId: "a", t: 1, uid: "m1" })).toMatchObject({
      ok: true,
      name: "ack",
    });
    // An s2c-only message is not a c2s command.
    expect(validate("c2s", { cmd: "rcp", ...base, id: "m1", t: 1 })).toMatchObject({ ok: false });
  });

  it("treats any object without cmd as the keepalive", () => {
    expect(validate("c2s", {})).toMatchObject({ ok: true, name: "keepalive" });
    expect(validate("s2c", { extra: 1 })).toMatchObject({ ok: true, name: "keepalive" });
  });

  it("rejects non-objects at the root path", () => {
    for (const frame of [null, 1, "x", [], true]) {
      const r = validate("c2s", frame);
      expect(r).toMatchObject({ ok: false, errors: [{ path: "", rule: "type" }] });
    }
  });

  it("names the cmd field when cmd is not a string or unknown", () => {
    expect(validate("c2s", { cmd: 1 })).toMatchObject({ errors: [{ path: "/cmd", rule: "type" }] });
    const r = validate("c2s", { cmd: "nope" });
    expect(r).toMatchObject({ errors: [{ path: "/cmd", rule: "enum" }] });
    expect(formatErrors(r)).toContain("known: session, direct, ack, room, logs");
  });

  it("counts msg in bytes of UTF-8, not characters", () => {
    expect(validate("c2s", direct("a".repeat(MAX_MSG_BYTES))).ok).toBe(true);
    expect(validate("c2s", direct("é".repeat(MAX_MSG_BYTES / 2))).ok).toBe(true);
    expect(validate("c2s", direct("😀".repeat(MAX_MSG_BYTES / 4))).ok).toBe(true);
    const over = validate("c2s", direct("😀".repeat(MAX_MSG_BYTES / 4 + 1)));
    expect(over).toMatchObject({ ok: false, errors: [{ path: "/msg", rule: "maxUtf8Bytes" }] });
    expect(validate("c2s", direct("")).ok).toBe(true);
  });

  it("agrees with Buffer.byteLength on the msg limit for any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 3000 }), (msg) => {
        const fits = Buffer.byteLength(msg, "utf8") <= MAX_MSG_BYTES;
        expect(validate("c2s", direct(msg)).ok).toBe(fits);
      }),
      { numRuns: 300 },
    );
  });

  it("counts peer-id length in code points, so 64 astral characters fit", () => {
    expect(validate("c2s", { ...direct("x"), peerId: "😀".repeat(64) }).ok).toBe(true);
    expect(validate("c2s", { ...direct("x"), peerId: "😀".repeat(65) })).toMatchObject({
      errors: [{ path: "/peerId", rule: "maxLength" }],
    });
  });

  it("rejects control characters and ':' in ids", () => {
    for (const peerId of ["a\u0000", "a\nb", "a\u007f", "a:b"]) {
      expect(validate("c2s", { ...direct("x"), peerId })).toMatchObject({
        errors: [{ path: "/peerId", rule: "pattern" }],
      });
    }
  });

  it("never throws and always returns errors with a path and rule, whatever the input", () => {
    const frames = fc.oneof(
      fc.jsonValue(),
      fc.record({
        cmd: fc.constantFrom("session", "direct", "ack", "room", "logs", "error", "presence"),
        op: fc.option(fc.constantFrom(...REGISTRY.flatMap((e) => (e.op ? [e.op] : [])))),
        peerId: fc.oneof(fc.string(), fc.integer()),
        appId: fc.string(),
        msg: fc.jsonValue(),
        toPeerIds: fc.jsonValue(),
        roomId: fc.jsonValue(),
        ids: fc.jsonValue(),
      }),
    );
    fc.assert(
      fc.property(frames, fc.constantFrom("c2s" as const, "s2c" as const), (frame, d) => {
        const r = validate(d, frame);
        if (!r.ok) {
          expect(r.errors.length).toBeGreaterThan(0);
          for (const e of r.errors) {
            expect(typeof e.path).toBe("string");
            expect(e.rule.length).toBeGreaterThan(0);
            expect(e.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("classifies without validating the fields", () => {
    const r = classify("c2s", { cmd: "room", op: "join", peerId: 5 });
    expect("entry" in r && r.entry.name).toBe("room/join");
  });
});

describe("wellFormedErrors [LIMIT-TEXT-1]", () => {
  const schema = findEntry("c2s", "direct")?.schema;
  const frame = { cmd: "direct", appId: "x", peerId: "a", msg: "hi", toPeerIds: ["b", "c"] };

  it("finds no failure in a well-formed frame, and ignores fields the schema does not define", () => {
    expect(wellFormedErrors(schema, frame)).toEqual([]);
    expect(wellFormedErrors(schema, { ...frame, unknown: "\ud800" })).toEqual([]);
  });

  it("names every unpaired surrogate, in a field or an array item, with its path", () => {
    const bad = { ...frame, msg: "x\udc00", toPeerIds: ["b", "c", "\ud800"] };
    expect(wellFormedErrors(schema, bad).map((e) => [e.path, e.rule])).toEqual([
      ["/msg", "wellFormed"],
      ["/toPeerIds/2", "wellFormed"],
    ]);
    // An array item alone.
    const item = { ...frame, toPeerIds: ["b", "\ud800"] };
    expect(wellFormedErrors(schema, item).map((e) => e.path)).toEqual(["/toPeerIds/1"]);
  });

  it("agrees with String.isWellFormed on arbitrary strings in any field or item", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.nat(3), (s, at) => {
        const ids = ["b", "c", "d", "e"];
        ids[at] = s;
        expect(wellFormedErrors(schema, { ...frame, toPeerIds: ids }).length).toBe(
          s.isWellFormed() ? 0 : 1,
        );
        expect(wellFormedErrors(schema, { ...frame, msg: s }).length).toBe(
          s.isWellFormed() ? 0 : 1,
        );
      }),
    );
  });
});
