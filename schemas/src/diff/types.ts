/**
 * The vocabulary of the protocol-change gate: what a change is, how it is classified, and
 * the rules (rows of Table 8 of spec 09, and the few the table leaves to the gate).
 * @module
 */
import type { Direction } from "../registry.js";

/** A JSON value, as the schema files hold them. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

/** A JSON Schema node (an object; boolean schemas are normalised before the walk). */
export type JsonSchema = { [k: string]: JsonValue };

/**
 * How a change is classified: `breaking` fails the gate unless allowed, `warning` is for a
 * human to review, `non-breaking` is compatible (Table 8's "compatible").
 */
export type ChangeClass = "breaking" | "warning" | "non-breaking";

/**
 * The rule a change falls under. Each names a row of Table 8 (spec 09, 9.4) or a rule the
 * gate adds where the table is silent; {@link RULE_TABLE} classifies each per direction.
 */
export type ChangeRule =
  | "message-removed"
  | "message-renamed"
  | "message-added"
  | "type-changed"
  | "type-widened"
  | "type-narrowed"
  | "required-field-added"
  | "field-made-required"
  | "field-made-optional"
  | "required-field-removed"
  | "optional-field-added"
  | "optional-field-removed"
  | "enum-value-added"
  | "enum-value-removed"
  | "union-branch-added"
  | "union-branch-removed"
  | "constraint-tightened"
  | "constraint-loosened"
  | "constraint-changed"
  | "error-code-changed"
  | "error-code-annotated"
  | "reply-changed"
  | "signature-required"
  | "keyword-changed";

/** One classified change of one message in one direction. */
export interface SchemaChange {
  /** The message: direction and registry name (`c2s direct`), or `http <file name>`. */
  readonly message: string;
  /**
   * Whose consumer judges it: `c2s` (servers consume it) or `s2c` (clients consume it). An
   * HTTP body takes the direction of its consumer (a query `c2s`, a response `s2c`).
   */
  readonly direction: Direction;
  /** JSON pointer of the schema node that changed, in the schema file (`""`: the message). */
  readonly pointer: string;
  /** The field of the frame it describes (`toPeerIds[]`, `serverInfo.limits`), if any. */
  readonly field?: string;
  /** The JSON Schema keyword that changed (`maxLength`, `required`, …), if one did. */
  readonly keyword?: string;
  /** The rule of the change. */
  readonly rule: ChangeRule;
  /** Its class in {@link SchemaChange.direction}. */
  readonly class: ChangeClass;
  /** A sentence: what changed, with the values before and after. */
  readonly summary: string;
  /** For a breaking change or a warning: who is hurt, and how. */
  readonly hurt?: string;
  /** The value before (the keyword's, or the node's), if it had one. */
  readonly before?: JsonValue;
  /** The value after, if it has one. */
  readonly after?: JsonValue;
  /** Requirement IDs whose text names the message and the field (best effort). */
  readonly requirements: readonly string[];
  /** Why the class is not the table's default (an open set, a BASE without codes…). */
  readonly note?: string;
}

/** A description, example or title that changed: compatible, listed apart from changes. */
export interface AnnotationEdit {
  /** The message, as in {@link SchemaChange.message}. */
  readonly message: string;
  /** JSON pointer of the node. */
  readonly pointer: string;
  /** `description`, `examples`, `title`, `$comment`, `default`, `$id` or `$schema`. */
  readonly keyword: string;
}

/** Table 8 as data: the class of each rule, per direction. */
export const RULE_TABLE: Readonly<Record<ChangeRule, { c2s: ChangeClass; s2c: ChangeClass }>> = {
  // Table 8, row "command or op removed or renamed".
  "message-removed": { c2s: "breaking", s2c: "breaking" },
  "message-renamed": { c2s: "breaking", s2c: "breaking" },
  // Not a row of its own: a new c2s command is a new enum value of `cmd`/`op`, which the
  // table calls compatible; a new s2c frame is compatible because clients ignore frames
  // they do not know (VERSION-UNKNOWN-3), which marks the set of frames open.
  "message-added": { c2s: "non-breaking", s2c: "non-breaking" },
  // "field type changed incompatibly"; "type widened"; narrowing is a tightened constraint.
  "type-changed": { c2s: "breaking", s2c: "breaking" },
  "type-widened": { c2s: "non-breaking", s2c: "breaking" },
  "type-narrowed": { c2s: "breaking", s2c: "non-breaking" },
  // "required field added, or optional field made required".
  "required-field-added": { c2s: "breaking", s2c: "non-breaking" },
  "field-made-required": { c2s: "breaking", s2c: "non-breaking" },
  // "required field made optional, or removed".
  "field-made-optional": { c2s: "non-breaking", s2c: "breaking" },
  "required-field-removed": { c2s: "non-breaking", s2c: "breaking" },
  // "optional field added": compatible only because receivers ignore unknown fields
  // (VERSION-UNKNOWN-1, VERSION-UNKNOWN-2).
  "optional-field-added": { c2s: "non-breaking", s2c: "non-breaking" },
  // Not in the table: no receiver could rely on an optional field, but the meaning it
  // carried is gone (a HEAD server ignores what BASE clients still send), so review it.
  "optional-field-removed": { c2s: "warning", s2c: "warning" },
  // "enum value or union branch added" (s2c: unless the set is open, see OPEN_SETS).
  "enum-value-added": { c2s: "non-breaking", s2c: "breaking" },
  "union-branch-added": { c2s: "non-breaking", s2c: "breaking" },
  // "enum value removed"; a union branch removed is read as the same row.
  "enum-value-removed": { c2s: "breaking", s2c: "warning" },
  "union-branch-removed": { c2s: "breaking", s2c: "warning" },
  // "constraint tightened"; "constraint loosened".
  "constraint-tightened": { c2s: "breaking", s2c: "non-breaking" },
  "constraint-loosened": { c2s: "non-breaking", s2c: "breaking" },
  // A pattern (or `not`) replaced by another: neither includes the other as far as the
  // gate can prove, so it is both tightened and loosened.
  "constraint-changed": { c2s: "breaking", s2c: "breaking" },
  // The code a server answers a failed rule with (FRAME-SCHEMA-4): a c2s change makes
  // servers answer differently. On s2c frames the annotation is inert (clients answer no
  // frame with an error code; s2c fields inherit it from shared field definitions).
  "error-code-changed": { c2s: "breaking", s2c: "non-breaking" },
  // BASE carried no `x-confab-error` at all, so its schemas named no codes: HEAD's are
  // first documented, which a reviewer checks against what BASE servers answered.
  "error-code-annotated": { c2s: "warning", s2c: "non-breaking" },
  // Registry metadata: which reply a command gets (review: the schemas cannot tell), and
  // a command that becomes signed (servers that enforce signatures refuse BASE clients).
  "reply-changed": { c2s: "warning", s2c: "warning" },
  "signature-required": { c2s: "breaking", s2c: "non-breaking" },
  // A keyword the gate does not understand: a human decides.
  "keyword-changed": { c2s: "warning", s2c: "warning" },
};
