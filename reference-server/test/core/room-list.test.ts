/**
 * Chapter 04, 4.6 and 4.7: a session lists its own peer's groups (`room/list`), and the
 * app's back end reads members and a peer's groups through the Engine's REST methods
 * (statuses as the HTTP adapter maps them; the endpoints over real HTTP are in
 * test/adapter/http.test.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { httpStatusOf, logsQueryOf } from "../../src/adapter/http.js";
import type { RestPeerRoomsResult, RestRoomMembersResult } from "../../src/core/types.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import {
  expectError,
  type Frame,
  Harness,
  plainHarness,
  signedHarness,
  signedOpen,
} from "./support-core.js";

const APP = "app1";

/** A harness whose store holds `rooms` with the given members, and alice's open session. */
function setup(rooms: Record<string, readonly string[]>, h = new Harness()) {
  for (const [roomId, members] of Object.entries(rooms)) {
    h.store.createRoom(APP, roomId, h.now);
    h.store.addMembers(APP, roomId, members);
  }
  h.store.commit();
  const a = h.connect();
  a.open("alice");
  a.drain();
  return { h, a };
}

/** Sends a `room/list` and returns the one `room/list-result` it got. */
function list(c: ReturnType<Harness["connect"]>, fields: Frame = {}): Frame {
  c.cmd("alice", "room", "list", fields);
  return c.expectOne("room/list-result");
}

/** Every page of alice's groups, walking the cursor as a client must [ROOM-LIST-6]. */
function walk(c: ReturnType<Harness["connect"]>, limit: number): string[][] {
  const pages: string[][] = [];
  let after: string | undefined;
  for (;;) {
    const r = list(c, after === undefined ? { limit } : { limit, after });
    const ids = r.roomIds as string[];
    pages.push(ids);
    if (r.more !== true) return pages;
    after = ids.at(-1);
    if (pages.length > 1000) throw new Error("no end");
  }
}

/** Byte order of ASCII ids (what both stores sort by). */
const ascending = (ids: readonly string[]) =>
  [...ids].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1));

