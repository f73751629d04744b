/**
 * History (spec/05-history.md, decision D9): the item shape shared by the socket `logs`
 * command and the REST endpoint, the page query both run, and the socket command with its
 * authorisation. The REST endpoint's request handling (app, master key, query string) is
 * `Engine.restLogs`, which pages with {@link page}.
 * @module
 */
import { ERRORS, LOGS_DEFAULT_LIMIT, type LogItem, type LogsQuery } from "@confab/protocol";
import type { HistoryQuery, Store, StoredMessage } from "../store/store.js";
import type { CommandContext, Handlers } from "./context.js";

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

/**
 * One page of history as items: the first `limit` stored messages matching the query,
 * newest first by (`timestamp`, `msg-id`) [LOGS-ORDER-1, LOGS-PAGE-1], strictly before the
 * cursor [LOGS-CURSOR-1, LOGS-CURSOR-2]. Only persistent messages are ever stored, so a
 * transient one is never in a page [TRANSIENT-HISTORY-1]; nothing is removed from history
 * when the offline store evicts or expires a message [OFFLINE-HISTORY-1].
 *
 * The query must be validated: `limit` from 1 to 1000 and `msgId` only with `maxTs`
 * [LOGS-LIMIT-2, LOGS-CURSOR-3].
 */
export function page(store: Store, q: HistoryQuery): LogItem[] {
  return store.history(q).map(toLogItem);
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
 * [LOGS-SOCKET-1], or with 4401 when the caller may not read it [LOGS-AUTH-3].
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
  const logs = ctx.storeWork("read history", () =>
    page(ctx.store, {
      appId,
      cid: frame.cid,
      maxTs: frame.max_ts,
      msgId: frame.msgid,
      limit: frame.limit ?? LOGS_DEFAULT_LIMIT, // [LOGS-LIMIT-1]
    }),
  );
  ctx.reply({ cmd: "logs", op: "result", logs });
}

/** The handlers of history, by registry name; the engine's table is the union of these. */
export const HISTORY_HANDLERS = {
  logs: handleLogs,
} satisfies Handlers;
