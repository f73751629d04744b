/**
 * Chapter 08: the codes, the error frame, closing, which check wins, and that a failed
 * command has no effect.
 */

import { CODE_NAMES, ERRORS } from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/config.js";
import {
  connectWith,
  expectAlive,
  expectClosed,
  expectError,
  type FakeConn,
  type Frame,
  groupSig,
  Harness,
  nameOf,
  plainHarness,
  sendBinary,
  sessionSig,
  signedHarness,
  signedOpen,
  TABLE7,
} from "./support-core.js";

/** One situation of Table 7: what to do on a fresh connection, and the code and form. */
interface Situation {
  readonly what: string;
  readonly code: number;
  readonly form: "frame" | "close";
  /** The harness; the connection has alice open (watching bob) unless `fresh`. */
  readonly h?: () => Harness;
  readonly fresh?: boolean;
  /** How the connection is made, when not plainly. */
  readonly connect?: (h: Harness) => FakeConn;
  readonly act: (c: FakeConn, h: Harness) => void;
}

const q = (extra: Frame = {}): Frame => ({
  cmd: "session",
  op: "query",
  peerId: "alice",
  appId: "app1",
  sessionPeerIds: [],
  i: 1,
  ...extra,
});

const SITUATIONS: Situation[] = [
  {
    what: "first command names an unknown app",
    code: 4100,
    form: "close",
    h: plainHarness,
    fresh: true,
    act: (c) => c.send(q({ appId: "nope" })),
  },
  { what: "another app", code: 4100, form: "frame", act: (c) => c.send(q({ appId: "app9" })) },
  {
    what: "a missing signature",
    code: 4102,
    form: "frame",
    h: signedHarness,
    fresh: true,
    act: (c) => c.send({ ...q(), op: "open" }),
  },
  {
    what: "an invalid login",
    code: 4103,
    form: "frame",
    act: (c) => c.send({ ...q(), op: "open", peerId: "a:b" }),
  },
  { what: "no session", code: 4105, form: "frame", act: (c) => c.send(q({ peerId: "zed" })) },
  {
    what: "read timeout",
    code: 4107,
    form: "close",
    act: (_c, h) => h.advance(300_000),
  },
  {
    what: "login timeout",
    code: 4108,
    form: "close",
    fresh: true,
    act: (_c, h) => h.advance(60_000),
  },
  {
    what: "a frame too long",
    code: 4109,
    form: "close",
    act: (c) => c.send(JSON.stringify(q({ pad: "x".repeat(65536) }))),
  },
  {
    what: "a msg too long",
    code: 4109,
    form: "frame",
    act: (c) =>
      c.send({ ...q(), cmd: "direct", op: undefined, msg: "x".repeat(5121), toPeerIds: ["bob"] }),
  },
  {
    what: "an origin not allowed",
    code: 4110,
    form: "close",
    h: () => plainHarness({}, { allowedOrigins: ["https://ok"] }),
    fresh: true,
    connect: (h) => connectWith(h, { origin: "https://bad" }),
    act: (c) => c.send(q()),
  },
  { what: "a binary message", code: 4114, form: "close", act: (c) => sendBinary(c) },
  { what: "not JSON", code: 4114, form: "close", act: (c) => c.send("{nope") },
  { what: "not an object", code: 4114, form: "close", act: (c) => c.send("[1]") },
  {
    what: "a schema failure",
    code: 4114,
    form: "frame",
    act: (c) => c.send(q({ sessionPeerIds: 1 })),
  },
  { what: "an invalid i", code: 4114, form: "frame", act: (c) => c.send(q({ i: -1 })) },
  {
    what: "kicked",
    code: 4115,
    form: "close",
    act: (c, h) => h.run(h.engine.kick(c.id, h.now)),
  },
  {
    what: "a flood",
    code: 4116,
    form: "close",
    h: () => new Harness({ rateLimit: { perSecond: 1, burst: 5 } }),
    act: (c) => {
      for (let n = 0; n < 5; n++) c.send({});
    },
  },
  {
    what: "an id array too long",
    code: 4120,
    form: "frame",
    act: (c) => c.send(q({ sessionPeerIds: Array(501).fill("x") })),
  },
  {
    what: "a failure of the server",
    code: 4200,
    form: "frame",
    act: (c, h) => {
      h.store.isParticipant = () => {
        throw new Error("disk on fire");
      };
      c.send({ ...q(), cmd: "logs", op: undefined, cid: "c" });
    },
  },
  {
    what: "an unreachable target",
    code: 4401,
    form: "frame",
    act: (c) => c.send({ ...q(), cmd: "direct", op: undefined, msg: "m", toPeerIds: ["alice"] }),
  },
  {
    what: "no such group",
    code: 4404,
    form: "frame",
    act: (c) => c.send({ ...q(), cmd: "room", op: "leave", roomId: "nope" }),
  },
];

