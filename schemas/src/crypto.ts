/**
 * Signatures, conversation ids and constant-time comparison (spec/06-signatures.md,
 * spec/05-history.md). Pure JavaScript (`@noble/hashes`), synchronous, and the same in
 * Node and in browsers, so the client SDK signs and derives conversation ids exactly as
 * the server checks them.
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";

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
  return bytesToHex(hmac(sha1, utf8ToBytes(masterKey), utf8ToBytes(signed)));
}

/**
 * Compares two secrets (a signature, a master key) in time that does not depend on where
 * they differ, only on their lengths; `undefined` never matches.
 */
export function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = utf8ToBytes(given);
  const b = utf8ToBytes(expected);
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Compares a received signature with the expected one in constant time [SIG-ALG-3]. */
export function signatureMatches(masterKey: string, signed: string, received: string): boolean {
  return sameSecret(received, sign(masterKey, signed));
}

/**
 * Conversation id of a peer-to-peer message: lowercase hex md5 of the participants
 * (sender and recipients), deduplicated, sorted, joined with `:`.
 */
export function conversationId(participants: readonly string[]): string {
  return bytesToHex(md5(utf8ToBytes(sorted(participants).join(":"))));
}
