// Arguments the protocol forbids fail locally, with InvalidArgumentError, before anything is
// sent; the in-memory socket shows that no frame left the client. Also the memory of
// handed message ids (OFFLINE-DEDUP-2).
import {
  type ClientOptions,
  type ConfabClient,
  createClient,
  InvalidArgumentError,
  MemorySeenIds,
  type SeenIdStore,
} from "@confab/client";
import { afterEach, describe, expect, it } from "vitest";
import { FakeNet, type Json } from "./support/fake-socket.js";

let net: FakeNet;
const made: ConfabClient[] = [];

afterEach(async () => {
  await Promise.all(made.splice(0).map((c) => c.close()));
});

async function opened(options: Partial<ClientOptions> = {}): Promise<ConfabClient> {
  net = new FakeNet();
  const client = createClient({
    url: "ws://fake.test/",
    appId: "app1",
    peerId: "alice",
    WebSocket: net.WebSocket,
    network: null,
    ...options,
  } as ClientOptions);
  made.push(client);
  await client.open();
  return client;
}

/** The commands sent after the session opened. */
const after = () => net.last.commands.slice(1);

async function refused(p: Promise<unknown>, argument: string | RegExp): Promise<void> {
  const err = await p.catch((e: unknown) => e);
  expect(err).toBeInstanceOf(InvalidArgumentError);
  expect((err as InvalidArgumentError).argument).toMatch(argument);
}

const wideId = (n: number) => `${"😀".repeat(60)}${String(n).padStart(4, "0")}`;

