/**
 * Paging: a conversation's history with the (`max_ts`, `msgid`) cursor (spec 05, 5.3) and a
 * peer's groups with the `after` cursor (spec 04, 4.6), over a function that sends one
 * command and resolves with its reply, so that the paging rules stand apart from the socket.
 * @module
 */
import { ERRORS, type S2CMessages, uniqueIds } from "@confab/protocol";
import { InvalidFrameError, ProtocolError } from "./errors.js";
import type { LogEntry } from "./types.js";

/** The least wait before asking for history again after error 4120, ms [LIMIT-LOGS-RATE-3]. */
export const LOGS_RETRY_MS = 1000;

/** How many times history is asked for again after error 4120 before the error is thrown. */
export const LOGS_RETRIES = 5;

/** Sends one command (without `cmd`'s envelope fields) and resolves with its reply. */
export type Ask<R> = (frame: Record<string, unknown>) => Promise<R>;

/** One history item as the client hands it over. */
export function logEntryOf(item: S2CMessages["logs/result"]["logs"][number]): LogEntry {
  return {
    id: item["msg-id"],
    msg: item.data,
    fromPeerId: item.from,
    timestamp: item.timestamp,
    cid: item["conv-id"],
    multiPeer: item["is-conv"],
    to: item.to,
    ...(item["is-room"] ? { roomId: item.to } : {}),
  };
}

/**
 * The items of conversation `cid`, newest first, page after page. Each page continues from
 * the `timestamp` and `msg-id` of the last item received [LOGS-CLIENT-1]; a page shorter than
 * asked is the last only without `more: true` [LOGS-CLIENT-2], and an empty page always is.
 * After error 4120 it waits at least a second, doubling, before asking again
 * [LIMIT-LOGS-RATE-3] (the socket has no `Retry-After`).
 *
 * @param ask - sends a `logs` command, resolves with its `logs/result`
 * @param options.cid - the conversation
 * @param options.pageSize - items per page
 * @param options.limit - most items in all
 * @param options.before - only items older than this, ms
 *
 * @example
 * for await (const item of pageLogs(ask, { cid, pageSize: 100, limit: 500 })) console.log(item.msg);
 */
export async function* pageLogs(
  ask: Ask<S2CMessages["logs/result"]>,
  options: { cid: string; pageSize: number; limit: number; before?: number | undefined },
): AsyncGenerator<LogEntry> {
  let maxTs = options.before;
  let msgid: string | undefined;
  let yielded = 0;
  for (;;) {
    const want = Math.min(options.pageSize, options.limit - yielded);
    const frame: Record<string, unknown> = { cmd: "logs", cid: options.cid, limit: want };
    if (maxTs !== undefined) frame.max_ts = maxTs;
    if (msgid !== undefined) frame.msgid = msgid;
    const page = await askAgainAfter4120(ask, frame);
    for (const item of page.logs) {
      yield logEntryOf(item);
      if (++yielded >= options.limit) return;
    }
    const last = page.logs.at(-1);
    // A short page is the last only without `more` [LOGS-CLIENT-2]; an empty one always is.
    if (last === undefined || (page.logs.length < want && page.more !== true)) return;
    if (last.timestamp === maxTs && last["msg-id"] === msgid) {
      throw new InvalidFrameError("logs: a page did not move past its cursor", page);
    }
    // The next page starts after the last item received [LOGS-CLIENT-1].
    maxTs = last.timestamp;
    msgid = last["msg-id"];
  }
}

/** One `logs` page, asking again after 4120 [LIMIT-LOGS-RATE-3]. */
async function askAgainAfter4120<R>(ask: Ask<R>, frame: Record<string, unknown>): Promise<R> {
  for (let tries = 0; ; tries++) {
    try {
      return await ask(frame);
    } catch (err) {
      const rateLimited = err instanceof ProtocolError && err.code === ERRORS.LIMIT_EXCEEDED.code;
      if (!rateLimited || tries >= LOGS_RETRIES) throw err;
      await new Promise((resolve) => setTimeout(resolve, LOGS_RETRY_MS * 2 ** tries));
    }
  }
}

/**
 * Every group of the caller, page after page of `room/list`: each page asks for the groups
 * after the last id of the page before, and the last page is the one with `more: false`
 * [ROOM-LIST-6].
 *
 * @param ask - sends a `room/list` command, resolves with its `room/list-result`
 * @param pageSize - ids per page
 *
 * @example
 * const groups = await pageGroups(ask, 100);
 */
export async function pageGroups(
  ask: Ask<S2CMessages["room/list-result"]>,
  pageSize: number,
): Promise<string[]> {
  const all: string[] = [];
  let after: string | undefined;
  for (;;) {
    const frame: Record<string, unknown> = { cmd: "room", op: "list", limit: pageSize };
    if (after !== undefined) frame.after = after;
    const page = await ask(frame);
    all.push(...page.roomIds);
    const last = page.roomIds.at(-1);
    if (!page.more || last === undefined) break;
    if (after !== undefined && last <= after) {
      throw new InvalidFrameError(
        "room/list: a page with more: true did not move past its after",
        page,
      );
    }
    after = last;
  }
  return uniqueIds(all);
}
