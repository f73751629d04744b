/**
 * Direct-message family: send, server `ack`, live delivery, echo, offline store, client
 * `ack` and receipts (spec/03-messages.md; group messages, spec/04-groups.md 4.4;
 * decisions D5–D7).
 *
 * Every handler here checks everything first and changes state or emits frames only after
 * the last check passed, so that a failed command has no effect but its `error` frame
 * [ERROR-NOEFFECT-1, DIRECT-REJECT-1]. Store writes come before any frame: the adapter
 * commits the store before it releases a turn's frames, so neither the `ack` nor a delivery
 * can reach a socket before the message is durable [ACK-DURABLE-1, ACK-DURABLE-2].
 * @module
 */
import type { ClientAck, DirectSend, PushNotice } from "@confab/protocol";
import { conversationId, ERRORS, uniqueIds } from "@confab/protocol";
import type { StoredMessage } from "../store/store.js";
import type { CommandContext, Handlers } from "./context.js";
import { deliveryFrame } from "./delivery.js";
import type { Session } from "./state.js";

/** Who a `direct` goes to, once its target is checked. */
interface Target {
  /** The peers the message is for, without the sender, each once. */
  readonly recipients: readonly string[];
  /** The group of a group message. */
  readonly roomId: string | undefined;
  /** The conversation id [CONVID-PEER-1, CONVID-ROOM-1]. */
  readonly cid: string;
}

/**
 * The recipients of a peer message: `toPeerIds` without duplicates [DIRECT-TARGET-2] and
 * without the sender [DIRECT-SELF-1]; 4401 when nobody is left [DIRECT-SELF-2] or, in an
 * app that enforces signatures, when a session that is not a super peer does not watch
 * every one of them (all or nothing) [DIRECT-PERM-2, SUPERPEER-SEND-1, DIRECT-PERM-1].
 */
function peerTarget(ctx: CommandContext, session: Session, toPeerIds: readonly string[]): Target {
  const recipients = uniqueIds(toPeerIds).filter((p) => p !== ctx.peerId);
  if (recipients.length === 0) {
    ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, "toPeerIds names no peer other than the sender");
  }
  if (ctx.appConfig.enforceSignatures && !session.sp) {
    const unwatched = recipients.filter((p) => !session.watch.has(p));
    if (unwatched.length > 0) {
      ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `not watched: ${unwatched.join(", ")}`);
    }
  }
  // The participants are the sender and the recipients [CONVID-PEER-1].
  return { recipients, roomId: undefined, cid: peerConversationId(ctx.peerId, recipients) };
}

/** Conversation ids of recent participant lists (see peerConversationId). */
const conversationIds = new Map<string, string>();
/** The bound of {@link conversationIds}: past it, it starts over. */
const CONVERSATION_IDS = 4096;

/**
 * The protocol's conversationId of the sender and the recipients, remembered: a sender
 * writes to the same peers again and again, and the md5 of the protocol package (pure
 * JavaScript, for browsers) was 3% of W2 (issue 11). The key is length-prefixed, so two lists
 * share it only when they are equal.
 */
function peerConversationId(sender: string, recipients: readonly string[]): string {
  let key = `${sender.length}:${sender}`;
  for (const p of recipients) key += `${p.length}:${p}`;
  let cid = conversationIds.get(key);
  if (cid === undefined) {
    cid = conversationId([sender, ...recipients]);
    if (conversationIds.size >= CONVERSATION_IDS) conversationIds.clear();
    conversationIds.set(key, cid);
  }
  return cid;
}

/**
 * The recipients of a group message: every member but the sender, as of now [ROOM-MSG-2,
 * ROOM-MSG-3]. 4404 for an unknown group before 4401 for a non-member [ROOM-UNKNOWN-1,
 * ROOM-MSG-1, ERROR-ORDER-1]; no watch check [ROOM-MSG-4].
 */
