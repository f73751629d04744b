/**
 * Session family handlers: open, re-open, watch, unwatch, status query, close
 * (spec/02-sessions.md, decision D4). Opening and ending sessions, and the presence
 * events they cause, live in presence.ts.
 *
 * The engine has already checked the app, the schema, the limits of chapter 07 and, for
 * every command but `session/open`, that the session is open (ERROR-ORDER-1 steps 1–7).
 * Each handler checks the rest (signature, then its own rules) before it changes anything
 * or emits anything, so a failed command has no effect [ERROR-NOEFFECT-1].
 * @module
 */
import type {
  SessionAdd,
  SessionClose,
  SessionOpen,
  SessionQuery,
  SessionRemove,
} from "@confab/protocol";
import { ERRORS, uniqueIds } from "@confab/protocol";
import { serverInfo } from "./announce.js";
import type { CommandContext, Handlers } from "./context.js";
import { deliverPending } from "./delivery.js";
import { verifySessionSignature } from "./signature.js";
import type { Session } from "./state.js";

/**
 * The peers of `ids` that are online now [PRESENCE-ONLINE-1], in the order of `ids`, which
 * are distinct, so each appears once [SESSION-LIST-1]. Computed after the command's own
 * session is open, so a session that watches its own peer sees it listed [SESSION-SELF-1].
 */
function onlineAmong(ctx: CommandContext, ids: readonly string[]): string[] {
  return ids.filter((p) => ctx.app.isOnline(p));
}

/** Fails with 4120 when a watch set would exceed the limit [WATCH-LIMIT-1]. */
function checkWatchLimit(ctx: CommandContext, size: number): void {
  const max = ctx.services.config.limits.maxWatchedPerSession;
  if (size > max) {
    ctx.fail(ERRORS.LIMIT_EXCEEDED, `a session may watch at most ${max} peers, not ${size}`);
  }
}

/**
 * Fails with 4120 when `more` further watch entries (the change in one session's watch set
 * size; none when it shrinks) would take the connection over its bound, summed over its
 * sessions [LIMIT-WATCH-CONN-1], or the app over its bound [LIMIT-WATCH-APP-1]. Runs before
 * any change, so a refused command changes nothing [ERROR-NOEFFECT-1]. The connection's
 * sum is over at most 100 sessions [LIMIT-SESSIONS-1]; the app's is kept as it changes.
 */
function checkWatchTotals(ctx: CommandContext, more: number): void {
  if (more <= 0) return;
  const { maxWatchPerConnection, maxWatchPerApp } = ctx.services.config.limits;
  let conn = 0;
  for (const s of ctx.conn.sessions.values()) conn += s.watch.size;
  if (conn + more > maxWatchPerConnection) {
    ctx.fail(
      ERRORS.LIMIT_EXCEEDED,
      `a connection may hold at most ${maxWatchPerConnection} watch entries over its sessions; it holds ${conn} and this adds ${more}`,
    );
  }
  if (ctx.app.watchEntries + more > maxWatchPerApp) {
    ctx.fail(
      ERRORS.LIMIT_EXCEEDED,
      `the app holds ${ctx.app.watchEntries} watch entries, the server's bound is ${maxWatchPerApp}`,
    );
  }
}

/**
 * Sets whether `session` receives the echo of its peer's messages: exactly when its latest
 * successful `session/open` carried `echo: true`, so a re-open sets it again, absent meaning
 * off [ECHO-OPEN-1, SESSION-REOPEN-6]. The legacy client never asks, and so never sees its
 * own sends as received messages [ECHO-OFF-1]. The inverse goes to the app's journal, so a
 * command that fails after this step leaves the flag as it was [ERROR-NOEFFECT-1,
 * SESSION-REOPEN-5].
 */
function setEcho(ctx: CommandContext, session: Session, echo: boolean): void {
  const was = session.echo === true;
  if (was === echo) return;
  session.echo = echo;
  ctx.app.journal.record(() => {
    session.echo = was;
  });
}

/**
 * `session/open`: opens the session, or re-opens it when the peer already has one on this
 * connection; replies `session/opened`, then delivers the offline store.
 *
 * Everything that can fail (signature, the watch and session bounds) is checked before the
 * session opens, so a failed open publishes no presence and creates no watch set
 * [SESSION-OPEN-6], and a failed re-open leaves the session as it was [SESSION-REOPEN-5].
 */
