/**
 * The gate's verdict and its three renderings: a terminal report, JSON for tools, and
 * Markdown for a pull-request comment.
 * @module
 */
import { type AllowEntry, allows } from "./allow.js";
import type { DiffResult } from "./compare.js";
import type { AnnotationEdit, ChangeClass, SchemaChange } from "./types.js";

/** A change as the report gives it: with the allow entry's reason when it is allowed. */
export type ReportedChange = SchemaChange & { readonly allowed?: string };

/** The verdict of the gate over one comparison. */
export interface DiffReport {
  /** What BASE was, as given on the command line. */
  readonly base: string;
  /** What HEAD was. */
  readonly head: string;
  /** Where the requirement IDs came from, or `null` when none were cited. */
  readonly requirementsSource: string | null;
  /** Every change; breaking ones carry `allowed` when an allow entry covers them. */
  readonly changes: readonly ReportedChange[];
  /** Description, example and title edits (compatible). */
  readonly annotations: readonly AnnotationEdit[];
  /** Allow entries that allow no breaking change: they fail the gate. */
  readonly stale: readonly AllowEntry[];
  /** Counts: breaking (not allowed), allowed, warning, non-breaking, annotations, stale. */
  readonly counts: {
    readonly breaking: number;
    readonly allowed: number;
    readonly warning: number;
    readonly nonBreaking: number;
    readonly annotations: number;
    readonly stale: number;
  };
  /** `true` when no unallowed breaking change and no stale entry: exit status 0. */
  readonly passed: boolean;
}

/**
 * Applies an allow-list to a comparison and decides the verdict. Only breaking changes can
 * be allowed; an entry that matches none is stale.
 */
export function evaluate(
  diff: DiffResult,
  allow: readonly AllowEntry[],
  labels: { base: string; head: string; requirementsSource?: string | null },
): DiffReport {
  const used = new Set<AllowEntry>();
  const changes = diff.changes.map((c): ReportedChange => {
    if (c.class !== "breaking") return c;
    const entry = allow.find((e) => allows(e, c));
    if (!entry) return c;
    used.add(entry);
    return { ...c, allowed: entry.reason };
  });
  const stale = allow.filter((e) => !used.has(e));
  const count = (cls: ChangeClass) => changes.filter((c) => c.class === cls).length;
  const allowed = changes.filter((c) => c.allowed !== undefined).length;
  const counts = {
    breaking: count("breaking") - allowed,
    allowed,
    warning: count("warning"),
    nonBreaking: count("non-breaking"),
    annotations: diff.annotations.length,
    stale: stale.length,
  };
  return {
    base: labels.base,
    head: labels.head,
    requirementsSource: labels.requirementsSource ?? null,
    changes,
    annotations: diff.annotations,
    stale,
    counts,
    passed: counts.breaking === 0 && counts.stale === 0,
  };
}

const SECTIONS: { title: string; pick: (c: ReportedChange) => boolean }[] = [
  { title: "Breaking", pick: (c) => c.class === "breaking" && c.allowed === undefined },
  { title: "Allowed breaking", pick: (c) => c.allowed !== undefined },
  { title: "Warnings", pick: (c) => c.class === "warning" },
  { title: "Non-breaking", pick: (c) => c.class === "non-breaking" },
];

const MAX_IDS = 6;
const ids = (c: SchemaChange) =>
  c.requirements.length <= MAX_IDS
    ? c.requirements.join(", ")
    : `${c.requirements.slice(0, MAX_IDS).join(", ")} and ${c.requirements.length - MAX_IDS} more`;

/** The one-line count. */
function tally(r: DiffReport): string {
  const n = r.counts;
  return [
    `${n.breaking} breaking`,
    `${n.allowed} allowed`,
    `${n.warning} warning${n.warning === 1 ? "" : "s"}`,
    `${n.nonBreaking} non-breaking`,
    `${n.annotations} description/example edit${n.annotations === 1 ? "" : "s"}`,
    ...(n.stale > 0 ? [`${n.stale} stale allow entr${n.stale === 1 ? "y" : "ies"}`] : []),
  ].join(", ");
}

function verdict(r: DiffReport): string {
  if (r.passed)
    return r.changes.length === 0 ? "no change to the contract" : "passed: no unallowed break";
  const why = [
    ...(r.counts.breaking > 0 ? [`${r.counts.breaking} breaking change(s) not allowed`] : []),
    ...(r.counts.stale > 0 ? [`${r.counts.stale} stale allow entr(ies)`] : []),
  ];
  return `FAILED: ${why.join(", ")}`;
}

