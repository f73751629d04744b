/**
 * Runs the cases against a target: selects them (globs, shard, features), runs them
 * concurrently with a hard bound each, grades each by the level of the requirement it
 * broke, applies the baseline files, and builds the {@link Report}.
 *
 * `runServerConformance` is the library entry point: a project can call it from its own
 * test runner and read the report object.
 * @module
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SPEC_REVISION } from "@confab/protocol";
import { DEFAULT_CASE_TIMEOUT_MS, type ServerCase } from "./case.js";
import { CaseContext, SoftFault } from "./context.js";
import { HarnessError, NotApplicable, ServerFault, type Warning } from "./errors.js";
import { compileGlobs } from "./glob.js";
import {
  type CaseResult,
  coverageOf,
  exitCodeOf,
  type Failure,
  type Report,
  summarize,
} from "./report.js";
import { Requirements } from "./requirements.js";
import {
  type Apps,
  startCommandTarget,
  startEmbeddedTarget,
  type Target,
  urlTarget,
} from "./target.js";

/** The kit's name and version, as reports carry them. */
export const KIT = { name: "@confab/conformance", version: "0.1.0" } as const;

/** The profiles: how long and how varied a run is. */
export type Profile = "quick" | "thorough" | "durability";

/** Hooks a progress reporter gets. */
export interface RunEvents {
  start?(total: number): void;
  caseStarted?(name: string): void;
  caseFinished?(result: CaseResult, done: number, total: number): void;
}

/** What {@link runServerConformance} takes; every member is optional. */
export interface RunOptions {
  /** A target already started; otherwise one is made from the members below. */
  readonly target?: Target;
  /** Test a running server at this WebSocket URL. */
  readonly url?: string;
  /** Its HTTP base (router, REST); derived from {@link RunOptions.url} by default. */
  readonly httpUrl?: string;
  /** A second running instance with the shortened limits of spec 10.2. */
  readonly shortUrl?: string;
  /** A running instance with small per-app bounds (pending, watch, sessions, connections). */
  readonly boundsUrl?: string;
  /** Start the server with this command (`{port}`, `{db}`, `{config}` placeholders). */
  readonly serverCommand?: string;
  /** Also give the command its port in this environment variable. */
  readonly portEnv?: string;
  /** The apps of a `url` target (Table 11); a kit-started target gets its own. */
  readonly apps?: Partial<Apps> & { readonly open: string };
  /** Features in force, over what the server announces. */
  readonly features?: Readonly<Record<string, boolean>>;
  /** Only the cases matching one of these globs. */
  readonly run?: readonly string[];
  /** Not the cases matching one of these globs. */
  readonly skip?: readonly string[];
  /** This machine's shard: cases `index` of `total` (1-based), by round robin over names. */
  readonly shard?: { readonly index: number; readonly total: number };
  /** The seed of every random choice. Default: drawn, and reported. */
  readonly seed?: number;
  /** Runs of each property case. */
  readonly numRuns?: number;
  /** A fast-check replay path (with the seed, from a failure's replay command). */
  readonly replayPath?: string;
  /** Hard bound per case, ms, over each case's own. */
  readonly timeoutMs?: number;
  /** Cases run at once. Default 8. */
  readonly concurrency?: number;
  /** Default `quick`. */
  readonly profile?: Profile;
  /** Case names expected to fail: their failure does not fail the run, their pass does. */
  readonly expectedFailures?: ReadonlySet<string>;
  /** Case names known to be flaky: retried once, and their failure does not fail the run. */
  readonly flaky?: ReadonlySet<string>;
  /** The cases; default every case of the kit. */
  readonly cases?: readonly ServerCase[];
  /** The spec's requirements; default `spec/requirements.json`. */
  readonly requirements?: Requirements;
  /** Where property cases write the traces of failures. Default a temporary folder. */
  readonly traceDir?: string;
  /** Progress hooks. */
  readonly events?: RunEvents;
}

/** The cases a run selects, in name order, and those it leaves out by filter. */
export function selectCases(
  all: readonly ServerCase[],
  options: Pick<RunOptions, "run" | "skip" | "shard" | "profile">,
): ServerCase[] {
  const run = options.run && options.run.length > 0 ? compileGlobs(options.run) : () => true;
  const skip = options.skip && options.skip.length > 0 ? compileGlobs(options.skip) : () => false;
  const profile = options.profile ?? "quick";
  const sorted = [...all]
    .filter((c) => run(c.name) && !skip(c.name))
    // The durability profile is the crash cases and the property run under faults, alone.
    .filter((c) => (profile === "durability") === c.name.startsWith("durability/"))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const shard = options.shard;
  if (shard === undefined) return sorted;
  return sorted.filter((_, i) => i % shard.total === shard.index - 1);
}

