/** Delivery receipts (spec/03-messages.md 3.9, decision D7). */
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/config.js";
import {
  ackIds,
  createRoom,
  directs,
  expectQuiet,
  harness,
  sendOk,
  sendRoomOk,
  WEEK_MS,
} from "./support-messages.js";

describe("receipts (3.9)", () => {
  it("[RECEIPT-REQUEST-1] treats r: true on a persistent direct with one recipient as a receipt request", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    // One recipient, whatever duplicates and the sender's own id (DIRECT-TARGET-2, DIRECT-SELF-1).
    for (const to of [["bob"], ["bob", "bob"], ["alice", "bob", "alice"]]) {
      const m = sendOk(a, "alice", to, { r: true });
      b.drain();
      ackIds(b, "bob", [m.uid]);
      expect(a.expectOne("rcp")).toMatchObject({ id: m.uid });
    }
    expectQuiet(h);
  });

  it("[RECEIPT-IGNORE-1] sends no receipt for a transient, multi-recipient, group or unrequested message", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    const c = h.connect();
    a.open("alice");
    b.open("bob");
    c.open("carol");
    const room = createRoom(a, "alice");
    a.cmd("alice", "room", "invite", { roomId: room, roomPeerIds: ["bob", "carol"] });
    for (const conn of [a, b, c]) conn.drain();
    const ids: string[] = [];
    a.cmd("alice", "direct", undefined, { msg: "t", toPeerIds: ["bob"], transient: true, r: true });
    ids.push(String(directs(b)[0]?.id));
    ids.push(sendOk(a, "alice", ["bob", "carol"], { r: true }).uid);
    ids.push(sendRoomOk(a, "alice", room, { r: true }).uid);
    ids.push(sendOk(a, "alice", ["bob"]).uid);
    ids.push(sendOk(a, "alice", ["bob"], { r: false }).uid);
    b.drain();
    c.drain();
    ackIds(b, "bob", ids);
    ackIds(c, "carol", ids);
    expectQuiet(h);
  });

  it("[RECEIPT-SEND-1] sends rcp with the message id and the ack time to every session of the sender open at the first ack", () => {
    const h = harness();
    const a1 = h.connect();
    const a2 = h.connect();
    const b1 = h.connect();
    const b2 = h.connect();
    a1.open("alice");
    b1.open("bob");
    b2.open("bob");
    const m = sendOk(a1, "alice", ["bob"], { r: true, i: 3 });
    a2.open("alice"); // opened after the send, before the ack: gets it too
    for (const conn of [b1, b2]) conn.drain();
    h.now += 5000;
    ackIds(b2, "bob", [m.uid]); // from the recipient's second device
    for (const conn of [a1, a2]) {
      expect(conn.drain()).toEqual([{ cmd: "rcp", id: m.uid, t: h.now, peerId: "alice" }]);
    }
    expectQuiet(h);
  });

  it("[RECEIPT-SEND-1] sends the receipt when the recipient acks a message it got from the offline store", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob"], { r: true });
    h.now += 60_000;
    const b = h.connect();
    b.open("bob");
    expect(directs(b).map((f) => [f.id, f.offline])).toEqual([[m.uid, true]]);
    ackIds(b, "bob", [m.uid]);
    expect(a.drain()).toEqual([{ cmd: "rcp", id: m.uid, t: h.now, peerId: "alice" }]);
  });

  it("[RECEIPT-SEND-1] [ACK-IGNORE-1] sends no receipt for an ack of anyone but the recipient", () => {
    const h = harness();
    const a = h.connect();
    const a2 = h.connect();
    const c = h.connect();
    a.open("alice");
    a2.open("alice");
    c.open("carol");
    const m = sendOk(a, "alice", ["bob"], { r: true });
    a2.drain();
    ackIds(c, "carol", [m.uid]);
    ackIds(a2, "alice", [m.uid]);
    expectQuiet(h);
    const b = h.connect();
    b.open("bob");
    b.drain();
    ackIds(b, "bob", [m.uid]);
    expect(a.take("rcp")).toHaveLength(1);
    expect(a2.take("rcp")).toHaveLength(1);
  });

  it("[RECEIPT-ONCE-1] sends at most one rcp per message to any session", () => {
    const h = harness();
    const a = h.connect();
    const b1 = h.connect();
    const b2 = h.connect();
    a.open("alice");
    b1.open("bob");
    b2.open("bob");
    const m = sendOk(a, "alice", ["bob"], { r: true });
    b1.drain();
    b2.drain();
    ackIds(b1, "bob", [m.uid, m.uid]);
    ackIds(b2, "bob", [m.uid]);
    ackIds(b1, "bob", [m.uid], { i: 1 });
    b1.open("bob");
    ackIds(b1, "bob", [m.uid]);
    expect(a.take("rcp")).toHaveLength(1);
    // A re-open of the sender does not bring it back either.
    a.open("alice");
    expectQuiet(h);
  });

  it("[RECEIPT-STORE-1] keeps no receipt for a sender session that opens later", () => {
    const h = harness();
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob"], { r: true });
    a.disconnect(); // the sender goes offline before the ack
    const b = h.connect();
    b.open("bob");
    b.drain();
    ackIds(b, "bob", [m.uid]);
    const a2 = h.connect();
    a2.open("alice");
    expectQuiet(h);
  });

  it("[RECEIPT-SEND-1] [ACK-IGNORE-1] sends no receipt for an ack of a message past the offline age", () => {
    // Expired, the message is no longer pending (OFFLINE-PENDING-1), even while the store
    // still holds its entry (it purges at the peer's next open).
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    const old = sendOk(a, "alice", ["bob"], { r: true });
    h.now += WEEK_MS;
    const fresh = sendOk(a, "alice", ["bob"], { r: true });
    b.drain();
    h.now += 1;
    ackIds(b, "bob", [old.uid, fresh.uid]);
    expect(a.drain()).toEqual([{ cmd: "rcp", id: fresh.uid, t: h.now, peerId: "alice" }]);
  });

  it("[RECEIPT-SEND-1] [ACK-IGNORE-1] sends no receipt for an ack of a message the offline store already evicted", () => {
    // The pending entry is the only record that the message was never acknowledged: once it
    // is evicted, the ack is of an id not pending (ACK-IGNORE-1) and is ignored.
    const h = harness({ limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: 1 } });
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    const m = sendOk(a, "alice", ["bob"], { r: true });
    const next = sendOk(a, "alice", ["bob"], { r: true });
    b.drain();
    ackIds(b, "bob", [m.uid]);
    expectQuiet(h);
    ackIds(b, "bob", [next.uid]);
    expect(a.take("rcp").map((f) => f.id)).toEqual([next.uid]);
  });
});

describe("receipts and the offline store (3.5, 3.9, v1.1: D20)", () => {
  it("[ACK-IGNORE-1, RECEIPT-SEND-1, RECEIPT-CLIENT-1] sends no receipt for a message delivered live whose entry 50 newer ones evicted before its ack (kept in v1.1)", () => {
    const h = harness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    const m = sendOk(a, "alice", ["bob"], { r: true });
    expect(directs(b).map((f) => [f.id, f.offline])).toEqual([[m.uid, false]]); // delivered live
    const newer = Array.from({ length: DEFAULT_LIMITS.maxOfflinePerPeer }, () =>
      sendOk(a, "alice", ["bob"], { r: true }),
    );
    b.drain();
    // Bob's device did get m, but its entry is gone: the ack is ignored, no receipt.
    ackIds(b, "bob", [m.uid]);
    expectQuiet(h);
    // An entry still pending gets its receipt as usual.
    ackIds(b, "bob", [String(newer[0]?.uid)]);
    expect(a.take("rcp").map((f) => f.id)).toEqual([newer[0]?.uid]);
    expectQuiet(h);
  });
});
