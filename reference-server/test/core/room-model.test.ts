/**
 * Model-based test of groups (spec/04-groups.md) with fast-check: four peers on five
 * connections (alice has two devices) create, join, invite, kick, leave, send group
 * messages, acknowledge them, open and close sessions, drop connections and restart the
 * server over the same store. A model of membership and of the offline stores predicts,
 * after each command, every frame of every connection exactly: the reply, the copies to
 * the actor's other devices, the membership events of Table 2 (ROOM-FANOUT-1 … 7), none
 * for a no-op (ROOM-FANOUT-6) or a failure (ERROR-NOEFFECT-1), live deliveries only to
 * the members' open sessions (ROOM-MSG-2), offline deliveries of what was pending at
 * acceptance (ROOM-MSG-3), and membership persisted in the store across re-opens and
 * restarts (ROOM-EMPTY-1).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FakeConn, Frame } from "../support/harness.js";
import { Harness } from "../support/harness.js";

const PEERS = ["alice", "bob", "carol", "dave"] as const;
type Peer = (typeof PEERS)[number];
/** The peer of each connection slot: alice has two devices. */
const SLOT_PEER: readonly Peer[] = ["alice", "alice", "bob", "carol", "dave"];
const SLOTS = SLOT_PEER.map((_, k) => k);
const UNKNOWN_ROOM = "no-such-room";
/** The offline store's default limit (OFFLINE-LIMIT-1). */
const MAX_PENDING = 50;

/** A message the model remembers, to predict its offline deliveries. */
interface ModelMessage {
  readonly id: string;
  readonly from: Peer;
  readonly roomId: string;
  readonly msg: string;
  readonly timestamp: number;
}

/** What the model knows. */
interface Model {
  /** Whether each slot's session is open. */
  readonly open: boolean[];
  /** Groups in creation order, with their real ids (learned from the replies). */
  readonly rooms: { readonly id: string; readonly members: Set<Peer> }[];
  /** Per peer: the persistent messages pending for it, oldest first (OFFLINE-ORDER-1). */
  readonly pending: Map<Peer, ModelMessage[]>;
}

/** The system under test: a harness, one fake connection per slot, a serial counter. */
interface Real {
  h: Harness;
  readonly conns: FakeConn[];
  serial: number;
}

// ---- frames ---------------------------------------------------------------------------

const withSerial = (frame: Frame, i: number | undefined): Frame =>
  i === undefined ? frame : { ...frame, i };

/** An error frame; a command without `i` gets one without `i` (ERROR-FRAME-2). */
const errorFrame = (code: number, peerId: string, i: number | undefined): Frame =>
  withSerial(
    { cmd: "error", code, reason: expect.any(String), detail: expect.any(String), peerId },
    i,
  );

/**
 * Sorts the `roomPeerIds` of a frame (the spec fixes the set, not the order) and drops
 * `offline: false` (a live delivery may carry it or not; DIRECT-DELIVER-2 forbids `true`).
 */
function normalize(frame: Frame): Frame {
  // The announcement is the same on every open; announce.test.ts checks it [SESSION-INFO-1].
  const { serverInfo: _, ...shown } = frame;
  const { offline, ...rest } = shown;
  const out: Frame = offline === false ? rest : shown;
  if (!Array.isArray(out.roomPeerIds)) return out;
  return { ...out, roomPeerIds: [...(out.roomPeerIds as string[])].sort() };
}

// ---- model helpers --------------------------------------------------------------------

const openSlotsOf = (m: Model, peer: Peer): number[] =>
  SLOTS.filter((k) => SLOT_PEER[k] === peer && m.open[k]);

/** The group a selector names: -1 (or no group yet) names a group that does not exist. */
function roomAt(m: Model, sel: number): { id: string; members: Set<Peer> } | undefined {
  if (sel < 0 || m.rooms.length === 0) return undefined;
  return m.rooms[sel % m.rooms.length];
}

