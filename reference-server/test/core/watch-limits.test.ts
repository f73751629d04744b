/**
 * Chapter 07, 7.6: the bounds on what one connection, one app and one network address may
 * make the server hold: watch entries, sessions and connections (issue 8.1). Each test
 * configures small bounds so that it runs fast, except the one that proves the default
 * per-connection value at full scale.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_LIMITS,
  engineConfig,
  type Limits,
  specViolations,
} from "../../src/core/config.js";
import { AppState, Journal, type Session } from "../../src/core/state.js";
import {
  connectWith,
  expectAlive,
  expectClosed,
  expectError,
  type FakeConn,
  Harness,
  names,
} from "./support-core.js";

/** A harness (development mode: any app id) with some limits overridden. */
function harness(limits: Partial<Limits>): Harness {
  return new Harness({ limits: { ...DEFAULT_LIMITS, ...limits } });
}

/** `n` distinct peer ids with a prefix. */
const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, k) => `${prefix}${k}`);

/** Sends a session command with `i: 9` and returns the frames it caused on `c`. */
function session(c: FakeConn, peerId: string, op: string, watch: string[]) {
  c.cmd(peerId, "session", op, { sessionPeerIds: watch, i: 9 });
  return c;
}

/** A `session/add` of `watch` in chunks of 500 (LIMIT-ARRAY-1); every chunk must succeed. */
function addAll(c: FakeConn, peerId: string, watch: string[]): void {
  for (let k = 0; k < watch.length; k += 500) {
    session(c, peerId, "add", watch.slice(k, k + 500)).expectOne("session/added");
  }
}

describe("watch entries of one connection (7.6)", () => {
  it("[LIMIT-WATCH-CONN-1] answers with 4120, and changes nothing, an open or add that takes the connection's sessions over their summed bound", () => {
    const h = harness({ maxWatchPerConnection: 5 });
    const c = h.connect();
    const watcher = h.connect();
    watcher.open("watcher", ["bob"]);
    watcher.drain();
    c.open("alice", ["x1", "x2", "x3"]);
    c.drain();
    const before = h.engine.inspect();

    // A second session whose watch set would make 3 + 3 = 6 > 5: no session, no presence.
    session(c, "bob", "open", ["y1", "y2", "y3"]);
    expectError(c, 4120, { i: 9, peerId: "bob" });
    watcher.expectNothing();
    // An add that would make 3 + 3 = 6 > 5: the watch set is unchanged.
    session(c, "alice", "add", ["x4", "x5", "x6"]);
    expectError(c, 4120, { i: 9, peerId: "alice" });
    expect(h.engine.inspect()).toEqual(before);

    // Up to the bound is fine, and a peer already watched adds nothing.
    session(c, "bob", "open", ["x1", "y2"]).expectOne("session/opened");
    expect(watcher.expectOne("presence")).toMatchObject({ status: "on", sessionPeerIds: ["bob"] });
    session(c, "alice", "add", ["x1", "x2"]).expectOne("session/added");
    session(c, "alice", "add", ["x4"]);
    expectError(c, 4120);
    // A re-open counts the set it sets, not the one it replaces: shrinking frees room.
    session(c, "alice", "open", ["x1"]).expectOne("session/opened");
    session(c, "bob", "add", ["y3", "y4"]).expectOne("session/added");
    session(c, "alice", "open", ["x1", "x2"]);
    expectError(c, 4120);
    // An ended session frees its entries; other connections have their own bound.
    c.cmd("bob", "session", "close", { i: 9 }).expectOne("session/closed");
    session(c, "alice", "add", ["x2", "x3", "x4", "x5"]).expectOne("session/added");
    const other = h.connect();
    other.open("carol", ids("z", 5));
    expectAlive(c);
  });

  it("[LIMIT-WATCH-CONN-1] holds by default at 20000 entries: two full watch sets, then nothing more", () => {
    const h = new Harness();
    const c = h.connect();
    expect(DEFAULT_LIMITS.maxWatchPerConnection).toBe(20_000);
    for (const peer of ["p0", "p1"]) {
      c.open(peer);
      addAll(c, peer, ids(`${peer}-w`, 10_000));
    }
    session(c, "p2", "open", ["one"]);
    expectError(c, 4120, { i: 9, peerId: "p2" });
    session(c, "p1", "add", ["one"]);
    expectError(c, 4120, { i: 9, peerId: "p1" });
    expect(h.engine.stats().sessions).toBe(2);
    // A server may allow more, never less [LIMIT-FLOOR-1].
    expect(
      specViolations(
        engineConfig({ limits: { ...DEFAULT_LIMITS, maxWatchPerConnection: 19_999 } }),
      ),
    ).toEqual(["maxWatchPerConnection 19999 is under 20000"]);
  });
});

