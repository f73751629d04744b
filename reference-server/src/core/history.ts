/**
 * History (spec/05-history.md, decision D9): the item shape shared by the socket `logs`
 * command and the REST endpoint, the page query both run, bounded by count and by bytes,
 * the byte rate that bounds how much history one client is sent, and the socket command
 * with its authorisation. The REST endpoint's request handling (app, master key, query
 * string) is `Engine.restLogs`, which pages with {@link page} and meters with
 * {@link HistoryBudgets}.
 * @module
 */
import {
  ERRORS,
  LOGS_DEFAULT_LIMIT,
  LOGS_MAX_PAGE_BYTES,
  type LogItem,
  type LogsQuery,
} from "@confab/protocol";
import type { HistoryQuery, Store, StoredMessage } from "../store/store.js";
import type { Limits } from "./config.js";
import type { CommandContext, Handlers } from "./context.js";
import type { ConnectionState } from "./state.js";

/**
 * A stored message as a history item [LOGS-ITEM-1]: its acceptance time, id, sender, text
 * and conversation id; `is-room` for a group message [LOGS-ITEM-2]; `is-conv` for a peer
 * message with more than one recipient [LOGS-ITEM-3]; `to` the group, the single
 * recipient, or the conversation id [LOGS-ITEM-4].
 */
export function toLogItem(m: StoredMessage): LogItem {
  const isRoom = m.roomId !== undefined;
  // Stored recipients never include the sender (DIRECT-SELF-1); filtering again keeps the
  // count right for any row written before that rule was enforced.
  const recipients = isRoom ? [] : m.toPeerIds.filter((p) => p !== m.fromPeerId);
  const isConv = !isRoom && recipients.length > 1;
  return {
    timestamp: m.timestamp,
    "conv-id": m.cid,
    data: m.msg,
    from: m.fromPeerId,
    "msg-id": m.id,
    "is-conv": isConv,
    "is-room": isRoom,
    to: m.roomId ?? (isConv ? m.cid : (recipients[0] ?? m.cid)),
  };
}

/** One page of history, as {@link page} returns it. */
export interface Page {
  /** The items, newest first. */
  readonly items: LogItem[];
  /**
   * Whether the byte bound ended the page before `limit` items; then the item that did not
   * fit exists, so older items match [LOGS-BYTES-1, LOGS-MORE-1, REST-MORE-1].
   */
  readonly more: boolean;
  /** The page's size: bytes of UTF-8 of its items serialized as a JSON array [LOGS-BYTES-1]. */
  readonly bytes: number;
}

/** Bytes of UTF-8 of `value` serialized as JSON, as the adapters serialize it (`JSON.stringify`). */
function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), "utf8");
}

/**
 * One page of history as items: the first `limit` stored messages matching the query,
 * newest first by (`timestamp`, `msg-id`) [LOGS-ORDER-1, LOGS-PAGE-2], strictly before the
 * cursor [LOGS-CURSOR-1, LOGS-CURSOR-2], ended before the first item that would take the
 * page over {@link LOGS_MAX_PAGE_BYTES} bytes of JSON [LOGS-BYTES-1]. Only persistent
 * messages are ever stored, so a transient one is never in a page [TRANSIENT-HISTORY-1];
 * nothing is removed from history when the offline store evicts or expires a message
 * [OFFLINE-HISTORY-1].
 *
 * Each item is measured as it is serialized, escapes included: a `msg` of 5120 bytes takes
 * from 5120 to 30720 bytes of JSON (a control character becomes `\u0001`), so counting
 * `msg` bytes would let a page reach six times the bound. The store is read row by row and
 * stops at the bound, so building a page costs about its size, whatever `limit` says.
 *
 * The query must be validated: `limit` from 1 to 1000 and `msgId` only with `maxTs`
 * [LOGS-LIMIT-2, LOGS-CURSOR-3].
 */
export function page(store: Store, q: HistoryQuery): Page {
  const items: LogItem[] = [];
  let bytes = 2; // "[" and "]"
  let more = false;
  store.history(q, (m) => {
    const item = toLogItem(m);
    const size = jsonBytes(item) + (items.length > 0 ? 1 : 0); // and the comma before it
    // The first item always goes in: one item takes at most some 31.5 KB, far below the
    // bound, and a page must not end empty while items match (the client would have no
    // cursor to go on with).
    if (items.length > 0 && bytes + size > LOGS_MAX_PAGE_BYTES) {
      more = true;
      return false;
    }
    items.push(item);
    bytes += size;
    return true;
  });
  return { items, more, bytes };
}

/**
 * A token bucket of history bytes [LIMIT-LOGS-RATE-1]. It holds up to
 * {@link Limits.historyBurstBytes} and refills at {@link Limits.historyBytesPerSecond}. A query
 * runs while the bucket is not empty, and its page then takes its bytes, which may leave the
 * bucket in debt by one page at most. So in any t seconds one holder is sent at most
 * burst + one page + rate × t bytes of history, and no single turn builds more than the
 * burst and one page (three full pages by default), however many queries it holds: the
 * engine is synchronous, so a reply "in flight" is one the turn has built and the client not
 * yet read, and this is what bounds them.
 */
export class HistoryBudget {
  /** Bytes left; negative while in debt. */
  private tokens: number;
  /** When the bucket was last refilled, ms. */
  private refilledAt: number;

  /**
   * @param limits the rate and burst.
   * @param now the server clock, ms: a new bucket starts full.
   */
  constructor(limits: Limits, now: number) {
    this.tokens = limits.historyBurstBytes;
    this.refilledAt = now;
  }

