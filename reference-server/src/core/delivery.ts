/**
 * Deliveries: the s2c `direct` frame of a stored or live message, and the offline burst a
 * session gets when it opens (spec/03-messages.md 3.3 and 3.5). Shared by the `direct`
 * handler and `session/open`, which is why it is a module of its own.
 * @module
 */
import type { DirectDelivery, OmitEach } from "@confab/protocol";
import type { StoredMessage } from "../store/store.js";
import type { CommandContext } from "./context.js";
import type { Session } from "./state.js";

/** An s2c `direct` before it is addressed to a session. */
export type DeliveryBody = OmitEach<DirectDelivery, "peerId" | "i">;

/** The fields of a message that a delivery carries. */
export type Deliverable = Pick<
  StoredMessage,
  "id" | "msg" | "fromPeerId" | "timestamp" | "roomId" | "toPeerIds"
>;

/**
 * The s2c `direct` frame of a message (without `peerId`, which `sendTo` sets per session
 * [DIRECT-DELIVER-1]). `offline` is true only for deliveries from the offline store
 * [DIRECT-DELIVER-2, OFFLINE-OPEN-1]; a peer message carries its distinct recipients, a
 * group message its group [DIRECT-TO-1, ROOM-MSG-2].
 */
export function deliveryFrame(m: Deliverable, offline: boolean, transient: boolean): DeliveryBody {
  const frame: DeliveryBody = {
    cmd: "direct",
    id: m.id, // [DIRECT-ID-1] transient messages too
    msg: m.msg,
    fromPeerId: m.fromPeerId,
    timestamp: m.timestamp,
    offline,
  };
  if (transient) frame.transient = true; // [TRANSIENT-DELIVER-1]
  if (m.roomId !== undefined) frame.roomId = m.roomId;
  else frame.toPeerIds = [...m.toPeerIds];
  return frame;
}

/**
 * Sends a session the messages pending for its peer, oldest first, with `offline: true`
 * [OFFLINE-OPEN-1, OFFLINE-ORDER-1], to that session only [OFFLINE-SCOPE-1]. Messages
 * older than the offline age limit are not delivered (the store drops them)
 * [OFFLINE-AGE-1]. Delivering does not remove anything: only a client `ack` does
 * [OFFLINE-LIVE-1].
 *
 * Called by `session/open` right after its `session/opened` reply. The reply is already
 * out, so a store failure here cannot fail the command any more (a second frame with the
 * same `i` would break SERIAL-REPLY-1): it is logged and the messages stay pending for the
 * next open.
 */
export function deliverPending(ctx: CommandContext, session: Session): void {
  const { limits } = ctx.services.config;
  const notBefore = ctx.now - limits.offlineTtlMs;
  let pending: StoredMessage[];
  try {
    pending = ctx.store.pendingFor(ctx.appConfig.appId, session.peerId, notBefore);
  } catch (err) {
    ctx.services.record("store-failed", {
      conn: session.conn,
      peerId: session.peerId,
      what: "read the offline store",
      error: String(err instanceof Error ? err.message : err),
    });
    return;
  }
  for (const m of pending) {
    // The store drops expired entries; this guard keeps OFFLINE-AGE-1 whatever it does.
    if (m.timestamp < notBefore) continue;
    ctx.sendTo(session, deliveryFrame(m, true, false));
  }
}
