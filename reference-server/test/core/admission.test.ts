/**
 * Admission (ERROR-ORDER-1): what the engine does with a frame before any handler runs.
 * Hostile shapes must reach the error path, never code outside it. The pure functions of
 * admission.ts are tested alone; each step of 8.4 is tested on the engine too, against the
 * step that follows it.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ERRORS, fileName, REGISTRY, validate } from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkShape, parseFrame, withoutSignature } from "../../src/core/admission.js";
import {
  connectWith,
  expectAlive,
  expectClosed,
  expectError,
  type FakeConn,
  type Frame,
  groupSig,
  Harness,
  plainHarness,
  sendBinary,
  sessionSig,
  signedHarness,
  signedOpen,
} from "./support-core.js";

const env = { peerId: "alice", appId: "app1" };
const ids = (n: number, prefix = "p") => Array.from({ length: n }, (_, k) => `${prefix}${k}`);

/** Steps (4) to (6) on a frame, as the engine runs them: the code, or undefined. */
function shape(frame: Frame): number | undefined {
  const name = `${String(frame.cmd)}${frame.op === undefined ? "" : `/${String(frame.op)}`}`;
  return checkShape(name, frame, validate("c2s", frame))?.spec.code;
}

/** The code a connection was answered with: the first error frame's, else the close's. */
function answer(c: FakeConn): number | undefined {
  const err = c.drain().find((f) => f.cmd === "error");
  return err === undefined ? c.closed?.code : (err.code as number);
}

describe("hostile frames", () => {
  it("[FRAME-SCHEMA-1, ERROR-SURVIVE-1] answers a cmd that cannot become a string with 4114 and keeps the connection", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    c.drain();
    for (const cmd of [{ toString: 1 }, { toString: null, valueOf: null }, [1], 5, null]) {
      c.send({ cmd, peerId: "alice", appId: "app1", i: 3 });
      expectError(c, 4114, { i: 3, peerId: "alice" });
    }
    c.send({ cmd: "session", op: { toString: 1 }, peerId: "alice", appId: "app1", i: 4 });
    expectError(c, 4114, { i: 4 });
    expectAlive(c);
  });
});