/** Why `c` cannot run against `target`, or `undefined` when it can. */
function notApplicable(c: ServerCase, target: Target): string | undefined {
  for (const f of c.features ?? []) {
    if (target.features[f] !== true)
      return `feature ${f} is not in force (${target.featureSource})`;
  }
  for (const need of c.needs ?? []) {
    if (need === "short" && target.short === undefined) {
      return "needs a server with the shortened limits of spec 10.2 (--short-url, or a kit-started server)";
    }
    if (need === "restart" && target.control === undefined) {
      return "needs control of the server's process (--server-command, or the embedded server)";
    }
  }
  return undefined;
}

function failureOf(
  requirements: Requirements,
  w: { requirement: string; message: string; details: { expected?: string; actual?: string } },
): Failure {
  const req = requirements.get(w.requirement);
  return {
    requirement: w.requirement,
    level: req?.level ?? "unknown",
    text: req?.text ?? "(not a requirement of the spec)",
    message: w.message,
    ...(w.details.expected !== undefined && { expected: w.details.expected }),
    ...(w.details.actual !== undefined && { actual: w.details.actual }),
  };
}

/** Runs one case once and grades it. */
async function runOnce(
  c: ServerCase,
  target: Target,
  requirements: Requirements,
  base: {
    seed: number;
    profile: Profile;
    numRuns?: number;
    replayPath?: string;
    traceDir: string;
    timeoutMs?: number;
    prefix: string;
  },
): Promise<CaseResult> {
  const started = performance.now();
  const controller = new AbortController();
  const ctx = new CaseContext({
    target,
    requirements,
    prefix: base.prefix,
    signal: controller.signal,
    seed: base.seed,
    profile: base.profile,
    ...(base.numRuns !== undefined && { numRuns: base.numRuns }),
    ...(base.replayPath !== undefined && { replayPath: base.replayPath }),
    traceDir: base.traceDir,
  });
  const bound = base.timeoutMs ?? c.timeoutMs ?? DEFAULT_CASE_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new CaseTimeout(bound));
    }, bound);
  });
  let outcome: unknown;
  try {
    await Promise.race([c.run(ctx), timeout]);
  } catch (err) {
    outcome = err;
  } finally {
    clearTimeout(timer);
    controller.abort();
    await ctx.dispose();
  }
  const durationMs = Math.round(performance.now() - started);
  const common = { name: c.name, requirements: c.requirements, durationMs };
  const exchange = ctx.recorder.events;
  const dropped = ctx.recorder.dropped > 0 ? { exchangeDropped: ctx.recorder.dropped } : {};
  const withReplay = ctx.replay === undefined ? {} : { replay: ctx.replay };
  const wire = ctx.wireFaults();
  if (outcome === undefined && wire.length > 0) outcome = wire[0];
  const warnings: Warning[] = ctx.warnings;
  if (outcome === undefined || outcome instanceof SoftFault) {
    if (warnings.length === 0) return { ...common, grade: "pass" };
    const all = warnings.map((w) => failureOf(requirements, w));
    return {
      ...common,
      grade: "warn",
      failure: all[0] as Failure,
      warnings: all,
      exchange,
      ...withReplay,
    };
  }
  if (outcome instanceof ServerFault) {
    const failure = failureOf(requirements, {
      requirement: outcome.requirement,
      message: outcome.message,
      details: outcome.details,
    });
    const grade = failure.level === "MUST" ? "fail" : "warn";
    return { ...common, grade, failure, exchange, ...dropped, ...withReplay };
  }
  if (outcome instanceof NotApplicable) return { ...common, grade: "n/a", reason: outcome.message };
  const message =
    outcome instanceof HarnessError || outcome instanceof CaseTimeout
      ? outcome.message
      : `the case crashed: ${outcome instanceof Error ? (outcome.stack ?? outcome.message) : String(outcome)}`;
  return { ...common, grade: "error", reason: message, exchange, ...dropped, ...withReplay };
}

/** A case that ran past its hard bound. */
class CaseTimeout extends Error {
  constructor(ms: number) {
    super(
      `the case did not finish within its hard bound of ${ms} ms (every wait of the kit is bounded; raise --timeout for a slow server)`,
    );
  }
}

/** Makes the target the options name. */
export async function targetOf(options: RunOptions): Promise<Target> {
  if (options.target !== undefined) return options.target;
  if (options.url !== undefined) {
    // Without --app-id, a fresh app id: a server in development mode (the reference
    // server's `npm start`) serves any; one that does not refuses the probe session, and
    // the kit says to name the app.
    const apps = options.apps ?? { open: `conformance-${Date.now().toString(36)}` };
    return urlTarget({
      url: options.url,
      ...(options.httpUrl !== undefined && { httpUrl: options.httpUrl }),
      ...(options.shortUrl !== undefined && { shortUrl: options.shortUrl }),
      ...(options.boundsUrl !== undefined && { boundsUrl: options.boundsUrl }),
      apps,
    });
  }
  if (options.serverCommand !== undefined) {
    return startCommandTarget({
      kind: "command",
      command: options.serverCommand,
      ...(options.portEnv !== undefined && { portEnv: options.portEnv }),
      ...(options.apps !== undefined && { apps: options.apps }),
    });
  }
  return startEmbeddedTarget();
}

