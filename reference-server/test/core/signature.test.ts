/**
 * Chapter 06: signatures. The tests build signed strings by hand where the string is the
 * point, sign with the shared test signer (the protocol package's HMAC-SHA1, which
 * schemas/test/crypto.test.ts checks against Node's and the spec's vectors) and use the
 * vectors of Tables 4 and 5, so they do not trust the server's own code.
 */
import * as protocol from "@confab/protocol";
import { signText, TEST_MASTER_KEY } from "@confab/test-support";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import {
  expectError,
  type FakeConn,
  type Frame,
  freshNonce,
  groupSig,
  type Harness,
  nameOf,
  plainHarness,
  sessionSig,
  signedHarness,
  signedOpen,
  T0,
} from "./support-core.js";

// Wraps the protocol package's constant-time comparison to see that signatures are
// compared with it (SIG-ALG-3); schemas/test/crypto.test.ts tests the comparison itself.
vi.mock("@confab/protocol", async (importOriginal) => {
  const original = await importOriginal<typeof import("@confab/protocol")>();
  return { ...original, sameSecret: vi.fn(original.sameSecret) };
});

/** Sends a command with i and returns the code of its error, or the name of its reply. */
function outcome(c: FakeConn, peerId: string, cmd: string, op: string | undefined, f: Frame) {
  c.cmd(peerId, cmd, op, { ...f, i: 77 });
  const reply = c.drain().filter((x) => x.i === 77);
  expect(reply).toHaveLength(1);
  const r = reply[0] as Frame;
  return r.cmd === "error" ? r.code : nameOf(r);
}

/** A harness that enforces signatures, with group g1 = [alice] and alice's session open. */
function withAlice(): { h: Harness; c: FakeConn } {
  const h = signedHarness();
  h.store.createRoom("app1", "g1", h.now);
  h.store.addMembers("app1", "g1", ["alice"]);
  const c = h.connect();
  signedOpen(c, "alice");
  return { h, c };
}

