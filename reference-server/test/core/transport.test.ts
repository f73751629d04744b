/**
 * Chapter 01 (framing, the serial `i`, keepalive, timeouts, flood control) and chapter 09
 * (versioning) as the protocol core sees them. WebSocket-level rules (handshakes,
 * subprotocols, ping frames, binary frames at the socket, 1009) belong to the adapter tests.
 */
import { readdirSync, readFileSync } from "node:fs";
import { conversationId } from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { engineConfig, specViolations } from "../../src/core/config.js";
import {
  connectWith,
  expectAlive,
  expectClosed,
  expectError,
  type FakeConn,
  type Frame,
  Harness,
  nameOf,
  names,
  plainHarness,
  sendBinary,
  sessionSig,
  signedHarness,
  signedOpen,
  TABLE7,
} from "./support-core.js";

/** Two connected peers that watch each other, plus a second device of alice. */
function pair(h: Harness = new Harness()) {
  const a = h.connect();
  const b = h.connect();
  const a2 = h.connect();
  a.open("alice", ["bob"]);
  b.open("bob", ["alice"]);
  a2.open("alice", ["bob"]);
  for (const c of [a, b, a2]) c.drain();
  return { h, a, b, a2 };
}

describe("framing (1.3)", () => {
  it("[FRAME-TEXT-1, FRAME-BINARY-1] sends every protocol message as one JSON object in a text frame", () => {
    const h = new Harness();
    const outputs: unknown[] = [];
    const run = h.run.bind(h);
    h.run = (o) => {
      outputs.push(...o);
      run(o);
    };
    const { a, b } = pair(h);
    a.send({});
    a.cmd("alice", "direct", undefined, { msg: "hi", toPeerIds: ["bob"] });
    b.cmd("bob", "session", "query", { sessionPeerIds: ["alice"], i: 1 });
    b.cmd("bob", "nope", undefined, {});
    a.send("not json");
    expect(outputs.length).toBeGreaterThan(5);
    for (const o of outputs as { type: string; frame?: unknown }[]) {
      expect(["send", "close"]).toContain(o.type);
      if (o.type !== "send") continue;
      // A plain object that survives JSON: the adapter sends JSON.stringify(frame) as text.
      expect(Object.getPrototypeOf(o.frame)).toBe(Object.prototype);
      expect(JSON.parse(JSON.stringify(o.frame))).toEqual(o.frame);
    }
  });

  it("[FRAME-BINARY-2] closes with 4114 a connection that sends a binary message", () => {
    const h = new Harness();
    const a = h.connect();
    a.open("alice");
    sendBinary(a);
    expectClosed(a, 4114);
    expect(h.engine.stats()).toEqual({ connections: 0, sessions: 0 });
    const b = h.connect();
    sendBinary(b); // also before any command
    expectClosed(b, 4114);
  });

  it("[FRAME-JSON-1] closes with 4114 a connection that sends a text frame that is not JSON", () => {
    const h = new Harness();
    for (const text of ["", "{", "{'cmd':1}", '{"a":1,}', "NaN", "{} {}", "undefined", "\u00a0"]) {
      const c = h.connect();
      c.open("alice");
      c.send(text);
      expectClosed(c, 4114);
    }
  });

  it("[FRAME-JSON-2] closes with 4114 a connection that sends JSON that is not an object", () => {
    const h = new Harness();
    for (const text of ["[]", "[{}]", "1", '"{}"', "null", "true"]) {
      const c = h.connect();
      c.send(text);
      expectClosed(c, 4114);
    }
  });

  it("[FRAME-SIZE-1] closes with 4109 a frame over 65536 bytes and accepts one of exactly 65536", () => {
    const h = new Harness();
    const c = h.connect();
    const frame = (bytes: number) => {
      // "é" is two bytes of UTF-8: the limit counts bytes, not characters.
      const pad = bytes - '{"x":""}'.length;
      return `{"x":"${"é".repeat(Math.floor(pad / 2))}${"a".repeat(pad % 2)}"}`;
    };
    expect(Buffer.byteLength(frame(65536))).toBe(65536);
    c.send(frame(65536));
    expect(c.drain()).toEqual([{}]);
    c.send(frame(65537));
    expectClosed(c, 4109);
  });

  it("[FRAME-SCHEMA-1] answers an unknown cmd or cmd/op with error 4114 and keeps the connection", () => {
    const { a } = pair();
    const bad: Frame[] = [
      { cmd: "presence" },
      { cmd: "keepalive" },
      { cmd: "session", op: "opened" },
      { cmd: "session", op: "nope" },
      { cmd: "session" },
      { cmd: "room", op: "reject", roomId: "g" },
      { cmd: "direct", op: "send", msg: "x", toPeerIds: ["bob"] },
      { cmd: "logs", op: "result", cid: "c" },
      { cmd: 7 },
      { cmd: null },
    ];
    for (const [i, f] of bad.entries()) {
      a.send({ peerId: "alice", appId: "app1", ...f, i });
      const e = expectError(a, 4114, { i, peerId: "alice" });
      expect(String(e.detail)).toMatch(/\/(cmd|op)/);
    }
    expectAlive(a);
  });

  it("[FRAME-SCHEMA-2] answers a command that fails its schema with error 4114 naming the field", () => {
    const { a } = pair();
    const cases: [Frame, RegExp][] = [
      [{ cmd: "direct", toPeerIds: ["bob"] }, /\/msg/],
      [{ cmd: "direct", msg: 5, toPeerIds: ["bob"] }, /\/msg/],
      [{ cmd: "direct", msg: "x", toPeerIds: "bob" }, /\/toPeerIds/],
      [{ cmd: "direct", msg: "x", toPeerIds: ["bob"], transient: "yes" }, /\/transient/],
      [{ cmd: "session", op: "add" }, /\/sessionPeerIds/],
      [{ cmd: "session", op: "query", sessionPeerIds: [1] }, /\/sessionPeerIds\/0/],
      [{ cmd: "logs", cid: "c", limit: 0 }, /\/limit/],
      [{ cmd: "logs", cid: "c", limit: 1001 }, /\/limit/],
      [{ cmd: "logs", cid: "c", msgid: "m" }, /max_ts/],
      [{ cmd: "ack", ids: [""] }, /\/ids\/0/],
    ];
    for (const [f, field] of cases) {
      a.send({ peerId: "alice", appId: "app1", i: 9, ...f });
      expect(String(expectError(a, 4114, { i: 9 }).detail)).toMatch(field);
    }
    expectAlive(a);
  });

  it("[FRAME-PEERID-1] sets peerId on every frame for a session to that session's peer", () => {
    const h = new Harness();
    const a = h.connect();
    // Two peers on one connection, each watching the other and carol.
    a.open("alice", ["carol"]);
    a.open("bob", ["carol", "alice"]);
    const c = h.connect();
    c.open("carol", ["alice", "bob"]);
    c.cmd("carol", "direct", undefined, { msg: "hi", toPeerIds: ["alice", "bob"] });
    a.cmd("alice", "session", "query", { sessionPeerIds: ["bob"] });
    a.cmd("bob", "session", "add", { sessionPeerIds: ["dave"] });
    c.disconnect();
    const frames = a.drain();
    const byPeer = (peer: string) => frames.filter((f) => f.peerId === peer).map(nameOf);
    expect(byPeer("alice")).toEqual(["presence", "direct", "session/query-result", "presence"]);
    expect(byPeer("bob")).toEqual(["presence", "direct", "session/added", "presence"]);
    expect(frames.every((f) => f.peerId === "alice" || f.peerId === "bob")).toBe(true);
  });

  it("[FRAME-ORIGIN-1, FRAME-ORIGIN-2, FRAME-ORIGIN-3] closes with 4110 a connection whose Origin the app does not allow, and allows one without Origin", () => {
    const h = plainHarness({}, { allowedOrigins: ["https://app.example"] });
    const bad = connectWith(h, { origin: "https://evil.example" });
    bad.send({}); // the keepalive binds no app: the check waits for the first command
    expect(bad.drain()).toEqual([{}]);
    bad.cmd("alice", "session", "open", { sessionPeerIds: [] });
    expect(bad.drain()).toMatchObject([{ cmd: "error", code: 4110, peerId: "alice" }]);
    expectClosed(bad, 4110);
    const good = connectWith(h, { origin: "https://app.example" });
    expect(good.open("alice")).toMatchObject({ peerId: "alice" });
    // A native client sends no Origin: origin checks protect web pages only.
    const native = connectWith(h, {});
    expect(native.open("bob")).toMatchObject({ peerId: "bob" });
    // Another app without a restriction accepts any origin.
    const open = connectWith(new Harness(), { origin: "https://evil.example" });
    expect(open.open("carol")).toMatchObject({ peerId: "carol" });
  });
});

