/**
 * The terminal reporter: progress while the run goes, then the summary.
 *
 * On a TTY it keeps one status line, rewritten in place (`[12/335] direct/ack/echoes-i
 * elapsed 12.3s`), and prints each case that did not pass above it as it finishes. Elsewhere
 * (CI logs, pipes) it prints one line per case that did not pass, and nothing for those
 * that did: no dots, no control sequences. `finish` prints the summary, every failure with
 * its requirement, values and replay command, and the coverage line. Where the report files
 * went is the caller's to print.
 * @module
 */
import type { CaseResult, Failure, Report } from "../report.js";
import { percent } from "./html.js";

/** What the runner calls as cases start and finish. */
export interface TtyReporter {
  /** The run starts, with this many cases. */
  start(total: number): void;
  /** A case starts (cases may run concurrently). */
  caseStarted(name: string): void;
  /** A case finished; `done` of `total` have. */
  caseFinished(result: CaseResult, done: number, total: number): void;
  /** The run ended: prints the summary. */
  finish(report: Report): void;
}

/** Options of {@link createTtyReporter}. */
export interface TtyOptions {
  /**
   * ANSI colors. Default: on for a TTY unless `NO_COLOR` is set, or when `FORCE_COLOR` is
   * set to anything but `0`.
   */
  readonly color?: boolean;
  /** How often the status line's clock is redrawn on a TTY, in ms (default 250; 0: never). */
  readonly tickMs?: number;
  /** The clock, for tests. */
  readonly now?: () => number;
}

const CODES = { red: 31, green: 32, yellow: 33, magenta: 35, gray: 90, bold: 1 } as const;

/** The label and color of a finished case that did not pass, or `undefined` when it passed. */
function verdictOf(c: CaseResult): { label: string; color: keyof typeof CODES } | undefined {
  if (c.baseline === "stale") return { label: "STALE", color: "red" };
  if (c.baseline === "expected-failure") return { label: "XFAIL", color: "gray" };
  if (c.baseline === "flaky" && (c.grade === "fail" || c.grade === "error"))
    return { label: "FLAKY", color: "gray" };
  switch (c.grade) {
    case "pass":
      return undefined;
    case "fail":
      return { label: "FAIL", color: "red" };
    case "error":
      return { label: "ERROR", color: "magenta" };
    case "warn":
      return { label: "WARN", color: "yellow" };
    case "n/a":
      return { label: "N/A", color: "gray" };
  }
}

/** `1 case`, `2 cases`. */
function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** A failure in one line: `REQ-ID (MUST) message`. */
function oneLine(f: Failure): string {
  return `${f.requirement} (${f.level}) ${f.message}`;
}

/** Control characters of untrusted text shown as `\uXXXX`, so a frame cannot drive the terminal. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these are what it removes
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => {
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

/** A terminal reporter writing to `out`. */
export function createTtyReporter(
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
  opts: TtyOptions = {},
): TtyReporter {
  const tty = out.isTTY === true;
  const env = process.env;
  const color =
    opts.color ??
    (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0"
      ? true
      : tty && (env.NO_COLOR === undefined || env.NO_COLOR === ""));
  const now = opts.now ?? (() => performance.now());
  const paint = (c: keyof typeof CODES, text: string) =>
    color ? `\u001b[${CODES[c]}m${text}\u001b[0m` : text;
  const write = (text: string) => {
    out.write(text);
  };

  let started = now();
  let total = 0;
  let done = 0;
  const running: string[] = [];
  let statusShown = false;
  let timer: ReturnType<typeof setInterval> | undefined;

  const clearStatus = () => {
    if (tty && statusShown) write("\r\u001b[2K");
    statusShown = false;
  };
  const drawStatus = () => {
    if (!tty) return;
    const elapsed = ((now() - started) / 1000).toFixed(1);
    const current = running.at(-1);
    const others = running.length > 1 ? ` (+${running.length - 1})` : "";
    let line = `[${done}/${total}] ${current !== undefined ? printable(current) : ""}${others}  elapsed ${elapsed}s`;
    const width = out.columns ?? 100;
    if (line.length > width - 1) line = `${line.slice(0, Math.max(0, width - 2))}…`;
    write(`\r\u001b[2K${line}`);
    statusShown = true;
  };
  const stopTimer = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };

  const caseLine = (c: CaseResult): string | undefined => {
    const v = verdictOf(c);
    if (v === undefined) return undefined;
    const why =
      c.failure !== undefined
        ? oneLine(c.failure)
        : c.warnings?.[0] !== undefined
          ? oneLine(c.warnings[0])
          : (c.reason ?? "");
    return `${paint(v.color, v.label.padEnd(5))} ${printable(c.name)}${why ? `  ${printable(why)}` : ""}`;
  };

  return {
    start(n) {
      total = n;
      done = 0;
      started = now();
      if (tty) {
        drawStatus();
        const tick = opts.tickMs ?? 250;
        if (tick > 0) {
          timer = setInterval(drawStatus, tick);
          timer.unref?.();
        }
      }
    },
    caseStarted(name) {
      running.push(name);
      drawStatus();
    },
    caseFinished(result, d, t) {
      done = d;
      total = t;
      const at = running.lastIndexOf(result.name);
      if (at >= 0) running.splice(at, 1);
      const line = caseLine(result);
      if (line !== undefined) {
        clearStatus();
        write(`${line}\n`);
      }
      drawStatus();
    },
    finish(report) {
      stopTimer();
      clearStatus();
      write(summaryText(report, paint));
    },
  };
}

