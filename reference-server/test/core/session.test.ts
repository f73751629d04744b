/**
 * Chapter 02: connections and apps, opening, re-opening and closing sessions, super peers,
 * the watch set and the status query. Presence has its own file (presence.test.ts).
 */
import { describe, expect, it } from "vitest";
import {
  expectAlive,
  expectClosed,
  expectError,
  type FakeConn,
  type Frame,
  Harness,
  nameOf,
  plainHarness,
  sendBinary,
  sessionSig,
  signedHarness,
  signedOpen,
} from "./support-core.js";

/**
 * Whether the session of `peer` on `c` watches `x`: `x` (offline) comes online and goes
 * offline on a probe connection, and the session hears both or nothing.
 */
function watches(h: Harness, c: FakeConn, peer: string, x: string): boolean {
  const probe = h.connect();
  probe.open(x);
  probe.disconnect();
  const heard = c
    .take("presence")
    .filter((f) => f.peerId === peer && (f.sessionPeerIds as string[])[0] === x)
    .map((f) => f.status);
  if (heard.length === 0) return false;
  expect(heard).toEqual(["on", "off"]);
  return true;
}

/** The subset of `candidates` (all offline) that the session watches. */
function watchSet(h: Harness, c: FakeConn, peer: string, candidates: string[]): string[] {
  return candidates.filter((x) => watches(h, c, peer, x));
}

describe("connections and apps (2.1)", () => {
  it("[SESSION-APP-1] binds a connection to the app of its first command", () => {
    const h = new Harness(); // development mode: any well-formed app id is an app
    const c = h.connect();
    c.send({}); // the keepalive binds nothing
    expect(c.drain()).toEqual([{}]);
    c.send({ cmd: "session", op: "query", appId: "appA", peerId: "x", sessionPeerIds: [] });
    expectError(c, 4105); // failed, but bound to appA all the same
    c.send({ cmd: "session", op: "open", appId: "appB", peerId: "x", i: 1 });
    expectError(c, 4100, { i: 1, peerId: "x" });
    c.send({ cmd: "session", op: "open", appId: "appA", peerId: "x", i: 2 });
    expect(c.drain()).toMatchObject([{ op: "opened", i: 2 }]);
    // Apps share nothing: x is online in appA only.
    const d = h.connect();
    d.send({ cmd: "session", op: "open", appId: "appB", peerId: "y", sessionPeerIds: ["x"] });
    expect(d.expectOne("session/opened").onlineSessionPeerIds).toEqual([]);
  });

  it("[SESSION-APP-2, SESSION-APP-6, SESSION-APP-7] closes with 4100 a connection whose first command names an app it does not serve or has disabled", () => {
    const h = plainHarness(); // app1 only, development mode off
    const off = new Harness({
      devMode: false,
      apps: new Map([["off", { appId: "off", enforceSignatures: false, disabled: true }]]),
    });
    const firsts: [Harness, Frame][] = [
      [h, { appId: "app2" }],
      [h, { appId: "APP1" }],
      [h, {}],
      [off, { appId: "off" }],
      // Malformed app ids name no app, even in development mode [LIMIT-APPID-1].
      [new Harness(), { appId: "bad app" }],
      [new Harness(), { appId: "" }],
      [new Harness(), { appId: "a".repeat(65) }],
      [new Harness(), { appId: 1 }],
    ];
    for (const [hh, fields] of firsts) {
      const c = hh.connect();
      c.send({ cmd: "session", op: "open", peerId: "alice", ...fields });
      expect(c.drain(), JSON.stringify(fields)).toMatchObject([
        { cmd: "error", code: 4100, peerId: "alice" },
      ]);
      expectClosed(c, 4100);
    }
    // A first command that awaits no reply gets no frame, only the close.
    const c = h.connect();
    c.send({ cmd: "ack", appId: "zzz", peerId: "alice", ids: ["m"] });
    expect(c.received).toEqual([]);
    expectClosed(c, 4100);
  });

  it("[SESSION-APP-3] answers with error 4100 a command for another app, and keeps the connection", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["bob"]);
    for (const appId of ["app2", "bad app", undefined]) {
      const f: Frame = { cmd: "session", op: "query", peerId: "alice", sessionPeerIds: [], i: 4 };
      if (appId !== undefined) f.appId = appId;
      c.send(f);
      expectError(c, 4100, { i: 4, peerId: "alice" });
    }
    // A legacy command without i gets the frame too, and the session survives.
    c.send({ cmd: "session", op: "open", peerId: "alice", appId: "app2" });
    expectError(c, 4100, { peerId: "alice" });
    expectAlive(c);
    expect(watches(h, c, "alice", "bob")).toBe(true);
  });

  it("[SESSION-MULTI-1] lets one connection hold open sessions of several peers", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["carol"]);
    c.open("bob", ["carol"]);
    expect(h.engine.stats()).toEqual({ connections: 1, sessions: 2 });
    const d = h.connect();
    d.open("carol");
    d.cmd("carol", "direct", undefined, { msg: "hi", toPeerIds: ["alice", "bob"] });
    const frames = c.drain();
    expect(frames.filter((f) => f.cmd === "presence").map((f) => f.peerId)).toEqual([
      "alice",
      "bob",
    ]);
    expect(frames.filter((f) => f.cmd === "direct").map((f) => f.peerId)).toEqual(["alice", "bob"]);
  });

  it("[SESSION-MULTI-2] lets one peer hold open sessions on several connections", () => {
    const h = new Harness();
    const devices = [h.connect(), h.connect(), h.connect()];
    for (const d of devices) d.open("alice");
    expect(h.engine.stats()).toEqual({ connections: 3, sessions: 3 });
    const bob = h.connect();
    bob.open("bob");
    bob.cmd("bob", "direct", undefined, { msg: "hi", toPeerIds: ["alice"] });
    for (const d of devices) expect(d.expectOne("direct")).toMatchObject({ msg: "hi" });
  });

  it("[SESSION-REQUIRED-1] answers every command but session/open of a peer without a session here with 4105", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    const other = h.connect();
    other.open("bob"); // bob's session is on another connection: it does not count
    const cmds: Frame[] = [
      { cmd: "session", op: "add", sessionPeerIds: ["x"] },
      { cmd: "session", op: "remove", sessionPeerIds: ["x"] },
      { cmd: "session", op: "query", sessionPeerIds: ["x"] },
      { cmd: "session", op: "close" },
      { cmd: "direct", msg: "m", toPeerIds: ["alice"] },
      { cmd: "direct", msg: "m", toPeerIds: ["alice"], transient: true },
      { cmd: "ack", ids: ["m"] },
      { cmd: "room", op: "join" },
      { cmd: "room", op: "invite", roomId: "g", roomPeerIds: ["x"] },
      { cmd: "room", op: "kick", roomId: "g", roomPeerIds: ["x"] },
      { cmd: "room", op: "leave", roomId: "g" },
      { cmd: "logs", cid: "c" },
    ];
    for (const [i, f] of cmds.entries()) {
      c.send({ appId: "app1", peerId: "bob", ...f, i });
      expectError(c, 4105, { i, peerId: "bob" });
    }
    expect(h.engine.stats().sessions).toBe(2);
  });
});