describe("the serial i (1.4)", () => {
  it("[SERIAL-INVALID-1] answers a command whose i is not an integer from 0 to 2147483647 with 4114, without i", () => {
    const { a } = pair();
    for (const i of [-1, 2147483648, 1.5, "1", null, true, [], {}, 1e300]) {
      a.send({
        cmd: "session",
        op: "query",
        peerId: "alice",
        appId: "app1",
        sessionPeerIds: [],
        i,
      });
      const e = expectError(a, 4114, { peerId: "alice" });
      expect(e).not.toHaveProperty("i");
      expect(String(e.detail)).toMatch(/\/i /);
    }
    // Also for commands that get no reply without i: an invalid i is still an i.
    a.send({ cmd: "ack", peerId: "alice", appId: "app1", ids: ["x"], i: -5 });
    expect(expectError(a, 4114)).not.toHaveProperty("i");
    for (const i of [0, 2147483647]) {
      a.send({
        cmd: "session",
        op: "query",
        peerId: "alice",
        appId: "app1",
        sessionPeerIds: [],
        i,
      });
      expect(a.drain()).toMatchObject([{ op: "query-result", i }]);
    }
  });

  /** Every command, with the name of its success reply (undefined: none). */
  function everyCommand(h: Harness, a: FakeConn): [Frame, string | undefined][] {
    // alice and bob have talked, and alice is in group g1 with bob and carol.
    a.cmd("alice", "direct", undefined, { msg: "x", toPeerIds: ["bob"] });
    h.store.createRoom("app1", "g1", h.now);
    h.store.addMembers("app1", "g1", ["alice", "bob", "carol"]);
    a.drain();
    const cid = conversationId(["alice", "bob"]);
    return [
      [{ cmd: "session", op: "open", sessionPeerIds: ["bob"] }, "session/opened"],
      [{ cmd: "session", op: "add", sessionPeerIds: ["carol"] }, "session/added"],
      [{ cmd: "session", op: "remove", sessionPeerIds: ["carol"] }, "session/removed"],
      [{ cmd: "session", op: "query", sessionPeerIds: ["bob"] }, "session/query-result"],
      [{ cmd: "direct", msg: "p", toPeerIds: ["bob"] }, "ack"],
      [{ cmd: "direct", msg: "t", toPeerIds: ["bob"], transient: true }, "ack"],
      [{ cmd: "ack", ids: ["unknown"] }, undefined],
      [{ cmd: "room", op: "join" }, "room/joined"],
      [{ cmd: "room", op: "invite", roomId: "g1", roomPeerIds: ["dave"] }, "room/invited"],
      [{ cmd: "room", op: "kick", roomId: "g1", roomPeerIds: ["dave"] }, "room/kicked"],
      [{ cmd: "room", op: "leave", roomId: "g1" }, "room/left"],
      [{ cmd: "logs", cid }, "logs/result"],
      [{ cmd: "session", op: "close" }, "session/closed"],
    ];
  }

  it("[SERIAL-REPLY-1] answers every command but ack that carries i with exactly one frame carrying that i", () => {
    const { h, a, b, a2 } = pair();
    for (const [n, [f, reply]] of everyCommand(h, a).entries()) {
      const i = 1000 + n;
      a.cmd("alice", String(f.cmd), f.op as string | undefined, { ...f, i });
      const frames = a.drain();
      const withI = frames.filter((x) => x.i !== undefined);
      if (reply === undefined) expect(withI).toEqual([]);
      else expect(withI.map((x) => [nameOf(x), x.i])).toEqual([[reply, i]]);
    }
    // Failures are answered with one error frame carrying i as well.
    const c = h.connect();
    c.cmd("zed", "session", "query", { sessionPeerIds: [], i: 7 });
    c.cmd("zed", "ack", undefined, { ids: ["x"], i: 8 });
    c.cmd("zed", "session", "open", { peerId: "", i: 9 });
    expect(c.drain().map((x) => [x.cmd, x.code, x.i])).toEqual([
      ["error", 4105, 7],
      ["error", 4105, 8],
      ["error", 4103, 9],
    ]);
    for (const other of [b, a2]) expect(other.drain().filter((x) => x.i !== undefined)).toEqual([]);
  });

  it("[SERIAL-LEGACY-1] answers every command without i that awaits a reply with exactly one frame", () => {
    const { h, a } = pair();
    for (const [f, reply] of everyCommand(h, a)) {
      const silent =
        reply === undefined || f.op === "remove" || f.op === "close" || f.transient === true;
      if (silent) continue;
      a.cmd("alice", String(f.cmd), f.op as string | undefined, f);
      const replies = a.drain().filter((x) => nameOf(x) === reply || x.cmd === "error");
      expect(replies.map(nameOf), JSON.stringify(f)).toEqual([reply]);
    }
    // A failed legacy command gets exactly one error frame.
    a.cmd("alice", "direct", undefined, { msg: "x", toPeerIds: ["alice"] });
    a.cmd("alice", "room", "leave", { roomId: "nowhere" });
    a.cmd("nobody", "session", "query", { sessionPeerIds: [] });
    a.cmd("alice", "whatever", undefined, {});
    expect(a.drain().map((x) => [x.cmd, x.code])).toEqual([
      ["error", 4401],
      ["error", 4404],
      ["error", 4105],
      ["error", 4114],
    ]);
  });

  it("[SERIAL-LEGACY-2] sends nothing for session/remove, session/close, transient direct and ack without i, success or failure", () => {
    const { h, a } = pair();
    const silent: Frame[] = [
      { cmd: "session", op: "remove", sessionPeerIds: ["bob", "zed"] },
      { cmd: "direct", msg: "typing", toPeerIds: ["bob"], transient: true },
      { cmd: "ack", ids: ["m1", "m2"] },
      { cmd: "session", op: "close" },
    ];
    for (const f of silent) {
      a.cmd("alice", String(f.cmd), f.op as string | undefined, f);
      expect(a.drain(), JSON.stringify(f)).toEqual([]);
    }
    // Failing ones: no session, bad fields, over limits.
    const failing: Frame[] = [
      ...silent,
      { cmd: "session", op: "remove", sessionPeerIds: Array(501).fill("x") },
      { cmd: "ack", ids: [] },
      { cmd: "direct", msg: "x".repeat(6000), toPeerIds: ["bob"], transient: true },
    ];
    for (const f of failing) {
      a.cmd("alice", String(f.cmd), f.op as string | undefined, f);
      expect(a.drain(), JSON.stringify(f)).toEqual([]);
    }
    a.open("alice", ["bob"]);
    a.cmd("alice", "direct", undefined, { msg: "t", toPeerIds: ["alice"], transient: true });
    a.cmd("alice", "session", "remove", { sessionPeerIds: ["bad:id"] });
    a.cmd("alice", "ack", undefined, { ids: ["x"], appId: "other" });
    expect(a.drain()).toEqual([]);
    expect(h.engine.drainLog().filter((e) => e.event === "command-failed").length).toBe(10);
  });

  it("[SERIAL-ACK-1] sends no success reply to a client ack, with or without i", () => {
    const { a, b } = pair();
    a.cmd("alice", "direct", undefined, { msg: "x", toPeerIds: ["bob"] });
    const id = b.expectOne("direct").id;
    b.cmd("bob", "ack", undefined, { ids: [id] });
    b.cmd("bob", "ack", undefined, { ids: [id], i: 5 });
    b.cmd("bob", "ack", undefined, { ids: ["never-sent"], i: 6 });
    expect(b.drain()).toEqual([]);
  });

  it("[SERIAL-ACK-3] answers a failing client ack that carries i with one error frame carrying it", () => {
    const { a } = pair();
    a.cmd("zed", "ack", undefined, { ids: ["x"], i: 1 });
    expectError(a, 4105, { i: 1, peerId: "zed" });
    a.cmd("alice", "ack", undefined, { ids: [], i: 2 });
    expectError(a, 4114, { i: 2, peerId: "alice" });
    a.cmd("alice", "ack", undefined, { ids: Array(501).fill("x"), i: 3 });
    expectError(a, 4120, { i: 3, peerId: "alice" });
  });

  it("[SERIAL-ORDER-1] replies to commands without i and to keepalives in the order it received them", () => {
    const { a } = pair();
    a.send({});
    a.cmd("alice", "session", "query", { sessionPeerIds: ["bob"] });
    a.send({ anything: 1 });
    a.cmd("alice", "direct", undefined, { msg: "x", toPeerIds: ["bob"] });
    a.cmd("alice", "session", "remove", { sessionPeerIds: ["bob"] });
    a.cmd("alice", "session", "add", { sessionPeerIds: ["bob"] });
    a.cmd("alice", "session", "query", { sessionPeerIds: ["x:y"] });
    a.send({});
    a.cmd("carol", "session", "open", { sessionPeerIds: [] });
    expect(names(a)).toEqual([
      "keepalive",
      "session/query-result",
      "keepalive",
      "ack",
      "session/added",
      "error",
      "keepalive",
      "session/opened",
    ]);
  });

  it("[SERIAL-ORDER-2] answers commands with i in arrival order as well (it never reorders replies)", () => {
    const { a } = pair();
    for (let i = 0; i < 5; i++) a.cmd("alice", "session", "query", { sessionPeerIds: [], i });
    a.send({});
    expect(a.drain().map((f) => f.i ?? "{}")).toEqual([0, 1, 2, 3, 4, "{}"]);
  });

  it("[SERIAL-ECHO-1] puts i on the reply to its command only, never on events or copies", () => {
    const h = new Harness();
    const { a, b, a2 } = pair(h);
    const c = h.connect();
    c.cmd("carol", "session", "open", { sessionPeerIds: ["alice"], i: 1 }); // no presence: not watched
    a.cmd("alice", "session", "add", { sessionPeerIds: ["carol"], i: 2 });
    a.cmd("alice", "direct", undefined, { msg: "hi", toPeerIds: ["bob", "carol"], i: 3 });
    a.cmd("alice", "room", "join", { i: 4 });
    c.cmd("carol", "session", "close", { i: 5 });
    c.cmd("carol", "session", "open", { sessionPeerIds: [], i: 6 });
    b.cmd("bob", "direct", undefined, { msg: "yo", toPeerIds: ["alice"], i: 7, transient: true });
    expect(
      a
        .drain()
        .filter((f) => f.i !== undefined)
        .map((f) => [nameOf(f), f.i]),
    ).toEqual([
      ["session/added", 2],
      ["ack", 3],
      ["room/joined", 4],
    ]);
    expect(
      c
        .drain()
        .filter((f) => f.i !== undefined)
        .map((f) => f.i),
    ).toEqual([1, 5, 6]);
    expect(
      b
        .drain()
        .filter((f) => f.i !== undefined)
        .map((f) => f.i),
    ).toEqual([7]);
    const copies = a2.drain();
    expect(copies.map(nameOf)).toEqual(expect.arrayContaining(["direct", "room/joined"]));
    expect(copies.filter((f) => f.i !== undefined)).toEqual([]);
  });
});

