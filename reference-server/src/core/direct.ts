/**
 * Direct-message family: send, ack, live delivery, echo, offline store, receipts
 * (spec/03-messages.md, decisions D5–D7).
 * @module
 */
import type { ClientAck, DirectSend } from "@confab/schemas";
import { conversationId } from "@confab/schemas/crypto";
import type { StoredMessage } from "../store/store.js";
import type { CommandContext } from "./context.js";
import { ERRORS } from "./errors.js";
import { unique } from "./session.js";
import type { Session } from "./state.js";

/** The delivery frame of a stored or live message. */
function deliveryFrame(
  m: Pick<StoredMessage, "id" | "msg" | "fromPeerId" | "timestamp" | "roomId" | "toPeerIds">,
  offline: boolean,
  transient: boolean,
): Record<string, unknown> {
  const frame: Record<string, unknown> = {
    cmd: "direct",
    id: m.id,
    msg: m.msg,
    fromPeerId: m.fromPeerId,
    timestamp: m.timestamp,
    offline,
  };
  if (transient) frame.transient = true;
  if (m.roomId !== undefined) frame.roomId = m.roomId;
  else frame.toPeerIds = [...m.toPeerIds];
  return frame;
}

/** Sends a session its pending offline messages, oldest first, with `offline: true` (D6). */
export function deliverPending(ctx: CommandContext, session: Session): void {
  const { limits } = ctx.services.config;
  const pending = ctx.store.pendingFor(
    ctx.appConfig.appId,
    session.peerId,
    ctx.now - limits.offlineTtlMs,
  );
  for (const m of pending) ctx.sendTo(session, deliveryFrame(m, true, false));
}

/** `direct`: validates the target, stores (unless transient), delivers, acks. */
export function handleDirect(ctx: CommandContext, frame: DirectSend): void {
  const session = ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const transient = frame.transient === true;
  let recipients: string[];
  let roomId: string | undefined;
  let toPeerIds: string[] = [];
  let cid: string;

  if (frame.roomId !== undefined) {
    roomId = frame.roomId;
    if (!ctx.store.roomExists(appId, roomId)) ctx.fail(ERRORS.ROOM_NOT_FOUND, `no group ${roomId}`);
    const members = ctx.store.members(appId, roomId);
    if (!members.includes(ctx.peerId)) {
      ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `${ctx.peerId} is not a member of ${roomId}`);
    }
    recipients = members.filter((p) => p !== ctx.peerId);
    cid = roomId;
  } else {
    toPeerIds = unique(frame.toPeerIds);
    // With enforced signatures a peer may message only the peers it watches, unless it is
    // a super peer (decision D4).
    if (ctx.appConfig.enforceSignatures && !session.sp) {
      const unwatched = toPeerIds.filter((p) => !session.watch.has(p));
      if (unwatched.length > 0) {
        ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `not watched: ${unwatched.join(", ")}`);
      }
    }
    recipients = toPeerIds.filter((p) => p !== ctx.peerId);
    cid = conversationId([ctx.peerId, ...toPeerIds]);
  }

  const { id, timestamp } = ctx.services.nextMessage(ctx.now);
  const message: StoredMessage = {
    id,
    appId,
    cid,
    fromPeerId: ctx.peerId,
    toPeerIds,
    roomId,
    msg: frame.msg,
    timestamp,
    // Receipts only for a persistent message with exactly one recipient (decision D7).
    receipt:
      frame.r === true &&
      !transient &&
      roomId === undefined &&
      recipients.length === 1 &&
      toPeerIds.length === 1,
  };

  if (!transient) {
    ctx.store.insertMessage(message);
    const limit = ctx.services.config.limits.maxOfflinePerPeer;
    for (const p of recipients) ctx.store.addPending(appId, p, id, timestamp, limit);
  }

  const live = deliveryFrame(message, false, transient);
  for (const p of recipients) ctx.sendToPeer(p, live);
  // Echo to the sender's other devices, never back to the sending session (decision D5).
  ctx.sendToPeer(ctx.peerId, live, session);

  // The adapter releases this ack only after the store committed the message (D5).
  if (!transient || ctx.serial !== undefined) ctx.reply({ cmd: "ack", t: timestamp, uid: id });
}

/** `ack` from a client: removes acked messages from its offline store; fires receipts. */
export function handleClientAck(ctx: CommandContext, frame: ClientAck): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const removed = ctx.store.removePending(appId, ctx.peerId, unique(frame.ids));
  for (const id of removed) {
    const m = ctx.store.getMessage(appId, id);
    // The first ack of the single recipient confirms delivery: one receipt, to every open
    // session of the sender, not stored (decision D7).
    if (m?.receipt && m.toPeerIds[0] === ctx.peerId) {
      ctx.sendToPeer(m.fromPeerId, { cmd: "rcp", id: m.id, t: ctx.now });
    }
  }
}
