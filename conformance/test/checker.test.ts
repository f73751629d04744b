/**
 * The property run's checkers on hand-made histories: each invariant accepts a correct
 * history and names its requirement on a history that breaks it, so a checker that cannot
 * fail would show here before it hid a server's bug.
 */
import { describe, expect, it } from "vitest";
import {
  type ConnRecord,
  checkAll,
  checkDelivery,
  checkHistory,
  checkNoDuplicate,
  checkNoStrayDelivery,
  checkOrder,
  checkPresence,
  checkReceipts,
  type RunHistory,
  type SentMessage,
} from "../src/model/history.js";

const peers = ["a", "b", "c"];

function conn(
  label: string,
  peer: number,
  frames: Record<string, unknown>[],
  extra: Partial<ConnRecord> = {},
): ConnRecord {
  return {
    label,
    peer,
    openedSeq: 0,
    watches: [0, 1, 2].filter((p) => p !== peer),
    openedOnline: [],
    frames: frames.map((frame, k) => ({ frame, at: 10 * (k + 1) })),
    ...extra,
  };
}

function msg(
  text: string,
  from: number,
  to: number,
  seq: number,
  extra: Partial<SentMessage> = {},
): SentMessage {
  return {
    text,
    from,
    fromConn: `c${from}`,
    to: { peer: to },
    transient: false,
    receipt: false,
    seq,
    outcome: "ok",
    id: `id-${text}`,
    timestamp: 1000 + seq,
    recipients: [to],
    liveConns: [],
    ...extra,
  };
}

const deliver = (m: SentMessage, offline = false) => ({
  cmd: "direct",
  id: m.id,
  msg: m.text,
  fromPeerId: peers[m.from],
  offline,
});

function history(parts: Partial<RunHistory>): RunHistory {
  return {
    peers,
    conns: [],
    messages: [],
    transitions: [],
    uncertainPresence: new Set(),
    onlineAtEnd: [true, true, true],
    histories: [],
    offlineCount: 50,
    ...parts,
  };
}

const ids = (vs: { requirement: string }[]) => vs.map((v) => v.requirement);

