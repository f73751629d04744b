/**
 * Group membership queries over real sockets (spec 04, 4.5 and 4.6): a group made with
 * room/join and room/invite, then asked about with room/query and room/list, as a client
 * of `npm start` would.
 */
import { connect, disconnect, type WireClient } from "@confab/test-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";

let server: RunningServer;
const clients: WireClient[] = [];

beforeAll(async () => {
  server = await startServer({ port: 0 });
});
afterAll(async () => {
  for (const c of clients) await disconnect(c);
  await server.close();
});

/** Waits for the frame answering serial `i`, skipping events. */
async function reply(c: WireClient, i: number): Promise<Record<string, unknown>> {
  for (;;) {
    const f = (await c.next()) as Record<string, unknown>;
    if (f.i === i) return f;
  }
}

describe("membership queries over a real socket", () => {
  it("[ROOM-QUERY-1] [ROOM-LIST-1] answers room/query and room/list from what room/join and room/invite made", async () => {
    const a = await connect(server.wsUrl);
    const c = await connect(server.wsUrl);
    clients.push(a, c);
    const env = { appId: "q1" };
    a.send({ cmd: "session", op: "open", peerId: "alice", sessionPeerIds: [], i: 1, ...env });
    await reply(a, 1);
    c.send({ cmd: "session", op: "open", peerId: "carol", sessionPeerIds: [], i: 1, ...env });
    await reply(c, 1);

    a.send({ cmd: "room", op: "join", peerId: "alice", i: 2, ...env });
    const joined = await reply(a, 2);
    const roomId = String(joined.roomId);
    a.send({
      cmd: "room",
      op: "invite",
      peerId: "alice",
      roomId,
      roomPeerIds: ["bob"],
      i: 3,
      ...env,
    });
    await reply(a, 3);

    a.send({ cmd: "room", op: "query", peerId: "alice", roomId, i: 4, ...env });
    const members = await reply(a, 4);
    expect(members).toMatchObject({ cmd: "room", op: "query-result", roomId });
    expect([...(members.roomPeerIds as string[])].sort()).toEqual(["alice", "bob"]);

    a.send({ cmd: "room", op: "list", peerId: "alice", i: 5, ...env });
    expect(await reply(a, 5)).toMatchObject({ op: "list-result", roomIds: [roomId] });

    // carol is no member: 4401 [ROOM-QUERY-2], and her own list is empty.
    c.send({ cmd: "room", op: "query", peerId: "carol", roomId, i: 6, ...env });
    expect(await reply(c, 6)).toMatchObject({ cmd: "error", code: 4401 });
    c.send({ cmd: "room", op: "list", peerId: "carol", i: 7, ...env });
    expect(await reply(c, 7)).toMatchObject({ op: "list-result", roomIds: [] });
  });
});
