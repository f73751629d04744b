/**
 * Checks of the arguments and options an app passes, made before anything is sent, so that
 * a command the protocol forbids fails at once with {@link InvalidArgumentError} and never
 * costs a round trip. The rules are the protocol package's (`isValidId`, `isAppId`, the
 * limits of `primitives.ts`), narrowed by the limits the server announces.
 * @module
 */
import {
  APP_ID_RULE,
  isAppId,
  isValidId,
  MAX_FRAME_BYTES,
  MAX_IDS_PER_FRAME,
  MAX_MSG_BYTES,
  uniqueIds,
} from "@confab/protocol";
import { InvalidArgumentError } from "./errors.js";

const encoder = new TextEncoder();

/** Bytes of `text` in UTF-8. */
export function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** An app id, or throws [LIMIT-APPID-1]. */
export function checkAppId(name: string, value: unknown): string {
  if (!isAppId(value)) throw new InvalidArgumentError(name, `must be ${APP_ID_RULE}`);
  return value;
}

/** A peer id, group id or nonce, or throws [LIMIT-ID-3]. */
export function checkId(name: string, value: unknown): string {
  if (!isValidId(value)) {
    throw new InvalidArgumentError(
      name,
      `${JSON.stringify(value)} is not a valid id (1 to 64 code points, no control characters, no ':')`,
    );
  }
  return value;
}

/**
 * One id or a list of ids, each valid [LIMIT-ID-3], deduplicated (LIMIT-DUP-1), and at most
 * `max` of them [LIMIT-ARRAY-2]; at least one unless `allowEmpty`.
 */
export function checkIds(
  name: string,
  value: unknown,
  options: { max?: number; allowEmpty?: boolean } = {},
): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list))
    throw new InvalidArgumentError(name, "must be an id or an array of ids");
  for (const [k, id] of list.entries()) checkId(`${name}[${k}]`, id);
  const ids = uniqueIds(list as string[]);
  const max = options.max ?? MAX_IDS_PER_FRAME;
  if (ids.length > max)
    throw new InvalidArgumentError(name, `has ${ids.length} ids, at most ${max} allowed`);
  if (ids.length === 0 && !options.allowEmpty) throw new InvalidArgumentError(name, "is empty");
  return ids;
}

/** A message text of at most `maxBytes` bytes of UTF-8 [LIMIT-MSG-3], well formed (LIMIT-TEXT-1). */
export function checkMsg(value: unknown, maxBytes = MAX_MSG_BYTES): string {
  if (typeof value !== "string") throw new InvalidArgumentError("msg", "must be a string");
  if (!value.isWellFormed()) {
    throw new InvalidArgumentError("msg", "contains an unpaired surrogate, which is not text");
  }
  const bytes = utf8Bytes(value);
  if (bytes > maxBytes) {
    throw new InvalidArgumentError(
      "msg",
      `is ${bytes} bytes of UTF-8, at most ${maxBytes} allowed`,
    );
  }
  return value;
}

/**
 * The JSON text of a frame, or throws when it is longer than `maxBytes` (65536) bytes
 * [FRAME-SIZE-3]. `JSON.stringify` of an object never repeats a member name [FRAME-JSON-4];
 * the text goes out as one WebSocket text message, one object per message [FRAME-TEXT-1].
 */
export function encodeFrame(frame: object, maxBytes = MAX_FRAME_BYTES): string {
  const text = JSON.stringify(frame);
  const bytes = utf8Bytes(text);
  if (bytes > maxBytes) {
    throw new InvalidArgumentError(
      "frame",
      `the command would be ${bytes} bytes, over the frame limit of ${maxBytes}: send fewer or shorter ids`,
    );
  }
  return text;
}

/** A non-negative integer option within bounds, or its default. */
export function checkMs(
  name: string,
  value: unknown,
  fallback: number,
  bounds: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = bounds;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(name, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

/** A signature returned by an `auth` or `groupAuth` hook, checked [SIG-SIGN-1, LIMIT-ID-3]. */
export function checkSignature(hook: string, value: unknown): { s: string; t: number; n: string } {
  const sig = value as { s?: unknown; t?: unknown; n?: unknown } | null;
  if (typeof sig !== "object" || sig === null) {
    throw new InvalidArgumentError(hook, "must resolve to { s, t, n }");
  }
  if (typeof sig.s !== "string" || sig.s.length === 0 || sig.s.length > 128) {
    throw new InvalidArgumentError(
      `${hook}().s`,
      "must be the signature, a string of 1 to 128 characters",
    );
  }
  if (typeof sig.t !== "number" || !Number.isInteger(sig.t) || sig.t < 0) {
    throw new InvalidArgumentError(`${hook}().t`, "must be the Unix time in seconds, an integer");
  }
  checkId(`${hook}().n`, sig.n);
  return { s: sig.s, t: sig.t, n: sig.n as string };
}