describe("the steps of ERROR-ORDER-1 (8.4)", () => {
  it("[ERROR-ORDER-1] answers a command that fails several steps with one frame, the first step's code", () => {
    const h = signedHarness();
    const c = h.connect();
    signedOpen(c, "alice");
    // Fails (5) i, (6) msg size and count, (7) session: (5) alone answers.
    c.send({
      cmd: "direct",
      appId: "app1",
      peerId: "zed",
      i: 1.5,
      msg: "x".repeat(5121),
      toPeerIds: ids(501),
    });
    expect(c.drain()).toMatchObject([{ cmd: "error", code: 4114 }]);
    expectAlive(c);
  });

  it("[ERROR-ORDER-2] counts every text message against the rate limit before reading it, so a broken frame over the limit closes with 4116", () => {
    const h = new Harness({ rateLimit: { perSecond: 1, burst: 2 } });
    const c = h.connect();
    c.send({});
    c.send({});
    c.send("{not json");
    expectClosed(c, 4116);
    const d = new Harness({ rateLimit: { perSecond: 1, burst: 2 } }).connect();
    d.send({});
    d.send({});
    d.send({}); // a keepalive over the limit is not answered with {}
    expect(d.drain().map((f) => f.code)).toEqual([undefined, undefined, 4116]);
    expectClosed(d, 4116);
  });

  it("[ERROR-ORDER-3] checks binary, frame size, JSON, object in that order, each closing the connection", () => {
    // The pure step (1): size before syntax, syntax before type.
    expect(parseFrame(`{${"x".repeat(70_000)}`, 70_001, 65_536)).toMatchObject({
      ok: false,
      problem: { spec: ERRORS.FRAME_TOO_LONG },
    });
    for (const text of ["{", "[]", "null", "5", '"x"']) {
      expect(parseFrame(text, text.length, 65_536), text).toMatchObject({
        ok: false,
        problem: { spec: ERRORS.UNPARSEABLE_RAW_MESSAGE },
      });
    }
    expect(parseFrame('{"cmd":1}', 9, 65_536)).toEqual({ ok: true, frame: { cmd: 1 } });
    // On the engine: a binary message closes with 4114 whatever its size.
    const h = new Harness();
    const bin = h.connect();
    sendBinary(bin, 70_000);
    expectClosed(bin, 4114);
    const big = h.connect();
    big.send(`[${"1,".repeat(40_000)}1]`);
    expectClosed(big, 4109);
  });

  it("[ERROR-ORDER-4] answers an object without cmd with {} and checks nothing else in it", () => {
    const h = plainHarness();
    const c = h.connect();
    c.send({ appId: "not served", peerId: ":", i: -1, msg: "x".repeat(6000), s: 1 });
    expect(c.drain()).toEqual([{}]);
    expect(c.closed).toBeUndefined();
  });

  it("[ERROR-ORDER-5] checks the app before the command, and the origin when the command binds the connection", () => {
    const h = plainHarness({}, { allowedOrigins: ["https://ok.example"] });
    // An unknown app closes with 4100 before the unknown command or the bad peerId is seen.
    const a = h.connect();
    a.send({ cmd: "nope", appId: "app2", peerId: ":", i: 1 });
    expect(answer(a)).toBe(4100);
    expectClosed(a, 4100);
    // A malformed appId names no app: 4100, not 4114 [LIMIT-APPID-1].
    const b = h.connect();
    b.send({ cmd: "session", op: "open", appId: "my app", peerId: "", i: 1 });
    expectClosed(b, 4100);
    // The app, then the origin: 4110 before the schema (a broken session/open).
    const o = connectWith(h, { origin: "https://evil.example" });
    o.send({ cmd: "session", op: "open", appId: "app1", peerId: "", i: 1 });
    expectClosed(o, 4110);
    const both = connectWith(h, { origin: "https://evil.example" });
    both.send({ cmd: "session", op: "open", appId: "app2", peerId: "alice", i: 1 });
    expectClosed(both, 4100);
  });

  it("[ERROR-ORDER-6] answers 4103 for the peerId of a session/open before every other rule of its schema", () => {
    const open = (extra: Frame) => ({ cmd: "session", op: "open", appId: "app1", ...extra });
    for (const peerId of [undefined, 42, "", "a:b", "x".repeat(65), "a\u0000", "\ud800"]) {
      const base = peerId === undefined ? open({}) : open({ peerId });
      expect(shape(base), JSON.stringify(peerId)).toBe(4103);
      expect(shape({ ...base, i: -1, sp: "yes", sessionPeerIds: [...ids(500), 1] })).toBe(4103);
    }
    expect(shape(open({ peerId: "alice" }))).toBeUndefined();
    // On the engine, with i: the connection stays open (SESSION-OPEN-5).
    const c = plainHarness().connect();
    c.send(open({ peerId: ":", i: 2, sessionPeerIds: ids(501) }));
    expectError(c, 4103, { i: 2 });
    expectAlive(c);
  });

  it("[ERROR-ORDER-7] answers 4114 for the schema, the serial and the strings before the sizes of step (6)", () => {
    const direct = (extra: Frame) => ({
      cmd: "direct",
      ...env,
      msg: "m",
      toPeerIds: ["b"],
      ...extra,
    });
    const over = "x".repeat(5121);
    expect(shape(direct({ msg: over, toPeerIds: ["a:b", ...ids(500)] }))).toBe(4114);
    expect(shape(direct({ msg: over, i: 1.5 }))).toBe(4114);
    expect(shape(direct({ msg: `${over}\ud800` }))).toBe(4114); // LIMIT-TEXT-1
    expect(shape(direct({ toPeerIds: [...ids(500), "\udc00"] }))).toBe(4114);
    expect(shape(direct({ toPeerIds: [], roomId: "g1" }))).toBe(4114);
    // A field the command does not define is not checked [VERSION-UNKNOWN-1].
    expect(shape(direct({ extra: "\ud800", note: { deep: [1, "\udc00"] } }))).toBeUndefined();
    const detail = checkShape("direct", direct({ i: -1 }), validate("c2s", direct({ i: -1 })));
    expect(detail).toMatchObject({ spec: ERRORS.INVALID_FRAME });
    expect(detail?.detail).toMatch(/\/i .*\(rule minimum\)/);
  });

  it("[ERROR-ORDER-8] answers 4109 for the size of msg before 4120 for the item counts of id arrays", () => {
    const direct = (extra: Frame) => ({ cmd: "direct", ...env, msg: "m", ...extra });
    expect(shape(direct({ msg: "é".repeat(2561), toPeerIds: ids(501) }))).toBe(4109);
    expect(shape(direct({ toPeerIds: ids(501) }))).toBe(4120);
    expect(shape({ cmd: "ack", ...env, ids: ids(501, "m") })).toBe(4120);
    const p = checkShape(
      "direct",
      direct({ toPeerIds: ids(501) }),
      validate("c2s", direct({ toPeerIds: ids(501) })),
    );
    expect(p).toMatchObject({ spec: ERRORS.LIMIT_EXCEEDED });
    expect(p?.detail).toContain("/toPeerIds");
    expect(p?.detail).not.toContain("/msg");
  });

  it("[ERROR-ORDER-9] checks the session of peerId after the shape and before the signature", () => {
    const h = signedHarness();
    const c = h.connect();
    signedOpen(c, "alice");
    // Unsigned, for a peer without a session: 4105, not 4102.
    c.send({
      cmd: "session",
      op: "add",
      appId: "app1",
      peerId: "zed",
      sessionPeerIds: ["b"],
      i: 1,
    });
    expectError(c, 4105, { i: 1 });
    // Malformed and without a session: the shape first.
    c.send({ cmd: "session", op: "add", appId: "app1", peerId: "zed", sessionPeerIds: [1], i: 2 });
    expectError(c, 4114, { i: 2 });
  });

  it("[ERROR-ORDER-10] checks the signature before the rules of the command", () => {
    const h = signedHarness();
    const c = h.connect();
    signedOpen(c, "alice");
    const invite = { cmd: "room", op: "invite", ...env, roomId: "none", roomPeerIds: ["b"], i: 1 };
    c.send(invite);
    expectError(c, 4102, { i: 1 });
    c.send({ ...invite, ...groupSig(h, "alice", "invite", "none", ["b"]) });
    expectError(c, 4404, { i: 1 });
  });

  it("[ERROR-ORDER-11] checks the command's own rules last, in the order of its chapter: 4404 before 4401", () => {
    const h = plainHarness();
    h.store.createRoom("app1", "g1", h.now);
    h.store.addMembers("app1", "g1", ["bob"]);
    const c = h.connect();
    c.open("alice");
    c.drain();
    c.send({ cmd: "room", op: "invite", ...env, roomId: "none", roomPeerIds: ["b"], i: 1 });
    expectError(c, 4404, { i: 1 });
    c.send({ cmd: "room", op: "invite", ...env, roomId: "g1", roomPeerIds: ["b"], i: 2 });
    expectError(c, 4401, { i: 2 });
    c.send({ cmd: "direct", ...env, msg: "m", roomId: "g1", i: 3 });
    expectError(c, 4401, { i: 3 });
  });

  it("[ERROR-ORDER-12] answers the first of 4100, 4103, 4114, 4109, 4120 among the codes of every failed rule", () => {
    // Plant any set of failures, each with its step's code; the answer is the earliest.
    const planted = fc.record({
      app: fc.boolean(), // 4100
      login: fc.boolean(), // 4103
      serial: fc.boolean(), // 4114
      watchItem: fc.boolean(), // 4114
      count: fc.boolean(), // 4120
    });
    fc.assert(
      fc.property(planted, (p) => {
        const frame: Frame = {
          cmd: "session",
          op: "open",
          appId: p.app ? "my app" : "app1",
          peerId: p.login ? "a:b" : "alice",
          sessionPeerIds: [...(p.watchItem ? [7] : []), ...ids(p.count ? 501 : 3)],
          ...(p.serial ? { i: -1 } : {}),
        };
        const codes = [
          p.app && 4100,
          p.login && 4103,
          (p.serial || p.watchItem) && 4114,
          p.count && 4120,
        ].filter((x): x is number => x !== false);
        expect(shape(frame)).toBe(codes[0]);
      }),
    );
    fc.assert(
      fc.property(
        fc.record({ bad: fc.boolean(), size: fc.boolean(), count: fc.boolean() }),
        (p) => {
          const frame: Frame = {
            cmd: "direct",
            ...env,
            msg: p.size ? "😀".repeat(1281) : "m",
            toPeerIds: [...(p.bad ? ["a:b"] : []), ...ids(p.count ? 501 : 2)],
          };
          const codes = [p.bad && 4114, p.size && 4109, p.count && 4120].filter(
            (x): x is number => x !== false,
          );
          expect(shape(frame)).toBe(codes[0]);
        },
      ),
    );
  });
});

