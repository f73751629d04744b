/**
 * History replies bounded by bytes and by rate (spec/05-history.md 5.3 to 5.5, spec/07-limits.md
 * 7.7, decision D17): a page ends before the item that would take it over
 * LOGS_MAX_PAGE_BYTES, says so with `more`, continues with the cursor, and each connection
 * and REST address is sent at most its history rate.
 */
import { conversationId, LOGS_MAX_PAGE_BYTES, MAX_MSG_BYTES } from "@confab/protocol";
import { TEST_MASTER_KEY } from "@confab/test-support";
import { describe, expect, it } from "vitest";
import { httpStatusOf } from "../../src/adapter/http.js";
import { DEFAULT_LIMITS, type EngineConfig, type Limits } from "../../src/core/config.js";
import { HistoryBudgets, page } from "../../src/core/history.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { Store, StoredMessage } from "../../src/store/store.js";
import type { FakeConn, Frame, Harness } from "../support/harness.js";
import { restVia } from "../support/rest.js";
import { APP, appConfig, harness, logs, send } from "./support-messages.js";

/** The largest legal text that JSON escapes most: 5120 U+0001, 6 bytes each once escaped. */
const WORST_MSG = "\u0001".repeat(MAX_MSG_BYTES);
/** The conversation of alice and bob. */
const CID = conversationId(["alice", "bob"]);
/** A whole frame of history may take 1 MiB: the page and its envelope. */
const MAX_FRAME = 1_048_576;

/** Bytes of UTF-8 of `value` as JSON, as the adapter sends it. */
const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), "utf8");

/**
 * Stores `n` messages alice → bob with text `msg`, one per millisecond, the newest last;
 * returns their ids newest first (the order of history).
 */
function fill(store: Store, n: number, msg: string, appId = APP): string[] {
  const ids: string[] = [];
  for (let k = 0; k < n; k++) {
    const id = `m${String(k).padStart(5, "0")}`;
    const m: StoredMessage = {
      id,
      appId,
      cid: CID,
      fromPeerId: "alice",
      toPeerIds: ["bob"],
      roomId: undefined,
      msg,
      timestamp: 1_600_000_000_000 + k,
      receipt: false,
    };
    store.insertMessage(m);
    ids.unshift(id);
  }
  store.commit();
  return ids;
}

/** A harness whose store holds `n` messages of `msg`, and alice online on one connection. */
function stocked(n: number, msg: string, config: Partial<EngineConfig> = {}) {
  const store = new MemoryStore();
  const ids = fill(store, n, msg);
  const h = harness(config, store);
  const a = h.connect();
  a.open("alice");
  return { h, a, ids };
}

/** Limits with the given history rate and burst (0: no rate, for tests of paging). */
function rate(historyBytesPerSecond: number, historyBurstBytes: number): { limits: Limits } {
  return { limits: { ...DEFAULT_LIMITS, historyBytesPerSecond, historyBurstBytes } };
}

/** Pages through alice's conversation with bob until a page says it is the last. */
function pageAll(a: FakeConn, limit: number): { ids: string[]; pages: Frame[] } {
  const ids: string[] = [];
  const pages: Frame[] = [];
  let cursor: Frame = {};
  for (;;) {
    const reply = logs(a, "alice", CID, { limit, ...cursor, i: pages.length + 1 });
    expect(reply.cmd, JSON.stringify(reply).slice(0, 200)).toBe("logs");
    pages.push(reply);
    const items = reply.logs as Frame[];
    ids.push(...items.map((i) => String(i["msg-id"])));
    // [LOGS-CLIENT-2] A page with `more` is never the last, however short.
    if (items.length < limit && reply.more !== true) return { ids, pages };
    const last = items[items.length - 1] as Frame;
    cursor = { max_ts: last.timestamp, msgid: last["msg-id"] };
  }
}