/**
 * Runs the conformance cases and returns the report. Starts (and stops) the target unless
 * one is given. A target that cannot be reached rejects with a {@link HarnessError}: the
 * command line turns that into exit status 2.
 */
export async function runServerConformance(options: RunOptions = {}): Promise<Report> {
  const requirements = options.requirements ?? Requirements.load();
  const all = options.cases ?? (await import("./cases/index.js")).ALL_CASES;
  const profile = options.profile ?? "quick";
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const selected = selectCases(all, { ...options, profile });
  const startedAt = new Date();
  const t0 = performance.now();
  const target = await targetOf(options);
  const owned = options.target === undefined;
  try {
    if (options.features !== undefined) {
      target.features = { ...target.features, ...options.features };
      target.featureSource = `${target.featureSource}, overridden by --features`;
    }
    const traceDir = options.traceDir ?? mkdtempSync(join(tmpdir(), "confab-traces-"));
    const runId = `k${seed.toString(36)}${Date.now().toString(36).slice(-4)}`;
    const results: CaseResult[] = new Array(selected.length);
    options.events?.start?.(selected.length);
    let done = 0;
    const runIndex = async (index: number) => {
      const c = selected[index] as ServerCase;
      options.events?.caseStarted?.(c.name);
      const na = notApplicable(c, target);
      let result: CaseResult;
      if (na !== undefined) {
        result = {
          name: c.name,
          requirements: c.requirements,
          grade: "n/a",
          durationMs: 0,
          reason: na,
        };
      } else {
        const base = {
          seed,
          profile,
          traceDir,
          prefix: `${runId}-${index}`,
          ...(options.numRuns !== undefined && { numRuns: options.numRuns }),
          ...(options.replayPath !== undefined && { replayPath: options.replayPath }),
          ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
        };
        result = await runOnce(c, target, requirements, base);
        const isFlaky = options.flaky?.has(c.name) ?? false;
        if (isFlaky && result.grade !== "pass" && result.grade !== "n/a") {
          const again = await runOnce(c, target, requirements, {
            ...base,
            prefix: `${base.prefix}r`,
          });
          result =
            again.grade === "pass"
              ? { ...again, attempts: 2 }
              : { ...again, attempts: 2, baseline: "flaky" };
        }
      }
      if (options.expectedFailures?.has(c.name)) {
        result = { ...result, baseline: result.grade === "pass" ? "stale" : "expected-failure" };
      }
      results[index] = result;
      done++;
      options.events?.caseFinished?.(result, done, selected.length);
    };
    const pool = async (indices: readonly number[], width: number) => {
      let next = 0;
      const worker = async () => {
        for (let k = next++; k < indices.length; k = next++) await runIndex(indices[k] as number);
      };
      await Promise.all(Array.from({ length: Math.max(1, width) }, worker));
    };
    const restarts = (c: ServerCase) =>
      c.needs?.includes("restart") === true || c.needs?.includes("alone") === true;
    // Cases that kill or restart the server cannot share it with others: they run alone,
    // one at a time, after the shared cases have run concurrently.
    const shared = selected.flatMap((c, i) => (restarts(c) ? [] : [i]));
    const alone = selected.flatMap((c, i) => (restarts(c) ? [i] : []));
    await pool(shared, options.concurrency ?? 8);
    await pool(alone, 1);
    const declared = new Map<string, string[]>();
    for (const c of all) {
      for (const id of c.requirements) declared.set(id, [...(declared.get(id) ?? []), c.name]);
    }
    const { coverage, chapters } = coverageOf(requirements, results, declared);
    return {
      kit: KIT,
      specRevision: SPEC_REVISION,
      target: {
        url: target.wsUrl,
        httpUrl: target.httpUrl,
        kind: target.kind,
        features: target.features,
        featureSource: target.featureSource,
        ...(target.serverInfo !== undefined && { serverInfo: target.serverInfo }),
      },
      profile,
      seed,
      ...(options.shard !== undefined && { shard: options.shard }),
      startedAt: startedAt.toISOString(),
      durationMs: Math.round(performance.now() - t0),
      summary: summarize(results),
      cases: results,
      coverage,
      chapters,
      exitCode: exitCodeOf(results),
    };
  } finally {
    if (owned) await target.close();
  }
}
