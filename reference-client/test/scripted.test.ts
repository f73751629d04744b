// The client against test-support's scripted server over real sockets: the server says
// exactly what a test scripts, so that odd and misbehaving servers (unknown frames and
// fields, duplicates, wrong replies, unknown codes, frames for other peers) can be shown,
// and the recording shows exactly what the client sent.
import {
  type ConfabClient,
  ConnectionClosedError,
  InvalidFrameError,
  NotSupportedError,
  ProtocolError,
  SUBPROTOCOL,
} from "@confab/client";
import type { ScriptedServer } from "@confab/test-support";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Json, SERVER_INFO } from "./support/fake-socket.js";
import {
  Clients,
  collect,
  nameOf,
  received,
  respondWith,
  scriptedServer,
  sleep,
  until,
} from "./support/helpers.js";

let server: ScriptedServer;
const clients = new Clients();

beforeEach(async () => {
  server = await scriptedServer();
});

afterEach(async () => {
  await clients.closeAll();
  await server.stop();
  expect(server.errors).toEqual([]);
});

async function open(options: Parameters<Clients["make"]>[0] = {}): Promise<ConfabClient> {
  const client = clients.make({ url: server.wsUrl, ...options });
  await client.open();
  return client;
}

/** A delivery to alice, as a server sends it. */
const delivery = (id: string, extra: Json = {}): Json => ({
  cmd: "direct",
  peerId: "alice",
  id,
  msg: `text of ${id}`,
  fromPeerId: "bob",
  timestamp: 1_700_000_000_000,
  ...extra,
});

/** Waits until the server has seen a keepalive answered after everything before it. */
async function settle(client: ConfabClient): Promise<void> {
  // A getStatus round trip orders after every frame the server sent before its reply.
  await client.getStatus(["nobody"]);
  await sleep(20);
}

const ackedIds = () => received(server, "ack").flatMap((f) => f.ids as string[]);

describe("connection", () => {
  it("[VERSION-SUBPROTO-4] offers the subprotocol confab.v1", async () => {
    await open();
    expect(SUBPROTOCOL).toBe("confab.v1");
    expect(server.connections[0]?.socket.protocol).toBe("confab.v1");
  });

  it("[SIG-SIGN-1] sends the signature of its auth hooks in s, t (an integer) and n, on the command it was computed for", async () => {
    const asked: unknown[] = [];
    let k = 0;
    const client = await open({
      watchPeerIds: Array.from({ length: 60 }, (_, n) => `p${n}`),
      auth: async (req) => {
        asked.push(req);
        k++;
        return { s: `sig${k}`, t: 1_417_334_400 + k, n: `nonce${k}` };
      },
      groupAuth: async (req) => {
        asked.push(req);
        k++;
        return { s: `gsig${k}`, t: 1_417_334_400 + k, n: `gnonce${k}` };
      },
    });
    await client.joinGroup("g1");
    await client.inviteToGroup("g1", ["carol"]);
    const open1 = received(server, "session/open")[0] as Json;
    const add1 = received(server, "session/add")[0] as Json;
    const join = received(server, "room/join")[0] as Json;
    const invite = received(server, "room/invite")[0] as Json;
    expect([open1, add1, join, invite].map((f) => [f.s, f.t, f.n])).toEqual([
      ["sig1", 1_417_334_401, "nonce1"],
      ["sig2", 1_417_334_402, "nonce2"],
      ["gsig3", 1_417_334_403, "gnonce3"],
      ["gsig4", 1_417_334_404, "gnonce4"],
    ]);
    expect(asked).toEqual([
      { appId: "app1", peerId: "alice", op: "open", watchPeerIds: open1.sessionPeerIds },
      { appId: "app1", peerId: "alice", op: "add", watchPeerIds: add1.sessionPeerIds },
      { appId: "app1", peerId: "alice", action: "join", roomId: "g1", roomPeerIds: [] },
      { appId: "app1", peerId: "alice", action: "invite", roomId: "g1", roomPeerIds: ["carol"] },
    ]);
  });

  it("[SIG-SIGN-1] refuses a signature whose t is not an integer or whose nonce is not a valid id, sending nothing", async () => {
    const client = clients.make({
      url: server.wsUrl,
      auth: async () => ({ s: "x", t: 1.5, n: "n" }),
    });
    await expect(client.open()).rejects.toMatchObject({
      name: "InvalidArgumentError",
      argument: "auth().t",
    });
    const other = clients.make({
      url: server.wsUrl,
      auth: async () => ({ s: "x", t: 1, n: "a:b" }),
    });
    await expect(other.open()).rejects.toMatchObject({
      name: "InvalidArgumentError",
      argument: "auth().n",
    });
    expect(received(server, "session/open")).toEqual([]);
  });
});