describe("algorithm (6.1)", () => {
  it("[SIG-ALG-1] accepts the HMAC-SHA1 signatures of the spec's session and group vectors", () => {
    // Table 4: [watch as sent, sp, signature]
    const sessions: [string[], boolean, string][] = [
      [["carol", "bob"], false, "31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e"],
      [[], false, "e9ceb17f10c1fa3c348000863f7e6332aa2c897d"],
      [["carol", "bob"], true, "61c0deb1f07becae78195d20ce9b0069c57fc088"],
      [["carol", "bob"], true, "21230caff57764f88df9150d8ddacf201a517ba9"],
      [[], true, "d835002c15104eb4229386e58f3206c7df8feafe"],
      [["😀", "bob", "Ａ", "bob"], false, "688408b8876fff219adc31f22c26cf111ede9aa5"],
    ];
    for (const [watch, sp, s] of sessions) {
      const h = signedHarness();
      const c = h.connect();
      const f = { sessionPeerIds: watch, s, t: T0, n: "n0nce", ...(sp && { sp }) };
      expect(outcome(c, "alice", "session", "open", f), s).toBe("session/opened");
    }
    // Table 5: [op, roomId, roomPeerIds, signature]
    const groups: [string, string | undefined, string[], string][] = [
      ["invite", "g1", ["carol", "bob"], "6ca832cbc9b3d7e358b962d652526e2d57e8b45c"],
      ["join", undefined, [], "5529070bf3eb8d624a3790296b697bed9c921d41"],
      ["join", "g1", [], "fda382eb850854b19cde4c62d8c5122b98c7b377"],
      ["kick", "g1", ["dave"], "4785cc5580e2ddd90aa024a5394545ee6093f6d6"],
    ];
    const replies: Record<string, string> = {
      invite: "room/invited",
      join: "room/joined",
      kick: "room/kicked",
    };
    for (const [op, roomId, roomPeerIds, s] of groups) {
      const h = signedHarness();
      h.store.createRoom("app1", "g1", h.now);
      if (op !== "join") h.store.addMembers("app1", "g1", ["alice", "dave"]);
      const c = h.connect();
      signedOpen(c, "alice");
      const f: Frame = { s, t: T0, n: "n0nce" };
      if (roomId) f.roomId = roomId;
      if (op !== "join") f.roomPeerIds = roomPeerIds;
      expect(outcome(c, "alice", "room", op, f), s).toBe(replies[op]);
    }
  });

  it("[SIG-ALG-2] accepts a signature only when s is exactly the expected lowercase hex string", () => {
    const { h, c } = withAlice();
    const good = sessionSig(h, "alice", ["bob"]);
    const variants = [
      good.s.toUpperCase(),
      `${good.s} `,
      ` ${good.s}`,
      good.s.slice(0, 39),
      `${good.s}0`,
      `0x${good.s}`,
      Buffer.from(good.s, "hex").toString("base64"),
      good.s.replace(/^./, (ch) => (ch === "0" ? "1" : "0")),
    ];
    for (const s of variants) {
      expect(outcome(c, "alice", "session", "add", { ...good, s, sessionPeerIds: ["bob"] })).toBe(
        4102,
      );
    }
    expect(outcome(c, "alice", "session", "add", { ...good, sessionPeerIds: ["bob"] })).toBe(
      "session/added",
    );
  });

  it("[SIG-ALG-3] compares signatures in constant time, whatever the position of the difference", () => {
    const { h, c } = withAlice();
    const spy = vi.mocked(protocol.sameSecret);
    const good = sessionSig(h, "alice", ["bob"]);
    const flip = (ch: string) => (ch === "0" ? "1" : "0");
    const first = `${flip(good.s.slice(0, 1))}${good.s.slice(1)}`;
    const last = `${good.s.slice(0, 39)}${flip(good.s.slice(39))}`;
    for (const s of [first, last, good.s]) {
      spy.mockClear();
      const n = s === good.s ? good.n : `x${good.n}`;
      c.cmd("alice", "session", "add", { sessionPeerIds: ["bob"], s, t: good.t, n, i: 1 });
      c.drain();
      // One comparison of the whole 40 digits, never a scan that stops at the first difference.
      expect(spy).toHaveBeenCalledTimes(1);
      const [a, b] = spy.mock.calls[0] as [string, string];
      expect([a.length, b.length]).toEqual([40, 40]);
    }
  });
});

