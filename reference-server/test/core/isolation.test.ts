/**
 * Apps are isolated tenants (spec README, "App"): equal peer and group ids in two apps name
 * different peers and groups.
 */
import { conversationId } from "@confab/protocol";
import { describe, expect, it } from "vitest";
import { type FakeConn, Harness } from "../support/harness.js";
import { restVia } from "../support/rest.js";

function as(h: Harness, appId: string, f: (c: FakeConn) => void): FakeConn {
  const before = h.appId;
  h.appId = appId;
  const c = h.connect();
  f(c);
  h.appId = before;
  return c;
}

/** Sends a command on `c` for app `appId` (the harness fills appId from h.appId). */
function cmd(
  c: FakeConn,
  appId: string,
  peerId: string,
  cmdName: string,
  op: string | undefined,
  fields = {},
) {
  c.send({ cmd: cmdName, ...(op ? { op } : {}), appId, peerId, ...fields });
}

describe("app isolation", () => {
  it("[SESSION-APP-5] keeps messages, presence, groups, offline stores and history of equal ids apart", () => {
    const h = new Harness();
    // bob of app2 is online and watches alice of app2; alice of app1 does everything.
    const bob2 = as(h, "app2", (c) => c.open("bob", ["alice"]));
    const alice1 = as(h, "app1", (c) => c.open("alice", ["bob"]));
    bob2.drain();
    alice1.drain();

    // alice@app1 coming online is no presence for the app2 watcher; bob@app1 is offline.
    expect(bob2.received).toEqual([]);
    cmd(alice1, "app1", "alice", "direct", undefined, {
      msg: "for bob of app1",
      toPeerIds: ["bob"],
      i: 1,
    });
    expect(alice1.expectOne("ack")).toMatchObject({ i: 1 });
    cmd(alice1, "app1", "alice", "room", "join", { i: 2 });
    const roomId = alice1.expectOne("room/joined").roomId as string;
    cmd(alice1, "app1", "alice", "room", "invite", { roomId, roomPeerIds: ["bob"], i: 3 });
    alice1.expectOne("room/invited");
    bob2.expectNothing();

    // app2's alice and bob see none of it: no offline message, no group, no history.
    const alice2 = as(h, "app2", (c) => c.open("alice"));
    expect(bob2.expectOne("presence")).toMatchObject({ status: "on", sessionPeerIds: ["alice"] });
    const bob2b = as(h, "app2", (c) => c.open("bob"));
    expect(bob2b.take("direct")).toEqual([]);
    cmd(alice2, "app2", "alice", "direct", undefined, { msg: "x", roomId, i: 4 });
    expect(alice2.expectOne("error")).toMatchObject({ code: 4404, i: 4 });
    cmd(bob2b, "app2", "bob", "logs", undefined, { cid: conversationId(["alice", "bob"]), i: 5 });
    expect(bob2b.expectOne("error")).toMatchObject({ code: 4401, i: 5 });
    const rest = restVia(h.engine, "app2", undefined, {});
    expect(rest).toMatchObject({ ok: true, items: [] });
    // …while app1 has them all.
    const rest1 = restVia(h.engine, "app1", undefined, {});
    expect(rest1.ok && rest1.items.map((i) => i.data)).toEqual(["for bob of app1"]);
  });
});