describe("watch lists", () => {
  it("[WATCH-CLIENT-1] sends a long watch list as session/open and session/add commands of at most 50 ids", async () => {
    const ids = Array.from({ length: 120 }, (_, n) => `p${n}`);
    const client = await open({ watchPeerIds: ids });
    const sizes = () =>
      received(server)
        .filter((f) => nameOf(f) === "session/open" || nameOf(f) === "session/add")
        .map((f) => (f.sessionPeerIds as string[]).length);
    expect(sizes()).toEqual([50, 50, 20]);
    await client.watch(Array.from({ length: 75 }, (_, n) => `q${n}`));
    expect(sizes()).toEqual([50, 50, 20, 50, 25]);
    const all = received(server).flatMap((f) => (f.sessionPeerIds as string[] | undefined) ?? []);
    expect(new Set(all).size).toBe(195);
  });

  it("[WATCH-CLIENT-1] chunks by the server's idsPerArray when it announces fewer than 50", async () => {
    respondWith(server, {
      "session/open": (f) => ({
        cmd: "session",
        op: "opened",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: [],
        serverInfo: { ...SERVER_INFO, limits: { ...SERVER_INFO.limits, idsPerArray: 20 } },
      }),
    });
    const client = await open();
    await client.watch(Array.from({ length: 45 }, (_, n) => `p${n}`));
    expect(
      received(server, "session/add").map((f) => (f.sessionPeerIds as string[]).length),
    ).toEqual([20, 20, 5]);
  });

  it("refuses a watch list over the server's watchPerSession before sending anything", async () => {
    respondWith(server, {
      "session/open": (f) => ({
        cmd: "session",
        op: "opened",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: [],
        serverInfo: { ...SERVER_INFO, limits: { ...SERVER_INFO.limits, watchPerSession: 3 } },
      }),
    });
    const client = await open({ watchPeerIds: ["a"] });
    await expect(client.watch(["b", "c", "d"])).rejects.toMatchObject({
      name: "InvalidArgumentError",
    });
    expect(received(server, "session/add")).toEqual([]);
  });

  it("[SESSION-RECONNECT-2] opens the session again after a reconnect with the full watch list it wants, signed again", async () => {
    let signed = 0;
    const client = await open({
      watchPeerIds: Array.from({ length: 55 }, (_, n) => `p${n}`),
      auth: async () => ({ s: `s${++signed}`, t: 1, n: `n${signed}` }),
    });
    await client.watch(["extra1", "extra2"]);
    await client.unwatch(["p0", "p1"]);
    const reconnected = new Promise((r) => client.on("reconnect", () => r(undefined)));
    server.connections[0]?.socket.close(1011, "restart");
    await reconnected;
    const wanted = [...Array.from({ length: 55 }, (_, n) => `p${n}`).slice(2), "extra1", "extra2"];
    const after = received(server, undefined, 1)
      .filter((f) => nameOf(f) === "session/open" || nameOf(f) === "session/add")
      .map((f) => f.sessionPeerIds as string[]);
    expect(after.map((ids) => ids.length)).toEqual([50, 5]);
    expect(after.flat().sort()).toEqual([...wanted].sort());
    expect(client.watchPeerIds.sort()).toEqual([...wanted].sort());
    expect(signed).toBe(2 + 1 + 2); // open + add, one add for watch(), open + add again
  });

  it("[PRESENCE-CLIENT-1] treats each reported state as a snapshot that a later presence frame supersedes", async () => {
    respondWith(server, {
      "session/open": (f) => ({
        cmd: "session",
        op: "opened",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: ["bob"],
      }),
      "session/query": (f) => ({
        cmd: "session",
        op: "query-result",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: ["carol"],
      }),
    });
    const client = await open({ watchPeerIds: ["bob", "carol"] });
    const events = collect(client, "presence");
    expect(client.onlinePeerIds).toEqual(["bob"]);
    server.push(0, { cmd: "presence", peerId: "alice", status: "off", sessionPeerIds: ["bob"] });
    await until(() => client.onlinePeerIds.length === 0, 2000, "bob off");
    expect(await client.getStatus(["carol"])).toEqual(["carol"]);
    expect(client.onlinePeerIds).toEqual(["carol"]);
    server.push(0, { cmd: "presence", peerId: "alice", status: "off", sessionPeerIds: ["carol"] });
    await until(() => client.onlinePeerIds.length === 0, 2000, "carol off");
    expect(events).toEqual([
      { peerId: "bob", status: "off" },
      { peerId: "carol", status: "on" },
      { peerId: "carol", status: "off" },
    ]);
  });

  it("[PRESENCE-CLIENT-1] reports online and offline for the watched peers whose state changed", async () => {
    const client = await open({ watchPeerIds: ["bob", "carol", "dave"] });
    const online = collect(client, "online");
    const offline = collect(client, "offline");
    server.push(0, {
      cmd: "presence",
      peerId: "alice",
      status: "on",
      sessionPeerIds: ["bob", "carol"],
    });
    server.push(0, { cmd: "presence", peerId: "alice", status: "off", sessionPeerIds: ["carol"] });
    await settle(client);
    expect(online).toEqual([["bob", "carol"]]);
    expect(offline).toEqual([["carol"]]);
  });

  it("[SESSION-LIST-2] treats onlineSessionPeerIds, presence sessionPeerIds and delivered toPeerIds as sets", async () => {
    respondWith(server, {
      "session/open": (f) => ({
        cmd: "session",
        op: "opened",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: ["carol", "bob", "carol"],
      }),
      "session/query": (f) => ({
        cmd: "session",
        op: "query-result",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: ["y", "x", "y"],
      }),
    });
    const client = await open({ watchPeerIds: ["bob", "carol", "dave"] });
    const online = collect(client, "online");
    const messages = collect(client, "message");
    expect([...client.onlinePeerIds].sort()).toEqual(["bob", "carol"]);
    expect((await client.getStatus(["x", "y"])).sort()).toEqual(["x", "y"]);
    server.push(0, {
      cmd: "presence",
      peerId: "alice",
      status: "on",
      sessionPeerIds: ["dave", "dave"],
    });
    server.push(0, delivery("m1", { toPeerIds: ["alice", "zoe", "alice"] }));
    await settle(client);
    expect(online).toEqual([["dave"]]);
    expect(messages).toMatchObject([{ id: "m1", toPeerIds: ["alice", "zoe"] }]);
  });

  it("[SESSION-INFO-6] ignores members of features and limits whose names it does not know", async () => {
    respondWith(server, {
      "session/open": (f) => ({
        cmd: "session",
        op: "opened",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: [],
        serverInfo: {
          ...SERVER_INFO,
          features: { ...SERVER_INFO.features, "future-thing": true, teleport: false },
          limits: { ...SERVER_INFO.limits, idsPerArray2: 1, warpFactor: 9 },
        },
      }),
    });
    const client = await open();
    expect(client.serverInfo?.features).not.toHaveProperty("future-thing");
    expect(client.serverInfo?.limits).not.toHaveProperty("warpFactor");
    expect(client.serverInfo?.limits.idsPerArray).toBe(500);
    await client.watch(Array.from({ length: 10 }, (_, n) => `p${n}`));
    expect(
      received(server, "session/add").map((f) => (f.sessionPeerIds as string[]).length),
    ).toEqual([10]);
  });
});

