// The client against the real reference server, run as a child process: two peers chat,
// watch each other, get receipts and their offline messages, use groups and history, and
// an app that enforces signatures is served through the `auth` hooks.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ConfabClient,
  conversationId,
  InvalidArgumentError,
  type Message,
  ProtocolError,
} from "@confab/client";
import { groupSignature, sessionSignature, TEST_MASTER_KEY } from "@confab/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Clients, collect, until } from "./support/helpers.js";
import { ServerProcess } from "./support/server-process.js";

let server: ServerProcess;
const clients = new Clients();
let run = 0;

beforeAll(async () => {
  server = await ServerProcess.start();
});
afterAll(async () => {
  await server.stop();
});
afterEach(async () => {
  await clients.closeAll();
});

/** Peer ids unique to one test, so tests share the server without sharing state. */
function peers<const N extends string[]>(...names: N): { [K in keyof N]: string } {
  run++;
  return names.map((n) => `${n}-${run}`) as { [K in keyof N]: string };
}

async function open(
  peerId: string,
  options: Parameters<Clients["make"]>[0] = {},
): Promise<ConfabClient> {
  const client = clients.make({ url: server.wsUrl, peerId, appId: "app1", ...options });
  await client.open();
  return client;
}

/** Resolves with the next `count` messages of a client. */
function messages(client: ConfabClient, count: number): Promise<Message[]> {
  const got: Message[] = [];
  return new Promise((resolve) => {
    client.on("message", (m) => {
      got.push(m);
      if (got.length === count) resolve(got);
    });
  });
}

