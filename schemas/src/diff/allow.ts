/**
 * The allow-list: deliberate breaks, each recorded with a reason. An allowed break is
 * reported as such and does not fail the gate; an entry that allows no breaking change is
 * stale and fails it, so that the list only shrinks (the expected-failures rule of the
 * conformance kits).
 * @module
 */
import type { ChangeRule, SchemaChange } from "./types.js";
import { RULE_TABLE } from "./types.js";

/** One deliberate break. */
export interface AllowEntry {
  /** The message, as the report names it: `c2s direct`, `s2c session/opened`. */
  readonly message: string;
  /** The JSON pointer of the changed node, as the report gives it (`""`: the message). */
  readonly pointer: string;
  /** The rule, to allow one change of the node and not another; any rule when absent. */
  readonly rule?: ChangeRule;
  /** The keyword, for the same purpose (`maxLength`); any keyword when absent. */
  readonly keyword?: string;
  /** Why the break is deliberate: required, since the list is read by reviewers. */
  readonly reason: string;
}

/** An allow-list file that cannot be used. */
export class AllowListError extends Error {
  override readonly name = "AllowListError";
}

const KEYS = new Set(["message", "pointer", "rule", "keyword", "reason"]);

/**
 * Parses an allow-list file: a JSON array of {@link AllowEntry}. Unknown members are
 * refused, so that a misspelt `pointr` does not silently allow more than meant.
 */
export function parseAllowList(text: string): AllowEntry[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AllowListError(`not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(value)) throw new AllowListError("must be a JSON array of entries");
  return value.map((raw, i) => {
    const where = `entry ${i}`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw new AllowListError(`${where} is not an object`);
    const e = raw as Record<string, unknown>;
    for (const k of Object.keys(e))
      if (!KEYS.has(k)) throw new AllowListError(`${where} has an unknown member ${k}`);
    if (typeof e.message !== "string" || e.message === "")
      throw new AllowListError(`${where} needs a message ("c2s direct")`);
    if (typeof e.pointer !== "string")
      throw new AllowListError(`${where} needs a pointer ("" for the message itself)`);
    if (typeof e.reason !== "string" || e.reason.trim() === "")
      throw new AllowListError(`${where} needs a reason`);
    if (e.rule !== undefined && !(typeof e.rule === "string" && Object.hasOwn(RULE_TABLE, e.rule)))
      throw new AllowListError(`${where} has an unknown rule ${String(e.rule)}`);
    if (e.keyword !== undefined && typeof e.keyword !== "string")
      throw new AllowListError(`${where} has a keyword that is not a string`);
    return {
      message: e.message,
      pointer: e.pointer,
      reason: e.reason,
      ...(e.rule === undefined ? {} : { rule: e.rule as ChangeRule }),
      ...(e.keyword === undefined ? {} : { keyword: e.keyword as string }),
    };
  });
}

/** Whether an entry allows a change. */
export function allows(entry: AllowEntry, change: SchemaChange): boolean {
  return (
    entry.message === change.message &&
    entry.pointer === change.pointer &&
    (entry.rule === undefined || entry.rule === change.rule) &&
    (entry.keyword === undefined || entry.keyword === change.keyword)
  );
}
