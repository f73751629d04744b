#!/usr/bin/env node
/**
 * The `confab-conformance` command: `server` runs the kit against a server, `merge` joins
 * the JSON reports of shards, `list` prints the cases. Exit status 0 when every required
 * case passes, 1 on a failure, 2 on a usage or harness error [issue 9].
 * @module
 */
import { mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { ALL_CASES } from "./cases/index.js";
import { HarnessError } from "./errors.js";
import { mergeReports } from "./merge.js";
import type { Report } from "./report.js";
import {
  createTtyReporter,
  readReport,
  renderHtml,
  renderJson,
  renderJunit,
} from "./reporters/index.js";
import { Requirements } from "./requirements.js";
import { KIT, type Profile, type RunOptions, runServerConformance, selectCases } from "./runner.js";
import { closeStartedTargets } from "./target.js";

/** The usage text of `confab-conformance --help`. */
export const USAGE = `Usage:
  confab-conformance server [options]      test a server (default: the reference server, started here)
  confab-conformance list [--json] [--run G] [--skip G]   print the cases with their requirement IDs
  confab-conformance merge [--reporter R]... FILE...      join the JSON reports of shards into one

Target (default: start the reference server's command three times, on free ports, with
temporary databases: with the spec's limits, the shortened limits, and small per-app bounds):
  --url ws://HOST:PORT[/PATH]   test a running server
  --http-url URL                its router and REST base (default: from --url)
  --short-url URL               a second instance with the shortened limits of spec 10.2
  --bounds-url URL              an instance with small per-app bounds (pending messages, watch
                                entries, sessions, connections), for the quota cases
  --server-command "CMD"        start the server with CMD (sh -c); placeholders {port}, {db} and
                                {config} (a JSON file in the reference server's --config format,
                                with the apps below); the kit can then kill and restart it
  --port-env NAME               also give CMD its port in environment variable NAME
  --app-id ID                   an app that does not enforce signatures (default with --url: a
                                fresh id, which a server in development mode accepts)
  --signed-app-id ID --master-key KEY   an app that enforces signatures, and its master key
  --disabled-app-id ID          a disabled app
  --origin-app-id ID --origin O an app that allows origin O only
  --unknown-app-id ID           an app id the server does not serve
  --features LIST               features in force, over the announced ones: a,b,-c (c off)
  --features-file FILE          the same as JSON, {"groups": true, "history": false}

Selection and baseline:
  --run GLOB, --skip GLOB       cases by name (repeatable; * within a segment, ** across)
  --shard K/N                   run the K-th of N deterministic parts
  --profile quick|thorough|durability   (default quick)
  --expected-failures FILE      case names expected to fail; one that passes fails the run (stale)
  --flaky FILE                  case names retried once, whose failure does not fail the run
  --write-baseline FILE         write the names of the failing cases to FILE

Runs:
  --seed N, --replay TOKEN, --num-runs N, --timeout MS (hard, per case), --concurrency N

Reports:
  --reporter tty|json|junit|html[=FILE]   repeatable; default tty. json, junit and html write to
                                FILE (default conformance-report.json, .xml, .html)
  --list [--json]               print the cases instead of running them

Exit status: 0 every required case passes; 1 a failure (or a stale expected failure);
2 a usage or harness error (target unreachable, bad arguments, a bad frame of the kit's own).`;

/** A command-line mistake: exit 2. */
class UsageError extends Error {}

/** Reads a baseline file: one case name per line, `#` comments, or a JSON array. */
export function readNameList(file: string): Set<string> {
  const text = readFileSync(file, "utf8");
  if (text.trimStart().startsWith("[")) return new Set(JSON.parse(text) as string[]);
  return new Set(
    text
      .split("\n")
      .map((l) => l.replace(/#.*$/, "").trim())
      .filter((l) => l !== ""),
  );
}

/** Parses `--features a,b,-c`. */
function featureList(list: string): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const item of list
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (item.startsWith("-")) out[item.slice(1)] = false;
    else out[item] = true;
  }
  return out;
}

/** What `--reporter` asks for. */
interface ReporterSpec {
  readonly kind: "tty" | "json" | "junit" | "html";
  readonly file?: string;
}

const DEFAULT_FILES = {
  json: "conformance-report.json",
  junit: "conformance-report.xml",
  html: "conformance-report.html",
};

function reporterSpecs(values: readonly string[] | undefined): ReporterSpec[] {
  const list =
    values === undefined || values.length === 0 ? ["tty"] : values.flatMap((v) => v.split(","));
  return list.map((v) => {
    const [kind, file] = v.split("=", 2) as [string, string | undefined];
    if (kind !== "tty" && kind !== "json" && kind !== "junit" && kind !== "html") {
      throw new UsageError(`--reporter takes tty, json, junit or html, not "${kind}"`);
    }
    if (kind === "tty") return { kind };
    return { kind, file: file ?? DEFAULT_FILES[kind] };
  });
}

/** Writes the file reporters; returns the lines saying where. */
function writeReports(report: Report, specs: readonly ReporterSpec[]): string[] {
  const lines: string[] = [];
  for (const spec of specs) {
    if (spec.kind === "tty" || spec.file === undefined) continue;
    const text =
      spec.kind === "json"
        ? renderJson(report)
        : spec.kind === "junit"
          ? renderJunit(report)
          : renderHtml(report);
    const path = resolve(spec.file);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
    lines.push(`${spec.kind} report: ${path}`);
  }
  return lines;
}

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`${name} takes a non-negative integer, not "${value}"`);
  return Number(value);
}