describe("keepalive (1.5)", () => {
  it("[KEEPALIVE-DEF-1] treats every JSON object without cmd as a keepalive, whatever else it holds", () => {
    const { a } = pair();
    for (const f of [{}, { op: "open" }, { peerId: "alice", appId: "nope", i: 3 }, { CMD: "x" }]) {
      a.send(f);
      expect(a.drain()).toEqual([{}]);
    }
    a.send('{"x":"\\ud800","msg":"\\udfff"}'); // not even its strings are checked
    expect(a.drain()).toEqual([{}]);
    expectAlive(a);
  });

  it("[KEEPALIVE-REPLY-1] answers every keepalive with a frame that is exactly {}", () => {
    const h = new Harness();
    const outputs: unknown[] = [];
    const run = h.run.bind(h);
    h.run = (o) => {
      outputs.push(...o);
      run(o);
    };
    const c = h.connect();
    c.send({ i: 1, peerId: "p" });
    expect(outputs).toEqual([{ type: "send", conn: c.id, frame: {} }]);
    expect(JSON.stringify((outputs[0] as { frame: unknown }).frame)).toBe("{}");
  });

  it("[KEEPALIVE-REPLY-2] answers a keepalive whether or not the connection has an app or a session", () => {
    const h = plainHarness();
    const c = h.connect();
    c.send({}); // no app yet
    expect(c.drain()).toEqual([{}]);
    c.cmd("alice", "session", "query", { sessionPeerIds: [], i: 1 }); // binds, no session
    c.drain();
    c.send({});
    expect(c.drain()).toEqual([{}]);
    c.open("alice");
    c.send({});
    expect(c.drain()).toEqual([{}]);
    c.cmd("alice", "session", "close", {});
    c.send({});
    expect(c.drain()).toEqual([{}]);
  });

  it("[KEEPALIVE-REPLY-3] sends {} only in answer to a keepalive, whatever happens on the connection", () => {
    const command = fc.oneof(
      fc.constant<Frame | "ka">("ka"),
      fc.record({
        cmd: fc.constantFrom("session", "direct", "ack", "room", "logs"),
        op: fc.constantFrom(undefined, "open", "close", "add", "query", "join"),
        peerId: fc.constantFrom("alice", "bob"),
        msg: fc.constant("m"),
        toPeerIds: fc.constant(["bob"]),
        sessionPeerIds: fc.constant(["bob"]),
        ids: fc.constant(["x"]),
        i: fc.constantFrom(undefined, 1),
      }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 25 }), (cmds) => {
        const h = new Harness();
        const a = h.connect();
        const b = h.connect();
        b.open("bob", ["alice"]);
        b.drain();
        let keepalives = 0;
        for (const f of cmds) {
          if (f === "ka") {
            keepalives++;
            a.send({});
          } else {
            const frame: Frame = { ...f, appId: "app1" };
            for (const k of Object.keys(frame)) if (frame[k] === undefined) delete frame[k];
            a.send(frame);
          }
        }
        const empty = (c: FakeConn) => c.drain().filter((x) => Object.keys(x).length === 0);
        expect(empty(a)).toHaveLength(keepalives);
        expect(empty(b)).toHaveLength(0);
      }),
      { numRuns: 60 },
    );
  });
});