const roomIdAt = (m: Model, sel: number): string => roomAt(m, sel)?.id ?? UNKNOWN_ROOM;

/** Expected frames per slot, filled in by a command's prediction. */
class Expect {
  readonly frames: Frame[][] = SLOTS.map(() => []);

  /** A frame for one slot, `peerId` filled in from the slot. */
  to(slot: number, frame: Frame): void {
    this.frames[slot]?.push({ ...frame, peerId: SLOT_PEER[slot] });
  }

  /** A frame for every open session of a peer, except `except`. */
  toPeer(m: Model, peer: Peer, frame: Frame, except?: number): void {
    for (const k of openSlotsOf(m, peer)) if (k !== except) this.to(k, frame);
  }
}

/** Compares every connection's frames with the prediction, and the store with the model. */
function check(m: Model, r: Real, e: Expect): void {
  for (const k of SLOTS) {
    const got = (r.conns[k] as FakeConn).drain().map(normalize);
    expect(got, `frames of slot ${k} (${SLOT_PEER[k]})`).toEqual(e.frames[k]?.map(normalize));
  }
  // [LIMIT-QUOTA-1] the engine's counts agree with a recount from its connections.
  expect(r.h.engine.audit(), "the counts behind the bounds").toEqual([]);
  // Membership lives in the store and survives re-opens and restarts.
  for (const room of m.rooms) {
    expect([...r.h.store.members(r.h.appId, room.id)].sort(), `members of ${room.id}`).toEqual(
      [...room.members].sort(),
    );
  }
}

/** Every command advances the clock, so message timestamps strictly increase. */
function tickOf(r: Real): number {
  r.h.now += 1;
  return ++r.serial;
}

/** The common failure checks of a room command: 4105, then 4404, then (member) 4401. */
function precheck(
  m: Model,
  slot: number,
  sel: number,
  mustBeMember: boolean,
): { code: number } | { room: { id: string; members: Set<Peer> } } {
  if (!m.open[slot]) return { code: 4105 };
  const room = roomAt(m, sel);
  if (!room) return { code: 4404 };
  if (mustBeMember && !room.members.has(SLOT_PEER[slot] as Peer)) return { code: 4401 };
  return { room };
}

// ---- commands -------------------------------------------------------------------------

type Cmd = fc.Command<Model, Real>;

/**
 * Opens (or re-opens) the slot's session with `i` and predicts its frames: the reply, then
 * everything pending for the peer, oldest first, with offline: true (OFFLINE-OPEN-1).
 * Nobody watches anybody, so no presence.
 */
function openSlot(m: Model, r: Real, slot: number, e: Expect): void {
  const i = ++r.serial;
  const peer = SLOT_PEER[slot] as Peer;
  // Every session asks for echo, so a peer's other devices get its group messages
  // [ECHO-OTHER-2]; direct.test.ts and the messaging model cover sessions without it.
  (r.conns[slot] as FakeConn).cmd(peer, "session", "open", { sessionPeerIds: [], i, echo: true });
  e.to(slot, { cmd: "session", op: "opened", onlineSessionPeerIds: [], i });
  for (const msg of m.pending.get(peer) ?? []) {
    e.to(slot, {
      cmd: "direct",
      id: msg.id,
      msg: msg.msg,
      fromPeerId: msg.from,
      timestamp: msg.timestamp,
      offline: true,
      roomId: msg.roomId,
    });
  }
  m.open[slot] = true;
}

class Open implements Cmd {
  constructor(readonly slot: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    tickOf(r);
    const e = new Expect();
    openSlot(m, r, this.slot, e);
    check(m, r, e);
  }
  toString = () => `Open(${this.slot})`;
}

class Close implements Cmd {
  constructor(readonly slot: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const i = tickOf(r);
    const peer = SLOT_PEER[this.slot] as Peer;
    (r.conns[this.slot] as FakeConn).cmd(peer, "session", "close", { i });
    const e = new Expect();
    if (m.open[this.slot]) e.to(this.slot, { cmd: "session", op: "closed", i });
    else e.to(this.slot, errorFrame(4105, peer, i));
    m.open[this.slot] = false;
    check(m, r, e);
  }
  toString = () => `Close(${this.slot})`;
}

