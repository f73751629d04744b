/**
 * Chapter 07: the limits of message text, identifiers and arrays, and what a server does
 * when a client exceeds them.
 */

import { isValidId } from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, engineConfig, specViolations } from "../../src/core/config.js";
import { restVia } from "../support/rest.js";
import {
  expectAlive,
  expectClosed,
  expectError,
  type FakeConn,
  type Frame,
  Harness,
  nameOf,
  plainHarness,
  sessionSig,
  signedHarness,
  signedOpen,
} from "./support-core.js";
import {
  ackIds,
  createRoom,
  directs,
  historyIds,
  joinRoom,
  send,
  sendOk,
  sendRoomOk,
} from "./support-messages.js";

/** alice (watching bob) and bob, each on a connection, and group g1 = [alice, bob]. */
function setup(h: Harness = new Harness()) {
  h.store.createRoom("app1", "g1", h.now);
  h.store.addMembers("app1", "g1", ["alice", "bob"]);
  const a = h.connect();
  const b = h.connect();
  a.open("alice", ["bob"]);
  b.open("bob", ["alice"]);
  a.drain();
  b.drain();
  return { h, a, b };
}

/** Sends `f` from alice with i and returns the error code, or the reply's name. */
function outcome(a: FakeConn, f: Frame): unknown {
  a.send({ peerId: "alice", appId: "app1", ...f, i: 5 });
  const r = a.drain().filter((x) => x.i === 5);
  expect(r, JSON.stringify(f).slice(0, 200)).toHaveLength(1);
  return r[0]?.cmd === "error" ? r[0].code : nameOf(r[0] as Frame);
}

const direct = (msg: string): Frame => ({ cmd: "direct", msg, toPeerIds: ["bob"] });

describe("message text (7.1)", () => {
  it("[LIMIT-MSG-1] accepts a msg of up to 5120 bytes of UTF-8, the empty string included", () => {
    const { a, b } = setup();
    const texts = [
      "",
      "a".repeat(5120),
      `${"中".repeat(1706)}ab`, // 3-byte characters: 5120 bytes
      "😀".repeat(1280), // 4-byte characters
      `${"é".repeat(2559)}a`,
    ];
    for (const msg of texts) {
      expect(Buffer.byteLength(msg)).toBeLessThanOrEqual(5120);
      expect(outcome(a, direct(msg))).toBe("ack");
      expect(b.expectOne("direct").msg).toBe(msg);
    }
  });

  it("[LIMIT-MSG-2] answers a direct whose msg is over 5120 bytes of UTF-8 with 4109 and keeps the connection", () => {
    const { a, b } = setup();
    for (const msg of [
      "a".repeat(5121),
      "中".repeat(1707),
      "😀".repeat(1281),
      `${"é".repeat(2560)}a`,
    ]) {
      expect(Buffer.byteLength(msg)).toBeGreaterThan(5120);
      a.send({ peerId: "alice", appId: "app1", ...direct(msg), i: 1 });
      const e = expectError(a, 4109, { i: 1, peerId: "alice", reason: "FRAME_TOO_LONG" });
      expect(String(e.detail)).toContain("/msg");
    }
    // Transient and group messages alike.
    expect(outcome(a, { ...direct("x".repeat(6000)), transient: true })).toBe(4109);
    expect(outcome(a, { cmd: "direct", msg: "x".repeat(6000), roomId: "g1" })).toBe(4109);
    expect(b.received).toEqual([]);
    expectAlive(a);
    expect(outcome(a, direct("ok"))).toBe("ack");
  });

  it("[LIMIT-TEXT-1] answers with 4114 a command in which a string contains an unpaired surrogate", () => {
    const { a, b } = setup();
    const raw = [
      '{"cmd":"direct","msg":"ab\\ud800","toPeerIds":["bob"]}',
      '{"cmd":"direct","msg":"\\udc00ab","toPeerIds":["bob"]}',
      '{"cmd":"direct","msg":"\\udc00\\ud800","toPeerIds":["bob"]}',
      '{"cmd":"direct","msg":"x","toPeerIds":["b\\ud83d"]}',
      '{"cmd":"session","op":"query","sessionPeerIds":["\\ude00"]}',
      '{"cmd":"room","op":"leave","roomId":"g\\ud800"}',
      '{"cmd":"ack","ids":["\\ud800"]}',
      '{"cmd":"logs","cid":"\\ud800"}',
    ];
    for (const text of raw) {
      a.send(`{"peerId":"alice","appId":"app1","i":3,${text.slice(1)}`);
      expect(String(expectError(a, 4114, { i: 3 }).detail), text).toMatch(/unpaired surrogate/);
    }
    // A valid pair is fine, escaped or not.
    a.send(
      '{"peerId":"alice","appId":"app1","i":4,"cmd":"direct","msg":"\\ud83d\\ude00😀","toPeerIds":["bob"]}',
    );
    expect(a.drain()).toMatchObject([{ cmd: "ack", i: 4 }]);
    expect(b.expectOne("direct").msg).toBe("😀😀");
  });
});