describe("deliveries", () => {
  it("[ACK-CLIENT-1] acknowledges every delivered direct that is not transient, in few ack frames", async () => {
    const client = await open();
    const got = collect(client, "message");
    for (let n = 0; n < 30; n++) server.push(0, delivery(`m${n}`, { offline: true }));
    await until(() => ackedIds().length === 30, 2000, "30 acks");
    expect(got).toHaveLength(30);
    expect(new Set(ackedIds()).size).toBe(30);
    expect(received(server, "ack").length).toBeLessThan(30);
    await settle(client);
  });

  it("[ACK-CLIENT-2] leaves transient deliveries unacknowledged (the MAY it does not take), but hands them over", async () => {
    const client = await open();
    const got = collect(client, "message");
    server.push(0, delivery("t1", { transient: true }));
    server.push(0, delivery("p1"));
    await until(() => ackedIds().includes("p1"), 2000, "ack of p1");
    await settle(client);
    expect(ackedIds()).toEqual(["p1"]);
    expect(got).toMatchObject([{ id: "t1", transient: true }, { id: "p1" }]);
  });

  it("[ACK-CLIENT-3] sends each ack with the peerId of the delivery it acknowledges", async () => {
    const client = await open({ peerId: "alice" });
    server.push(0, delivery("m1"));
    await until(() => ackedIds().length === 1, 2000, "ack");
    const ack = received(server, "ack")[0] as Json;
    expect(ack).toMatchObject({ cmd: "ack", appId: "app1", peerId: "alice", ids: ["m1"] });
    await settle(client);
  });

  it("[ACK-CLIENT-4] acknowledges a delivery only once the app's handler has settled, and not when it fails", async () => {
    const client = await open();
    let release: () => void = () => {};
    const stored = new Promise<void>((r) => {
      release = r;
    });
    const errors = collect(client, "error");
    client.on("message", (m) =>
      m.id === "slow"
        ? stored
        : m.id === "bad"
          ? Promise.reject(new Error("disk full"))
          : undefined,
    );
    server.push(0, delivery("slow"));
    server.push(0, delivery("bad"));
    server.push(0, delivery("quick"));
    await until(() => ackedIds().includes("quick"), 2000, "ack of quick");
    await sleep(30);
    expect(ackedIds()).not.toContain("slow");
    release();
    await until(() => ackedIds().includes("slow"), 2000, "ack of slow");
    await settle(client);
    expect(ackedIds()).not.toContain("bad");
    expect(errors).toMatchObject([{ name: "ListenerError", event: "message" }]);
    // Not acknowledged, so the server delivers it again: and then it is handed again.
    const again = collect(client, "message");
    server.push(0, delivery("bad", { offline: true }));
    await settle(client);
    expect(again).toMatchObject([{ id: "bad", offline: true }]);
  });

  it("[OFFLINE-DEDUP-1] hands a message to the app at most once per id, live, from the offline store or after a re-open", async () => {
    const client = await open();
    const got = collect(client, "message");
    server.push(0, delivery("m1"));
    server.push(0, delivery("m1"));
    await settle(client);
    const reconnected = new Promise((r) => client.on("reconnect", () => r(undefined)));
    server.connections[0]?.socket.close(1001, "going away");
    await reconnected;
    server.push(1, delivery("m1", { offline: true }));
    server.push(1, delivery("m2", { offline: true }));
    await settle(client);
    expect(got).toMatchObject([
      { id: "m1", offline: false },
      { id: "m2", offline: true },
    ]);
    // Every copy is acknowledged, so the server stops redelivering it.
    expect(ackedIds().filter((id) => id === "m1").length).toBeGreaterThanOrEqual(2);
  });

  it("[ECHO-CLIENT-1] presents a delivery from its own peer id as an echo, never as a message from another peer", async () => {
    const client = await open({ echo: true });
    expect(received(server, "session/open")[0]).toMatchObject({ echo: true });
    const messages = collect(client, "message");
    const echoes = collect(client, "echo");
    server.push(0, delivery("e1", { fromPeerId: "alice", toPeerIds: ["bob"] }));
    server.push(0, delivery("m1"));
    await settle(client);
    expect(messages).toMatchObject([{ id: "m1", fromPeerId: "bob" }]);
    expect(echoes).toMatchObject([{ id: "e1", fromPeerId: "alice", toPeerIds: ["bob"] }]);
    expect(ackedIds().sort()).toEqual(["e1", "m1"]);
  });

  it("[RECEIPT-CLIENT-1] resolves a send at its ack and never reports a missing receipt as a failed delivery", async () => {
    const client = await open();
    const receipts = collect(client, "receipt");
    const errors = collect(client, "error");
    const sent = await client.send("hi", "bob", { receipt: true });
    expect(received(server, "direct")[0]).toMatchObject({ r: true, toPeerIds: ["bob"] });
    await sleep(100);
    expect(receipts).toEqual([]);
    expect(errors).toEqual([]);
    server.push(0, { cmd: "rcp", peerId: "alice", id: sent.id, t: 5 });
    await settle(client);
    expect(receipts).toEqual([{ id: sent.id, t: 5 }]);
  });

  it("[FRAME-PEERID-2] hands a frame with a peerId only to the session of that peer: none of another peer's reach this one", async () => {
    respondWith(server, {
      "session/query": (f) => [
        {
          cmd: "session",
          op: "query-result",
          peerId: "mallory",
          i: f.i,
          onlineSessionPeerIds: ["x"],
        },
        { cmd: "session", op: "query-result", peerId: f.peerId, i: f.i, onlineSessionPeerIds: [] },
      ],
    });
    const client = await open({ watchPeerIds: ["bob"] });
    const events: unknown[] = [];
    for (const e of ["message", "presence", "receipt", "error", "group:invited"] as const) {
      client.on(e, (p) => void events.push([e, p]));
    }
    server.push(0, delivery("m1", { peerId: "mallory" }));
    server.push(0, { cmd: "presence", peerId: "mallory", status: "on", sessionPeerIds: ["bob"] });
    server.push(0, { cmd: "rcp", peerId: "mallory", id: "m9", t: 1 });
    server.push(0, { cmd: "error", peerId: "mallory", code: 4105, reason: "SESSION_REQUIRED" });
    server.push(0, { cmd: "room", op: "joined", peerId: "mallory", roomId: "g1", byPeerId: "x" });
    // A reply carrying this session's i but another peer's id is not this session's reply.
    expect(await client.getStatus(["x"])).toEqual([]);
    await settle(client);
    expect(events).toEqual([]);
    expect(ackedIds()).toEqual([]);
  });
});