/** The summary `finish` prints: counts, every case that did not pass in detail, coverage. */
export function summaryText(
  report: Report,
  paint: (c: keyof typeof CODES, text: string) => string = (_c, t) => t,
): string {
  const lines: string[] = [""];
  const s = report.summary;
  const p = printable;
  const counts = [
    `${s.pass} passed`,
    s.fail > 0 ? paint("red", `${s.fail} failed`) : `${s.fail} failed`,
    s.warn > 0 ? paint("yellow", `${s.warn} warned`) : `${s.warn} warned`,
    `${s.notApplicable} n/a`,
    s.error > 0 ? paint("magenta", plural(s.error, "error")) : plural(s.error, "error"),
  ];
  const baseline = [
    s.expectedFailures > 0 ? plural(s.expectedFailures, "expected failure") : "",
    s.stale > 0 ? paint("red", `${s.stale} stale`) : "",
    s.flaky > 0 ? `${s.flaky} flaky` : "",
  ].filter(Boolean);
  lines.push(
    `${paint("bold", plural(s.total, "case"))}: ${counts.join(", ")}${baseline.length > 0 ? ` (${baseline.join(", ")})` : ""}` +
      ` in ${(report.durationMs / 1000).toFixed(1)}s`,
    p(
      `target ${report.target.url}  profile ${report.profile}  seed ${report.seed}  spec ${report.specRevision}`,
    ),
  );

  const detail = (c: CaseResult, v: { label: string; color: keyof typeof CODES }) => {
    lines.push("", `${paint(v.color, v.label)} ${paint("bold", p(c.name))}`);
    if (c.baseline === "stale")
      lines.push(
        "  listed as an expected failure but passed: remove it from the expected failures",
      );
    const failures = [
      ...(c.failure !== undefined ? [c.failure] : []),
      ...(c.warnings ?? []).filter(
        (w) => w !== c.failure && w.requirement !== c.failure?.requirement,
      ),
    ];
    for (const f of failures) {
      lines.push(`  ${p(f.requirement)} ${f.level}: ${p(f.text)}`, `  ${p(f.message)}`);
      if (f.expected !== undefined) lines.push(`    expected: ${p(f.expected)}`);
      if (f.actual !== undefined) lines.push(`    actual:   ${p(f.actual)}`);
    }
    if (c.reason !== undefined) lines.push(`  reason: ${p(c.reason)}`);
    if (c.replay !== undefined) {
      lines.push(`  replay: ${p(c.replay.command)}`);
      if (c.replay.traceFile !== undefined) lines.push(`  trace:  ${p(c.replay.traceFile)}`);
    }
  };
  const order = ["STALE", "FAIL", "ERROR", "WARN", "FLAKY", "XFAIL"];
  const listed = report.cases
    .map((c) => ({ c, v: verdictOf(c) }))
    .filter(
      (x): x is { c: CaseResult; v: NonNullable<typeof x.v> } =>
        x.v !== undefined && x.v.label !== "N/A",
    )
    .sort((a, b) => order.indexOf(a.v.label) - order.indexOf(b.v.label));
  for (const { c, v } of listed) detail(c, v);

  const covered = report.chapters.reduce((n, c) => n + c.covered, 0);
  const total = report.chapters.reduce((n, c) => n + c.total, 0);
  const pct = percent(covered, total);
  lines.push("", `coverage: ${covered}/${total} server requirements (${pct}%)`);
  const untested = report.chapters.filter((c) => c.untested.length > 0);
  if (untested.length > 0)
    lines.push(
      `  untested: ${untested.map((c) => `${p(c.chapter)} ${c.untested.length}`).join(", ")}`,
    );
  const verdict =
    report.exitCode === 0
      ? paint("green", "PASSED")
      : report.exitCode === 1
        ? paint("red", "FAILED")
        : paint("magenta", "INCOMPLETE (harness error)");
  lines.push(`${verdict} (exit code ${report.exitCode})`, "");
  return lines.join("\n");
}