describe("watch entries and sessions of one app (7.6)", () => {
  it("[LIMIT-QUOTA-1] [LIMIT-WATCH-APP-1] answers with 4120, and changes nothing, an open or add that takes the app's watch entries over the bound", () => {
    const h = harness({ maxWatchPerApp: 6 });
    const a = h.connect();
    const b = h.connect();
    a.open("alice", ["x1", "x2", "x3"]);
    b.open("bob", ["x1", "x2"]); // the same peers count again: 5 entries
    a.drain();
    b.drain();
    const before = h.engine.inspect();
    session(b, "bob", "add", ["x3", "x4"]);
    expectError(b, 4120, { i: 9, peerId: "bob" });
    const c = h.connect();
    session(c, "carol", "open", ["x1", "x2"]);
    expectError(c, 4120, { i: 9, peerId: "carol" });
    // Nothing changed but c's binding, which outlives its failed first command [SESSION-APP-1].
    const app1 = before.apps.app1 as NonNullable<(typeof before.apps)["app1"]>;
    expect(h.engine.inspect().apps).toEqual({ app1: { ...app1, connections: 3 } });
    expect(names(a)).toEqual([]); // carol never came online for anyone
    // The last entry fits; a session that ends gives its entries back to the app.
    session(b, "bob", "add", ["x3"]).expectOne("session/added");
    a.disconnect();
    session(c, "carol", "open", ["x1", "x2", "x3"]).expectOne("session/opened");
    // Another app has its own bound.
    h.appId = "app2";
    const d = h.connect();
    d.open("dave", ids("y", 6));
    expect(DEFAULT_LIMITS.maxWatchPerApp).toBe(1_000_000);
  });

  it("[LIMIT-QUOTA-1] [LIMIT-SESSIONS-APP-1] answers with 4120 a session/open that takes the app's sessions over the bound, and opens nothing", () => {
    const h = harness({ maxSessionsPerApp: 3 });
    const a = h.connect();
    const b = h.connect();
    const watcher = h.connect();
    watcher.open("watcher", ["p3"]); // session 1
    a.open("p1"); // 2
    b.open("p2"); // 3
    for (const c of [a, b, watcher]) c.drain();
    session(a, "p3", "open", []);
    expectError(a, 4120, { i: 9, peerId: "p3" });
    watcher.expectNothing(); // p3 never came online
    // A re-open is not a new session.
    session(a, "p1", "open", ["p2"]).expectOne("session/opened");
    // A legacy open without i on a fresh connection fails and closes (SESSION-OPEN-4).
    const fresh = h.connect();
    fresh.cmd("p3", "session", "open", {});
    expect(fresh.take("error")).toMatchObject([{ code: 4120 }]);
    expectClosed(fresh, 4120);
    // A session that ends frees its place; another app has its own bound.
    b.cmd("p2", "session", "close", { i: 9 }).expectOne("session/closed");
    session(a, "p3", "open", []).expectOne("session/opened");
    expect(watcher.expectOne("presence")).toMatchObject({ status: "on", sessionPeerIds: ["p3"] });
    h.appId = "app2";
    const other = h.connect();
    for (const p of ["q1", "q2", "q3"]) other.open(p);
    expect(DEFAULT_LIMITS.maxSessionsPerApp).toBe(100_000);
  });
});

