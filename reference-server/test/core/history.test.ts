/**
 * History: conversation ids, items, order and paging, the socket `logs` command and the REST
 * endpoint through `Engine.restLogs` (spec/05-history.md, decision D9).
 */
import { conversationId } from "@confab/protocol";
import { TEST_MASTER_KEY } from "@confab/test-support";
import { describe, expect, it } from "vitest";
import { httpStatusOf, logsQueryOf, restAppIdOf } from "../../src/adapter/http.js";
import { type Frame, type Harness, nameOf } from "../support/harness.js";
import { restVia } from "../support/rest.js";
import {
  APP,
  allLogs,
  appConfig,
  byTimeThenId,
  createRoom,
  expectOnlyError,
  expectQuiet,
  harness,
  joinRoom,
  logItems,
  logs,
  RecordingStore,
  rest,
  restItems,
  send,
  sendOk,
  sendRoomOk,
} from "./support-messages.js";

/** A harness with alice, bob and carol online, each on its own connection. */
function trio(config = {}) {
  const h = harness(config);
  const a = h.connect();
  const b = h.connect();
  const c = h.connect();
  a.open("alice");
  b.open("bob");
  c.open("carol");
  return { h, a, b, c };
}

/** Newest first by (timestamp, msg-id), ids compared as byte strings (ASCII). */
const newestFirst = (x: Frame, y: Frame) => -byTimeThenId(x, y);

describe("conversation ids (5.1)", () => {
  // Table 3 of spec 05: the first participant sends to the others.
  const vectors: [string, string[], string][] = [
    ["u1234", ["u0988"], "bcd26a54e98687390b0abb4d83683d4b"],
    ["carol", ["alice", "bob"], "b4885080cef7b663d07dd787a772979f"],
    ["bob", ["alice", "bob"], "ed9880ad9bae7f2bd9f978cf6c279fc8"],
    ["alice", ["Zoe"], "3536eb02a077300cdf0d684e60b36d66"],
    ["😀", ["Ａ"], "8994209978510315589956b62ea5cec2"],
  ];

  it("[CONVID-PEER-1] gives a peer message the md5 of its sorted distinct participants (Table 3)", () => {
    const h = harness();
    for (const [from, to, cid] of vectors) {
      for (const [sender, recipients] of [
        [from, to],
        // The same conversation whichever participant sends, and however it lists them.
        [to[0] as string, [...to.slice(1), from, to[0] as string].reverse()],
      ] as const) {
        const c = h.connect();
        c.open(sender);
        const ack = sendOk(c, sender, [...recipients]);
        const item = restItems(h, { convid: cid }).find((i) => i["msg-id"] === ack.uid);
        expect(item, `${sender} → ${recipients.join(",")}`).toMatchObject({ "conv-id": cid });
        c.disconnect();
      }
    }
  });

  it("[CONVID-ROOM-1] gives a group message the group's id as its conversation id", () => {
    const { h, a } = trio();
    const room = createRoom(a, "alice");
    const g = sendRoomOk(a, "alice", room);
    expect(restItems(h, { convid: room })).toEqual([
      expect.objectContaining({ "msg-id": g.uid, "conv-id": room }),
    ]);
  });
});

