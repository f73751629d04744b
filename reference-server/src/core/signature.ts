/**
 * Signature checks (spec/06-signatures.md, decision D10): HMAC-SHA1 with the app's master
 * key over the signed strings, a timestamp window, and single-use nonces.
 * @module
 */
import {
  type GroupAction,
  groupSignedString,
  sessionSignedString,
  signatureMatches,
} from "@confab/schemas/crypto";
import type { CommandContext } from "./context.js";
import { ERRORS } from "./errors.js";

/** The signature fields of a command. */
interface Signed {
  readonly s?: string | undefined;
  readonly t?: number | undefined;
  readonly n?: string | undefined;
}

/**
 * Checks the common part: present, fresh, then (after the HMAC matched, so that nobody can
 * burn another client's nonce with a forged signature) not replayed.
 */
function verify(ctx: CommandContext, frame: Signed, candidates: readonly string[]): void {
  const key = ctx.appConfig.masterKey;
  if (frame.s === undefined || frame.t === undefined || frame.n === undefined) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, "signature required: s, t and n");
  }
  if (key === undefined) ctx.fail(ERRORS.SIGNATURE_FAILED, "the app has no master key");
  const window = ctx.services.config.signatureWindowS;
  const skew = Math.abs(ctx.now / 1000 - frame.t);
  if (skew > window) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, `timestamp ${frame.t} is outside the ±${window} s window`);
  }
  const s = frame.s;
  if (!candidates.some((signed) => signatureMatches(key, signed, s))) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, "signature does not match");
  }
  const expiresAt = (frame.t + window) * 1000 + window * 1000;
  if (!ctx.store.useNonce(ctx.appConfig.appId, frame.n, expiresAt, ctx.now)) {
    ctx.fail(ERRORS.SIGNATURE_FAILED, "nonce already used");
  }
}

/** Verifies a `session/open` or `session/add` signature when the app enforces them. */
export function verifySessionSignature(
  ctx: CommandContext,
  frame: Signed & { readonly sp?: boolean | undefined },
  watchPeerIds: readonly string[],
): void {
  if (!ctx.appConfig.enforceSignatures) return;
  const base = {
    appId: ctx.appConfig.appId,
    peerId: ctx.peerId,
    watchPeerIds,
    timestamp: frame.t ?? 0,
    nonce: frame.n ?? "",
  };
  // The canonical super-peer suffix is `sp`; the documented `su` is accepted too (D10).
  const candidates = frame.sp
    ? [
        sessionSignedString({ ...base, superPeer: "sp" }),
        sessionSignedString({ ...base, superPeer: "su" }),
      ]
    : [sessionSignedString(base)];
  verify(ctx, frame, candidates);
}

/** Verifies a `room/join`, `room/invite` or `room/kick` signature when enforced. */
export function verifyGroupSignature(
  ctx: CommandContext,
  frame: Signed,
  action: GroupAction,
  roomId: string | undefined,
  roomPeerIds: readonly string[],
): void {
  if (!ctx.appConfig.enforceSignatures) return;
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