/** Runs a situation; returns the connection and what it received before any close. */
function run(s: Situation): { c: FakeConn; h: Harness; frames: Frame[] } {
  const h = (s.h ?? (() => new Harness()))();
  const c = s.connect ? s.connect(h) : h.connect();
  if (!s.fresh) {
    c.open("alice", ["bob"]);
    c.drain();
  }
  s.act(c, h);
  return { c, h, frames: c.drain() };
}

describe("codes (8.1)", () => {
  it("[ERROR-CODES-1] sends each code only in the situations and the form Table 7 gives it", () => {
    for (const s of SITUATIONS) {
      const { c, frames } = run(s);
      expect(TABLE7.get(s.code)?.forms, s.what).toContain(s.form);
      const errors = frames.filter((f) => f.cmd === "error");
      if (s.form === "close") {
        expectClosed(c, s.code);
      } else {
        expect(c.closed, s.what).toBeUndefined();
        expect(
          errors.map((f) => f.code),
          s.what,
        ).toEqual([s.code]);
      }
    }
    // The registry of the server is Table 7.
    for (const e of Object.values(ERRORS)) expect(TABLE7.get(e.code)?.name).toBe(e.name);
    for (const [code, { name }] of TABLE7) expect(CODE_NAMES.get(code)).toBe(name);
  });

  it("[ERROR-UNUSED-1] never sends 4111 nor any code from 4300 to 4399", () => {
    expect([...CODE_NAMES.keys()].filter((c) => c === 4111 || (c >= 4300 && c < 4400))).toEqual([]);
    for (const s of SITUATIONS) {
      const { c, frames } = run(s);
      for (const code of [...frames.map((f) => f.code), c.closed?.code]) {
        expect(code === 4111 || (Number(code) >= 4300 && Number(code) < 4400)).toBe(false);
      }
    }
  });

  it("[ERROR-KICK-1] closes with 4115 a connection that the app or the operator asks to end", () => {
    const h = new Harness();
    const watcher = h.connect();
    watcher.open("bob", ["alice"]);
    const c = h.connect();
    c.open("alice");
    c.drain();
    watcher.drain();
    h.run(h.engine.kick(c.id, h.now, "spam"));
    expect(c.drain()).toMatchObject([{ cmd: "error", code: 4115, detail: "spam" }]);
    expectClosed(c, 4115);
    expect(watcher.drain()).toMatchObject([{ cmd: "presence", status: "off" }]);
    expect(h.engine.kick(12345, h.now)).toEqual([]); // unknown connection: nothing
  });

  it("[ERROR-INTERNAL-1] answers with 4200 a command it cannot carry out because of its own failure", () => {
    const h = signedHarness();
    const c = h.connect();
    signedOpen(c, "alice");
    const bob = h.connect();
    signedOpen(bob, "bob", ["alice"]);
    bob.drain();
    const useNonce = h.store.useNonce.bind(h.store);
    h.store.useNonce = () => {
      throw new Error("store down");
    };
    c.cmd("carol", "session", "open", { sessionPeerIds: [], i: 1, ...sessionSig(h, "carol", []) });
    expectError(c, 4200, { i: 1, peerId: "carol" });
    // Nothing happened: carol is not online, bob heard nothing, alice is fine.
    h.store.useNonce = useNonce;
    c.cmd("alice", "session", "query", { sessionPeerIds: ["carol"], i: 2 });
    expect(c.drain()).toEqual([
      { cmd: "session", op: "query-result", peerId: "alice", i: 2, onlineSessionPeerIds: [] },
    ]);
    expect(bob.received).toEqual([]);
    // A store that fails half-way through a command: its writes are rolled back.
    c.cmd("alice", "session", "add", {
      sessionPeerIds: ["bob"],
      ...sessionSig(h, "alice", ["bob"]),
    });
    c.drain();
    const addPending = h.store.addPending.bind(h.store);
    h.store.addPending = () => {
      throw new Error("disk full");
    };
    c.cmd("alice", "direct", undefined, { msg: "lost?", toPeerIds: ["bob"], i: 4 });
    expectError(c, 4200, { i: 4, peerId: "alice" });
    expect(bob.received).toEqual([]);
    expect(h.store.history({ appId: "app1", limit: 10 })).toEqual([]);
    h.store.addPending = addPending;
    c.cmd("alice", "direct", undefined, { msg: "again", toPeerIds: ["bob"], i: 5 });
    expect(c.drain()).toMatchObject([{ cmd: "ack", i: 5 }]);
    expect(h.store.history({ appId: "app1", limit: 10 })).toHaveLength(1);
    // A failure after the reply went out is logged, not answered twice.
    h.store.pendingFor = () => {
      throw new Error("store down");
    };
    c.cmd("dave", "session", "open", { sessionPeerIds: [], i: 3, ...sessionSig(h, "dave", []) });
    expect(c.drain()).toMatchObject([{ op: "opened", i: 3 }]);
    expect(h.engine.drainLog().map((e) => e.event)).toContain("internal-error");
  });
});

