/**
 * Admission: the checks of ERROR-ORDER-1 that come before any handler runs, as pure
 * functions of the frame (and the app), so that each step is tested alone and the engine
 * only sequences them. Steps: (1) size, JSON and object [ERROR-ORDER-3, FRAME-SIZE-1,
 * FRAME-JSON-1, FRAME-JSON-2]; (3) the app and the origin [ERROR-ORDER-5]; (4) to (6), the
 * `peerId` of a `session/open`, the schema, the serial and the strings, `msg` size and
 * id-array counts, derived from the schema's annotations [ERROR-ORDER-6 to ERROR-ORDER-8,
 * ERROR-ORDER-12]. Steps (0), (2) and (7) to (9) need the connection's state and stay in
 * the engine and the handlers.
 * @module
 */
import {
  codeOf,
  commandErrors,
  ERRORS,
  type ErrorSpec,
  errorSpecOf,
  type FieldError,
  formatErrors,
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

/**
 * A copy of `frame` without `s`, `t` and `n`, which an app without enforcement ignores: the
 * server rule that comes before the schema, so that the schema never sees them
 * [FRAME-SCHEMA-5, SIG-ENFORCE-3].
 */
export function withoutSignature(frame: Record<string, unknown>): Record<string, unknown> {
  const { s: _s, t: _t, n: _n, ...rest } = frame;
  return rest;
}

/**
 * Steps (3) to (6) of ERROR-ORDER-1 as far as the command's schema decides them, steps (4)
 * to (6) in practice, since the engine resolves the app first: the `peerId` of a
 * `session/open` (4103), the schema, the serial and the strings (4114), the size of `msg`
 * (4109) and the item counts of id arrays (4120). Every failure carries the code that the
 * schema's `x-confab-error` annotations give it [FRAME-SCHEMA-4], the unpaired-surrogate
 * rule included [LIMIT-TEXT-1, SESSION-OPEN-1], and the answer is the first of them in
 * the precedence of ERROR-ORDER-12, with the failures of that code as its detail
 * [ERROR-FRAME-4]. `undefined` when the command passes.
 *
 * `frame` is the command as the schema sees it: without `s`, `t` and `n` when its app does
 * not enforce signatures [FRAME-SCHEMA-5, SIG-ENFORCE-3].
 */
export function checkShape(
  name: string,
  frame: Record<string, unknown>,
  result: ValidationResult,
): Problem | undefined {
  // JSON Schema cannot say "no unpaired surrogate"; the same annotations give its code.
  const errors: FieldError[] = commandErrors(frame, result, name);
  const code = codeOf(errors);
  if (code === undefined) return undefined;
  // Every code an annotation may name is sent as an error frame (Table 7).
  const spec = errorSpecOf(code, "frame") ?? ERRORS.INVALID_FRAME;
  return { spec, detail: formatErrors(errors.filter((e) => e.code === code)) };
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
