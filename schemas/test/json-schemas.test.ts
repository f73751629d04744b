// The committed JSON Schema files are fresh and usable by any draft-07 validator, and a
// third party derives the spec's error code of a failed command from them alone.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createAjv, ERROR_CODE_KEYWORD, fileName, REGISTRY } from "@confab/protocol";
import { Ajv, type ErrorObject } from "ajv";
import { describe, expect, it } from "vitest";
import { renderJsonSchemas } from "../src/render.js";

const jsonDir = join(import.meta.dirname, "../json");

describe("generated JSON Schemas", () => {
  it("match what the registry generates (run `npm run gen` if not)", () => {
    for (const [path, content] of renderJsonSchemas()) {
      expect(readFileSync(join(jsonDir, path), "utf8"), path).toBe(content);
    }
  });

  it("compile with a fresh ajv and decide every fixture as the validators do", () => {
    const ajv = createAjv();
    for (const e of REGISTRY) {
      const file = join(jsonDir, e.direction, `${fileName(e.name)}.json`);
      const validateJson = ajv.compile(JSON.parse(readFileSync(file, "utf8")));
      const dir = join(import.meta.dirname, "../fixtures", e.direction, fileName(e.name));
      for (const f of readdirSync(dir)) {
        const fx = JSON.parse(readFileSync(join(dir, f), "utf8")) as {
          valid: boolean;
          frame: unknown;
        };
        expect(validateJson(fx.frame), `${e.direction} ${e.name} ${f}`).toBe(fx.valid);
      }
    }
  });

  it("list every registry entry in registry.json", () => {
    const listed = JSON.parse(readFileSync(join(jsonDir, "registry.json"), "utf8")) as {
      name: string;
      direction: string;
    }[];
    expect(listed.map((x) => `${x.direction} ${x.name}`)).toEqual(
      REGISTRY.map((e) => `${e.direction} ${e.name}`),
    );
  });
});

// What a third party has: the committed files, and the recipe of docs/messages.md. Nothing
// below imports the package's validators or its code derivation.
type Json = Record<string, unknown>;
const readJson = (path: string): unknown => JSON.parse(readFileSync(join(jsonDir, path), "utf8"));

/** An ajv set up as docs/messages.md tells a third party to. */
function thirdPartyAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true });
  ajv.addKeyword({
    keyword: "maxUtf8Bytes",
    type: "string",
    schemaType: "number",
    validate: (max: number, s: string) => new TextEncoder().encode(s).length <= max,
  });
  ajv.addKeyword({ keyword: "x-confab-error", schemaType: "object" });
  return ajv;
}

/** Step 4 of the recipe: the node of a failure, and the code its annotation gives. */
function codeOfError(e: ErrorObject, schema: unknown): number {
  const segments = e.schemaPath
    .replace(/^#/, "")
    .split("/")
    .slice(1, -1)
    .map((p) => decodeURIComponent(p).replace(/~1/g, "/").replace(/~0/g, "~"));
  let node = segments.reduce<unknown>((n, k) => (n as Json | undefined)?.[k], schema) as Json;
  if (e.keyword === "required") {
    const member = (node.properties as Json | undefined)?.[e.params.missingProperty as string];
    if (member) node = member as Json;
  }
  const codes = node[ERROR_CODE_KEYWORD] as Record<string, number> | undefined;
  return codes?.[e.keyword] ?? codes?.["*"] ?? 4114;
}

/** Steps 1, 3, 4 and 6 (the fixtures hold no surrogates, and their app enforces signatures). */
function thirdPartyCode(ajv: Ajv, frame: unknown): number | undefined {
  const registry = readJson("registry.json") as {
    cmd: string | null;
    op: string | null;
    direction: string;
    schema: string;
  }[];
  if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return 4114;
  const f = frame as Json;
  const entry = registry.find(
    (e) =>
      e.direction === "c2s" &&
      (Object.hasOwn(f, "cmd") ? e.cmd === f.cmd && e.op === (f.op ?? null) : e.cmd === null),
  );
  if (!entry) return 4114; // FRAME-SCHEMA-1
  const schema = readJson(entry.schema);
  const v = ajv.getSchema((schema as Json).$id as string) ?? ajv.compile(schema as Json);
  if (v(frame)) return undefined;
  const precedence = [4100, 4103, 4114, 4109, 4120];
  const codes = (v.errors ?? []).map((e) => codeOfError(e, schema));
  return precedence.find((c) => codes.includes(c)) ?? codes[0];
}

describe("error codes from the committed JSON Schemas alone", () => {
  it("[FRAME-SCHEMA-4] [ERROR-ORDER-12] lets a fresh ajv derive the spec's code for every invalid c2s fixture", () => {
    const ajv = thirdPartyAjv();
    let checked = 0;
    for (const e of REGISTRY.filter((x) => x.direction === "c2s")) {
      const dir = join(import.meta.dirname, "../fixtures/c2s", fileName(e.name));
      for (const file of readdirSync(dir)) {
        const fx = JSON.parse(readFileSync(join(dir, file), "utf8")) as {
          valid: boolean;
          code?: number;
          frame: unknown;
        };
        expect(thirdPartyCode(ajv, fx.frame), `c2s ${e.name} ${file}`).toBe(
          fx.valid ? undefined : fx.code,
        );
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(40);
  });

  it("[FRAME-SCHEMA-4] annotates only with codes of the precedence, on c2s schemas the package validates with", () => {
    const ajv = createAjv();
    const seen = new Set<number>();
    const walk = (node: unknown): void => {
      if (typeof node !== "object" || node === null) return;
      const codes = (node as Json)[ERROR_CODE_KEYWORD] as Record<string, number> | undefined;
      for (const c of Object.values(codes ?? {})) seen.add(c);
      for (const v of Object.values(node)) walk(v);
    };
    for (const e of REGISTRY.filter((x) => x.direction === "c2s")) {
      const schema = readJson(`c2s/${fileName(e.name)}.json`);
      walk(schema);
      // The package's ajv checks annotations against their meta-schema when compiling.
      expect(() => ajv.compile(schema as Json)).not.toThrow();
    }
    expect([...seen].sort()).toEqual([4100, 4103, 4109, 4114, 4120]);
    expect(() => ajv.compile({ type: "string", [ERROR_CODE_KEYWORD]: { "*": 4404 } })).toThrow(
      /x-confab-error/,
    );
  });
});