describe("opening a session (2.2)", () => {
  it("[SESSION-OPEN-1] answers a session/open whose peerId is not a valid peer id with 4103", () => {
    const h = new Harness();
    const c = h.connect();
    const bad: unknown[] = [
      "",
      "a".repeat(65),
      "😀".repeat(65),
      "a:b",
      "a\u0000",
      "tab\there",
      "del\u007f",
      "\n",
      5,
      null,
      ["a"],
      "\ud800",
      "x\udc00y",
    ];
    for (const [i, peerId] of bad.entries()) {
      c.send({ cmd: "session", op: "open", appId: "app1", peerId, i });
      const e = expectError(c, 4103, { i });
      expect(e).not.toHaveProperty("peerId");
      expect(String(e.detail)).toContain("/peerId");
    }
    c.send({ cmd: "session", op: "open", appId: "app1", i: 99 }); // missing
    expectError(c, 4103, { i: 99 });
    for (const peerId of ["😀".repeat(64), "a".repeat(64), "a b", "Ａ", "é", "-", "\u0080"]) {
      expect(c.open(peerId)).toMatchObject({ peerId });
    }
  });

  it("[SESSION-OPEN-2] replies session/opened listing exactly the distinct watched peers that are online", () => {
    const h = new Harness();
    const bob = [h.connect(), h.connect()];
    for (const d of bob) d.open("bob");
    h.connect().open("dave");
    const c = h.connect();
    const opened = c.open("alice", ["bob", "carol", "bob", "dave", "alice", "erin"]);
    expect([...(opened.onlineSessionPeerIds as string[])].sort()).toEqual(["alice", "bob", "dave"]);
    expect(c.open("zed", []).onlineSessionPeerIds).toEqual([]);
    c.cmd("yan", "session", "open", {}); // sessionPeerIds absent: watches nobody
    expect(c.expectOne("session/opened").onlineSessionPeerIds).toEqual([]);
  });

  it("[SESSION-OPEN-3] makes the session's watch set the distinct peer ids of sessionPeerIds", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["x", "y", "x", "y"]);
    expect(watchSet(h, c, "alice", ["x", "y", "z"])).toEqual(["x", "y"]);
    c.cmd("yan", "session", "open", {});
    expect(watchSet(h, c, "yan", ["x", "y"])).toEqual([]);
  });

  it("[SESSION-OPEN-4] sends the error frame and then closes with its code when a legacy open fails on a connection without sessions", () => {
    const h = signedHarness();
    const cases: [Frame, number][] = [
      [{ peerId: "" }, 4103],
      [{ peerId: "alice", sessionPeerIds: [] }, 4102], // no signature
      [{ peerId: "alice", sessionPeerIds: "bob" }, 4114],
      [{ peerId: "alice", sessionPeerIds: Array(501).fill("b") }, 4120],
      [{ peerId: "alice", appId: "other" }, 4100],
    ];
    for (const [f, code] of cases) {
      const c = h.connect();
      c.send({}); // a keepalive binds nothing
      c.drain();
      c.send({ cmd: "session", op: "open", appId: "app1", ...f });
      expect(c.received.map((x) => [x.cmd, x.code])).toEqual([["error", code]]);
      expectClosed(c, code);
    }
    // With another session open on the connection, the connection survives.
    const c = h.connect();
    signedOpen(c, "alice");
    c.send({ cmd: "session", op: "open", appId: "app1", peerId: "bob", sessionPeerIds: [] });
    expectError(c, 4102, { peerId: "bob" });
    expectAlive(c);
    // A connection whose earlier failed open had i (and so stayed open) still closes.
    const d = h.connect();
    d.cmd("bob", "session", "open", { sessionPeerIds: [], i: 1 });
    expectError(d, 4102, { i: 1 });
    d.cmd("bob", "session", "open", { sessionPeerIds: [] });
    expectError(d, 4102);
    expectClosed(d, 4102);
  });

  it("[SESSION-OPEN-5] keeps the connection open when a session/open with i fails", () => {
    const h = signedHarness();
    const c = h.connect();
    c.cmd("alice", "session", "open", { sessionPeerIds: [], i: 1 });
    expectError(c, 4102, { i: 1, peerId: "alice" });
    c.cmd("", "session", "open", { i: 2 });
    expectError(c, 4103, { i: 2 });
    c.cmd("alice", "session", "open", { sessionPeerIds: Array(501).fill("b"), i: 3 });
    expectError(c, 4120, { i: 3 });
    expectAlive(c);
    expect(signedOpen(c, "alice")).toMatchObject({ peerId: "alice" });
  });

  it("[SESSION-OPEN-6] publishes no presence, creates no watch set and delivers nothing for a failed open", () => {
    const h = signedHarness();
    const watcher = h.connect();
    signedOpen(watcher, "bob", ["alice"]);
    watcher.cmd("bob", "direct", undefined, { msg: "pending for alice", toPeerIds: ["alice"] });
    watcher.drain();
    const c = h.connect();
    const failures: Frame[] = [
      { sessionPeerIds: ["carol"] }, // no signature
      { sessionPeerIds: ["carol"], ...sessionSig(h, "alice", ["dave"]) }, // wrong list
      { sessionPeerIds: ["carol"], ...sessionSig(h, "alice", ["carol"], { t: 1 }) }, // expired
    ];
    for (const [i, f] of failures.entries()) {
      c.cmd("alice", "session", "open", { ...f, i });
      expectError(c, 4102, { i, peerId: "alice" });
    }
    expect(watcher.received).toEqual([]); // no presence
    // No watch set: carol coming online is news for nobody; alice has no session.
    const carol = h.connect();
    signedOpen(carol, "carol");
    expect(c.received).toEqual([]);
    c.cmd("alice", "session", "query", { sessionPeerIds: [], i: 9 });
    expectError(c, 4105, { i: 9 });
    expect(h.engine.stats().sessions).toBe(2);
  });
});

