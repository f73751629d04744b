/**
 * The JUnit XML reporter, for CI systems that show test results (Jenkins, GitLab, GitHub
 * actions that read JUnit files). The document validates against both common JUnit schemas:
 * the Ant schema of Windy Road (`JUnit.xsd`, the strict one: every testsuite has its
 * properties, timestamp, hostname, package and id, and a testcase holds at most one of
 * skipped, error or failure) and the one Jenkins' xUnit plugin validates with (`junit-10.xsd`).
 *
 * One `<testsuite>` per case family (the first segment of the case name), one `<testcase>` per
 * case. How grades map, since JUnit knows only pass, failure, error and skipped:
 *
 * | case                         | JUnit                                                        |
 * | ---------------------------- | ------------------------------------------------------------ |
 * | pass                         | a testcase with no child                                     |
 * | fail                         | `<failure type="REQ-ID">`, the requirement and the exchange  |
 * | error                        | `<error type="harness-error">`                               |
 * | n/a                          | `<skipped message="not applicable: …">`                      |
 * | warn                         | passes; the testsuite's `<system-out>` names each SHOULD broken |
 * | expected failure (baseline)  | `<skipped message="expected failure: …">`                    |
 * | flaky failure (baseline)     | `<skipped message="flaky, failure ignored: …">`              |
 * | stale (baseline)             | `<failure type="stale-expected-failure">`                    |
 *
 * Warnings go to the testsuite's `<system-out>` (one line per warning, naming the case)
 * because the Ant schema allows no `<system-out>` inside a testcase.
 * @module
 */
import type { CaseResult, ExchangeEvent, Failure, Report } from "../report.js";

/**
 * Characters XML 1.0 does not allow in a document at all, even as character references: the
 * C0 controls but tab, LF and CR, lone surrogates, U+FFFE and U+FFFF.
 */
const ILLEGAL_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/**
 * `text` with each character XML 1.0 forbids replaced by its JSON-style escape (`\u001b`),
 * so that the document stays well-formed and the reader still sees what was there.
 */
