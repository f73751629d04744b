/**
 * Helpers of the message and history tests (spec/03-messages.md, spec/05-history.md): apps
 * with a master key or enforced signatures, signed opens, sends, groups, history queries,
 * and a store that records its writes and can be made to fail.
 */
import { groupSignature, sessionSignature, TEST_MASTER_KEY } from "@confab/test-support";
import { expect } from "vitest";
import type { AppConfig, EngineConfig } from "../../src/core/config.js";
import { MemoryStore } from "../../src/store/memory-store.js";
import type { Store } from "../../src/store/store.js";
import { type FakeConn, type Frame, Harness, nameOf } from "../support/harness.js";
import { restVia } from "../support/rest.js";

/** The app of every test. */
export const APP = "app1";
/** Seven days in milliseconds (OFFLINE-AGE-1). */
export const WEEK_MS = 604_800_000;
/** Server-made message ids (ACK-ID-1). */
export const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** A config serving only {@link APP}, with the test master key, enforcing signatures or not. */
export function appConfig(
  enforceSignatures = false,
  overrides: Partial<EngineConfig> = {},
): Partial<EngineConfig> {
  const app: AppConfig = { appId: APP, masterKey: TEST_MASTER_KEY, enforceSignatures };
  return { apps: new Map([[APP, app]]), devMode: false, ...overrides };
}

/** A harness for {@link APP} (development mode: no signatures, no master key). */
export function harness(config: Partial<EngineConfig> = {}, store?: Store): Harness {
  return new Harness(config, store);
}

let nonce = 0;

/** Opens a signed session (app with enforced signatures); returns the `opened` reply. */
export function signedOpen(conn: FakeConn, peerId: string, watch: string[] = [], sp = false) {
  const sig = sessionSignature({
    appId: APP,
    peerId,
    watchPeerIds: watch,
    superPeer: sp ? "sp" : undefined,
    t: Math.floor(conn.h.now / 1000),
  });
  return conn.open(peerId, watch, sp ? { ...sig, sp: true } : sig);
}

/** Sends a `direct` from `from` to `toPeerIds`; the fields override (`i`, `transient`, `r`). */
export function send(conn: FakeConn, from: string, toPeerIds: string[], fields: Frame = {}) {
  return conn.cmd(from, "direct", undefined, { msg: `m${++nonce}`, toPeerIds, ...fields });
}

/** Sends a persistent `direct` and returns its `ack` (which must be the only new frame). */
export function sendOk(conn: FakeConn, from: string, toPeerIds: string[], fields: Frame = {}) {
  send(conn, from, toPeerIds, fields);
  const ack = conn.expectOne("ack");
  expect(ack.uid).toMatch(MESSAGE_ID);
  return ack as Frame & { uid: string; t: number };
}

/** Sends a group `direct` and returns its `ack`. */
export function sendRoomOk(conn: FakeConn, from: string, roomId: string, fields: Frame = {}) {
  conn.cmd(from, "direct", undefined, { msg: `g${++nonce}`, roomId, ...fields });
  return conn.expectOne("ack") as Frame & { uid: string; t: number };
}

/** Creates a group with `creator` as its only member and returns its id. */
export function createRoom(conn: FakeConn, creator: string): string {
  conn.cmd(creator, "room", "join");
  return String(conn.expectOne("room/joined").roomId);
}

/** Creates a group in an app that enforces signatures (a signed `room/join`). */
export function signedCreateRoom(conn: FakeConn, creator: string): string {
  const sig = groupSignature({
    appId: APP,
    peerId: creator,
    action: "join",
    roomId: undefined,
    roomPeerIds: [],
    t: Math.floor(conn.h.now / 1000),
  });
  conn.cmd(creator, "room", "join", sig);
  return String(conn.expectOne("room/joined").roomId);
}

/** Joins an existing group (drains every frame the join caused on `conn`). */
export function joinRoom(conn: FakeConn, peerId: string, roomId: string): void {
  conn.cmd(peerId, "room", "join", { roomId });
  conn.expectOne("room/joined");
}

/** Sends `ack` for `ids` from `peerId`. */
export function ackIds(conn: FakeConn, peerId: string, ids: string[], fields: Frame = {}): void {
  conn.cmd(peerId, "ack", undefined, { ids, ...fields });
}

/** Sends `logs` and returns its one reply (`logs/result` or `error`), leaving other frames. */
export function logs(conn: FakeConn, peerId: string, cid: string, fields: Frame = {}): Frame {
  conn.cmd(peerId, "logs", undefined, { cid, ...fields });
  const frames = [...conn.take("logs/result"), ...conn.take("error")];
  expect(frames.map(nameOf), "the reply to logs").toHaveLength(1);
  return frames[0] as Frame;
}