describe("re-opening a session (2.3)", () => {
  it("[SESSION-REOPEN-1] answers a successful re-open with session/opened listing the online watched peers", () => {
    const h = new Harness();
    h.connect().open("bob");
    const c = h.connect();
    c.open("alice", []);
    c.cmd("alice", "session", "open", { sessionPeerIds: ["bob", "carol", "bob"], i: 3 });
    expect(c.drain()).toEqual([
      {
        cmd: "session",
        op: "opened",
        peerId: "alice",
        i: 3,
        onlineSessionPeerIds: ["bob"],
        serverInfo: expect.anything(), // [SESSION-INFO-1]
      },
    ]);
    expect(h.engine.stats().sessions).toBe(2);
  });

  it("[SESSION-REOPEN-2] replaces the session's watch set with the re-open's distinct ids", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["x", "y"]);
    c.open("alice", ["y", "z", "z"]);
    expect(watchSet(h, c, "alice", ["x", "y", "z"])).toEqual(["y", "z"]);
    c.open("alice", []);
    expect(watchSet(h, c, "alice", ["x", "y", "z"])).toEqual([]);
  });

  it("[SESSION-REOPEN-3] sets the session's super-peer status from the re-open", () => {
    const h = signedHarness();
    h.connect();
    const bob = h.connect();
    signedOpen(bob, "bob");
    const c = h.connect();
    const send = (i: number) => {
      c.cmd("alice", "direct", undefined, { msg: "m", toPeerIds: ["bob"], i });
      return c.drain().map((f) => (f.cmd === "error" ? f.code : nameOf(f)));
    };
    signedOpen(c, "alice");
    expect(send(1)).toEqual([4401]); // bob is not watched
    signedOpen(c, "alice", [], { sp: true, ...sessionSig(h, "alice", [], { suffix: "sp" }) });
    expect(send(2)).toEqual(["ack"]);
    signedOpen(c, "alice");
    expect(send(3)).toEqual([4401]);
  });

  it("[SESSION-REOPEN-4] publishes no presence change because of a re-open", () => {
    const h = new Harness();
    const watcher = h.connect();
    watcher.open("bob", ["alice"]);
    const c = h.connect();
    c.open("alice");
    expect(watcher.take("presence")).toMatchObject([{ status: "on" }]);
    c.open("alice", ["bob"]);
    c.open("alice", []);
    c.cmd("alice", "session", "open", { sessionPeerIds: ["x"], i: 1 });
    expect(watcher.received).toEqual([]);
  });

  it("[SESSION-REOPEN-5] leaves the session open, watch set and super-peer status unchanged, when a re-open fails", () => {
    const h = signedHarness();
    const bob = h.connect();
    signedOpen(bob, "bob");
    const c = h.connect();
    signedOpen(c, "alice", ["x"], { sp: true, ...sessionSig(h, "alice", ["x"], { suffix: "sp" }) });
    // Fails with i and without i (the session keeps the connection open, SESSION-OPEN-4).
    c.cmd("alice", "session", "open", { sessionPeerIds: ["y"], i: 1 });
    expectError(c, 4102, { i: 1 });
    // sp: true with a signature without suffix fails (SIG-SP-1).
    c.cmd("alice", "session", "open", {
      sessionPeerIds: ["y"],
      sp: true,
      ...sessionSig(h, "alice", ["y"]),
    });
    expectError(c, 4102);
    expect(c.closed).toBeUndefined();
    // Still a super peer, still watching x only.
    c.cmd("alice", "direct", undefined, { msg: "m", toPeerIds: ["bob"], i: 2 });
    expect(c.drain()).toMatchObject([{ cmd: "ack", i: 2 }]);
    const probe = h.connect();
    signedOpen(probe, "x");
    signedOpen(probe, "y");
    expect(c.take("presence").map((f) => f.sessionPeerIds)).toEqual([["x"]]);
  });
});