describe("tolerance", () => {
  it("[VERSION-UNKNOWN-2] ignores the fields of a server frame that the spec does not define for it", async () => {
    respondWith(server, {
      direct: (f) => ({
        cmd: "ack",
        peerId: f.peerId,
        i: f.i,
        uid: "m1",
        t: 7,
        shard: 3,
        extra: { a: 1 },
      }),
    });
    const client = await open();
    expect(await client.send("hi", "bob")).toEqual({ id: "m1", t: 7 });
    const got = collect(client, "message");
    server.push(0, delivery("m2", { priority: "high", _lctype: -1, fromPeerId: "bob" }));
    await settle(client);
    expect(got).toEqual([
      {
        id: "m2",
        msg: "text of m2",
        fromPeerId: "bob",
        timestamp: 1_700_000_000_000,
        offline: false,
      },
    ]);
  });

  it("[VERSION-UNKNOWN-3] ignores a server frame whose cmd, or cmd and op, it does not know", async () => {
    const client = await open();
    const errors = collect(client, "error");
    const before = received(server).length;
    server.push(0, { cmd: "teleport", peerId: "alice" });
    server.push(0, { cmd: "session", op: "suspended", peerId: "alice" });
    server.push(0, { cmd: "room", op: "renamed", peerId: "alice", roomId: "g1" });
    server.push(0, { cmd: "direct", op: "edit", peerId: "alice", id: "m1" });
    await settle(client);
    expect(errors).toEqual([]);
    expect(received(server).slice(before).map(nameOf)).toEqual(["session/query"]);
    expect(client.state).toBe("open");
  });

  it("[VERSION-ACKREQ-2] ignores ackreq", async () => {
    const client = await open();
    const errors = collect(client, "error");
    const before = received(server).length;
    server.push(0, { cmd: "ackreq", peerId: "alice", c: 3 });
    await settle(client);
    expect(received(server).slice(before).map(nameOf)).toEqual(["session/query"]);
    expect(errors).toEqual([]);
  });

  it("[VERSION-ENUM-1] ignores a presence frame whose status is neither on nor off", async () => {
    const client = await open({ watchPeerIds: ["bob"] });
    const events = collect(client, "presence");
    const errors = collect(client, "error");
    server.push(0, { cmd: "presence", peerId: "alice", status: "away", sessionPeerIds: ["bob"] });
    server.push(0, { cmd: "presence", peerId: "alice", status: "on", sessionPeerIds: ["bob"] });
    await settle(client);
    expect(events).toEqual([{ peerId: "bob", status: "on" }]);
    expect(errors).toEqual([]);
  });

  it("[VERSION-REJECT-2] treats a room/reject as the failure of its own pending room/join of that group", async () => {
    respondWith(server, {
      "room/join": (f) => ({ cmd: "room", op: "reject", peerId: f.peerId, roomId: f.roomId }),
    });
    const client = await open();
    const err = await client.joinGroup("closed-group").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: null, reason: "ROOM_REJECTED", command: "room/join" });
  });

  it("[ERROR-CLIENT-1] treats an error frame with a code it does not know as a failure of the command it answers", async () => {
    respondWith(server, {
      direct: (f) => ({
        cmd: "error",
        peerId: f.peerId,
        i: f.i,
        code: 4999,
        reason: "FUTURE_REASON",
        detail: "new",
      }),
      "room/leave": (f) => ({
        cmd: "error",
        peerId: f.peerId,
        i: f.i,
        code: 4404,
        reason: "ROOM_NOT_FOUND",
      }),
    });
    const client = await open();
    const err = await client.send("hi", "bob").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({
      code: 4999,
      reason: "FUTURE_REASON",
      requirements: [],
      detail: "new",
      command: "direct",
    });
    const known = await client.leaveGroup("g9").catch((e: unknown) => e);
    expect(known).toMatchObject({
      code: 4404,
      reason: "ROOM_NOT_FOUND",
      requirements: ["ROOM-UNKNOWN-1"],
    });
    expect(client.state).toBe("open");
  });

  it("reports an error frame that answers no command on the error event", async () => {
    const client = await open();
    const errors = collect(client, "error");
    server.push(0, { cmd: "error", code: 4200, reason: "INTERNAL_ERROR", detail: "oops" });
    await settle(client);
    expect(errors).toMatchObject([
      { name: "ProtocolError", code: 4200, requirements: ["ERROR-INTERNAL-1", "ACK-FAIL-1"] },
    ]);
  });

  it("fails a command whose reply is the wrong frame or breaks its schema, with InvalidFrameError", async () => {
    respondWith(server, {
      direct: (f) => ({
        cmd: "session",
        op: "added",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: [],
      }),
      "room/join": (f) => ({ cmd: "room", op: "joined", peerId: f.peerId, i: f.i }),
    });
    const client = await open();
    await expect(client.send("hi", "bob")).rejects.toBeInstanceOf(InvalidFrameError);
    await expect(client.joinGroup()).rejects.toMatchObject({
      name: "InvalidFrameError",
      mayHaveBeenDelivered: true,
    });
  });

  it("ignores text that is not a JSON object, and neither hands nor acks a malformed delivery", async () => {
    const client = await open();
    const got = collect(client, "message");
    const errors = collect(client, "error");
    server.push(0, "not json");
    server.push(0, "[1,2]");
    server.push(0, {
      cmd: "direct",
      peerId: "alice",
      msg: "no id",
      fromPeerId: "bob",
      timestamp: 1,
    });
    await settle(client);
    expect(got).toEqual([]);
    expect(ackedIds()).toEqual([]);
    expect(errors).toMatchObject([{ name: "InvalidFrameError" }]);
  });

  it("survives an error frame before a close, reporting the close and reconnecting", async () => {
    const client = await open();
    const disconnects = collect(client, "disconnect");
    const errors = collect(client, "error");
    const reconnected = new Promise((r) => client.on("reconnect", () => r(undefined)));
    server.push(0, { cmd: "error", code: 4107, reason: "READ_TIMEOUT" });
    server.connections[0]?.socket.close(4107, "READ_TIMEOUT");
    await reconnected;
    expect(disconnects).toEqual([{ code: 4107, reason: "READ_TIMEOUT" }]);
    expect(errors).toMatchObject([{ code: 4107 }]);
  });
});

