/**
 * Presence (spec 2.8): who is online, and the `presence` frames watchers get. The property
 * test runs random opens, re-opens, watches, unwatches, closes and disconnects across
 * several connections and peers against a model of "online iff at least one session".
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FakeConn, type Frame, Harness, nameOf, sendBinary } from "./support-core.js";

/** The presence frames `c` received, as [watcher, status, peer]. */
function presence(c: FakeConn): [unknown, unknown, unknown][] {
  return c.take("presence").map((f) => [f.peerId, f.status, (f.sessionPeerIds as string[])[0]]);
}

describe("presence (2.8)", () => {
  it("[PRESENCE-ONLINE-1] considers a peer online exactly while it has an open session on any connection", () => {
    const h = new Harness();
    const q = h.connect();
    q.open("q");
    const online = () => {
      q.cmd("q", "session", "query", { sessionPeerIds: ["alice"] });
      return (q.expectOne("session/query-result").onlineSessionPeerIds as string[]).length === 1;
    };
    expect(online()).toBe(false);
    const d1 = h.connect();
    const d2 = h.connect();
    d1.open("alice");
    expect(online()).toBe(true);
    d2.open("alice");
    d1.cmd("alice", "session", "close", {});
    expect(online()).toBe(true);
    d1.open("carol"); // another peer on the same connection does not count
    d2.disconnect();
    expect(online()).toBe(false);
    // A failed open does not make it online.
    d1.cmd("alice", "session", "open", { sessionPeerIds: "x", i: 1 });
    expect(online()).toBe(false);
    // Apps are separate.
    const other = h.connect();
    other.send({ cmd: "session", op: "open", appId: "app2", peerId: "alice" });
    expect(online()).toBe(false);
  });

  it("[PRESENCE-ON-2] sends one presence on with [peer] to every session watching a peer that comes online", () => {
    const h = new Harness();
    const w1 = h.connect();
    const w2 = h.connect();
    w1.open("bob", ["alice"]);
    w1.open("carol", ["alice", "zed"]); // two watching sessions on one connection
    w2.open("bob", ["alice"]);
    w1.drain();
    w2.drain();
    h.connect().open("alice", ["bob"]);
    expect(w1.drain()).toEqual([
      { cmd: "presence", peerId: "bob", status: "on", sessionPeerIds: ["alice"] },
      { cmd: "presence", peerId: "carol", status: "on", sessionPeerIds: ["alice"] },
    ]);
    expect(w2.drain()).toEqual([
      { cmd: "presence", peerId: "bob", status: "on", sessionPeerIds: ["alice"] },
    ]);
  });

  it("[PRESENCE-OFF-1] sends one presence off with [peer] to every session watching a peer whose last session ends", () => {
    const h = new Harness();
    const w = h.connect();
    w.open("bob", ["alice", "carol", "dave"]);
    w.open("erin", ["alice"]);
    const a1 = h.connect();
    const a2 = h.connect();
    a1.open("alice");
    a2.open("alice");
    a2.open("carol");
    const d = h.connect();
    d.open("dave");
    w.drain();
    a1.cmd("alice", "session", "close", {}); // not the last
    expect(w.drain()).toEqual([]);
    a2.cmd("alice", "session", "close", { i: 1 }); // by session/close
    a2.disconnect(); // by the end of the connection
    sendBinary(d); // by a close of the server
    expect(presence(w)).toEqual([
      ["bob", "off", "alice"],
      ["erin", "off", "alice"],
      ["bob", "off", "carol"],
      ["bob", "off", "dave"],
    ]);
  });

  it("[PRESENCE-SCOPE-1] sends a session presence only about peers in its watch set", () => {
    const h = new Harness();
    const w = h.connect();
    w.open("bob", ["alice"]);
    w.cmd("bob", "session", "query", { sessionPeerIds: ["carol"] }); // a query is no watch
    const x = h.connect();
    x.open("carol", ["bob"]);
    x.open("alice");
    x.disconnect();
    w.cmd("bob", "session", "remove", { sessionPeerIds: ["alice"] });
    const y = h.connect();
    y.open("alice");
    y.disconnect();
    expect(presence(w)).toEqual([
      ["bob", "on", "alice"],
      ["bob", "off", "alice"],
    ]);
  });

  it("[PRESENCE-DEVICES-1] sends no presence when a peer that stays online opens or ends one of several sessions", () => {
    const h = new Harness();
    const w = h.connect();
    w.open("bob", ["alice"]);
    const devices = [h.connect(), h.connect(), h.connect()];
    devices[0]?.open("alice");
    expect(presence(w)).toEqual([["bob", "on", "alice"]]);
    devices[1]?.open("alice");
    devices[2]?.open("alice");
    devices[1]?.disconnect();
    devices[2]?.cmd("alice", "session", "close", {});
    devices[2]?.open("alice");
    expect(w.received).toEqual([]);
    devices[0]?.disconnect();
    devices[2]?.disconnect();
    expect(presence(w)).toEqual([["bob", "off", "alice"]]);
  });

  it("[PRESENCE-ALT-1] never sends two consecutive presence frames about a peer with the same status", () => {
    const h = new Harness();
    const w = h.connect();
    const a = h.connect();
    a.open("alice");
    // The opened reply says alice is online: the next frame about her must be off.
    expect(w.open("bob", ["alice"]).onlineSessionPeerIds).toEqual(["alice"]);
    a.open("alice", ["x"]); // re-open: no change
    a.disconnect();
    const b = h.connect();
    b.open("alice");
    // The added reply of an already watched, online peer restates on.
    w.cmd("bob", "session", "add", { sessionPeerIds: ["alice"] });
    expect(w.take("session/added")[0]?.onlineSessionPeerIds).toEqual(["alice"]);
    b.disconnect();
    expect(presence(w)).toEqual([
      ["bob", "off", "alice"],
      ["bob", "on", "alice"],
      ["bob", "off", "alice"],
    ]);
  });

  it("[PRESENCE-ONLINE-1, PRESENCE-ON-2, PRESENCE-OFF-1, PRESENCE-SCOPE-1, PRESENCE-DEVICES-1, PRESENCE-ALT-1] reports each watched peer's state exactly as it changes, over random sessions", () => {
    const PEERS = ["p0", "p1", "p2", "p3"];
    const SLOTS = 3;
    const peer = fc.constantFrom(...PEERS);
    const slot = fc.nat({ max: SLOTS - 1 });
    const ids = fc.array(peer, { maxLength: 5 });
    const action = fc.oneof(
      fc.record({ kind: fc.constant("open" as const), slot, peer, watch: ids, i: fc.boolean() }),
      fc.record({ kind: fc.constant("close" as const), slot, peer, i: fc.boolean() }),
      fc.record({ kind: fc.constant("add" as const), slot, peer, watch: ids }),
      fc.record({ kind: fc.constant("remove" as const), slot, peer, watch: ids }),
      fc.record({ kind: fc.constant("query" as const), slot, peer, watch: ids }),
      fc.record({ kind: fc.constant("disconnect" as const), slot }),
    );

    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), (actions) => {
        const h = new Harness();
        const conns: FakeConn[] = Array.from({ length: SLOTS }, () => h.connect());
        /** Model: slot → peer → watch set; and what each session was told, per watched peer. */
        const sessions = new Map<string, Set<string>>();
        const told = new Map<string, Map<string, "on" | "off">>();
        const key = (s: number, p: string) => `${s}/${p}`;
        const isOnline = (p: string) => [...sessions.keys()].some((k) => k.endsWith(`/${p}`));
        const state = (p: string) => (isOnline(p) ? "on" : "off");
        const slotOf = (c: FakeConn) => conns.indexOf(c);

        for (const act of actions) {
          const c = conns[act.slot] as FakeConn;
          const replies: Frame[] = [];
          switch (act.kind) {
            case "open": {
              const k = key(act.slot, act.peer);
              sessions.set(k, new Set(act.watch));
              c.cmd(act.peer, "session", "open", {
                sessionPeerIds: act.watch,
                ...(act.i && { i: 1 }),
              });
              replies.push(c.expectOne("session/opened"));
              const t = new Map<string, "on" | "off">();
              for (const p of new Set(act.watch)) t.set(p, state(p));
              told.set(k, t);
              expect(new Set(replies[0]?.onlineSessionPeerIds as string[])).toEqual(
                new Set(act.watch.filter(isOnline)),
              );
              break;
            }
            case "close": {
              const k = key(act.slot, act.peer);
              c.cmd(act.peer, "session", "close", act.i ? { i: 2 } : {});
              if (sessions.has(k)) {
                sessions.delete(k);
                told.delete(k);
                if (act.i) c.expectOne("session/closed");
              } else if (act.i) c.expectOne("error");
              break;
            }
            case "add":
            case "remove":
            case "query": {
              const k = key(act.slot, act.peer);
              c.cmd(act.peer, "session", act.kind, { sessionPeerIds: act.watch, i: 3 });
              const watch = sessions.get(k);
              if (!watch) {
                c.expectOne("error");
                break;
              }
              const t = told.get(k) as Map<string, "on" | "off">;
              if (act.kind === "add") {
                const r = c.expectOne("session/added");
                expect(new Set(r.onlineSessionPeerIds as string[])).toEqual(
                  new Set(act.watch.filter(isOnline)),
                );
                for (const p of act.watch) {
                  watch.add(p);
                  t.set(p, state(p));
                }
              } else if (act.kind === "remove") {
                c.expectOne("session/removed");
                for (const p of act.watch) {
                  watch.delete(p);
                  t.delete(p);
                }
              } else {
                const r = c.expectOne("session/query-result");
                expect(new Set(r.onlineSessionPeerIds as string[])).toEqual(
                  new Set(act.watch.filter(isOnline)),
                );
              }
              break;
            }
            case "disconnect": {
              c.disconnect();
              for (const k of [...sessions.keys()]) {
                if (k.startsWith(`${act.slot}/`)) {
                  sessions.delete(k);
                  told.delete(k);
                }
              }
              conns[act.slot] = h.connect();
              break;
            }
          }
          // Every presence frame: about a watched peer, different from what the session was
          // last told, and true.
          for (const conn of conns) {
            for (const f of conn.take("presence")) {
              const k = key(slotOf(conn), String(f.peerId));
              const about = (f.sessionPeerIds as string[])[0] as string;
              const t = told.get(k);
              expect(sessions.get(k)?.has(about), `${k} does not watch ${about}`).toBe(true);
              expect(t?.get(about), `${k} told ${f.status} twice about ${about}`).not.toBe(
                f.status,
              );
              expect(f.status).toBe(state(about));
              t?.set(about, f.status as "on" | "off");
            }
            expect(conn.received.filter((f) => f.cmd !== "direct")).toEqual([]);
          }
          // And nothing missed: every session knows the current state of every peer it watches.
          for (const [k, watch] of sessions) {
            for (const p of watch) expect(told.get(k)?.get(p), `${k} about ${p}`).toBe(state(p));
          }
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe("presence and the replies (2.2, 2.8, v1.1: D20)", () => {
  it("[PRESENCE-ON-2] [PRESENCE-ALT-1] tells every watcher but the new session, whose reply already says its peer is online", () => {
    const h = new Harness();
    const w = h.connect();
    w.open("bob", ["alice"]);
    w.drain();
    const a = h.connect();
    a.open("carol", ["alice"]); // a watcher on the connection the new session opens on
    a.drain();
    // Alice's first session watches alice herself.
    a.cmd("alice", "session", "open", { sessionPeerIds: ["alice", "bob"], i: 1 });
    const frames = a.drain();
    expect(frames.map(nameOf)).toEqual(["presence", "session/opened"]);
    expect(frames[0]).toEqual({
      cmd: "presence",
      peerId: "carol",
      status: "on",
      sessionPeerIds: ["alice"],
    });
    expect(frames[1]).toMatchObject({
      peerId: "alice",
      i: 1,
      onlineSessionPeerIds: ["alice", "bob"],
    });
    expect(presence(w)).toEqual([["bob", "on", "alice"]]);
    // Her own session hears nothing more about her while it is open: a second device and a
    // re-open change nothing, and she cannot go offline before the session ends.
    const a2 = h.connect();
    a2.open("alice");
    a2.disconnect();
    a.cmd("alice", "session", "open", { sessionPeerIds: ["alice"] });
    expect(a.take("presence")).toEqual([]);
    expect(w.drain()).toEqual([]);
  });

  it("[SESSION-SELF-1] lists the command's own peer as online in opened, added and query-result", () => {
    const h = new Harness();
    const c = h.connect();
    expect(c.open("alice", ["alice", "zed"]).onlineSessionPeerIds).toEqual(["alice"]);
    c.cmd("alice", "session", "add", { sessionPeerIds: ["zed", "alice"] });
    expect(c.expectOne("session/added").onlineSessionPeerIds).toEqual(["alice"]);
    c.cmd("alice", "session", "query", { sessionPeerIds: ["alice"] });
    expect(c.expectOne("session/query-result").onlineSessionPeerIds).toEqual(["alice"]);
    // A re-open counts its session too, and so does a second peer of the connection.
    expect(c.open("alice", ["alice"]).onlineSessionPeerIds).toEqual(["alice"]);
    expect(c.open("bob", ["bob", "alice"]).onlineSessionPeerIds).toEqual(["bob", "alice"]);
    expect(c.received).toEqual([]);
  });

  it("[SESSION-LIST-1, SESSION-LIST-2] sends each id list as a set: every peer once (the reference server keeps the command's order)", () => {
    const h = new Harness();
    const others = h.connect();
    others.open("p1");
    others.open("p2");
    const c = h.connect();
    const dup = ["p2", "p1", "p2", "zz", "p1", "p2"];
    expect(c.open("w", dup).onlineSessionPeerIds).toEqual(["p2", "p1"]);
    c.cmd("w", "session", "add", { sessionPeerIds: dup });
    expect(c.expectOne("session/added").onlineSessionPeerIds).toEqual(["p2", "p1"]);
    c.cmd("w", "session", "query", { sessionPeerIds: dup });
    expect(c.expectOne("session/query-result").onlineSessionPeerIds).toEqual(["p2", "p1"]);
    // A peer watched through duplicates is still reported once per transition.
    others.disconnect();
    for (const f of c.take("presence")) expect(f.sessionPeerIds).toHaveLength(1);
  });
});
