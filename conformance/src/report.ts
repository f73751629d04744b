/**
 * The report of a conformance run: one object that every reporter (tty, JSON, JUnit, HTML)
 * renders and that `confab-conformance merge` joins across shards. It is plain JSON, so a
 * report written by one run can be read back by another.
 * @module
 */
import type { Requirement, Requirements } from "./requirements.js";
import { UNTESTED } from "./untested.js";

/**
 * How a case ended. `pass`; `fail`, a MUST broken; `warn`, only a SHOULD or MAY broken;
 * `n/a`, a feature or provision the target does not have (never a silent skip); `error`,
 * the kit itself could not run the case (a harness error: its own invalid frame, a crash).
 */
export type Grade = "pass" | "fail" | "warn" | "n/a" | "error";

/** Where a case's result stands against the baseline files. */
export type BaselineStatus =
  /** Listed in the expected failures and failed: does not fail the run. */
  | "expected-failure"
  /** Listed in the expected failures but passed: fails the run, so the list only shrinks. */
  | "stale"
  /** Listed as flaky: its failure does not fail the run. */
  | "flaky";

/** One event of a case's exchange with the server, in order, for the sequence diagram. */
export interface ExchangeEvent {
  /** Milliseconds since the case started. */
  readonly t: number;
  /** The connection's label (`c1`, `c2`, …), or `http` for a REST or router request. */
  readonly conn: string;
  /** What happened. */
  readonly kind: "connect" | "send" | "recv" | "close" | "http" | "note";
  /** The frame sent or received, as parsed JSON. */
  readonly frame?: unknown;
  /** A raw message (not JSON, binary as hex, cut to a bound), a note, or a request line. */
  readonly text?: string;
  /** A close code, or an HTTP status. */
  readonly code?: number;
  /** A schema problem of a received frame, or why a sent frame was deliberately invalid. */
  readonly problem?: string;
}

/** Why a case did not pass. */
export interface Failure {
  /** The requirement broken. */
  readonly requirement: string;
  /** Its level: MUST fails the case, SHOULD and MAY warn. */
  readonly level: Requirement["level"] | "unknown";
  /** The requirement's text. */
  readonly text: string;
  /** What went wrong, in one sentence. */
  readonly message: string;
  /** What the spec expects, when it is a value. */
  readonly expected?: string;
  /** What came instead. */
  readonly actual?: string;
}

/** The result of one case. */
export interface CaseResult {
  /** The case's stable name, `family/command/behavior`. */
  readonly name: string;
  /** The requirement IDs the case covers. */
  readonly requirements: readonly string[];
  /** How it ended. */
  readonly grade: Grade;
  /** How long it took, in milliseconds. */
  readonly durationMs: number;
  /** For `fail` and `warn`: the first requirement broken. */
  readonly failure?: Failure;
  /** For `warn`: every SHOULD or MAY broken (a case may break several). */
  readonly warnings?: readonly Failure[];
  /** For `n/a` and `error`: why. */
  readonly reason?: string;
  /** Against the baseline files, when listed there. */
  readonly baseline?: BaselineStatus;
  /** How many times it ran (more than 1 only for a flaky case retried). */
  readonly attempts?: number;
  /** The exchange, kept for every case that did not pass (bounded). */
  readonly exchange?: readonly ExchangeEvent[];
  /** Events of the exchange left out by its bound, when any were. */
  readonly exchangeDropped?: number;
  /** For a property case: the seed, path and one-line replay command, and the trace file. */
  readonly replay?: {
    readonly seed: number;
    readonly path?: string;
    readonly command: string;
    readonly traceFile?: string;
  };
}

/** Where one requirement stands after the run. */
export interface CoverageRow {
  /** The requirement ID. */
  readonly id: string;
  /** Its level. */
  readonly level: Requirement["level"];
  /** Its chapter. */
  readonly chapter: string;
  /** The cases that name it, with their grades. */
  readonly cases: readonly { readonly name: string; readonly grade: Grade }[];
  /**
   * The worst grade of its cases (`fail` over `error` over `warn` over `pass` over `n/a`),
   * or `untested` when no case of the kit names it.
   */
  readonly status: Grade | "untested" | "not run";
  /** For an untested requirement: why the kit has no case for it. */
  readonly reason?: string;
}

/** One chapter's coverage. */
export interface ChapterCoverage {
  /** The chapter's title. */
  readonly chapter: string;
  /** Server requirements in the chapter. */
  readonly total: number;
  /** Named by at least one case of the kit. */
  readonly covered: number;
  /** Graded pass (or warn: only a SHOULD broken) by every case that ran and names it. */
  readonly passed: number;
  /** With a failing (or erroring) case. */
  readonly failed: number;
  /** Not applicable to this target. */
  readonly notApplicable: number;
  /** The IDs no case names. */
  readonly untested: readonly string[];
}

