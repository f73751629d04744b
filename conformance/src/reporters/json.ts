/**
 * The JSON reporter: the report as pretty, stable JSON (the file `merge` and later runs read
 * back), and the reader that checks a file is one before anything trusts its fields.
 *
 * Stable means the same report gives the same bytes: the kit's own records are written with
 * their keys in the order of their types in `report.ts` (unknown keys after them, sorted),
 * `target.features` sorted by name, and `undefined` fields left out. Frames and the server's
 * announcement are written as they came from the wire, key order included.
 * @module
 */
import type { Report } from "../report.js";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The key order of each of the kit's records; a record's nested records by key. */
interface Shape {
  readonly keys: readonly string[];
  /** Shapes of the values of these keys (for arrays: of their elements). */
  readonly nested?: Readonly<Record<string, Shape | "sorted" | "verbatim">>;
}

const FAILURE: Shape = { keys: ["requirement", "level", "text", "message", "expected", "actual"] };
const EVENT: Shape = {
  keys: ["t", "conn", "kind", "frame", "text", "code", "problem"],
  nested: { frame: "verbatim" },
};
const CASE: Shape = {
  keys: [
    "name",
    "requirements",
    "grade",
    "durationMs",
    "failure",
    "warnings",
    "reason",
    "baseline",
    "attempts",
    "exchange",
    "replay",
  ],
  nested: {
    failure: FAILURE,
    warnings: FAILURE,
    exchange: EVENT,
    replay: { keys: ["seed", "path", "command", "traceFile"] },
  },
};
const REPORT: Shape = {
  keys: [
    "kit",
    "specRevision",
    "target",
    "profile",
    "seed",
    "shard",
    "merged",
    "startedAt",
    "durationMs",
    "exitCode",
    "summary",
    "chapters",
    "coverage",
    "cases",
  ],
  nested: {
    kit: { keys: ["name", "version"] },
    target: {
      keys: ["url", "httpUrl", "kind", "features", "featureSource", "serverInfo"],
      nested: { features: "sorted", serverInfo: "verbatim" },
    },
    shard: { keys: ["index", "total"] },
    summary: {
      keys: [
        "total",
        "pass",
        "fail",
        "warn",
        "notApplicable",
        "error",
        "expectedFailures",
        "stale",
        "flaky",
      ],
    },
    chapters: {
      keys: ["chapter", "total", "covered", "passed", "failed", "notApplicable", "untested"],
    },
    coverage: {
      keys: ["id", "level", "chapter", "status", "cases"],
      nested: { cases: { keys: ["name", "grade"] } },
    },
    cases: CASE,
  },
};

/** A copy of `value` with its keys in the order `shape` gives, recursively. */
function ordered(value: unknown, shape: Shape | "sorted" | "verbatim"): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v, shape));
  if (value === null || typeof value !== "object" || shape === "verbatim") return value;
  const record = value as Record<string, unknown>;
  const known = shape === "sorted" ? [] : shape.keys;
  const rest = Object.keys(record)
    .filter((k) => !known.includes(k))
    .sort();
  const out: Record<string, unknown> = {};
  for (const key of [...known, ...rest]) {
    if (!Object.hasOwn(record, key) || record[key] === undefined) continue;
    const nested = shape === "sorted" ? "verbatim" : (shape.nested?.[key] ?? "verbatim");
    out[key] = ordered(record[key], nested);
  }
  return out;
}

/** The report as pretty JSON (two-space indent, trailing newline), stable for a given report. */
export function renderJson(report: Report): string {
  return `${JSON.stringify(ordered(report, REPORT) as Json, null, 2)}\n`;
}

const GRADES = new Set(["pass", "fail", "warn", "n/a", "error"]);

/** Why `value` is not a report, or `undefined` when it passes the shape check. */
function problemOf(value: unknown): string | undefined {
  const isObject = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObject(value))
    return `the top level is ${Array.isArray(value) ? "an array" : typeof value}, not an object`;
  const r = value;
  if (!isObject(r.kit) || typeof r.kit.name !== "string" || typeof r.kit.version !== "string")
    return "kit is not {name, version}";
  if (typeof r.specRevision !== "string") return "specRevision is not a string";
  if (!isObject(r.target) || typeof r.target.url !== "string") return "target.url is not a string";
  if (typeof r.profile !== "string") return "profile is not a string";
  if (typeof r.seed !== "number") return "seed is not a number";
  if (typeof r.startedAt !== "string") return "startedAt is not a string";
  if (typeof r.durationMs !== "number") return "durationMs is not a number";
  if (!isObject(r.summary) || typeof r.summary.total !== "number")
    return "summary is not an object with a total";
  if (r.exitCode !== 0 && r.exitCode !== 1 && r.exitCode !== 2) return "exitCode is not 0, 1 or 2";
  if (!Array.isArray(r.coverage)) return "coverage is not an array";
  if (!Array.isArray(r.chapters)) return "chapters is not an array";
  if (!Array.isArray(r.cases)) return "cases is not an array";
  for (const [i, c] of r.cases.entries()) {
    if (!isObject(c) || typeof c.name !== "string") return `cases[${i}] has no name`;
    if (typeof c.grade !== "string" || !GRADES.has(c.grade))
      return `cases[${i}] (${c.name}) has grade ${JSON.stringify(c.grade)}, not one of pass, fail, warn, n/a, error`;
    if (!Array.isArray(c.requirements)) return `cases[${i}] (${c.name}) has no requirements array`;
    if (c.exchange !== undefined && !Array.isArray(c.exchange))
      return `cases[${i}] (${c.name}) has an exchange that is not an array`;
  }
  return undefined;
}

/**
 * Parses a report written by {@link renderJson} (or any JSON of the same shape).
 * @throws Error naming what is wrong when the text is not JSON or not a conformance report
 */
export function readReport(text: string): Report {
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new Error(`not a conformance report: not JSON (${(e as Error).message})`);
  }
  const problem = problemOf(value);
  if (problem !== undefined) throw new Error(`not a conformance report: ${problem}`);
  return value as Report;
}
