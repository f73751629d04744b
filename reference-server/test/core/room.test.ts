/**
 * Groups (spec/04-groups.md): one or more tests per server requirement of the chapter, each
 * named after the requirement(s) it checks. Every test looks at every connection it opened,
 * so a frame the spec does not call for fails it (ROOM-FANOUT-7, ERROR-NOEFFECT-1).
 */
import { randomBytes } from "node:crypto";
import type { GroupAction } from "@confab/protocol";
import { groupSignature, sessionSignature, TEST_MASTER_KEY } from "@confab/test-support";
import { describe, expect, it } from "vitest";
import type { EngineConfig } from "../../src/core/config.js";
import { Engine } from "../../src/core/engine.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { type FakeConn, type Frame, Harness } from "../support/harness.js";
import { restVia } from "../support/rest.js";

const A = "alice";
const B = "bob";
const C = "carol";
const D = "dave";
const E = "erin";

/** An app that enforces signatures (SIG-ENFORCE-1). */
const SIGNED: Partial<EngineConfig> = {
  devMode: false,
  apps: new Map([["app1", { appId: "app1", masterKey: TEST_MASTER_KEY, enforceSignatures: true }]]),
};

/** Sessions of a small world: alice on two devices, bob, carol, and dave who stays outside. */
interface World {
  readonly h: Harness;
  readonly a1: FakeConn;
  readonly a2: FakeConn;
  readonly b: FakeConn;
  readonly c: FakeConn;
  readonly d: FakeConn;
  readonly all: readonly FakeConn[];
}

/** The signature fields of a `session/open` of `peerId` watching nobody. */
function sessionSig(h: Harness, peerId: string): Frame {
  const t = Math.floor(h.now / 1000);
  return sessionSignature({ appId: h.appId, peerId, watchPeerIds: [], t });
}

/** The signature fields of a group command (SIG-GROUP-1). */
function groupSig(
  h: Harness,
  peerId: string,
  action: GroupAction,
  roomId: string | undefined,
  roomPeerIds: readonly string[] = [],
): Frame {
  const t = Math.floor(h.now / 1000);
  return groupSignature({ appId: h.appId, peerId, action, roomId, roomPeerIds, t });
}

/** Opens the world's five sessions (signed when the app enforces signatures). */
function world(config: Partial<EngineConfig> = {}): World {
  const h = new Harness(config);
  const signed = config === SIGNED;
  const conn = (peerId: string) => {
    const c = h.connect();
    c.open(peerId, [], signed ? sessionSig(h, peerId) : {});
    return c;
  };
  const a1 = conn(A);
  const a2 = conn(A);
  const b = conn(B);
  const c = conn(C);
  const d = conn(D);
  const all = [a1, a2, b, c, d];
  drain(all);
  return { h, a1, a2, b, c, d, all };
}

function drain(conns: readonly FakeConn[]): void {
  for (const c of conns) c.drain();
}

/**
 * Drops `offline: false` from a delivery: a live delivery may carry it or not
 * (DIRECT-DELIVER-2 only forbids `true`).
 */
function live(frame: Frame): Frame {
  if (frame.offline !== false) return frame;
  const { offline: _, ...rest } = frame;
  return rest;
}

/** Expects exactly these frames on a connection (and removes them). */
function expectFrames(c: FakeConn, frames: Frame[]): void {
  expect(c.drain().map(live), `frames on conn ${c.id}`).toEqual(frames);
}

/** Expects nothing on any of the connections. */
function expectQuiet(...conns: FakeConn[]): void {
  for (const c of conns) expectFrames(c, []);
}

/** Creates a group from `conn` (peer `creator`) and invites `others`; drains everything. */
function group(w: World, conn: FakeConn, creator: string, others: string[] = []): string {
  const signed = w.h.engine.config.apps.get("app1")?.enforceSignatures === true;
  conn.cmd(creator, "room", "join", signed ? groupSig(w.h, creator, "join", undefined) : {});
  const roomId = conn.expectOne("room/joined").roomId as string;
  if (others.length > 0) {
    const sig = signed ? groupSig(w.h, creator, "invite", roomId, others) : {};
    conn.cmd(creator, "room", "invite", { roomId, roomPeerIds: others, ...sig });
    conn.expectOne("room/invited");
  }
  drain(w.all);
  return roomId;
}

/** The `roomPeerIds` of a frame, sorted: the spec fixes the set, not the order. */
const sortedIds = (frame: Frame | undefined): string[] =>
  [...((frame?.roomPeerIds ?? []) as string[])].sort();

const members = (w: World, roomId: string) => [...w.h.store.members(w.h.appId, roomId)].sort();

/** The names of the codes these tests expect (ERROR-FRAME-1). */
const REASONS: Record<number, string> = {
  4102: "SIGNATURE_FAILED",
  4105: "SESSION_REQUIRED",
  4114: "UNPARSEABLE_RAW_MESSAGE",
  4200: "INTERNAL_ERROR",
  4401: "INVALID_MESSAGING_TARGET",
  4403: "ROOM_FULL",
  4404: "ROOM_NOT_FOUND",
};

const error = (code: number, peerId: string, i?: number): Frame => {
  const f: Frame = { cmd: "error", code, reason: REASONS[code], detail: expect.any(String) };
  f.peerId = peerId;
  if (i !== undefined) f.i = i;
  return f;
};

