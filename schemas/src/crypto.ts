/**
 * Signatures and conversation ids (spec/06-signatures.md, spec/05-history.md). Node-only
 * (uses node:crypto), hence a separate entry point `@confab/schemas/crypto`.
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** Sorts ids by UTF-16 code unit order, the order the spec fixes for signed strings. */
function sorted(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The super-peer suffix a signer appends; servers also accept the documented `su`. */
export type SuperPeerSuffix = "sp" | "su";

/**
 * The string signed for `session/open` and `session/add`:
 * `app_id:peer_id:watch_peer_ids:timestamp:nonce[:sp]`, watch ids sorted and `:`-joined.
 */
export function sessionSignedString(args: {
  appId: string;
  peerId: string;
  watchPeerIds: readonly string[];
  timestamp: number;
  nonce: string;
  superPeer?: SuperPeerSuffix | undefined;
}): string {
  const parts = [
    args.appId,
    args.peerId,
    sorted(args.watchPeerIds).join(":"),
    String(args.timestamp),
    args.nonce,
  ];
  if (args.superPeer) parts.push(args.superPeer);
  return parts.join(":");
}

/** The group actions that are signed. `leave` never is. */
export type GroupAction = "join" | "invite" | "kick";

/**
 * The string signed for `room/join`, `room/invite`, `room/kick`:
 * `app_id:peer_id:group_id:group_peer_ids:timestamp:nonce:action`.
 */
export function groupSignedString(args: {
  appId: string;
  peerId: string;
  roomId: string | undefined;
  roomPeerIds: readonly string[];
  timestamp: number;
  nonce: string;
  action: GroupAction;
}): string {
  return [
    args.appId,
    args.peerId,
    args.roomId ?? "",
    sorted(args.roomPeerIds).join(":"),
    String(args.timestamp),
    args.nonce,
    args.action,
  ].join(":");
}

/** HMAC-SHA1 of `signed` keyed with the master key, lowercase hex. */
export function sign(masterKey: string, signed: string): string {
  return createHmac("sha1", masterKey).update(signed, "utf8").digest("hex");
}

/** Compares a received signature with the expected one in constant time. */
export function signatureMatches(masterKey: string, signed: string, received: string): boolean {
  const expected = Buffer.from(sign(masterKey, signed), "utf8");
  const got = Buffer.from(received, "utf8");
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/**
 * Conversation id of a peer-to-peer message: lowercase hex md5 of the participants
 * (sender and recipients), deduplicated, sorted, joined with `:`.
 */
export function conversationId(participants: readonly string[]): string {
  return createHash("md5").update(sorted(participants).join(":"), "utf8").digest("hex");
}