/** The items of a successful `logs`. */
export function logItems(conn: FakeConn, peerId: string, cid: string, fields: Frame = {}) {
  const reply = logs(conn, peerId, cid, fields);
  expect(nameOf(reply), JSON.stringify(reply)).toBe("logs/result");
  return reply.logs as Frame[];
}

/** Pages through a conversation over the socket with the (timestamp, msg-id) cursor. */
export function allLogs(conn: FakeConn, peerId: string, cid: string, limit: number): Frame[] {
  const out: Frame[] = [];
  let cursor: Frame = {};
  for (;;) {
    const items = logItems(conn, peerId, cid, { limit, ...cursor });
    out.push(...items);
    if (items.length < limit) return out;
    const last = items[items.length - 1] as Frame;
    cursor = { max_ts: last.timestamp, msgid: last["msg-id"] };
  }
}

/** Queries the REST endpoint of the engine with the app's master key. */
export function rest(h: Harness, query: Record<string, string | undefined> = {}) {
  return restVia(h.engine, APP, TEST_MASTER_KEY, query);
}

/** The items of a successful REST query. */
export function restItems(h: Harness, query: Record<string, string | undefined> = {}): Frame[] {
  const r = rest(h, query);
  if (!r.ok) throw new Error(`REST failed: ${JSON.stringify(r)}`);
  return r.items as Frame[];
}

/** The ids of every message in the app's history, newest first. */
export function historyIds(h: Harness): string[] {
  return restItems(h, { limit: "1000" }).map((i) => String(i["msg-id"]));
}

/** Expects that no connection of the harness holds an unread frame. */
export function expectQuiet(h: Harness): void {
  for (const c of h.conns.values()) {
    expect(c.received, `conn ${c.id} received`).toEqual([]);
  }
}

/** Discards every unread frame of every connection (presence and the like after a setup). */
export function drainAll(h: Harness): void {
  for (const c of h.conns.values()) c.drain();
}

/** Expects exactly one `error` frame with `code` on `conn` and nothing else anywhere. */
export function expectOnlyError(h: Harness, conn: FakeConn, code: number, fields: Frame = {}) {
  const err = conn.expectOne("error");
  expect(err).toMatchObject({ code, ...fields });
  expectQuiet(h);
  return err;
}

/** The `direct` deliveries on a connection, removed from it. */
export function directs(conn: FakeConn): Frame[] {
  return conn.take("direct");
}

/** Compares two (timestamp, id) pairs, ids as byte strings (ASCII ids: code units). */
export function byTimeThenId(a: Frame, b: Frame): number {
  const ta = Number(a.timestamp);
  const tb = Number(b.timestamp);
  const ia = String(a.id ?? a["msg-id"]);
  const ib = String(b.id ?? b["msg-id"]);
  return ta - tb || (ia < ib ? -1 : ia > ib ? 1 : 0);
}

/** One recorded store call or commit. */
export type StoreEvent = string;

/**
 * A MemoryStore that records its write calls and commits in `events`, and whose writes
 * can be made to throw (as a full disk would), for ACK-DURABLE-1 and ACK-FAIL-1.
 */
export class RecordingStore extends MemoryStore {
  /** Calls in order: `insertMessage`, `addPending`, `removePending`, `commit`. */
  readonly events: StoreEvent[] = [];
  /** When set, these methods throw. */
  failing = new Set<string>();

  private note(what: string): void {
    this.events.push(what);
    if (this.failing.has(what)) throw new Error(`disk full (${what})`);
  }

  override insertMessage(...args: Parameters<MemoryStore["insertMessage"]>): void {
    this.note("insertMessage");
    super.insertMessage(...args);
  }

  override addPending(...args: Parameters<MemoryStore["addPending"]>): void {
    this.note("addPending");
    super.addPending(...args);
  }

  override removePending(...args: Parameters<MemoryStore["removePending"]>): string[] {
    this.note("removePending");
    return super.removePending(...args);
  }

  override pendingFor(...args: Parameters<MemoryStore["pendingFor"]>) {
    if (this.failing.has("pendingFor")) throw new Error("disk unreadable (pendingFor)");
    return super.pendingFor(...args);
  }

  override history(...args: Parameters<MemoryStore["history"]>) {
    if (this.failing.has("history")) throw new Error("disk unreadable (history)");
    return super.history(...args);
  }

  override commit(): void {
    this.events.push("commit");
    super.commit();
  }
}

/** Records, in `events`, each frame as it reaches `conn`'s client: `release:<name>`. */
export function recordReleases(conn: FakeConn, events: StoreEvent[]): void {
  const push = conn.received.push.bind(conn.received);
  conn.received.push = (...frames: Frame[]) => {
    for (const f of frames) events.push(`release:${nameOf(f)}`);
    return push(...frames);
  };
}
