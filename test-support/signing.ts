/**
 * The one test signer and the one test master key. Signatures are built with the protocol
 * package's own `sessionSignedString`, `groupSignedString` and `sign`, which
 * `schemas/test/crypto.test.ts` checks against the spec's vectors and against Node's
 * HMAC-SHA1, so a test that signs here signs exactly as a client must [SIG-SESSION-1]
 * [SIG-GROUP-1].
 *
 * @module
 */
import {
  type GroupAction,
  groupSignedString,
  type SuperPeerSuffix,
  sessionSignedString,
  sign,
} from "@confab/protocol";

/**
 * The master key of every test app that has one. It is the key of the signature vectors
 * of spec/06-signatures.md, so a test can compare a signature with a listed vector.
 */
export const TEST_MASTER_KEY = "masterkey";

/**
 * The three signature fields of a signed command (decision D10). A type rather than an
 * interface, so that it spreads into and passes as a plain frame record.
 */
export type Signature = {
  /** Lowercase hex HMAC-SHA1 of the signed string. */
  readonly s: string;
  /** Signature timestamp, Unix seconds. */
  readonly t: number;
  /** The nonce, used once. */
  readonly n: string;
};

/** What every signature may override. */
export interface SignatureOverrides {
  /** Timestamp, Unix seconds; defaults to now. */
  readonly t?: number | undefined;
  /** Nonce; defaults to {@link freshNonce}. */
  readonly n?: string | undefined;
  /** Master key; defaults to {@link TEST_MASTER_KEY}. */
  readonly key?: string | undefined;
}

/** What a `session/open` or `session/add` signature covers (SIG-SESSION-1). */
export interface SessionSignatureArgs extends SignatureOverrides {
  readonly appId: string;
  readonly peerId: string;
  /** The watch list as sent; the signed string sorts and deduplicates it. */
  readonly watchPeerIds: readonly string[];
  /** The super-peer suffix, for a signature that grants `sp`. */
  readonly superPeer?: SuperPeerSuffix | undefined;
}

/** What a `room/join`, `room/invite` or `room/kick` signature covers (SIG-GROUP-1). */
export interface GroupSignatureArgs extends SignatureOverrides {
  readonly appId: string;
  readonly peerId: string;
  readonly action: GroupAction;
  /** The group, `undefined` for a `room/join` that creates one. */
  readonly roomId: string | undefined;
  /** The members the command names, as sent. */
  readonly roomPeerIds: readonly string[];
}

let nonces = 0;

/** A nonce not used before in this test file (modules are fresh per file). */
export function freshNonce(): string {
  nonces++;
  return `nonce-${nonces}`;
}

/** Now, in Unix seconds: the default signature timestamp. */
function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * Signs an arbitrary signed string with `key`: for tests that build a wrong or unusual
 * signed string on purpose (unsorted ids, another app, a stray suffix).
 */
export function signText(signed: string, key: string = TEST_MASTER_KEY): string {
  return sign(key, signed);
}

/** `s`, `t` and `n` of a `session/open` or `session/add` (SIG-SESSION-1). */
export function sessionSignature(args: SessionSignatureArgs): Signature {
  const t = args.t ?? nowSeconds();
  const n = args.n ?? freshNonce();
  const signed = sessionSignedString({
    appId: args.appId,
    peerId: args.peerId,
    watchPeerIds: args.watchPeerIds,
    timestamp: t,
    nonce: n,
    superPeer: args.superPeer,
  });
  return { s: signText(signed, args.key), t, n };
}

/** `s`, `t` and `n` of a `room/join`, `room/invite` or `room/kick` (SIG-GROUP-1). */
export function groupSignature(args: GroupSignatureArgs): Signature {
  const t = args.t ?? nowSeconds();
  const n = args.n ?? freshNonce();
  const signed = groupSignedString({
    appId: args.appId,
    peerId: args.peerId,
    roomId: args.roomId,
    roomPeerIds: args.roomPeerIds,
    timestamp: t,
    nonce: n,
    action: args.action,
  });
  return { s: signText(signed, args.key), t, n };
}