function roomTarget(ctx: CommandContext, roomId: string): Target {
  const appId = ctx.appConfig.appId;
  const members = ctx.storeWork("read the group", () =>
    ctx.store.roomExists(appId, roomId) ? ctx.store.members(appId, roomId) : undefined,
  );
  if (members === undefined) ctx.fail(ERRORS.ROOM_NOT_FOUND, `no group ${roomId}`);
  if (!members.includes(ctx.peerId)) {
    ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `${ctx.peerId} is not a member of ${roomId}`);
  }
  // The group id is the conversation id [CONVID-ROOM-1].
  return { recipients: members.filter((p) => p !== ctx.peerId), roomId, cid: roomId };
}

/**
 * `direct`: checks the target, then stores the message and its pending entries (unless
 * transient), answers with the `ack`, delivers to every open session of every recipient and
 * echoes to the sender's other sessions.
 */
export function handleDirect(ctx: CommandContext, frame: DirectSend): void {
  // [DIRECT-TARGET-1] The schema (oneOf) already answers both-or-neither with 4114 at
  // step (5) of ERROR-ORDER-1; this guard only keeps the handler honest on its own.
  if ((frame.roomId === undefined) === (frame.toPeerIds === undefined)) {
    ctx.fail(ERRORS.INVALID_FRAME, "a direct needs exactly one of toPeerIds and roomId");
  }
  const session = ctx.requireSession(); // (7) 4105 [SESSION-REQUIRED-1]
  const appId = ctx.appConfig.appId;
  const transient = frame.transient === true;
  // (9) the command's own rules [ERROR-ORDER-1]; the same for transient messages
  // [TRANSIENT-PERM-1].
  const { recipients, roomId, cid } =
    frame.roomId !== undefined
      ? roomTarget(ctx, frame.roomId)
      : peerTarget(ctx, session, frame.toPeerIds ?? []);

  // Every accepted message gets a fresh id and the acceptance time [ACK-ID-1].
  const { id, timestamp } = ctx.services.ids.next(ctx.now);
  const message: StoredMessage = {
    id,
    appId,
    cid,
    fromPeerId: ctx.peerId,
    // The recipients, never the sender [DIRECT-SELF-1]; a group message names its group.
    toPeerIds: roomId === undefined ? recipients : [],
    roomId,
    msg: frame.msg,
    timestamp,
    // A receipt request only on a persistent peer message with exactly one recipient
    // [RECEIPT-REQUEST-1, RECEIPT-IGNORE-1].
    receipt: frame.r === true && !transient && roomId === undefined && recipients.length === 1,
  };

  // Peers without an open session on any connection [OFFLINE-PUSH-2]; the sender is never a
  // recipient [DIRECT-SELF-1, ROOM-MSG-3, OFFLINE-PUSH-5].
  const online: string[] = [];
  const offline: string[] = [];
  for (const p of recipients) (ctx.app.isOnline(p) ? online : offline).push(p);

  if (!transient) {
    // History and one pending entry per recipient, never the sender [OFFLINE-PENDING-1,
    // ECHO-STORE-1, ROOM-MSG-3]; the store evicts the oldest past the limit
    // [OFFLINE-LIMIT-1]. Transient messages are neither [TRANSIENT-STORE-1,
    // TRANSIENT-HISTORY-1].
    const limit = ctx.services.config.limits.maxOfflinePerPeer;
    ctx.storeWork("store the message", () => {
      ctx.store.insertMessage(message);
      // Online recipients first: a store may keep a fresh message's first entries together
      // until their acks come (SqliteStore's pending sets), which an offline peer's would
      // only hold up until a bound moved it to a row: three writes where one row does
      // (issue 11).
      ctx.store.addPendingMany(appId, online, id, timestamp, limit);
      ctx.store.addPendingMany(appId, offline, id, timestamp, limit);
      // [LIMIT-STORE-2] Counted after the writes, so that evictions count; the failure rolls
      // them back: no ack, no history, no delivery [ERROR-NOEFFECT-1].
      const maxPending = ctx.services.config.limits.maxPendingPerApp;
      if (ctx.store.pendingCount(appId) > maxPending) {
        ctx.fail(ERRORS.LIMIT_EXCEEDED, `the app holds its most pending messages (${maxPending})`);
      }
    });
  }

  // [ACK-REPLY-1] A persistent message is always acknowledged; a transient one only when
  // the command carries `i` [TRANSIENT-ACK-1, TRANSIENT-ACK-2]. The adapter releases it only
  // after committing the writes above [ACK-DURABLE-1].
  if (!transient || ctx.serial !== undefined) ctx.reply({ cmd: "ack", t: timestamp, uid: id });

  // Live: every open session of every recipient, and those of the sender's other sessions
  // that asked for echo, never the sending one [DIRECT-DELIVER-1, ECHO-OTHER-2, ECHO-OFF-1,
  // ECHO-NOTSELF-1, DIRECT-ONLY-1]: the legacy client shows every delivery as received, so
  // it must never get its own sends. Frames go out in acceptance order [DIRECT-ORDER-1].
  const live = deliveryFrame(message, false, transient);
  ctx.sendToPeers(recipients, live);
  for (const s of ctx.app.sessionsOf(ctx.peerId)) {
    if (s !== session && s.echo === true) ctx.sendTo(s, live);
  }

  // Last, after the ack and the deliveries: the adapter releases it after the same commit
  // and never waits for it [OFFLINE-PUSH-4, OFFLINE-PUSH-11]. Never for a transient message
  // [OFFLINE-PUSH-3]; a failed command never gets here, and the engine drops the outputs
  // of one that fails later [OFFLINE-PUSH-4].
  if (!transient && ctx.appConfig.pushUrl !== undefined) {
    if (offline.length > 0) {
      ctx.services.emit({
        type: "notify",
        appId,
        notice: pushNotice(message, offline, ctx.appConfig.pushIncludeText === true),
      });
    }
  }
}