export function sanitizeXml(text: string): string {
  return text.replace(
    ILLEGAL_XML,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/** `text` escaped for an XML text node (CR as a reference, so that parsers keep it). */
export function escapeXmlText(text: string): string {
  return sanitizeXml(text).replace(/[&<>\r]/g, (c) => XML_ENTITIES[c] ?? c);
}

/**
 * `text` escaped for a double- or single-quoted XML attribute value; tab, LF and CR as
 * references, since attribute-value normalization would turn them into spaces.
 */
export function escapeXmlAttr(text: string): string {
  return sanitizeXml(text).replace(/[&<>"'\t\n\r]/g, (c) => XML_ENTITIES[c] ?? c);
}

const XML_ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

/** Options of {@link renderJunit}. */
export interface JunitOptions {
  /** The `hostname` of every testsuite (the schema requires one). Default `localhost`. */
  readonly hostname?: string;
}

/** The case family: the first segment of the case name. */
export function familyOf(name: string): string {
  const family = name.split("/")[0]?.trim() ?? "";
  return family === "" ? "(unnamed)" : family;
}

/** Seconds with at most three decimals, as both schemas accept (`xs:decimal`, Surefire's time). */
function seconds(ms: number): string {
  return Number.isFinite(ms) && ms > 0 ? (ms / 1000).toFixed(3) : "0.000";
}

/** `startedAt` in the Ant schema's form: UTC, to the second, no zone designator. */
function timestampOf(startedAt: string): string {
  const d = new Date(startedAt);
  return Number.isNaN(d.getTime()) ? "1970-01-01T00:00:00" : d.toISOString().slice(0, 19);
}

/** A one-line heading of a failure: `REQ-ID (MUST): message`. */
function headline(f: Failure): string {
  return `${f.requirement} (${f.level}): ${f.message}`;
}

/** The failure as text: the requirement, the values, the replay command. */
export function failureText(f: Failure | undefined, c: CaseResult): string {
  const lines: string[] = [];
  if (f !== undefined) {
    lines.push(`${f.requirement} (${f.level}): ${f.text}`, f.message);
    if (f.expected !== undefined) lines.push(`expected: ${f.expected}`);
    if (f.actual !== undefined) lines.push(`actual:   ${f.actual}`);
  }
  if (c.reason !== undefined) lines.push(`reason: ${c.reason}`);
  if (c.attempts !== undefined && c.attempts > 1) lines.push(`attempts: ${c.attempts}`);
  if (c.replay !== undefined) {
    lines.push(`replay: ${c.replay.command}`);
    if (c.replay.traceFile !== undefined) lines.push(`trace: ${c.replay.traceFile}`);
  }
  if (c.exchange !== undefined && c.exchange.length > 0) {
    lines.push("", `exchange (${c.exchange.length} events):`, ...exchangeLines(c.exchange));
  }
  return lines.join("\n");
}

const MAX_EXCHANGE_LINES = 500;

/** One line per event: time, connection, what happened (`→` sent, `←` received), the frame as JSON. */
export function exchangeLines(exchange: readonly ExchangeEvent[]): string[] {
  const lines = exchange.slice(0, MAX_EXCHANGE_LINES).map((e) => {
    const parts = [`${String(Math.round(e.t)).padStart(6)} ms`, e.conn.padEnd(4)];
    const code = e.code !== undefined ? String(e.code) : undefined;
    switch (e.kind) {
      case "send":
      case "recv":
        parts.push(e.kind === "send" ? "→" : "←");
        if (code !== undefined) parts.push(code);
        break;
      case "http":
        parts.push(e.text ?? "request", ...(code !== undefined ? ["→", code] : []));
        break;
      default:
        parts.push(e.kind, ...(code !== undefined ? [code] : []));
    }
    if (e.frame !== undefined) parts.push(jsonOf(e.frame));
    if (e.text !== undefined && e.kind !== "http") parts.push(e.text);
    if (e.problem !== undefined) parts.push(`[problem: ${e.problem}]`);
    return parts.join(" ");
  });
  if (exchange.length > MAX_EXCHANGE_LINES)
    lines.push(`… ${exchange.length - MAX_EXCHANGE_LINES} more`);
  return lines;
}

/** Compact JSON of a frame; never throws (a cycle or a BigInt gives a placeholder). */
export function jsonOf(value: unknown, indent?: number): string {
  try {
    return JSON.stringify(value, null, indent) ?? String(value);
  } catch {
    return "[unserializable frame]";
  }
}

type Outcome =
  | { readonly kind: "pass" }
  | {
      readonly kind: "failure";
      readonly type: string;
      readonly message: string;
      readonly body: string;
    }
  | {
      readonly kind: "error";
      readonly type: string;
      readonly message: string;
      readonly body: string;
    }
  | { readonly kind: "skipped"; readonly message: string; readonly body: string };

/** How a case shows in JUnit. */
function outcomeOf(c: CaseResult): Outcome {
  const failed = c.grade === "fail" || c.grade === "error";
  const why = c.failure !== undefined ? headline(c.failure) : (c.reason ?? `graded ${c.grade}`);
  if (c.baseline === "expected-failure")
    return {
      kind: "skipped",
      message: `expected failure: ${why}`,
      body: failureText(c.failure, c),
    };
  if (c.baseline === "flaky" && failed)
    return {
      kind: "skipped",
      message: `flaky, failure ignored: ${why}`,
      body: failureText(c.failure, c),
    };
  if (c.baseline === "stale")
    return {
      kind: "failure",
      type: "stale-expected-failure",
      message: `listed as an expected failure but graded ${c.grade}: remove it from the expected failures`,
      body: failureText(c.failure, c),
    };
  switch (c.grade) {
    case "pass":
    case "warn":
      return { kind: "pass" };
    case "fail":
      return {
        kind: "failure",
        type: c.failure?.requirement ?? "unknown",
        message: c.failure !== undefined ? headline(c.failure) : "failed",
        body: failureText(c.failure, c),
      };
    case "error":
      return {
        kind: "error",
        type: "harness-error",
        message: c.reason ?? c.failure?.message ?? "the kit could not run the case",
        body: failureText(c.failure, c),
      };
    case "n/a":
      return {
        kind: "skipped",
        message: `not applicable: ${c.reason ?? "not applicable to this target"}`,
        body: "",
      };
  }
}

/** The warnings of a case as lines for the testsuite's `<system-out>`. */
function warningLines(c: CaseResult): string[] {
  if (c.grade !== "warn") return [];
  const warnings = c.warnings ?? (c.failure !== undefined ? [c.failure] : []);
  const lines = warnings.map(
    (w) =>
      `warning: ${c.name}: ${w.level} ${w.requirement} broken: ${w.text} (${w.message}` +
      `${w.expected !== undefined ? `; expected ${w.expected}` : ""}` +
      `${w.actual !== undefined ? `; actual ${w.actual}` : ""})`,
  );
  return lines.length > 0 ? lines : [`warning: ${c.name}: a SHOULD or MAY broken`];
}

/** Run properties, the same in every testsuite (the Ant schema puts them there). */
function propertiesOf(report: Report): [string, string][] {
  const props: [string, string][] = [
    ["seed", String(report.seed)],
    ["profile", report.profile],
    ["target.url", report.target.url],
    ["target.httpUrl", report.target.httpUrl],
    ["target.kind", report.target.kind],
    ["spec.revision", report.specRevision],
    ["kit", `${report.kit.name} ${report.kit.version}`],
    ["startedAt", report.startedAt],
    ["exitCode", String(report.exitCode)],
  ];
  if (report.shard !== undefined)
    props.push(["shard", `${report.shard.index}/${report.shard.total}`]);
  if (report.merged !== undefined) props.push(["merged", String(report.merged)]);
  for (const [name, on] of Object.entries(report.target.features).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    props.push([`feature.${name}`, String(on)]);
  }
  props.push(["featureSource", report.target.featureSource]);
  return props;
}

/** The report as a JUnit XML document. */
export function renderJunit(report: Report, options: JunitOptions = {}): string {
  const a = escapeXmlAttr;
  const families = new Map<string, CaseResult[]>();
  for (const c of report.cases) {
    const family = familyOf(c.name);
    const list = families.get(family) ?? [];
    list.push(c);
    families.set(family, list);
  }
  const hostname = options.hostname?.trim() || "localhost";
  const timestamp = timestampOf(report.startedAt);
  const properties = propertiesOf(report)
    .map(([name, value]) => `      <property name="${a(name)}" value="${a(value)}"/>`)
    .join("\n");

  const out = ['<?xml version="1.0" encoding="UTF-8"?>', "<testsuites>"];
  let id = 0;
  for (const [family, cases] of families) {
    const outcomes = cases.map(outcomeOf);
    const count = (k: Outcome["kind"]) => outcomes.filter((o) => o.kind === k).length;
    const time = seconds(
      cases.reduce((sum, c) => sum + (Number.isFinite(c.durationMs) ? c.durationMs : 0), 0),
    );
    out.push(
      `  <testsuite name="${a(family)}" package="${a(family)}" id="${id++}" tests="${cases.length}"` +
        ` failures="${count("failure")}" errors="${count("error")}" skipped="${count("skipped")}"` +
        ` time="${time}" timestamp="${timestamp}" hostname="${a(hostname)}">`,
      "    <properties>",
      properties,
      "    </properties>",
    );
    for (const [i, c] of cases.entries()) {
      const o = outcomes[i] ?? { kind: "pass" };
      const open = `    <testcase classname="${a(family)}" name="${a(c.name)}" time="${seconds(c.durationMs)}"`;
      if (o.kind === "pass") {
        out.push(`${open}/>`);
        continue;
      }
      const tag = o.kind;
      const type = o.kind === "skipped" ? "" : ` type="${a(o.type)}"`;
      out.push(
        `${open}>`,
        `      <${tag} message="${a(o.message)}"${type}>${escapeXmlText(o.body)}</${tag}>`,
        "    </testcase>",
      );
    }
    const warnings = cases.flatMap(warningLines);
    out.push(
      warnings.length > 0
        ? `    <system-out>${escapeXmlText(`${warnings.join("\n")}\n`)}</system-out>`
        : "    <system-out/>",
      "    <system-err/>",
      "  </testsuite>",
    );
  }
  out.push("</testsuites>", "");
  return out.join("\n");
}