const where = (c: SchemaChange) => (c.pointer === "" ? "(message)" : c.pointer);

/** The terminal report: grouped by class, the breaking ones first. */
export function renderText(r: DiffReport, options: { verbose?: boolean } = {}): string {
  const out = [`confab-schema diff ${r.base} → ${r.head}`, `  ${tally(r)}`, ""];
  for (const s of SECTIONS) {
    const list = r.changes.filter(s.pick);
    if (list.length === 0) continue;
    // Compatible changes are many and need no action: listed only on request.
    if (s.title === "Non-breaking" && !options.verbose) {
      out.push(`${s.title}: ${list.length} (--verbose lists them)`, "");
      continue;
    }
    out.push(`${s.title} (${list.length}):`);
    for (const c of list) {
      out.push(`  ${c.message}  ${where(c)}  [${c.rule}]`);
      out.push(`      ${c.summary}`);
      if (c.allowed !== undefined) out.push(`      allowed: ${c.allowed}`);
      if (c.hurt !== undefined && c.allowed === undefined) out.push(`      hurts: ${c.hurt}`);
      if (c.note !== undefined) out.push(`      note: ${c.note}`);
      if (c.requirements.length > 0) out.push(`      requirements: ${ids(c)}`);
    }
    out.push("");
  }
  if (r.stale.length > 0) {
    out.push(`Stale allow entries (${r.stale.length}): they allow no breaking change; delete them`);
    for (const e of r.stale)
      out.push(
        `  ${e.message}  ${e.pointer === "" ? "(message)" : e.pointer}${e.rule ? `  [${e.rule}]` : ""}  (${e.reason})`,
      );
    out.push("");
  }
  if (r.requirementsSource === null) out.push("Requirement IDs: none cited (no spec found).");
  out.push(verdict(r));
  return `${out.join("\n")}\n`;
}

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string) => (s === "" ? "(message)" : `\`${s}\``);

/** Markdown for a pull-request comment: a verdict, a count table, one table per class. */
export function renderMarkdown(r: DiffReport): string {
  const n = r.counts;
  const out = [
    `### Protocol-change gate: ${r.passed ? "✅" : "❌"} ${verdict(r)}`,
    "",
    `\`${cell(r.base)}\` → \`${cell(r.head)}\``,
    "",
    "| breaking | allowed | warnings | non-breaking | description/example edits | stale allow entries |",
    "|---|---|---|---|---|---|",
    `| ${n.breaking} | ${n.allowed} | ${n.warning} | ${n.nonBreaking} | ${n.annotations} | ${n.stale} |`,
    "",
  ];
  for (const s of SECTIONS) {
    const list = r.changes.filter(s.pick);
    if (list.length === 0) continue;
    const folded = s.title === "Non-breaking";
    out.push(
      folded
        ? `<details><summary>${s.title} (${list.length})</summary>\n`
        : `#### ${s.title} (${list.length})\n`,
    );
    out.push("| message | pointer | rule | change | who is hurt | requirements |");
    out.push("|---|---|---|---|---|---|");
    for (const c of list) {
      const hurt = c.allowed !== undefined ? `allowed: ${c.allowed}` : (c.hurt ?? c.note ?? "");
      out.push(
        `| ${cell(c.message)} | ${code(cell(c.pointer))} | ${c.rule} | ${cell(c.summary)} | ${cell(hurt)} | ${ids(c)} |`,
      );
    }
    out.push(folded ? "\n</details>\n" : "");
  }
  if (r.stale.length > 0) {
    out.push(`#### Stale allow entries (${r.stale.length})`, "");
    out.push("They allow no breaking change: delete them.", "");
    for (const e of r.stale)
      out.push(
        `- ${cell(e.message)} ${code(cell(e.pointer))}${e.rule ? ` (${e.rule})` : ""}: ${cell(e.reason)}`,
      );
    out.push("");
  }
  if (r.requirementsSource === null) out.push("_Requirement IDs: none cited (no spec found)._", "");
  return `${out.join("\n").trimEnd()}\n`;
}

/** The report as JSON (the {@link DiffReport} object), for tools. */
export function renderJson(r: DiffReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}