describe("identifiers (7.2)", () => {
  it("[LIMIT-ID-1] treats exactly the strings of 1 to 64 code points without controls and ':' as valid ids", () => {
    const valid = [
      "a",
      "😀".repeat(64),
      "x".repeat(64),
      "a b",
      "Ａ",
      "\u0080",
      "é",
      "-_.!@#",
      "中文",
    ];
    const invalid = [
      "",
      "x".repeat(65),
      "😀".repeat(65),
      "a:b",
      ":",
      "\u0000",
      "a\u001f",
      "\u007f",
      "\t",
      "\ud800",
    ];
    for (const v of valid) expect(isValidId(v), v).toBe(true);
    for (const v of invalid) expect(isValidId(v), JSON.stringify(v)).toBe(false);
    // Property: the rule as the spec states it.
    const unit = fc.oneof(
      fc.constantFrom(":", "\u0000", "\u001f", "\u007f", "\u0080", "a", "😀", "\ud800", "\udc00"),
      fc.integer({ min: 0, max: 0x10ffff }).map((n) => String.fromCodePoint(n)),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 70 }), (s) => {
        const points = [...s];
        const expected =
          s.isWellFormed() &&
          points.length >= 1 &&
          points.length <= 64 &&
          points.every((p) => {
            const cp = p.codePointAt(0) as number;
            return cp > 0x1f && cp !== 0x7f && p !== ":";
          });
        expect(isValidId(s)).toBe(expected);
      }),
      { numRuns: 1000 },
    );
    // And the server accepts them where a command carries ids.
    const { a } = setup();
    for (const id of valid) {
      expect(outcome(a, { cmd: "session", op: "query", sessionPeerIds: [id] })).toBe(
        "session/query-result",
      );
      expect(outcome(a, { cmd: "direct", msg: "m", toPeerIds: [id] })).toBe("ack");
    }
  });

  it("[LIMIT-ID-2] answers with 4114 an invalid peer id, group id or nonce anywhere but in the peerId of session/open", () => {
    const h = signedHarness();
    h.store.createRoom("app1", "g1", h.now);
    h.store.addMembers("app1", "g1", ["alice"]);
    const a = h.connect();
    signedOpen(a, "alice");
    const bad = ["", "x".repeat(65), "a:b", "a\u0001", "\u007f"];
    for (const id of bad) {
      const cases: Frame[] = [
        { cmd: "direct", msg: "m", toPeerIds: ["bob", id] },
        { cmd: "direct", msg: "m", roomId: id },
        { cmd: "session", op: "query", sessionPeerIds: [id] },
        { cmd: "session", op: "remove", sessionPeerIds: [id] },
        { cmd: "session", op: "add", sessionPeerIds: [id], ...sessionSig(h, "alice", [id]) },
        { cmd: "room", op: "join", roomId: id },
        { cmd: "room", op: "leave", roomId: id },
        { cmd: "room", op: "invite", roomId: "g1", roomPeerIds: [id] },
        { cmd: "room", op: "kick", roomId: id, roomPeerIds: ["bob"] },
        { cmd: "session", op: "query", sessionPeerIds: [], peerId: id },
        { cmd: "session", op: "add", sessionPeerIds: [], ...sessionSig(h, "alice", []), n: id },
      ];
      for (const f of cases)
        expect(outcome(a, f), `${JSON.stringify(id)} in ${JSON.stringify(f)}`).toBe(4114);
    }
    // In the peerId of session/open the code is 4103 instead.
    a.send({ cmd: "session", op: "open", appId: "app1", peerId: "a:b", i: 1 });
    expectError(a, 4103, { i: 1 });
  });

  it("[LIMIT-APPID-1] treats an appId that is not 1 to 64 characters of [A-Za-z0-9_.-] as naming no app", () => {
    const h = new Harness(); // development mode: every well-formed app id names an app
    for (const appId of ["app1", "A-b_c.9", "x".repeat(64)])
      expect(h.engine.knowsApp(appId)).toBe(true);
    const bad = ["", "x".repeat(65), "app 1", "app/1", "äpp", "app:1", "app\n"];
    for (const appId of bad) {
      expect(h.engine.knowsApp(appId), appId).toBe(false);
      expect(restVia(h.engine, appId, undefined, {})).toMatchObject({
        ok: false,
        status: 404,
        code: 4100,
      });
      const c = h.connect();
      c.send({ cmd: "session", op: "open", peerId: "alice", appId, i: 1 });
      expect(c.drain()).toMatchObject([{ cmd: "error", code: 4100, i: 1 }]);
      expectClosed(c, 4100);
    }
    expect(restVia(h.engine, undefined, undefined, {})).toMatchObject({
      ok: false,
      status: 404,
      code: 4100,
    });
    // Once bound, a malformed app id gets an error frame.
    const c = h.connect();
    c.open("alice");
    c.send({
      cmd: "session",
      op: "query",
      peerId: "alice",
      appId: "app 1",
      sessionPeerIds: [],
      i: 2,
    });
    expectError(c, 4100, { i: 2 });
  });
});