const joined = (peerId: string, roomId: string, by: string, i?: number): Frame => ({
  cmd: "room",
  op: "joined",
  peerId,
  roomId,
  byPeerId: by,
  ...(i === undefined ? {} : { i }),
});

const left = (peerId: string, roomId: string, by: string, i?: number): Frame => ({
  cmd: "room",
  op: "left",
  peerId,
  roomId,
  byPeerId: by,
  ...(i === undefined ? {} : { i }),
});

const listReply = (
  op: "invited" | "kicked",
  peerId: string,
  roomId: string,
  peers: string[],
  i?: number,
): Frame => ({
  cmd: "room",
  op,
  peerId,
  roomId,
  roomPeerIds: peers,
  ...(i === undefined ? {} : { i }),
});

const membersEvent = (
  op: "members-joined" | "members-left",
  peerId: string,
  roomId: string,
  peers: string[],
  by: string,
): Frame => ({ cmd: "room", op, peerId, roomId, roomPeerIds: peers, byPeerId: by });

describe("group ids and lifetime", () => {
  it("[ROOM-ID-1] gives every new group a fresh id of 1 to 64 characters of [A-Za-z0-9_-]", () => {
    const w = world();
    const ids = new Set<string>();
    for (let k = 0; k < 50; k++) {
      const id = group(w, k % 2 === 0 ? w.a1 : w.b, k % 2 === 0 ? A : B);
      expect(id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(50);
  });

  /** An engine whose randomness is scripted, to force group id collisions. */
  function scriptedEngine(zeroCalls: number) {
    let calls = 0;
    const engine = new Engine(
      new MemoryStore(),
      {},
      {
        random: (size) => (++calls <= zeroCalls ? Buffer.alloc(size) : randomBytes(size)),
      },
    );
    const now = 1_700_000_000_000;
    engine.connect(1, now);
    const send = (frame: Frame): Frame[] => {
      const text = JSON.stringify({ appId: "app1", peerId: A, ...frame });
      return engine
        .receiveText(1, text, Buffer.byteLength(text), now)
        .flatMap((o) => (o.type === "send" ? [o.frame as Frame] : []));
    };
    expect(send({ cmd: "session", op: "open" }).map((f) => f.op)).toEqual(["opened"]);
    return send;
  }

  it("[ROOM-ID-1] never reuses the id of an existing group, even when the generator repeats", () => {
    const send = scriptedEngine(2);
    const [first] = send({ cmd: "room", op: "join", i: 1 });
    const [second] = send({ cmd: "room", op: "join", i: 2 });
    expect(first).toMatchObject({ op: "joined", i: 1 });
    expect(second).toMatchObject({ op: "joined", i: 2 });
    expect(second?.roomId).not.toBe(first?.roomId);
  });

  it("[ROOM-ID-1][ERROR-INTERNAL-1] answers 4200, creating nothing, when it cannot make a fresh id", () => {
    const send = scriptedEngine(1_000);
    const [first] = send({ cmd: "room", op: "join", i: 1 });
    expect(first).toMatchObject({ op: "joined" });
    expect(send({ cmd: "room", op: "join", i: 2 })).toEqual([
      {
        cmd: "error",
        code: 4200,
        reason: "INTERNAL_ERROR",
        detail: expect.any(String),
        i: 2,
        peerId: A,
      },
    ]);
  });

  it("[ROOM-ID-2] never gives a group an id of exactly 32 characters of [0-9a-f]", () => {
    const w = world();
    for (let k = 0; k < 50; k++) expect(group(w, w.a1, A)).not.toMatch(/^[0-9a-f]{32}$/);
  });

  it("[ROOM-EMPTY-1] keeps a group without members: it can be joined and its history read over REST", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.a1.cmd(A, "direct", undefined, { roomId, msg: "hello", i: 1 });
    const ack = w.a1.expectOne("ack");
    w.b.cmd(B, "room", "leave", { roomId });
    w.a1.cmd(A, "room", "leave", { roomId });
    drain(w.all);
    expect(members(w, roomId)).toEqual([]);

    const rest = restVia(w.h.engine, "app1", undefined, { convid: roomId });
    expect(rest).toMatchObject({ ok: true, items: [{ "msg-id": ack.uid, "conv-id": roomId }] });

    w.c.cmd(C, "room", "join", { roomId, i: 2 });
    expectFrames(w.c, [joined(C, roomId, C, 2)]);
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([C]);
  });
});

describe("unknown groups", () => {
  const commands: [string, string | undefined, Frame][] = [
    ["room", "join", {}],
    ["room", "invite", { roomPeerIds: [B] }],
    ["room", "kick", { roomPeerIds: [B] }],
    ["room", "leave", {}],
    ["direct", undefined, { msg: "hi" }],
  ];
  for (const [cmd, op, fields] of commands) {
    const name = op === undefined ? cmd : `${cmd}/${op}`;
    it(`[ROOM-UNKNOWN-1][ERROR-NOEFFECT-1] answers a ${name} naming no group with 4404 and nothing else`, () => {
      const w = world();
      group(w, w.a1, A, [B]); // a real group exists, with another id
      w.a1.cmd(A, cmd, op, { roomId: "no-such-room", i: 7, ...fields });
      expectFrames(w.a1, [error(4404, A, 7)]);
      expectQuiet(...w.all);
    });
  }

  it("[ROOM-UNKNOWN-1] does not see the groups of another app", () => {
    const h = new Harness();
    const x = h.connect();
    x.open(A);
    x.cmd(A, "room", "join", {});
    const roomId = x.expectOne("room/joined").roomId as string;
    h.appId = "app2";
    const y = h.connect();
    y.open(B);
    y.cmd(B, "room", "join", { roomId, i: 1 });
    expectFrames(y, [error(4404, B, 1)]);
    expectQuiet(x);
  });
});

describe("membership commands", () => {
  it("[ROOM-CREATE-1] creates a group whose only member is the caller and replies joined", () => {
    const w = world();
    w.b.cmd(B, "room", "join", { i: 3 });
    const [reply] = w.b.drain();
    const roomId = reply?.roomId as string;
    expect(reply).toEqual(joined(B, roomId, B, 3));
    expect(members(w, roomId)).toEqual([B]);
    expectQuiet(...w.all);
  });

  it("[ROOM-CREATE-1][SERIAL-LEGACY-1] replies to a legacy create (without i) with joined without i", () => {
    const w = world();
    w.b.cmd(B, "room", "join", {});
    const [reply] = w.b.drain();
    expect(reply).toEqual(joined(B, reply?.roomId as string, B));
  });

  it("[ROOM-JOIN-1] adds a non-member to an existing group and replies joined", () => {
    const w = world();
    const roomId = group(w, w.a1, A);
    w.d.cmd(D, "room", "join", { roomId, i: 4 });
    expectFrames(w.d, [joined(D, roomId, D, 4)]);
    expect(members(w, roomId)).toEqual([A, D]);
  });

  it("[ROOM-JOIN-2] lets any peer of the app join, without invitation and without watching anyone", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    const e = w.h.connect();
    e.open(E);
    e.cmd(E, "room", "join", { roomId, i: 1 });
    expectFrames(e, [joined(E, roomId, E, 1)]);
    expect(members(w, roomId)).toEqual([A, B, E]);
  });

  it("[ROOM-JOIN-2][SIG-ENFORCE-1] lets any peer join with a valid signature when signatures are enforced", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A);
    w.d.cmd(D, "room", "join", { roomId, i: 1, ...groupSig(w.h, D, "join", roomId) });
    expectFrames(w.d, [joined(D, roomId, D, 1)]);
    expect(members(w, roomId)).toEqual([A, D]);
  });

  it("[ROOM-JOIN-3][ROOM-FANOUT-6] answers a member's join with joined, changes nothing and tells nobody", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.b.cmd(B, "room", "join", { roomId, i: 5 });
    expectFrames(w.b, [joined(B, roomId, B, 5)]);
    expectQuiet(...w.all);
    w.a1.cmd(A, "room", "join", { roomId, i: 6 });
    expectFrames(w.a1, [joined(A, roomId, A, 6)]);
    expectQuiet(...w.all); // not even alice's other device
    expect(members(w, roomId)).toEqual([A, B, C]);
  });

  it("[ROOM-OPEN-1][ERROR-NOEFFECT-1] answers a join with transient: true with 4114 and creates nothing", () => {
    const w = world();
    w.a1.cmd(A, "room", "join", { transient: true, i: 1 });
    const [reply] = w.a1.received;
    expect(reply?.detail).toContain("transient"); // ERROR-FRAME-4: names the field
    expectFrames(w.a1, [error(4114, A, 1)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-OPEN-1][ERROR-NOEFFECT-1] answers a join of an existing group with transient: true with 4114", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.d.cmd(D, "room", "join", { roomId, transient: true, i: 1 });
    expectFrames(w.d, [error(4114, D, 1)]);
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([A, B]);
  });

  for (const [op, fields] of [
    ["invite", { roomPeerIds: [E] }],
    ["kick", { roomPeerIds: [B] }],
    ["leave", {}],
  ] as const) {
    it(`[ROOM-MEMBER-1][ERROR-NOEFFECT-1] answers a room/${op} from a non-member with 4401 and changes nothing`, () => {
      const w = world();
      const roomId = group(w, w.a1, A, [B]);
      w.d.cmd(D, "room", op, { roomId, i: 9, ...fields });
      expectFrames(w.d, [error(4401, D, 9)]);
      expectQuiet(...w.all);
      expect(members(w, roomId)).toEqual([A, B]);
    });
  }

  it("[ROOM-MEMBER-1] answers a former member (kicked, or who left) with 4401", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [B] });
    w.c.cmd(C, "room", "leave", { roomId });
    drain(w.all);
    w.b.cmd(B, "room", "invite", { roomId, roomPeerIds: [D], i: 1 });
    w.c.cmd(C, "room", "kick", { roomId, roomPeerIds: [A], i: 2 });
    expectFrames(w.b, [error(4401, B, 1)]);
    expectFrames(w.c, [error(4401, C, 2)]);
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([A]);
  });

  it("[ROOM-PERM-1] accepts invite and kick from any member, not only the creator", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.b.cmd(B, "room", "invite", { roomId, roomPeerIds: [C], i: 1 });
    expectFrames(w.b, [listReply("invited", B, roomId, [C], 1)]);
    drain(w.all);
    w.c.cmd(C, "room", "kick", { roomId, roomPeerIds: [A], i: 2 });
    expectFrames(w.c, [listReply("kicked", C, roomId, [A], 2)]);
    drain(w.all);
    expect(members(w, roomId)).toEqual([B, C]);
  });

  it("[ROOM-INVITE-1][LIMIT-DUP-1] adds exactly the named non-members and lists exactly them", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [B, C, A, C, E], i: 1 });
    const [reply] = w.a1.drain();
    expect(reply).toMatchObject({ cmd: "room", op: "invited", peerId: A, roomId, i: 1 });
    expect(sortedIds(reply)).toEqual([C, E]);
    expect(members(w, roomId)).toEqual([A, B, C, E]);
  });

  it("[ROOM-ORDER-1] lists peers in the order of the request, each once, in replies and events", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [E, C, E, B], i: 1 });
    expect(w.a1.drain()[0]).toMatchObject({ op: "invited", roomPeerIds: [E, C] });
    expect(w.b.drain().find((f) => f.op === "members-joined")).toMatchObject({
      roomPeerIds: [E, C],
    });
    drain(w.all);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [E, B, E], i: 2 });
    expect(w.a1.drain()[0]).toMatchObject({ op: "kicked", roomPeerIds: [E, B] });
    expect(w.c.drain().find((f) => f.op === "members-left")).toMatchObject({ roomPeerIds: [E, B] });
  });

  it("[ROOM-KICK-1] removes exactly the named members other than the caller and lists exactly them", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [B, D, A, B], i: 1 });
    expectFrames(w.a1, [listReply("kicked", A, roomId, [B], 1)]);
    expect(members(w, roomId)).toEqual([A, C]);
  });

  it("[ROOM-KICK-1][ROOM-FANOUT-6] ignores the caller naming itself: the reply lists nobody, nobody is told", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [A], i: 1 });
    expectFrames(w.a1, [listReply("kicked", A, roomId, [], 1)]);
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([A, B]);
  });

  it("[ROOM-LEAVE-1] removes a leaving member and replies left with the group and the caller", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.b.cmd(B, "room", "leave", { roomId, i: 2 });
    expectFrames(w.b, [left(B, roomId, B, 2)]);
    expect(members(w, roomId)).toEqual([A]);
  });
});