describe("history pages bounded by bytes (5.3, D17)", () => {
  it("[LOGS-BYTES-1] ends a worst-case page of limit 1000 before the item that would take it over 1047552 bytes, in a frame within 1 MiB", () => {
    const { a, ids } = stocked(1000, WORST_MSG);
    const reply = logs(a, "alice", CID, { limit: 1000, i: 1 });
    const items = reply.logs as Frame[];
    // Today's code sent all 1000 items: 30.9 MB in one frame.
    expect(items.length).toBeGreaterThan(0);
    expect(items.length).toBeLessThan(1000);
    expect(jsonBytes(items)).toBeLessThanOrEqual(LOGS_MAX_PAGE_BYTES);
    expect(jsonBytes(reply)).toBeLessThanOrEqual(MAX_FRAME);
    // The page is the longest that fits: the next item would not have.
    const next = logs(a, "alice", CID, {
      limit: 1,
      max_ts: items[items.length - 1]?.timestamp,
      msgid: items[items.length - 1]?.["msg-id"],
    }).logs as Frame[];
    expect(next.map((i) => i["msg-id"])).toEqual([ids[items.length]]);
    expect(jsonBytes([...items, ...next])).toBeGreaterThan(LOGS_MAX_PAGE_BYTES);
    // Each item is measured escaped: 30720 bytes of data alone.
    expect(jsonBytes(items[0]?.data)).toBe(6 * MAX_MSG_BYTES + 2);
  });

  it("[LOGS-BYTES-1] bounds the REST response body the same way", () => {
    const { h } = stocked(1000, WORST_MSG);
    const r = restVia(h.engine, APP, undefined, { convid: CID, limit: "1000" });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.items.length).toBeLessThan(1000);
    expect(jsonBytes(r.items)).toBeLessThanOrEqual(LOGS_MAX_PAGE_BYTES);
  });

  it("[LOGS-BYTES-1] keeps the first item of a page whatever its size, so a page is never empty while items match", () => {
    // No legal message comes near the bound: the store is written directly.
    const store = new MemoryStore();
    fill(store, 3, "x".repeat(LOGS_MAX_PAGE_BYTES));
    const first = page(store, { appId: APP, cid: CID, limit: 10 });
    expect(first.items).toHaveLength(1);
    expect(first.more).toBe(true);
    expect(first.bytes).toBe(jsonBytes(first.items));
  });

  it("[LOGS-PAGE-2] [LOGS-CURSOR-1] continues pages that the byte bound ended with the cursor: every item once, newest first", () => {
    const { a, ids } = stocked(1000, WORST_MSG, rate(0, 0));
    const all = pageAll(a, 1000);
    expect(all.ids).toEqual(ids);
    expect(all.pages.length).toBeGreaterThan(20);
    for (const p of all.pages) expect(jsonBytes(p)).toBeLessThanOrEqual(MAX_FRAME);
  });

  it("[LOGS-PAGE-2] returns the first limit items when they fit, as before the byte bound", () => {
    // 100 items of 5120 ASCII bytes: some 530 KB, under the bound.
    const { a, ids } = stocked(150, "x".repeat(MAX_MSG_BYTES), rate(0, 0));
    const items = logs(a, "alice", CID, { limit: 100 }).logs as Frame[];
    expect(items.map((i) => i["msg-id"])).toEqual(ids.slice(0, 100));
    // 1000 such items (5.3 MB) do not fit, and are paged.
    const big = stocked(1000, "x".repeat(MAX_MSG_BYTES), rate(0, 0));
    const all = pageAll(big.a, 1000);
    expect(all.ids).toEqual(big.ids);
    expect(all.pages.length).toBe(6);
  });
});