describe("a peer's groups over the socket (4.6)", () => {
  it("[ROOM-LIST-1] lists exactly the caller's groups, each once, in ascending byte order", () => {
    const { a } = setup({
      g2: ["alice", "bob"],
      G9: ["alice"],
      _x: ["alice"],
      "-y": ["carol", "alice"],
      g1: ["bob"], // not alice's
      empty: [],
    });
    const r = list(a, { i: 5 });
    expect(r).toMatchObject({ peerId: "alice", i: 5, more: false });
    // '-' < digits < upper case < '_' < lower case, as bytes.
    expect(r.roomIds).toEqual(["-y", "G9", "_x", "g2"]);
    // Without i too: the reply is awaited, as Table 1 says.
    expect(list(a).i).toBeUndefined();
  });

  it("[ROOM-LIST-1] lists only the ids greater than after, which need not name a group", () => {
    const { a } = setup({ a1: ["alice"], b1: ["alice"], c1: ["alice"], d1: ["bob"] });
    expect(list(a, { after: "a1" }).roomIds).toEqual(["b1", "c1"]);
    expect(list(a, { after: "b" }).roomIds).toEqual(["b1", "c1"]);
    expect(list(a, { after: "c1" })).toMatchObject({ roomIds: [], more: false });
    expect(list(a, { after: "d1" }).roomIds).toEqual([]); // a group, but not alice's
    expect(list(a, { after: "-" }).roomIds).toEqual(["a1", "b1", "c1"]);
  });

  it("[ROOM-LIST-1] reflects the memberships when the command is handled", () => {
    const { h, a } = setup({ g1: ["alice", "bob"] });
    const b = h.connect();
    b.open("bob");
    a.cmd("alice", "room", "join", { i: 1 }); // a new group
    const created = a.expectOne("room/joined").roomId as string;
    b.cmd("bob", "room", "kick", { roomId: "g1", roomPeerIds: ["alice"], i: 2 });
    a.drain();
    b.drain();
    expect(list(a).roomIds).toEqual([created]);
    a.cmd("alice", "room", "leave", { roomId: created, i: 3 });
    a.drain();
    expect(list(a)).toMatchObject({ roomIds: [], more: false });
  });

  it("[ROOM-LIST-1] answers a session of an app that enforces signatures, without a signature", () => {
    const h = signedHarness();
    h.store.createRoom(APP, "g1", h.now);
    h.store.addMembers(APP, "g1", ["alice"]);
    const a = h.connect();
    signedOpen(a, "alice");
    a.drain();
    expect(list(a, { i: 1 }).roomIds).toEqual(["g1"]);
  });

  it("[ROOM-LIST-2] gives 100 groups when the command carries no limit", () => {
    const rooms: Record<string, string[]> = {};
    for (let k = 0; k < 150; k++) rooms[`r${String(k).padStart(3, "0")}`] = ["alice"];
    const { a } = setup(rooms);
    const first = list(a);
    expect(first.roomIds).toHaveLength(100);
    expect(first.more).toBe(true);
    expect((first.roomIds as string[]).at(-1)).toBe("r099");
    const second = list(a, { after: "r099" });
    expect(second).toMatchObject({ more: false });
    expect(second.roomIds).toHaveLength(50);
  });

  it("[ROOM-LIST-3] answers 4114 to a limit that is not an integer from 1 to 500, and changes nothing", () => {
    const { h, a } = setup({ g1: ["alice"] });
    for (const limit of [0, -1, 501, 1.5, "10", null]) {
      a.cmd("alice", "room", "list", { limit, i: 9 });
      const e = expectError(a, 4114, { i: 9, peerId: "alice" });
      expect(String(e.detail)).toContain("/limit");
    }
    for (const limit of [1, 500]) expect(list(a, { limit }).roomIds).toEqual(["g1"]);
    expect(h.store.members(APP, "g1")).toEqual(["alice"]);
  });

  it("[ROOM-LIST-3] [LIMIT-ID-2] answers 4114 to an after that is no valid group id", () => {
    const { a } = setup({ g1: ["alice"] });
    for (const after of ["", "a:b", "x".repeat(65), "tab\t", 7]) {
      a.cmd("alice", "room", "list", { after, i: 2 });
      expectError(a, 4114, { i: 2 });
    }
  });

  it("[ROOM-LIST-4] sets more exactly when groups follow the page", () => {
    const { a } = setup({ a1: ["alice"], b1: ["alice"], c1: ["alice"] });
    expect(list(a, { limit: 2 })).toMatchObject({ roomIds: ["a1", "b1"], more: true });
    expect(list(a, { limit: 3 })).toMatchObject({ roomIds: ["a1", "b1", "c1"], more: false });
    expect(list(a, { limit: 2, after: "a1" })).toMatchObject({
      roomIds: ["b1", "c1"],
      more: false,
    });
    expect(list(a, { limit: 1, after: "c1" })).toMatchObject({ roomIds: [], more: false });
  });

  it("[ROOM-LIST-5] changes no membership and sends nothing to anyone else", () => {
    const { h, a } = setup({ g1: ["alice", "bob"], g2: ["alice"] });
    const b = h.connect();
    b.open("bob");
    const a2 = h.connect();
    a2.open("alice");
    for (const c of [a, b, a2]) c.drain();
    const before = JSON.stringify(h.engine.inspect());
    list(a, { i: 1, limit: 1 });
    a.expectNothing();
    b.expectNothing();
    a2.expectNothing();
    expect(h.store.roomsOf(APP, "alice", undefined, 10)).toEqual(["g1", "g2"]);
    expect(h.store.members(APP, "g1")).toEqual(["alice", "bob"]);
    expect(JSON.stringify(h.engine.inspect())).toBe(before);
  });

  it("[ROOM-LIST-1] [ROOM-LIST-4] [ROOM-LIST-6] pages through any set of groups, each once, whatever the limit", () => {
    const roomId = fc.stringMatching(/^[A-Za-z0-9_-]{1,4}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ roomId, mine: fc.boolean() }), {
          selector: (r) => r.roomId,
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 7 }),
        (rooms, limit) => {
          const spec: Record<string, string[]> = {};
          for (const r of rooms) spec[r.roomId] = r.mine ? ["bob", "alice"] : ["bob"];
          const { a } = setup(spec);
          const pages = walk(a, limit);
          const mine = ascending(rooms.filter((r) => r.mine).map((r) => r.roomId));
          expect(pages.flat()).toEqual(mine);
          // Every page but the last is full; the last may be empty only when there are none.
          for (const p of pages.slice(0, -1)) expect(p).toHaveLength(limit);
          expect(pages.length).toBe(Math.max(1, Math.ceil(mine.length / limit)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("[ROOM-LIST-6] never repeats a group while memberships change between pages, and lists every group kept throughout", () => {
    const rooms: Record<string, string[]> = {};
    for (const id of ["a", "b", "c", "d", "e", "f"]) rooms[id] = ["alice"];
    const { h, a } = setup(rooms);
    const first = list(a, { limit: 2 });
    expect(first.roomIds).toEqual(["a", "b"]);
    // Between pages: alice leaves c (not listed yet) and b (listed), joins 0 (before the
    // cursor) and z (after it).
    h.store.removeMembers(APP, "c", ["alice"]);
    h.store.removeMembers(APP, "b", ["alice"]);
    for (const id of ["0", "z"]) {
      h.store.createRoom(APP, id, h.now);
      h.store.addMembers(APP, id, ["alice"]);
    }
    const second = list(a, { limit: 2, after: "b" });
    const third = list(a, { limit: 2, after: (second.roomIds as string[]).at(-1) });
    expect(second.roomIds).toEqual(["d", "e"]);
    expect(third).toMatchObject({ roomIds: ["f", "z"], more: false });
    const all = [first, second, third].flatMap((p) => p.roomIds as string[]);
    expect(new Set(all).size).toBe(all.length);
    for (const kept of ["a", "d", "e", "f"]) expect(all).toContain(kept);
  });

  it("[ROOM-LIST-1] [ROOM-LIST-4] pages the same on the SQLite store", () => {
    const store = SqliteStore.open(":memory:");
    try {
      const { a } = setup(
        { b: ["alice"], a: ["alice"], C: ["alice"], d: ["bob"] },
        new Harness({}, store),
      );
      expect(list(a, { limit: 2 })).toMatchObject({ roomIds: ["C", "a"], more: true });
      expect(list(a, { limit: 2, after: "a" })).toMatchObject({ roomIds: ["b"], more: false });
    } finally {
      store.close();
    }
  });
});

/** What a REST answer looks like to the HTTP client: the status, then the body or the code. */
type RestOutcome =
  | { readonly status: number; readonly body: unknown }
  | { readonly status: number; readonly code: number };

function outcome(r: RestRoomMembersResult | RestPeerRoomsResult): RestOutcome {
  if (r.ok) return { status: 200, body: r.body };
  return { status: httpStatusOf(r.error), code: r.error.code };
}

/** Who a REST call says it is: the app (absent: none) and the master key (absent: none). */
interface Caller {
  readonly appId?: string;
  readonly key?: string;
}

/** The app and key of a well-behaved back end. */
const BACK_END: Caller = { appId: APP, key: "mk" };

/** A harness of app1 with master key "mk", and groups g1 (alice, bob) and g0 (empty). */
function restSetup() {
  const h = plainHarness({}, { masterKey: "mk" });
  h.store.createRoom(APP, "g1", h.now);
  h.store.addMembers(APP, "g1", ["alice", "bob"]);
  h.store.createRoom(APP, "g0", h.now);
  h.store.commit();
  const members = (roomId: string | undefined, who: Caller = BACK_END) =>
    outcome(h.engine.restRoomMembers(who.appId, who.key, roomId));
  const rooms = (
    peerId: string | undefined,
    query: Record<string, string> = {},
    who: Caller = BACK_END,
  ) => {
    const q = logsQueryOf(new URLSearchParams(query));
    return outcome(h.engine.restPeerRooms(who.appId, who.key, peerId, q));
  };
  return { h, members, rooms };
}

describe("members and groups through the Engine's REST methods (4.7)", () => {
  it("[REST-ROOMS-5] gives every member of a group, each once", () => {
    const { members } = restSetup();
    const r = members("g1");
    expect(r.status).toBe(200);
    const body = (r as { body: { roomId: string; roomPeerIds: string[] } }).body;
    expect(body.roomId).toBe("g1");
    expect([...body.roomPeerIds].sort()).toEqual(["alice", "bob"]);
  });

  it("[REST-ROOMS-6] answers 404 with 4404 for a group that never existed, and 200 for an empty one", () => {
    const { members } = restSetup();
    expect(members("nope")).toEqual({ status: 404, code: 4404 });
    expect(members("g0")).toEqual({ status: 200, body: { roomId: "g0", roomPeerIds: [] } });
  });

  it("[REST-ROOMS-7] gives the page room/list gives the same peer", () => {
    const { h, rooms } = restSetup();
    for (const id of ["a", "b", "c"]) {
      h.store.createRoom(APP, id, h.now);
      h.store.addMembers(APP, id, ["alice"]);
    }
    expect(rooms("alice", { limit: "2" })).toEqual({
      status: 200,
      body: { peerId: "alice", roomIds: ["a", "b"], more: true },
    });
    expect(rooms("alice", { after: "b" })).toEqual({
      status: 200,
      body: { peerId: "alice", roomIds: ["c", "g1"], more: false },
    });
    const c = h.connect();
    c.open("alice");
    c.drain();
    c.cmd("alice", "room", "list", { after: "b" });
    expect(c.expectOne("room/list-result")).toMatchObject({ roomIds: ["c", "g1"], more: false });
    // A peer in no group (peers need no registration): an empty page, not a 404.
    expect(rooms("nobody")).toEqual({
      status: 200,
      body: { peerId: "nobody", roomIds: [], more: false },
    });
  });

  it("[REST-ROOMS-1] [REST-ROOMS-2] answers 404 with 4100 for no app, 401 with 4102 without the key", () => {
    const { members, rooms } = restSetup();
    for (const who of [{ key: "mk" }, { appId: "other", key: "mk" }, { appId: "bad app" }]) {
      expect(members("g1", who)).toEqual({ status: 404, code: 4100 });
      expect(rooms("alice", {}, who)).toEqual({ status: 404, code: 4100 });
    }
    expect(members("g1", { appId: APP, key: "wrong" })).toEqual({ status: 401, code: 4102 });
    expect(rooms("alice", {}, { appId: APP })).toEqual({ status: 401, code: 4102 });
  });

  it("[REST-ROOMS-3] answers 400 with 4114 to a bad path id, after or limit", () => {
    const { members, rooms } = restSetup();
    for (const id of [undefined, "", "a:b", "x".repeat(65), "\u0001"]) {
      expect(members(id)).toEqual({ status: 400, code: 4114 });
      expect(rooms(id)).toEqual({ status: 400, code: 4114 });
    }
    for (const limit of ["0", "501", "1e2", "+5", "-1", "", "ten"]) {
      expect(rooms("alice", { limit }), limit).toEqual({ status: 400, code: 4114 });
    }
    for (const after of ["", "a:b"])
      expect(rooms("alice", { after })).toEqual({ status: 400, code: 4114 });
    // A parameter the endpoint does not define is ignored.
    expect(rooms("alice", { _: "123", limit: "500" }).status).toBe(200);
  });

  it("[REST-ROOMS-8] answers an app without a master key, whatever key the request carries", () => {
    const h = plainHarness();
    h.store.createRoom(APP, "g1", h.now);
    h.store.addMembers(APP, "g1", ["alice"]);
    for (const key of [undefined, "anything"]) {
      expect(h.engine.restRoomMembers(APP, key, "g1")).toEqual({
        ok: true,
        body: { roomId: "g1", roomPeerIds: ["alice"] },
      });
      expect(h.engine.restPeerRooms(APP, key, "alice", {})).toEqual({
        ok: true,
        body: { peerId: "alice", roomIds: ["g1"], more: false },
      });
    }
  });

  it("[REST-ROOMS-4] checks the app, then the key, then the parameters, then the group", () => {
    const { members, rooms } = restSetup();
    const stranger = { appId: "other", key: "wrong" };
    const keyless = { appId: APP, key: "wrong" };
    expect(members("a:b", stranger)).toEqual({ status: 404, code: 4100 });
    expect(members("a:b", keyless)).toEqual({ status: 401, code: 4102 });
    expect(members("nope", keyless)).toEqual({ status: 401, code: 4102 });
    expect(members("a:b")).toEqual({ status: 400, code: 4114 });
    expect(members(undefined)).toEqual({ status: 400, code: 4114 });
    expect(members("nope")).toEqual({ status: 404, code: 4404 });
    expect(rooms("a:b", { limit: "0" }, stranger)).toEqual({ status: 404, code: 4100 });
    expect(rooms("alice", { limit: "0" }, keyless)).toEqual({ status: 401, code: 4102 });
    expect(rooms(undefined, {}, keyless)).toEqual({ status: 401, code: 4102 });
  });
});