describe("member limit", () => {
  const peers = (n: number, prefix = "p") => Array.from({ length: n }, (_, k) => `${prefix}${k}`);

  /** A group of alice and `n` more (offline) peers. */
  function sized(w: World, n: number): string {
    const roomId = group(w, w.a1, A);
    if (n > 0) {
      w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: peers(n) });
      w.a1.expectOne("room/invited");
    }
    drain(w.all);
    return roomId;
  }

  it("[ROOM-LIMIT-1] accepts an invite that brings the group to exactly 500 members", () => {
    const w = world();
    const roomId = sized(w, 0);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: peers(499), i: 1 });
    expect(w.a1.expectOne("room/invited").roomPeerIds).toHaveLength(499);
    expect(w.h.store.members(w.h.appId, roomId)).toHaveLength(500);
  });

  it("[ROOM-LIMIT-1][ERROR-NOEFFECT-1] answers a join that would make 501 members with 4403, changing nothing", () => {
    const w = world();
    const roomId = sized(w, 499);
    w.b.cmd(B, "room", "join", { roomId, i: 1 });
    expectFrames(w.b, [error(4403, B, 1)]);
    expectQuiet(...w.all);
    expect(w.h.store.members(w.h.appId, roomId)).toHaveLength(500);
  });

  it("[ROOM-LIMIT-1][ERROR-NOEFFECT-1] fails a whole invite that would overflow: it adds none, not as many as fit", () => {
    const w = world();
    const roomId = sized(w, 497); // 498 members: room for two more
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [B, C, D], i: 1 });
    expectFrames(w.a1, [error(4403, A, 1)]);
    expectQuiet(...w.all);
    expect(w.h.store.members(w.h.appId, roomId)).toHaveLength(498);
    expect(w.h.store.members(w.h.appId, roomId)).not.toContain(B);
  });

  it("[ROOM-LIMIT-1] counts only the peers an invite adds: naming members of a full group is no error", () => {
    const w = world();
    const roomId = sized(w, 499);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: ["p0", "p1"], i: 1 });
    expectFrames(w.a1, [listReply("invited", A, roomId, [], 1)]);
    w.a1.cmd(A, "room", "join", { roomId, i: 2 });
    expectFrames(w.a1, [joined(A, roomId, A, 2)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-LIMIT-1] lets a full group take a new member again once one left", () => {
    const w = world();
    const roomId = sized(w, 499);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: ["p0"] });
    drain(w.all);
    w.b.cmd(B, "room", "join", { roomId, i: 1 });
    expectFrames(w.b, [joined(B, roomId, B, 1)]);
  });
});