describe("connections of one app and of one address (7.6)", () => {
  it("[LIMIT-QUOTA-1] [LIMIT-CONN-APP-1] [ERROR-QUOTA-1] closes with 4113, after an error frame, a connection whose first command would bind it to an app that is full", () => {
    const h = harness({ maxConnectionsPerApp: 2 });
    const a = h.connect();
    const b = h.connect();
    const unbound = h.connect(); // not bound to any app: does not count
    a.open("alice");
    b.open("bob", ["carol"]);
    b.drain();
    const c = h.connect();
    c.cmd("carol", "session", "open", { i: 4 });
    expect(c.drain()).toEqual([
      expect.objectContaining({ cmd: "error", code: 4113, reason: "APP_QUOTA_EXCEEDED", i: 4 }),
    ]);
    expectClosed(c, 4113);
    b.expectNothing(); // the command was not carried out: carol never came online
    expect(h.engine.stats().sessions).toBe(2);
    // A connection that closes frees its place; another app has its own bound.
    a.disconnect();
    const d = h.connect();
    expect(d.open("carol")).toMatchObject({ op: "opened" });
    expect(b.expectOne("presence")).toMatchObject({ status: "on", sessionPeerIds: ["carol"] });
    h.appId = "app2";
    expect(unbound.open("erin")).toMatchObject({ op: "opened" });
    expect(DEFAULT_LIMITS.maxConnectionsPerApp).toBe(10_000);
  });

  it("[LIMIT-QUOTA-1] [LIMIT-CONN-IP-1] closes with 4113, after an error frame, a new connection from an address that has as many open as the bound", () => {
    const h = harness({ maxConnectionsPerAddress: 2 });
    const first = connectWith(h, { remoteAddress: "10.0.0.1" });
    connectWith(h, { remoteAddress: "::ffff:10.0.0.1" }); // the same address, mapped
    const third = connectWith(h, { remoteAddress: "10.0.0.1" });
    expect(third.drain()).toEqual([
      expect.objectContaining({ cmd: "error", code: 4113, reason: "APP_QUOTA_EXCEEDED" }),
    ]);
    expectClosed(third, 4113);
    // Before any frame is read: whatever it sends later is ignored.
    third.cmd("alice", "session", "open", { i: 1 });
    expect(third.drain()).toEqual([]);
    // Other addresses, and connections whose address the adapter does not know, are free.
    expectAlive(connectWith(h, { remoteAddress: "10.0.0.2" }));
    expectAlive(h.connect());
    // A refused connection was never counted; a closed one frees its place.
    first.disconnect();
    const again = connectWith(h, { remoteAddress: "10.0.0.1" });
    expect(again.open("alice")).toMatchObject({ op: "opened" });
    expect(DEFAULT_LIMITS.maxConnectionsPerAddress).toBe(1_000);
  });
});