describe("codes from the schema's annotations (1.3)", () => {
  const fixtures = join(import.meta.dirname, "../../../schemas/fixtures/c2s");

  it("[FRAME-SCHEMA-4] answers every invalid c2s fixture of the protocol package with the code the fixture gives", () => {
    let n = 0;
    for (const e of REGISTRY.filter((x) => x.direction === "c2s")) {
      for (const file of readdirSync(join(fixtures, fileName(e.name)))) {
        const fx = JSON.parse(readFileSync(join(fixtures, fileName(e.name), file), "utf8")) as {
          valid: boolean;
          code?: number;
          frame: unknown;
        };
        if (fx.valid) continue;
        // The fixtures' codes are those of an app that enforces signatures; every one is a
        // shape failure, so it is answered before the session and the signature (7, 8).
        const c = signedHarness().connect();
        const f = fx.frame;
        const withSerial =
          typeof f === "object" && f !== null && !Array.isArray(f) && !Object.hasOwn(f, "i")
            ? { ...f, i: 9 }
            : f;
        c.send(JSON.stringify(withSerial));
        expect(answer(c), `${e.name} ${file}`).toBe(fx.code);
        n++;
      }
    }
    expect(n).toBeGreaterThan(30);
  });

  it("[FRAME-SCHEMA-4] gives a missing member the code of its own node, and an unpaired surrogate the code of the string's node", () => {
    expect(shape({ cmd: "session", op: "open", appId: "app1" })).toBe(4103);
    expect(shape({ cmd: "session", op: "query", appId: "app1", sessionPeerIds: [] })).toBe(4114);
    expect(shape({ cmd: "session", op: "open", peerId: "alice" })).toBe(4100);
    const p = checkShape(
      "session/open",
      { cmd: "session", op: "open", appId: "app1", peerId: "a\ud800" },
      validate("c2s", { cmd: "session", op: "open", appId: "app1", peerId: "a\ud800" }),
    );
    expect(p).toEqual({
      spec: ERRORS.INVALID_LOGIN,
      detail: "/peerId contains an unpaired surrogate (rule wellFormed)",
    });
    const watch = {
      cmd: "session",
      op: "open",
      appId: "app1",
      peerId: "a",
      sessionPeerIds: ["\ud800"],
    };
    expect(checkShape("session/open", watch, validate("c2s", watch))).toEqual({
      spec: ERRORS.INVALID_FRAME,
      detail: "/sessionPeerIds/0 contains an unpaired surrogate (rule wellFormed)",
    });
  });

  it("[FRAME-SCHEMA-5] checks s, t and n against the schema only when the app enforces signatures", () => {
    const bad = { s: 5, t: "1417334400", n: "a:b\ud800" };
    const frame = { cmd: "session", op: "open", ...env, ...bad };
    // The rule before the schema: without the three fields nothing about them can fail.
    const stripped = withoutSignature(frame);
    expect(stripped).toEqual({ cmd: "session", op: "open", ...env });
    expect(checkShape("session/open", stripped, validate("c2s", stripped))).toBeUndefined();
    expect(shape(frame)).toBe(4114);
    // On the engine: opened without enforcement, 4114 (not 4102) with it.
    const plain = plainHarness().connect();
    plain.send({ ...frame, i: 1 });
    expect(plain.drain()).toMatchObject([{ cmd: "session", op: "opened", i: 1 }]);
    const h = signedHarness();
    const signed = h.connect();
    signed.send({ ...frame, i: 1 });
    expectError(signed, 4114, { i: 1 });
    signed.send({
      cmd: "session",
      op: "open",
      ...env,
      ...sessionSig(h, "alice", []),
      t: 1.5,
      i: 2,
    });
    expectError(signed, 4114, { i: 2 });
  });
});