describe("enforcement (6.2)", () => {
  it("[SIG-ENFORCE-1] answers open, add, join, invite and kick without a valid signature with 4102", () => {
    const { h, c } = withAlice();
    const partial = (f: { s: string; t: number; n: string }) => [
      {},
      { s: f.s },
      { s: f.s, t: f.t },
      { t: f.t, n: f.n },
      { s: f.s, n: f.n },
    ];
    const cmds: [string, string, Frame, { s: string; t: number; n: string }][] = [
      ["session", "open", { sessionPeerIds: ["bob"] }, sessionSig(h, "alice", ["bob"])],
      ["session", "add", { sessionPeerIds: ["bob"] }, sessionSig(h, "alice", ["bob"])],
      ["room", "join", {}, groupSig(h, "alice", "join", undefined, [])],
      ["room", "join", { roomId: "g1" }, groupSig(h, "alice", "join", "g1", [])],
      [
        "room",
        "invite",
        { roomId: "g1", roomPeerIds: ["bob"] },
        groupSig(h, "alice", "invite", "g1", ["bob"]),
      ],
      [
        "room",
        "kick",
        { roomId: "g1", roomPeerIds: ["bob"] },
        groupSig(h, "alice", "kick", "g1", ["bob"]),
      ],
    ];
    for (const [cmd, op, f, sig] of cmds) {
      for (const fields of partial(sig)) {
        expect(
          outcome(c, "alice", cmd, op, { ...f, ...fields }),
          `${op} ${JSON.stringify(fields)}`,
        ).toBe(4102);
      }
    }
    // The app has no master key: nothing can be signed.
    const nokey = signedHarness({}, { masterKey: undefined });
    const d = nokey.connect();
    expect(outcome(d, "alice", "session", "open", { ...sessionSig(nokey, "alice", []) })).toBe(
      4102,
    );
  });

  it("[SIG-ENFORCE-2] requires no signature for leave, remove, query, close, direct, ack and logs", () => {
    const { h, c } = withAlice();
    const bob = h.connect();
    signedOpen(bob, "bob", ["alice"]);
    bob.drain();
    c.cmd("alice", "session", "add", {
      sessionPeerIds: ["bob"],
      ...sessionSig(h, "alice", ["bob"]),
    });
    c.drain();
    expect(outcome(c, "alice", "direct", undefined, { msg: "m", toPeerIds: ["bob"] })).toBe("ack");
    const id = bob.expectOne("direct").id;
    bob.cmd("bob", "ack", undefined, { ids: [id], i: 1 });
    expect(bob.drain()).toEqual([]); // success: no reply, no error
    expect(outcome(c, "alice", "logs", undefined, { cid: "g1" })).toBe("logs/result");
    expect(outcome(c, "alice", "room", "leave", { roomId: "g1" })).toBe("room/left");
    expect(outcome(c, "alice", "session", "query", { sessionPeerIds: ["bob"] })).toBe(
      "session/query-result",
    );
    expect(outcome(c, "alice", "session", "remove", { sessionPeerIds: ["bob"] })).toBe(
      "session/removed",
    );
    expect(outcome(c, "alice", "session", "close", {})).toBe("session/closed");
  });

  it("[SIG-ENFORCE-3] ignores s, t and n, however malformed, when the app does not enforce signatures", () => {
    const h = plainHarness({}, { masterKey: TEST_MASTER_KEY });
    h.store.createRoom("app1", "g1", h.now);
    h.store.addMembers("app1", "g1", ["alice"]);
    const c = h.connect();
    const junk: Frame[] = [
      { s: "deadbeef", t: T0, n: "n0nce" },
      { s: 5, t: "soon", n: "a:b" },
      { s: "", t: -1, n: "" },
      { s: null, t: 1.5, n: "x".repeat(100) },
    ];
    for (const [k, sig] of junk.entries()) {
      expect(outcome(c, "alice", "session", "open", { sessionPeerIds: [], ...sig })).toBe(
        "session/opened",
      );
      expect(outcome(c, "alice", "session", "add", { sessionPeerIds: [`p${k}`], ...sig })).toBe(
        "session/added",
      );
      expect(outcome(c, "alice", "room", "join", { ...sig })).toBe("room/joined");
      expect(
        outcome(c, "alice", "room", "invite", { roomId: "g1", roomPeerIds: ["bob"], ...sig }),
      ).toBe("room/invited");
      expect(
        outcome(c, "alice", "room", "kick", { roomId: "g1", roomPeerIds: ["bob"], ...sig }),
      ).toBe("room/kicked");
    }
    // The same nonce again and again: no replay protection without enforcement.
    expect(h.engine.drainLog().filter((e) => e.event === "command-failed")).toEqual([]);
  });
});

