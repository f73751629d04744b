/**
 * Signature checks (spec/06-signatures.md, decision D10): HMAC-SHA1 with the app's master
 * key over the signed strings, a time window, and single-use nonces.
 *
 * A signature is valid when `s`, `t` and `n` are present, `t` is inside the window, `s`
 * is exactly one of the expected signatures, and the nonce is fresh. The checks run in
 * that order, so a nonce is recorded only once its signature verified [SIG-NONCE-3].
 * @module
 */
import {
  ERRORS,
  type GroupAction,
  groupSignedString,
  sameSecret,
  sessionSignedString,
  sign,
} from "@confab/protocol";
import type { CommandContext } from "./context.js";

/** The signature fields of a command. */
interface Signed {
  readonly s?: string | undefined;
  readonly t?: number | undefined;
  readonly n?: string | undefined;
}

/**
 * Whether a signature time `t` (Unix seconds) is within `windowS` seconds of the server
 * clock `nowMs`, read in whole Unix seconds like `t` [SIG-TIME-1].
 */
export function withinWindow(t: number, nowMs: number, windowS: number): boolean {
  return Math.abs(Math.floor(nowMs / 1000) - t) <= windowS;
}

/**
 * Until when (ms, exclusive) a nonce verified with time `t` stays used: while `t` is
 * within the window of the clock [SIG-NONCE-2]; after that it may be used again.
 */
export function nonceExpiry(t: number, windowS: number): number {
  return (t + windowS + 1) * 1000;
}

/**
 * Checks a signature against the signed strings it may sign (several only for the two
 * super-peer suffixes). Fails the command with 4102 when it is not valid.
 */
function verify(ctx: CommandContext, frame: Signed, candidates: readonly string[]): void {
  const { s, t, n } = frame;
  if (s === undefined || t === undefined || n === undefined) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, "a signature is required: s, t and n");
  }
  const key = ctx.appConfig.masterKey;
  if (key === undefined) ctx.fail(ERRORS.SIGNATURE_FAILED, "the app has no master key");
  const window = ctx.services.config.signatureWindowS;
  if (!withinWindow(t, ctx.now, window)) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, `t ${t} is more than ${window} s from the server clock`);
  }
  // Exact, constant-time comparison with the lowercase hex HMAC-SHA1 [SIG-ALG-1..3].
  if (!candidates.some((signed) => sameSecret(s, sign(key, signed)))) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, "s does not match the signed string");
  }
  // Only now, after the HMAC matched, is the nonce recorded: nobody can burn another
  // client's nonce with a forged signature [SIG-NONCE-3]. It stays used whatever the
  // outcome of the command.
  const used = { appId: ctx.appConfig.appId, nonce: n, expiresAt: nonceExpiry(t, window) };
  if (!ctx.store.useNonce(used.appId, used.nonce, used.expiresAt, ctx.now)) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, `nonce ${n} was already used`);
  }
  ctx.usedNonces.push(used);
}

/**
 * Verifies the signature of a `session/open` or `session/add` when the app enforces
 * signatures [SIG-ENFORCE-1, SIG-SESSION-1]. With `superPeer` (only for a `session/open`
 * with `sp: true`) the signed string ends in `:sp`, or the documented `:su`, and the plain
 * string is refused [SIG-SP-1, SIG-SP-2]; a `session/add` never takes a suffix [SIG-SP-4].
 *
 * @param watchPeerIds the command's `sessionPeerIds` (deduplicated and sorted here).
 */
export function verifySessionSignature(
  ctx: CommandContext,
  frame: Signed,
  watchPeerIds: readonly string[],
  superPeer: boolean,
): void {
  if (!ctx.appConfig.enforceSignatures) return; // [SIG-ENFORCE-3]
  const base = {
    appId: ctx.appConfig.appId,
    peerId: ctx.peerId,
    watchPeerIds,
    timestamp: frame.t ?? 0,
    nonce: frame.n ?? "",
  };
  const candidates = superPeer
    ? [
        sessionSignedString({ ...base, superPeer: "sp" }),
        sessionSignedString({ ...base, superPeer: "su" }),
      ]
    : [sessionSignedString(base)];
  verify(ctx, frame, candidates);
}

/**
 * Verifies the signature of a `room/join`, `room/invite` or `room/kick` when the app
 * enforces signatures [SIG-ENFORCE-1, SIG-GROUP-1].
 *
 * @param roomId the command's `roomId` (absent when a join creates a group).
 * @param roomPeerIds the command's `roomPeerIds` (empty for a join).
 */
export function verifyGroupSignature(
  ctx: CommandContext,
  frame: Signed,
  action: GroupAction,
  roomId: string | undefined,
  roomPeerIds: readonly string[],
): void {
  if (!ctx.appConfig.enforceSignatures) return; // [SIG-ENFORCE-3]
  const signed = groupSignedString({
    appId: ctx.appConfig.appId,
    peerId: ctx.peerId,
    roomId,
    roomPeerIds,
    timestamp: frame.t ?? 0,
    nonce: frame.n ?? "",
    action,
  });
  verify(ctx, frame, [signed]);
}