/**
 * The client drops its connection (SESSION-END-1), connects again and opens its session:
 * nothing of the membership changes, and what is pending comes again.
 */
class Reconnect implements Cmd {
  constructor(readonly slot: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    tickOf(r);
    (r.conns[this.slot] as FakeConn).disconnect();
    r.conns[this.slot] = r.h.connect();
    m.open[this.slot] = false;
    check(m, r, new Expect());
    const e = new Expect();
    openSlot(m, r, this.slot, e);
    check(m, r, e);
  }
  toString = () => `Reconnect(${this.slot})`;
}

/**
 * The server restarts over the same store and every client opens again: groups, members
 * and offline stores are what the store kept.
 */
class Restart implements Cmd {
  check = () => true;
  run(m: Model, r: Real): void {
    tickOf(r);
    const now = r.h.now;
    r.h = new Harness({}, r.h.store);
    r.h.now = now;
    for (const k of SLOTS) r.conns[k] = r.h.connect();
    m.open.fill(false);
    check(m, r, new Expect());
    const e = new Expect();
    for (const k of SLOTS) openSlot(m, r, k, e);
    check(m, r, e);
  }
  toString = () => "Restart";
}

class Create implements Cmd {
  constructor(
    readonly slot: number,
    readonly legacy: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const serial = tickOf(r);
    const i = this.legacy ? undefined : serial;
    const peer = SLOT_PEER[this.slot] as Peer;
    const conn = r.conns[this.slot] as FakeConn;
    conn.cmd(peer, "room", "join", withSerial({}, i));
    const e = new Expect();
    if (!m.open[this.slot]) {
      e.to(this.slot, errorFrame(4105, peer, i));
    } else {
      // The new id is the server's to choose (ROOM-ID-1): learn it from the reply.
      const roomId = conn.received[0]?.roomId as string;
      expect(roomId).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(m.rooms.some((g) => g.id === roomId)).toBe(false);
      const reply = { cmd: "room", op: "joined", roomId, byPeerId: peer };
      e.to(this.slot, withSerial(reply, i)); // ROOM-CREATE-1
      e.toPeer(m, peer, reply, this.slot); // ROOM-FANOUT-1
      m.rooms.push({ id: roomId, members: new Set([peer]) });
    }
    check(m, r, e);
  }
  toString = () => `Create(${this.slot}${this.legacy ? ", legacy" : ""})`;
}

class Join implements Cmd {
  constructor(
    readonly slot: number,
    readonly sel: number,
    readonly legacy: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const serial = tickOf(r);
    const i = this.legacy ? undefined : serial;
    const peer = SLOT_PEER[this.slot] as Peer;
    const roomId = roomIdAt(m, this.sel);
    (r.conns[this.slot] as FakeConn).cmd(peer, "room", "join", withSerial({ roomId }, i));
    const e = new Expect();
    const pre = precheck(m, this.slot, this.sel, false);
    if ("code" in pre) {
      e.to(this.slot, errorFrame(pre.code, peer, i));
    } else {
      const reply = { cmd: "room", op: "joined", roomId, byPeerId: peer };
      e.to(this.slot, withSerial(reply, i));
      if (!pre.room.members.has(peer)) {
        e.toPeer(m, peer, reply, this.slot); // ROOM-FANOUT-1
        const event = {
          cmd: "room",
          op: "members-joined",
          roomId,
          roomPeerIds: [peer],
          byPeerId: peer,
        };
        for (const other of pre.room.members) e.toPeer(m, other, event); // ROOM-FANOUT-4
        pre.room.members.add(peer);
      } // else ROOM-JOIN-3, ROOM-FANOUT-6: the reply only
    }
    check(m, r, e);
  }
  toString = () => `Join(${this.slot}, room ${this.sel}${this.legacy ? ", legacy" : ""})`;
}

