/**
 * Compiled ajv validators, looked up by direction and `cmd`/`op` rather than tried one by
 * one against a giant union, so that an error names the field and rule of the one message
 * the frame claims to be.
 * @module
 */
import type { Static, TSchema } from "@sinclair/typebox";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { type Direction, HTTP_SCHEMAS, type MessageEntry, REGISTRY } from "./registry.js";

/** One reason a frame is invalid. */
export interface FieldError {
  /** JSON pointer of the offending field (`/toPeerIds/0`), `""` for the frame itself. */
  readonly path: string;
  /** The rule that failed: a JSON Schema keyword (`maxLength`, `required`, `type`, …). */
  readonly rule: string;
  /** A sentence for humans, naming the field. */
  readonly message: string;
}

/** The outcome of validating one frame. */
export type ValidationResult =
  | { readonly ok: true; readonly name: string; readonly entry: MessageEntry }
  | { readonly ok: false; readonly name?: string; readonly errors: readonly FieldError[] };

const encoder = new TextEncoder();

/** Creates the ajv instance every Confab validator uses, with the `maxUtf8Bytes` keyword. */
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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

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
    return { errors: [{ path: "", rule: "type", message: "a frame must be a JSON object" }] };
  }
  if (!("cmd" in frame)) {
    return {
      entry: (compiled.get(key(direction, undefined, undefined)) as { entry: MessageEntry }).entry,
    };
  }
  const cmd = frame.cmd;
  if (typeof cmd !== "string") {
    return { errors: [{ path: "/cmd", rule: "type", message: "/cmd must be a string" }] };
  }
  const known = ops.get(`${direction}:${cmd}`);
  if (known === undefined) {
    const cmds = [...ops.keys()]
      .filter((k) => k.startsWith(`${direction}:`))
      .map((k) => k.slice(4));
    return {
      errors: [
        {
          path: "/cmd",
          rule: "enum",
          message: `/cmd "${cmd}" is not a ${direction} command (known: ${cmds.join(", ")})`,
        },
      ],
    };
  }
  const op = frame.op;
  if (known.size === 0) {
    if (op !== undefined) {
      return {
        errors: [{ path: "/op", rule: "not", message: `/op must be absent: "${cmd}" has no op` }],
      };
    }
    return {
      entry: (compiled.get(key(direction, cmd, undefined)) as { entry: MessageEntry }).entry,
    };
  }
  if (op === undefined) {
    return { errors: [{ path: "/op", rule: "required", message: `/op is required for "${cmd}"` }] };
  }
  if (typeof op !== "string" || !known.has(op)) {
    return {
      errors: [
        {
          path: "/op",
          rule: "enum",
          message: `/op ${JSON.stringify(op)} is not a ${direction} op of "${cmd}" (known: ${[...known].join(", ")})`,
        },
      ],
    };
  }
  return { entry: (compiled.get(key(direction, cmd, op)) as { entry: MessageEntry }).entry };
}

/** Turns ajv's errors into {@link FieldError}s whose path names the field. */
export function toFieldErrors(errors: readonly ErrorObject[] | null | undefined): FieldError[] {
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
    out.push({ path, rule: e.keyword, message });
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
  return fail(toFieldErrors(v.errors), entry.name);
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
      : { ok: false, errors: toFieldErrors(fn.errors) };
  };
}

/** Validators of the HTTP bodies in {@link HTTP_SCHEMAS}. */
export const httpValidators: Readonly<Record<string, SchemaValidator<unknown>>> =
  Object.fromEntries(
    Object.entries(HTTP_SCHEMAS).map(([name, schema]) => [name, compileSchema(schema)]),
  );