describe("message ids in an ack (7.2)", () => {
  it("[LIMIT-MSGID-1] answers 4114 an ack with an id outside 1 to 64 code points, and ignores a well-formed unknown one", () => {
    const h = plainHarness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    a.send({ cmd: "direct", ...env, msg: "m", toPeerIds: ["bob"], i: 1 });
    const uid = String(a.drain()[0]?.uid);
    expect(b.drain().filter((f) => f.cmd === "direct")).toHaveLength(1);
    const ack = (list: unknown[], i: number) =>
      b.send({ cmd: "ack", peerId: "bob", appId: "app1", ids: list, i });
    for (const [k, bad] of ["x".repeat(65), "", "😀".repeat(65), "\ud800", 7].entries()) {
      ack([uid, bad], k + 1);
      expectError(b, 4114, { i: k + 1 });
    }
    // The failed acks had no effect: the message is still pending for bob.
    const b2 = h.connect();
    b2.open("bob");
    expect(
      b2
        .drain()
        .filter((f) => f.cmd === "direct")
        .map((f) => f.id),
    ).toEqual([uid]);
    // Well-formed but unknown, whatever its alphabet: ignored (ACK-IGNORE-1).
    ack(["!".repeat(64), "😀".repeat(64), "no such id"], 9);
    expect(b.drain()).toEqual([]);
    ack([uid], 10);
    expect(b.drain()).toEqual([]);
    const b3 = h.connect();
    b3.open("bob");
    expect(b3.drain().filter((f) => f.cmd === "direct")).toEqual([]);
  });
});
