/**
 * Admission: the checks of ERROR-ORDER-1 that come before any handler runs, as pure
 * functions of the frame (and the app), so that each step is tested alone and the engine
 * only sequences them. Steps: (1) size, JSON and object [FRAME-SIZE-1, FRAME-JSON-1,
 * FRAME-JSON-2]; (3) the app and the origin; (4) the `peerId` of a `session/open`; (5) the
 * schema, the serial and the strings; (6) `msg` size and id-array counts. Steps (2), the
 * keepalive, and (7) to (9) need the connection's state and stay in the engine and the
 * handlers.
 * @module
 */
import {
  ERRORS,
  type ErrorSpec,
  type FieldError,
  findEntry,
  formatErrors,
  isValidId,
  MAX_SERIAL,
  type ValidationResult,
} from "@confab/protocol";
import type { AppConfig } from "./config.js";

/** A failed check: the error and the detail that names the field [ERROR-FRAME-4]. */
export interface Problem {
  readonly spec: ErrorSpec;
  readonly detail: string;
}

/** Whether `v` is a JSON object (not null, not an array). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The serial `i` when it is an integer from 0 to 2147483647 [SERIAL-INVALID-1]. */
export const validSerial = (v: unknown): number | undefined =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_SERIAL
    ? (v as number)
    : undefined;

/**
 * Whether a connection may bind to `app` [FRAME-ORIGIN-2]. A handshake without `Origin`
 * does not come from a web page, which is all an origin check can protect.
 */
export function originAllowed(app: AppConfig, origin: string | undefined): boolean {
  if (!app.allowedOrigins || app.allowedOrigins.length === 0) return true;
  return origin === undefined || app.allowedOrigins.includes(origin);
}

/** A copy of `frame` without `s`, `t` and `n`, which an app without enforcement ignores. */
export function withoutSignature(frame: Record<string, unknown>): Record<string, unknown> {
  const { s: _s, t: _t, n: _n, ...rest } = frame;
  return rest;
}

/**
 * The path of the first string with an unpaired surrogate among the fields the command's
 * schema defines; unknown fields are ignored whatever they hold [VERSION-UNKNOWN-1].
 */
export function unpairedSurrogate(
  frame: Record<string, unknown>,
  fields: readonly string[],
): string | undefined {
  const scan = (v: unknown, path: string): string | undefined => {
    if (typeof v === "string") return v.isWellFormed() ? undefined : path;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const hit = scan(v[i], `${path}/${i}`);
        if (hit !== undefined) return hit;
      }
    } else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        const hit = scan(x, `${path}/${k}`);
        if (hit !== undefined) return hit;
      }
    }
    return undefined;
  };
  for (const field of fields) {
    if (!Object.hasOwn(frame, field)) continue;
    const hit = scan(frame[field], `/${field}`);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

const detailOf = (errors: readonly FieldError[]) => formatErrors(errors);
const isMsgSize = (e: FieldError) =>
  e.path === "/msg" && (e.rule === "maxUtf8Bytes" || e.rule === "maxLength");
const isCount = (e: FieldError) => e.rule === "maxItems";

/**
 * Steps (4) to (6) of ERROR-ORDER-1 for one command: the `peerId` of a `session/open`
 * (4103), then the schema, the serial and the strings (4114), then the size of `msg`
 * (4109) and the item count of id arrays (4120). `undefined` when the command passes.
 */
export function checkShape(
  name: string,
  frame: Record<string, unknown>,
  result: ValidationResult,
): Problem | undefined {
  const errors = result.ok ? [] : result.errors;
  // (4) [SESSION-OPEN-1]
  if (name === "session/open") {
    const peer = errors.filter((e) => e.path === "/peerId");
    if (peer.length > 0) return { spec: ERRORS.INVALID_LOGIN, detail: detailOf(peer) };
    if (!isValidId(frame.peerId)) {
      return {
        spec: ERRORS.INVALID_LOGIN,
        detail: "/peerId contains an unpaired surrogate (rule wellFormed)",
      };
    }
  }
  // (5) [FRAME-SCHEMA-1, FRAME-SCHEMA-2, SERIAL-INVALID-1, LIMIT-ID-2, LIMIT-EMPTY-1]
  const other = errors.filter((e) => !isMsgSize(e) && !isCount(e));
  if (other.length > 0) return { spec: ERRORS.INVALID_FRAME, detail: detailOf(other) };
  const entry = findEntry("c2s", name);
  const bad = entry && unpairedSurrogate(frame, Object.keys(entry.schema.properties));
  if (bad !== undefined) {
    // [LIMIT-TEXT-1]
    return {
      spec: ERRORS.INVALID_FRAME,
      detail: `${bad} contains an unpaired surrogate (rule wellFormed)`,
    };
  }
  // (6) [LIMIT-MSG-2, LIMIT-ARRAY-1]
  const size = errors.filter(isMsgSize);
  if (size.length > 0) return { spec: ERRORS.MESSAGE_TOO_LONG, detail: detailOf(size) };
  if (errors.length > 0) return { spec: ERRORS.LIMIT_EXCEEDED, detail: detailOf(errors) };
  return undefined;
}

/** The outcome of step (1): a JSON object, or the close that answers the frame. */
export type Parsed =
  | { readonly ok: true; readonly frame: Record<string, unknown> }
  | { readonly ok: false; readonly problem: Problem };

/**
 * Step (1) of ERROR-ORDER-1: a text frame of at most `maxBytes` bytes holding one JSON
 * object; anything else closes the connection, which can no longer be trusted
 * [FRAME-SIZE-1, FRAME-JSON-1, FRAME-JSON-2].
 */
export function parseFrame(text: string, bytes: number, maxBytes: number): Parsed {
  if (bytes > maxBytes) {
    const detail = `a frame of ${bytes} bytes (max ${maxBytes})`;
    return { ok: false, problem: { spec: ERRORS.FRAME_TOO_LONG, detail } };
  }
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      problem: { spec: ERRORS.UNPARSEABLE_RAW_MESSAGE, detail: `not JSON: ${why}` },
    };
  }
  if (!isObject(frame)) {
    const kind = frame === null ? "null" : Array.isArray(frame) ? "an array" : typeof frame;
    const detail = `JSON ${kind}, not an object`;
    return { ok: false, problem: { spec: ERRORS.UNPARSEABLE_RAW_MESSAGE, detail } };
  }
  return { ok: true, frame };
}