describe("closing and ending sessions (2.4)", () => {
  it("[SESSION-CLOSE-1] ends the session of the command's peer on this connection", () => {
    const h = new Harness();
    const watcher = h.connect();
    watcher.open("bob", ["alice"]);
    const c = h.connect();
    c.open("alice");
    c.open("carol");
    const other = h.connect();
    other.open("alice"); // another device of alice is not touched
    watcher.drain();
    c.cmd("alice", "session", "close", {});
    expect(c.drain()).toEqual([]);
    c.cmd("alice", "session", "query", { sessionPeerIds: [], i: 1 });
    expectError(c, 4105, { i: 1 });
    other.cmd("alice", "session", "close", { i: 2 });
    expect(other.drain()).toEqual([{ cmd: "session", op: "closed", peerId: "alice", i: 2 }]);
    expect(watcher.drain()).toMatchObject([{ cmd: "presence", status: "off" }]);
    expect(h.engine.stats()).toEqual({ connections: 3, sessions: 2 });
  });

  it("[SESSION-CLOSE-2] keeps the connection open after a session/close", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    c.open("carol");
    c.cmd("alice", "session", "close", {});
    expectAlive(c);
    c.cmd("carol", "session", "query", { sessionPeerIds: ["alice"] });
    expect(c.expectOne("session/query-result").onlineSessionPeerIds).toEqual([]);
    c.cmd("carol", "session", "close", {});
    expectAlive(c);
    expect(c.open("alice")).toMatchObject({ op: "opened" });
  });

  it("[SESSION-END-1] ends every session of a connection when it closes, whatever the reason", () => {
    const h = new Harness();
    const watcher = h.connect();
    watcher.open("zoe", ["alice", "bob", "carol", "dave"]);
    const byClient = h.connect();
    byClient.open("alice");
    byClient.open("bob");
    const byServer = h.connect();
    byServer.open("carol");
    byServer.open("dave");
    watcher.drain();
    byClient.disconnect();
    sendBinary(byServer);
    expect(watcher.drain().map((f) => [f.status, f.sessionPeerIds])).toEqual([
      ["off", ["alice"]],
      ["off", ["bob"]],
      ["off", ["carol"]],
      ["off", ["dave"]],
    ]);
    expect(h.engine.stats()).toEqual({ connections: 1, sessions: 1 });
  });

  it("[SESSION-END-2] starts a later session of the peer with its own watch set and super-peer status only", () => {
    const h = signedHarness();
    const bob = h.connect();
    signedOpen(bob, "bob");
    const c = h.connect();
    signedOpen(c, "alice", ["x"], { sp: true, ...sessionSig(h, "alice", ["x"], { suffix: "sp" }) });
    c.cmd("alice", "session", "close", {});
    signedOpen(c, "alice", ["y"]);
    c.cmd("alice", "direct", undefined, { msg: "m", toPeerIds: ["bob"], i: 1 });
    expectError(c, 4401, { i: 1 }); // no longer a super peer
    const probe = h.connect();
    signedOpen(probe, "x");
    signedOpen(probe, "y");
    expect(c.take("presence").map((f) => f.sessionPeerIds)).toEqual([["y"]]);
    // The same after the connection ended.
    c.disconnect();
    const d = h.connect();
    signedOpen(d, "alice", []);
    probe.cmd("y", "session", "close", {});
    expect(d.received).toEqual([]);
  });
});