/** Counts of the grades, and of the baseline outcomes. */
export interface Summary {
  readonly total: number;
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly notApplicable: number;
  readonly error: number;
  /** Failures listed as expected. */
  readonly expectedFailures: number;
  /** Expected failures that passed. */
  readonly stale: number;
  /** Failures of cases listed as flaky (they do not fail the run). */
  readonly flaky: number;
}

/** A whole run. */
export interface Report {
  /** The kit and its version. */
  readonly kit: { readonly name: string; readonly version: string };
  /** The spec revision the kit tests against. */
  readonly specRevision: string;
  /** What was tested. */
  readonly target: {
    readonly url: string;
    readonly httpUrl: string;
    /** `embedded`, `url` or `command`. */
    readonly kind: string;
    /** The features in force, and where they came from. */
    readonly features: Readonly<Record<string, boolean>>;
    readonly featureSource: string;
    /** The server's announcement, when it made one. */
    readonly serverInfo?: unknown;
  };
  readonly profile: string;
  readonly seed: number;
  /** This run's shard, when sharded; a merged report has none. */
  readonly shard?: { readonly index: number; readonly total: number };
  /** Shards merged into this report, when it is a merge. */
  readonly merged?: number;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly summary: Summary;
  readonly cases: readonly CaseResult[];
  readonly coverage: readonly CoverageRow[];
  readonly chapters: readonly ChapterCoverage[];
  /** 0 every required case passes, 1 a failure, 2 a harness or usage error. */
  readonly exitCode: 0 | 1 | 2;
}

const WORST: readonly (Grade | "untested" | "not run")[] = ["fail", "error", "warn", "pass", "n/a"];

/** The counts of {@link Summary} for these results. */
export function summarize(cases: readonly CaseResult[]): Summary {
  const count = (p: (c: CaseResult) => boolean) => cases.filter(p).length;
  return {
    total: cases.length,
    pass: count((c) => c.grade === "pass"),
    fail: count((c) => c.grade === "fail"),
    warn: count((c) => c.grade === "warn"),
    notApplicable: count((c) => c.grade === "n/a"),
    error: count((c) => c.grade === "error"),
    expectedFailures: count((c) => c.baseline === "expected-failure"),
    stale: count((c) => c.baseline === "stale"),
    flaky: count((c) => c.baseline === "flaky" && c.grade !== "pass"),
  };
}

/**
 * The coverage matrix: every server requirement with the cases of the run that name it,
 * and per chapter the covered and untested counts. `declared` maps each ID to every case
 * of the kit that names it, run or not, so that a filtered or sharded run still tells an
 * untested requirement from one this run did not reach.
 */
export function coverageOf(
  requirements: Requirements,
  cases: readonly CaseResult[],
  declared: ReadonlyMap<string, readonly string[]>,
): { coverage: CoverageRow[]; chapters: ChapterCoverage[] } {
  const byId = new Map<string, { name: string; grade: Grade }[]>();
  for (const c of cases) {
    for (const id of c.requirements) {
      const list = byId.get(id) ?? [];
      list.push({ name: c.name, grade: c.grade });
      byId.set(id, list);
    }
  }
  const coverage: CoverageRow[] = requirements.server.map((r) => {
    const ran = byId.get(r.id) ?? [];
    let status: CoverageRow["status"];
    if (ran.length > 0) {
      status = WORST.find((g) => ran.some((c) => c.grade === g)) as Grade;
    } else status = (declared.get(r.id)?.length ?? 0) > 0 ? "not run" : "untested";
    const reason = status === "untested" ? UNTESTED[r.id] : undefined;
    return {
      id: r.id,
      level: r.level,
      chapter: r.chapter,
      cases: ran,
      status,
      ...(reason !== undefined && { reason }),
    };
  });
  const chapters: ChapterCoverage[] = [];
  for (const row of coverage) {
    let ch = chapters.find((c) => c.chapter === row.chapter);
    if (ch === undefined) {
      ch = {
        chapter: row.chapter,
        total: 0,
        covered: 0,
        passed: 0,
        failed: 0,
        notApplicable: 0,
        untested: [],
      };
      chapters.push(ch);
    }
    const m = ch as { -readonly [K in keyof ChapterCoverage]: ChapterCoverage[K] } & {
      untested: string[];
    };
    m.total++;
    if (row.status === "untested") m.untested.push(row.id);
    else m.covered++;
    if (row.status === "pass" || row.status === "warn") m.passed++;
    if (row.status === "fail" || row.status === "error") m.failed++;
    if (row.status === "n/a") m.notApplicable++;
  }
  return { coverage, chapters };
}

/**
 * The exit code of a run with these results: 1 when a required case fails (or an expected
 * failure went stale), since the server is then known to break the spec; otherwise 2 when
 * the kit could not run a case, since the run is incomplete; otherwise 0.
 */
export function exitCodeOf(cases: readonly CaseResult[]): 0 | 1 | 2 {
  const counted = cases.filter((c) => c.baseline !== "expected-failure" && c.baseline !== "flaky");
  if (counted.some((c) => c.grade === "fail" || c.baseline === "stale")) return 1;
  if (counted.some((c) => c.grade === "error")) return 2;
  return 0;
}