/**
 * Decodes a `--replay` token as a property failure prints it: `SEED:PATH[@REPLAYPATH]`, the
 * seed, fast-check's shrink path and fc.commands' replay hint.
 */
export function parseReplay(token: string): { seed: number; path: string } {
  const m = /^(-?\d+):([0-9:]+(?:@[A-Za-z0-9+/=:_-]+)?)$/.exec(token);
  if (m === null)
    throw new UsageError(
      `--replay takes the token a failure printed (SEED:PATH[@REPLAY]), not "${token}"`,
    );
  return { seed: Number(m[1]), path: m[2] as string };
}

const OPTIONS = {
  url: { type: "string" },
  "http-url": { type: "string" },
  "short-url": { type: "string" },
  "bounds-url": { type: "string" },
  "server-command": { type: "string" },
  "port-env": { type: "string" },
  "app-id": { type: "string" },
  "signed-app-id": { type: "string" },
  "master-key": { type: "string" },
  "disabled-app-id": { type: "string" },
  "origin-app-id": { type: "string" },
  origin: { type: "string" },
  "unknown-app-id": { type: "string" },
  features: { type: "string" },
  "features-file": { type: "string" },
  run: { type: "string", multiple: true },
  skip: { type: "string", multiple: true },
  shard: { type: "string" },
  profile: { type: "string" },
  "expected-failures": { type: "string" },
  flaky: { type: "string" },
  "write-baseline": { type: "string" },
  seed: { type: "string" },
  replay: { type: "string" },
  "num-runs": { type: "string" },
  timeout: { type: "string" },
  concurrency: { type: "string" },
  reporter: { type: "string", multiple: true },
  list: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/** Builds the run's options from the parsed flags. */
function runOptionsOf(values: Record<string, string | boolean | string[] | undefined>): RunOptions {
  const str = (k: string) => values[k] as string | undefined;
  const profile = str("profile") ?? "quick";
  if (profile !== "quick" && profile !== "thorough" && profile !== "durability") {
    throw new UsageError(`--profile takes quick, thorough or durability, not "${profile}"`);
  }
  let shard: RunOptions["shard"];
  const shardText = str("shard");
  if (shardText !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shardText);
    const index = Number(m?.[1]);
    const total = Number(m?.[2]);
    if (m === null || total < 1 || index < 1 || index > total) {
      throw new UsageError(`--shard takes K/N with 1 <= K <= N, not "${shardText}"`);
    }
    shard = { index, total };
  }
  const url = str("url");
  const command = str("server-command");
  if (url !== undefined && command !== undefined)
    throw new UsageError("--url and --server-command name two targets; give one");
  if (url !== undefined && !/^wss?:\/\//.test(url))
    throw new UsageError(`--url takes a ws:// or wss:// URL, not "${url}"`);
  if ((str("signed-app-id") === undefined) !== (str("master-key") === undefined)) {
    throw new UsageError("--signed-app-id and --master-key go together");
  }
  const appId = str("app-id");
  const signed = str("signed-app-id");
  const originApp = str("origin-app-id");
  const apps =
    appId === undefined
      ? undefined
      : {
          open: appId,
          ...(signed !== undefined && {
            signed: { appId: signed, masterKey: str("master-key") as string },
          }),
          ...(str("disabled-app-id") !== undefined && {
            disabled: str("disabled-app-id") as string,
          }),
          ...(originApp !== undefined && {
            origin: { appId: originApp, origin: str("origin") ?? "" },
          }),
          ...(str("unknown-app-id") !== undefined && { unknown: str("unknown-app-id") as string }),
        };
  let features: Record<string, boolean> | undefined;
  if (str("features-file") !== undefined) {
    features = JSON.parse(readFileSync(str("features-file") as string, "utf8")) as Record<
      string,
      boolean
    >;
  }
  if (str("features") !== undefined)
    features = { ...features, ...featureList(str("features") as string) };
  const replay = str("replay") === undefined ? undefined : parseReplay(str("replay") as string);
  const seed = replay?.seed ?? integer("--seed", str("seed"));
  const numRuns = integer("--num-runs", str("num-runs"));
  const timeoutMs = integer("--timeout", str("timeout"));
  const concurrency = integer("--concurrency", str("concurrency"));
  return {
    ...(url !== undefined && { url }),
    ...(str("http-url") !== undefined && { httpUrl: str("http-url") as string }),
    ...(str("short-url") !== undefined && { shortUrl: str("short-url") as string }),
    ...(str("bounds-url") !== undefined && { boundsUrl: str("bounds-url") as string }),
    ...(command !== undefined && { serverCommand: command }),
    ...(str("port-env") !== undefined && { portEnv: str("port-env") as string }),
    ...(apps !== undefined && { apps }),
    ...(features !== undefined && { features }),
    ...(values.run !== undefined && { run: values.run as string[] }),
    ...(values.skip !== undefined && { skip: values.skip as string[] }),
    ...(shard !== undefined && { shard }),
    profile: profile as Profile,
    ...(seed !== undefined && { seed }),
    ...(replay !== undefined && { replayPath: replay.path }),
    ...(numRuns !== undefined && { numRuns }),
    ...(timeoutMs !== undefined && { timeoutMs }),
    ...(concurrency !== undefined && { concurrency }),
    ...(str("expected-failures") !== undefined && {
      expectedFailures: readNameList(str("expected-failures") as string),
    }),
    ...(str("flaky") !== undefined && { flaky: readNameList(str("flaky") as string) }),
  };
}

/** Prints the cases, as text or JSON. */
function list(options: RunOptions, json: boolean, out: NodeJS.WritableStream): void {
  const profiles: Profile[] =
    options.profile === "durability" ? ["durability"] : [options.profile ?? "quick"];
  const cases = profiles.flatMap((profile) => selectCases(ALL_CASES, { ...options, profile }));
  if (json) {
    const rows = cases.map((c) => ({
      name: c.name,
      requirements: c.requirements,
      features: c.features ?? [],
      needs: c.needs ?? [],
    }));
    out.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  for (const c of cases) out.write(`${c.name}  ${c.requirements.join(" ")}\n`);
  out.write(`${cases.length} cases\n`);
}

/**
 * Runs `run` with SIGINT and SIGTERM handled: a kit told to stop (Ctrl-C, a cancelled CI
 * job) first stops the servers it started and removes their files, then exits with 130 or
 * 143 as the signal's default would. A second signal while it stops ends it at once.
 */
async function whileStoppable<T>(run: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`confab-conformance: ${signal}: stopping the servers it started\n`);
    void closeStartedTargets().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    return await run();
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** Runs the command; resolves with the exit status. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const [first, ...restArgs] = argv;
  const sub = first === "server" || first === "merge" || first === "list" ? first : undefined;
  const args = sub === undefined ? [...argv] : restArgs;
  let parsed: ReturnType<
    typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; args: string[] }>
  >;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(
      `confab-conformance: ${(err as Error).message} (see confab-conformance --help)\n`,
    );
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${KIT.version}\n`);
    return 0;
  }
  try {
    if (sub === "merge") {
      if (positionals.length === 0) throw new UsageError("merge takes the JSON reports to join");
      const reports = positionals.map((f) => readReport(readFileSync(f, "utf8")));
      const merged = mergeReports(reports, Requirements.load());
      const specs = reporterSpecs(values.reporter);
      const tty = createTtyReporter(process.stdout);
      if (specs.some((s) => s.kind === "tty")) tty.finish(merged);
      for (const line of writeReports(merged, specs)) process.stdout.write(`${line}\n`);
      return merged.exitCode;
    }
    if (sub === undefined && positionals.length > 0)
      throw new UsageError(`unknown command "${positionals[0]}"`);
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const options = runOptionsOf(values);
    if (sub === "list" || values.list) {
      list(options, values.json === true, process.stdout);
      return 0;
    }
    const specs = reporterSpecs(values.reporter);
    const tty = specs.some((s) => s.kind === "tty") ? createTtyReporter(process.stdout) : undefined;
    const report = await whileStoppable(() =>
      runServerConformance({
        ...options,
        ...(tty !== undefined && {
          events: {
            start: (total) => tty.start(total),
            caseStarted: (name) => tty.caseStarted(name),
            caseFinished: (result, done, total) => tty.caseFinished(result, done, total),
          },
        }),
      }),
    );
    tty?.finish(report);
    for (const line of writeReports(report, specs)) process.stdout.write(`${line}\n`);
    const baseline = values["write-baseline"];
    if (baseline !== undefined) {
      const failing = report.cases
        .filter((c) => c.grade === "fail" || c.grade === "error")
        .map((c) => c.name);
      writeFileSync(baseline, `${failing.join("\n")}${failing.length > 0 ? "\n" : ""}`);
      process.stdout.write(
        `baseline: ${failing.length} failing cases written to ${resolve(baseline)}\n`,
      );
    }
    return report.exitCode;
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`confab-conformance: ${err.message} (see confab-conformance --help)\n`);
      return 2;
    }
    if (err instanceof HarnessError) {
      process.stderr.write(`confab-conformance: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(
      `confab-conformance: internal error: ${(err as Error).stack ?? String(err)}\n`,
    );
    return 2;
  }
}

/** Whether this module is the program being run (not imported). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().then(
    (status) => process.exit(status),
    (err: unknown) => {
      process.stderr.write(`confab-conformance: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(2);
    },
  );
}
