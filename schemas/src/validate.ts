/**
 * Compiled ajv validators, looked up by direction and `cmd`/`op` rather than tried one by
 * one against a giant union, so that an error names the field and rule of the one message
 * the frame claims to be.
 * @module
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import {
  DEFAULT_SCHEMA_ERROR_CODE,
  ERROR_CODE_KEYWORD,
  SCHEMA_ERROR_PRECEDENCE,
  WELL_FORMED_RULE,
} from "./primitives.js";
import {
  type Direction,
  findEntry,
  HTTP_SCHEMAS,
  type MessageEntry,
  REGISTRY,
} from "./registry.js";

/** One reason a frame is invalid. */
export interface FieldError {
  /** JSON pointer of the offending field (`/toPeerIds/0`), `""` for the frame itself. */
  readonly path: string;
  /**
   * The rule that failed: a JSON Schema keyword (`maxLength`, `required`, `type`, …), or
   * `wellFormed` for an unpaired surrogate [LIMIT-TEXT-1].
   */
  readonly rule: string;
  /** A sentence for humans, naming the field. */
  readonly message: string;
  /**
   * The error code the spec gives this failure: the `x-confab-error` annotation of the
   * failed rule's schema node, 4114 when it names none [FRAME-SCHEMA-4].
   */
  readonly code: number;
}

/** The outcome of validating one frame. */
export type ValidationResult =
  | { readonly ok: true; readonly name: string; readonly entry: MessageEntry }
  | { readonly ok: false; readonly name?: string; readonly errors: readonly FieldError[] };

const encoder = new TextEncoder();

/**
 * Creates the ajv instance every Confab validator uses, with the `maxUtf8Bytes` keyword and
 * the `x-confab-error` annotation.
 */
export function createAjv(): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    // oneOf/not branches name properties declared in the parent schema, which is fine.
    strictRequired: false,
    allowUnionTypes: true,
    // Errors carry their schema, so a oneOf error can name the alternatives.
    verbose: true,
  });
  // [LIMIT-MSG] msg is bounded in bytes of UTF-8, which JSON Schema cannot say (decision D3).
  ajv.addKeyword({
    keyword: "maxUtf8Bytes",
    type: "string",
    schemaType: "number",
    errors: true,
    validate: function maxUtf8Bytes(limit: number, data: string) {
      // A code point takes at most 4 bytes, so short strings need no encoding.
      if (data.length * 3 <= limit) return true;
      const ok = encoder.encode(data).length <= limit;
      if (!ok) {
        (maxUtf8Bytes as unknown as { errors: Partial<ErrorObject>[] }).errors = [
          {
            keyword: "maxUtf8Bytes",
            message: `must be at most ${limit} bytes of UTF-8`,
            params: { limit },
          },
        ];
      }
      return ok;
    },
  });
  // [FRAME-SCHEMA-4] An annotation: it validates nothing, and its meta-schema keeps it to
  // the codes a schema rule can have, so a typo in a schema fails at compile time. A third
  // party needs only `ajv.addKeyword({ keyword: "x-confab-error", schemaType: "object" })`.
  ajv.addKeyword({
    keyword: ERROR_CODE_KEYWORD,
    schemaType: "object",
    metaSchema: {
      type: "object",
      minProperties: 1,
      additionalProperties: { enum: [...SCHEMA_ERROR_PRECEDENCE] },
    },
  });
  return ajv;
}

// Created and compiled on first use, one message at a time: importing the package (as a
// browser bundle of the client does) costs no schema compilation, and a client that only
// ever checks a few message kinds compiles only those.
let shared: Ajv | undefined;
const ajv = (): Ajv => {
  shared ??= createAjv();
  return shared;
};

const key = (direction: Direction, cmd: string | undefined, op: string | undefined) =>
  `${direction}:${cmd ?? ""}:${op ?? ""}`;

/** A registry entry and its validator, compiled the first time it is needed. */
class Compiled {
  #fn: ValidateFunction | undefined;
  constructor(readonly entry: MessageEntry) {}
  get validate(): ValidateFunction {
    this.#fn ??= ajv().compile(this.entry.schema);
    return this.#fn;
  }
  /** Whether {@link Compiled.validate} has compiled already. */
  get isCompiled(): boolean {
    return this.#fn !== undefined;
  }
}