describe("the end of history: more (5.3, 5.5, D17)", () => {
  it("[LOGS-MORE-1] sends more: true on a page that the byte bound ended, and on no other page", () => {
    const { a } = stocked(1000, WORST_MSG, rate(0, 0));
    const all = pageAll(a, 1000);
    const last = all.pages[all.pages.length - 1] as Frame;
    for (const p of all.pages.slice(0, -1)) expect(p.more).toBe(true);
    // The last page ended because nothing older matched: no `more` member at all.
    expect(Object.hasOwn(last, "more")).toBe(false);
    expect((last.logs as Frame[]).length).toBeLessThan(1000);
    // A page of exactly `limit` items that fit has no `more` either, although older items
    // match: as before, a full page is followed by a request for the next.
    const full = logs(a, "alice", CID, { limit: 10 });
    expect(full.logs as Frame[]).toHaveLength(10);
    expect(Object.hasOwn(full, "more")).toBe(false);
  });

  it("[LOGS-MORE-1] [VERSION-UNKNOWN-2] leaves every page under the bound the frame a legacy client always got", () => {
    const { a } = stocked(30, "hello");
    // A legacy command: no `i`.
    a.cmd("alice", "logs", undefined, { cid: CID, limit: 20 });
    const reply = a.expectOne("logs/result");
    expect(Object.keys(reply).sort()).toEqual(["cmd", "logs", "op", "peerId"]);
    expect(reply.logs as Frame[]).toHaveLength(20);
  });

  it("[REST-MORE-1] says more for a REST page that the byte bound ended, and not otherwise", () => {
    const { h } = stocked(1000, WORST_MSG);
    const cut = restVia(h.engine, APP, undefined, { convid: CID, limit: "1000" });
    expect(cut).toMatchObject({ ok: true, more: true });
    const fits = restVia(h.engine, APP, undefined, { convid: CID, limit: "5" });
    expect(fits.ok && fits.items.length).toBe(5);
    expect(Object.hasOwn(fits, "more")).toBe(false);
    const oldest = restVia(h.engine, APP, undefined, {
      convid: CID,
      limit: "1000",
      max_ts: String(1_600_000_000_000 + 10),
    });
    expect(oldest.ok && oldest.items.length).toBe(10);
    expect(Object.hasOwn(oldest, "more")).toBe(false);
  });
});

describe("the history rate of a connection (7.7, D17)", () => {
  /** Sends `n` worst-case `logs` at the same instant; returns their replies. */
  function burst(a: FakeConn, n: number): Frame[] {
    const replies: Frame[] = [];
    for (let k = 0; k < n; k++) replies.push(logs(a, "alice", CID, { limit: 1000, i: k }));
    return replies;
  }

  it("[LIMIT-LOGS-RATE-1] [LIMIT-LOGS-RATE-2] answers 4120 once a connection has taken its burst, and serves it again as the bound refills", () => {
    const { h, a } = stocked(1000, WORST_MSG);
    const replies = burst(a, 40);
    const served = replies.filter((r) => r.cmd === "logs");
    // 2 MiB of burst: two full pages, and a third begun while the bucket was not empty.
    expect(served).toHaveLength(3);
    expect(replies.slice(0, 3)).toEqual(served);
    for (const r of replies.slice(3)) {
      expect(r).toMatchObject({ cmd: "error", code: 4120, peerId: "alice" });
      expect(String(r.detail)).toMatch(/history rate.*retry in \d+ s/);
    }
    // All that 40 queries cost: three pages and 37 small error frames.
    const bytes = replies.reduce((sum, r) => sum + jsonBytes(r), 0);
    expect(bytes).toBeLessThan(3 * MAX_FRAME + 37 * 300);
    // The connection goes on: a keepalive, a message.
    a.send({});
    expect(a.expectOne("keepalive")).toEqual({});
    send(a, "alice", ["bob"], { i: 99 });
    expect(a.expectOne("ack")).toMatchObject({ i: 99 });
    // One second refills one page's worth.
    h.now += 1000;
    expect(burst(a, 2).map((r) => r.cmd)).toEqual(["logs", "error"]);
  });

  it("[LIMIT-LOGS-RATE-2] [ERROR-NOEFFECT-1] takes nothing for a refused query, and checks authorisation (4401) first", () => {
    const { h, a } = stocked(1000, WORST_MSG, rate(100, 1000));
    // One page takes the connection into debt, the next is refused.
    expect(logs(a, "alice", CID, { limit: 1 }).cmd).toBe("logs");
    expect(logs(a, "alice", CID, { limit: 1 })).toMatchObject({ code: 4120 });
    // A conversation alice may not read: 4401, whatever the rate.
    expect(logs(a, "alice", conversationId(["carol", "dave"]))).toMatchObject({ code: 4401 });
    // The item took some 31 KB at 100 bytes a second: refused until the debt is paid (some
    // 300 s), however often it is asked for meanwhile.
    for (let k = 0; k < 30; k++) {
      h.now += 1000;
      expect(logs(a, "alice", CID, { limit: 1 }), `after ${k + 1} s`).toMatchObject({
        code: 4120,
      });
    }
    h.now += 300_000;
    expect(logs(a, "alice", CID, { limit: 1 }).cmd).toBe("logs");
  });

  it("[LIMIT-LOGS-RATE-1] gives each connection its own bound", () => {
    const { h, a } = stocked(1000, WORST_MSG);
    burst(a, 5);
    const b = h.connect();
    b.open("alice");
    expect(logs(b, "alice", CID, { limit: 1000 }).cmd).toBe("logs");
    expect(logs(a, "alice", CID, { limit: 1000 })).toMatchObject({ code: 4120 });
  });

  it("[LIMIT-LOGS-RATE-1] applies no bound with a rate of 0", () => {
    const { a } = stocked(1000, WORST_MSG, rate(0, 0));
    expect(burst(a, 10).every((r) => r.cmd === "logs")).toBe(true);
  });
});