class Invite implements Cmd {
  constructor(
    readonly slot: number,
    readonly sel: number,
    readonly peers: readonly Peer[],
    readonly legacy: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const serial = tickOf(r);
    const i = this.legacy ? undefined : serial;
    const peer = SLOT_PEER[this.slot] as Peer;
    const roomId = roomIdAt(m, this.sel);
    const conn = r.conns[this.slot] as FakeConn;
    conn.cmd(peer, "room", "invite", withSerial({ roomId, roomPeerIds: [...this.peers] }, i));
    const e = new Expect();
    const pre = precheck(m, this.slot, this.sel, true);
    if ("code" in pre) {
      e.to(this.slot, errorFrame(pre.code, peer, i));
    } else {
      const { members } = pre.room;
      const added = [...new Set(this.peers)].filter((p) => !members.has(p)); // ROOM-INVITE-1
      const reply = { cmd: "room", op: "invited", roomId, roomPeerIds: added };
      e.to(this.slot, withSerial(reply, i));
      if (added.length > 0) {
        e.toPeer(m, peer, reply, this.slot); // ROOM-FANOUT-1
        for (const p of added)
          e.toPeer(m, p, { cmd: "room", op: "joined", roomId, byPeerId: peer }); // ROOM-FANOUT-2
        const event = {
          cmd: "room",
          op: "members-joined",
          roomId,
          roomPeerIds: added,
          byPeerId: peer,
        };
        for (const other of members) if (other !== peer) e.toPeer(m, other, event); // ROOM-FANOUT-4
        for (const p of added) members.add(p);
      } // else ROOM-FANOUT-6
    }
    check(m, r, e);
  }
  toString = () =>
    `Invite(${this.slot}, room ${this.sel}, [${this.peers.join(",")}]${this.legacy ? ", legacy" : ""})`;
}

class Kick implements Cmd {
  constructor(
    readonly slot: number,
    readonly sel: number,
    readonly peers: readonly Peer[],
    readonly legacy: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const serial = tickOf(r);
    const i = this.legacy ? undefined : serial;
    const peer = SLOT_PEER[this.slot] as Peer;
    const roomId = roomIdAt(m, this.sel);
    const conn = r.conns[this.slot] as FakeConn;
    conn.cmd(peer, "room", "kick", withSerial({ roomId, roomPeerIds: [...this.peers] }, i));
    const e = new Expect();
    const pre = precheck(m, this.slot, this.sel, true);
    if ("code" in pre) {
      e.to(this.slot, errorFrame(pre.code, peer, i));
    } else {
      const { members } = pre.room;
      // ROOM-KICK-1: members only, never the caller.
      const removed = [...new Set(this.peers)].filter((p) => p !== peer && members.has(p));
      const reply = { cmd: "room", op: "kicked", roomId, roomPeerIds: removed };
      e.to(this.slot, withSerial(reply, i));
      if (removed.length > 0) {
        e.toPeer(m, peer, reply, this.slot); // ROOM-FANOUT-1
        for (const p of removed)
          e.toPeer(m, p, { cmd: "room", op: "left", roomId, byPeerId: peer }); // ROOM-FANOUT-3
        for (const p of removed) members.delete(p);
        const event = {
          cmd: "room",
          op: "members-left",
          roomId,
          roomPeerIds: removed,
          byPeerId: peer,
        };
        for (const other of members) if (other !== peer) e.toPeer(m, other, event); // ROOM-FANOUT-5
      } // else ROOM-FANOUT-6
    }
    check(m, r, e);
  }
  toString = () =>
    `Kick(${this.slot}, room ${this.sel}, [${this.peers.join(",")}]${this.legacy ? ", legacy" : ""})`;
}