describe("against the reference server", () => {
  it("opens through the router and announces the server's features and limits", async () => {
    const [alice] = peers("alice");
    const client = clients.make({ router: server.httpUrl, peerId: alice, appId: "app1" });
    await client.open();
    expect(client.state).toBe("open");
    expect(client.serverInfo).toMatchObject({
      revision: "1.1",
      features: { history: true, "room-query": true, "room-list": true, receipts: true },
      limits: { msgBytes: 5120, idsPerArray: 500 },
    });
  });

  it("two peers watch each other, chat, and get a receipt", async () => {
    const [alice, bob] = peers("alice", "bob");
    const a = await open(alice, { watchPeerIds: [bob] });
    const online = collect(a, "online");
    const b = await open(bob, { watchPeerIds: [alice] });
    expect(b.onlinePeerIds).toEqual([alice]);
    await until(() => online.length === 1, 3000, "alice sees bob online");
    expect(online).toEqual([[bob]]);
    const receipts = collect(a, "receipt");
    const got = messages(b, 1);
    const sent = await a.send("hello bob", bob, { receipt: true });
    const [m] = await got;
    expect(m).toMatchObject({
      id: sent.id,
      msg: "hello bob",
      fromPeerId: alice,
      timestamp: sent.t,
      offline: false,
    });
    expect(m?.toPeerIds).toEqual([bob]);
    await until(() => receipts.length === 1, 3000, "receipt");
    expect(receipts).toMatchObject([{ id: sent.id }]);
    const offline = collect(a, "offline");
    await b.close();
    await until(() => offline.length === 1, 3000, "alice sees bob offline");
    expect(a.onlinePeerIds).toEqual([]);
  });

  it("gets its offline messages at the next open, acknowledges them, and so never gets them again", async () => {
    const [alice, bob] = peers("alice", "bob");
    const a = await open(alice);
    const ids = [];
    for (const text of ["one", "two", "three"]) ids.push((await a.send(text, bob)).id);
    const b = clients.make({ url: server.wsUrl, peerId: bob, appId: "app1" });
    const got = messages(b, 3);
    await b.open();
    expect((await got).map((m) => [m.msg, m.offline])).toEqual([
      ["one", true],
      ["two", true],
      ["three", true],
    ]);
    // The acks are written right after the burst; a keepalive round trip orders after them.
    await b.getStatus([alice]);
    await b.close();
    const again = clients.make({ url: server.wsUrl, peerId: bob, appId: "app1" });
    const later = collect(again, "message");
    await again.open();
    await again.getStatus([alice]);
    expect(later).toEqual([]);
  });

  it("answers getStatus for peers it does not watch", async () => {
    const [alice, bob, carol] = peers("alice", "bob", "carol");
    const a = await open(alice);
    await open(bob);
    expect(await a.getStatus([bob, carol])).toEqual([bob]);
  });

  it("runs a group: create, invite, join, messages, members, list, kick and leave, with the events of each", async () => {
    const [alice, bob, carol] = peers("alice", "bob", "carol");
    const a = await open(alice);
    const b = await open(bob);
    const c = await open(carol);
    const invited = collect(b, "group:invited");
    const aJoined = collect(a, "group:members-joined");
    const { roomId } = await a.joinGroup();
    expect((await a.inviteToGroup(roomId, [bob, bob])).peerIds).toEqual([bob]);
    await until(() => invited.length === 1, 3000, "bob invited");
    expect(invited).toEqual([{ roomId, byPeerId: alice }]);
    await c.joinGroup(roomId);
    await until(() => aJoined.length === 1, 3000, "alice sees carol join");
    expect(aJoined).toEqual([{ roomId, byPeerId: carol, peerIds: [carol] }]);
    expect((await a.queryGroupMembers(roomId)).sort()).toEqual([alice, bob, carol].sort());
    expect(await b.listGroups()).toEqual([roomId]);
    const bGot = messages(b, 1);
    const cGot = messages(c, 1);
    const sent = await a.sendToGroup(roomId, "hi all");
    expect((await bGot)[0]).toMatchObject({ id: sent.id, roomId, fromPeerId: alice });
    expect((await cGot)[0]).toMatchObject({ id: sent.id, roomId });
    const kicked = collect(c, "group:kicked");
    const left = collect(a, "group:members-left");
    expect((await b.kickFromGroup(roomId, carol)).peerIds).toEqual([carol]);
    await until(() => kicked.length === 1, 3000, "carol kicked");
    expect(kicked).toEqual([{ roomId, byPeerId: bob }]);
    await b.leaveGroup(roomId);
    await until(() => left.length === 2, 3000, "alice sees carol and bob leave");
    expect(left).toEqual([
      { roomId, byPeerId: bob, peerIds: [carol] },
      { roomId, byPeerId: bob, peerIds: [bob] },
    ]);
    const err = await c.sendToGroup(roomId, "let me in").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 4401, reason: "INVALID_MESSAGING_TARGET" });
    expect((err as ProtocolError).requirements).toContain("ROOM-MSG-1");
  });

  it("[CONVID-CLIENT-1] computes a peer conversation's id as CONVID-PEER-1 describes, and reads its history with it", async () => {
    // The vectors of Table 3 (spec 05).
    expect(conversationId(["u1234", "u0988"])).toBe("bcd26a54e98687390b0abb4d83683d4b");
    expect(conversationId(["carol", "alice", "bob"])).toBe("b4885080cef7b663d07dd787a772979f");
    expect(conversationId(["bob", "alice", "bob"])).toBe("ed9880ad9bae7f2bd9f978cf6c279fc8");
    expect(conversationId(["alice", "Zoe"])).toBe("3536eb02a077300cdf0d684e60b36d66");
    expect(conversationId(["😀", "Ａ"])).toBe("8994209978510315589956b62ea5cec2");
    const [alice, bob] = peers("alice", "bob");
    const a = await open(alice);
    const b = await open(bob);
    const texts = Array.from({ length: 7 }, (_, n) => `m${n}`);
    for (const [n, text] of texts.entries())
      await (n % 2 ? b.send(text, alice) : a.send(text, bob));
    const history = [];
    for await (const item of a.queryLogs({ peerId: bob, pageSize: 3 })) history.push(item);
    expect(history.map((h) => h.msg)).toEqual([...texts].reverse());
    expect(new Set(history.map((h) => h.cid))).toEqual(new Set([conversationId([alice, bob])]));
    const fromBob = [];
    for await (const item of b.queryLogs({ peerId: alice, limit: 2 })) fromBob.push(item.msg);
    expect(fromBob).toEqual(["m6", "m5"]);
  });

  it("reads a group's history", async () => {
    const [alice] = peers("alice");
    const a = await open(alice);
    const { roomId } = await a.joinGroup();
    await a.sendToGroup(roomId, "g1");
    await a.sendToGroup(roomId, "g2");
    const items = [];
    for await (const item of a.queryLogs({ roomId })) items.push(item);
    expect(items.map((i) => [i.msg, i.roomId])).toEqual([
      ["g2", roomId],
      ["g1", roomId],
    ]);
  });

  it("shows a peer its own messages sent from another device as echo, not as messages", async () => {
    const [alice, bob] = peers("alice", "bob");
    const laptop = await open(alice);
    const phone = await open(alice, { echo: true });
    const echoes = collect(phone, "echo");
    const msgs = collect(phone, "message");
    const sent = await laptop.send("from the laptop", bob);
    await until(() => echoes.length === 1, 3000, "echo");
    expect(echoes).toMatchObject([{ id: sent.id, fromPeerId: alice, toPeerIds: [bob] }]);
    expect(msgs).toEqual([]);
  });

  it("validates arguments before sending: nothing invalid costs a round trip", async () => {
    const [alice] = peers("alice");
    const a = await open(alice);
    await expect(a.send("x".repeat(5121), "bob")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(a.send("hi", "a:b")).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(a.joinGroup("")).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});

describe("an app that enforces signatures", () => {
  let signed: ServerProcess;
  beforeAll(async () => {
    signed = await ServerProcess.start({ args: ["--app", `signed:${TEST_MASTER_KEY}`] });
  });
  afterAll(async () => {
    await signed.stop();
  });

  /** The app's own server: it alone holds the master key [SIG-KEY-1]. */
  const appServer = {
    auth: async (req: {
      appId: string;
      peerId: string;
      watchPeerIds: readonly string[];
      superPeer?: boolean;
    }) => sessionSignature({ ...req, superPeer: req.superPeer ? "sp" : undefined }),
    groupAuth: async (req: {
      appId: string;
      peerId: string;
      action: "join" | "invite" | "kick";
      roomId?: string;
      roomPeerIds: readonly string[];
    }) => groupSignature({ ...req, roomId: req.roomId }),
  };

  it("[SIG-SIGN-1] opens, watches and joins with the signatures its app's server computes", async () => {
    const [alice, bob] = peers("alice", "bob");
    const a = clients.make({
      url: signed.wsUrl,
      appId: "signed",
      peerId: alice,
      watchPeerIds: [bob],
      ...appServer,
    });
    await a.open();
    expect(a.serverInfo?.features.signatures).toBe(true);
    await a.watch(["carol"]);
    const { roomId } = await a.joinGroup();
    await a.inviteToGroup(roomId, [bob]);
    // Watching bob is what lets alice message him in this app (DIRECT-PERM-2).
    await expect(a.send("hi", bob)).resolves.toMatchObject({ id: expect.any(String) });
    await expect(a.send("hi", "stranger")).rejects.toMatchObject({ code: 4401 });
  });

  it("[SIG-SIGN-1] fails to open without a signature, with the server's 4102", async () => {
    const [alice] = peers("alice");
    const a = clients.make({ url: signed.wsUrl, appId: "signed", peerId: alice });
    const err = await a.open().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProtocolError);
    expect(err).toMatchObject({ code: 4102, reason: "SIGNATURE_FAILED", command: "session/open" });
    expect(a.state).toBe("closed");
  });

  it("[SIG-KEY-1] contains no master key: it refuses one and never signs itself", async () => {
    expect(() =>
      clients.make({
        url: signed.wsUrl,
        appId: "signed",
        peerId: "x",
        masterKey: TEST_MASTER_KEY,
      } as never),
    ).toThrow(InvalidArgumentError);
    const src = fileURLToPath(new URL("../src/", import.meta.url));
    const signing = new Set([
      "sign",
      "signatureMatches",
      "sessionSignedString",
      "groupSignedString",
    ]);
    for (const file of readdirSync(src)) {
      const text = readFileSync(join(src, file), "utf8");
      // The protocol package's signing functions are for the app's server only.
      for (const m of text.matchAll(
        /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*"@confab\/protocol"/g,
      )) {
        const names = (m[1] as string).split(",").map((n) => n.trim().replace(/^type\s+/, ""));
        expect(
          names.filter((n) => signing.has(n)),
          file,
        ).toEqual([]);
      }
      expect(text.match(/masterKey/g)?.length ?? 0, file).toBe(file === "client.ts" ? 2 : 0);
    }
  });
});