const compiled = new Map<string, Compiled>();
/** cmd → the ops it has (empty set for commands without op), per direction. */
const ops = new Map<string, Set<string>>();
for (const e of REGISTRY) {
  compiled.set(key(e.direction, e.cmd, e.op), new Compiled(e));
  if (e.cmd !== undefined) {
    const k = `${e.direction}:${e.cmd}`;
    const set = ops.get(k) ?? new Set<string>();
    if (e.op !== undefined) set.add(e.op);
    ops.set(k, set);
  }
}

/**
 * Compiles now every frame validator of `direction` that {@link validate} would otherwise
 * compile on first use. A server calls it before it listens, so that no client waits for a
 * compilation (the first `session/open` on a fresh reference server took 31-43 ms, where a
 * later one takes about 1 ms: the ajv instance and that message's schema compiled under
 * it), and so that a schema ajv rejects stops the start instead of failing a client's frame.
 * A browser client, which checks only what it receives, keeps the lazy default.
 *
 * @returns how many validators this call compiled (0 when every one was compiled already)
 *
 * @example
 * precompile("c2s") // 15 on a fresh process, then 0
 */
export function precompile(direction: Direction): number {
  let count = 0;
  for (const c of compiled.values()) {
    if (c.entry.direction !== direction || c.isCompiled) continue;
    void c.validate;
    count++;
  }
  return count;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A failure of the frame's claim to be a message (no schema yet): 4114 [FRAME-SCHEMA-1]. */
const claim = (path: string, rule: string, message: string): FieldError => ({
  path,
  rule,
  message,
  code: DEFAULT_SCHEMA_ERROR_CODE,
});

/**
 * The code a schema node gives a failure of its rule `rule`, which is the entry of its
 * `x-confab-error` annotation for that keyword, else its `"*"` entry, else 4114
 * [FRAME-SCHEMA-4, FRAME-SCHEMA-2].
 *
 * @example
 * annotatedCode({ maxItems: 500, "x-confab-error": { maxItems: 4120 } }, "maxItems") // 4120
 * annotatedCode({ maxItems: 500, "x-confab-error": { maxItems: 4120 } }, "type")     // 4114
 */
export function annotatedCode(node: unknown, rule: string): number {
  const codes = isPlainObject(node) ? node[ERROR_CODE_KEYWORD] : undefined;
  if (!isPlainObject(codes)) return DEFAULT_SCHEMA_ERROR_CODE;
  const code = Object.hasOwn(codes, rule) ? codes[rule] : codes["*"];
  return typeof code === "number" ? code : DEFAULT_SCHEMA_ERROR_CODE;
}

/**
 * The segments of a JSON pointer (`/a~1b/0`, RFC 6901), unescaped. A URI fragment (`#/…`,
 * as ajv writes `schemaPath`) is percent-decoded first; an instance path never is, since a
 * member name may hold a `%`.
 */
function pointerSegments(pointer: string): string[] {
  const fragment = pointer.startsWith("#");
  const body = fragment ? pointer.slice(1) : pointer;
  if (body === "") return [];
  const decode = (p: string) => {
    if (!fragment) return p;
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  };
  return body
    .split("/")
    .slice(1)
    .map((p) => decode(p).replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The subschema at `segments` of `schema`, or `undefined` when there is none. */
function subschema(schema: unknown, segments: readonly string[]): unknown {
  let node = schema;
  for (const s of segments) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[s];
  }
  return node;
}

/**
 * The schema node that describes the value at `instancePath` of a frame, following
 * `properties` and `items` as deep as the schema goes: the node of the deepest field the
 * schema defines on that path.
 *
 * @example
 * schemaNodeAt(DirectSend, "/toPeerIds/3") // the item schema of toPeerIds (a PeerId)
 */
export function schemaNodeAt(schema: unknown, instancePath: string): unknown {
  let node = schema;
  for (const s of pointerSegments(instancePath)) {
    if (!isPlainObject(node)) break;
    const next = isPlainObject(node.properties)
      ? node.properties[s]
      : isPlainObject(node.items)
        ? node.items
        : undefined;
    if (next === undefined) break;
    node = next;
  }
  return node;
}

/** What {@link errorCodeOf} reads of a validator's error: ajv's fields, or the same named so. */
export interface SchemaFailure {
  /** The failed keyword (`maxItems`, `required`, …). */
  readonly keyword: string;
  /** JSON pointer of the failed keyword in the schema, `#/properties/msg/maxUtf8Bytes`. */
  readonly schemaPath: string;
  /** For `required`: `{ missingProperty }`. */
  readonly params?: Readonly<Record<string, unknown>>;
}

/**
 * The error code of one failed rule, derived from the schema alone [FRAME-SCHEMA-4]: the
 * node is the schema object that holds the failed keyword (its `schemaPath` without the
 * last segment), except that a `required` failure belongs to the node of the missing
 * property; that node's annotation gives the code ({@link annotatedCode}).
 *
 * @example
 * errorCodeOf({ keyword: "required", schemaPath: "#/required", params: { missingProperty: "peerId" } }, SessionOpen) // 4103
 */
export function errorCodeOf(failure: SchemaFailure, schema: unknown): number {
  const segments = pointerSegments(failure.schemaPath);
  let node = subschema(schema, segments.slice(0, -1));
  const missing = failure.params?.missingProperty;
  if (failure.keyword === "required" && typeof missing === "string" && isPlainObject(node)) {
    const props = node.properties;
    if (isPlainObject(props) && isPlainObject(props[missing])) node = props[missing];
  }
  return annotatedCode(node, failure.keyword);
}

/**
 * The one code that answers a set of failures [ERROR-ORDER-12]: the first code of
 * {@link SCHEMA_ERROR_PRECEDENCE} among theirs (a code not in it ranks after those, in
 * order of appearance); `undefined` for a valid result or no failure.
 *
 * @example
 * codeOf(validate("c2s", { cmd: "direct", peerId: "a", appId: "x", msg: "m", toPeerIds: Array(501).fill(1) })) // 4114
 */
export function codeOf(
  result: ValidationResult | readonly { readonly code: number }[],
): number | undefined {
  const errors = "ok" in result ? (result.ok ? [] : result.errors) : result;
  let best: number | undefined;
  let bestRank = Number.POSITIVE_INFINITY;
  for (const { code } of errors) {
    const rank = SCHEMA_ERROR_PRECEDENCE.indexOf(code);
    const r = rank < 0 ? SCHEMA_ERROR_PRECEDENCE.length : rank;
    if (r < bestRank) {
      best = code;
      bestRank = r;
    }
  }
  return best;
}

/**
 * The failures of the unpaired-surrogate rule `wellFormed` [LIMIT-TEXT-1], which JSON
 * Schema cannot express, in the fields that `schema` defines only (unknown fields are
 * ignored whatever they hold, VERSION-UNKNOWN-1): one per string that holds a `\uD800` to
 * `\uDFFF` not part of a pair, each with the code of the node that describes it, so that
 * the `peerId` of a `session/open` gets 4103 and every other field 4114 [SESSION-OPEN-1].
 *
 * @example
 * wellFormedErrors(DirectSend, { msg: "\ud800" }) // [{ path: "/msg", rule: "wellFormed", code: 4114, … }]
 */
export function wellFormedErrors(schema: unknown, frame: unknown): FieldError[] {
  const out: FieldError[] = [];
  const props = isPlainObject(schema) ? schema.properties : undefined;
  if (!isPlainObject(frame) || !isPlainObject(props)) return out;
  // Nearly every frame is well formed: find that out without building a path per string (a
  // path per field and per array item was a tenth of what a command allocated, issue 11).
  let clean = true;
  for (const field in props) {
    if (
      Object.hasOwn(props, field) &&
      Object.hasOwn(frame, field) &&
      !allWellFormed(frame[field])
    ) {
      clean = false;
      break;
    }
  }
  if (clean) return out;
  const scan = (v: unknown, path: string): void => {
    if (typeof v === "string") {
      if (!v.isWellFormed()) {
        out.push({
          path,
          rule: WELL_FORMED_RULE,
          message: `${path} contains an unpaired surrogate`,
          code: annotatedCode(schemaNodeAt(schema, path), WELL_FORMED_RULE),
        });
      }
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) scan(v[i], `${path}/${i}`);
    } else if (isPlainObject(v)) {
      for (const [k, x] of Object.entries(v)) scan(x, `${path}/${escapePointer(k)}`);
    }
  };
  for (const field of Object.keys(props)) {
    if (Object.hasOwn(frame, field)) scan(frame[field], `/${escapePointer(field)}`);
  }
  return out;
}

/** Whether every string in `v` (itself, or nested in arrays and objects) is well formed. */
function allWellFormed(v: unknown): boolean {
  if (typeof v === "string") return v.isWellFormed();
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!allWellFormed(v[i])) return false;
    return true;
  }
  if (isPlainObject(v)) {
    for (const k in v) if (Object.hasOwn(v, k) && !allWellFormed(v[k])) return false;
  }
  return true;
}