describe("error detail (8.2)", () => {
  it("[ERROR-FRAME-5] keeps the error frame of 500 invalid ids small, naming the first failures and counting the rest", () => {
    const { a } = setup();
    // 500 ids, each with a control character: 500 pattern failures (34 KB in).
    const bad = Array.from({ length: 500 }, (_, k) => `bad\u0001${"x".repeat(60)}${k}`);
    a.send({ cmd: "direct", peerId: "alice", appId: "app1", msg: "m", toPeerIds: bad, i: 9 });
    const [err] = a.drain().filter((x) => x.i === 9);
    expect(err?.code).toBe(4114);
    const detail = String(err?.detail);
    expect(detail.length).toBeLessThanOrEqual(1024);
    expect(detail).toContain("/toPeerIds/0"); // names the field and rule [ERROR-FRAME-4]
    expect(detail).toMatch(/and \d+ more/);
    expect(JSON.stringify(err).length).toBeLessThan(2048);
    expectAlive(a);
  });
});

describe("arrays (7.3)", () => {
  it("[LIMIT-ARRAY-1] answers with 4120 a command whose id array has more than 500 items, duplicates counted", () => {
    const { h, a } = setup();
    const many = (n: number) => Array.from({ length: n }, (_, k) => `p${k % 7}`); // duplicates
    const arrays = (n: number): Frame[] => [
      { cmd: "session", op: "open", sessionPeerIds: many(n) },
      { cmd: "session", op: "add", sessionPeerIds: many(n) },
      { cmd: "session", op: "remove", sessionPeerIds: many(n) },
      { cmd: "session", op: "query", sessionPeerIds: many(n) },
      { cmd: "direct", msg: "m", toPeerIds: many(n) },
      { cmd: "room", op: "invite", roomId: "g1", roomPeerIds: many(n) },
      { cmd: "room", op: "kick", roomId: "g1", roomPeerIds: many(n) },
      { cmd: "ack", ids: many(n) },
    ];
    for (const f of arrays(501)) {
      expect(outcome(a, f), String(nameOf(f))).toBe(4120);
    }
    for (const f of arrays(5000)) expect(outcome(a, f)).toBe(4120);
    const ok = arrays(500)
      .filter((f) => f.cmd !== "ack")
      .map((f) => outcome(a, f));
    expect(ok).toEqual([
      "session/opened",
      "session/added",
      "session/removed",
      "session/query-result",
      "ack",
      "room/invited",
      "room/kicked",
    ]);
    // An ack of 500 ids succeeds, silently even with i.
    a.send({ cmd: "ack", peerId: "alice", appId: "app1", ids: many(500), i: 6 });
    expect(a.drain()).toEqual([]);
    expect(h.engine.stats().sessions).toBe(2);
  });

  it("[LIMIT-EMPTY-1] answers with 4114 an empty toPeerIds, an empty roomPeerIds of invite or kick, and empty ack ids", () => {
    const { a } = setup();
    const empty: Frame[] = [
      { cmd: "direct", msg: "m", toPeerIds: [] },
      { cmd: "direct", msg: "m", toPeerIds: [], transient: true },
      { cmd: "room", op: "invite", roomId: "g1", roomPeerIds: [] },
      { cmd: "room", op: "kick", roomId: "g1", roomPeerIds: [] },
      { cmd: "ack", ids: [] },
    ];
    for (const f of empty) expect(outcome(a, f), JSON.stringify(f)).toBe(4114);
    // An empty watch list is allowed: a session may watch nobody.
    expect(outcome(a, { cmd: "session", op: "open", sessionPeerIds: [] })).toBe("session/opened");
    expect(outcome(a, { cmd: "session", op: "add", sessionPeerIds: [] })).toBe("session/added");
    expect(outcome(a, { cmd: "session", op: "query", sessionPeerIds: [] })).toBe(
      "session/query-result",
    );
  });

  it("[LIMIT-DUP-1] treats an id that occurs several times in an id array as if it occurred once", () => {
    const h = new Harness({ limits: { ...DEFAULT_LIMITS, maxWatchedPerSession: 2 } });
    const { a, b } = setup(h);
    // 500 items naming 2 peers fit a watch limit of 2.
    const twice = Array.from({ length: 500 }, (_, k) => (k % 2 ? "bob" : "carol"));
    a.cmd("alice", "session", "open", { sessionPeerIds: twice });
    expect(a.expectOne("session/opened").onlineSessionPeerIds).toEqual(["bob"]);
    a.cmd("alice", "session", "add", { sessionPeerIds: ["bob", "bob", "carol"] });
    expect(a.expectOne("session/added").onlineSessionPeerIds).toEqual(["bob"]);
    a.cmd("alice", "session", "query", { sessionPeerIds: ["bob", "bob"] });
    expect(a.expectOne("session/query-result").onlineSessionPeerIds).toEqual(["bob"]);
    // One delivery per recipient.
    a.cmd("alice", "direct", undefined, { msg: "m", toPeerIds: ["bob", "bob", "bob"] });
    expect(b.take("direct")).toHaveLength(1);
  });
});