describe("super peers (2.5)", () => {
  it("[SUPERPEER-OPEN-1] makes a session with sp: true a super peer, signed with :sp when signatures are enforced", () => {
    const h = signedHarness();
    const bob = h.connect();
    signedOpen(bob, "bob");
    const c = h.connect();
    signedOpen(c, "bot", [], { sp: true, ...sessionSig(h, "bot", [], { suffix: "sp" }) });
    c.cmd("bot", "direct", undefined, { msg: "m", toPeerIds: ["bob"], i: 1 });
    expect(c.drain()).toMatchObject([{ cmd: "ack", i: 1 }]);
    // sp: false (or absent) with a super-peer signature is no super peer, and fails.
    c.cmd("bot2", "session", "open", {
      sessionPeerIds: [],
      i: 2,
      ...sessionSig(h, "bot2", [], { suffix: "sp" }),
    });
    expectError(c, 4102, { i: 2 });
    // An app that does not enforce signatures makes it a super peer without signature.
    const p = plainHarness();
    const d = p.connect();
    expect(d.open("bot", [], { sp: true })).toMatchObject({ op: "opened" });
  });

  it("[SUPERPEER-SEND-1] accepts a direct from a super peer to peers it does not watch under enforced signatures", () => {
    const h = signedHarness();
    const peers = ["p1", "p2", "p3"].map((p) => {
      const c = h.connect();
      signedOpen(c, p);
      return c;
    });
    const bot = h.connect();
    signedOpen(bot, "bot", ["p1"], { sp: true, ...sessionSig(h, "bot", ["p1"], { suffix: "su" }) });
    bot.cmd("bot", "direct", undefined, { msg: "hello", toPeerIds: ["p1", "p2", "p3"], i: 5 });
    expect(bot.drain()).toMatchObject([{ cmd: "ack", i: 5 }]);
    for (const p of peers) expect(p.expectOne("direct")).toMatchObject({ fromPeerId: "bot" });
  });

  it("[SUPERPEER-SAME-1] applies watch sets, presence and limits to a super peer as to any session", () => {
    const h = signedHarness({
      limits: { ...new Harness().engine.config.limits, maxWatchedPerSession: 3 },
    });
    const bot = h.connect();
    signedOpen(bot, "bot", ["x"], { sp: true, ...sessionSig(h, "bot", ["x"], { suffix: "sp" }) });
    const probe = h.connect();
    signedOpen(probe, "x");
    signedOpen(probe, "y"); // not watched: no presence
    expect(bot.take("presence").map((f) => f.sessionPeerIds)).toEqual([["x"]]);
    bot.cmd("bot", "session", "add", {
      sessionPeerIds: ["a", "b", "c"],
      i: 1,
      ...sessionSig(h, "bot", ["a", "b", "c"]),
    });
    expectError(bot, 4120, { i: 1 });
    bot.cmd("bot", "direct", undefined, { msg: "x".repeat(5121), toPeerIds: ["x"], i: 2 });
    expectError(bot, 4109, { i: 2 });
    bot.cmd("bot", "direct", undefined, { msg: "m", toPeerIds: Array(501).fill("x"), i: 3 });
    expectError(bot, 4120, { i: 3 });
  });
});

