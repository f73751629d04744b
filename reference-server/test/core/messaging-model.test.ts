/**
 * Model-based test of direct messaging (spec/03-messages.md, spec/05-history.md): random
 * sequences of opens, re-opens, closes, disconnects, persistent and transient sends, acks,
 * clock advances and history reads over a few peers and connections, run against the
 * engine and a model that predicts EVERY frame each connection receives.
 *
 * After each command: no unexpected frame anywhere, no missing one; live deliveries never
 * repeat on a session and keep the acceptance order per sender; offline deliveries after
 * an open are exactly the peer's pending messages, oldest first; transient messages are
 * never stored, replayed or in history; receipts only when asked, once, after the
 * recipient's ack; history pages concatenated equal the stored messages. At the end, a
 * fresh open of every peer returns exactly what the model still holds for it, and paging
 * through the whole app over REST returns every stored message in order.
 *
 * fast-check prints the seed and the shrunk command list of a failure.
 */
import { conversationId } from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../src/core/config.js";
import { type FakeConn, type Frame, type Harness, nameOf } from "../support/harness.js";
import { harness, MESSAGE_ID, restItems } from "./support-messages.js";

const PEERS = ["p0", "p1", "p2", "p3"] as const;
const SLOTS = 3;
/** Small store limits, so that eviction and expiry happen in short runs (LIMIT-CONFIG-1). */
const LIMIT = 4;
const TTL = 100;

/** A stored (persistent) message as the model knows it. */
interface ModelMessage {
  readonly id: string;
  readonly ts: number;
  readonly from: string;
  readonly to: readonly string[];
  readonly cid: string;
  readonly msg: string;
  readonly receipt: boolean;
  receiptSent: boolean;
}

interface Model {
  now: number;
  /** Per slot: the peers with an open session on its connection, or undefined. */
  readonly conns: (Set<string> | undefined)[];
  readonly messages: ModelMessage[];
  readonly byId: Map<string, ModelMessage>;
  /** peer → message id → timestamp: mirrors the offline store, expired entries included. */
  readonly pending: Map<string, Map<string, number>>;
  /** Every id the engine gave out, persistent and transient (for acks). */
  readonly allIds: string[];
  /** Acceptance order of every message, persistent and transient. */
  readonly seqOf: Map<string, number>;
  readonly transientIds: Set<string>;
  /** `${slot}:${peer}` of every session whose latest open asked for echo [ECHO-OPEN-1]. */
  readonly echo: Set<string>;
  counter: number;
}

interface Real {
  readonly h: Harness;
  readonly conns: (FakeConn | undefined)[];
  /** `${conn}:${peer}` → ids delivered live to that session (DIRECT-ONCE-1). */
  readonly liveSeen: Map<string, Set<string>>;
  /** `${conn}:${peer}:${sender}` → acceptance seq of the last live delivery (DIRECT-ORDER-1). */
  readonly lastLive: Map<string, number>;
  /** `${conn}:${peer}:${id}` of every rcp received (RECEIPT-ONCE-1). */
  readonly receipts: Set<string>;
}

type Cmd = fc.Command<Model, Real>;

/** A frame as a canonical string: sorted keys and recipients; error text left out. */
function norm(frame: Frame): string {
  const f: Frame = { ...frame };
  if (Array.isArray(f.toPeerIds)) f.toPeerIds = [...(f.toPeerIds as string[])].sort();
  if (f.cmd === "error") {
    delete f.detail;
    delete f.reason;
  }
  // The announcement is the same on every open; announce.test.ts checks it [SESSION-INFO-1].
  delete f.serverInfo;
  return JSON.stringify(f, Object.keys(f).sort());
}

const byAge = ([ia, ta]: [string, number], [ib, tb]: [string, number]) =>
  ta - tb || (ia < ib ? -1 : ia > ib ? 1 : 0);

/** Every open session as [slot, peer], in a fixed order. */
function sessions(m: Readonly<Model>): [number, string][] {
  return m.conns.flatMap((set, slot) =>
    set === undefined ? [] : [...set].sort().map((p): [number, string] => [slot, p]),
  );
}

/** The `who`-th open session (commands name a session by index, so most of them can run). */
function session(m: Readonly<Model>, who: number): [number, string] {
  const all = sessions(m);
  return all[who % all.length] as [number, string];
}

