/**
 * Renders the registry as JSON Schema documents and as the Markdown message reference, so
 * that the spec's message tables can never drift from the schemas.
 * @module
 */
import { DIRECTIONS, type Direction, fileName, HTTP_SCHEMAS, REGISTRY } from "./registry.js";

/** Base of every `$id`. A URN, because the schemas are not served from any host. */
export const ID_BASE = "urn:confab:v1";

/** JSON of a TypeBox schema: symbol keys (TypeBox's own metadata) vanish in stringify. */
function plain(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/** Every JSON Schema file, as `[path under schemas/json, content]`. */
export function renderJsonSchemas(): [string, string][] {
  const files: [string, string][] = [];
  for (const e of REGISTRY) {
    files.push([
      `${e.direction}/${fileName(e.name)}.json`,
      json({
        $schema: "http://json-schema.org/draft-07/schema#",
        $id: `${ID_BASE}:${e.direction}:${e.name}`,
        title: `${e.direction} ${e.name}`,
        ...plain(e.schema),
      }),
    ]);
  }
  for (const [name, schema] of Object.entries(HTTP_SCHEMAS)) {
    files.push([
      `http/${name}.json`,
      json({
        $schema: "http://json-schema.org/draft-07/schema#",
        $id: `${ID_BASE}:http:${name}`,
        title: `http ${name}`,
        ...plain(schema),
      }),
    ]);
  }
  files.push([
    "registry.json",
    json(
      REGISTRY.map((e) => ({
        name: e.name,
        cmd: e.cmd ?? null,
        op: e.op ?? null,
        direction: e.direction,
        since: e.since,
        legacy: e.legacy,
        reply: e.reply ?? null,
        signed: e.signed,
        schema: `${e.direction}/${fileName(e.name)}.json`,
      })),
    ),
  ]);
  return files;
}

type Json = Record<string, unknown>;

/** A short type expression for a property schema. */
function typeOf(s: Json): string {
  if ("const" in s) return `\`${JSON.stringify(s.const)}\``;
  if (Array.isArray(s.enum)) return s.enum.map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ");
  if (s.type === "array") return `${typeOf((s.items ?? {}) as Json)}[]`;
  if (Array.isArray(s.anyOf)) return (s.anyOf as Json[]).map(typeOf).join(" \\| ");
  return String(s.type ?? "any");
}

const CONSTRAINTS: [string, string][] = [
  ["minLength", "min length"],
  ["maxLength", "max length"],
  ["maxUtf8Bytes", "max UTF-8 bytes"],
  ["pattern", "pattern"],
  ["minimum", "min"],
  ["maximum", "max"],
  ["minItems", "min items"],
  ["maxItems", "max items"],
];

function constraintsOf(s: Json): string {
  const target = s.type === "array" ? { ...(s.items as Json), ...s } : s;
  const out: string[] = [];
  for (const [k, label] of CONSTRAINTS) {
    if (k in target) {
      const scope = s.type === "array" && !["minItems", "maxItems"].includes(k) ? "each: " : "";
      out.push(
        `${scope}${label} ${k === "pattern" ? `\`${String(target[k])}\`` : String(target[k])}`,
      );
    }
  }
  return out.join("; ").replace(/\|/g, "\\|");
}

function objectRules(s: Json): string[] {
  const rules: string[] = [];
  if (Array.isArray(s.oneOf)) {
    const names = (s.oneOf as Json[]).flatMap((b) => (b.required as string[]) ?? []);
    rules.push(`exactly one of ${names.map((n) => `\`${n}\``).join(", ")}`);
  }
  const not = s.not as Json | undefined;
  if (not && Array.isArray(not.required)) {
    const names = (not.required as string[]).map((n) => `\`${n}\``);
    rules.push(
      names.length === 1 ? `must not have ${names[0]}` : `must not have all of ${names.join(", ")}`,
    );
  }
  const deps = s.dependencies as Record<string, string[]> | undefined;
  for (const [k, v] of Object.entries(deps ?? {})) {
    rules.push(`\`${k}\` requires ${v.map((n) => `\`${n}\``).join(", ")}`);
  }
  return rules;
}

function fieldTable(schema: Json): string[] {
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required as string[]) ?? []);
  if (Object.keys(props).length === 0) return ["No fields."];
  const lines = ["| field | type | required | constraints | meaning |", "|---|---|---|---|---|"];
  for (const [name, p] of Object.entries(props)) {
    const desc = String(p.description ?? "").replace(/\|/g, "\\|");
    lines.push(
      `| \`${name}\` | ${typeOf(p)} | ${required.has(name) ? "yes" : "no"} | ${constraintsOf(p)} | ${desc} |`,
    );
  }
  return lines;
}

const TITLES: Record<Direction, string> = {
  c2s: "Client → server",
  s2c: "Server → client",
};