/**
 * The body of an offline notification [OFFLINE-PUSH-6]: one per message, naming every
 * offline recipient, with the text only when the app asks for it [OFFLINE-PUSH-7].
 */
function pushNotice(message: StoredMessage, offline: string[], withText: boolean): PushNotice {
  return {
    appId: message.appId,
    id: message.id,
    fromPeerId: message.fromPeerId,
    offlinePeerIds: offline,
    ...(message.roomId !== undefined && { roomId: message.roomId }),
    timestamp: message.timestamp,
    ...(withText && { msg: message.msg }),
  };
}

/**
 * `ack` from a client: removes the acknowledged messages from the peer's offline store
 * [ACK-REMOVE-1], ignoring ids that are unknown, transient or not pending for the peer
 * [ACK-IGNORE-1]. The first acknowledgement of a message that requested a receipt sends an
 * `rcp` to every session of the sender open now [RECEIPT-SEND-1]; the pending entry is
 * removed at that moment, so there is never a second one [RECEIPT-ONCE-1], and nothing is
 * kept for a sender session that opens later [RECEIPT-STORE-1]. Never replied to on
 * success [SERIAL-ACK-1].
 */
export function handleClientAck(ctx: CommandContext, frame: ClientAck): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  // A message past the offline age is no longer pending (OFFLINE-PENDING-1), though the
  // store may still hold its entry until the peer's next open purges it: its ack is
  // ignored [ACK-IGNORE-1] (removing the dead entry changes nothing anyone can see).
  const notBefore = ctx.now - ctx.services.config.limits.offlineTtlMs;
  const receipts = ctx.storeWork("update the offline store", () => {
    const removed = ctx.store.removePending(appId, ctx.peerId, uniqueIds(frame.ids));
    const out: StoredMessage[] = [];
    for (const id of removed) {
      const m = ctx.store.getMessage(appId, id);
      if (
        m !== undefined &&
        m.timestamp >= notBefore &&
        m.receipt &&
        m.roomId === undefined &&
        m.toPeerIds.length === 1 &&
        m.toPeerIds[0] === ctx.peerId
      ) {
        out.push(m);
      }
    }
    return out;
  });
  for (const m of receipts) {
    // Server time of the acknowledgement, never before the message's own (the engine's
    // message clock does not go backwards either).
    ctx.sendToPeer(m.fromPeerId, { cmd: "rcp", id: m.id, t: Math.max(ctx.now, m.timestamp) });
  }
}

/** The handlers of the direct-message family, by registry name; the engine's table is the union of these. */
export const DIRECT_HANDLERS = {
  direct: handleDirect,
  ack: handleClientAck,
} satisfies Handlers;