describe("timeouts (1.6)", () => {
  it("[TIMEOUT-READ-1] closes with 4107 a connection that sent nothing for the read timeout; frames and pings reset it", () => {
    const h = new Harness({ readTimeoutMs: 10_000, loginTimeoutMs: 1_000_000 });
    const quiet = h.connect();
    const chatty = h.connect();
    const pinging = h.connect();
    for (let s = 0; s < 30; s++) {
      h.advance(1000);
      chatty.send({});
      h.engine.activity(pinging.id, h.now); // a WebSocket ping or pong
    }
    expect(quiet.drain()).toMatchObject([{ cmd: "error", code: 4107 }]);
    expectClosed(quiet, 4107);
    expect(chatty.closed).toBeUndefined();
    expect(pinging.closed).toBeUndefined();
    h.advance(9999);
    expect(pinging.closed).toBeUndefined();
    h.advance(1);
    expectClosed(pinging, 4107);
  });

  it("[TIMEOUT-READ-2] never uses a read timeout under 200 seconds by default, and flags a shorter one", () => {
    expect(engineConfig().readTimeoutMs).toBeGreaterThanOrEqual(200_000);
    expect(specViolations(engineConfig())).toEqual([]);
    expect(specViolations(engineConfig({ readTimeoutMs: 199_999 }))).toHaveLength(1);
    // A client that only pings every 180 seconds survives.
    const h = new Harness({ loginTimeoutMs: 10_000_000 });
    const c = h.connect();
    for (let n = 0; n < 5; n++) {
      h.advance(180_000);
      h.engine.activity(c.id, h.now);
    }
    expect(c.closed).toBeUndefined();
    const logs = new Harness({ readTimeoutMs: 1000 }).engine.drainLog();
    expect(logs).toContainEqual(expect.objectContaining({ event: "config-outside-spec" }));
  });

  it("[TIMEOUT-READ-3] uses a read timeout of 300 seconds by default", () => {
    expect(engineConfig().readTimeoutMs).toBe(300_000);
    const h = new Harness({ loginTimeoutMs: 10_000_000 });
    const c = h.connect();
    h.advance(299_999);
    expect(c.closed).toBeUndefined();
    h.advance(1);
    expectClosed(c, 4107);
  });

  it("[TIMEOUT-LOGIN-1] closes with 4108 a connection without an open session for the login timeout", () => {
    const h = new Harness({ loginTimeoutMs: 5000 });
    // Counted from the opening: keepalives and failed opens do not count.
    const idle = h.connect();
    const failing = h.connect();
    const logged = h.connect();
    for (let s = 0; s < 5; s++) {
      if (s === 3) logged.open("alice");
      idle.send({});
      failing.cmd("bob", "session", "open", { peerId: "", i: s });
      h.advance(999);
    }
    h.advance(4); // 4999 ms: not yet
    expect(idle.closed).toBeUndefined();
    h.advance(1);
    expectClosed(idle, 4108);
    expectClosed(failing, 4108);
    expect(logged.closed).toBeUndefined();
    // Counted again from the end of the last session.
    logged.open("bob");
    logged.cmd("alice", "session", "close", {});
    h.advance(10_000);
    expect(logged.closed).toBeUndefined();
    logged.cmd("bob", "session", "close", {});
    h.advance(4999);
    expect(logged.closed).toBeUndefined();
    h.advance(1);
    expect(logged.drain().at(-1)).toMatchObject({ cmd: "error", code: 4108 });
    expectClosed(logged, 4108);
  });

  it("[TIMEOUT-LOGIN-2] uses a login timeout of 60 seconds by default", () => {
    expect(engineConfig().loginTimeoutMs).toBe(60_000);
    const h = new Harness();
    const c = h.connect();
    h.advance(59_999);
    expect(c.closed).toBeUndefined();
    h.advance(1);
    expectClosed(c, 4108);
  });
});