const hasSession = (m: Readonly<Model>) => sessions(m).length > 0;

function openSlots(m: Model, peer: string): number[] {
  return m.conns.flatMap((s, slot) => (s?.has(peer) ? [slot] : []));
}

function deliveryOf(m: ModelMessage, peer: string, offline: boolean): Frame {
  return {
    cmd: "direct",
    id: m.id,
    msg: m.msg,
    fromPeerId: m.from,
    timestamp: m.ts,
    offline,
    toPeerIds: [...m.to],
    peerId: peer,
  };
}

/** Takes every frame every connection received, by slot; closed ones must have none. */
function take(m: Model, r: Real): Map<number, Frame[]> {
  const out = new Map<number, Frame[]>();
  for (const c of r.h.conns.values()) {
    const slot = r.conns.indexOf(c);
    const frames = c.drain();
    if (slot < 0 || m.conns[slot] === undefined) {
      expect(frames, `frames on closed conn ${c.id}`).toEqual([]);
    } else out.set(slot, frames);
  }
  return out;
}

/** Checks the invariants that hold whatever the command, on the frames of one step. */
function checkInvariants(m: Model, r: Real, got: Map<number, Frame[]>): Map<number, Frame[]> {
  // [LIMIT-QUOTA-1] the counts behind the bounds agree with a recount from the connections.
  expect(r.h.engine.audit()).toEqual([]);
  for (const [slot, frames] of got) {
    const c = r.conns[slot] as FakeConn;
    for (const f of frames) {
      const key = `${c.id}:${String(f.peerId)}`;
      if (f.cmd === "direct" && f.offline !== true) {
        // [DIRECT-ONCE-1] never twice live on one session; [DIRECT-ORDER-1] per sender.
        const seen = r.liveSeen.get(key) ?? new Set<string>();
        expect(seen.has(String(f.id)), `live duplicate ${String(f.id)} on ${key}`).toBe(false);
        seen.add(String(f.id));
        r.liveSeen.set(key, seen);
        const orderKey = `${key}:${String(f.fromPeerId)}`;
        const seq = m.seqOf.get(String(f.id)) ?? Number.POSITIVE_INFINITY;
        expect(seq, `order on ${orderKey}`).toBeGreaterThan(r.lastLive.get(orderKey) ?? -1);
        r.lastLive.set(orderKey, seq);
      }
      if (f.cmd === "direct" && f.offline === true) {
        expect(m.transientIds.has(String(f.id)), "transient replayed").toBe(false);
      }
      if (f.cmd === "rcp") {
        const rk = `${key}:${String(f.id)}`;
        expect(r.receipts.has(rk), `second rcp ${rk}`).toBe(false);
        r.receipts.add(rk);
      }
    }
  }
  return got;
}

/** Takes the frames of a step and checks the invariants on them. */
function collect(m: Model, r: Real): Map<number, Frame[]> {
  return checkInvariants(m, r, take(m, r));
}

/** Expects the collected frames to be exactly the expected ones, per connection. */
function expectFrames(
  got: Map<number, Frame[]>,
  expected: Map<number, Frame[]>,
  ordered = false,
): void {
  for (let slot = 0; slot < SLOTS; slot++) {
    const g = (got.get(slot) ?? []).map(norm);
    const e = (expected.get(slot) ?? []).map(norm);
    if (ordered) expect(g, `frames of slot ${slot}`).toEqual(e);
    else expect([...g].sort(), `frames of slot ${slot}`).toEqual([...e].sort());
  }
}

function push(map: Map<number, Frame[]>, slot: number, frame: Frame): void {
  const list = map.get(slot) ?? [];
  list.push(frame);
  map.set(slot, list);
}