describe("session signatures (6.3)", () => {
  it("[SIG-SESSION-1] signs app, peer, the distinct watch ids sorted by UTF-16 code units, t and n", () => {
    const h = signedHarness();
    const c = h.connect();
    const sign = (watchText: string, t: number, n: string) =>
      signText(`app1:alice:${watchText}:${t}:${n}`);
    const t = T0;
    const open = (watch: string[], s: string, n: string) =>
      outcome(c, "alice", "session", "open", { sessionPeerIds: watch, s, t, n });
    // Code unit order puts U+1F600 (surrogates D83D DE00) before U+FF21; code point order would not.
    expect(open(["Ａ", "😀", "b", "b"], sign("Ａ:😀:b", t, "n1"), "n1")).toBe(4102);
    expect(open(["Ａ", "😀", "b", "b"], sign("b:Ａ:😀:b", t, "n2"), "n2")).toBe(4102);
    expect(open(["Ａ", "😀", "b", "b"], sign("b:😀:Ａ", t, "n3"), "n3")).toBe("session/opened");
    expect(open(["Zed", "alice", "Bob"], sign("Bob:Zed:alice", t, "n4"), "n4")).toBe(
      "session/opened",
    );
    expect(open([], sign("", t, "n5"), "n5")).toBe("session/opened");
    c.cmd("alice", "session", "open", { s: sign("", t, "n6"), t, n: "n6", i: 1 }); // absent list
    expect(c.drain()).toMatchObject([{ op: "opened", i: 1 }]);
    // session/add signs the ids of the command, not the whole watch set.
    const add = (watch: string[], text: string, n: string) =>
      outcome(c, "alice", "session", "add", { sessionPeerIds: watch, s: sign(text, t, n), t, n });
    expect(add(["c", "a"], "a:c", "n7")).toBe("session/added");
    expect(add(["d"], "a:c:d", "n8")).toBe(4102);
    expect(add(["d"], "d", "n9")).toBe("session/added");
    // Another peer or app in the string does not verify.
    expect(open([], signText(`app1:bob::${t}:n10`), "n10")).toBe(4102);
    expect(open([], signText(`app2:alice::${t}:n11`), "n11")).toBe(4102);
    expect(open([], signText(`app1:alice::${t}:n12`, "otherkey"), "n12")).toBe(4102);
  });

  it("[SIG-SP-1] [SIG-SP-5] verifies a session/open with sp: true against the signed string followed by :sp, never the plain one", () => {
    const h = signedHarness();
    const c = h.connect();
    const open = (f: Frame) =>
      outcome(c, "bot", "session", "open", { sessionPeerIds: ["x"], sp: true, ...f });
    expect(open(sessionSig(h, "bot", ["x"], { suffix: "sp" }))).toBe("session/opened");
    // The plain signature does not make a super peer: it fails.
    expect(open(sessionSig(h, "bot", ["x"]))).toBe(4102);
    // And an :sp signature does not open a plain session.
    expect(
      outcome(c, "bot", "session", "open", {
        sessionPeerIds: ["x"],
        ...sessionSig(h, "bot", ["x"], { suffix: "sp" }),
      }),
    ).toBe(4102);
  });

  it("[SIG-SP-2] also accepts the documented :su suffix for a session/open with sp: true", () => {
    const h = signedHarness();
    const bob = h.connect();
    signedOpen(bob, "bob");
    const c = h.connect();
    const f = { sessionPeerIds: [], sp: true, ...sessionSig(h, "bot", [], { suffix: "su" }) };
    expect(outcome(c, "bot", "session", "open", f)).toBe("session/opened");
    // A real super peer: it reaches bob unwatched.
    expect(outcome(c, "bot", "direct", undefined, { msg: "m", toPeerIds: ["bob"] })).toBe("ack");
  });

  it("[SIG-SP-4] verifies a session/add without suffix, also for a super-peer session", () => {
    const h = signedHarness();
    const c = h.connect();
    signedOpen(c, "bot", [], { sp: true, ...sessionSig(h, "bot", [], { suffix: "sp" }) });
    const add = (f: Frame) => outcome(c, "bot", "session", "add", { sessionPeerIds: ["x"], ...f });
    expect(add(sessionSig(h, "bot", ["x"], { suffix: "sp" }))).toBe(4102);
    expect(add(sessionSig(h, "bot", ["x"], { suffix: "su" }))).toBe(4102);
    // sp on a session/add is an unknown field: it changes nothing.
    expect(add({ sp: true, ...sessionSig(h, "bot", ["x"], { suffix: "sp" }) })).toBe(4102);
    expect(add({ sp: true, ...sessionSig(h, "bot", ["x"]) })).toBe("session/added");
    expect(add(sessionSig(h, "bot", ["x"]))).toBe("session/added");
  });
});