  /**
   * Refills the bucket to `now`; returns 0 when a query may run, otherwise the milliseconds
   * until it may (until the debt is paid off). A rate of 0 disables the bound.
   */
  waitMs(limits: Limits, now: number): number {
    const { historyBytesPerSecond: rate, historyBurstBytes: burst } = limits;
    if (rate <= 0) return 0;
    const elapsed = Math.max(0, now - this.refilledAt);
    this.tokens = Math.min(burst, this.tokens + (elapsed * rate) / 1000);
    this.refilledAt = Math.max(this.refilledAt, now);
    return this.tokens > 0 ? 0 : Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / rate));
  }

  /** Takes the bytes of a page that was sent. */
  charge(bytes: number): void {
    this.tokens -= bytes;
  }

  /** Whether the bucket is full at `now`, so that forgetting it changes nothing. */
  isFull(limits: Limits, now: number): boolean {
    return this.waitMs(limits, now) === 0 && this.tokens >= limits.historyBurstBytes;
  }
}

/** How many buckets {@link HistoryBudgets} holds before it first drops the full ones. */
const PRUNE_AT = 1024;

/**
 * History buckets by key (the REST client's address, REST-RATE-1). A full bucket is the
 * same as none, so the map drops its full buckets whenever it has doubled since the last
 * sweep: it holds about the clients of the last few seconds, and the sweeps cost O(1) per
 * request, amortized.
 */
export class HistoryBudgets {
  private readonly buckets = new Map<string, HistoryBudget>();
  private pruneAt = PRUNE_AT;

  /** The bucket of `key`, made (full) when there is none. */
  of(key: string, limits: Limits, now: number): HistoryBudget {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.pruneAt) {
        for (const [k, b] of this.buckets) if (b.isFull(limits, now)) this.buckets.delete(k);
        this.pruneAt = Math.max(PRUNE_AT, 2 * this.buckets.size);
      }
      bucket = new HistoryBudget(limits, now);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  /** How many buckets are held (for tests). */
  get size(): number {
    return this.buckets.size;
  }
}

/**
 * The history bucket of each connection [LIMIT-LOGS-RATE-1]. Kept beside the connection
 * rather than in it: a connection that is gone is forgotten with its bucket.
 */
const connectionBudgets = new WeakMap<ConnectionState, HistoryBudget>();

/** The history bucket of a connection, made (full) on its first `logs`. */
function budgetOf(conn: ConnectionState, limits: Limits, now: number): HistoryBudget {
  let bucket = connectionBudgets.get(conn);
  if (bucket === undefined) {
    bucket = new HistoryBudget(limits, now);
    connectionBudgets.set(conn, bucket);
  }
  return bucket;
}

/**
 * Whether the caller may read conversation `cid`: a group's history while it is a member
 * [LOGS-AUTH-1], a peer conversation when it sent or received one of its messages
 * [LOGS-AUTH-2]. A conversation nothing was stored in has no participants.
 */
function mayRead(ctx: CommandContext, cid: string): boolean {
  const appId = ctx.appConfig.appId;
  return ctx.store.roomExists(appId, cid)
    ? ctx.store.members(appId, cid).includes(ctx.peerId)
    : ctx.store.isParticipant(appId, cid, ctx.peerId);
}

/**
 * `logs`: answers with `logs/result` holding one page of conversation `cid`
 * [LOGS-SOCKET-1], with `more: true` when the byte bound ended it [LOGS-MORE-1]; with 4401
 * when the caller may not read it [LOGS-AUTH-3], or with 4120 when its connection is over
 * the history rate [LIMIT-LOGS-RATE-2].
 */
export function handleLogs(ctx: CommandContext, frame: LogsQuery): void {
  // [LOGS-CURSOR-3] The schema (dependencies) already answers msgid without max_ts with
  // 4114 at step (5) of ERROR-ORDER-1; this guard only keeps the handler honest on its own.
  if (frame.msgid !== undefined && frame.max_ts === undefined) {
    ctx.fail(ERRORS.INVALID_FRAME, "/msgid requires /max_ts");
  }
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  if (!ctx.storeWork("read the conversation", () => mayRead(ctx, frame.cid))) {
    ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `${ctx.peerId} may not read ${frame.cid}`);
  }
  // [LIMIT-LOGS-RATE-2] After the authorisation (step 9 of ERROR-ORDER-1, in the order of
  // chapter 05), before any history is read. A refused query takes nothing from the bucket.
  const limits = ctx.services.config.limits;
  const budget = budgetOf(ctx.conn, limits, ctx.now);
  const waitMs = budget.waitMs(limits, ctx.now);
  if (waitMs > 0) {
    ctx.fail(
      ERRORS.LIMIT_EXCEEDED,
      `history rate of ${limits.historyBytesPerSecond} bytes/s exceeded: retry in ${Math.ceil(waitMs / 1000)} s`,
    );
  }
  const { items, more, bytes } = ctx.storeWork("read history", () =>
    page(ctx.store, {
      appId,
      cid: frame.cid,
      maxTs: frame.max_ts,
      msgId: frame.msgid,
      limit: frame.limit ?? LOGS_DEFAULT_LIMIT, // [LOGS-LIMIT-1]
    }),
  );
  budget.charge(bytes);
  // [LOGS-MORE-1] `more` only on a page the byte bound ended: every other page is the frame
  // it always was, so a legacy client sees no change below the bound (VERSION-UNKNOWN-2).
  ctx.reply(
    more
      ? { cmd: "logs", op: "result", logs: items, more: true }
      : { cmd: "logs", op: "result", logs: items },
  );
}

/** The handlers of history, by registry name; the engine's table is the union of these. */
export const HISTORY_HANDLERS = {
  logs: handleLogs,
} satisfies Handlers;
