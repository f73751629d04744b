/**
 * The rules for identifiers (spec/07-limits.md 7.2): peer ids, group ids and nonces share
 * one alphabet and length, app ids another. The JSON Schemas carry the same rules as
 * patterns ({@link ID_PATTERN}, {@link APP_ID_PATTERN}); these functions add what a
 * pattern cannot say (code points, not UTF-16 units; no unpaired surrogates), so that the
 * server, the kit and the client all decide an id the same way.
 * @module
 */
import { APP_ID_PATTERN, ID_PATTERN, MAX_ID_LENGTH } from "./primitives.js";

const ID = new RegExp(ID_PATTERN, "u");
const APP_ID = new RegExp(APP_ID_PATTERN);

/**
 * Whether `v` is a valid peer id, group id or nonce: 1 to 64 Unicode code points, none of
 * them U+0000–U+001F, U+007F or `:` [LIMIT-ID-1]. A string with an unpaired surrogate is
 * not a sequence of Unicode code points, so it is no valid id either [LIMIT-TEXT-1].
 *
 * @example
 * isValidId("alice") // true
 * isValidId("a:b")   // false: ':' separates the parts of a signed string
 */
export function isValidId(v: unknown): v is string {
  if (typeof v !== "string" || !v.isWellFormed() || !ID.test(v)) return false;
  let points = 0;
  for (const _ of v) if (++points > MAX_ID_LENGTH) return false;
  return true;
}

/**
 * Whether `v` has the form of an app id: 1 to 64 characters of `[A-Za-z0-9_.-]`; any other
 * value names no app [LIMIT-APPID-1].
 *
 * @example
 * isAppId("my-app.1") // true
 * isAppId("my app")   // false
 */
export function isAppId(v: unknown): v is string {
  return typeof v === "string" && v.length <= MAX_ID_LENGTH && APP_ID.test(v);
}

/** The rule an app id follows, as a sentence for error messages and usage lines. */
export const APP_ID_RULE = "1..64 characters of [A-Za-z0-9_.-]";

/**
 * Deduplicates ids, keeping first occurrences in order: an id that occurs several times
 * in one array counts once [LIMIT-DUP-1].
 *
 * @example
 * uniqueIds(["b", "a", "b"]) // ["b", "a"]
 */
export function uniqueIds(ids: readonly string[] | undefined): string[] {
  // Most acks carry one id (a receiver acks each delivery): no Set for those (issue 11).
  if (ids === undefined) return [];
  if (ids.length < 2) return [...ids];
  return [...new Set(ids)];
}