describe("history and group pages", () => {
  const item = (n: number) => ({
    timestamp: 1000 - Math.floor(n / 2), // two items per millisecond
    "conv-id": "c1",
    data: `d${n}`,
    from: "bob",
    "msg-id": `id${String(100 - n).padStart(3, "0")}`,
    "is-conv": false,
    "is-room": false,
    to: "alice",
  });

  it("[LOGS-CLIENT-1] passes the timestamp and msg-id of the last item it received as max_ts and msgid", async () => {
    const all = Array.from({ length: 7 }, (_, n) => item(n));
    respondWith(server, {
      logs: (f) => {
        const start = f.msgid === undefined ? 0 : all.findIndex((x) => x["msg-id"] === f.msgid) + 1;
        const logs = all.slice(start, start + (f.limit as number));
        return { cmd: "logs", op: "result", peerId: f.peerId, i: f.i, logs };
      },
    });
    const client = await open();
    const got: string[] = [];
    for await (const x of client.queryLogs({ cid: "c1", pageSize: 3 })) got.push(x.msg);
    expect(got).toEqual(["d0", "d1", "d2", "d3", "d4", "d5", "d6"]);
    const asked = received(server, "logs").map((f) => [f.max_ts, f.msgid, f.limit]);
    expect(asked).toEqual([
      [undefined, undefined, 3],
      [999, "id098", 3],
      [998, "id095", 3],
    ]);
  });

  it("[LOGS-CLIENT-2] does not take a page marked more: true for the last one, though it is shorter than the limit", async () => {
    const pages = [
      { logs: [item(0)], more: true },
      { logs: [item(1), item(2)], more: true },
      { logs: [item(3)] },
    ];
    respondWith(server, {
      logs: (f) => ({ cmd: "logs", op: "result", peerId: f.peerId, i: f.i, ...pages.shift() }),
    });
    const client = await open();
    const got: string[] = [];
    for await (const x of client.queryLogs({ cid: "c1", pageSize: 10 })) got.push(x.msg);
    expect(got).toEqual(["d0", "d1", "d2", "d3"]);
    expect(received(server, "logs")).toHaveLength(3);
  });

  it("stops paging at the limit asked for, and at a short page without more", async () => {
    respondWith(server, {
      logs: (f) => ({
        cmd: "logs",
        op: "result",
        peerId: f.peerId,
        i: f.i,
        logs: [item(0), item(1)].slice(0, f.limit as number),
      }),
    });
    const client = await open();
    const limited: string[] = [];
    for await (const x of client.queryLogs({ cid: "c1", limit: 1 })) limited.push(x.msg);
    expect(limited).toEqual(["d0"]);
    const short: string[] = [];
    for await (const x of client.queryLogs({ cid: "c1", pageSize: 5 })) short.push(x.msg);
    expect(short).toEqual(["d0", "d1"]);
    expect(received(server, "logs").map((f) => f.limit)).toEqual([1, 5]);
  });

  it("[LIMIT-LOGS-RATE-3] waits at least a second after error 4120 for a logs command before asking again", async () => {
    const times: number[] = [];
    respondWith(server, {
      logs: (f) => {
        times.push(Date.now());
        return times.length === 1
          ? {
              cmd: "error",
              peerId: f.peerId,
              i: f.i,
              code: 4120,
              reason: "LIMIT_EXCEEDED",
              detail: "retry in 1 s",
            }
          : { cmd: "logs", op: "result", peerId: f.peerId, i: f.i, logs: [item(0)] };
      },
    });
    const client = await open();
    const got: string[] = [];
    for await (const x of client.queryLogs({ cid: "c1" })) got.push(x.msg);
    expect(got).toEqual(["d0"]);
    expect(times).toHaveLength(2);
    expect((times[1] as number) - (times[0] as number)).toBeGreaterThanOrEqual(990);
  });

  it("[ROOM-LIST-6] passes the last id of a page as the after of its next room/list, and stops after more: false", async () => {
    const groups = ["a1", "b2", "c3", "d4", "e5"];
    respondWith(server, {
      "room/list": (f) => {
        const from = f.after === undefined ? 0 : groups.indexOf(f.after as string) + 1;
        const roomIds = groups.slice(from, from + (f.limit as number));
        return {
          cmd: "room",
          op: "list-result",
          peerId: f.peerId,
          i: f.i,
          roomIds,
          more: from + roomIds.length < groups.length,
        };
      },
    });
    const client = await open();
    expect(await client.listGroups({ pageSize: 2 })).toEqual(groups);
    expect(received(server, "room/list").map((f) => [f.after, f.limit])).toEqual([
      [undefined, 2],
      ["b2", 2],
      ["d4", 2],
    ]);
  });

  it("refuses the group queries and history when the server does not announce them, sending nothing", async () => {
    respondWith(server, {
      "session/open": (f) => ({
        cmd: "session",
        op: "opened",
        peerId: f.peerId,
        i: f.i,
        onlineSessionPeerIds: [],
        serverInfo: { ...SERVER_INFO, features: { receipts: true } },
      }),
    });
    const client = await open();
    await expect(client.listGroups()).rejects.toMatchObject({
      name: "NotSupportedError",
      feature: "room-list",
    });
    await expect(client.queryGroupMembers("g1")).rejects.toBeInstanceOf(NotSupportedError);
    await expect(client.queryLogs({ cid: "c1" }).next()).rejects.toMatchObject({
      feature: "history",
    });
    expect(received(server).map(nameOf)).toEqual(["session/open"]);
  });
});

