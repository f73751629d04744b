// The committed JSON Schema files are fresh and usable by any draft-07 validator.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createAjv, fileName, REGISTRY } from "@confab/protocol";
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
