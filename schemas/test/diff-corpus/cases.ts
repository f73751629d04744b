// The corpus of the protocol-change gate: for every row of the classification table of
// ../shared/brief/conformance-lessons.md (and Table 8 of spec 09, which adds "optional
// field added"), a pair of schemas and the class the gate must give the change when the
// message is client→server and when it is server→client; plus pairs that must be "no
// change". A case is a set of messages by registry name on each side; most have one,
// `probe`, so the pair is one schema before and after.
import type { ChangeClass, ChangeRule, JsonSchema } from "@confab/protocol";

/** The rows of the table, verbatim, so that the test can require a case for each. */
export const TABLE_ROWS = [
  "command or op removed / renamed",
  "field type changed incompatibly",
  "type widened (integer → number)",
  "required field added / optional made required",
  "required made optional / required field removed",
  "enum value or union branch added",
  "enum value removed",
  "constraint tightened (maxLength down, pattern added)",
  "constraint loosened",
  "description / examples only",
  // Table 8 of spec 09 adds this row.
  "optional field added",
] as const;

/** The table's row a case exercises, or a rule the gate adds where the table is silent. */
export type Row = (typeof TABLE_ROWS)[number] | "beyond the table" | "no change";

/** What the gate must say about a case in one direction. */
export type Expected =
  | "no change"
  | {
      /** The worst class among the changes. */
      readonly class: ChangeClass;
      /** A change with this rule must be reported… */
      readonly rule: ChangeRule;
      /** …at this pointer. */
      readonly pointer: string;
    };

/** One pair of schema sets and the verdict per direction. */
export interface CorpusCase {
  readonly name: string;
  readonly row: Row;
  readonly base: Readonly<Record<string, JsonSchema>>;
  readonly head: Readonly<Record<string, JsonSchema>>;
  readonly c2s: Expected;
  readonly s2c: Expected;
}

/** A frame schema of the shape the generator writes: cmd, peerId, and the fields given. */
function frame(
  properties: Record<string, JsonSchema>,
  required: string[] = [],
  rest: JsonSchema = {},
): JsonSchema {
  return {
    $schema: "http://json-schema.org/draft-07/schema#",
    title: "probe",
    description: "A probe message.",
    type: "object",
    required: ["cmd", "peerId", ...required],
    properties: {
      cmd: { const: "probe", type: "string" },
      peerId: { minLength: 1, maxLength: 64, type: "string" },
      ...properties,
    },
    ...rest,
  };
}

const one = (s: JsonSchema) => ({ probe: s });
const str = (more: JsonSchema = {}): JsonSchema => ({ type: "string", ...more });
const at = (field: string) => `/properties/${field}`;

const breaking = (rule: ChangeRule, pointer: string): Expected => ({
  class: "breaking",
  rule,
  pointer,
});
const ok = (rule: ChangeRule, pointer: string): Expected => ({
  class: "non-breaking",
  rule,
  pointer,
});
const warning = (rule: ChangeRule, pointer: string): Expected => ({
  class: "warning",
  rule,
  pointer,
});

/** Pairs whose change is the same in both directions, written once. */
function both(
  name: string,
  row: Row,
  base: JsonSchema,
  head: JsonSchema,
  c2s: Expected,
  s2c: Expected,
): CorpusCase {
  return { name, row, base: one(base), head: one(head), c2s, s2c };
}

/** A schema that uses error-code annotations, so that a changed code is a changed code. */
const coded = (code: number) =>
  frame({ msg: str({ maxLength: 10, "x-confab-error": { maxLength: code } }) }, ["msg"]);