class Leave implements Cmd {
  constructor(
    readonly slot: number,
    readonly sel: number,
    readonly legacy: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const serial = tickOf(r);
    const i = this.legacy ? undefined : serial;
    const peer = SLOT_PEER[this.slot] as Peer;
    const roomId = roomIdAt(m, this.sel);
    (r.conns[this.slot] as FakeConn).cmd(peer, "room", "leave", withSerial({ roomId }, i));
    const e = new Expect();
    const pre = precheck(m, this.slot, this.sel, true);
    if ("code" in pre) {
      e.to(this.slot, errorFrame(pre.code, peer, i));
    } else {
      const reply = { cmd: "room", op: "left", roomId, byPeerId: peer };
      e.to(this.slot, withSerial(reply, i)); // ROOM-LEAVE-1
      e.toPeer(m, peer, reply, this.slot); // ROOM-FANOUT-1
      pre.room.members.delete(peer);
      const event = {
        cmd: "room",
        op: "members-left",
        roomId,
        roomPeerIds: [peer],
        byPeerId: peer,
      };
      for (const other of pre.room.members) e.toPeer(m, other, event); // ROOM-FANOUT-5
    }
    check(m, r, e);
  }
  toString = () => `Leave(${this.slot}, room ${this.sel}${this.legacy ? ", legacy" : ""})`;
}

class Send implements Cmd {
  constructor(
    readonly slot: number,
    readonly sel: number,
    readonly transient: boolean,
  ) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const i = tickOf(r);
    const peer = SLOT_PEER[this.slot] as Peer;
    const roomId = roomIdAt(m, this.sel);
    const msg = `m${i}`;
    const conn = r.conns[this.slot] as FakeConn;
    const fields: Frame = { roomId, msg, i };
    if (this.transient) fields.transient = true;
    conn.cmd(peer, "direct", undefined, fields);
    const e = new Expect();
    const pre = precheck(m, this.slot, this.sel, true); // ROOM-UNKNOWN-1, ROOM-MSG-1
    if ("code" in pre) {
      e.to(this.slot, errorFrame(pre.code, peer, i));
    } else {
      // The id and time are the server's: learn them from the ack (ACK-REPLY-1, TRANSIENT-ACK-2).
      const ack = conn.received[0] ?? {};
      const id = ack.uid as string;
      const timestamp = ack.t as number;
      e.to(this.slot, { cmd: "ack", t: timestamp, uid: id, i });
      const delivery: Frame = {
        cmd: "direct",
        id,
        msg,
        fromPeerId: peer,
        timestamp,
        roomId,
      };
      if (this.transient) delivery.transient = true;
      // ROOM-MSG-2, ECHO-OTHER-2, ECHO-NOTSELF-1: every open session of every member, the
      // sender's other devices included, except the sending session.
      for (const member of pre.room.members) e.toPeer(m, member, delivery, this.slot);
      if (!this.transient) {
        // ROOM-MSG-3, ECHO-STORE-1: pending for the members at acceptance but the sender.
        for (const member of pre.room.members) {
          if (member === peer) continue;
          const list = m.pending.get(member) ?? [];
          list.push({ id, from: peer, roomId, msg, timestamp });
          // OFFLINE-LIMIT-1: the oldest is evicted.
          m.pending.set(member, list.slice(-MAX_PENDING));
        }
      }
    }
    check(m, r, e);
  }
  toString = () => `Send(${this.slot}, room ${this.sel}${this.transient ? ", transient" : ""})`;
}

/** Acknowledges everything pending for the slot's peer; no reply, no receipt for groups. */
class Ack implements Cmd {
  constructor(readonly slot: number) {}
  check = () => true;
  run(m: Model, r: Real): void {
    const i = tickOf(r);
    const peer = SLOT_PEER[this.slot] as Peer;
    const ids = (m.pending.get(peer) ?? []).map((msg) => msg.id);
    // ACK-IGNORE-1: an unknown id is ignored, so an empty offline store acks a made-up one.
    (r.conns[this.slot] as FakeConn).cmd(peer, "ack", undefined, {
      ids: ids.length > 0 ? ids : ["unknown-id"],
      i,
    });
    const e = new Expect();
    if (!m.open[this.slot]) e.to(this.slot, errorFrame(4105, peer, i));
    else m.pending.set(peer, []); // ACK-REMOVE-1; SERIAL-ACK-1: no reply; RECEIPT-IGNORE-1
    check(m, r, e);
  }
  toString = () => `Ack(${this.slot})`;
}

