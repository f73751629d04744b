/**
 * Helpers of the protocol-core tests of chapters 01, 02, 06, 07, 08 and 09: harnesses with
 * and without signature enforcement, signing through the shared test signer (the protocol
 * package's signed strings, checked against the spec's vectors, never the server's code),
 * and checks on error frames and closes.
 */
import { readFileSync } from "node:fs";
import { parseErrorTable } from "@confab/protocol";
import {
  freshNonce,
  groupSignature,
  type Signature,
  sessionSignature,
  TEST_MASTER_KEY,
} from "@confab/test-support";
import { expect } from "vitest";
import type { AppConfig, EngineConfig } from "../../src/core/config.js";
import type { ConnectionInfo } from "../../src/core/types.js";
import { FakeConn, type Frame, Harness, nameOf } from "../support/harness.js";

export { FakeConn, type Frame, freshNonce, Harness, nameOf };

/** The `t` of the spec's test vectors (Unix seconds). */
export const T0 = 1417334400;

/**
 * Table 7 of spec/08-errors.md, parsed from the Markdown (by the protocol package's parser,
 * which a conformance kit uses too) so that these tests and the spec cannot drift: code →
 * name and the forms it is sent in.
 */
export const TABLE7: ReadonlyMap<number, { name: string; forms: readonly ("frame" | "close")[] }> =
  parseErrorTable(readFileSync(new URL("../../../spec/08-errors.md", import.meta.url), "utf8"));

/** A harness of app `app1` without signatures, outside development mode. */
export function plainHarness(extra: Partial<EngineConfig> = {}, app: Partial<AppConfig> = {}) {
  return new Harness({
    devMode: false,
    apps: new Map([["app1", { appId: "app1", enforceSignatures: false, ...app }]]),
    ...extra,
  });
}

/**
 * A harness of app `app1` that enforces signatures with the test master key, its clock at
 * the vectors' time {@link T0}.
 */
export function signedHarness(extra: Partial<EngineConfig> = {}, app: Partial<AppConfig> = {}) {
  const h = new Harness({
    devMode: false,
    apps: new Map([
      ["app1", { appId: "app1", masterKey: TEST_MASTER_KEY, enforceSignatures: true, ...app }],
    ]),
    ...extra,
  });
  h.now = T0 * 1000;
  return h;
}

/** Options of a test signature. */
export interface SigOptions {
  readonly t?: number;
  readonly n?: string;
  readonly key?: string;
  readonly suffix?: "sp" | "su";
  readonly appId?: string;
}

/** `s`, `t` and `n` of a `session/open` or `session/add` (SIG-SESSION-1), at the harness's time. */
export function sessionSig(
  h: Harness,
  peerId: string,
  watch: readonly string[],
  o: SigOptions = {},
): Signature {
  return sessionSignature({
    appId: o.appId ?? h.appId,
    peerId,
    watchPeerIds: watch,
    superPeer: o.suffix,
    t: o.t ?? Math.floor(h.now / 1000),
    n: o.n,
    key: o.key,
  });
}

/** `s`, `t` and `n` of a `room/join`, `room/invite` or `room/kick` (SIG-GROUP-1). */
export function groupSig(
  h: Harness,
  peerId: string,
  action: "join" | "invite" | "kick",
  roomId: string | undefined,
  roomPeerIds: readonly string[],
  o: SigOptions = {},
): Signature {
  return groupSignature({
    appId: h.appId,
    peerId,
    action,
    roomId,
    roomPeerIds,
    t: o.t ?? Math.floor(h.now / 1000),
    n: o.n,
    key: o.key,
  });
}

/** Opens a session in a harness that enforces signatures. */
export function signedOpen(c: FakeConn, peerId: string, watch: string[] = [], extra: Frame = {}) {
  return c.open(peerId, watch, { ...sessionSig(c.h, peerId, watch), ...extra });
}

/** A connection whose handshake carried `info` (an `Origin`, say). */
export function connectWith(h: Harness, info: ConnectionInfo): FakeConn {
  const id = 10_000 + h.conns.size;
  const c = new FakeConn(h, id);
  h.conns.set(id, c);
  h.run(h.engine.connect(id, h.now, info));
  return c;
}

/** Sends a binary message of `bytes` bytes. */
export function sendBinary(c: FakeConn, bytes = 4): void {
  c.h.run(c.h.engine.receiveBinary(c.id, bytes, c.h.now));
}

/**
 * Expects that the connection received exactly one frame since the last drain, an `error`
 * with `code` and the fields of `extra`; returns it.
 */
export function expectError(c: FakeConn, code: number, extra: Frame = {}): Frame {
  const frames = c.drain();
  expect(frames, JSON.stringify(frames)).toHaveLength(1);
  const f = frames[0] as Frame;
  expect(f).toMatchObject({ cmd: "error", code, reason: TABLE7.get(code)?.name, ...extra });
  return f;
}

/** Expects the connection to be closed with `code` (and the code's name as reason). */
export function expectClosed(c: FakeConn, code: number): void {
  expect(c.closed).toEqual({ code, reason: TABLE7.get(code)?.name });
}

/** Expects a keepalive to be answered with `{}`: the connection is open and usable. */
export function expectAlive(c: FakeConn): void {
  expect(c.closed).toBeUndefined();
  c.send({});
  expect(c.drain().at(-1)).toEqual({});
}

/** The names of the frames received since the last drain, then drains. */
export function names(c: FakeConn): string[] {
  return c.drain().map(nameOf);
}
