/**
 * A case of the kit: a stable hierarchical name (`family/command/behavior`, as
 * connectrpc/conformance names its cases), the requirement IDs it grades, the features and
 * provisions it needs, and the function that runs it against a {@link CaseContext}.
 * @module
 */
import type { CaseContext } from "./context.js";

/**
 * What a case needs of the target beyond the open app. A case whose need the target lacks
 * is reported as not applicable, with the need named.
 */
export type Need =
  /** The shortened limits of spec 10.2 (a second server, or `--short-url`). */
  | "short"
  /** Control of the server's process: SIGKILL and restart (a kit-started target). */
  | "restart"
  /**
   * The server to itself: the case fills a per-app bound that concurrent cases would
   * meet, so it runs alone, after the others (with the restart cases).
   */
  | "alone";

/** One case. */
export interface ServerCase {
  /** `family/command/behavior`, unique in the kit. */
  readonly name: string;
  /** The requirement IDs the case grades; the first is its main one. */
  readonly requirements: readonly string[];
  /** Features that must be in force (`groups`, `receipts`, `history`, …). */
  readonly features?: readonly string[];
  /** Provisions the target must have. */
  readonly needs?: readonly Need[];
  /** The hard bound of the case, ms. Default {@link DEFAULT_CASE_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Runs the case; throws to end it other than passing (see errors.ts). */
  run(ctx: CaseContext): Promise<void>;
}

/** A case's hard bound when it names none, ms. */
export const DEFAULT_CASE_TIMEOUT_MS = 15_000;

/** The shape of a case name: lowercase segments of `[a-z0-9-]`, at least three. */
export const CASE_NAME = /^[a-z0-9][a-z0-9-]*(\/[a-z0-9][a-z0-9-]*){2,}$/;

/** Declares a case (an identity function that keeps the literal types, for readability). */
export function defineCase(c: ServerCase): ServerCase {
  return c;
}