describe("watching (2.6) and the status query (2.7)", () => {
  it("[WATCH-ADD-1] adds the distinct peer ids of session/add to the watch set", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["x"]);
    c.cmd("alice", "session", "add", { sessionPeerIds: ["y", "z", "y", "x"] });
    c.drain();
    expect(watchSet(h, c, "alice", ["w", "x", "y", "z"])).toEqual(["x", "y", "z"]);
  });

  it("[WATCH-ADD-2] replies session/added listing exactly the distinct peers of the command that are online", () => {
    const h = new Harness();
    for (const p of ["x", "y"]) h.connect().open(p);
    const c = h.connect();
    c.open("alice", ["x"]);
    c.cmd("alice", "session", "add", { sessionPeerIds: ["y", "z", "y", "alice"], i: 1 });
    const added = c.expectOne("session/added");
    expect([...(added.onlineSessionPeerIds as string[])].sort()).toEqual(["alice", "y"]);
    expect(added.i).toBe(1);
  });

  it("[WATCH-REMOVE-1] removes the peer ids of session/remove from the watch set", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["x", "y", "z"]);
    c.cmd("alice", "session", "remove", { sessionPeerIds: ["x", "z", "x"] });
    expect(c.drain()).toEqual([]);
    expect(watchSet(h, c, "alice", ["x", "y", "z"])).toEqual(["y"]);
  });

  it("[WATCH-REMOVE-2] does not treat removing a peer that is not watched as an error", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["x"]);
    c.cmd("alice", "session", "remove", { sessionPeerIds: ["nobody", "x", "x"], i: 1 });
    expect(c.drain()).toEqual([{ cmd: "session", op: "removed", peerId: "alice", i: 1 }]);
    c.cmd("alice", "session", "remove", { sessionPeerIds: ["x"] });
    c.cmd("alice", "session", "remove", { sessionPeerIds: [] });
    expect(c.drain()).toEqual([]);
  });

  it("[WATCH-LIMIT-1] answers with 4120, watch set unchanged, a session/add that would pass 10000 peers", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", []);
    for (let k = 0; k < 20; k++) {
      const ids = Array.from({ length: 500 }, (_, n) => `p${k * 500 + n}`);
      c.cmd("alice", "session", "add", { sessionPeerIds: ids });
    }
    expect(c.take("session/added")).toHaveLength(20);
    // Re-adding watched peers does not grow the set; one new peer would.
    c.cmd("alice", "session", "add", { sessionPeerIds: ["p0", "p9999"], i: 1 });
    expect(c.drain()).toMatchObject([{ op: "added", i: 1 }]);
    c.cmd("alice", "session", "add", { sessionPeerIds: ["p0", "new1", "new2"], i: 2 });
    const e = expectError(c, 4120, { i: 2, peerId: "alice" });
    expect(String(e.detail)).toContain("10000");
    expect(watchSet(h, c, "alice", ["new1", "new2", "p5"])).toEqual(["p5"]);
    // Removing one makes room for one.
    c.cmd("alice", "session", "remove", { sessionPeerIds: ["p1"] });
    c.cmd("alice", "session", "add", { sessionPeerIds: ["new1"], i: 3 });
    expect(c.drain()).toMatchObject([{ op: "added", i: 3 }]);
  });

  it("[WATCH-QUERY-1] answers session/query with exactly the distinct peers of the command that are online", () => {
    const h = new Harness();
    for (const p of ["x", "y"]) h.connect().open(p);
    const c = h.connect();
    c.open("alice", ["z"]);
    c.cmd("alice", "session", "query", { sessionPeerIds: ["x", "z", "x", "alice", "w"] });
    const r = c.expectOne("session/query-result");
    expect([...(r.onlineSessionPeerIds as string[])].sort()).toEqual(["alice", "x"]);
    c.cmd("alice", "session", "query", { sessionPeerIds: [] });
    expect(c.expectOne("session/query-result").onlineSessionPeerIds).toEqual([]);
  });

  it("[WATCH-QUERY-2] does not change the watch set because of a session/query", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice", ["x"]);
    c.cmd("alice", "session", "query", { sessionPeerIds: ["y", "x"] });
    c.drain();
    expect(watchSet(h, c, "alice", ["x", "y"])).toEqual(["x"]);
  });
});

