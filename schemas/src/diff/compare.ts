/**
 * The comparison: walks two JSON Schemas of one message keyword by keyword and classifies
 * every change per direction by Table 8 of spec 09 ({@link RULE_TABLE}). Pure: no I/O, so
 * that it runs wherever the protocol package runs, and a third party can gate its own
 * schemas with it.
 * @module
 */
import { DEFAULT_SCHEMA_ERROR_CODE, ERROR_CODE_KEYWORD } from "../primitives.js";
import type { Direction } from "../registry.js";
import { type RequirementText, requirementsNaming } from "./requirements.js";
import type { MessageSchema, SchemaSet } from "./schema-set.js";
import {
  type AnnotationEdit,
  type ChangeClass,
  type ChangeRule,
  type JsonSchema,
  type JsonValue,
  RULE_TABLE,
  type SchemaChange,
} from "./types.js";

/**
 * A set of values that the spec marks open: adding to it (a value, a branch, a wider
 * bound) does not break the consumers, who must tolerate members they do not know.
 */
export interface OpenSet {
  /** The message, `s2c error`. */
  readonly message: string;
  /** The pointer of the node whose values are open. */
  readonly pointer: string;
  /** Why, with the requirement that makes it open. */
  readonly reason: string;
}

/**
 * The open sets of Confab v1. Sets of values on s2c fields are closed (spec 09, 9.2)
 * except the error codes (ERROR-CLIENT-1). The set of s2c frames is open too
 * (VERSION-UNKNOWN-3), which the `message-added` rule already says.
 */
export const OPEN_SETS: readonly OpenSet[] = [
  {
    message: "s2c error",
    pointer: "/properties/code",
    reason:
      "error codes are an open set: a client treats an unknown code as a failure (ERROR-CLIENT-1)",
  },
  {
    message: "http error",
    pointer: "/properties/code",
    reason:
      "error codes are an open set: a client treats an unknown code as a failure (ERROR-CLIENT-1)",
  },
];

/** Options of a comparison. */
export interface DiffOptions {
  /** Requirements to cite (from `spec/requirements.json`); none when absent. */
  readonly requirements?: readonly RequirementText[];
  /** Open sets; {@link OPEN_SETS} when absent. */
  readonly openSets?: readonly OpenSet[];
}

/** The outcome of a comparison, before any allow-list. */
export interface DiffResult {
  /** Every classified change, in message order, then in walk order. */
  readonly changes: readonly SchemaChange[];
  /** Description, example and title edits: compatible, and not changes of the contract. */
  readonly annotations: readonly AnnotationEdit[];
}

/** Keywords that validate nothing: their edits are annotations (Table 8's last row). */
const ANNOTATION_KEYWORDS = [
  "description",
  "examples",
  "title",
  "$comment",
  "default",
  "$id",
  "$schema",
];
/** Bounds whose raising tightens. */
const LOWER_BOUNDS = ["minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"];
/** Bounds whose lowering tightens; `maxUtf8Bytes` is Confab's own (LIMIT-MSG-2). */
const UPPER_BOUNDS = [
  "maximum",
  "exclusiveMaximum",
  "maxLength",
  "maxUtf8Bytes",
  "maxItems",
  "maxProperties",
];
const HANDLED = new Set([
  ...ANNOTATION_KEYWORDS,
  ...LOWER_BOUNDS,
  ...UPPER_BOUNDS,
  "type",
  "const",
  "enum",
  "pattern",
  "format",
  "uniqueItems",
  "properties",
  "required",
  "additionalProperties",
  "items",
  "oneOf",
  "anyOf",
  "allOf",
  "not",
  "dependencies",
  ERROR_CODE_KEYWORD,
]);

type Obj = { [k: string]: JsonValue };
const isObject = (v: JsonValue | undefined): v is Obj =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A boolean schema as the object schema it means. */
const node = (v: JsonValue | undefined): JsonSchema =>
  v === false ? { not: {} } : isObject(v) ? v : {};