describe("checkers", () => {
  const m1 = msg("m1", 0, 1, 1);
  const m2 = msg("m2", 0, 1, 2);

  it("accept a correct history", () => {
    const h = history({
      messages: [m1, m2],
      conns: [conn("c0", 0, []), conn("c1", 1, [deliver(m1), deliver(m2)])],
    });
    expect(checkAll(h, new Set())).toEqual([]);
  });

  it("DIRECT-ONLY-1: a delivery to a peer that was not a recipient", () => {
    const h = history({
      messages: [m1],
      conns: [conn("c1", 1, [deliver(m1)]), conn("c2", 2, [deliver(m1)])],
    });
    expect(ids(checkNoStrayDelivery(h))).toEqual(["DIRECT-ONLY-1"]);
  });

  it("ERROR-NOEFFECT-1: a refused message delivered", () => {
    const bad = msg("bad", 0, 1, 1, { outcome: "fail", invalid: true });
    const h = history({ messages: [bad], conns: [conn("c1", 1, [deliver(bad)])] });
    expect(ids(checkNoStrayDelivery(h))).toEqual(["ERROR-NOEFFECT-1"]);
  });

  it("ECHO-OFF-1 and ECHO-NOTSELF-1: the sender's own sessions", () => {
    const h = history({
      messages: [m1],
      conns: [
        conn("c0", 0, [deliver(m1)]),
        conn("c9", 0, [deliver(m1)]),
        conn("c1", 1, [deliver(m1)]),
      ],
    });
    expect(ids(checkNoStrayDelivery(h)).sort()).toEqual(["ECHO-NOTSELF-1", "ECHO-OFF-1"]);
  });

  it("DIRECT-ONCE-1: a message twice on one connection", () => {
    const h = history({ messages: [m1], conns: [conn("c1", 1, [deliver(m1), deliver(m1, true)])] });
    expect(ids(checkNoDuplicate(h))).toEqual(["DIRECT-ONCE-1"]);
  });

  it("DIRECT-ORDER-1 and OFFLINE-ORDER-1: out of order, live and from the store", () => {
    const live = history({
      messages: [m1, m2],
      conns: [conn("c1", 1, [deliver(m2), deliver(m1)])],
    });
    expect(ids(checkOrder(live))).toEqual(["DIRECT-ORDER-1"]);
    const offline = history({
      messages: [m1, m2],
      conns: [conn("c1", 1, [deliver(m2, true), deliver(m1, true)])],
    });
    expect(ids(checkOrder(offline))).toEqual(["OFFLINE-ORDER-1"]);
    // Tied timestamps order by id.
    const t1 = msg("t1", 0, 1, 1, { timestamp: 5, id: "b" });
    const t2 = msg("t2", 0, 1, 2, { timestamp: 5, id: "a" });
    expect(
      ids(
        checkOrder(
          history({
            messages: [t1, t2],
            conns: [conn("c1", 1, [deliver(t1, true), deliver(t2, true)])],
          }),
        ),
      ),
    ).toEqual(["OFFLINE-ORDER-1"]);
  });

  it("ACK-PROMISE-2: an acked message that never arrived; unknown and evicted ones are not judged", () => {
    const h = history({ messages: [m1], conns: [conn("c1", 1, [])] });
    expect(ids(checkDelivery(h))).toEqual(["ACK-PROMISE-2"]);
    const unknown = history({
      messages: [{ ...m1, outcome: "unknown" }],
      conns: [conn("c1", 1, [])],
    });
    expect(checkDelivery(unknown)).toEqual([]);
    const evicted = history({
      messages: [m1, m2],
      conns: [conn("c1", 1, [deliver(m2, true)])],
      offlineCount: 1,
    });
    expect(checkDelivery(evicted)).toEqual([]);
  });

  it("DIRECT-DELIVER-1: a connection open at the send that never got it live (not for dropped ones)", () => {
    const live = msg("m1", 0, 1, 1, { liveConns: ["c1"] });
    const h = history({
      messages: [live],
      conns: [conn("c1", 1, []), conn("c7", 1, [deliver(live, true)])],
    });
    expect(ids(checkDelivery(h))).toEqual(["DIRECT-DELIVER-1"]);
    const dropped = history({
      messages: [live],
      conns: [conn("c1", 1, [], { closedHow: "drop" }), conn("c7", 1, [deliver(live, true)])],
    });
    expect(checkDelivery(dropped)).toEqual([]);
  });

  it("TRANSIENT-STORE-1: a transient message from the offline store", () => {
    const t = msg("tr", 0, 1, 1, { transient: true });
    const h = history({ messages: [t], conns: [conn("c1", 1, [deliver(t, true)])] });
    expect(ids(checkDelivery(h))).toEqual(["TRANSIENT-STORE-1"]);
  });

  it("receipts: not asked, twice, before delivery, missing", () => {
    const r = msg("r", 0, 1, 1, { receipt: true });
    const rcp = { cmd: "rcp", id: r.id, t: 1 };
    const notAsked = history({
      messages: [m1],
      conns: [conn("c0", 0, [{ cmd: "rcp", id: m1.id, t: 1 }]), conn("c1", 1, [deliver(m1)])],
    });
    expect(ids(checkReceipts(notAsked, new Set()))).toEqual(["RECEIPT-IGNORE-1"]);
    const twice = history({
      messages: [r],
      conns: [
        conn("c1", 1, [deliver(r)]),
        conn("c0", 0, [{ cmd: "keepalive" }, { cmd: "keepalive" }, rcp, rcp]),
      ],
    });
    expect(ids(checkReceipts(twice, new Set([r.id as string])))).toEqual(["RECEIPT-ONCE-1"]);
    // The rcp (at 10 ms) came before the delivery (at 20 ms).
    const early = history({
      messages: [r],
      conns: [conn("c0", 0, [rcp]), conn("c1", 1, [{ cmd: "keepalive" }, deliver(r)])],
    });
    expect(ids(checkReceipts(early, new Set([r.id as string])))).toEqual(["RECEIPT-SEND-1"]);
    const missing = history({
      messages: [r],
      conns: [conn("c0", 0, []), conn("c1", 1, [deliver(r)])],
    });
    expect(ids(checkReceipts(missing, new Set([r.id as string])))).toEqual(["RECEIPT-SEND-1"]);
    expect(checkReceipts(missing, new Set())).toEqual([]);
  });

  it("presence: alternation, scope, exact transitions, and leniency after a drop", () => {
    const on = (id: string) => ({ cmd: "presence", status: "on", sessionPeerIds: [id] });
    const off = (id: string) => ({ cmd: "presence", status: "off", sessionPeerIds: [id] });
    const transitions = [
      { seq: 2, peer: 1, status: "on" as const },
      { seq: 3, peer: 1, status: "off" as const },
    ];
    const good = history({ transitions, conns: [conn("c0", 0, [on("b"), off("b")])] });
    expect(checkPresence(good)).toEqual([]);
    const twice = history({ transitions, conns: [conn("c0", 0, [on("b"), on("b"), off("b")])] });
    expect(ids(checkPresence(twice))).toContain("PRESENCE-ALT-1");
    const missingOff = history({ transitions, conns: [conn("c0", 0, [on("b")])] });
    expect(ids(checkPresence(missingOff))).toEqual(["PRESENCE-OFF-1"]);
    const extra = history({ transitions: [], conns: [conn("c0", 0, [on("b"), off("b")])] });
    expect(ids(checkPresence(extra))).toEqual(["PRESENCE-DEVICES-1"]);
    const scope = history({ transitions: [], conns: [conn("c0", 0, [on("zz")])] });
    expect(ids(checkPresence(scope))).toEqual(["PRESENCE-SCOPE-1"]);
    const dropped = history({
      transitions,
      uncertainPresence: new Set([1]),
      conns: [conn("c0", 0, [on("b")])],
    });
    expect(checkPresence(dropped)).toEqual([]);
  });

  it("history: missing, duplicated, out of order, transient, refused", () => {
    const item = (m: SentMessage) => ({ "msg-id": m.id, timestamp: m.timestamp, data: m.text });
    const t = msg("tr", 0, 1, 3, { transient: true });
    const bad = msg("bad", 0, 1, 4, { outcome: "fail" });
    const conv = (items: Record<string, unknown>[]) =>
      history({
        messages: [m1, m2, t, bad],
        histories: [{ cid: "x", texts: ["m1", "m2", "tr", "bad"], items }],
      });
    expect(checkHistory(conv([item(m2), item(m1)]))).toEqual([]);
    expect(ids(checkHistory(conv([item(m2)])))).toEqual(["ACK-PROMISE-1"]);
    expect(ids(checkHistory(conv([item(m2), item(m2), item(m1)])))).toEqual(["LOGS-CURSOR-1"]);
    expect(ids(checkHistory(conv([item(m1), item(m2)])))).toEqual(["LOGS-ORDER-1"]);
    expect(ids(checkHistory(conv([item(m2), item(m1), item(t)])))).toContain("TRANSIENT-HISTORY-1");
    expect(ids(checkHistory(conv([item(m2), item(m1), item(bad)])))).toContain("ERROR-NOEFFECT-1");
  });
});