describe("disabling an app (2.1, v1.1: D20)", () => {
  it("[SESSION-DISABLE-1] closes with 4100, after the error frame, every connection bound to an app it disables", () => {
    const h = plainHarness({
      apps: new Map([
        ["app1", { appId: "app1", enforceSignatures: false }],
        ["app2", { appId: "app2", enforceSignatures: false }],
      ]),
    });
    const c1 = h.connect();
    c1.open("alice", ["bob"]);
    c1.open("carol");
    const c2 = h.connect();
    c2.open("bob", ["alice"]);
    c2.drain();
    const idle = h.connect(); // bound by a failed command, no session
    idle.cmd("zed", "session", "query", { sessionPeerIds: [] });
    idle.drain();
    const other = h.connect();
    other.send({ cmd: "session", op: "open", appId: "app2", peerId: "alice", sessionPeerIds: [] });
    other.drain();
    const fresh = h.connect(); // not bound yet

    h.run(h.engine.disableApp("app1", h.now));
    for (const c of [c1, c2, idle]) {
      // Whatever came before (presence of the peers going offline), the close is announced.
      expect(c.received.at(-1)).toMatchObject({ cmd: "error", code: 4100 });
      expect(c.received.at(-1)).not.toHaveProperty("peerId");
      expectClosed(c, 4100);
    }
    expect(h.engine.stats()).toEqual({ connections: 2, sessions: 1 });
    // Another app and an unbound connection go on; app1 names no app any more.
    expectAlive(other);
    fresh.cmd("alice", "session", "open", { sessionPeerIds: [] });
    expectError(fresh, 4100, { peerId: "alice" });
    expectClosed(fresh, 4100);
    expect(h.engine.knowsApp("app1")).toBe(false);
    expect(h.engine.restLogs("app1", undefined, {})).toMatchObject({
      ok: false,
      error: { code: 4100 },
    });
  });

  it("[SESSION-DISABLE-1] disables an app of development mode too", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    h.run(h.engine.disableApp("app1", h.now));
    expectClosed(c, 4100);
    const d = h.connect();
    d.cmd("alice", "session", "open", { sessionPeerIds: [] });
    expectClosed(d, 4100);
    const e = h.connect();
    e.send({ cmd: "session", op: "open", appId: "app9", peerId: "alice", sessionPeerIds: [] });
    expect(e.expectOne("session/opened")).toMatchObject({ peerId: "alice" });
  });
});