describe("groups", () => {
  it("reports membership events from this peer's point of view", async () => {
    const client = await open();
    const log: unknown[] = [];
    for (const e of [
      "group:joined",
      "group:invited",
      "group:left",
      "group:kicked",
      "group:members-joined",
      "group:members-left",
    ] as const) {
      client.on(e, (p) => void log.push([e, p]));
    }
    const ev = (op: string, extra: Json) =>
      server.push(0, { cmd: "room", op, peerId: "alice", roomId: "g1", ...extra });
    ev("joined", { byPeerId: "bob" }); // bob invited alice
    ev("joined", { byPeerId: "alice" }); // alice joined on another device
    ev("members-joined", { roomPeerIds: ["carol", "carol"], byPeerId: "bob" });
    ev("invited", { roomPeerIds: ["dave"] }); // alice's other device invited dave
    ev("kicked", { roomPeerIds: ["dave"] });
    ev("members-left", { roomPeerIds: ["carol"], byPeerId: "carol" });
    ev("left", { byPeerId: "bob" }); // bob kicked alice
    ev("left", { byPeerId: "alice" });
    await settle(client);
    expect(log).toEqual([
      ["group:invited", { roomId: "g1", byPeerId: "bob" }],
      ["group:joined", { roomId: "g1", byPeerId: "alice" }],
      ["group:members-joined", { roomId: "g1", byPeerId: "bob", peerIds: ["carol"] }],
      ["group:members-joined", { roomId: "g1", byPeerId: "alice", peerIds: ["dave"] }],
      ["group:members-left", { roomId: "g1", byPeerId: "alice", peerIds: ["dave"] }],
      ["group:members-left", { roomId: "g1", byPeerId: "carol", peerIds: ["carol"] }],
      ["group:kicked", { roomId: "g1", byPeerId: "bob" }],
      ["group:left", { roomId: "g1", byPeerId: "alice" }],
    ]);
  });

  it("rejects commands made while not open with ConnectionClosedError, sending nothing", async () => {
    const client = clients.make({ url: server.wsUrl });
    await expect(client.joinGroup()).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(client.watch("bob")).rejects.toMatchObject({ mayHaveBeenDelivered: false });
    expect(server.received).toEqual([]);
  });
});