/** Opens (or re-opens) a session, connecting the slot first when needed. */
class OpenCmd implements Cmd {
  constructor(
    readonly slot: number,
    readonly peer: string,
    readonly withI: boolean,
    readonly echo = false,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    if (r.conns[this.slot] === undefined || m.conns[this.slot] === undefined) {
      r.conns[this.slot] = r.h.connect();
      m.conns[this.slot] = new Set();
    }
    const conn = r.conns[this.slot] as FakeConn;
    conn.cmd(this.peer, "session", "open", {
      sessionPeerIds: [],
      ...(this.withI ? { i: 1 } : {}),
      ...(this.echo ? { echo: true } : {}),
    });
    m.conns[this.slot]?.add(this.peer);
    // Every open, a re-open too, sets the echo afresh [ECHO-OPEN-1, SESSION-REOPEN-6].
    if (this.echo) m.echo.add(`${this.slot}:${this.peer}`);
    else m.echo.delete(`${this.slot}:${this.peer}`);
    // [OFFLINE-OPEN-1] [OFFLINE-ORDER-1] [OFFLINE-AGE-1] [OFFLINE-SCOPE-1]: the reply, then
    // every pending message not too old, oldest first, to this session only.
    const pending = m.pending.get(this.peer) ?? new Map<string, number>();
    for (const [id, ts] of pending) if (ts < m.now - TTL) pending.delete(id);
    const expected = new Map<number, Frame[]>();
    push(expected, this.slot, {
      cmd: "session",
      op: "opened",
      peerId: this.peer,
      onlineSessionPeerIds: [],
      ...(this.withI ? { i: 1 } : {}),
    });
    for (const [id] of [...pending].sort(byAge)) {
      push(expected, this.slot, deliveryOf(m.byId.get(id) as ModelMessage, this.peer, true));
    }
    expectFrames(collect(m, r), expected, true);
  }
  toString = () =>
    `open(${this.slot}, ${this.peer}${this.withI ? ", i" : ""}${this.echo ? ", echo" : ""})`;
}

/** Closes a session with `session/close`. */
class CloseCmd implements Cmd {
  constructor(readonly who: number) {}
  check = hasSession;
  run(m: Model, r: Real): void {
    const [slot, peer] = session(m, this.who);
    (r.conns[slot] as FakeConn).cmd(peer, "session", "close", { i: 2 });
    m.conns[slot]?.delete(peer);
    const expected = new Map<number, Frame[]>();
    push(expected, slot, { cmd: "session", op: "closed", peerId: peer, i: 2 });
    expectFrames(collect(m, r), expected);
  }
  toString = () => `close(#${this.who})`;
}

/** Drops a connection, ending its sessions. */
class DisconnectCmd implements Cmd {
  constructor(readonly slot: number) {}
  check = (m: Readonly<Model>) => m.conns[this.slot] !== undefined;
  run(m: Model, r: Real): void {
    (r.conns[this.slot] as FakeConn).disconnect();
    m.conns[this.slot] = undefined;
    r.conns[this.slot] = undefined;
    expectFrames(collect(m, r), new Map());
  }
  toString = () => `disconnect(${this.slot})`;
}

/** Sends a direct, persistent or transient, with or without `r` and `i`. */
class SendCmd implements Cmd {
  constructor(
    readonly who: number,
    readonly to: readonly string[],
    readonly transient: boolean,
    readonly receipt: boolean,
    readonly withI: boolean,
  ) {}
  check = hasSession;
  run(m: Model, r: Real): void {
    const [slot, from] = session(m, this.who);
    new SendFrom(slot, from, this).run(m, r);
  }
  toString = () =>
    `send(#${this.who} → [${this.to.join(",")}]${this.transient ? ", transient" : ""}${this.receipt ? ", r" : ""}${this.withI ? ", i" : ""})`;
}