/** JSON with sorted keys: key order never makes a change. */
export function canonicalJson(value: JsonValue | undefined): string {
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (isObject(value))
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`)
      .join(",")}}`;
  return JSON.stringify(value);
}

/** A schema without its annotations, at every level (a property named `title` is kept). */
function stripped(v: JsonValue | undefined): JsonValue | undefined {
  if (!isObject(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (ANNOTATION_KEYWORDS.includes(k)) continue;
    if ((k === "properties" || k === "dependencies") && isObject(x))
      out[k] = Object.fromEntries(Object.entries(x).map(([n, s]) => [n, stripped(s) as JsonValue]));
    else if ((k === "oneOf" || k === "anyOf" || k === "allOf") && Array.isArray(x))
      out[k] = x.map((s) => stripped(s) as JsonValue);
    else if (k === "items" || k === "additionalProperties" || k === "not")
      out[k] = stripped(x) as JsonValue;
    else out[k] = x;
  }
  return out;
}

const same = (a: JsonValue | undefined, b: JsonValue | undefined) =>
  canonicalJson(a) === canonicalJson(b);
const shapeOf = (v: JsonValue | undefined) => canonicalJson(stripped(v));

/** RFC 6901 escaping of one pointer segment. */
const esc = (s: string) => s.replace(/~/g, "~0").replace(/\//g, "~1");
const unesc = (s: string) => s.replace(/~1/g, "/").replace(/~0/g, "~");

/**
 * The field of a frame a schema pointer describes: `/properties/a/items` → `a[]`,
 * `/properties/a/additionalProperties` → `a.*`; `undefined` for the frame itself.
 */
export function fieldOfPointer(pointer: string): string | undefined {
  const seg = pointer.split("/").slice(1).map(unesc);
  let out = "";
  for (let i = 0; i < seg.length; i++) {
    const s = seg[i];
    if (s === "properties" && i + 1 < seg.length) {
      out += `${out === "" ? "" : "."}${seg[i + 1]}`;
      i++;
    } else if (s === "items") out += "[]";
    else if (s === "additionalProperties") out += `${out === "" ? "" : "."}*`;
    else if (s === "oneOf" || s === "anyOf" || s === "allOf" || s === "dependencies") i++;
  }
  return out === "" ? undefined : out;
}

const show = (v: JsonValue | undefined) => (v === undefined ? "absent" : JSON.stringify(v));

/** A change found by the walk, before it is classified. */
interface Found {
  readonly pointer: string;
  readonly rule: ChangeRule;
  readonly summary: string;
  readonly keyword?: string;
  readonly before?: JsonValue;
  readonly after?: JsonValue;
  /** The field the change is about, when not the one of the pointer (a required name). */
  readonly field?: string;
}

/** The walk over one message's pair of schemas. */
class Walker {
  readonly found: Found[] = [];
  readonly annotations: string[][] = [];
  constructor(readonly baseHasCodes: boolean) {}

  emit(f: Found) {
    this.found.push(f);
  }

  walk(a: JsonSchema, b: JsonSchema, ptr: string) {
    for (const k of ANNOTATION_KEYWORDS) if (!same(a[k], b[k])) this.annotations.push([ptr, k]);
    if (!this.types(a, b, ptr)) return;
    this.values(a, b, ptr);
    this.bounds(a, b, ptr);
    this.strings(a, b, ptr);
    this.codes(a, b, ptr);
    this.objects(a, b, ptr);
    this.items(a, b, ptr);
    this.unions(a, b, ptr);
    this.not(a, b, ptr);
    this.dependencies(a, b, ptr);
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (HANDLED.has(k) || same(a[k], b[k])) continue;
      this.emit({
        pointer: ptr,
        keyword: k,
        rule: "keyword-changed",
        summary: `${k} changed from ${show(a[k])} to ${show(b[k])}; the gate does not know this keyword`,
        before: a[k],
        after: b[k],
      });
    }
  }

  /** `false` when the type changed incompatibly: nothing below it is worth comparing. */
  types(a: JsonSchema, b: JsonSchema, ptr: string): boolean {
    const ta = typeSet(a.type);
    const tb = typeSet(b.type);
    const wider = covers(tb, ta);
    const narrower = covers(ta, tb);
    if (wider && narrower) return true;
    const base = { pointer: ptr, keyword: "type", before: a.type, after: b.type };
    const what = `type ${show(a.type)} → ${show(b.type)}`;
    if (wider) this.emit({ ...base, rule: "type-widened", summary: `${what}: widened` });
    else if (narrower) this.emit({ ...base, rule: "type-narrowed", summary: `${what}: narrowed` });
    else {
      this.emit({ ...base, rule: "type-changed", summary: `${what}: incompatible` });
      return false;
    }
    return true;
  }

  values(a: JsonSchema, b: JsonSchema, ptr: string) {
    const va = valuesOf(a);
    const vb = valuesOf(b);
    const keyword = "const" in b || (!("enum" in b) && "const" in a) ? "const" : "enum";
    if (va === undefined && vb === undefined) return;
    if (va === undefined || vb === undefined) {
      const tightened = va === undefined;
      this.emit({
        pointer: ptr,
        keyword,
        rule: tightened ? "constraint-tightened" : "constraint-loosened",
        summary: tightened
          ? `values restricted to ${show(vb)}`
          : `values no longer restricted (were ${show(va)})`,
        before: va,
        after: vb,
      });
      return;
    }
    const ka = new Set(va.map(canonicalJson));
    const kb = new Set(vb.map(canonicalJson));
    for (const v of vb)
      if (!ka.has(canonicalJson(v)))
        this.emit({
          pointer: ptr,
          keyword,
          rule: "enum-value-added",
          summary: `value ${show(v)} added`,
          after: v,
        });
    for (const v of va)
      if (!kb.has(canonicalJson(v)))
        this.emit({
          pointer: ptr,
          keyword,
          rule: "enum-value-removed",
          summary: `value ${show(v)} removed`,
          before: v,
        });
  }

  bounds(a: JsonSchema, b: JsonSchema, ptr: string) {
    for (const [list, up] of [
      [LOWER_BOUNDS, "raised"],
      [UPPER_BOUNDS, "lowered"],
    ] as const) {
      for (const k of list) {
        const x = typeof a[k] === "number" ? (a[k] as number) : undefined;
        const y = typeof b[k] === "number" ? (b[k] as number) : undefined;
        if (x === y) continue;
        const lower = list === LOWER_BOUNDS;
        const tightened = x === undefined || (y !== undefined && (lower ? y > x : y < x));
        const summary =
          x === undefined
            ? `${k} ${y} added`
            : y === undefined
              ? `${k} ${x} removed`
              : `${k} ${tightened ? up : up === "raised" ? "lowered" : "raised"} from ${x} to ${y}`;
        this.emit({
          pointer: ptr,
          keyword: k,
          rule: tightened ? "constraint-tightened" : "constraint-loosened",
          summary,
          before: x,
          after: y,
        });
      }
    }
    if ((a.uniqueItems === true) !== (b.uniqueItems === true))
      this.emit({
        pointer: ptr,
        keyword: "uniqueItems",
        rule: b.uniqueItems === true ? "constraint-tightened" : "constraint-loosened",
        summary: `uniqueItems ${b.uniqueItems === true ? "added" : "removed"}`,
        before: a.uniqueItems,
        after: b.uniqueItems,
      });
  }

  strings(a: JsonSchema, b: JsonSchema, ptr: string) {
    for (const k of ["pattern", "format"]) {
      if (same(a[k], b[k])) continue;
      const rule: ChangeRule =
        a[k] === undefined
          ? "constraint-tightened"
          : b[k] === undefined
            ? "constraint-loosened"
            : "constraint-changed";
      const summary =
        rule === "constraint-tightened"
          ? `${k} ${show(b[k])} added`
          : rule === "constraint-loosened"
            ? `${k} ${show(a[k])} removed`
            : `${k} ${show(a[k])} replaced by ${show(b[k])}`;
      this.emit({ pointer: ptr, keyword: k, rule, summary, before: a[k], after: b[k] });
    }
  }

  /**
   * The code a server answers each failed rule of the node with: the rule's own entry,
   * else `"*"`, else 4114 (FRAME-SCHEMA-4). Compared as effective codes, so that moving a
   * code between `"*"` and a rule's own entry is no change.
   */
  codes(a: JsonSchema, b: JsonSchema, ptr: string) {
    const ca = isObject(a[ERROR_CODE_KEYWORD]) ? (a[ERROR_CODE_KEYWORD] as Obj) : {};
    const cb = isObject(b[ERROR_CODE_KEYWORD]) ? (b[ERROR_CODE_KEYWORD] as Obj) : {};
    if (same(ca, cb)) return;
    const eff = (c: Obj, k: string) => c[k] ?? c["*"] ?? DEFAULT_SCHEMA_ERROR_CODE;
    const keys = new Set(["*", ...Object.keys(ca), ...Object.keys(cb)]);
    for (const k of keys) {
      const x = eff(ca, k);
      const y = eff(cb, k);
      if (x === y) continue;
      const rule = this.baseHasCodes ? "error-code-changed" : "error-code-annotated";
      const fmt = (c: Obj, v: JsonValue) =>
        `${String(v)}${c[k] === undefined && (k === "*" || c["*"] === undefined) ? " (default)" : ""}`;
      this.emit({
        pointer: ptr,
        keyword: ERROR_CODE_KEYWORD,
        rule,
        summary: `error code of ${k === "*" ? "every rule" : `rule ${k}`}: ${fmt(ca, x)} → ${fmt(cb, y)}`,
        before: { [k]: x },
        after: { [k]: y },
      });
    }
  }

  objects(a: JsonSchema, b: JsonSchema, ptr: string) {
    const pa = isObject(a.properties) ? a.properties : {};
    const pb = isObject(b.properties) ? b.properties : {};
    const ra = new Set(Array.isArray(a.required) ? a.required.map(String) : []);
    const rb = new Set(Array.isArray(b.required) ? b.required.map(String) : []);
    const xa = extra(a.additionalProperties);
    const xb = extra(b.additionalProperties);
    const names = [...new Set([...Object.keys(pb), ...Object.keys(pa)])];
    for (const name of names) {
      const p = `${ptr}/properties/${esc(name)}`;
      const inA = Object.hasOwn(pa, name);
      const inB = Object.hasOwn(pb, name);
      if (inA && inB) {
        this.walk(node(pa[name]), node(pb[name]), p);
        if (ra.has(name) && !rb.has(name))
          this.emit({
            pointer: p,
            keyword: "required",
            rule: "field-made-optional",
            summary: `${name} made optional`,
          });
        if (!ra.has(name) && rb.has(name))
          this.emit({
            pointer: p,
            keyword: "required",
            rule: "field-made-required",
            summary: `${name} made required`,
          });
      } else if (inB) {
        if (xa.kind === "none")
          this.emit({
            pointer: p,
            keyword: "additionalProperties",
            rule: "constraint-loosened",
            summary: `${name} added where BASE forbade fields it did not list (additionalProperties: false)`,
            after: pb[name],
          });
        if (rb.has(name))
          this.emit({
            pointer: p,
            keyword: "required",
            rule: "required-field-added",
            summary: `required field ${name} added`,
            after: pb[name],
          });
        else if (xa.kind === "schema") this.walk(xa.schema, node(pb[name]), p);
        else if (xa.kind === "any")
          this.emit({
            pointer: p,
            keyword: "properties",
            rule: "optional-field-added",
            summary: `optional field ${name} added`,
            after: pb[name],
          });
      } else {
        if (xb.kind === "none")
          this.emit({
            pointer: p,
            keyword: "additionalProperties",
            rule: "constraint-tightened",
            summary: `${name} removed, and HEAD forbids fields it does not list (additionalProperties: false)`,
            before: pa[name],
          });
        if (ra.has(name))
          this.emit({
            pointer: p,
            keyword: "required",
            rule: "required-field-removed",
            summary: `required field ${name} removed`,
            before: pa[name],
          });
        else if (xb.kind === "schema") this.walk(node(pa[name]), xb.schema, p);
        else if (xb.kind === "any")
          this.emit({
            pointer: p,
            keyword: "properties",
            rule: "optional-field-removed",
            summary: `optional field ${name} removed`,
            before: pa[name],
          });
      }
    }
    // Required names the node does not describe (the branches of a `oneOf`, say).
    const described = (n: string) => Object.hasOwn(pa, n) || Object.hasOwn(pb, n);
    for (const n of rb)
      if (!ra.has(n) && !described(n))
        this.emit({
          pointer: ptr,
          keyword: "required",
          rule: "required-field-added",
          summary: `${n} required`,
          field: n,
          after: n,
        });
    for (const n of ra)
      if (!rb.has(n) && !described(n))
        this.emit({
          pointer: ptr,
          keyword: "required",
          rule: "required-field-removed",
          summary: `${n} no longer required`,
          field: n,
          before: n,
        });
    this.extra(xa, xb, a.additionalProperties, b.additionalProperties, ptr);
  }

  extra(
    xa: Extra,
    xb: Extra,
    before: JsonValue | undefined,
    after: JsonValue | undefined,
    ptr: string,
  ) {
    if (xa.kind === "schema" && xb.kind === "schema") {
      this.walk(xa.schema, xb.schema, `${ptr}/additionalProperties`);
      return;
    }
    if (xa.kind === xb.kind) return;
    // any ⊃ schema ⊃ none: moving down the chain tightens.
    const rank = { any: 2, schema: 1, none: 0 } as const;
    const tightened = rank[xb.kind] < rank[xa.kind];
    this.emit({
      pointer: ptr,
      keyword: "additionalProperties",
      rule: tightened ? "constraint-tightened" : "constraint-loosened",
      summary: `additionalProperties ${show(before)} → ${show(after)}`,
      before,
      after,
    });
  }

  items(a: JsonSchema, b: JsonSchema, ptr: string) {
    const ia = a.items;
    const ib = b.items;
    if (ia === undefined && ib === undefined) return;
    if (Array.isArray(ia) || Array.isArray(ib)) {
      if (!same(stripped(ia), stripped(ib)))
        this.emit({
          pointer: ptr,
          keyword: "items",
          rule: "constraint-changed",
          summary: "tuple items changed",
          before: ia,
          after: ib,
        });
      return;
    }
    if (ia !== undefined && ib !== undefined) {
      this.walk(node(ia), node(ib), `${ptr}/items`);
      return;
    }
    this.emit({
      pointer: ptr,
      keyword: "items",
      rule: ia === undefined ? "constraint-tightened" : "constraint-loosened",
      summary: ia === undefined ? "items schema added" : "items schema removed",
      before: ia,
      after: ib,
    });
  }

  unions(a: JsonSchema, b: JsonSchema, ptr: string) {
    for (const k of ["oneOf", "anyOf", "allOf"]) {
      const xa = Array.isArray(a[k]) ? (a[k] as JsonValue[]) : undefined;
      const xb = Array.isArray(b[k]) ? (b[k] as JsonValue[]) : undefined;
      if (xa === undefined && xb === undefined) continue;
      if (xa === undefined || xb === undefined) {
        this.emit({
          pointer: ptr,
          keyword: k,
          rule: xa === undefined ? "constraint-tightened" : "constraint-loosened",
          summary: `${k} ${xa === undefined ? "added" : "removed"}`,
          before: xa,
          after: xb,
        });
        continue;
      }
      // Branches are matched by shape, so reordering them is no change.
      const left = xa.map((s, i) => ({ s, i, key: shapeOf(s) }));
      const right = xb.map((s, i) => ({ s, i, key: shapeOf(s) }));
      const removed = left.filter((l) => {
        const j = right.findIndex((r) => r.key === l.key);
        if (j < 0) return true;
        right.splice(j, 1);
        return false;
      });
      const added = right;
      if (removed.length === added.length) {
        removed.forEach((r, n) => {
          const m = added[n] as (typeof added)[number];
          this.walk(node(r.s), node(m.s), `${ptr}/${k}/${m.i}`);
        });
        continue;
      }
      for (const m of added)
        this.emit({
          pointer: `${ptr}/${k}/${m.i}`,
          keyword: k,
          rule: k === "allOf" ? "constraint-tightened" : "union-branch-added",
          summary: `${k} branch added: ${JSON.stringify(stripped(m.s))}`,
          after: m.s,
        });
      for (const r of removed)
        this.emit({
          pointer: `${ptr}/${k}/${r.i}`,
          keyword: k,
          rule: k === "allOf" ? "constraint-loosened" : "union-branch-removed",
          summary: `${k} branch removed: ${JSON.stringify(stripped(r.s))}`,
          before: r.s,
        });
    }
  }

  not(a: JsonSchema, b: JsonSchema, ptr: string) {
    if (shapeOf(a.not) === shapeOf(b.not)) return;
    const rule: ChangeRule =
      a.not === undefined
        ? "constraint-tightened"
        : b.not === undefined
          ? "constraint-loosened"
          : "constraint-changed";
    this.emit({
      pointer: ptr,
      keyword: "not",
      rule,
      summary: `not ${show(a.not)} → ${show(b.not)}`,
      before: a.not,
      after: b.not,
    });
  }

  dependencies(a: JsonSchema, b: JsonSchema, ptr: string) {
    const da = isObject(a.dependencies) ? a.dependencies : {};
    const db = isObject(b.dependencies) ? b.dependencies : {};
    for (const k of new Set([...Object.keys(da), ...Object.keys(db)])) {
      const x = da[k];
      const y = db[k];
      const p = `${ptr}/dependencies/${esc(k)}`;
      if (same(stripped(x), stripped(y))) continue;
      if (isObject(x) && isObject(y)) {
        this.walk(x, y, p);
        continue;
      }
      const names = (v: JsonValue | undefined) => new Set(Array.isArray(v) ? v.map(String) : []);
      if ((x === undefined || Array.isArray(x)) && (y === undefined || Array.isArray(y))) {
        const na = names(x);
        const nb = names(y);
        for (const n of nb)
          if (!na.has(n))
            this.emit({
              pointer: p,
              keyword: "dependencies",
              rule: "constraint-tightened",
              summary: `${k} now requires ${n}`,
              field: k,
              after: n,
            });
        for (const n of na)
          if (!nb.has(n))
            this.emit({
              pointer: p,
              keyword: "dependencies",
              rule: "constraint-loosened",
              summary: `${k} no longer requires ${n}`,
              field: k,
              before: n,
            });
        continue;
      }
      this.emit({
        pointer: p,
        keyword: "dependencies",
        rule:
          x === undefined
            ? "constraint-tightened"
            : y === undefined
              ? "constraint-loosened"
              : "constraint-changed",
        summary: `dependency of ${k}: ${show(x)} → ${show(y)}`,
        field: k,
        before: x,
        after: y,
      });
    }
  }
}

type Extra = { kind: "any" } | { kind: "none" } | { kind: "schema"; schema: JsonSchema };
function extra(v: JsonValue | undefined): Extra {
  if (v === false) return { kind: "none" };
  if (isObject(v)) return { kind: "schema", schema: v };
  return { kind: "any" };
}

/** The JSON types a `type` keyword allows; `undefined` for every type. */
function typeSet(t: JsonValue | undefined): Set<string> | undefined {
  if (typeof t === "string") return new Set([t]);
  if (Array.isArray(t)) return new Set(t.map(String));
  return undefined;
}

/** Whether every value of types `inner` is of types `outer` (an integer is a number). */
function covers(outer: Set<string> | undefined, inner: Set<string> | undefined): boolean {
  if (outer === undefined) return true;
  if (inner === undefined) return false;
  return [...inner].every((t) => outer.has(t) || (t === "integer" && outer.has("number")));
}

function valuesOf(s: JsonSchema): JsonValue[] | undefined {
  if ("const" in s) return [s.const as JsonValue];
  return Array.isArray(s.enum) ? s.enum : undefined;
}

/** Whether a schema set carries the error-code annotation anywhere. */
function hasCodes(set: SchemaSet): boolean {
  for (const m of set.messages.values())
    if (JSON.stringify(m.schema).includes(`"${ERROR_CODE_KEYWORD}"`)) return true;
  return false;
}

const HURT: Record<Direction, string> = {
  c2s: "clients built on BASE: a server built on HEAD refuses, or answers differently, what they send",
  s2c: "clients built on BASE: a server built on HEAD sends them what they do not accept",
};

/** Who a warning asks a reviewer to think of, by rule. */
const WARNING_HURT: Partial<Record<ChangeRule, string>> = {
  "enum-value-removed":
    "nobody fails: clients built on BASE keep handling a value HEAD servers no longer send",
  "union-branch-removed":
    "nobody fails: clients built on BASE keep handling a shape HEAD servers no longer send",
  "optional-field-removed":
    "nobody fails validation, but the field's meaning is gone: a HEAD receiver ignores what a BASE sender still puts there",
  "error-code-annotated":
    "BASE's schemas named no codes: check that BASE servers answered with this code, else BASE clients see a new one",
  "reply-changed": "clients built on BASE that wait for the reply BASE recorded",
  "keyword-changed": "unknown: the gate does not understand this keyword, so a human must judge it",
};

/** Why a rule has its class where the table alone would not say, by rule and direction. */
const RULE_NOTES: Partial<Record<ChangeRule, Partial<Record<Direction, string>>>> = {
  "optional-field-added": {
    c2s: "servers ignore fields they do not know (VERSION-UNKNOWN-1)",
    s2c: "clients ignore fields they do not know (VERSION-UNKNOWN-2); announce a new capability in serverInfo.features",
  },
  "message-added": {
    c2s: "a BASE server answers the unknown command with an error: clients look for it in serverInfo.features first",
    s2c: "clients ignore frames whose cmd/op they do not know (VERSION-UNKNOWN-3)",
  },
  "error-code-changed": {
    s2c: "inert on s2c frames: clients answer no server frame with an error code",
  },
  "error-code-annotated": {
    s2c: "inert on s2c frames: clients answer no server frame with an error code",
  },
};

const MESSAGE_LEVEL = new Set<ChangeRule>([
  "message-added",
  "message-removed",
  "message-renamed",
  "reply-changed",
  "signature-required",
]);

function classify(found: Found, message: MessageSchema, options: DiffOptions): SchemaChange {
  const direction = message.direction;
  let cls: ChangeClass = RULE_TABLE[found.rule][direction];
  let note: string | undefined;
  if (
    direction === "s2c" &&
    cls === "breaking" &&
    ["enum-value-added", "union-branch-added", "constraint-loosened", "type-widened"].includes(
      found.rule,
    )
  ) {
    const open = (options.openSets ?? OPEN_SETS).find(
      (o) =>
        o.message === message.id &&
        (found.pointer === o.pointer || found.pointer.startsWith(`${o.pointer}/`)),
    );
    if (open) {
      cls = "non-breaking";
      note = `open set: ${open.reason}`;
    }
  }
  if (note === undefined) note = RULE_NOTES[found.rule]?.[direction];
  const field = found.field ?? fieldOfPointer(found.pointer);
  const requirements =
    message.kind === "ws" && (field !== undefined || MESSAGE_LEVEL.has(found.rule))
      ? requirementsNaming(options.requirements ?? [], message.name, field)
      : [];
  const hurt =
    cls === "breaking"
      ? HURT[direction]
      : cls === "warning"
        ? (WARNING_HURT[found.rule] ?? HURT[direction])
        : undefined;
  return {
    message: message.id,
    direction,
    pointer: found.pointer,
    ...(field === undefined ? {} : { field }),
    ...(found.keyword === undefined ? {} : { keyword: found.keyword }),
    rule: found.rule,
    class: cls,
    summary: found.summary,
    ...(hurt === undefined ? {} : { hurt }),
    ...(found.before === undefined ? {} : { before: found.before }),
    ...(found.after === undefined ? {} : { after: found.after }),
    requirements,
    ...(note === undefined ? {} : { note }),
  };
}

/** A schema's shape without its `op` and annotations: what stays when an op is renamed. */
function renameShape(m: MessageSchema): string {
  const s = stripped(m.schema) as Obj;
  const props = isObject(s.properties) ? { ...s.properties } : {};
  delete props.op;
  return canonicalJson({ ...s, properties: props });
}

/**
 * Compares the messages of two schema sets, message by message (by registry name and
 * direction) and keyword by keyword, and classifies every change per direction.
 *
 * @example
 * const { changes } = diffSchemaSets(base, head, { requirements });
 * const breaking = changes.filter((c) => c.class === "breaking");
 */
export function diffSchemaSets(
  base: SchemaSet,
  head: SchemaSet,
  options: DiffOptions = {},
): DiffResult {
  const changes: SchemaChange[] = [];
  const annotations: AnnotationEdit[] = [];
  const baseHasCodes = hasCodes(base);
  const removed = [...base.messages.values()].filter((m) => !head.messages.has(m.id));
  const added = [...head.messages.values()].filter((m) => !base.messages.has(m.id));
  const record = (m: MessageSchema, found: Found) => changes.push(classify(found, m, options));

  for (const m of removed) {
    // An op renamed: a message gone and one come with the same cmd and the same fields.
    const twin = added.find(
      (n) =>
        n.kind === "ws" &&
        m.kind === "ws" &&
        n.direction === m.direction &&
        n.registry?.cmd === m.registry?.cmd &&
        renameShape(n) === renameShape(m),
    );
    if (twin) {
      added.splice(added.indexOf(twin), 1);
      record(m, {
        pointer: "",
        rule: "message-renamed",
        summary: `${m.id} renamed to ${twin.id}`,
        before: m.name,
        after: twin.name,
      });
    } else record(m, { pointer: "", rule: "message-removed", summary: `${m.id} removed` });
  }

  for (const [id, b] of head.messages) {
    const a = base.messages.get(id);
    if (a === undefined) {
      if (added.includes(b))
        record(b, { pointer: "", rule: "message-added", summary: `${id} added` });
      continue;
    }
    const w = new Walker(baseHasCodes);
    w.walk(a.schema, b.schema, "");
    for (const f of w.found) record(b, f);
    for (const [pointer, keyword] of w.annotations)
      annotations.push({ message: id, pointer: pointer as string, keyword: keyword as string });
    if (a.registry && b.registry) {
      if (!same(a.registry.reply, b.registry.reply))
        record(b, {
          pointer: "",
          keyword: "reply",
          rule: "reply-changed",
          summary: `registry reply ${show(a.registry.reply)} → ${show(b.registry.reply)}`,
          before: a.registry.reply,
          after: b.registry.reply,
        });
      // A BASE registry that does not say whether a command is signed (v1.0) is no change.
      if (a.registry.signed === false && b.registry.signed === true)
        record(b, {
          pointer: "",
          keyword: "signed",
          rule: "signature-required",
          summary: "the command is now signed when the app enforces signatures",
          before: false,
          after: true,
        });
      if (a.registry.signed === true && b.registry.signed === false)
        record(b, {
          pointer: "",
          keyword: "signed",
          rule: "constraint-loosened",
          summary: "the command is no longer signed",
          before: true,
          after: false,
        });
    }
  }
  return { changes, annotations };
}