describe("what history holds (5.2)", () => {
  it("[LOGS-STORE-1] returns a message in history from the moment its ack is sent", () => {
    const { h, a, b } = trio();
    const m = sendOk(a, "alice", ["bob"]);
    const cid = String(restItems(h)[0]?.["conv-id"]);
    expect(logItems(b, "bob", cid).map((i) => i["msg-id"])).toEqual([m.uid]);
    expect(restItems(h, { convid: cid }).map((i) => i["msg-id"])).toEqual([m.uid]);
  });

  it("[LOGS-ITEM-1] sets timestamp, msg-id, from, data and conv-id of every item", () => {
    const { h, a } = trio();
    h.now += 99;
    const m = sendOk(a, "alice", ["bob"], { msg: "hello ✓" });
    const [item] = restItems(h);
    expect(item).toEqual({
      timestamp: m.t,
      "conv-id": conversationId(["alice", "bob"]),
      data: "hello ✓",
      from: "alice",
      "msg-id": m.uid,
      "is-conv": false,
      "is-room": false,
      to: "bob",
    });
    // The empty text is a message too.
    sendOk(a, "alice", ["bob"], { msg: "" });
    expect(restItems(h)[0]?.data).toBe("");
  });

  it("[LOGS-ITEM-2] [LOGS-ITEM-3] [LOGS-ITEM-4] sets is-room, is-conv and to for one recipient, several, and a group", () => {
    const { h, a } = trio();
    const room = createRoom(a, "alice");
    const one = sendOk(a, "alice", ["bob"]).uid;
    const oneWithSelf = sendOk(a, "alice", ["alice", "bob", "bob"]).uid;
    const many = sendOk(a, "alice", ["bob", "carol"]).uid;
    const group = sendRoomOk(a, "alice", room).uid;
    const byId = new Map(restItems(h).map((i) => [i["msg-id"], i]));
    const manyCid = byId.get(many)?.["conv-id"];
    const expected: [string, boolean, boolean, unknown][] = [
      [one, false, false, "bob"],
      [oneWithSelf, false, false, "bob"],
      [many, false, true, manyCid],
      [group, true, false, room],
    ];
    for (const [id, isRoom, isConv, to] of expected) {
      expect(byId.get(id), id).toMatchObject({ "is-room": isRoom, "is-conv": isConv, to });
    }
    expect(manyCid).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("order and paging (5.3)", () => {
  /** 25 messages alice → bob, many sharing a millisecond; returns them newest first. */
  function conversation() {
    const t = trio();
    const sent: Frame[] = [];
    for (let n = 0; n < 25; n++) {
      if (n % 6 === 0) t.h.now += 2;
      const ack = sendOk(t.a, "alice", ["bob"]);
      sent.push({ id: ack.uid, timestamp: ack.t });
    }
    t.b.drain();
    const cid = String(restItems(t.h)[0]?.["conv-id"]);
    return { ...t, cid, newest: [...sent].sort(newestFirst) };
  }

  it("[LOGS-ORDER-1] returns items by descending timestamp, then descending msg-id as bytes", () => {
    const { h, b, cid, newest } = conversation();
    const items = logItems(b, "bob", cid);
    expect(items.map((i) => i["msg-id"])).toEqual(newest.map((m) => m.id));
    expect([...items].sort(newestFirst)).toEqual(items);
    expect(restItems(h).map((i) => i["msg-id"])).toEqual(newest.map((m) => m.id));
  });

  it("[LOGS-CURSOR-1] returns only items before (max_ts, msgid), so pages neither skip nor repeat", () => {
    const { h, b, cid, newest } = conversation();
    const all = newest.map((m) => m.id);
    for (const limit of [1, 2, 3, 5, 7, 25, 26]) {
      expect(
        allLogs(b, "bob", cid, limit).map((i) => i["msg-id"]),
        `limit ${limit}`,
      ).toEqual(all);
    }
    // A cursor in a run of equal timestamps splits it by id.
    const pivot = newest[8] as Frame;
    const before = logItems(b, "bob", cid, { max_ts: pivot.timestamp, msgid: pivot.id });
    expect(before.map((i) => i["msg-id"])).toEqual(all.slice(9));
    // An id that is not stored splits it by comparison, just the same.
    const between = logItems(b, "bob", cid, { max_ts: pivot.timestamp, msgid: `${pivot.id}~` });
    expect(between.map((i) => i["msg-id"])).toEqual(all.slice(8));
    // Over REST with the same cursor.
    const q = { max_ts: String(pivot.timestamp), msgid: String(pivot.id) };
    expect(restItems(h, q).map((i) => i["msg-id"])).toEqual(all.slice(9));
  });

  it("[LOGS-CURSOR-2] returns only items older than max_ts when the query has no msgid", () => {
    const { h, b, cid, newest } = conversation();
    const pivot = newest[8] as Frame;
    const older = newest.filter((m) => Number(m.timestamp) < Number(pivot.timestamp));
    expect(older.length).toBeLessThan(newest.length - 9); // the run of pivot's ms is skipped
    const items = logItems(b, "bob", cid, { max_ts: pivot.timestamp });
    expect(items.map((i) => i["msg-id"])).toEqual(older.map((m) => m.id));
    const q = { max_ts: String(pivot.timestamp) };
    expect(restItems(h, q).map((i) => i["msg-id"])).toEqual(older.map((m) => m.id));
    expect(logItems(b, "bob", cid, { max_ts: 0 })).toEqual([]);
  });

  it("[LOGS-CURSOR-3] rejects msgid without max_ts (4114 on the socket, 400 over REST)", () => {
    const { h, b, cid } = conversation();
    const reply = logs(b, "bob", cid, { msgid: "abc", i: 4 });
    expect(reply).toMatchObject({ cmd: "error", code: 4114, i: 4, peerId: "bob" });
    expect(String(reply.detail)).toMatch(/max_ts/);
    expect(rest(h, { msgid: "abc" })).toMatchObject({ ok: false, status: 400, code: 4114 });
    expectQuiet(h);
  });

  it("[LOGS-PAGE-2] returns the first limit matching items, or all when fewer match", () => {
    const { h, b, cid, newest } = conversation();
    const ids = newest.map((m) => m.id);
    expect(logItems(b, "bob", cid, { limit: 10 }).map((i) => i["msg-id"])).toEqual(
      ids.slice(0, 10),
    );
    expect(logItems(b, "bob", cid, { limit: 1000 }).map((i) => i["msg-id"])).toEqual(ids);
    const last = newest.at(-1) as Frame;
    expect(logItems(b, "bob", cid, { max_ts: last.timestamp, msgid: last.id })).toEqual([]);
    expect(restItems(h, { limit: "3" }).map((i) => i["msg-id"])).toEqual(ids.slice(0, 3));
  });

  it("[LOGS-LIMIT-1] uses a limit of 100 when the query has none", () => {
    const { h, a, b } = trio();
    for (let n = 0; n < 120; n++) sendOk(a, "alice", ["bob"]);
    const cid = String(restItems(h)[0]?.["conv-id"]);
    expect(logItems(b, "bob", cid)).toHaveLength(100);
    expect(restItems(h)).toHaveLength(100);
    expect(restItems(h, { convid: cid })).toHaveLength(100);
  });

  it("[LOGS-LIMIT-2] rejects a limit that is not an integer from 1 to 1000", () => {
    const { h, b, cid } = conversation();
    for (const limit of [0, -1, 1001, 1.5, "10", null]) {
      expect(logs(b, "bob", cid, { limit, i: 1 }), String(limit)).toMatchObject({
        cmd: "error",
        code: 4114,
        i: 1,
      });
    }
    for (const limit of ["0", "-1", "1001", "1.5", "ten", "", "1e2"]) {
      expect(rest(h, { limit }), limit).toMatchObject({ ok: false, status: 400, code: 4114 });
    }
    expect(logItems(b, "bob", cid, { limit: 1 })).toHaveLength(1);
    expect(logItems(b, "bob", cid, { limit: 1000 })).toHaveLength(25);
    expect(restItems(h, { limit: "1000" })).toHaveLength(25);
    expect(restItems(h, { limit: "1" })).toHaveLength(1);
  });
});

describe("the socket logs command (5.4)", () => {
  it("[LOGS-SOCKET-1] answers an allowed logs with logs/result holding the page", () => {
    const { h, a, b } = trio();
    const m = sendOk(a, "alice", ["bob"]);
    b.drain();
    const cid = String(restItems(h)[0]?.["conv-id"]);
    expect(logs(b, "bob", cid, { i: 12 })).toEqual({
      cmd: "logs",
      op: "result",
      peerId: "bob",
      i: 12,
      logs: restItems(h),
    });
    const legacy = logs(a, "alice", cid);
    expect(nameOf(legacy)).toBe("logs/result");
    expect(legacy).not.toHaveProperty("i");
    expect((legacy.logs as Frame[]).map((i) => i["msg-id"])).toEqual([m.uid]);
    expectQuiet(h);
  });

  it("[LOGS-AUTH-1] allows the history of a group only to its current members", () => {
    const { h, a, b, c } = trio();
    const room = createRoom(a, "alice");
    const before = sendRoomOk(a, "alice", room);
    // carol never was a member; bob becomes one and then reads what was said before.
    expect(logs(c, "carol", room, { i: 1 })).toMatchObject({ code: 4401, i: 1 });
    expect(logs(b, "bob", room)).toMatchObject({ code: 4401 });
    joinRoom(b, "bob", room);
    a.drain();
    expect(logItems(b, "bob", room).map((i) => i["msg-id"])).toEqual([before.uid]);
    // bob sent to it, then left: no longer allowed.
    sendRoomOk(b, "bob", room);
    a.drain();
    b.cmd("bob", "room", "leave", { roomId: room });
    b.drain();
    a.drain();
    expect(logs(b, "bob", room)).toMatchObject({ code: 4401 });
    expect(logItems(a, "alice", room)).toHaveLength(2);
    // A group with no message yet: a member gets an empty page.
    const empty = createRoom(c, "carol");
    expect(logItems(c, "carol", empty)).toEqual([]);
    expectQuiet(h);
  });

  it("[LOGS-AUTH-2] [LOGS-AUTH-4] allows the history of a peer conversation only to its senders and recipients, and of no conversation without stored messages", () => {
    const { h, a, b, c } = trio();
    sendOk(a, "alice", ["bob"]);
    b.drain();
    const cid = String(restItems(h)[0]?.["conv-id"]);
    expect(logItems(a, "alice", cid)).toHaveLength(1); // sender
    expect(logItems(b, "bob", cid)).toHaveLength(1); // recipient
    expect(logs(c, "carol", cid)).toMatchObject({ code: 4401 });
    // A conversation with only transient messages, or none, has no known participants.
    send(a, "alice", ["carol"], { transient: true });
    c.drain();
    expect(logs(a, "alice", conversationId(["alice", "carol"]))).toMatchObject({ code: 4401 });
    expect(logs(a, "alice", "0123456789abcdef0123456789abcdef")).toMatchObject({ code: 4401 });
    expectQuiet(h);
  });

  it("[LOGS-AUTH-3] answers a logs it does not allow with 4401 and nothing else", () => {
    const { h, a, b, c } = trio();
    sendOk(a, "alice", ["bob"]);
    b.drain();
    const cid = String(restItems(h)[0]?.["conv-id"]);
    c.cmd("carol", "logs", undefined, { cid, i: 3 });
    expectOnlyError(h, c, 4401, { i: 3, peerId: "carol", reason: "INVALID_MESSAGING_TARGET" });
    c.cmd("carol", "logs", undefined, { cid });
    expect(expectOnlyError(h, c, 4401)).not.toHaveProperty("i");
    // The session is required first (4105), and the schema before it (4114).
    c.cmd("dave", "logs", undefined, { cid, i: 4 });
    expectOnlyError(h, c, 4105, { i: 4 });
    c.cmd("carol", "logs", undefined, { cid: "a:b", i: 5 });
    expectOnlyError(h, c, 4114, { i: 5 });
  });

  it("[LOGS-SOCKET-1] [ERROR-INTERNAL-1] answers 4200 when history cannot be read", () => {
    const store = new RecordingStore();
    const h = harness({}, store);
    const a = h.connect();
    a.open("alice");
    sendOk(a, "alice", ["bob"]);
    const cid = String(restItems(h)[0]?.["conv-id"]);
    store.failing.add("history");
    expect(logs(a, "alice", cid, { i: 8 })).toMatchObject({ cmd: "error", code: 4200, i: 8 });
  });
});

describe("REST history through Engine.restLogs (5.5)", () => {
  /** An app with a master key, and messages in two conversations and a group. */
  function populated() {
    const t = trio(appConfig(false));
    const room = createRoom(t.a, "alice");
    t.a.cmd("alice", "room", "invite", { roomId: room, roomPeerIds: ["bob"] });
    const ids: string[] = [];
    for (let n = 0; n < 4; n++) {
      t.h.now += 1;
      ids.push(sendOk(t.a, "alice", ["bob"]).uid);
      ids.push(sendOk(t.b, "bob", ["carol"]).uid);
      ids.push(sendRoomOk(t.a, "alice", room).uid);
    }
    for (const conn of [t.a, t.b, t.c]) conn.drain();
    return { ...t, room, ids };
  }

  it("[REST-APP-2] answers 404 with code 4100 for an app the server does not serve", () => {
    const { h } = populated();
    expect(restVia(h.engine, "other-app", TEST_MASTER_KEY, {})).toMatchObject({
      ok: false,
      status: 404,
      code: 4100,
    });
  });

  it("[REST-APP-2] [LIMIT-APPID-1] answers 404 with code 4100 for a missing or malformed app id, in development mode too", () => {
    const h = harness();
    for (const appId of [undefined, "", "bad id", "a:b", "x".repeat(65), "é"]) {
      expect(restVia(h.engine, appId, undefined, {}), String(appId)).toMatchObject({
        ok: false,
        status: 404,
        code: 4100,
      });
    }
  });

  it("[REST-AUTH-1] answers 401 with code 4102 without the master key of an app that has one", () => {
    const { h } = populated();
    for (const key of [undefined, "", "wrong", `${TEST_MASTER_KEY} `]) {
      const r = restVia(h.engine, APP, key, {});
      expect(r, String(key)).toMatchObject({ ok: false, status: 401, code: 4102 });
      if (!r.ok) expect(r.error).toEqual(expect.any(String));
    }
    expect(restVia(h.engine, APP, TEST_MASTER_KEY, {}).ok).toBe(true);
  });

  it("[REST-OK-1] answers a valid authorized request with one page of history items", () => {
    const { h, a, ids } = populated();
    const r = rest(h, { limit: "5" });
    expect(r.ok).toBe(true);
    const items = r.ok ? (r.items as Frame[]) : [];
    expect(items.map((i) => i["msg-id"])).toEqual([...ids].reverse().slice(0, 5));
    // The same item shape as the socket command.
    const cid = String(items.find((i) => i.from === "alice" && !i["is-room"])?.["conv-id"]);
    const socket = logItems(a, "alice", cid, { limit: 1 });
    expect(restItems(h, { convid: cid, limit: "1" })).toEqual(socket);
  });

  it("[REST-CONVID-1] restricts the items to the conversation of convid", () => {
    const { h, room, ids } = populated();
    const groupIds = ids.filter((_, n) => n % 3 === 2).reverse();
    expect(restItems(h, { convid: room }).map((i) => i["msg-id"])).toEqual(groupIds);
    const peerCid = String(restItems(h, { from: "bob" })[0]?.["conv-id"]);
    const peerIds = ids.filter((_, n) => n % 3 === 1).reverse();
    expect(restItems(h, { convid: peerCid }).map((i) => i["msg-id"])).toEqual(peerIds);
    expect(restItems(h, { convid: "ffffffffffffffffffffffffffffffff" })).toEqual([]);
  });

  it("[REST-FROM-1] restricts the items to the messages sent by from, in all conversations", () => {
    const { h, ids } = populated();
    const fromAlice = ids.filter((_, n) => n % 3 !== 1).reverse();
    const items = restItems(h, { from: "alice" });
    expect(items.map((i) => i["msg-id"])).toEqual(fromAlice);
    expect(new Set(items.map((i) => i["is-room"]))).toEqual(new Set([true, false]));
    expect(restItems(h, { from: "carol" })).toEqual([]);
  });

  it("[REST-ALL-1] considers every message of the app without convid and from", () => {
    const { h, ids } = populated();
    expect(restItems(h).map((i) => i["msg-id"])).toEqual([...ids].reverse());
    // Paged with the cursor, the whole app comes back in order.
    const out: Frame[] = [];
    let q: Record<string, string> = { limit: "5" };
    for (;;) {
      const page = restItems(h, q);
      out.push(...page);
      if (page.length < 5) break;
      const last = page.at(-1) as Frame;
      q = { limit: "5", max_ts: String(last.timestamp), msgid: String(last["msg-id"]) };
    }
    expect(out.map((i) => i["msg-id"])).toEqual([...ids].reverse());
    // Apps share nothing: another app's history is empty.
    const dev = harness();
    expect(restVia(dev.engine, "another", undefined, {})).toEqual({ ok: true, items: [] });
  });

  it("[REST-PARAM-1] answers 400 with code 4114 to a request with both convid and from", () => {
    const { h, room } = populated();
    expect(rest(h, { convid: room, from: "alice" })).toMatchObject({
      ok: false,
      status: 400,
      code: 4114,
    });
  });

  it("[REST-PARAM-2] answers 400 with code 4114 to a bad max_ts, msgid without max_ts, or a bad limit", () => {
    const { h } = populated();
    const bad: Record<string, string>[] = [
      { max_ts: "-1" },
      { max_ts: "1.5" },
      { max_ts: "abc" },
      { max_ts: "1e3" },
      { max_ts: "0x10" },
      { max_ts: "" },
      { max_ts: " 5" },
      { msgid: "x" },
      { limit: "0" },
      { limit: "1001" },
      { limit: "2.0" },
    ];
    for (const q of bad) {
      const r = rest(h, q);
      expect(r, JSON.stringify(q)).toMatchObject({ ok: false, status: 400, code: 4114 });
    }
    // Unknown parameters are ignored; valid ones are accepted.
    expect(rest(h, { max_ts: "0" })).toEqual({ ok: true, items: [] });
    expect(rest(h, { max_ts: String(h.now + 1), msgid: "x", _: "123" }).ok).toBe(true);
  });
});

describe("REST history: order of checks and the query string (5.5, v1.1: D20)", () => {
  /**
   * What `GET /1.1/rtm/messages/logs?<query>` answers, with the app id header `app` (or
   * none) and the master key `key`, as the HTTP adapter turns it into the core's call.
   */
  function restRaw(h: Harness, query: string, app?: string, key?: string) {
    const params = new URLSearchParams(query);
    const r = h.engine.restLogs(restAppIdOf(app, params), key, logsQueryOf(params));
    return r.ok
      ? { ok: true, items: r.items }
      : { ok: false, status: httpStatusOf(r.error), code: r.error.code };
  }
  const failure = (status: number, code: number) => ({ ok: false, status, code });

  function keyed() {
    const h = harness(appConfig(false));
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob"]);
    return { h, m };
  }

  it("[REST-ORDER-1] checks the app, then the master key, then the query, and answers the first failure only", () => {
    const { h } = keyed();
    const badQuery = "convid=a&from=b&limit=0";
    expect(restRaw(h, badQuery, "other", undefined)).toEqual(failure(404, 4100));
    expect(restRaw(h, badQuery, "bad app", "wrong")).toEqual(failure(404, 4100));
    expect(restRaw(h, badQuery, APP, undefined)).toEqual(failure(401, 4102));
    expect(restRaw(h, badQuery, APP, "wrong")).toEqual(failure(401, 4102));
    expect(restRaw(h, badQuery, APP, TEST_MASTER_KEY)).toEqual(failure(400, 4114));
    expect(restRaw(h, "limit=5", APP, TEST_MASTER_KEY).ok).toBe(true);
  });

  it("[REST-INT-1] reads max_ts and limit as ASCII decimal digits up to 2^53 - 1, leading zeros allowed, and refuses anything else", () => {
    const { h, m } = keyed();
    const ok = (q: string) => restRaw(h, q, APP, TEST_MASTER_KEY);
    // Leading zeros: decimal, never octal.
    expect(ok("limit=010")).toMatchObject({
      ok: true,
      items: [expect.objectContaining({ "msg-id": m.uid })],
    });
    expect(ok(`max_ts=000${m.t}`)).toEqual({ ok: true, items: [] }); // exclusive
    expect(ok(`max_ts=${m.t + 1}`).items).toHaveLength(1);
    expect(ok("max_ts=9007199254740991").items).toHaveLength(1);
    for (const q of [
      "limit=",
      "max_ts=",
      "limit=+5", // a literal + is a space
      "limit=%2B5",
      "limit=-1",
      "limit=1e2",
      "limit=10.0",
      "max_ts=0x10",
      "max_ts=%205",
      "max_ts=5%20",
      "max_ts=9007199254740992",
      "max_ts=99999999999999999999",
      "limit=%EF%BC%95", // a fullwidth digit is not ASCII
    ]) {
      expect(ok(q), q).toEqual(failure(400, 4114));
    }
  });

  it("[REST-PARAM-3] answers 400 with code 4114 to a parameter given more than once, even with equal values", () => {
    const { h } = keyed();
    for (const q of [
      "from=alice&from=bob",
      "from=alice&from=alice",
      "convid=a&convid=b",
      "limit=5&limit=5",
      "max_ts=1&max_ts=2",
      "max_ts=1&msgid=a&msgid=b",
    ]) {
      expect(restRaw(h, q, APP, TEST_MASTER_KEY), q).toEqual(failure(400, 4114));
    }
    // Parameters the endpoint does not define may repeat: they are ignored.
    expect(restRaw(h, "_=1&_=2", APP, TEST_MASTER_KEY).ok).toBe(true);
  });

  it("[REST-PARAM-4] treats an empty parameter as present and not valid, never as absent", () => {
    const { h } = keyed();
    for (const q of ["convid=", "from=", "msgid=&max_ts=5", "limit=", "max_ts="]) {
      expect(restRaw(h, q, APP, TEST_MASTER_KEY), q).toEqual(failure(400, 4114));
    }
    // An empty appId is a malformed app id (REST-APP-2).
    expect(restRaw(harness(), "appId=")).toEqual(failure(404, 4100));
  });

  it("[REST-APP-3] treats a repeated appId parameter as a malformed app id, unless the header names the app", () => {
    const h = harness(); // development mode: any well-formed id is an app
    expect(restRaw(h, "appId=app1").ok).toBe(true);
    for (const q of ["appId=app1&appId=app1", "appId=app1&appId=app2", "appId=app1&appId="]) {
      expect(restRaw(h, q), q).toEqual(failure(404, 4100));
    }
    expect(restRaw(h, "appId=x&appId=y", "app1").ok).toBe(true);
  });

  it("[REST-AUTH-2] serves an app without a master key whatever X-AVOSCloud-Master-Key holds", () => {
    const listed = harness({
      devMode: false,
      apps: new Map([[APP, { appId: APP, enforceSignatures: false }]]), // `--app app1`
    });
    for (const h of [listed, harness() /* development mode */]) {
      for (const key of [undefined, "", "anything", TEST_MASTER_KEY]) {
        expect(restRaw(h, "limit=1", APP, key), String(key)).toEqual({ ok: true, items: [] });
      }
    }
  });
});