describe("who is told what (Table 2)", () => {
  it("[ROOM-FANOUT-1][ROOM-FANOUT-7] copies a creation's joined, without i, to the actor's other sessions only", () => {
    const w = world();
    w.a1.cmd(A, "room", "join", { i: 1 });
    const roomId = w.a1.received[0]?.roomId as string;
    expectFrames(w.a1, [joined(A, roomId, A, 1)]);
    expectFrames(w.a2, [joined(A, roomId, A)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-1][ROOM-FANOUT-4][ROOM-FANOUT-7] join of an existing group: reply, copy, members-joined to the others", () => {
    const w = world();
    const roomId = group(w, w.b, B, [C]);
    w.a1.cmd(A, "room", "join", { roomId, i: 1 });
    expectFrames(w.a1, [joined(A, roomId, A, 1)]);
    expectFrames(w.a2, [joined(A, roomId, A)]);
    expectFrames(w.b, [membersEvent("members-joined", B, roomId, [A], A)]);
    expectFrames(w.c, [membersEvent("members-joined", C, roomId, [A], A)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-1][ROOM-FANOUT-2][ROOM-FANOUT-4][ROOM-FANOUT-7] invite: reply, copy, joined to the invitees, members-joined to the others", () => {
    const w = world();
    const roomId = group(w, w.b, B, [C]);
    w.b.cmd(B, "room", "invite", { roomId, roomPeerIds: [A, D, C], i: 1 });
    const [reply] = w.b.drain();
    expect(reply).toMatchObject({ op: "invited", peerId: B, roomId, i: 1 });
    const added = (reply?.roomPeerIds ?? []) as string[];
    expect(sortedIds(reply)).toEqual([A, D]);
    // ROOM-FANOUT-2: every open session of every added peer, alice on both devices.
    expectFrames(w.a1, [joined(A, roomId, B)]);
    expectFrames(w.a2, [joined(A, roomId, B)]);
    expectFrames(w.d, [joined(D, roomId, B)]);
    // ROOM-FANOUT-4: carol, the only other member.
    expectFrames(w.c, [membersEvent("members-joined", C, roomId, added, B)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-1] copies an invite's reply, without i, to the inviter's other device", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [C], i: 1 });
    expectFrames(w.a1, [listReply("invited", A, roomId, [C], 1)]);
    expectFrames(w.a2, [listReply("invited", A, roomId, [C])]);
    expectFrames(w.b, [membersEvent("members-joined", B, roomId, [C], A)]);
    expectFrames(w.c, [joined(C, roomId, A)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-1][ROOM-FANOUT-3][ROOM-FANOUT-5][ROOM-FANOUT-7] kick: reply, copy, left to the kicked, members-left to the rest", () => {
    const w = world();
    const roomId = group(w, w.b, B, [A, C, D]);
    w.c.cmd(C, "room", "kick", { roomId, roomPeerIds: [A, D, E], i: 1 });
    const [reply] = w.c.drain();
    expect(reply).toMatchObject({ op: "kicked", peerId: C, roomId, i: 1 });
    const removed = (reply?.roomPeerIds ?? []) as string[];
    expect(sortedIds(reply)).toEqual([A, D]);
    // ROOM-FANOUT-3: every open session of every removed peer.
    expectFrames(w.a1, [left(A, roomId, C)]);
    expectFrames(w.a2, [left(A, roomId, C)]);
    expectFrames(w.d, [left(D, roomId, C)]);
    // ROOM-FANOUT-5: bob, the only remaining other member.
    expectFrames(w.b, [membersEvent("members-left", B, roomId, removed, C)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-1] copies a kick's reply, without i, to the kicker's other device", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.a2.cmd(A, "room", "kick", { roomId, roomPeerIds: [B], i: 1 });
    expectFrames(w.a2, [listReply("kicked", A, roomId, [B], 1)]);
    expectFrames(w.a1, [listReply("kicked", A, roomId, [B])]);
    expectFrames(w.b, [left(B, roomId, A)]);
    expectFrames(w.c, [membersEvent("members-left", C, roomId, [B], A)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-1][ROOM-FANOUT-5][ROOM-FANOUT-7] leave: reply, copy, members-left to the remaining members", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.a1.cmd(A, "room", "leave", { roomId, i: 1 });
    expectFrames(w.a1, [left(A, roomId, A, 1)]);
    expectFrames(w.a2, [left(A, roomId, A)]);
    expectFrames(w.b, [membersEvent("members-left", B, roomId, [A], A)]);
    expectFrames(w.c, [membersEvent("members-left", C, roomId, [A], A)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-3][FRAME-PEERID-1] sends each session on a shared connection its own frame", () => {
    const w = world();
    const shared = w.h.connect();
    shared.open(B);
    shared.open(C);
    const roomId = group(w, w.a1, A, [B, C]);
    shared.drain();
    shared.cmd(B, "room", "kick", { roomId, roomPeerIds: [C], i: 1 });
    // bob's command on the shared connection: his reply, then carol's left there too.
    expectFrames(shared, [listReply("kicked", B, roomId, [C], 1), left(C, roomId, B)]);
    expectFrames(w.b, [listReply("kicked", B, roomId, [C])]);
    expectFrames(w.c, [left(C, roomId, B)]);
    expectFrames(w.a1, [membersEvent("members-left", A, roomId, [C], B)]);
    expectFrames(w.a2, [membersEvent("members-left", A, roomId, [C], B)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-6] sends only the reply for an invite that adds nobody (not even the actor's other device)", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [B, C, A], i: 1 });
    expectFrames(w.a1, [listReply("invited", A, roomId, [], 1)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-FANOUT-6] sends only the reply for a kick that removes nobody", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [D, E, A], i: 1 });
    expectFrames(w.a1, [listReply("kicked", A, roomId, [], 1)]);
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([A, B]);
  });

  it("[ROOM-FANOUT-7] tells nobody outside the group, not even sessions watching the actor", () => {
    const w = world();
    const watcher = w.h.connect();
    watcher.open(E, [A, B]);
    const roomId = group(w, w.a1, A, [B]);
    watcher.drain();
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [C] });
    w.b.cmd(B, "room", "kick", { roomId, roomPeerIds: [C] });
    w.a1.cmd(A, "room", "leave", { roomId });
    w.d.cmd(D, "room", "join", { roomId });
    expectQuiet(watcher);
    // and dave, outside until his join, heard nothing before it
    expectFrames(w.d, [joined(D, roomId, D)]);
  });

  it("[ROOM-FANOUT-8] delivers no membership event to a session that opens after it", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.d.cmd(D, "session", "close", {});
    drain(w.all);
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [D, E] }); // dave and erin offline
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [D] });
    w.b.cmd(B, "room", "leave", { roomId });
    drain(w.all);
    w.d.open(D);
    const e = w.h.connect();
    e.open(E);
    const a3 = w.h.connect();
    a3.open(A);
    expectQuiet(w.d, e, a3, ...w.all);
    expect(members(w, roomId)).toEqual([A, E]);
  });
});

describe("check order and no effect of failures", () => {
  it("[ERROR-ORDER-1][ROOM-UNKNOWN-1] checks the session (4105) before the group (4404)", () => {
    const w = world();
    w.a1.cmd(E, "room", "leave", { roomId: "nope", i: 1 });
    expectFrames(w.a1, [error(4105, E, 1)]);
    expectQuiet(...w.all);
  });

  it("[ERROR-ORDER-1][ROOM-UNKNOWN-1][ROOM-MEMBER-1] answers 4404 before 4401, and 4401 before 4403", () => {
    const w = world();
    const full = group(w, w.a1, A);
    w.a1.cmd(A, "room", "invite", {
      roomId: full,
      roomPeerIds: Array.from({ length: 499 }, (_, k) => `p${k}`),
    });
    drain(w.all);
    // dave is not a member of an unknown group: 4404 wins.
    w.d.cmd(D, "room", "invite", { roomId: "nope", roomPeerIds: [E], i: 1 });
    // dave is not a member of the full group and his invite would overflow it: 4401 wins.
    w.d.cmd(D, "room", "invite", { roomId: full, roomPeerIds: [E], i: 2 });
    expectFrames(w.d, [error(4404, D, 1), error(4401, D, 2)]);
    expectQuiet(...w.all);
  });

  it("[ERROR-ORDER-1][SIG-ENFORCE-1] checks the signature (4102) before the group's rules (4404, 4401)", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A);
    w.d.cmd(D, "room", "join", { roomId: "nope", i: 1 });
    w.d.cmd(D, "room", "invite", { roomId, roomPeerIds: [E], i: 2 });
    expectFrames(w.d, [error(4102, D, 1), error(4102, D, 2)]);
    w.d.cmd(D, "room", "join", { roomId: "nope", i: 3, ...groupSig(w.h, D, "join", "nope") });
    const sig = groupSig(w.h, D, "invite", roomId, [E]);
    w.d.cmd(D, "room", "invite", { roomId, roomPeerIds: [E], i: 4, ...sig });
    expectFrames(w.d, [error(4404, D, 3), error(4401, D, 4)]);
    expectQuiet(...w.all);
  });
});

describe("store failures", () => {
  /** A MemoryStore whose named methods throw, as a broken disk would make SQLite throw. */
  class FailingStore extends MemoryStore {
    readonly failing = new Set<string>();
    private maybeFail(method: string): void {
      if (this.failing.has(method)) throw new Error(`disk I/O error in ${method}`);
    }
    override createRoom(appId: string, roomId: string, createdAt: number): void {
      this.maybeFail("createRoom");
      super.createRoom(appId, roomId, createdAt);
    }
    override members(appId: string, roomId: string): string[] {
      this.maybeFail("members");
      return super.members(appId, roomId);
    }
    override addMembers(appId: string, roomId: string, peerIds: readonly string[]): void {
      this.maybeFail("addMembers");
      super.addMembers(appId, roomId, peerIds);
    }
    override removeMembers(appId: string, roomId: string, peerIds: readonly string[]): void {
      this.maybeFail("removeMembers");
      super.removeMembers(appId, roomId, peerIds);
    }
  }

  const cases: [string, string, string | undefined, (roomId: string) => Frame][] = [
    ["createRoom", "join", undefined, () => ({})],
    ["members", "join", D, (roomId) => ({ roomId })],
    ["addMembers", "join", D, (roomId) => ({ roomId })],
    ["addMembers", "invite", A, (roomId) => ({ roomId, roomPeerIds: [D] })],
    ["removeMembers", "kick", A, (roomId) => ({ roomId, roomPeerIds: [B] })],
    ["removeMembers", "leave", B, (roomId) => ({ roomId })],
  ];
  for (const [method, op, actor, fields] of cases) {
    it(`[ERROR-INTERNAL-1][ERROR-NOEFFECT-1] answers a room/${op} whose store ${method} fails with 4200 and nothing else`, () => {
      const store = new FailingStore();
      const h = new Harness({}, store);
      const conns = new Map<string, FakeConn>();
      for (const p of [A, B, C, D]) {
        const c = h.connect();
        c.open(p);
        conns.set(p, c);
      }
      const a = conns.get(A) as FakeConn;
      a.cmd(A, "room", "join", {});
      const roomId = a.expectOne("room/joined").roomId as string;
      a.cmd(A, "room", "invite", { roomId, roomPeerIds: [B, C] });
      for (const c of conns.values()) c.drain();
      store.failing.add(method);
      const who = actor ?? C;
      const conn = conns.get(who) as FakeConn;
      conn.cmd(who, "room", op, { i: 5, ...fields(roomId) });
      expectFrames(conn, [error(4200, who, 5)]);
      for (const c of conns.values()) expectFrames(c, []);
      store.failing.clear();
      expect([...store.members(h.appId, roomId)].sort()).toEqual([A, B, C]);
    });
  }
});

describe("group signatures (chapter 06, when the app enforces them)", () => {
  it("[SIG-ENFORCE-1][SIG-GROUP-1] creates a group with a join signed over an empty group id", () => {
    const w = world(SIGNED);
    w.a1.cmd(A, "room", "join", { i: 1, ...groupSig(w.h, A, "join", undefined) });
    const roomId = w.a1.received[0]?.roomId as string;
    expectFrames(w.a1, [joined(A, roomId, A, 1)]);
    expectFrames(w.a2, [joined(A, roomId, A)]);
    expectQuiet(...w.all);
  });

  it("[SIG-ENFORCE-1][ERROR-NOEFFECT-1] refuses an unsigned create, join, invite and kick with 4102", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A, [B]);
    w.c.cmd(C, "room", "join", { i: 1 });
    w.c.cmd(C, "room", "join", { roomId, i: 2 });
    w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [C], i: 3 });
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [B], i: 4 });
    expectFrames(w.c, [error(4102, C, 1), error(4102, C, 2)]);
    expectFrames(w.a1, [error(4102, A, 3), error(4102, A, 4)]);
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([A, B]);
  });

  it("[SIG-GROUP-1][ERROR-NOEFFECT-1] refuses a signature over another action, group or peer list", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A, [B]);
    const other = group(w, w.a1, A);
    const bad = [
      groupSig(w.h, A, "kick", roomId, [C]), // wrong action
      groupSig(w.h, A, "invite", other, [C]), // wrong group
      groupSig(w.h, A, "invite", roomId, [C, D]), // wrong peers
      groupSig(w.h, B, "invite", roomId, [C]), // wrong peer
    ];
    bad.forEach((sig, k) => {
      w.a1.cmd(A, "room", "invite", { roomId, roomPeerIds: [C], i: k, ...sig });
    });
    expectFrames(
      w.a1,
      bad.map((_, k) => error(4102, A, k)),
    );
    expectQuiet(...w.all);
    expect(members(w, roomId)).toEqual([A, B]);
  });

  it("[SIG-GROUP-1][ROOM-PERM-1] accepts an invite and a kick signed over the distinct, sorted peer ids", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A, [B]);
    const sent = [D, C, D];
    w.b.cmd(B, "room", "invite", {
      roomId,
      roomPeerIds: sent,
      i: 1,
      ...groupSig(w.h, B, "invite", roomId, sent),
    });
    expect(sortedIds(w.b.expectOne("room/invited"))).toEqual([C, D]);
    drain(w.all);
    w.b.cmd(B, "room", "kick", {
      roomId,
      roomPeerIds: [A],
      i: 2,
      ...groupSig(w.h, B, "kick", roomId, [A]),
    });
    expectFrames(w.b, [listReply("kicked", B, roomId, [A], 2)]);
    drain(w.all);
    expect(members(w, roomId)).toEqual([B, C, D]);
  });

  it("[SIG-ENFORCE-2][ROOM-LEAVE-1] lets a member leave without a signature", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A, [B]);
    w.b.cmd(B, "room", "leave", { roomId, i: 1 });
    expectFrames(w.b, [left(B, roomId, B, 1)]);
    expectFrames(w.a1, [membersEvent("members-left", A, roomId, [B], B)]);
    expectFrames(w.a2, [membersEvent("members-left", A, roomId, [B], B)]);
    expectQuiet(...w.all);
  });

  it("[SIG-NONCE-2][ERROR-NOEFFECT-1] refuses a replayed group signature", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A);
    const sig = groupSig(w.h, D, "join", roomId);
    w.d.cmd(D, "room", "join", { roomId, i: 1, ...sig });
    w.d.cmd(D, "room", "leave", { roomId, i: 2 });
    w.d.cmd(D, "room", "join", { roomId, i: 3, ...sig });
    expectFrames(w.d, [joined(D, roomId, D, 1), left(D, roomId, D, 2), error(4102, D, 3)]);
    expect(members(w, roomId)).toEqual([A]);
  });
});

