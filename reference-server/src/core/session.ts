/**
 * Session family handlers: open, watch, unwatch, status query, close (spec/02-sessions.md,
 * decision D4). Presence fan-out lives in the engine's openSession/endSession.
 * @module
 */
import type {
  SessionAdd,
  SessionClose,
  SessionOpen,
  SessionQuery,
  SessionRemove,
} from "@confab/schemas";
import type { CommandContext } from "./context.js";
import { deliverPending } from "./direct.js";
import { ERRORS } from "./errors.js";
import { verifySessionSignature } from "./signature.js";

/** Deduplicates ids, keeping first occurrences in order (decision D3). */
export function unique(ids: readonly string[] | undefined): string[] {
  return [...new Set(ids ?? [])];
}

function onlineAmong(ctx: CommandContext, ids: readonly string[]): string[] {
  return ids.filter((p) => ctx.app.isOnline(p));
}

/** `session/open`: opens (or re-opens) the session, replies `opened`, then drains the offline store. */
export function handleOpen(ctx: CommandContext, frame: SessionOpen): void {
  const watch = unique(frame.sessionPeerIds);
  verifySessionSignature(ctx, frame, watch);
  const max = ctx.services.config.limits.maxWatchedPerSession;
  if (watch.length > max)
    ctx.fail(ERRORS.LIMIT_EXCEEDED, `a session may watch at most ${max} peers`);

  // A second open of the same peer on this connection re-opens it: the watch set is
  // replaced and no presence change is published (decision D4).
  const session = ctx.session ?? ctx.services.openSession(ctx.conn, ctx.app, ctx.peerId);
  for (const p of [...session.watch]) ctx.app.unwatch(session, p);
  for (const p of watch) ctx.app.watch(session, p);
  session.sp = frame.sp === true;

  ctx.reply({ cmd: "session", op: "opened", onlineSessionPeerIds: onlineAmong(ctx, watch) });
  deliverPending(ctx, session);
}

/** `session/add`: watches more peers and replies with those online. */
export function handleAdd(ctx: CommandContext, frame: SessionAdd): void {
  const session = ctx.requireSession();
  const added = unique(frame.sessionPeerIds);
  verifySessionSignature(ctx, frame, added);
  const max = ctx.services.config.limits.maxWatchedPerSession;
  const total = new Set([...session.watch, ...added]).size;
  if (total > max) ctx.fail(ERRORS.LIMIT_EXCEEDED, `a session may watch at most ${max} peers`);
  for (const p of added) ctx.app.watch(session, p);
  ctx.reply({ cmd: "session", op: "added", onlineSessionPeerIds: onlineAmong(ctx, added) });
}

/** `session/remove`: unwatches; replies only when the command carries `i` (decision D1). */
export function handleRemove(ctx: CommandContext, frame: SessionRemove): void {
  const session = ctx.requireSession();
  for (const p of unique(frame.sessionPeerIds)) ctx.app.unwatch(session, p);
  if (ctx.serial !== undefined) ctx.reply({ cmd: "session", op: "removed" });
}

/** `session/query`: which of the peers are online, watched or not. */
export function handleQuery(ctx: CommandContext, frame: SessionQuery): void {
  ctx.requireSession();
  const ids = unique(frame.sessionPeerIds);
  ctx.reply({ cmd: "session", op: "query-result", onlineSessionPeerIds: onlineAmong(ctx, ids) });
}

/** `session/close`: ends the session; replies only when the command carries `i`. */
export function handleClose(ctx: CommandContext, _frame: SessionClose): void {
  const session = ctx.requireSession();
  ctx.services.endSession(ctx.conn, ctx.app, session, ctx.now);
  if (ctx.serial !== undefined) ctx.reply({ cmd: "session", op: "closed" });
}
