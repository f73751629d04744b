/**
 * History replies on a real socket and over real HTTP (spec/05-history.md 5.3 to 5.5,
 * spec/07-limits.md 7.7, decision D17): the attack shape of issue 8 (1000 messages of 5120
 * U+0001, `limit: 1000`) arrives as frames and REST bodies of at most 1 MiB, the pages
 * continue with the cursor, a burst of such queries costs the server three pages while an
 * unrelated client keeps its round trip, and REST says `X-Confab-More` and 429.
 */
import {
  conversationId,
  httpValidators,
  LOGS_MAX_PAGE_BYTES,
  MAX_MSG_BYTES,
} from "@confab/protocol";
import { connect, disconnect, type WireClient } from "@confab/test-support";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, type Limits } from "../../src/core/config.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import { httpRequest } from "./helpers.js";

/** The conversation of alice and bob. */
const CID = conversationId(["alice", "bob"]);
/** A whole frame of history may take 1 MiB [LOGS-BYTES-1]. */
const MAX_FRAME = 1_048_576;

let server: RunningServer | undefined;
const clients: WireClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await disconnect(c);
  await server?.close();
  server = undefined;
});

/** A server whose history holds 1000 worst-case messages alice → bob. */
async function worstCaseServer(limits: Partial<Limits> = {}): Promise<RunningServer> {
  const store = new MemoryStore();
  const msg = "\u0001".repeat(MAX_MSG_BYTES);
  for (let k = 0; k < 1000; k++) {
    store.insertMessage({
      id: `m${String(k).padStart(4, "0")}`,
      appId: "app1",
      cid: CID,
      fromPeerId: "alice",
      toPeerIds: ["bob"],
      roomId: undefined,
      msg,
      timestamp: 1_600_000_000_000 + k,
      receipt: false,
    });
  }
  store.commit();
  server = await startServer({
    db: store,
    devMode: true,
    engine: { limits: { ...DEFAULT_LIMITS, ...limits } },
  });
  return server;
}

/** A client with alice's session open, recording the size in bytes of every frame. */
async function alice(s: RunningServer): Promise<{ c: WireClient; sizes: number[] }> {
  const c = await connect(s.wsUrl);
  clients.push(c);
  const sizes: number[] = [];
  c.ws.on("message", (data: Buffer) => sizes.push(data.length));
  c.send({ cmd: "session", op: "open", appId: "app1", peerId: "alice", sessionPeerIds: [], i: 1 });
  expect(await c.next()).toMatchObject({ cmd: "session", op: "opened" });
  sizes.length = 0;
  return { c, sizes };
}

type Reply = { cmd: string; logs?: { timestamp: number; "msg-id": string }[]; more?: boolean };

