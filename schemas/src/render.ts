/**
 * Renders the registry as JSON Schema documents and as the Markdown message reference, so
 * that the spec's message tables can never drift from the schemas.
 * @module
 */
import {
  DEFAULT_SCHEMA_ERROR_CODE,
  ERROR_CODE_KEYWORD,
  SCHEMA_ERROR_PRECEDENCE,
  WELL_FORMED_RULE,
} from "./primitives.js";
import {
  DIRECTIONS,
  type Direction,
  fileName,
  HTTP_SCHEMAS,
  type MessageEntry,
  REGISTRY,
} from "./registry.js";

/** Base of every `$id`. A URN, because the schemas are not served from any host. */
export const ID_BASE = "urn:confab:v1";

/** JSON of a TypeBox schema: symbol keys (TypeBox's own metadata) vanish in stringify. */
function plain(schema: unknown): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
}

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * A registry entry's own facts as plain JSON (everything but its schema): the shape of
 * `registry.json`, and of `x-confab-registry` in the AsyncAPI document.
 */
export function registryRecord(e: MessageEntry): Record<string, unknown> {
  return {
    name: e.name,
    cmd: e.cmd ?? null,
    op: e.op ?? null,
    direction: e.direction,
    since: e.since,
    legacy: e.legacy,
    reply: e.reply ?? null,
    signed: e.signed,
  };
}

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
        ...registryRecord(e),
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

/** The `x-confab-error` annotation of a node, if any [FRAME-SCHEMA-4]. */
const codesOf = (node: Json | undefined): Record<string, number> =>
  (node?.[ERROR_CODE_KEYWORD] as Record<string, number> | undefined) ?? {};

/**
 * A field's constraints; with `withCodes` (client commands, whose failures a server
 * answers), each annotated rule shows the code it is answered with [FRAME-SCHEMA-4].
 */
function constraintsOf(s: Json, withCodes: boolean, required: boolean): string {
  const array = s.type === "array";
  const items = array ? (s.items as Json | undefined) : undefined;
  const target = array ? { ...items, ...s } : s;
  const out: string[] = [];
  for (const [k, label] of CONSTRAINTS) {
    if (k in target) {
      const own = array && !["minItems", "maxItems"].includes(k);
      const scope = own ? "each: " : "";
      const code = withCodes ? codesOf(own ? items : s)[k] : undefined;
      const value = k === "pattern" ? `\`${String(target[k])}\`` : String(target[k]);
      out.push(`${scope}${label} ${value}${code === undefined ? "" : ` → error ${code}`}`);
    }
  }
  if (withCodes) {
    const every = codesOf(s)["*"];
    const what = required ? "any failure, absence included" : "any failure";
    if (every !== undefined) out.push(`${what} → error ${every}`);
    const each = codesOf(items)["*"];
    if (each !== undefined) out.push(`each: any failure → error ${each}`);
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

function fieldTable(schema: Json, withCodes = false): string[] {
  const props = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required as string[]) ?? []);
  if (Object.keys(props).length === 0) return ["No fields."];
  const lines = ["| field | type | required | constraints | meaning |", "|---|---|---|---|---|"];
  for (const [name, p] of Object.entries(props)) {
    const desc = String(p.description ?? "").replace(/\|/g, "\\|");
    lines.push(
      `| \`${name}\` | ${typeOf(p)} | ${required.has(name) ? "yes" : "no"} | ${constraintsOf(p, withCodes, required.has(name))} | ${desc} |`,
    );
  }
  return lines;
}

const TITLES: Record<Direction, string> = {
  c2s: "Client → server",
  s2c: "Server → client",
};

/**
 * How to use the JSON Schema files with another validator and derive the error code of a
 * failed command from them alone [FRAME-SCHEMA-4, FRAME-SCHEMA-5, ERROR-ORDER-12]: the
 * recipe a conformance kit or a third-party server follows, which the schema tests follow
 * with a fresh ajv.
 */
function validatorGuide(): string[] {
  const order = SCHEMA_ERROR_PRECEDENCE.join(", ");
  return [
    "## Using the JSON Schemas, and the error code of a failure",
    "",
    "The files are JSON Schema draft-07 with two keywords of Confab's own, which a",
    "validator must be told about:",
    "",
    "- `maxUtf8Bytes` (a number, on strings): the string is at most that many bytes of",
    "  UTF-8 (`msg`, LIMIT-MSG-2).",
    `- \`${ERROR_CODE_KEYWORD}\` (an object, an annotation that validates nothing): the error`,
    '  code a server answers when a rule of the node fails, by keyword, or `"*"` for every',
    "  rule of the node (FRAME-SCHEMA-4). The constraints below show these codes for client",
    "  commands.",
    "",
    "With ajv 8:",
    "",
    "```js",
    'import { Ajv } from "ajv";',
    "const ajv = new Ajv({ allErrors: true }); // every failure: the precedence needs them all",
    "ajv.addKeyword({",
    '  keyword: "maxUtf8Bytes",',
    '  type: "string",',
    '  schemaType: "number",',
    "  validate: (max, s) => new TextEncoder().encode(s).length <= max,",
    "});",
    `ajv.addKeyword({ keyword: "${ERROR_CODE_KEYWORD}", schemaType: "object" });`,
    "```",
    "",
    "The code that answers an invalid command (spec 01, FRAME-SCHEMA-4; spec 08,",
    "ERROR-ORDER-12), once its app is known to be served:",
    "",
    "1. Find the schema by `cmd` and `op` in `registry.json` (direction `c2s`); an object",
    "   without `cmd` is the keepalive, and an unknown `cmd` or `op` is",
    `   ${DEFAULT_SCHEMA_ERROR_CODE} (FRAME-SCHEMA-1).`,
    "2. If the app does not enforce signatures, delete `s`, `t` and `n` from the command",
    "   (FRAME-SCHEMA-5).",
    "3. Validate it, collecting every error.",
    "4. For each error, take the schema node at its `schemaPath` without the last segment;",
    "   for `required`, the node of the missing member instead",
    "   (`properties[params.missingProperty]`). Its code is",
    `   \`node["${ERROR_CODE_KEYWORD}"][keyword]\`, else \`node["${ERROR_CODE_KEYWORD}"]["*"]\`, else ${DEFAULT_SCHEMA_ERROR_CODE}.`,
    `5. Add a failure of the rule \`${WELL_FORMED_RULE}\` for every string with an unpaired`,
    "   surrogate in a field the schema defines (LIMIT-TEXT-1), its code by the same lookup",
    "   on the node that describes the string (follow `properties` and `items`).",
    `6. The answer is the first of ${order} among those codes.`,
    "",
    "`@confab/protocol` does this: `validate()` gives every `FieldError` its `code`,",
    "`wellFormedErrors()` is step 5 and `codeOf()` step 6.",
    "",
  ];
}

/** The Markdown message reference, `docs/messages.md`. */
export function renderMessageReference(): string {
  const out: string[] = [
    "# Confab v1 message reference",
    "",
    "Generated from `schemas/src` by `npm run gen`; do not edit by hand. The normative",
    "behaviour is in `spec/`; this page lists each frame's fields exactly as the schemas",
    "check them. Receivers ignore fields not listed here [VERSION]. JSON Schema files are",
    "in `schemas/json/`; `schemas/asyncapi.json` describes the same messages, the HTTP",
    "endpoints and the error codes as an AsyncAPI 3 document, for AsyncAPI tools.",
    "",
    ...validatorGuide(),
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
      out.push(...fieldTable(s, d === "c2s"), "");
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
