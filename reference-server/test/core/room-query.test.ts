/** Chapter 04, 4.5: a member asks who is in a group. */
import { describe, expect, it } from "vitest";
import { expectError, Harness } from "./support-core.js";

/** alice and bob in group g1, carol outside it, each on a connection. */
function setup() {
  const h = new Harness();
  h.store.createRoom("app1", "g1", h.now);
  h.store.addMembers("app1", "g1", ["alice", "bob"]);
  const [a, b, c] = [h.connect(), h.connect(), h.connect()];
  a.open("alice");
  b.open("bob");
  c.open("carol");
  for (const x of [a, b, c]) x.drain();
  return { h, a, b, c };
}

describe("membership queries (4.5)", () => {
  it("[ROOM-QUERY-1] answers a member with every member of the group, each once, the caller included", () => {
    const { a } = setup();
    a.cmd("alice", "room", "query", { roomId: "g1", i: 4 });
    const r = a.expectOne("room/query-result");
    expect(r).toMatchObject({ peerId: "alice", i: 4, roomId: "g1" });
    expect([...(r.roomPeerIds as string[])].sort()).toEqual(["alice", "bob"]);
    // Without i too: the reply is awaited like session/query's (Table 1).
    a.cmd("alice", "room", "query", { roomId: "g1" });
    expect(a.expectOne("room/query-result").i).toBeUndefined();
  });

  it("[ROOM-QUERY-1] reflects the membership when the query is handled", () => {
    const { h, a, b } = setup();
    a.cmd("alice", "room", "invite", { roomId: "g1", roomPeerIds: ["carol"], i: 1 });
    b.cmd("bob", "room", "leave", { roomId: "g1", i: 2 });
    a.drain();
    a.cmd("alice", "room", "query", { roomId: "g1", i: 3 });
    const r = a.expectOne("room/query-result");
    expect([...(r.roomPeerIds as string[])].sort()).toEqual(["alice", "carol"]);
    expect(h.store.members("app1", "g1").sort()).toEqual(["alice", "carol"]);
  });

  it("[ROOM-QUERY-2] answers 4404 for an unknown group and 4401 for a non-member", () => {
    const { c } = setup();
    c.cmd("carol", "room", "query", { roomId: "nope", i: 5 });
    expectError(c, 4404, { i: 5, peerId: "carol" });
    c.cmd("carol", "room", "query", { roomId: "g1", i: 6 });
    expectError(c, 4401, { i: 6, peerId: "carol" });
  });

  it("[ROOM-QUERY-3] changes no membership and sends nothing to anyone else", () => {
    const { h, a, b, c } = setup();
    a.cmd("alice", "room", "query", { roomId: "g1", i: 7 });
    c.cmd("carol", "room", "query", { roomId: "g1", i: 8 });
    a.expectOne("room/query-result");
    expectError(c, 4401, { i: 8 });
    a.expectNothing();
    b.expectNothing();
    c.expectNothing();
    expect(h.store.members("app1", "g1").sort()).toEqual(["alice", "bob"]);
  });
});
