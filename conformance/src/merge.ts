/**
 * `confab-conformance merge`: joins the JSON reports of the shards of one run into one
 * report, as Playwright's merge-reports does. The shards must have run the same kit
 * against the same kind of target with the same seed and profile; their cases are
 * disjoint, and the merged coverage is computed afresh over all of them.
 * @module
 */
import { HarnessError } from "./errors.js";
import { type CaseResult, coverageOf, exitCodeOf, type Report, summarize } from "./report.js";
import type { Requirements } from "./requirements.js";

/**
 * Merges shard reports. Throws a {@link HarnessError} when they do not belong together
 * (another kit version, seed or profile) or when a case appears in two of them.
 */
export function mergeReports(reports: readonly Report[], requirements: Requirements): Report {
  const first = reports[0];
  if (first === undefined) throw new HarnessError("no report to merge");
  for (const r of reports) {
    if (
      r.kit.version !== first.kit.version ||
      r.seed !== first.seed ||
      r.profile !== first.profile
    ) {
      throw new HarnessError(
        `the reports are not shards of one run: kit ${r.kit.version} seed ${r.seed} profile ${r.profile} ` +
          `against kit ${first.kit.version} seed ${first.seed} profile ${first.profile}`,
      );
    }
  }
  const seen = new Map<string, CaseResult>();
  for (const r of reports) {
    for (const c of r.cases) {
      if (seen.has(c.name))
        throw new HarnessError(
          `case ${c.name} is in two of the reports: merge shards of one run only`,
        );
      seen.set(c.name, c);
    }
  }
  const cases = [...seen.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
  // Every shard's coverage already knows which IDs the kit declares; a requirement is
  // untested in the merge only if it is untested in every shard.
  const declared = new Map<string, string[]>();
  for (const r of reports) {
    for (const row of r.coverage) {
      if (row.status !== "untested") declared.set(row.id, ["(declared)"]);
    }
  }
  const { coverage, chapters } = coverageOf(requirements, cases, declared);
  return {
    ...first,
    shard: undefined,
    merged: reports.length,
    startedAt: reports.map((r) => r.startedAt).sort()[0] ?? first.startedAt,
    durationMs: Math.max(...reports.map((r) => r.durationMs)),
    summary: summarize(cases),
    cases,
    coverage,
    chapters,
    exitCode: exitCodeOf(cases),
  };
}