describe("the history rate of REST clients (5.5, 7.7, D17)", () => {
  /** A REST request of `address` at `now` for the whole worst-case conversation. */
  function restAt(h: Harness, now: number, remoteAddress: string) {
    const params = { convid: CID, limit: 1000 };
    const r = h.engine.restLogs(APP, TEST_MASTER_KEY, params, { now, remoteAddress });
    return r;
  }

  it("[REST-RATE-1] answers 429 with code 4120 and Retry-After past the bound of one address, and serves other addresses", () => {
    const { h } = stocked(1000, WORST_MSG, appConfig(false));
    const t = h.now;
    const answers = Array.from({ length: 10 }, () => restAt(h, t, "203.0.113.7"));
    expect(answers.filter((r) => r.ok)).toHaveLength(3);
    const refused = answers[3];
    expect(refused?.ok).toBe(false);
    if (refused === undefined || refused.ok) return;
    expect(refused.error.code).toBe(4120);
    expect(httpStatusOf(refused.error)).toBe(429);
    expect(refused.retryAfterS).toBe(1);
    expect(refused.detail).toMatch(/history rate/);
    // Another address has its own bound.
    expect(restAt(h, t, "198.51.100.1").ok).toBe(true);
    // A second later the first address is served again.
    expect(restAt(h, t + 1000, "203.0.113.7").ok).toBe(true);
  });

  it("[REST-RATE-1] checks the app, the key and the query before the rate, and takes nothing for them", () => {
    const { h } = stocked(1000, WORST_MSG, appConfig(false, rate(1000, 1000)));
    const t = h.now;
    const request = { now: t, remoteAddress: "203.0.113.7" };
    for (let k = 0; k < 20; k++) {
      expect(h.engine.restLogs("nope", undefined, {}, request)).toMatchObject({ ok: false });
      expect(h.engine.restLogs(APP, "wrong", {}, request)).toMatchObject({ ok: false });
      expect(h.engine.restLogs(APP, TEST_MASTER_KEY, { limit: 0 }, request)).toMatchObject({
        ok: false,
      });
    }
    expect(h.engine.restLogs(APP, TEST_MASTER_KEY, { convid: CID }, request).ok).toBe(true);
    const refused = h.engine.restLogs(APP, TEST_MASTER_KEY, { convid: CID }, request);
    expect(refused).toMatchObject({ ok: false, error: { code: 4120 } });
  });

  it("[LIMIT-LOGS-RATE-1] forgets the buckets of addresses that are full again, so their number stays bounded", () => {
    const budgets = new HistoryBudgets();
    let now = 0;
    for (let k = 0; k < 20_000; k++) {
      budgets.of(`addr-${k}`, DEFAULT_LIMITS, now).charge(10_000);
      now += 10; // 100 new addresses a second, each refilled within 10 ms
    }
    expect(budgets.size).toBeLessThanOrEqual(2048);
  });
});