describe("flood control (1.7)", () => {
  it("[FLOOD-RATE-1] accepts frames up to the configured rate, and any rate when the limit is off", () => {
    const h = new Harness({ rateLimit: { perSecond: 10, burst: 20 } });
    const c = h.connect();
    for (let n = 0; n < 20; n++) c.send({});
    expect(c.drain()).toHaveLength(20);
    for (let s = 0; s < 5; s++) {
      h.now += 1000; // 10 more frames each second
      for (let n = 0; n < 10; n++) c.send({});
    }
    expect(c.drain()).toHaveLength(50);
    expect(c.closed).toBeUndefined();
    const off = new Harness({ rateLimit: { perSecond: 0, burst: 0 } });
    const d = off.connect();
    for (let n = 0; n < 5000; n++) d.send({});
    expect(d.drain()).toHaveLength(5000);
  });

  it("[FLOOD-CLOSE-1] closes with 4116 a connection that exceeds the frame rate limit", () => {
    const h = new Harness({ rateLimit: { perSecond: 2, burst: 3 } });
    const c = h.connect();
    c.open("alice");
    const watcher = h.connect();
    watcher.open("bob", ["alice"]);
    watcher.drain();
    c.send({});
    c.send({});
    expect(c.closed).toBeUndefined();
    c.send({});
    expect(c.drain()).toEqual([
      {},
      {},
      { cmd: "error", code: 4116, reason: expect.any(String), detail: expect.any(String) },
    ]);
    expectClosed(c, 4116);
    // Its sessions ended with it.
    expect(watcher.drain()).toMatchObject([{ cmd: "presence", status: "off" }]);
  });
});