describe("the error frame (8.2)", () => {
  it("[ERROR-FRAME-1] sets reason to the name of the code in every error frame", () => {
    for (const s of SITUATIONS) {
      const { frames } = run(s);
      for (const f of frames.filter((x) => x.cmd === "error")) {
        expect(f.reason, s.what).toBe(TABLE7.get(Number(f.code))?.name);
      }
    }
  });

  it("[ERROR-FRAME-2] puts the i of the failed command in the error frame when it is valid", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    for (const i of [0, 1, 65535, 2147483647]) {
      c.cmd("zed", "session", "query", { sessionPeerIds: [], i });
      expectError(c, 4105, { i });
    }
    c.cmd("zed", "session", "query", { sessionPeerIds: [] });
    expect(expectError(c, 4105)).not.toHaveProperty("i");
    c.cmd("zed", "session", "query", { sessionPeerIds: [], i: 2147483648 });
    expect(expectError(c, 4114)).not.toHaveProperty("i");
  });

  it("[ERROR-FRAME-3] puts the peerId of the failed command in the error frame when it is a valid peer id", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    c.cmd("zed", "session", "query", { sessionPeerIds: [], i: 1 });
    expectError(c, 4105, { peerId: "zed" });
    c.cmd("😀".repeat(64), "session", "query", { sessionPeerIds: [], i: 1 });
    expectError(c, 4105, { peerId: "😀".repeat(64) });
    for (const peerId of ["", "a:b", "x".repeat(65), 5, "\u0007"]) {
      c.send({ cmd: "session", op: "query", peerId, appId: "app1", sessionPeerIds: [], i: 1 });
      expect(expectError(c, 4114)).not.toHaveProperty("peerId");
    }
    c.send({ cmd: "session", op: "query", appId: "app1", sessionPeerIds: [], i: 1 });
    expect(expectError(c, 4114)).not.toHaveProperty("peerId");
    c.send({ cmd: "session", op: "open", peerId: "a:b", appId: "app1", i: 1 });
    expect(expectError(c, 4103)).not.toHaveProperty("peerId");
  });

  it("[ERROR-FRAME-4] names, in the detail of a 4114 error, the field that failed and the rule it broke", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    const cases: [Frame, string, string][] = [
      [{ cmd: "direct", msg: "m", toPeerIds: ["a:b"] }, "/toPeerIds/0", "pattern"],
      [{ cmd: "direct", msg: "m", toPeerIds: ["x".repeat(65)] }, "/toPeerIds/0", "maxLength"],
      [{ cmd: "direct", msg: 1, toPeerIds: ["b"] }, "/msg", "type"],
      [{ cmd: "direct", msg: "m" }, "toPeerIds", "oneOf"],
      [{ cmd: "session", op: "add" }, "/sessionPeerIds", "required"],
      [{ cmd: "session", op: "query", sessionPeerIds: [], i: 1.5 }, "/i", "type"],
      [{ cmd: "ack", ids: [] }, "/ids", "minItems"],
      [{ cmd: "room", op: "nope" }, "/op", "enum"],
      [{ cmd: "huh" }, "/cmd", "enum"],
      [{ cmd: "direct", msg: "\ud800", toPeerIds: ["b"] }, "/msg", "wellFormed"],
    ];
    for (const [f, field, rule] of cases) {
      c.send({ peerId: "alice", appId: "app1", i: 1, ...f });
      const detail = String(expectError(c, 4114).detail);
      expect(detail, JSON.stringify(f)).toContain(field);
      expect(detail, JSON.stringify(f)).toContain(`rule ${rule}`);
    }
  });
});