/** A {@link SendCmd} from a resolved session. */
class SendFrom {
  readonly to: readonly string[];
  readonly transient: boolean;
  readonly receipt: boolean;
  readonly withI: boolean;
  constructor(
    readonly slot: number,
    readonly from: string,
    cmd: SendCmd,
  ) {
    this.to = cmd.to;
    this.transient = cmd.transient;
    this.receipt = cmd.receipt;
    this.withI = cmd.withI;
  }
  run(m: Model, r: Real): void {
    const msg = `t${++m.counter}`;
    const i = 1000 + m.counter;
    const fields: Frame = { msg, toPeerIds: [...this.to] };
    if (this.transient) fields.transient = true;
    if (this.receipt) fields.r = true;
    if (this.withI) fields.i = i;
    (r.conns[this.slot] as FakeConn).cmd(this.from, "direct", undefined, fields);
    const got = take(m, r);
    const replied = !this.transient || this.withI;
    const serial = this.withI ? { i } : {};
    const expected = new Map<number, Frame[]>();
    // [DIRECT-TARGET-2] [DIRECT-SELF-1] [DIRECT-SELF-2]
    const recipients = [...new Set(this.to)].filter((p) => p !== this.from);
    if (recipients.length === 0) {
      checkInvariants(m, r, got);
      if (replied) {
        push(expected, this.slot, { cmd: "error", code: 4401, peerId: this.from, ...serial });
      }
      expectFrames(got, expected);
      return;
    }
    const all = [...got.values()].flat();
    const ack = (got.get(this.slot) ?? []).find((f) => f.cmd === "ack");
    const id = String(ack?.uid ?? all.find((f) => f.cmd === "direct" && f.msg === msg)?.id);
    if (replied) expect(ack, "ack").toBeDefined();
    if (id !== "undefined") {
      // [ACK-ID-1]
      expect(id).toMatch(MESSAGE_ID);
      expect(m.seqOf.has(id), `id ${id} reused`).toBe(false);
      m.seqOf.set(id, m.seqOf.size);
      m.allIds.push(id);
    }
    checkInvariants(m, r, got);
    const message: ModelMessage = {
      id,
      ts: m.now,
      from: this.from,
      to: recipients,
      cid: conversationId([this.from, ...recipients]),
      msg,
      // [RECEIPT-REQUEST-1] [RECEIPT-IGNORE-1]
      receipt: this.receipt && !this.transient && recipients.length === 1,
      receiptSent: false,
    };
    // [ACK-REPLY-1] [TRANSIENT-ACK-1] [TRANSIENT-ACK-2]
    if (replied) {
      push(expected, this.slot, { cmd: "ack", uid: id, t: m.now, peerId: this.from, ...serial });
    }
    // [DIRECT-DELIVER-1] [TRANSIENT-DELIVER-1] [ECHO-OTHER-2] [ECHO-OFF-1] [ECHO-NOTSELF-1]
    // [DIRECT-ONLY-1]: the sender's other sessions only when they asked for echo.
    const live = (peer: string): Frame => {
      const f = deliveryOf(message, peer, false);
      return this.transient ? { ...f, transient: true } : f;
    };
    for (const p of recipients) for (const s of openSlots(m, p)) push(expected, s, live(p));
    for (const s of openSlots(m, this.from))
      if (s !== this.slot && m.echo.has(`${s}:${this.from}`)) push(expected, s, live(this.from));
    expectFrames(got, expected);
    if (this.transient) {
      if (id !== "undefined") m.transientIds.add(id);
      return; // [TRANSIENT-STORE-1]
    }
    m.messages.push(message);
    m.byId.set(id, message);
    // [OFFLINE-PENDING-1] [OFFLINE-LIMIT-1] [ECHO-STORE-1]
    for (const p of recipients) {
      const pending = m.pending.get(p) ?? new Map<string, number>();
      pending.set(id, m.now);
      while (pending.size > LIMIT)
        pending.delete(([...pending].sort(byAge)[0] as [string, number])[0]);
      m.pending.set(p, pending);
    }
  }
}

/** Acknowledges some ids the engine gave out (any peer's, any kind) and maybe an unknown one. */
class AckCmd implements Cmd {
  constructor(
    readonly who: number,
    readonly picks: readonly number[],
    readonly unknown: boolean,
    readonly withI: boolean,
  ) {}
  check = hasSession;
  run(m: Model, r: Real): void {
    const [slot, peer] = session(m, this.who);
    // Mostly the newest messages addressed to the peer (what a client acks), then any id.
    const mine = m.messages.filter((x) => x.to.includes(peer)).map((x) => x.id);
    const candidates = [...mine.reverse(), ...[...m.allIds].reverse()];
    const ids = this.picks.flatMap((k) =>
      candidates.length === 0 ? [] : [candidates[k % candidates.length] as string],
    );
    if (this.unknown || ids.length === 0) ids.push("unknown-id");
    const fields: Frame = { ids };
    if (this.withI) fields.i = 3;
    (r.conns[slot] as FakeConn).cmd(peer, "ack", undefined, fields);
    const expected = new Map<number, Frame[]>();
    const pending = m.pending.get(peer);
    for (const id of new Set(ids)) {
      // [ACK-REMOVE-1] [ACK-IGNORE-1]: only a pending id does anything.
      const ts = pending?.get(id);
      if (ts === undefined) continue;
      pending?.delete(id);
      const msg = m.byId.get(id) as ModelMessage;
      // [RECEIPT-SEND-1] [RECEIPT-ONCE-1] [RECEIPT-STORE-1]: first ack of a live entry, to
      // the sender's sessions open now.
      if (ts < m.now - TTL || !msg.receipt || msg.receiptSent) continue;
      msg.receiptSent = true;
      for (const s of openSlots(m, msg.from)) {
        push(expected, s, { cmd: "rcp", id, t: m.now, peerId: msg.from });
      }
    }
    expectFrames(collect(m, r), expected);
  }
  toString = () =>
    `ack(#${this.who}, #[${this.picks.join(",")}]${this.unknown ? ", unknown" : ""})`;
}