describe("versioning (chapter 09)", () => {
  it("[VERSION-UNKNOWN-1] ignores fields a command does not define", () => {
    const h = signedHarness();
    const a = h.connect();
    const extra = { future: { nested: [1, "\ud800"] }, "\ud800": 1, version: 2, sig: "x" };
    a.send({
      ...extra,
      cmd: "session",
      op: "open",
      peerId: "alice",
      appId: "app1",
      sessionPeerIds: ["bob"],
      ...sessionSig(h, "alice", ["bob"]),
    });
    expect(a.drain()).toMatchObject([{ op: "opened" }]);
    const b = h.connect();
    signedOpen(b, "bob", ["alice"]);
    a.drain();
    const cmds: Frame[] = [
      { cmd: "direct", msg: "x", toPeerIds: ["bob"], sp: true },
      { cmd: "session", op: "query", sessionPeerIds: ["bob"], s: "ignored", t: "x", n: "a:b" },
      { cmd: "session", op: "remove", sessionPeerIds: [], roomId: "not:an:id" },
      { cmd: "ack", ids: ["x"], transient: "maybe" },
    ];
    for (const f of cmds) {
      a.send({ ...extra, ...f, peerId: "alice", appId: "app1", i: 1 });
      expect(
        a.drain().filter((x) => x.cmd === "error"),
        JSON.stringify(f),
      ).toEqual([]);
    }
  });

  it("[VERSION-ACKREQ-1, VERSION-REJECT-1, VERSION-COMPAT-1] sends only frames and values of v1, never ackreq or room/reject", () => {
    fc.assert(
      fc.property(fc.array(anyCommand, { minLength: 1, maxLength: 30 }), (cmds) => {
        const { h, a, b } = pair();
        for (const [who, f] of cmds) (who ? a : b).send(f);
        h.advance(1000);
        for (const c of [a, b]) {
          const frames = c.drain();
          for (const f of frames) {
            expect(f.cmd).not.toBe("ackreq");
            expect(nameOf(f)).not.toBe("room/reject");
            // The harness validated the shape; the error values must be those of Table 7.
            if (f.cmd === "error") {
              expect(TABLE7.get(Number(f.code))?.name).toBe(f.reason);
            }
          }
          if (c.closed) {
            const forms = TABLE7.get(c.closed.code)?.forms ?? [];
            // A code Table 7 sends only as a frame closes the connection in one case: a
            // failed session/open without i on a connection without sessions, after its
            // error frame with the same code [SESSION-OPEN-4, ERROR-CODES-1].
            if (!forms.includes("close")) {
              expect(forms).toContain("frame");
              expect(frames.at(-1)).toMatchObject({ cmd: "error", code: c.closed.code });
              expect(frames.at(-1)).not.toHaveProperty("i");
            }
          }
        }
      }),
      { numRuns: 80 },
    );
  });

  it("[VERSION-LEGACY-1] never answers a command of lean-cloud-chat@1.0.4 with 4114", () => {
    const dir = new URL("../../../schemas/fixtures/legacy/c2s/", import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThan(20);
    for (const file of files) {
      const frame = JSON.parse(readFileSync(new URL(file, dir), "utf8")).frame as Frame;
      const signed = "s" in frame;
      const h = signed ? signedHarness() : plainHarness();
      h.store.createRoom("app1", "g1", h.now);
      h.store.addMembers("app1", "g1", ["alice", "bob"]);
      const c = h.connect();
      const peerId = frame.peerId as string | undefined;
      if (peerId !== undefined && !(frame.cmd === "session" && frame.op === "open")) {
        if (signed) signedOpen(c, peerId, ["bob", "carol"]);
        else c.open(peerId, ["bob", "carol"]);
      }
      c.drain();
      c.send(frame);
      const errors = c.drain().filter((f) => f.cmd === "error");
      expect(errors, file).toEqual([]);
      expect(c.closed, file).toBeUndefined();
    }
  });
});

describe("robustness", () => {
  it("[FRAME-JSON-1, FRAME-JSON-2, FRAME-SCHEMA-1, FRAME-SCHEMA-2, ERROR-UNUSED-1] survives any junk: valid frames, spec'd codes, and a fresh connection still works", () => {
    const junk = fc.oneof(
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 40 }),
      fc.string({
        unit: fc.integer({ min: 0, max: 0x10ffff }).map((n) => String.fromCodePoint(n)),
        maxLength: 40,
      }),
      anyCommand.map(([, f]) => JSON.stringify(f)),
      fc.constantFrom(
        '{"cmd":"session","op":"open","appId":"app1","peerId":"\\ud800"}',
        '{"cmd":"direct","appId":"app1","peerId":"a","msg":"\\udc00","toPeerIds":["b"]}',
        '{"cmd":"session","op":"open","appId":"app1","peerId":"a","__proto__":{"cmd":1}}',
        '{"__proto__":{"cmd":"session"}}',
        '{"cmd":"constructor","appId":"app1","peerId":"a"}',
        '{"cmd":"session","op":"toString","appId":"app1","peerId":"a"}',
      ),
    );
    fc.assert(
      fc.property(fc.array(junk, { minLength: 1, maxLength: 12 }), (texts) => {
        const h = new Harness();
        const c = h.connect();
        for (const t of texts) if (!c.closed) c.send(t);
        for (const f of c.drain()) {
          if (f.cmd !== "error") continue;
          const code = Number(f.code);
          expect(code === 4111 || (code >= 4300 && code < 4400)).toBe(false);
          expect(code).not.toBe(4200); // 4200 would mean the engine threw
          expect(TABLE7.get(code)?.name).toBe(f.reason);
        }
        // Framing failures, an unknown app, or a failed legacy open (SESSION-OPEN-4).
        if (c.closed) expect([4100, 4103, 4109, 4114, 4120]).toContain(c.closed.code);
        else expectAlive(c);
        expect(h.engine.drainLog().map((e) => e.event)).not.toContain("internal-error");
        const fresh = h.connect();
        expect(fresh.open("fresh-peer")).toMatchObject({ op: "opened" });
        expectAlive(fresh);
      }),
      { numRuns: 200 },
    );
  });
});