describe("the counts behind the bounds, after connections come and go (7.6)", () => {
  it("[LIMIT-CONN-IP-1] frees an IPv4-mapped connection's place under its IPv4 address when it closes", () => {
    const h = harness({ maxConnectionsPerAddress: 1 });
    const mapped = connectWith(h, { remoteAddress: "::ffff:10.0.0.1" });
    expect(h.engine.audit()).toEqual([]);
    mapped.disconnect();
    expect(h.engine.audit()).toEqual([]);
    // Counted and released under one key: the address is free again, in either form.
    const plain = connectWith(h, { remoteAddress: "10.0.0.1" });
    expectAlive(plain);
    plain.disconnect();
    expectAlive(connectWith(h, { remoteAddress: "::ffff:10.0.0.1" }));
    expect(h.engine.audit()).toEqual([]);
  });

  it("[LIMIT-WATCH-APP-1] [SESSION-END-1] drops the watches of a connection that closes from the app's index and count", () => {
    const h = harness({ maxWatchPerApp: 4 });
    const closing = h.connect();
    closing.open("alice", ["bob", "carol"]);
    const other = h.connect();
    other.open("dave", ["bob"]);
    closing.disconnect();
    // Nothing of alice's watches is left: not in the count, not in the index of who
    // watches bob (whose presence would still be published to her).
    expect(h.engine.audit()).toEqual([]);
    expect(h.engine.inspect().apps[h.appId]).toMatchObject({
      watchEntries: 1,
      watchers: [["bob", [`${other.id}:dave`]]],
    });
    // The room they left is there to take: three more entries fit, a fourth does not.
    session(other, "dave", "add", ["x1", "x2", "x3"]).expectOne("session/added");
    session(other, "dave", "add", ["x4"]);
    expectError(other, 4120, { i: 9, peerId: "dave" });
  });

  it("[LIMIT-CONN-APP-1] [SESSION-APP-8] [LIMIT-QUOTA-1] keeps counting a bound connection whose sessions have all ended", () => {
    const h = harness({ maxConnectionsPerApp: 2 });
    // Bound, then idle: its only session ended, the connection stays bound to the app.
    const idle = h.connect();
    idle.open("alice");
    session(idle, "alice", "close", []).expectOne("session/closed");
    // Another connection binds, opens and closes its session, and goes.
    const passing = h.connect();
    passing.open("bob");
    session(passing, "bob", "close", []).expectOne("session/closed");
    passing.disconnect();
    expect(h.engine.audit()).toEqual([]);
    // The app holds one bound connection: one more place, and only one.
    const third = h.connect();
    expect(third.open("carol")).toMatchObject({ op: "opened" });
    const fourth = h.connect();
    fourth.cmd("dave", "session", "open", { i: 4 });
    expect(fourth.drain()).toEqual([
      expect.objectContaining({ cmd: "error", code: 4113, reason: "APP_QUOTA_EXCEEDED", i: 4 }),
    ]);
    expectClosed(fourth, 4113);
    expect(h.engine.audit()).toEqual([]);
    expect(h.engine.inspect().apps[h.appId]).toMatchObject({ connections: 2, sessions: 1 });
  });
});

describe("the per-app indexes (7.6)", () => {
  it("[LIMIT-QUOTA-1] keep a lone session without a Set, and counts that a rolled-back command restores", () => {
    const journal = new Journal();
    const app = new AppState(journal);
    const session = (conn: number, peerId: string): Session => ({
      conn,
      appId: "app1",
      peerId,
      watch: new Set(),
      sp: false,
    });
    const a = session(1, "alice");
    const b = session(2, "bob");
    app.addSession(a);
    app.addSession(b);
    app.watch(a, "carol");
    expect([...app.watchersOf("carol")]).toEqual([a]);
    journal.begin();
    app.watch(b, "carol");
    app.watch(b, "dave");
    expect([...app.watchersOf("carol")]).toEqual([a, b]);
    expect([app.sessions, app.watchEntries, app.watchers.size]).toEqual([2, 3, 2]);
    journal.rollback(); // the command failed: as it was
    expect([app.sessions, app.watchEntries, app.watchers.size]).toEqual([2, 1, 1]);
    expect([...app.watchersOf("carol")]).toEqual([a]);
    expect(app.watchers.count("dave")).toBe(0);
    // Ending a session removes its watches; an app with nothing left is empty.
    expect(app.removeSession(a)).toBe(true);
    expect(app.removeSession(b)).toBe(true);
    expect([app.sessions, app.watchEntries, app.watchers.size, app.online.size]).toEqual([
      0, 0, 0, 0,
    ]);
    expect(app.empty).toBe(true);
  });
});
