/**
 * The client `ack`, transient messages and the offline store (spec/03-messages.md 3.5 to
 * 3.8).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/config.js";
import { type Frame, nameOf } from "../support/harness.js";
import {
  ackIds,
  byTimeThenId,
  createRoom,
  directs,
  expectOnlyError,
  expectQuiet,
  harness,
  historyIds,
  joinRoom,
  logItems,
  RecordingStore,
  restItems,
  send,
  sendOk,
  sendRoomOk,
  WEEK_MS,
} from "./support-messages.js";

describe("the client ack (3.5)", () => {
  it("[ACK-REMOVE-1] removes a message from a peer's pending messages when any of its sessions acks it", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const m1 = sendOk(a, "alice", ["bob"]);
    const m2 = sendOk(a, "alice", ["bob"]);
    const b1 = h.connect();
    const b2 = h.connect();
    b1.open("bob");
    b2.open("bob");
    b1.drain();
    b2.drain();
    ackIds(b2, "bob", [m1.uid]); // one device acks: gone for every device
    b1.open("bob");
    expect(directs(b1).map((f) => f.id)).toEqual([m2.uid]);
    const b3 = h.connect();
    b3.open("bob");
    expect(directs(b3).map((f) => f.id)).toEqual([m2.uid]);
    ackIds(b3, "bob", [m2.uid]);
    b1.open("bob");
    b2.disconnect();
    const b4 = h.connect();
    b4.open("bob");
    expectQuiet(h);
  });

  it("[ACK-IGNORE-1] ignores without an error acked ids that are unknown, transient or not pending for the peer", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    const c = h.connect();
    a.open("alice");
    b.open("bob");
    c.open("carol");
    const forBob = sendOk(a, "alice", ["bob"]);
    send(a, "alice", ["bob"], { transient: true });
    const transientId = String(directs(b).at(-1)?.id);
    b.drain();
    const room = createRoom(a, "alice");
    const group = sendRoomOk(a, "alice", room); // pending for nobody: alice is alone
    const ignored = ["no-such-id", transientId, group.uid, "x".repeat(64)];
    ackIds(b, "bob", ignored, { i: 1 });
    ackIds(b, "bob", ignored);
    ackIds(c, "carol", [forBob.uid], { i: 2 }); // pending for bob, not for carol
    ackIds(a, "alice", [forBob.uid]); // the sender's ack does nothing either
    expectQuiet(h);
    // Still pending for bob.
    b.open("bob");
    expect(directs(b).map((f) => f.id)).toEqual([forBob.uid]);
    // Acked twice: the second is an id no longer pending.
    ackIds(b, "bob", [forBob.uid, forBob.uid], { i: 3 });
    ackIds(b, "bob", [forBob.uid], { i: 4 });
    b.open("bob");
    expectQuiet(h);
  });

  it("[SERIAL-ACK-3] still answers an ack with i that fails for a reason other than its ids (ACK-IGNORE-1)", () => {
    const h = harness();
    const b = h.connect();
    b.open("bob");
    ackIds(b, "carol", ["m"], { i: 1 });
    expectOnlyError(h, b, 4105, { i: 1 });
    ackIds(b, "bob", [], { i: 2 });
    expectOnlyError(h, b, 4114, { i: 2 });
  });
});

describe("transient messages (3.6)", () => {
  it("[TRANSIENT-DELIVER-1] delivers a transient message only to the sessions open when it is accepted, with transient: true", () => {
    const h = harness();
    const a = h.connect();
    const a2 = h.connect();
    const b = h.connect();
    a.open("alice");
    a2.open("alice", [], { echo: true });
    b.open("bob");
    send(a, "alice", ["bob", "carol"], { transient: true, msg: "typing" });
    for (const conn of [b, a2]) {
      expect(directs(conn)).toEqual([
        expect.objectContaining({ msg: "typing", transient: true, offline: false }),
      ]);
    }
    // Carol was offline: she never gets it, nor does a later session of bob.
    const c = h.connect();
    c.open("carol");
    const b2 = h.connect();
    b2.open("bob");
    expectQuiet(h);
  });

  it("[TRANSIENT-STORE-1] never makes a transient message pending", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    send(a, "alice", ["bob", "carol"], { transient: true });
    send(a, "alice", ["bob"], { transient: true, r: true, i: 1 });
    const room = createRoom(a, "alice");
    const b2 = h.connect();
    b2.open("bob");
    joinRoom(b2, "bob", room);
    a.drain();
    b.drain();
    a.cmd("alice", "direct", undefined, { msg: "g", roomId: room, transient: true });
    b.drain();
    b2.drain();
    // Nothing on a re-open, a new session, or the first session of an offline recipient.
    b.open("bob");
    const c = h.connect();
    c.open("carol");
    const b3 = h.connect();
    b3.open("bob");
    expectQuiet(h);
  });

  it("[TRANSIENT-HISTORY-1] never returns a transient message in history", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    send(a, "alice", ["bob"], { transient: true });
    send(a, "alice", ["bob"], { transient: true, i: 1 });
    const cid = restItems(h).length; // nothing stored yet
    expect(cid).toBe(0);
    a.drain();
    const kept = sendOk(a, "alice", ["bob"]);
    send(a, "alice", ["bob"], { transient: true, i: 2 });
    a.drain();
    expect(historyIds(h)).toEqual([kept.uid]);
    const conv = String(restItems(h)[0]?.["conv-id"]);
    expect(logItems(a, "alice", conv).map((i) => i["msg-id"])).toEqual([kept.uid]);
    expect(restItems(h, { from: "alice" }).map((i) => i["msg-id"])).toEqual([kept.uid]);
  });

  it("[TRANSIENT-ACK-1] sends no ack for a transient direct without i", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    send(a, "alice", ["bob"], { transient: true });
    send(a, "alice", ["nobody-online"], { transient: true });
    expect(a.received).toEqual([]);
    expect(directs(b)).toHaveLength(1);
  });

  it("[TRANSIENT-ACK-2] answers a transient direct with i by an ack carrying i, the message id and the acceptance time", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    h.now += 17;
    send(a, "alice", ["bob"], { transient: true, i: 77 });
    const ack = a.expectOne("ack");
    const [d] = directs(b);
    expect(ack).toEqual({ cmd: "ack", peerId: "alice", i: 77, uid: d?.id, t: h.now });
    expect(d?.timestamp).toBe(h.now);
    expectQuiet(h);
  });
});

describe("the offline store (3.7)", () => {
  it("[OFFLINE-PENDING-1] keeps a persistent message pending for each recipient until one of its sessions acks it", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob", "carol"]);
    for (let day = 0; day < 3; day++) {
      h.now += 24 * 3600 * 1000;
      for (const p of ["bob", "carol"]) {
        const c = h.connect();
        c.open(p);
        expect(directs(c).map((f) => f.id)).toEqual([m.uid]);
        c.disconnect();
      }
    }
    // Bob's ack ends it for bob only.
    const b = h.connect();
    b.open("bob");
    ackIds(b, "bob", [directs(b)[0]?.id as string]);
    b.open("bob");
    const c = h.connect();
    c.open("carol");
    expect(directs(c).map((f) => f.id)).toEqual([m.uid]);
    expectQuiet(h);
  });

  it("[OFFLINE-LIVE-1] does not remove a message from the pending messages because it was delivered live", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    const m = sendOk(a, "alice", ["bob"]);
    expect(directs(b).map((f) => [f.id, f.offline])).toEqual([[m.uid, false]]);
    b.disconnect(); // crashed before acking
    const b2 = h.connect();
    b2.open("bob");
    expect(directs(b2).map((f) => [f.id, f.offline])).toEqual([[m.uid, true]]);
  });

  it("[OFFLINE-OPEN-1] delivers the pending messages right after the opened reply of every open and re-open, with offline: true", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const m1 = sendOk(a, "alice", ["bob"], { msg: "one" });
    const room = createRoom(a, "alice");
    a.cmd("alice", "room", "invite", { roomId: room, roomPeerIds: ["bob"] });
    a.drain();
    const g = sendRoomOk(a, "alice", room, { msg: "two" });
    const b = h.connect();
    for (const serial of [undefined, 5, 6]) {
      // First open, then two re-opens of the same session.
      b.cmd("bob", "session", "open", serial === undefined ? {} : { i: serial });
      const frames = b.drain();
      expect(frames.map(nameOf)).toEqual(["session/opened", "direct", "direct"]);
      expect(frames[1]).toEqual({
        cmd: "direct",
        id: m1.uid,
        msg: "one",
        fromPeerId: "alice",
        peerId: "bob",
        timestamp: m1.t,
        offline: true,
        toPeerIds: ["bob"],
      });
      expect(frames[2]).toMatchObject({ id: g.uid, roomId: room, offline: true, peerId: "bob" });
      expect(frames[1]).not.toHaveProperty("i");
      expect(frames[2]).not.toHaveProperty("i");
    }
    expectQuiet(h);
  });

  it("[OFFLINE-ORDER-1] delivers pending messages oldest first, by timestamp then message id", () => {
    const h = harness();
    const senders = ["alice", "carol", "dave"].map((p) => {
      const c = h.connect();
      c.open(p);
      return [c, p] as const;
    });
    const sent: Frame[] = [];
    for (let n = 0; n < 30; n++) {
      if (n % 4 === 0) h.now += 3;
      const [c, p] = senders[n % 3] as (typeof senders)[number];
      const ack = sendOk(c, p, ["bob"]);
      sent.push({ id: ack.uid, timestamp: ack.t });
    }
    const b = h.connect();
    b.open("bob");
    const got = directs(b);
    expect(got.map((f) => f.id)).toEqual([...sent].sort(byTimeThenId).map((f) => f.id));
    expect([...got].sort(byTimeThenId)).toEqual(got);
  });

  it("[OFFLINE-SCOPE-1] delivers pending messages only to the session whose open triggered it", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob", "carol"]);
    const b1 = h.connect();
    b1.open("bob");
    expect(directs(b1).map((f) => f.id)).toEqual([m.uid]);
    const shared = h.connect();
    shared.open("carol"); // carol on the connection, with her own pending message
    expect(directs(shared).map((f) => [f.id, f.peerId])).toEqual([[m.uid, "carol"]]);
    shared.open("bob");
    expect(shared.drain().map((f) => [nameOf(f), f.peerId])).toEqual([["direct", "bob"]]);
    b1.open("bob"); // re-open on b1: b1 only
    expect(directs(b1)).toHaveLength(1);
    expectQuiet(h);
  });

  it("[OFFLINE-LIMIT-1] keeps at most 50 pending messages per peer, evicting the oldest at the 51st", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const ids: string[] = [];
    for (let n = 0; n < 51; n++) {
      if (n % 10 === 0) h.now += 1; // equal timestamps: eviction goes by id
      ids.push(sendOk(a, "alice", ["bob"]).uid);
    }
    const b = h.connect();
    b.open("bob");
    expect(directs(b).map((f) => f.id)).toEqual(ids.slice(1));
    // Every further message evicts the next oldest; an acked one makes room.
    ackIds(b, "bob", [ids[10] as string]);
    ids.push(sendOk(a, "alice", ["bob"]).uid); // 50 pending again: nothing evicted
    ids.push(sendOk(a, "alice", ["bob"]).uid); // 51st: ids[1] goes
    b.drain(); // the two live deliveries
    b.open("bob");
    expect(directs(b).map((f) => f.id)).toEqual(ids.slice(2).filter((id) => id !== ids[10]));
    expect(DEFAULT_LIMITS.maxOfflinePerPeer).toBe(50);
  });

  it("[OFFLINE-LIMIT-1] evicts per peer: a busy peer's limit does not touch another's pending messages", () => {
    const h = harness({ limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: 3 } });
    const a = h.connect();
    a.open("alice");
    const shared = sendOk(a, "alice", ["bob", "carol"]).uid;
    const toBob = [1, 2, 3].map(() => sendOk(a, "alice", ["bob"]).uid);
    const b = h.connect();
    b.open("bob");
    expect(directs(b).map((f) => f.id)).toEqual(toBob);
    const c = h.connect();
    c.open("carol");
    expect(directs(c).map((f) => f.id)).toEqual([shared]);
  });

  it("[OFFLINE-AGE-1] does not deliver from the offline store a message more than 7 days old", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const old = sendOk(a, "alice", ["bob"]);
    h.now += 1;
    const newer = sendOk(a, "alice", ["bob"]);
    h.now = old.t + WEEK_MS; // exactly 7 days: still delivered
    const b1 = h.connect();
    b1.open("bob");
    expect(directs(b1).map((f) => f.id)).toEqual([old.uid, newer.uid]);
    h.now = old.t + WEEK_MS + 1; // one millisecond more: the old one is not
    b1.open("bob");
    expect(directs(b1).map((f) => f.id)).toEqual([newer.uid]);
    h.now = newer.t + WEEK_MS + 1;
    const b2 = h.connect();
    b2.open("bob");
    expectQuiet(h);
  });

  it("[OFFLINE-AGE-1] does not deliver an expired message even when the store returns it", () => {
    const store = new RecordingStore();
    const h = harness({}, store);
    const a = h.connect();
    a.open("alice");
    const old = sendOk(a, "alice", ["bob"]);
    // A store that forgets to drop expired entries.
    store.pendingFor = (appId, peerId) =>
      RecordingStore.prototype.pendingFor.call(store, appId, peerId, 0);
    h.now += WEEK_MS + 1;
    const fresh = sendOk(a, "alice", ["bob"]);
    const b = h.connect();
    b.open("bob");
    expect(directs(b).map((f) => f.id)).toEqual([fresh.uid]);
    expect(old.uid).not.toBe(fresh.uid);
  });

  it("[OFFLINE-OPEN-1] opens the session even when the offline store cannot be read", () => {
    const store = new RecordingStore();
    const h = harness({}, store);
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob"]);
    store.failing.add("pendingFor");
    const b = h.connect();
    b.cmd("bob", "session", "open", { i: 1 });
    // One reply for the open; the messages stay pending for the next open.
    expect(b.drain()).toEqual([
      {
        cmd: "session",
        op: "opened",
        peerId: "bob",
        i: 1,
        onlineSessionPeerIds: [],
        serverInfo: expect.anything(), // [SESSION-INFO-1]
      },
    ]);
    store.failing.clear();
    b.open("bob");
    expect(directs(b).map((f) => f.id)).toEqual([m.uid]);
  });

  it("[OFFLINE-HISTORY-1] keeps in history the messages the offline store evicted or expired", () => {
    const h = harness({ limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: 2 } });
    const a = h.connect();
    a.open("alice");
    const ids = [1, 2, 3, 4].map(() => sendOk(a, "alice", ["bob"]).uid);
    h.now += WEEK_MS + 1;
    const b = h.connect();
    b.open("bob");
    expectQuiet(h);
    expect(historyIds(h)).toEqual([...ids].reverse());
    const cid = String(restItems(h)[0]?.["conv-id"]);
    expect(logItems(b, "bob", cid).map((i) => i["msg-id"])).toEqual([...ids].reverse());
  });
});

describe("redelivery (3.8)", () => {
  it("[OFFLINE-OPEN-1] [DIRECT-ONCE-1] redelivers after each open until acked, and only then", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    const m = sendOk(a, "alice", ["bob"]);
    const seen: unknown[] = directs(b).map((f) => f.id);
    for (let n = 0; n < 3; n++) {
      b.open("bob");
      seen.push(...directs(b).map((f) => f.id));
    }
    expect(seen).toEqual([m.uid, m.uid, m.uid, m.uid]);
    ackIds(b, "bob", [m.uid]);
    b.open("bob");
    expectQuiet(h);
  });
});

describe("the sweep of expired pending messages (3.7)", () => {
  it("[OFFLINE-SWEEP-1] [LIMIT-STORE-2] gives an app back the room that expired messages of peers who never return took", () => {
    const h = harness({ limits: { ...DEFAULT_LIMITS, maxPendingPerApp: 2 } });
    const a = h.connect();
    a.open("alice");
    const old = sendOk(a, "alice", ["gone1", "gone2"]);
    send(a, "alice", ["carol"], { i: 1 });
    expectOnlyError(h, a, 4120, { i: 1 });
    // Expired messages still count until they are removed; nobody opens to purge them.
    h.now += WEEK_MS + 1;
    send(a, "alice", ["carol"], { i: 2 });
    expectOnlyError(h, a, 4120, { i: 2 });
    expect(h.store.sweepExpired(h.now - WEEK_MS, 100)).toBe(2);
    const fresh = sendOk(a, "alice", ["carol"]);
    // History keeps the swept message [OFFLINE-HISTORY-1].
    expect(historyIds(h)).toEqual([fresh.uid, old.uid]);
  });
});

describe("the client ack with i, whatever fails (1.4, v1.1: D20)", () => {
  it("[SERIAL-ACK-3] answers an ack with i with one error frame carrying it for every check that fails", () => {
    const store = new RecordingStore();
    const h = harness({}, store);
    const b = h.connect();
    b.open("bob");
    const cases: [Frame, number][] = [
      [{ appId: "app2" }, 4100], // another app (SESSION-APP-3)
      [{ peerId: "zed" }, 4105], // no session (SESSION-REQUIRED-1)
      [{ ids: "m" }, 4114], // schema (FRAME-SCHEMA-2)
      [{ ids: [] }, 4114], // empty (LIMIT-EMPTY-1)
      [{ ids: ["\ud800"] }, 4114], // unpaired surrogate (LIMIT-TEXT-1)
      [{ ids: Array(501).fill("m") }, 4120], // count (LIMIT-ARRAY-1)
    ];
    let i = 10;
    for (const [fields, code] of cases) {
      i++;
      b.send({ cmd: "ack", appId: "app1", peerId: "bob", ids: ["m"], ...fields, i });
      expectOnlyError(h, b, code, { i });
    }
    // The server's own failure (ERROR-INTERNAL-1).
    store.failing.add("removePending");
    ackIds(b, "bob", ["m"], { i: 99 });
    expectOnlyError(h, b, 4200, { i: 99, peerId: "bob" });
    store.failing.clear();
    // Ids that are unknown or not pending are no failure (ACK-IGNORE-1): nothing at all.
    ackIds(b, "bob", ["never-sent"], { i: 100 });
    expectQuiet(h);
  });
});

describe("the offline burst (3.7, v1.1: D20)", () => {
  it("[OFFLINE-BURST-1] sends the whole burst right after the opened reply, before any other frame of the connection", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const sent = [sendOk(a, "alice", ["bob"]), sendOk(a, "alice", ["bob"])];
    // The connection also holds carol, who watches bob and has a message of her own.
    const c = h.connect();
    c.open("carol", ["bob"]);
    c.drain();
    for (const serial of [1, undefined]) {
      // A first open, then a re-open; the commands behind it are already on their way.
      c.cmd("bob", "session", "open", serial === undefined ? {} : { i: serial });
      c.send({});
      c.cmd("bob", "direct", undefined, { msg: "after", toPeerIds: ["carol"] });
      const names = c.drain().map((f) => [nameOf(f), f.peerId, f.offline]);
      const presence = serial === 1 ? [["presence", "carol", undefined]] : [];
      expect(names).toEqual([
        ...presence, // carol hears bob come online before his reply
        ["session/opened", "bob", undefined],
        ...sent.map(() => ["direct", "bob", true]),
        ["keepalive", undefined, undefined],
        ["ack", "bob", undefined],
        ["direct", "carol", false],
      ]);
    }
    expectQuiet(h);
  });
});