/** A command, well-formed or nearly so, from alice (true) or bob (false). */
const anyCommand: fc.Arbitrary<[boolean, Frame]> = fc.tuple(
  fc.boolean(),
  fc
    .record(
      {
        cmd: fc.constantFrom("session", "direct", "ack", "room", "logs", "presence"),
        op: fc.constantFrom(
          "open",
          "add",
          "remove",
          "query",
          "close",
          "join",
          "invite",
          "kick",
          "leave",
          undefined,
        ),
        peerId: fc.constantFrom("alice", "bob", "carol", "", "a:b", 5),
        appId: fc.constantFrom("app1", "app1", "app1", "other", "bad app"),
        i: fc.constantFrom(undefined, undefined, 0, 42, -1),
        sessionPeerIds: fc.constantFrom(["bob"], ["alice", "carol"], [], ["x:y"]),
        toPeerIds: fc.constantFrom(["bob"], ["alice"], ["bob", "carol"], []),
        roomId: fc.constantFrom(undefined, "g1", "nope"),
        roomPeerIds: fc.constantFrom(["carol"], []),
        msg: fc.constantFrom("hi", "", "x".repeat(5121)),
        transient: fc.constantFrom(undefined, true, false),
        ids: fc.constantFrom(["m1"], []),
        cid: fc.constantFrom("c1", "g1"),
      },
      { requiredKeys: ["cmd", "peerId", "appId"] },
    )
    .map((f) => {
      const out: Frame = {};
      for (const [k, v] of Object.entries(f)) if (v !== undefined) out[k] = v;
      return out;
    }),
);