describe("closing (8.3)", () => {
  it("[ERROR-CLOSE-1] closes the connection with the code whenever Table 7 sends it as a close code", () => {
    for (const s of SITUATIONS.filter((x) => x.form === "close")) {
      const { c, h } = run(s);
      expectClosed(c, s.code);
      expect(h.engine.stats().connections, s.what).toBe(0);
    }
  });

  it("[ERROR-CLOSE-4] sends an error frame with the same code, peerId and i just before closing with 4100 to 4199", () => {
    for (const s of SITUATIONS.filter((x) => x.form === "close" && x.code < 4200)) {
      const { c, frames } = run(s);
      const last = frames.at(-1);
      expect(last, s.what).toMatchObject({
        cmd: "error",
        code: s.code,
        reason: TABLE7.get(s.code)?.name,
      });
      expectClosed(c, s.code);
    }
    // With the command's peerId and i when a command caused it.
    const h = plainHarness();
    const c = h.connect();
    c.send(q({ appId: "other", i: 12 }));
    expect(c.drain()).toMatchObject([{ cmd: "error", code: 4100, i: 12, peerId: "alice" }]);
    // A legacy open that fails (SESSION-OPEN-4): the frame, then the close.
    const d = h.connect();
    d.send({ cmd: "session", op: "open", appId: "app1", peerId: "" });
    expect(d.drain()).toMatchObject([{ cmd: "error", code: 4103 }]);
    expectClosed(d, 4103);
  });

  it("[ERROR-CLOSE-3] uses the name of the code as the reason of the close", () => {
    for (const s of SITUATIONS.filter((x) => x.form === "close")) {
      const { c } = run(s);
      expect(c.closed?.reason, s.what).toBe(TABLE7.get(s.code)?.name);
    }
  });

  it("[ERROR-SURVIVE-1] keeps the connection and all its sessions open after an error frame", () => {
    for (const s of SITUATIONS.filter((x) => x.form === "frame" && !x.fresh)) {
      const h = (s.h ?? (() => new Harness()))();
      const c = h.connect();
      c.open("alice", ["bob"]);
      c.open("carol");
      c.drain();
      s.act(c, h);
      expect(
        c.drain().map((f) => f.code),
        s.what,
      ).toEqual([s.code]);
      expectAlive(c);
      expect(h.engine.stats(), s.what).toEqual({ connections: 1, sessions: 2 });
    }
  });
});