export function handleOpen(ctx: CommandContext, frame: SessionOpen): void {
  const watch = uniqueIds(frame.sessionPeerIds);
  const superPeer = frame.sp === true;
  verifySessionSignature(ctx, frame, watch, superPeer);
  checkWatchLimit(ctx, watch.length);
  const maxSessions = ctx.services.config.limits.maxSessionsPerConnection;
  if (!ctx.session && ctx.conn.sessions.size >= maxSessions) {
    // One socket may carry several peers, but not without bound [LIMIT-SESSIONS-1].
    ctx.fail(ERRORS.LIMIT_EXCEEDED, `a connection may hold at most ${maxSessions} sessions`);
  }
  const maxAppSessions = ctx.services.config.limits.maxSessionsPerApp;
  if (!ctx.session && ctx.app.sessions >= maxAppSessions) {
    // [LIMIT-SESSIONS-APP-1]
    const detail = `the app holds ${ctx.app.sessions} sessions, the server's bound is ${maxAppSessions}`;
    ctx.fail(ERRORS.LIMIT_EXCEEDED, detail);
  }
  // A re-open replaces its watch set: only growth counts [LIMIT-WATCH-CONN-1, LIMIT-WATCH-APP-1].
  checkWatchTotals(ctx, watch.length - (ctx.session?.watch.size ?? 0));

  // A re-open keeps the session: no presence change [SESSION-REOPEN-4].
  const session = ctx.session ?? ctx.services.presence.open(ctx.conn, ctx.app, ctx.peerId);
  // The watch set is exactly the open's distinct ids [SESSION-OPEN-3, SESSION-REOPEN-2].
  const keep = new Set(watch);
  for (const p of [...session.watch]) if (!keep.has(p)) ctx.app.unwatch(session, p);
  for (const p of watch) ctx.app.watch(session, p);
  setEcho(ctx, session, frame.echo === true);
  // Signature verified above (or not enforced) [SUPERPEER-OPEN-1, SESSION-REOPEN-3].
  ctx.app.setSuperPeer(session, superPeer);

  // [SESSION-OPEN-2, SESSION-REOPEN-1]; the announcement of the app [SESSION-INFO-1].
  ctx.reply({
    cmd: "session",
    op: "opened",
    onlineSessionPeerIds: onlineAmong(ctx, watch),
    serverInfo: serverInfo(ctx.services.config, ctx.appConfig),
  });
  // The burst follows the reply with nothing between: this handler emits both in one step,
  // and the engine reads no other frame meanwhile [OFFLINE-BURST-1].
  deliverPending(ctx, session);
}

/**
 * `session/add`: adds peers to the watch set [WATCH-ADD-1] and replies with those online
 * [WATCH-ADD-2]. Signed without super-peer suffix [SIG-SP-4]; fails whole, watch set
 * unchanged, past 10000 peers [WATCH-LIMIT-1].
 */
export function handleAdd(ctx: CommandContext, frame: SessionAdd): void {
  const session = ctx.requireSession();
  const added = uniqueIds(frame.sessionPeerIds);
  verifySessionSignature(ctx, frame, added, false);
  let size = session.watch.size;
  for (const p of added) if (!session.watch.has(p)) size++;
  checkWatchLimit(ctx, size);
  checkWatchTotals(ctx, size - session.watch.size);
  for (const p of added) ctx.app.watch(session, p);
  ctx.reply({ cmd: "session", op: "added", onlineSessionPeerIds: onlineAmong(ctx, added) });
}

/**
 * `session/remove`: removes peers from the watch set [WATCH-REMOVE-1]; peers not watched
 * are no error [WATCH-REMOVE-2]. Replied to only when the command carries `i`
 * [SERIAL-REPLY-1, SERIAL-LEGACY-2].
 */
export function handleRemove(ctx: CommandContext, frame: SessionRemove): void {
  const session = ctx.requireSession();
  for (const p of uniqueIds(frame.sessionPeerIds)) ctx.app.unwatch(session, p);
  if (ctx.serial !== undefined) ctx.reply({ cmd: "session", op: "removed" });
}

/**
 * `session/query`: which of the peers are online, watched or not [WATCH-QUERY-1]; the
 * watch set does not change [WATCH-QUERY-2], and no signature is needed [SIG-ENFORCE-2].
 */
export function handleQuery(ctx: CommandContext, frame: SessionQuery): void {
  ctx.requireSession();
  const ids = uniqueIds(frame.sessionPeerIds);
  ctx.reply({ cmd: "session", op: "query-result", onlineSessionPeerIds: onlineAmong(ctx, ids) });
}

/**
 * `session/close`: ends the session of `peerId` on this connection [SESSION-CLOSE-1] and
 * keeps the connection open [SESSION-CLOSE-2]. Replied to only when the command carries
 * `i` [SERIAL-REPLY-1, SERIAL-LEGACY-2].
 */
export function handleClose(ctx: CommandContext, _frame: SessionClose): void {
  const session = ctx.requireSession();
  ctx.services.presence.end(ctx.conn, ctx.app, session, ctx.now);
  if (ctx.serial !== undefined) ctx.reply({ cmd: "session", op: "closed" });
}

/** The handlers of the session family, by registry name; the engine's table is the union of these. */
export const SESSION_HANDLERS = {
  "session/open": handleOpen,
  "session/add": handleAdd,
  "session/remove": handleRemove,
  "session/query": handleQuery,
  "session/close": handleClose,
} satisfies Handlers;