describe("group messages", () => {
  /** Sends a group message and returns the sender's ack. */
  function send(conn: FakeConn, peerId: string, roomId: string, extra: Frame = {}): Frame {
    conn.cmd(peerId, "direct", undefined, { roomId, msg: "hi", i: 42, ...extra });
    return conn.expectOne("ack");
  }

  const delivery = (
    peerId: string,
    from: string,
    roomId: string,
    ack: Frame,
    extra: Frame = {},
  ) => ({
    cmd: "direct",
    peerId,
    id: ack.uid,
    msg: "hi",
    fromPeerId: from,
    timestamp: ack.t,
    roomId,
    ...extra,
  });

  it("[ROOM-MSG-1][ERROR-NOEFFECT-1] answers a group direct from a non-member with 4401, delivering and storing nothing", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.c.cmd(C, "room", "join", { roomId });
    w.c.cmd(C, "room", "leave", { roomId });
    drain(w.all);
    w.d.cmd(D, "direct", undefined, { roomId, msg: "hi", i: 1 });
    w.c.cmd(C, "direct", undefined, { roomId, msg: "hi", i: 2, transient: true });
    expectFrames(w.d, [error(4401, D, 1)]);
    expectFrames(w.c, [error(4401, C, 2)]);
    expectQuiet(...w.all);
    expect(restVia(w.h.engine, "app1", undefined, { convid: roomId })).toEqual({
      ok: true,
      items: [],
    });
    w.b.cmd(B, "session", "close", {});
    w.b.open(B);
    expectQuiet(w.b); // nothing became pending for bob
  });

  it("[ROOM-MSG-2][ECHO-OTHER-2] delivers to every open session of every other member with roomId, and echoes to the sender's sessions that ask", () => {
    const w = world();
    const roomId = group(w, w.b, B, [A, C]);
    w.a2.open(A, [], { echo: true });
    drain(w.all);
    const ack = send(w.a1, A, roomId);
    expectFrames(w.a1, []); // ECHO-NOTSELF-1: never back to the sending session
    expectFrames(w.a2, [delivery(A, A, roomId, ack)]);
    expectFrames(w.b, [delivery(B, A, roomId, ack)]);
    expectFrames(w.c, [delivery(C, A, roomId, ack)]);
    expectQuiet(...w.all); // dave is not a member
  });

  it("[ROOM-MSG-2] follows membership: kicked and departed peers no longer get messages, new members do", () => {
    const w = world();
    const roomId = group(w, w.b, B, [A, C]);
    w.b.cmd(B, "room", "kick", { roomId, roomPeerIds: [C] });
    w.a1.cmd(A, "room", "leave", { roomId });
    w.d.cmd(D, "room", "join", { roomId });
    drain(w.all);
    const ack = send(w.b, B, roomId, { transient: true });
    expectFrames(w.d, [delivery(D, B, roomId, ack, { transient: true })]);
    expectQuiet(...w.all);
  });

  it("[ROOM-MSG-3][ECHO-STORE-1] makes a persistent group message pending for every member but the sender", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B, C]);
    w.c.cmd(C, "session", "close", {});
    drain(w.all);
    const ack = send(w.a1, A, roomId);
    drain(w.all);
    // carol was offline: she gets it from the offline store when she opens.
    w.c.open(C);
    expectFrames(w.c, [delivery(C, A, roomId, ack, { offline: true })]);
    // bob got it live and still has it pending until he acknowledges (OFFLINE-LIVE-1).
    w.b.open(B);
    expectFrames(w.b, [delivery(B, A, roomId, ack, { offline: true })]);
    // never pending for the sender
    w.a2.open(A);
    expectQuiet(...w.all);
  });

  it("[ROOM-MSG-3] [ROOM-MSG-5] decides recipients at acceptance: later joiners get nothing pending, removed members keep theirs", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.b.cmd(B, "session", "close", {});
    drain(w.all);
    const ack = send(w.a1, A, roomId);
    w.a1.cmd(A, "room", "kick", { roomId, roomPeerIds: [B] });
    w.d.cmd(D, "room", "join", { roomId });
    drain(w.all);
    w.d.open(D);
    expectQuiet(w.d);
    w.b.open(B);
    expectFrames(w.b, [delivery(B, A, roomId, ack, { offline: true })]);
  });

  it("[ROOM-MSG-3][TRANSIENT-STORE-1] makes a transient group message pending for nobody", () => {
    const w = world();
    const roomId = group(w, w.a1, A, [B]);
    w.b.cmd(B, "session", "close", {});
    drain(w.all);
    send(w.a1, A, roomId, { transient: true });
    drain(w.all);
    w.b.open(B);
    expectQuiet(w.b);
  });

  it("[ROOM-MSG-4] accepts a group direct from a member who watches nobody, under enforced signatures", () => {
    const w = world(SIGNED);
    const roomId = group(w, w.a1, A, [B]);
    const ack = send(w.b, B, roomId);
    expect(ack).toMatchObject({ cmd: "ack", peerId: B, i: 42 });
    expectFrames(w.a1, [delivery(A, B, roomId, ack)]);
    expectFrames(w.a2, [delivery(A, B, roomId, ack)]);
    expectQuiet(...w.all);
  });

  it("[ROOM-MSG-4][DIRECT-PERM-2] still refuses an unwatched peer-to-peer direct under enforced signatures", () => {
    const w = world(SIGNED);
    group(w, w.a1, A, [B]);
    w.b.cmd(B, "direct", undefined, { toPeerIds: [A], msg: "hi", i: 1 });
    expectFrames(w.b, [error(4401, B, 1)]);
    expectQuiet(...w.all);
  });
});