describe("group signatures (6.4)", () => {
  it("[SIG-GROUP-1] signs app, peer, group id, the distinct sorted peer ids, t, n and the action", () => {
    const { h, c } = withAlice();
    const t = Math.floor(h.now / 1000);
    const sign = (text: string) => signText(text);
    const room = (op: string, f: Frame, text: string, n = freshNonce()) =>
      outcome(c, "alice", "room", op, { ...f, t, n, s: sign(`${text}:${t}:${n}:${op}`) });
    // Creating a group signs an empty group id and an empty peer list.
    expect(room("join", {}, "app1:alice::")).toBe("room/joined");
    expect(room("join", { roomId: "g1" }, "app1:alice:g1:")).toBe("room/joined");
    expect(
      room("invite", { roomId: "g1", roomPeerIds: ["z", "b", "z"] }, "app1:alice:g1:b:z"),
    ).toBe("room/invited");
    expect(room("invite", { roomId: "g1", roomPeerIds: ["c", "a"] }, "app1:alice:g1:c:a")).toBe(
      4102,
    );
    expect(room("kick", { roomId: "g1", roomPeerIds: ["b"] }, "app1:alice:g1:b")).toBe(
      "room/kicked",
    );
    // The action is part of the string: a join signature does not sign a kick.
    const n = freshNonce();
    const joinSig = sign(`app1:alice:g1:z:${t}:${n}:join`);
    expect(
      outcome(c, "alice", "room", "kick", { roomId: "g1", roomPeerIds: ["z"], s: joinSig, t, n }),
    ).toBe(4102);
    expect(room("kick", { roomId: "g1", roomPeerIds: ["z"] }, "app1:alice:g1:z:invite")).toBe(4102);
  });
});