/** The Markdown message reference, `docs/messages.md`. */
export function renderMessageReference(): string {
  const out: string[] = [
    "# Confab v1 message reference",
    "",
    "Generated from `schemas/src` by `npm run gen`; do not edit by hand. The normative",
    "behaviour is in `spec/`; this page lists each frame's fields exactly as the schemas",
    "check them. Receivers ignore fields not listed here [VERSION]. JSON Schema files are",
    "in `schemas/json/`.",
    "",
  ];
  for (const d of DIRECTIONS) {
    out.push(`## ${TITLES[d]} (\`${d}\`)`, "");
    out.push("| message | legacy client | reply | signed |", "|---|---|---|---|");
    for (const e of REGISTRY.filter((x) => x.direction === d)) {
      const only = e.reply?.exceptTransient ? " (without `i`: not when transient)" : "";
      const reply = e.reply
        ? `\`${e.reply.name}\`${e.reply.repliedWithoutSerial ? only : " (only with `i`)"}`
        : "none";
      const signed = d === "c2s" ? (e.signed ? "when enforced" : "no") : "—";
      out.push(
        `| [\`${e.name}\`](#${d}-${fileName(e.name)}) | ${e.legacy ? "yes" : "no"} | ${d === "c2s" ? reply : "—"} | ${signed} |`,
      );
    }
    out.push("");
    for (const e of REGISTRY.filter((x) => x.direction === d)) {
      const s = plain(e.schema);
      out.push(`### ${d} ${e.name}`, "", `<a id="${d}-${fileName(e.name)}"></a>`, "");
      out.push(String(s.description ?? ""), "");
      out.push(
        `Schema: [\`schemas/json/${d}/${fileName(e.name)}.json\`](../schemas/json/${d}/${fileName(e.name)}.json). Since v${e.since}.`,
        "",
      );
      const rules = objectRules(s);
      if (rules.length > 0) out.push(`Frame rules: ${rules.join("; ")}.`, "");
      out.push(...fieldTable(s), "");
    }
  }
  out.push("## HTTP bodies", "");
  for (const [name, schema] of Object.entries(HTTP_SCHEMAS)) {
    const s = plain(schema);
    out.push(`### http ${name}`, "", String(s.description ?? ""), "");
    const rules = objectRules(s);
    if (rules.length > 0) out.push(`Rules: ${rules.join("; ")}.`, "");
    if (s.type === "array")
      out.push(
        `An array (max ${String(s.maxItems)}) of history items:`,
        "",
        ...fieldTable(s.items as Json),
        "",
      );
    else out.push(...fieldTable(s), "");
  }
  return `${out.join("\n").trimEnd()}\n`;
}

/** The markers around Table 1 of spec/01-transport.md, which {@link renderReplyTable} fills. */
export const REPLY_TABLE_MARKERS = {
  begin: "<!-- generated: Table 1 from the registry by `npm run gen`; do not edit -->",
  end: "<!-- end of generated Table 1 -->",
} as const;

/**
 * Table 1 of spec/01-transport.md: each command's success reply and whether a command
 * without `i` gets one, rendered from the registry so that the spec's table and the
 * `reply` flags the server and the kit use are one fact.
 */
export function renderReplyTable(): string {
  const rows: [string, string, string][] = [];
  for (const e of REGISTRY) {
    if (e.direction !== "c2s" || e.name === "keepalive") continue;
    const reply = e.reply;
    if (!reply) {
      rows.push([`\`${e.name}\``, "none, even with `i`", "no"]);
    } else if (reply.exceptTransient) {
      rows.push([`\`${e.name}\` without \`transient: true\``, `\`${reply.name}\``, "yes"]);
      rows.push([`\`${e.name}\` with \`transient: true\``, `\`${reply.name}\``, "no"]);
    } else {
      rows.push([`\`${e.name}\``, `\`${reply.name}\``, reply.repliedWithoutSerial ? "yes" : "no"]);
    }
  }
  rows.push(["an unknown `cmd` or `cmd`/`op`", "none: it fails (FRAME-SCHEMA-3)", "yes"]);
  rows.push(["`keepalive`", "`keepalive`", "always, and never with `i`"]);
  const head: [string, string, string] = [
    "command (c2s)",
    "success reply (s2c)",
    "replied to without `i`",
  ];
  const width = [0, 1, 2].map((k) => Math.max(...[head, ...rows].map((r) => r[k]?.length ?? 0)));
  const line = (r: readonly string[]) =>
    `| ${r.map((c, k) => c.padEnd(width[k] as number)).join(" | ")} |`;
  return [line(head), `| ${width.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.map(line)].join(
    "\n",
  );
}

/** `markdown` with the text between the markers replaced by `block` (markers kept). */
export function replaceGenerated(
  markdown: string,
  markers: { readonly begin: string; readonly end: string },
  block: string,
): string {
  const a = markdown.indexOf(markers.begin);
  const b = markdown.indexOf(markers.end);
  if (a < 0 || b < a) throw new Error(`markers ${markers.begin} … ${markers.end} not found`);
  return `${markdown.slice(0, a + markers.begin.length)}\n${block}\n${markdown.slice(b)}`;
}