describe("which check wins (8.4)", () => {
  it("[ERROR-ORDER-1] answers with the code of the first failing check in the order of 8.4", () => {
    const h = signedHarness({ limits: { ...DEFAULT_LIMITS, maxWatchedPerSession: 1 } });
    h.store.createRoom("app1", "g1", h.now);
    h.store.addMembers("app1", "g1", ["bob"]);
    const c = h.connect();
    signedOpen(c, "alice");
    const f = (extra: Frame): Frame => ({ peerId: "alice", appId: "app1", i: 1, ...extra });
    const cases: [string, Frame, number, boolean][] = [
      // (3) the app before (4) the open's peerId and (5) the schema
      ["app < login", f({ cmd: "session", op: "open", peerId: "", appId: "x y" }), 4100, true],
      ["app < schema", f({ cmd: "nope", appId: "app2" }), 4100, true],
      // (4) before (5) and (6)
      ["login < schema", f({ cmd: "session", op: "open", peerId: ":", sp: "x" }), 4103, true],
      [
        "login < count",
        f({ cmd: "session", op: "open", peerId: ":", sessionPeerIds: Array(501).fill("b") }),
        4103,
        true,
      ],
      ["login < serial", f({ cmd: "session", op: "open", peerId: ":", i: -1 }), 4103, false],
      // (5) before (6)
      [
        "schema < msg size",
        f({ cmd: "direct", msg: "x".repeat(5121), toPeerIds: ["a:b"] }),
        4114,
        true,
      ],
      [
        "serial < msg size",
        f({ cmd: "direct", msg: "x".repeat(5121), toPeerIds: ["b"], i: 1.5 }),
        4114,
        false,
      ],
      [
        "string < msg size",
        f({ cmd: "direct", msg: `${"x".repeat(5121)}\ud800`, toPeerIds: ["b"] }),
        4114,
        true,
      ],
      [
        "schema < count",
        f({ cmd: "session", op: "query", sessionPeerIds: [...Array(501).fill("b"), 1] }),
        4114,
        true,
      ],
      ["empty < count", f({ cmd: "direct", msg: "m", toPeerIds: [], roomId: "g1" }), 4114, true],
      // (6): msg size, then counts
      [
        "msg size < count",
        f({ cmd: "direct", msg: "x".repeat(5121), toPeerIds: Array(501).fill("b") }),
        4109,
        true,
      ],
      // (6) before (7)
      [
        "msg size < session",
        f({ cmd: "direct", peerId: "zed", msg: "x".repeat(5121), toPeerIds: ["b"] }),
        4109,
        true,
      ],
      ["count < session", f({ cmd: "ack", peerId: "zed", ids: Array(501).fill("m") }), 4120, true],
      // (7) before (8)
      [
        "session < signature",
        f({ cmd: "session", op: "add", peerId: "zed", sessionPeerIds: ["b"] }),
        4105,
        true,
      ],
      ["session < signature (room)", f({ cmd: "room", op: "join", peerId: "zed" }), 4105, true],
      // (8) before (9)
      [
        "signature < watch limit",
        f({ cmd: "session", op: "add", sessionPeerIds: ["b", "c"] }),
        4102,
        true,
      ],
      [
        "signature < unknown group",
        f({ cmd: "room", op: "invite", roomId: "none", roomPeerIds: ["b"] }),
        4102,
        true,
      ],
      // (9): 4404 before 4401
      [
        "unknown group < not a member",
        f({
          cmd: "room",
          op: "invite",
          roomId: "none",
          roomPeerIds: ["b"],
          ...groupSig(h, "alice", "invite", "none", ["b"]),
        }),
        4404,
        true,
      ],
      [
        "not a member",
        f({
          cmd: "room",
          op: "invite",
          roomId: "g1",
          roomPeerIds: ["b"],
          ...groupSig(h, "alice", "invite", "g1", ["b"]),
        }),
        4401,
        true,
      ],
      [
        "watch limit",
        f({
          cmd: "session",
          op: "add",
          sessionPeerIds: ["b", "c"],
          ...sessionSig(h, "alice", ["b", "c"]),
        }),
        4120,
        true,
      ],
    ];
    for (const [what, frame, code, echoesI] of cases) {
      c.send(frame);
      const e = expectError(c, code);
      expect(e.i, what).toBe(echoesI ? 1 : undefined);
    }
    // (1) before everything: frame size before JSON, JSON before the rest.
    const big = h.connect();
    big.send(`{${"x".repeat(70_000)}`);
    expectClosed(big, 4109);
    // (2) a keepalive passes every later check.
    const ka = h.connect();
    ka.send({ appId: "no such app", peerId: ":", i: -1, msg: "x".repeat(6000) });
    expect(ka.drain()).toEqual([{}]);
  });

  it("[ERROR-NOEFFECT-1] changes nothing and sends nothing but the error frame for a failed command", () => {
    const h = signedHarness({
      limits: { ...DEFAULT_LIMITS, maxWatchedPerSession: 3, maxRoomMembers: 2 },
    });
    h.store.createRoom("app1", "g1", h.now);
    h.store.addMembers("app1", "g1", ["alice", "bob"]);
    const a = h.connect();
    signedOpen(a, "alice", ["bob", "carol"]);
    const b = h.connect();
    signedOpen(b, "bob", ["alice"]);
    const others = [h.connect(), h.connect()];
    signedOpen(others[0] as FakeConn, "carol", ["alice", "bob"]);
    signedOpen(others[1] as FakeConn, "dave", ["alice"]);
    const everyone = [a, b, ...others];
    const snapshot = () => ({
      stats: h.engine.stats(),
      members: h.store.members("app1", "g1"),
      history: h.store.history({ appId: "app1", limit: 1000 }),
      pending: ["alice", "bob", "carol", "dave", "erin"].map((p) =>
        h.store.pendingFor("app1", p, 0),
      ),
    });
    for (const c of everyone) c.drain();
    const before = snapshot();
    const failing: Frame[] = [
      { cmd: "direct", msg: "m", toPeerIds: ["bob", "erin"] }, // erin not watched: 4401
      { cmd: "direct", msg: "x".repeat(5121), toPeerIds: ["bob"] },
      { cmd: "direct", msg: "m", roomId: "nope" },
      {
        cmd: "session",
        op: "add",
        sessionPeerIds: ["x", "y"],
        ...sessionSig(h, "alice", ["x", "y"]),
      },
      { cmd: "session", op: "open", sessionPeerIds: ["erin"] }, // a failed re-open
      { cmd: "session", op: "open", sessionPeerIds: [], sp: true, ...sessionSig(h, "alice", []) },
      {
        cmd: "room",
        op: "invite",
        roomId: "g1",
        roomPeerIds: ["erin"],
        ...groupSig(h, "alice", "invite", "g1", ["erin"]),
      },
      { cmd: "room", op: "join", ...groupSig(h, "alice", "kick", undefined, []) },
      { cmd: "room", op: "kick", roomId: "g1", roomPeerIds: ["bob"] },
      { cmd: "room", op: "leave", roomId: "nope" },
      { cmd: "session", op: "close", peerId: "erin" },
      { cmd: "session", op: "remove", sessionPeerIds: ["bob", ":"] },
      { cmd: "ack", ids: [] },
      { cmd: "logs", cid: "somebody-elses" },
      { cmd: "session", op: "query", appId: "app2", sessionPeerIds: [] },
    ];
    for (const [i, f] of failing.entries()) {
      a.send({ peerId: "alice", appId: "app1", ...f, i });
      expect(
        a.drain().map((x) => [x.cmd, x.i]),
        JSON.stringify(f),
      ).toEqual([["error", i]]);
      for (const c of everyone.slice(1)) expect(c.received, JSON.stringify(f)).toEqual([]);
      expect(snapshot(), JSON.stringify(f)).toEqual(before);
    }
    // The watch set and super-peer status did not change either: carol and bob are watched,
    // erin is not, and alice may still not message erin.
    const probe = h.connect();
    signedOpen(probe, "erin");
    expect(a.received).toEqual([]);
    a.send({ peerId: "alice", appId: "app1", cmd: "direct", msg: "m", toPeerIds: ["erin"], i: 99 });
    expect(a.drain().map((x) => x.code)).toEqual([4401]);
    b.disconnect();
    expect(a.drain().map((x) => [nameOf(x), x.status])).toEqual([["presence", "off"]]);
  });

  it("[ERROR-NOEFFECT-1, ERROR-SURVIVE-1] leaves everything as it was after random failing commands", () => {
    const failing = fc.constantFrom<Frame>(
      { cmd: "direct", msg: "m", toPeerIds: ["zed"] },
      { cmd: "direct", msg: "x".repeat(5121), toPeerIds: ["bob"] },
      { cmd: "session", op: "add", sessionPeerIds: ["x"] },
      { cmd: "session", op: "open", sessionPeerIds: ["x"] },
      { cmd: "session", op: "query", peerId: "nobody", sessionPeerIds: [] },
      { cmd: "room", op: "join", roomId: "g1" },
      { cmd: "room", op: "leave", roomId: "g2" },
      { cmd: "direct", msg: "m", roomId: "g2" },
      { cmd: "ack", ids: Array(501).fill("m") },
      { cmd: "what" },
      { cmd: "logs", cid: "x", limit: 5000 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(failing, fc.boolean()), { minLength: 1, maxLength: 15 }),
        (cmds) => {
          const h = signedHarness();
          h.store.createRoom("app1", "g1", h.now);
          const a = h.connect();
          signedOpen(a, "alice", ["bob"]);
          const b = h.connect();
          signedOpen(b, "bob", ["alice"]);
          a.drain();
          b.drain();
          for (const [f, withI] of cmds) {
            a.send({ peerId: "alice", appId: "app1", ...f, ...(withI && { i: 3 }) });
            const got = a.drain();
            expect(got.every((x) => x.cmd === "error")).toBe(true);
            expect(got.length).toBeLessThanOrEqual(1);
          }
          expect(b.received).toEqual([]);
          expect(h.engine.stats()).toEqual({ connections: 2, sessions: 2 });
          expect(h.store.history({ appId: "app1", limit: 10 })).toEqual([]);
          expect(h.store.members("app1", "g1")).toEqual([]);
          expectAlive(a);
        },
      ),
      { numRuns: 60 },
    );
  });
});