describe("general rules (7.4)", () => {
  it("[LIMIT-FLOOR-1] rejects nothing for exceeding a limit lower than the spec's", () => {
    expect(specViolations(engineConfig())).toEqual([]);
    const h = signedHarness();
    const a = h.connect();
    const b = h.connect();
    signedOpen(b, "bob");
    signedOpen(a, "alice", ["bob"]);
    a.drain();
    // A msg of 5120 bytes in a frame of exactly 65536 bytes.
    const frame: Frame = {
      cmd: "direct",
      peerId: "alice",
      appId: "app1",
      msg: "😀".repeat(1280),
      toPeerIds: ["bob"],
      pad: "",
    };
    frame.pad = "x".repeat(65536 - Buffer.byteLength(JSON.stringify(frame)));
    expect(Buffer.byteLength(JSON.stringify(frame))).toBe(65536);
    a.send(frame);
    expect(a.drain().map(nameOf)).toEqual(["ack"]);
    // 500 ids of 64 code points; a 64 code point nonce and peer id; 10000 watched peers.
    const ids = (tag: string) =>
      Array.from({ length: 500 }, (_, k) => `${tag}${k}`.padEnd(64, "é"));
    const id64 = "😀".repeat(64);
    expect(outcome(a, { cmd: "session", op: "query", sessionPeerIds: ids("q") })).toBe(
      "session/query-result",
    );
    for (let k = 0; k < 20; k++) {
      const watch = ids(`w${k}-`).slice(0, k === 19 ? 499 : 500); // with bob: 10000
      const sig = sessionSig(h, "alice", watch);
      expect(outcome(a, { cmd: "session", op: "add", sessionPeerIds: watch, ...sig })).toBe(
        "session/added",
      );
    }
    expect(outcome(a, { cmd: "direct", msg: "m", toPeerIds: ids("w7-") })).toBe("ack");
    const sig = sessionSig(h, id64, [id64], { n: id64 });
    a.send({
      cmd: "session",
      op: "open",
      appId: "app1",
      peerId: id64,
      sessionPeerIds: [id64],
      ...sig,
      i: 1,
    });
    expect(a.drain()).toMatchObject([{ op: "opened", peerId: id64, i: 1 }]);
  });

  it("[LIMIT-CONFIG-1] lets the operator set the offline store's count and age limits and the timeouts", () => {
    const config = engineConfig({
      // Longer, not shorter: a shorter age is for a server under test only [LIMIT-BOUND-2].
      limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: 100, offlineTtlMs: 14 * 86_400_000 },
      loginTimeoutMs: 120_000,
      readTimeoutMs: 600_000,
    });
    expect(specViolations(config)).toEqual([]);
    const h = new Harness({ loginTimeoutMs: 120_000, readTimeoutMs: 600_000 });
    const c = h.connect();
    h.advance(119_999);
    expect(c.closed).toBeUndefined();
    h.advance(1);
    expectClosed(c, 4108);
    // Limits below the spec's floor are reported.
    expect(
      specViolations(engineConfig({ limits: { ...DEFAULT_LIMITS, maxFrameBytes: 1000 } })),
    ).toHaveLength(1);
    expect(plainHarness().engine.config.limits).toEqual(DEFAULT_LIMITS);
  });
});