describe("replay protection (6.5)", () => {
  it("[SIG-TIME-1] answers with 4102 a signed command whose t is more than 300 seconds from the clock", () => {
    const h = signedHarness();
    h.now = T0 * 1000 + 999; // the clock reads T0 in whole seconds
    const c = h.connect();
    const open = (t: number) =>
      outcome(c, "alice", "session", "open", {
        sessionPeerIds: [],
        ...sessionSig(h, "alice", [], { t }),
      });
    expect(open(T0 - 301)).toBe(4102);
    expect(open(T0 + 301)).toBe(4102);
    expect(open(0)).toBe(4102);
    expect(open(T0 * 1000)).toBe(4102); // milliseconds instead of seconds
    expect(open(T0 - 300)).toBe("session/opened");
    expect(open(T0 + 300)).toBe("session/opened");
    expect(open(T0)).toBe("session/opened");
  });

  it("[SIG-NONCE-2] answers with 4102 a nonce that an earlier verified signature of the app used within the window", () => {
    const h = signedHarness({
      apps: new Map([
        ["app1", { appId: "app1", masterKey: TEST_MASTER_KEY, enforceSignatures: true }],
        ["app2", { appId: "app2", masterKey: TEST_MASTER_KEY, enforceSignatures: true }],
      ]),
    });
    const c = h.connect();
    const open = (peer: string, n: string, t = Math.floor(h.now / 1000)) =>
      outcome(c, peer, "session", "open", {
        sessionPeerIds: [],
        ...sessionSig(h, peer, [], { n, t }),
      });
    expect(open("alice", "once")).toBe("session/opened");
    expect(open("alice", "once")).toBe(4102); // the same command replayed
    expect(open("bob", "once")).toBe(4102); // another peer, another string, same nonce
    c.cmd("alice", "room", "join", {
      ...groupSig(h, "alice", "join", undefined, [], { n: "once" }),
      i: 1,
    });
    expectError(c, 4102, { i: 1 });
    // Used even when the command then failed for another reason.
    const small = signedHarness({ limits: { ...h.engine.config.limits, maxWatchedPerSession: 1 } });
    const d = small.connect();
    signedOpen(d, "alice");
    d.cmd("alice", "session", "add", {
      sessionPeerIds: ["x", "y"],
      ...sessionSig(small, "alice", ["x", "y"], { n: "burnt" }),
      i: 2,
    });
    expectError(d, 4120, { i: 2 });
    d.cmd("alice", "session", "add", {
      sessionPeerIds: ["x"],
      ...sessionSig(small, "alice", ["x"], { n: "burnt" }),
      i: 3,
    });
    expectError(d, 4102, { i: 3 });
    // Another app may use the same nonce.
    const other = h.connect();
    other.send({
      cmd: "session",
      op: "open",
      appId: "app2",
      peerId: "alice",
      i: 4,
      sessionPeerIds: [],
      ...sessionSig(h, "alice", [], { n: "once", appId: "app2" }),
    });
    expect(other.drain()).toMatchObject([{ op: "opened", i: 4 }]);
    // While the first signature's t is within 300 s of the clock, the nonce stays used...
    const t0 = Math.floor(h.now / 1000);
    h.now += 300_999;
    expect(open("carol", "once")).toBe(4102);
    // ...and afterwards it may be used again.
    h.now += 1;
    expect(Math.floor(h.now / 1000) - t0).toBe(301);
    expect(open("carol", "once")).toBe("session/opened");
  });

  it("[SIG-NONCE-3] does not reject a nonce that appeared only in signatures that failed verification", () => {
    const h = signedHarness();
    const c = h.connect();
    const good = sessionSig(h, "alice", ["bob"], { n: "fresh" });
    const attempts: Frame[] = [
      { ...good, s: good.s.toUpperCase() }, // wrong s
      { ...good, t: good.t + 1 }, // s for another t
      { ...sessionSig(h, "alice", ["bob"], { n: "fresh", t: T0 - 1000 }) }, // expired
      { ...sessionSig(h, "alice", ["bob"], { n: "fresh", key: "wrong" }) },
    ];
    for (const f of attempts) {
      expect(outcome(c, "alice", "session", "open", { sessionPeerIds: ["bob"], ...f })).toBe(4102);
    }
    expect(outcome(c, "alice", "session", "open", { sessionPeerIds: ["bob"], ...good })).toBe(
      "session/opened",
    );
  });

  it("[SIG-ALG-1, SIG-ALG-2, SIG-SESSION-1, SIG-SP-1, SIG-SP-2, SIG-NONCE-3] accepts exactly the right signature for random peers and watch lists", () => {
    const char = fc.constantFrom("a", "b", "Z", "0", "😀", "Ａ", "é", " ", "_", "中", "\u{10ffff}");
    const id = fc.array(char, { minLength: 1, maxLength: 8 }).map((cs) => cs.join(""));
    fc.assert(
      fc.property(
        id,
        fc.array(id, { maxLength: 6 }),
        fc.constantFrom(undefined, "sp" as const, "su" as const),
        (peer, watch, suffix) => {
          const h = signedHarness();
          const c = h.connect();
          const n = freshNonce();
          const t = T0;
          const sorted = [...new Set(watch)].sort().join(":");
          const base = `app1:${peer}:${sorted}:${t}:${n}`;
          const right = signText(suffix ? `${base}:${suffix}` : base);
          const wrong = new Set([
            right.toUpperCase(),
            right.replace(/.$/, (ch) => (ch === "f" ? "e" : "f")),
            signText(suffix ? base : `${base}:sp`),
            signText(`app1:${peer}:${watch.join(":")}:${t}:${n}${suffix ? `:${suffix}` : ""}`),
            signText(
              `app1:${peer}:${[...watch].sort().join(":")}:${t}:${n}${suffix ? `:${suffix}` : ""}`,
            ),
            signText(suffix ? `${base}:${suffix}` : base, "masterkey2"),
            signText(`${suffix ? `${base}:${suffix}` : base}:`),
          ]);
          wrong.delete(right); // a "mutation" that changes nothing is no mutation
          const sp = suffix ? { sp: true } : {};
          for (const s of wrong) {
            const f = { sessionPeerIds: watch, s, t, n, ...sp };
            expect(outcome(c, peer, "session", "open", f)).toBe(4102);
          }
          const f = { sessionPeerIds: watch, s: right, t, n, ...sp };
          expect(outcome(c, peer, "session", "open", f)).toBe("session/opened");
        },
      ),
      { numRuns: 150 },
    );
  });
});
