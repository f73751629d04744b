/**
 * History: the socket `logs` command and the REST endpoint share authorisation-free paging
 * here (spec/05-history.md, decision D9).
 * @module
 */
import { LOGS_DEFAULT_LIMIT, type LogItem, type LogsQuery } from "@confab/schemas";
import type { HistoryQuery, Store, StoredMessage } from "../store/store.js";
import type { CommandContext } from "./context.js";
import { ERRORS } from "./errors.js";

/** A stored message in the history item shape shared by socket and REST. */
export function toLogItem(m: StoredMessage): LogItem {
  const isRoom = m.roomId !== undefined;
  const isConv = !isRoom && m.toPeerIds.length > 1;
  return {
    timestamp: m.timestamp,
    "conv-id": m.cid,
    data: m.msg,
    from: m.fromPeerId,
    "msg-id": m.id,
    "is-conv": isConv,
    "is-room": isRoom,
    // D9: the group id, the single recipient, or the conversation id.
    to: m.roomId ?? (isConv ? m.cid : (m.toPeerIds[0] ?? m.cid)),
  };
}

/** Runs a history page query. */
export function page(store: Store, q: HistoryQuery): LogItem[] {
  return store.history(q).map(toLogItem);
}

/**
 * `logs`: one page of a conversation the peer took part in, or of a group it is currently
 * a member of (4401 otherwise).
 */
export function handleLogs(ctx: CommandContext, frame: LogsQuery): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const allowed = ctx.store.roomExists(appId, frame.cid)
    ? ctx.store.members(appId, frame.cid).includes(ctx.peerId)
    : ctx.store.isParticipant(appId, frame.cid, ctx.peerId);
  if (!allowed)
    ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `${ctx.peerId} may not read ${frame.cid}`);
  const logs = page(ctx.store, {
    appId,
    cid: frame.cid,
    maxTs: frame.max_ts,
    msgId: frame.msgid,
    limit: frame.limit ?? LOGS_DEFAULT_LIMIT,
  });
  ctx.reply({ cmd: "logs", op: "result", logs });
}