describe("sessions per connection (7.3)", () => {
  it("[LIMIT-SESSIONS-1] answers the 101st session/open on one connection with 4120 and opens nothing", () => {
    const h = new Harness();
    const c = h.connect();
    const watcher = h.connect();
    watcher.open("watcher", ["p100"]);
    watcher.drain();
    for (let k = 0; k < 100; k++) c.open(`p${k}`);
    c.drain();
    expect(h.engine.stats().sessions).toBe(101);
    c.send({ cmd: "session", op: "open", appId: "app1", peerId: "p100", i: 7 });
    expectError(c, 4120, { i: 7, peerId: "p100" });
    expect(h.engine.stats().sessions).toBe(101);
    watcher.expectNothing(); // p100 never came online
    // A re-open is not a new session, and a slot freed by a close can be used again.
    expect(c.open("p0")).toMatchObject({ op: "opened" });
    c.send({ cmd: "session", op: "close", appId: "app1", peerId: "p1" });
    expect(c.open("p100")).toMatchObject({ op: "opened" });
    expect(watcher.expectOne("presence")).toMatchObject({ status: "on", sessionPeerIds: ["p100"] });
    expect(DEFAULT_LIMITS.maxSessionsPerConnection).toBe(100);
  });
});

describe("stored data (7.5)", () => {
  /** A harness whose app may hold `maxPendingPerApp` pending messages; alice and bob open. */
  function bounded(maxPendingPerApp: number, maxOfflinePerPeer = 50) {
    const h = new Harness({ limits: { ...DEFAULT_LIMITS, maxPendingPerApp, maxOfflinePerPeer } });
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    a.drain();
    b.drain();
    return { h, a, b };
  }

  it("[LIMIT-STORE-1] bounds the pending messages of an app by default, at 1000000", () => {
    expect(DEFAULT_LIMITS.maxPendingPerApp).toBe(1_000_000);
    expect(plainHarness().engine.config.limits.maxPendingPerApp).toBe(1_000_000);
  });

  it("[LIMIT-STORE-2] [ERROR-NOEFFECT-1] answers with 4120 a direct that would take the app over its bound, and stores and delivers nothing", () => {
    const { h, a, b } = bounded(5);
    const first = sendOk(a, "alice", ["bob", "p1", "p2"]);
    sendOk(a, "alice", ["p3", "p4"]); // 5 pending: at the bound, accepted
    expect(directs(b)).toHaveLength(1);
    expect(h.store.pendingCount("app1")).toBe(5);
    const history = historyIds(h);
    send(a, "alice", ["bob"], { i: 9 });
    expectError(a, 4120, { i: 9, peerId: "alice", reason: "LIMIT_EXCEEDED" });
    // A persistent message to many peers is refused whole, not in part.
    send(a, "alice", ["p5", "p6"], { i: 10 });
    expectError(a, 4120, { i: 10 });
    b.expectNothing(); // no live delivery either
    expect(historyIds(h)).toEqual(history);
    expect(h.store.pendingCount("app1")).toBe(5);
    // The connection survives; transient messages are never pending, so never refused.
    expectAlive(a);
    send(a, "alice", ["bob"], { transient: true, i: 11 });
    expect(a.expectOne("ack").i).toBe(11);
    expect(b.expectOne("direct").transient).toBe(true);
    // An acknowledgement makes room again.
    ackIds(b, "bob", [first.uid]);
    sendOk(a, "alice", ["bob"]);
    expect(h.store.pendingCount("app1")).toBe(5);
  });

  it("[LIMIT-STORE-2] refuses a group message that would take the app over its bound", () => {
    const { h, a, b } = bounded(2);
    const roomId = createRoom(a, "alice");
    joinRoom(b, "bob", roomId);
    a.drain();
    sendRoomOk(a, "alice", roomId); // pending for bob: 1
    b.drain();
    sendOk(a, "alice", ["p1"]); // 2
    a.cmd("alice", "direct", undefined, { msg: "to the group", roomId, i: 3 });
    expectError(a, 4120, { i: 3 });
    b.expectNothing();
    expect(h.store.pendingCount("app1")).toBe(2);
  });

  it("[LIMIT-STORE-2] counts what a send evicts: a send to full offline stores is accepted at the bound", () => {
    const { h, a } = bounded(4, 2);
    sendOk(a, "alice", ["p1", "p2"]);
    sendOk(a, "alice", ["p1", "p2"]); // 4 pending, p1 and p2 full
    // Each new one evicts the oldest of its peer [OFFLINE-LIMIT-1]: still 4.
    sendOk(a, "alice", ["p1", "p2"]);
    expect(h.store.pendingCount("app1")).toBe(4);
    send(a, "alice", ["p1", "p3"], { i: 4 }); // p1 evicts, p3 adds: 5
    expectError(a, 4120, { i: 4 });
    expect(h.store.pendingCount("app1")).toBe(4);
  });

  it("[LIMIT-STORE-2] bounds each app on its own: an app at its bound does not refuse another's messages", () => {
    const { h, a } = bounded(1);
    sendOk(a, "alice", ["p1"]);
    send(a, "alice", ["p2"], { i: 1 });
    expectError(a, 4120, { i: 1 });
    const z = h.connect();
    z.open("zed", [], { appId: "app2" });
    sendOk(z, "zed", ["p1"], { appId: "app2" });
    expect(h.store.pendingCount("app2")).toBe(1);
    expect(h.store.pendingCount("app1")).toBe(1);
  });
});