/** Moves the clock (and runs the engine's timers, which are set never to fire here). */
class AdvanceCmd implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    r.h.advance(this.ms);
    m.now += this.ms;
    expectFrames(collect(m, r), new Map());
  }
  toString = () => `advance(${this.ms})`;
}

/** Reads a conversation over the socket, page by page with the cursor. */
class LogsCmd implements Cmd {
  constructor(
    readonly who: number,
    readonly pick: number,
    readonly limit: number,
  ) {}
  check = hasSession;
  run(m: Model, r: Real): void {
    const [slot, peer] = session(m, this.who);
    // Mostly conversations the peer took part in, then any.
    const cids = [
      ...new Set([
        ...m.messages
          .filter((x) => x.from === peer || x.to.includes(peer))
          .map((x) => x.cid)
          .sort(),
        ...m.messages.map((x) => x.cid).sort(),
        ...PEERS.map((p) => conversationId([peer, p])),
      ]),
    ];
    const cid = cids[this.pick % cids.length] as string;
    const conn = r.conns[slot] as FakeConn;
    const stored = m.messages.filter((x) => x.cid === cid);
    // [LOGS-AUTH-2] [LOGS-AUTH-3]
    if (!stored.some((x) => x.from === peer || x.to.includes(peer))) {
      conn.cmd(peer, "logs", undefined, { cid, i: 4 });
      const expected = new Map<number, Frame[]>();
      push(expected, slot, { cmd: "error", code: 4401, peerId: peer, i: 4 });
      expectFrames(collect(m, r), expected);
      return;
    }
    // [LOGS-ORDER-1] [LOGS-CURSOR-1] [LOGS-PAGE-2] [TRANSIENT-HISTORY-1] [OFFLINE-HISTORY-1]
    const items: Frame[] = [];
    let cursor: Frame = {};
    for (let pages = 0; pages <= stored.length; pages++) {
      conn.cmd(peer, "logs", undefined, { cid, limit: this.limit, i: 5, ...cursor });
      const got = collect(m, r);
      const reply = got.get(slot) ?? [];
      expect(reply.map(nameOf)).toEqual(["logs/result"]);
      expectFrames(new Map([...got].filter(([s]) => s !== slot)), new Map());
      const page = (reply[0] as Frame).logs as Frame[];
      items.push(...page);
      if (page.length < this.limit) break;
      const last = page.at(-1) as Frame;
      cursor = { max_ts: last.timestamp, msgid: last["msg-id"] };
    }
    const newestFirst = [...stored].sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1));
    // [LOGS-ITEM-1] [LOGS-ITEM-3] [LOGS-ITEM-4]
    expect(items).toEqual(
      newestFirst.map((x) => ({
        timestamp: x.ts,
        "conv-id": x.cid,
        data: x.msg,
        from: x.from,
        "msg-id": x.id,
        "is-conv": x.to.length > 1,
        "is-room": false,
        to: x.to.length > 1 ? x.cid : x.to[0],
      })),
    );
  }
  toString = () => `logs(#${this.who}, #${this.pick}, limit ${this.limit})`;
}

const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const peer = fc.constantFrom(...PEERS);
const open = fc
  .tuple(slot, peer, fc.boolean(), fc.boolean())
  .map(([s, p, i, e]) => new OpenCmd(s, p, i, e) as Cmd);
