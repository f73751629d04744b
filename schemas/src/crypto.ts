/**
 * Signatures, conversation ids and constant-time comparison (spec/06-signatures.md,
 * spec/05-history.md), and the signature of a push-hook notice (spec/03-messages.md 3.10). Pure JavaScript (`@noble/hashes`), synchronous, and the same in
 * Node and in browsers, so the client SDK signs and derives conversation ids exactly as
 * the server checks them.
 * @module
 */
import { hmac } from "@noble/hashes/hmac.js";
import { md5, sha1 } from "@noble/hashes/legacy.js";
import { bytesToHex, concatBytes, utf8ToBytes } from "@noble/hashes/utils.js";

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
 * The string a push notice's signature covers: the `X-Confab-Timestamp` value in decimal,
 * `:`, then the body exactly as sent [OFFLINE-PUSH-8]. The time is inside the signed
 * string so that a receiver that checks it can refuse a replayed POST: a signature of the
 * body alone would let anyone resend it with a fresh timestamp header.
 */
export function pushSignedString(timestamp: number, body: string): string {
  return `${timestamp}:${body}`;
}

/**
 * The value of the `X-Confab-Signature` header of a push notice (`PUSH_SIGNATURE_HEADER`):
 * HMAC-SHA1 of {@link pushSignedString}, keyed with the app's master key, as 40 lowercase
 * hex digits, the algorithm of SIG-ALG-1 [OFFLINE-PUSH-8]. `body` is the body as sent: a
 * string (encoded as UTF-8), or the bytes a receiver read, which are signed exactly as
 * they came, before any decoding.
 */
export function pushSignature(
  masterKey: string,
  timestamp: number,
  body: string | Uint8Array,
): string {
  if (typeof body === "string") return sign(masterKey, pushSignedString(timestamp, body));
  const signed = concatBytes(utf8ToBytes(`${timestamp}:`), body);
  return bytesToHex(hmac(sha1, utf8ToBytes(masterKey), signed));
}

/**
 * Whether `received` (an `X-Confab-Signature` value) signs `timestamp` and `body` with the
 * master key, compared in constant time [OFFLINE-PUSH-8, SIG-ALG-3]. A receiver checks it
 * over the bytes it read, before it parses them.
 */
export function pushSignatureMatches(
  masterKey: string,
  timestamp: number,
  body: string | Uint8Array,
  received: string | undefined,
): boolean {
  return sameSecret(received, pushSignature(masterKey, timestamp, body));
}

/**
 * Conversation id of a peer-to-peer message: lowercase hex md5 of the participants
 * (sender and recipients), deduplicated, sorted, joined with `:`.
 */
export function conversationId(participants: readonly string[]): string {
  return bytesToHex(md5(utf8ToBytes(sorted(participants).join(":"))));
}