describe("arguments checked before sending", () => {
  it("[LIMIT-ID-3] never sends an invalid peer id, group id or nonce", async () => {
    expect(() =>
      createClient({
        url: "ws://x/",
        appId: "app1",
        peerId: "a:b",
        WebSocket: new FakeNet().WebSocket,
      }),
    ).toThrow(InvalidArgumentError);
    expect(() =>
      createClient({
        url: "ws://x/",
        appId: "app1",
        peerId: "x".repeat(65),
        WebSocket: new FakeNet().WebSocket,
      }),
    ).toThrow(/options.peerId/);
    expect(() =>
      createClient({
        url: "ws://x/",
        appId: "app1",
        peerId: "ok",
        watchPeerIds: ["tab\there"],
        WebSocket: new FakeNet().WebSocket,
      }),
    ).toThrow(/watchPeerIds\[0\]/);
    const client = await opened();
    await refused(client.send("hi", ""), /to\[0\]/);
    await refused(client.send("hi", ["bob", "\u0000"]), /to\[1\]/);
    await refused(client.send("hi", "\ud800"), /to\[0\]/);
    await refused(client.watch(["bob", "a:b"]), /ids\[1\]/);
    await refused(client.joinGroup("x".repeat(65)), "roomId");
    await refused(client.sendToGroup("g:1", "hi"), "roomId");
    await refused(client.inviteToGroup("g1", ["ok", "\u007f"]), /ids\[1\]/);
    await refused(client.queryLogs({ peerId: "a:b" }).next(), "peerId");
    expect(after()).toEqual([]);
    // 64 code points is valid, even at 4 bytes each.
    await client.send("hi", "😀".repeat(64));
    expect(after()).toHaveLength(1);
  });

  it("[LIMIT-MSG-3] never sends a msg longer than 5120 bytes of UTF-8", async () => {
    const client = await opened();
    await client.send("é".repeat(2560), "bob"); // 5120 bytes
    await client.send("", "bob"); // the empty text is a message too
    await refused(client.send(`${"é".repeat(2560)}a`, "bob"), "msg");
    await refused(client.send("😀".repeat(1281), "bob"), "msg");
    await refused(client.sendToGroup("g1", "x".repeat(5121)), "msg");
    await refused(client.send("lone \ud800 surrogate", "bob"), "msg");
    expect(after().map((f) => (f.msg as string).length)).toEqual([2560, 0]);
  });

  it("[LIMIT-ARRAY-2] never sends an id array of more than 500 items, chunking where the command allows", async () => {
    const client = await opened();
    const ids = (n: number) => Array.from({ length: n }, (_, k) => `p${k}`);
    await refused(client.send("hi", ids(501)), "to");
    await refused(client.inviteToGroup("g1", ids(501)), "ids");
    await refused(client.kickFromGroup("g1", ids(501)), "ids");
    expect(after()).toEqual([]);
    await client.send("hi", [...ids(500), "p0"]); // duplicates collapse before counting
    await client.getStatus(ids(1200));
    await client.watch(ids(120));
    await client.unwatch(ids(120));
    for (const f of after()) {
      for (const key of ["toPeerIds", "sessionPeerIds"]) {
        if (key in f) expect((f[key] as string[]).length).toBeLessThanOrEqual(500);
      }
    }
    expect(
      after()
        .filter((f) => f.op === "query")
        .map((f) => (f.sessionPeerIds as string[]).length),
    ).toEqual([500, 500, 200]);
  });

  it("[FRAME-SIZE-3] never sends a text frame longer than 65536 bytes", async () => {
    const client = await opened();
    const wide = Array.from({ length: 300 }, (_, n) => wideId(n)); // 300 ids of 244 bytes
    await refused(client.send("hi", wide), "frame");
    await refused(client.inviteToGroup("g1", wide), "frame");
    expect(after()).toEqual([]);
    // A watch list of such ids goes out in chunks of 50, each well under the limit.
    await client.watch(wide);
    for (const text of net.last.sent)
      expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(65_536);
    expect(after().filter((f: Json) => f.op === "add")).toHaveLength(6);
  });

  it("checks options at createClient", () => {
    const WebSocket = new FakeNet().WebSocket;
    const base = { appId: "app1", peerId: "alice", WebSocket };
    expect(() => createClient({ ...base } as ClientOptions)).toThrow(
      /exactly one of `url` and `router`/,
    );
    expect(() => createClient({ ...base, url: "http://x/" })).toThrow(/ws:\/\//);
    expect(() => createClient({ ...base, url: "ws://x/", appId: "my app" })).toThrow(/appId/);
    expect(() => createClient({ ...base, url: "ws://x/", commandTimeoutMs: -1 })).toThrow(
      /commandTimeoutMs/,
    );
    expect(() => createClient({ ...base, url: "ws://x/", offlineQueue: { max: 0 } })).toThrow(
      /offlineQueue/,
    );
  });
});

describe("remembering handed ids", () => {
  it("[OFFLINE-DEDUP-2] remembers the ids of handled messages for at least 7 days", () => {
    let now = 0;
    const seen = new MemorySeenIds({ now: () => now });
    seen.add("m1", now);
    now = 7 * 24 * 3600 * 1000 - 1;
    expect(seen.has("m1")).toBe(true);
    now += 1;
    expect(seen.has("m1")).toBe(false); // after 7 days the server no longer delivers it either
  });

  it("[OFFLINE-DEDUP-2] does not hand a message redelivered 6 days later, and keeps ids across restarts with a store", async () => {
    let now = 1_000_000;
    const persisted = new Map<string, number>();
    const store: SeenIdStore = {
      has: (id) => persisted.has(id),
      add: (id, t) => void persisted.set(id, t),
      delete: (id) => void persisted.delete(id),
    };
    const deliver = (id: string) =>
      net.last.push({
        cmd: "direct",
        peerId: "alice",
        id,
        msg: "x",
        fromPeerId: "bob",
        timestamp: 1,
      });
    const first = await opened({ now: () => now });
    const got: string[] = [];
    first.on("message", (m) => void got.push(m.id));
    deliver("m1");
    now += 6 * 24 * 3600 * 1000;
    deliver("m1");
    expect(got).toEqual(["m1"]);
    // An app restarted with its own store does not show the message again either.
    const second = await opened({ seenIds: store });
    second.on("message", (m) => void got.push(`2:${m.id}`));
    deliver("m2");
    await second.close();
    const third = await opened({ seenIds: store });
    third.on("message", (m) => void got.push(`3:${m.id}`));
    deliver("m2");
    deliver("m3");
    expect(got).toEqual(["m1", "2:m2", "3:m3"]);
  });

  it("bounds the in-memory store, forgetting the oldest ids first", () => {
    const seen = new MemorySeenIds({ max: 3 });
    for (const id of ["a", "b", "c", "d"]) seen.add(id, Date.now());
    expect(["a", "b", "c", "d"].map((id) => seen.has(id))).toEqual([false, true, true, true]);
    expect(seen.size).toBe(3);
  });
});