/** The cases. */
export const CASES: readonly CorpusCase[] = [
  // command or op removed / renamed
  {
    name: "a message removed",
    row: "command or op removed / renamed",
    base: { probe: frame({}), other: frame({}) },
    head: { probe: frame({}) },
    c2s: breaking("message-removed", ""),
    s2c: breaking("message-removed", ""),
  },
  {
    name: "an op renamed (probe/open → probe/start, same fields)",
    row: "command or op removed / renamed",
    base: { "probe/open": frame({ op: { const: "open", type: "string" } }, ["op"]) },
    head: { "probe/start": frame({ op: { const: "start", type: "string" } }, ["op"]) },
    c2s: breaking("message-renamed", ""),
    s2c: breaking("message-renamed", ""),
  },
  // field type changed incompatibly
  both(
    "string → integer",
    "field type changed incompatibly",
    frame({ n: str() }),
    frame({ n: { type: "integer" } }),
    breaking("type-changed", at("n")),
    breaking("type-changed", at("n")),
  ),
  both(
    "array → object",
    "field type changed incompatibly",
    frame({ ids: { type: "array", items: str() } }),
    frame({ ids: { type: "object" } }),
    breaking("type-changed", at("ids")),
    breaking("type-changed", at("ids")),
  ),
  // type widened
  both(
    "integer → number",
    "type widened (integer → number)",
    frame({ n: { type: "integer" } }),
    frame({ n: { type: "number" } }),
    ok("type-widened", at("n")),
    breaking("type-widened", at("n")),
  ),
  both(
    "string → [string, null]",
    "type widened (integer → number)",
    frame({ s: str() }),
    frame({ s: { type: ["string", "null"] } }),
    ok("type-widened", at("s")),
    breaking("type-widened", at("s")),
  ),
  // required field added / optional made required
  both(
    "a required field added",
    "required field added / optional made required",
    frame({}),
    frame({ roomId: str() }, ["roomId"]),
    breaking("required-field-added", at("roomId")),
    ok("required-field-added", at("roomId")),
  ),
  both(
    "an optional field made required",
    "required field added / optional made required",
    frame({ roomId: str() }),
    frame({ roomId: str() }, ["roomId"]),
    breaking("field-made-required", at("roomId")),
    ok("field-made-required", at("roomId")),
  ),
  // required made optional / required field removed
  both(
    "a required field made optional",
    "required made optional / required field removed",
    frame({ roomId: str() }, ["roomId"]),
    frame({ roomId: str() }),
    ok("field-made-optional", at("roomId")),
    breaking("field-made-optional", at("roomId")),
  ),
  both(
    "a required field removed",
    "required made optional / required field removed",
    frame({ roomId: str() }, ["roomId"]),
    frame({}),
    ok("required-field-removed", at("roomId")),
    breaking("required-field-removed", at("roomId")),
  ),
  // enum value or union branch added
  both(
    "an enum value added",
    "enum value or union branch added",
    frame({ status: str({ enum: ["on", "off"] }) }),
    frame({ status: str({ enum: ["on", "off", "away"] }) }),
    ok("enum-value-added", at("status")),
    breaking("enum-value-added", at("status")),
  ),
  both(
    "a const widened to an enum",
    "enum value or union branch added",
    frame({ kind: str({ const: "a" }) }),
    frame({ kind: str({ enum: ["a", "b"] }) }),
    ok("enum-value-added", at("kind")),
    breaking("enum-value-added", at("kind")),
  ),
  both(
    "a union branch added (exactly one of toPeerIds, roomId, topic)",
    "enum value or union branch added",
    frame({}, [], { oneOf: [{ required: ["toPeerIds"] }, { required: ["roomId"] }] }),
    frame({}, [], {
      oneOf: [{ required: ["toPeerIds"] }, { required: ["roomId"] }, { required: ["topic"] }],
    }),
    ok("union-branch-added", "/oneOf/2"),
    breaking("union-branch-added", "/oneOf/2"),
  ),
  {
    name: "an open set widened: the error codes (ERROR-CLIENT-1)",
    row: "enum value or union branch added",
    base: { error: frame({ code: { type: "integer", minimum: 1000, maximum: 4999 } }) },
    head: { error: frame({ code: { type: "integer", minimum: 1000, maximum: 5999 } }) },
    c2s: ok("constraint-loosened", at("code")),
    s2c: ok("constraint-loosened", at("code")),
  },
  // enum value removed
  both(
    "an enum value removed",
    "enum value removed",
    frame({ status: str({ enum: ["on", "off", "away"] }) }),
    frame({ status: str({ enum: ["on", "off"] }) }),
    breaking("enum-value-removed", at("status")),
    warning("enum-value-removed", at("status")),
  ),
  both(
    "a union branch removed",
    "enum value removed",
    frame({}, [], { oneOf: [{ required: ["toPeerIds"] }, { required: ["roomId"] }] }),
    frame({}, [], { oneOf: [{ required: ["toPeerIds"] }] }),
    breaking("union-branch-removed", "/oneOf/1"),
    warning("union-branch-removed", "/oneOf/1"),
  ),
  // constraint tightened
  ...(
    [
      ["maxLength lowered", str({ maxLength: 64 }), str({ maxLength: 32 })],
      ["pattern added", str(), str({ pattern: "^[a-z]+$" })],
      ["minLength raised", str({ minLength: 0 }), str({ minLength: 1 })],
      ["maxUtf8Bytes lowered", str({ maxUtf8Bytes: 5120 }), str({ maxUtf8Bytes: 2048 })],
      ["maximum lowered", { type: "integer", maximum: 10 }, { type: "integer", maximum: 5 }],
      ["minimum added", { type: "integer" }, { type: "integer", minimum: 0 }],
      [
        "maxItems lowered",
        { type: "array", maxItems: 500, items: str() },
        { type: "array", maxItems: 100, items: str() },
      ],
      [
        "minItems raised",
        { type: "array", minItems: 0, items: str() },
        { type: "array", minItems: 1, items: str() },
      ],
      ["not added (must be absent)", {}, { not: {} }],
      ["an integer narrowed from number", { type: "number" }, { type: "integer" }],
    ] as const
  ).map(([what, a, b]) =>
    both(
      what,
      "constraint tightened (maxLength down, pattern added)",
      frame({ f: a as JsonSchema }),
      frame({ f: b as JsonSchema }),
      breaking(what.includes("narrowed") ? "type-narrowed" : "constraint-tightened", at("f")),
      ok(what.includes("narrowed") ? "type-narrowed" : "constraint-tightened", at("f")),
    ),
  ),
  both(
    "an item's maxLength lowered",
    "constraint tightened (maxLength down, pattern added)",
    frame({ ids: { type: "array", items: str({ maxLength: 64 }) } }),
    frame({ ids: { type: "array", items: str({ maxLength: 16 }) } }),
    breaking("constraint-tightened", "/properties/ids/items"),
    ok("constraint-tightened", "/properties/ids/items"),
  ),
  both(
    "additionalProperties: false added",
    "constraint tightened (maxLength down, pattern added)",
    frame({}),
    frame({}, [], { additionalProperties: false }),
    breaking("constraint-tightened", ""),
    ok("constraint-tightened", ""),
  ),
  both(
    "a dependency added (r requires toPeerIds)",
    "constraint tightened (maxLength down, pattern added)",
    frame({ r: { type: "boolean" }, toPeerIds: { type: "array" } }),
    frame({ r: { type: "boolean" }, toPeerIds: { type: "array" } }, [], {
      dependencies: { r: ["toPeerIds"] },
    }),
    breaking("constraint-tightened", "/dependencies/r"),
    ok("constraint-tightened", "/dependencies/r"),
  ),
  both(
    "a nested limit's value type tightened (additionalProperties of a map)",
    "constraint tightened (maxLength down, pattern added)",
    frame({ limits: { type: "object", additionalProperties: { type: "integer" } } }),
    frame({ limits: { type: "object", additionalProperties: { type: "integer", minimum: 0 } } }),
    breaking("constraint-tightened", "/properties/limits/additionalProperties"),
    ok("constraint-tightened", "/properties/limits/additionalProperties"),
  ),
  // constraint loosened
  ...(
    [
      ["maxLength raised", str({ maxLength: 32 }), str({ maxLength: 64 })],
      ["pattern removed", str({ pattern: "^[a-z]+$" }), str()],
      ["minimum lowered", { type: "integer", minimum: 1 }, { type: "integer", minimum: 0 }],
      [
        "maxItems removed",
        { type: "array", maxItems: 500, items: str() },
        { type: "array", items: str() },
      ],
      ["not removed", { not: {} }, {}],
    ] as const
  ).map(([what, a, b]) =>
    both(
      what,
      "constraint loosened",
      frame({ f: a as JsonSchema }),
      frame({ f: b as JsonSchema }),
      ok("constraint-loosened", at("f")),
      breaking("constraint-loosened", at("f")),
    ),
  ),
  both(
    "additionalProperties: false removed",
    "constraint loosened",
    frame({}, [], { additionalProperties: false }),
    frame({}),
    ok("constraint-loosened", ""),
    breaking("constraint-loosened", ""),
  ),
  // description / examples only
  both(
    "a description reworded",
    "description / examples only",
    frame({ msg: str({ description: "The text." }) }),
    frame({ msg: str({ description: "The message text, at most 5120 bytes." }) }),
    "no change",
    "no change",
  ),
  both(
    "examples added",
    "description / examples only",
    frame({ msg: str() }),
    frame({ msg: str({ examples: ["hello"] }) }),
    "no change",
    "no change",
  ),
  // optional field added (Table 8)
  both(
    "an optional field added",
    "optional field added",
    frame({}),
    frame({ echo: { type: "boolean" } }),
    ok("optional-field-added", at("echo")),
    ok("optional-field-added", at("echo")),
  ),
  both(
    "a feature added to serverInfo.features (a map of booleans)",
    "optional field added",
    frame({ features: { type: "object", additionalProperties: { type: "boolean" } } }),
    frame({
      features: {
        type: "object",
        additionalProperties: { type: "boolean" },
        properties: { echo: { type: "boolean", description: "Echo." } },
      },
    }),
    "no change",
    "no change",
  ),
  {
    name: "a message added",
    row: "optional field added",
    base: { probe: frame({}) },
    head: { probe: frame({}), "probe/query": frame({}) },
    c2s: ok("message-added", ""),
    s2c: ok("message-added", ""),
  },
  // Rules the table leaves to the gate.
  both(
    "a pattern replaced by another",
    "beyond the table",
    frame({ f: str({ pattern: "^[a-z]+$" }) }),
    frame({ f: str({ pattern: "^[A-Z]+$" }) }),
    breaking("constraint-changed", at("f")),
    breaking("constraint-changed", at("f")),
  ),
  both(
    "an optional field removed",
    "beyond the table",
    frame({ sp: { type: "boolean" } }),
    frame({}),
    warning("optional-field-removed", at("sp")),
    warning("optional-field-removed", at("sp")),
  ),
  both(
    "an x-confab-error code changed",
    "beyond the table",
    coded(4109),
    coded(4114),
    breaking("error-code-changed", at("msg")),
    ok("error-code-changed", at("msg")),
  ),
  both(
    "x-confab-error first annotated (BASE has no codes anywhere)",
    "beyond the table",
    frame({ msg: str({ maxLength: 10 }) }, ["msg"]),
    coded(4109),
    warning("error-code-annotated", at("msg")),
    ok("error-code-annotated", at("msg")),
  ),
  both(
    "a keyword the gate does not know",
    "beyond the table",
    frame({ f: str({ contentMediaType: "text/plain" }) }),
    frame({ f: str({ contentMediaType: "text/html" }) }),
    warning("keyword-changed", at("f")),
    warning("keyword-changed", at("f")),
  ),
  // No change at all.
  both(
    "keys reordered at every level",
    "no change",
    frame({ ids: { type: "array", maxItems: 5, items: str({ maxLength: 3, minLength: 1 }) } }),
    {
      properties: {
        ids: { items: { minLength: 1, maxLength: 3, type: "string" }, maxItems: 5, type: "array" },
        peerId: { type: "string", maxLength: 64, minLength: 1 },
        cmd: { type: "string", const: "probe" },
      },
      required: ["cmd", "peerId"],
      type: "object",
      description: "A probe message.",
      title: "probe",
      $schema: "http://json-schema.org/draft-07/schema#",
    },
    "no change",
    "no change",
  ),
  both(
    "union branches and enum values reordered",
    "no change",
    frame({ s: str({ enum: ["on", "off"] }) }, [], {
      oneOf: [{ required: ["toPeerIds"] }, { required: ["roomId"] }],
    }),
    frame({ s: str({ enum: ["off", "on"] }) }, [], {
      oneOf: [{ required: ["roomId"] }, { required: ["toPeerIds"] }],
    }),
    "no change",
    "no change",
  ),
  both(
    "a code moved between '*' and the rule's own entry",
    "no change",
    frame({ appId: str({ maxLength: 64, "x-confab-error": { "*": 4100 } }) }),
    frame({ appId: str({ maxLength: 64, "x-confab-error": { "*": 4100, maxLength: 4100 } }) }),
    "no change",
    "no change",
  ),
  both(
    "a title and a $comment edited",
    "no change",
    frame({ f: str({ $comment: "a" }) }),
    { ...frame({ f: str({ $comment: "b" }) }), title: "probe, renamed title" },
    "no change",
    "no change",
  ),
];