const who = fc.nat({ max: 11 });
const sendCmd = fc
  .tuple(
    who,
    fc.array(peer, { minLength: 1, maxLength: 3 }),
    fc.boolean(),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([w, to, tr, rc, i]) => new SendCmd(w, to, tr, rc, i) as Cmd);
const ack = fc
  .tuple(
    who,
    fc.array(fc.oneof(fc.nat({ max: 3 }), fc.nat()), { minLength: 0, maxLength: 3 }),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([w, picks, u, i]) => new AckCmd(w, picks, u, i) as Cmd);
const commands = [
  open,
  open,
  sendCmd,
  sendCmd,
  sendCmd,
  ack,
  ack,
  who.map((w) => new CloseCmd(w) as Cmd),
  slot.map((s) => new DisconnectCmd(s) as Cmd),
  fc.constantFrom(0, 1, 2, 30, TTL + 1).map((ms) => new AdvanceCmd(ms) as Cmd),
  fc
    .tuple(who, fc.oneof(fc.nat({ max: 2 }), fc.nat()), fc.integer({ min: 1, max: 3 }))
    .map(([w, k, l]) => new LogsCmd(w, k, l) as Cmd),
];

/** Runs one command sequence, then the end-of-run checks. */
function runScenario(cmds: Iterable<Cmd>): void {
  const h = harness({
    limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: LIMIT, offlineTtlMs: TTL },
    readTimeoutMs: 1e12,
    loginTimeoutMs: 1e12,
    rateLimit: { perSecond: 0, burst: 0 },
  });
  const model: Model = {
    now: h.now,
    conns: Array.from({ length: SLOTS }, () => undefined),
    messages: [],
    byId: new Map(),
    pending: new Map(),
    allIds: [],
    seqOf: new Map(),
    transientIds: new Set(),
    echo: new Set(),
    counter: 0,
  };
  const real: Real = {
    h,
    conns: Array.from({ length: SLOTS }, () => undefined),
    liveSeen: new Map(),
    lastLive: new Map(),
    receipts: new Set(),
  };
  fc.modelRun(() => ({ model, real }), cmds);

  // [ACK-PROMISE-2] [OFFLINE-PENDING-1]: a fresh session of every peer gets exactly what
  // is still pending for it.
  for (const p of PEERS) {
    const c = h.connect();
    c.cmd(p, "session", "open", { sessionPeerIds: [] });
    const pending = [...(model.pending.get(p) ?? new Map<string, number>())]
      .filter(([, ts]) => ts >= model.now - TTL)
      .sort(byAge);
    expect(c.drain().map((f) => (nameOf(f) === "direct" ? f.id : nameOf(f)))).toEqual([
      "session/opened",
      ...pending.map(([id]) => id),
    ]);
    c.disconnect();
  }
  // [ACK-PROMISE-1] [LOGS-CURSOR-1] [TRANSIENT-HISTORY-1]: the whole app over REST, paged.
  const ids: unknown[] = [];
  let q: Record<string, string> = { limit: "2" };
  for (;;) {
    const page = restItems(h, q);
    ids.push(...page.map((i) => i["msg-id"]));
    if (page.length < 2) break;
    const last = page.at(-1) as Frame;
    q = { limit: "2", max_ts: String(last.timestamp), msgid: String(last["msg-id"]) };
  }
  const expected = [...model.messages]
    .sort((a, b) => b.ts - a.ts || (a.id < b.id ? 1 : -1))
    .map((x) => x.id);
  expect(ids).toEqual(expected);
}

describe("messaging model", () => {
  it("[DIRECT-DELIVER-1] [DIRECT-ONCE-1] [DIRECT-ORDER-1] [ECHO-OTHER-2] [ECHO-OFF-1] [OFFLINE-OPEN-1] [OFFLINE-LIMIT-1] [OFFLINE-AGE-1] [TRANSIENT-STORE-1] [RECEIPT-ONCE-1] [LOGS-PAGE-2] the engine behaves like the model over random command sequences", () => {
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 80, size: "max" }), (cmds) =>
        runScenario(cmds),
      ),
      { numRuns: 200 },
    );
  });
});