// ---- the property ---------------------------------------------------------------------

const slot = fc.integer({ min: 0, max: SLOTS.length - 1 });
/** Mostly existing groups; -1 names a group that does not exist. */
const sel = fc.integer({ min: -1, max: 9 });
const peers = fc.array(fc.constantFrom(...PEERS), { minLength: 1, maxLength: 5 });

/** Weighted so that runs build groups and change them more than they churn sessions. */
const command: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 2, arbitrary: slot.map((s) => new Open(s)) },
  { weight: 1, arbitrary: slot.map((s) => new Close(s)) },
  { weight: 1, arbitrary: slot.map((s) => new Reconnect(s)) },
  { weight: 1, arbitrary: fc.constant(new Restart()) },
  { weight: 2, arbitrary: fc.tuple(slot, fc.boolean()).map(([s, l]) => new Create(s, l)) },
  {
    weight: 4,
    arbitrary: fc.tuple(slot, sel, fc.boolean()).map(([s, g, l]) => new Join(s, g, l)),
  },
  {
    weight: 5,
    arbitrary: fc
      .tuple(slot, sel, peers, fc.boolean())
      .map(([s, g, p, l]) => new Invite(s, g, p, l)),
  },
  {
    weight: 4,
    arbitrary: fc.tuple(slot, sel, peers, fc.boolean()).map(([s, g, p, l]) => new Kick(s, g, p, l)),
  },
  {
    weight: 3,
    arbitrary: fc.tuple(slot, sel, fc.boolean()).map(([s, g, l]) => new Leave(s, g, l)),
  },
  {
    weight: 5,
    arbitrary: fc.tuple(slot, sel, fc.boolean()).map(([s, g, t]) => new Send(s, g, t)),
  },
  { weight: 2, arbitrary: slot.map((s) => new Ack(s)) },
);

/**
 * A world with every slot's session open and one group of alice, bob and carol (created
 * and filled through the protocol; dave stays outside).
 */
function setup(): { model: Model; real: Real } {
  const h = new Harness();
  const conns = SLOTS.map((k) => {
    const c = h.connect();
    c.open(SLOT_PEER[k] as Peer, [], { echo: true }); // as openSlot does [ECHO-OTHER-2]
    return c;
  });
  const a = conns[0] as FakeConn;
  a.cmd("alice", "room", "join", {});
  const roomId = a.expectOne("room/joined").roomId as string;
  a.cmd("alice", "room", "invite", { roomId, roomPeerIds: ["bob", "carol"] });
  a.expectOne("room/invited");
  for (const c of conns) c.drain();
  const model: Model = {
    open: SLOTS.map(() => true),
    rooms: [{ id: roomId, members: new Set<Peer>(["alice", "bob", "carol"]) }],
    pending: new Map(),
  };
  return { model, real: { h, conns, serial: 0 } };
}

describe("groups against a model", () => {
  it("[ROOM-FANOUT-1][ROOM-FANOUT-2][ROOM-FANOUT-3][ROOM-FANOUT-4][ROOM-FANOUT-5][ROOM-FANOUT-6][ROOM-FANOUT-7][ROOM-MSG-2][ROOM-MSG-3] every frame matches the model, and membership persists", () => {
    fc.assert(
      fc.property(fc.commands([command], { size: "medium", maxCommands: 80 }), (cmds) => {
        fc.modelRun(setup, cmds);
      }),
      { numRuns: 100 },
    );
  });
});