/** A member name as one JSON pointer segment (RFC 6901). */
const escapePointer = (name: string) => name.replace(/~/g, "~0").replace(/\//g, "~1");

const fail = (errors: FieldError[], name?: string): ValidationResult =>
  name === undefined ? { ok: false, errors } : { ok: false, name, errors };

/**
 * Finds which message a frame claims to be, from its `cmd` and `op`.
 * Returns the entry, or the errors that make the claim itself invalid.
 */
export function classify(
  direction: Direction,
  frame: unknown,
): { entry: MessageEntry } | { errors: FieldError[] } {
  if (!isPlainObject(frame)) {
    return { errors: [claim("", "type", "a frame must be a JSON object")] };
  }
  if (!("cmd" in frame)) {
    return {
      entry: (compiled.get(key(direction, undefined, undefined)) as { entry: MessageEntry }).entry,
    };
  }
  const cmd = frame.cmd;
  if (typeof cmd !== "string") {
    return { errors: [claim("/cmd", "type", "/cmd must be a string")] };
  }
  const known = ops.get(`${direction}:${cmd}`);
  if (known === undefined) {
    const cmds = [...ops.keys()]
      .filter((k) => k.startsWith(`${direction}:`))
      .map((k) => k.slice(4));
    return {
      errors: [
        claim(
          "/cmd",
          "enum",
          `/cmd "${cmd}" is not a ${direction} command (known: ${cmds.join(", ")})`,
        ),
      ],
    };
  }
  const op = frame.op;
  if (known.size === 0) {
    if (op !== undefined) {
      return { errors: [claim("/op", "not", `/op must be absent: "${cmd}" has no op`)] };
    }
    return {
      entry: (compiled.get(key(direction, cmd, undefined)) as { entry: MessageEntry }).entry,
    };
  }
  if (op === undefined) {
    return { errors: [claim("/op", "required", `/op is required for "${cmd}"`)] };
  }
  if (typeof op !== "string" || !known.has(op)) {
    return {
      errors: [
        claim(
          "/op",
          "enum",
          `/op ${JSON.stringify(op)} is not a ${direction} op of "${cmd}" (known: ${[...known].join(", ")})`,
        ),
      ],
    };
  }
  return { entry: (compiled.get(key(direction, cmd, op)) as { entry: MessageEntry }).entry };
}

/**
 * Turns ajv's errors into {@link FieldError}s whose path names the field, each with the
 * code that `schema` (the one validated against) gives it ({@link errorCodeOf}); without
 * `schema`, 4114.
 */
export function toFieldErrors(
  errors: readonly ErrorObject[] | null | undefined,
  schema?: unknown,
): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors ?? []) {
    let path = e.instancePath;
    if (e.keyword === "required")
      path += `/${(e.params as { missingProperty: string }).missingProperty}`;
    if (e.keyword === "dependencies") path += `/${(e.params as { property: string }).property}`;
    let message: string;
    if (e.keyword === "required") message = `${path} is required`;
    else if (e.keyword === "oneOf") {
      const names = ((e.schema as { required: string[] }[]) ?? []).flatMap((s) => s.required ?? []);
      message = `${path || "the frame"} must have exactly one of ${names.join(", ")}`;
    } else if (e.keyword === "const") {
      message = `${path} must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    } else if (e.keyword === "enum") {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues;
      message = `${path} must be one of ${allowed.map((v) => JSON.stringify(v)).join(", ")}`;
    } else if (e.keyword === "not" && e.instancePath === "") {
      // `not: {required: [...]}` forbids those members together (one member: at all).
      const names = ((e.schema as { required?: string[] } | undefined)?.required ?? []).map(
        (n) => `/${n}`,
      );
      message =
        names.length === 1
          ? `${names[0]} must be absent`
          : `${names.join(" and ")} must not be given together`;
    } else message = `${path || "the frame"} ${e.message ?? "is invalid"}`;
    const code = schema === undefined ? DEFAULT_SCHEMA_ERROR_CODE : errorCodeOf(e, schema);
    out.push({ path, rule: e.keyword, message, code });
  }
  // With allErrors, oneOf also reports each branch's `required`; keep them: they name fields.
  return out;
}

/**
 * Validates one frame travelling in `direction`.
 *
 * @example
 * validate("c2s", { cmd: "ack", peerId: "a", appId: "x", ids: ["m1"] }) // { ok: true, name: "ack", … }
 */
export function validate(direction: Direction, frame: unknown): ValidationResult {
  const found = classify(direction, frame);
  if ("errors" in found) return fail(found.errors);
  const { entry } = found;
  const v = (compiled.get(key(direction, entry.cmd, entry.op)) as Compiled).validate;
  if (v(frame)) return { ok: true, name: entry.name, entry };
  return fail(toFieldErrors(v.errors, entry.schema), entry.name);
}

/**
 * Every rule a c2s command fails: those of its message's schema and the unpaired-surrogate
 * rule that JSON Schema cannot express [LIMIT-TEXT-1], as a server must check them
 * [FRAME-SCHEMA-2]. `codeOf` of the result is the code that answers the command
 * [FRAME-SCHEMA-4]; an empty result means the command is well formed.
 *
 * @param frame - the command, as the schema sees it (without `s`, `t` and `n` when its app
 *   does not enforce signatures, FRAME-SCHEMA-5)
 * @param result - `validate("c2s", frame)`, when already computed
 * @param name - the message the command is, when already known (`direct`, `session/open`)
 *
 * @example
 * codeOf(commandErrors({ cmd: "direct", appId: "x", peerId: "a", msg: "\ud800", toPeerIds: ["b"] })) // 4114
 */
export function commandErrors(
  frame: unknown,
  result: ValidationResult = validate("c2s", frame),
  name?: string,
): FieldError[] {
  // A valid frame's result names its entry: no second lookup (issue 11).
  const found = result.ok
    ? result
    : name === undefined
      ? classify("c2s", frame)
      : { entry: findEntry("c2s", name) };
  const entry = "entry" in found ? found.entry : undefined;
  const surrogates = entry ? wellFormedErrors(entry.schema, frame) : [];
  // No copy for the usual case, a valid frame (issue 11: every command passes here).
  if (result.ok) return surrogates;
  return surrogates.length === 0 ? [...result.errors] : [...result.errors, ...surrogates];
}

/** How many failures {@link formatErrors} names before it only counts the rest. */
export const MAX_NAMED_ERRORS = 5;

/**
 * Formats a failed result for logs and error frames: the first {@link MAX_NAMED_ERRORS}
 * failures, each naming its field and rule [ERROR-FRAME-4], then how many more there are,
 * so that 500 bad ids cost a line, not 77 KB [ERROR-FRAME-5].
 */
export function formatErrors(result: ValidationResult | readonly FieldError[]): string {
  const errors: readonly FieldError[] = "ok" in result ? (result.ok ? [] : result.errors) : result;
  const named = errors.slice(0, MAX_NAMED_ERRORS).map((e) => `${e.message} (rule ${e.rule})`);
  const more = errors.length - named.length;
  if (more > 0) named.push(`and ${more} more`);
  return named.join("; ");
}

/** A compiled validator for a non-frame schema (HTTP bodies), with field errors. */
export type SchemaValidator<T> = (
  value: unknown,
) => { ok: true; value: T } | { ok: false; errors: FieldError[] };

/** Compiles any TypeBox schema with Confab's ajv settings. */
export function compileSchema<S extends TSchema>(schema: S): SchemaValidator<Static<S>> {
  let fn: ValidateFunction | undefined;
  return (value) => {
    fn ??= ajv().compile(schema);
    return fn(value)
      ? { ok: true, value: value as Static<S> }
      : { ok: false, errors: toFieldErrors(fn.errors, schema) };
  };
}

/** Validators of the HTTP bodies in {@link HTTP_SCHEMAS}. */
export const httpValidators: Readonly<Record<string, SchemaValidator<unknown>>> =
  Object.fromEntries(
    Object.entries(HTTP_SCHEMAS).map(([name, schema]) => [name, compileSchema(schema)]),
  );