describe("history frames on the socket (5.3, 7.7, D17)", () => {
  it("[LOGS-BYTES-1] [LOGS-MORE-1] [LOGS-CURSOR-1] delivers a worst-case history of limit 1000 as frames of at most 1 MiB that the cursor continues", async () => {
    const s = await worstCaseServer({ historyBytesPerSecond: 0 }); // paging, not the rate
    const { c, sizes } = await alice(s);
    const got: string[] = [];
    let cursor = {};
    for (let n = 2; ; n++) {
      c.send({
        cmd: "logs",
        appId: "app1",
        peerId: "alice",
        cid: CID,
        limit: 1000,
        i: n,
        ...cursor,
      });
      const reply = (await c.next()) as Reply;
      const items = reply.logs ?? [];
      got.push(...items.map((i) => i["msg-id"]));
      if (items.length < 1000 && reply.more !== true) break;
      const last = items[items.length - 1];
      cursor = { max_ts: last?.timestamp, msgid: last?.["msg-id"] };
    }
    expect(got).toHaveLength(1000);
    expect(new Set(got).size).toBe(1000);
    // Before the bound: one frame of 30.9 MB.
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_FRAME);
    expect(Math.max(...sizes)).toBeGreaterThan(LOGS_MAX_PAGE_BYTES - 40_000);
  });

  it("[LIMIT-LOGS-RATE-2] answers 40 worst-case queries at once with three pages and errors 4120, and another client's keepalive comes back meanwhile", async () => {
    const s = await worstCaseServer();
    const { c, sizes } = await alice(s);
    const probe = await connect(s.wsUrl);
    clients.push(probe);
    const frame = JSON.stringify({
      cmd: "logs",
      appId: "app1",
      peerId: "alice",
      cid: CID,
      limit: 1000,
      i: 2,
    });
    const start = performance.now();
    for (let k = 0; k < 40; k++) c.ws.send(frame);
    const sent = performance.now();
    probe.ws.send("{}");
    await probe.next();
    const keepaliveMs = performance.now() - sent;
    const replies: Reply[] = [];
    for (let k = 0; k < 40; k++) replies.push((await c.next()) as Reply);
    const elapsedS = (performance.now() - start) / 1000;
    // Three pages from the burst, and one more for each second the server took to read the
    // 40 queries (the bound refills at one page a second): on a loaded machine, a fourth.
    const pages = replies.filter((r) => r.cmd === "logs").length;
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(pages).toBeLessThanOrEqual(3 + Math.ceil(elapsedS));
    expect(replies.filter((r) => r.cmd === "error")).toHaveLength(40 - pages);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_FRAME);
    expect(sizes.reduce((a, b) => a + b, 0)).toBeLessThan(pages * MAX_FRAME + 40 * 300);
    // Before the bounds the 40 replies were 1.2 GB, and the keepalive waited behind them
    // (18 s measured). Generous, for loaded machines: three pages take some 20 ms to build.
    expect(keepaliveMs).toBeLessThan(5000);
    // The connection is alive and answers.
    c.ws.send("{}");
    expect(await c.next()).toEqual({});
  });
});

describe("REST history over HTTP (5.5, 7.7, D17)", () => {
  /** GET of the whole worst-case conversation, without credentials (development mode). */
  const logsUrl = (s: RunningServer, query: string) =>
    `${s.url}/1.1/rtm/messages/logs?appId=app1&convid=${CID}&${query}`;

  function expectValid(schema: string, body: unknown): void {
    const result = httpValidators[schema]?.(body);
    expect(result?.ok ? [] : result?.errors).toEqual([]);
  }

  it("[LOGS-BYTES-1] [REST-MORE-1] answers a worst-case page as a plain array of at most 1047552 bytes with X-Confab-More: true", async () => {
    const s = await worstCaseServer();
    const res = await httpRequest(logsUrl(s, "limit=1000"));
    expect(res.status).toBe(200);
    // Before the bound: a body of 30.9 MB, to anyone who can reach the port.
    expect(Buffer.byteLength(res.body)).toBeLessThanOrEqual(LOGS_MAX_PAGE_BYTES);
    const items = JSON.parse(res.body) as unknown[];
    expect(Array.isArray(items)).toBe(true);
    expect(items.length).toBeLessThan(1000);
    expectValid("logs-response", items);
    expect(res.headers["x-confab-more"]).toBe("true");
    // A web page can read it.
    expect(String(res.headers["access-control-expose-headers"])).toContain("X-Confab-More");
  });

  it("[REST-MORE-1] sends no X-Confab-More with a page that the byte bound did not end", async () => {
    const s = await worstCaseServer();
    for (const query of ["limit=5", "limit=1000&max_ts=1600000000010"]) {
      const res = await httpRequest(logsUrl(s, query));
      expect(res.status, query).toBe(200);
      expect(res.headers["x-confab-more"], query).toBeUndefined();
    }
  });

  it("[REST-RATE-1] answers 429 with Retry-After and code 4120 past the history rate of the address", async () => {
    const s = await worstCaseServer({ historyBytesPerSecond: 1000, historyBurstBytes: 1000 });
    expect((await httpRequest(logsUrl(s, "limit=1"))).status).toBe(200);
    const res = await httpRequest(logsUrl(s, "limit=1"));
    expect(res.status).toBe(429);
    // The item took some 31 KB at 1000 bytes a second.
    expect(Number(res.headers["retry-after"])).toBeGreaterThanOrEqual(29);
    expect(String(res.headers["access-control-expose-headers"])).toContain("Retry-After");
    const body = JSON.parse(res.body) as unknown;
    expect(body).toMatchObject({ code: 4120 });
    expectValid("error", body);
  });
});
