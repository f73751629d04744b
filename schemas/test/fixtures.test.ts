// The fixture corpus: every message has valid and invalid examples, tested both ways, and
// every invalid command names the code a server answers it with [FRAME-SCHEMA-4].
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { codeOf, DIRECTIONS, type Direction, fileName, REGISTRY, validate } from "@confab/protocol";
import { describe, expect, it } from "vitest";

interface Fixture {
  description: string;
  valid: boolean;
  /**
   * For an invalid c2s frame: the spec's code for it, with app `app1` served and enforcing
   * signatures (ERROR-ORDER-12). Absent elsewhere.
   */
  code?: number;
  frame: unknown;
  errors?: { path: string; rule: string }[];
}

const root = join(import.meta.dirname, "../fixtures");

function load(direction: Direction, name: string): [string, Fixture][] {
  const dir = join(root, direction, fileName(name));
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => [f, JSON.parse(readFileSync(join(dir, f), "utf8")) as Fixture]);
}

describe("fixture corpus", () => {
  for (const entry of REGISTRY) {
    describe(`${entry.direction} ${entry.name}`, () => {
      const fixtures = load(entry.direction, entry.name);

      it("has at least one valid and one invalid example", () => {
        expect(fixtures.filter(([, f]) => f.valid).length).toBeGreaterThan(0);
        expect(fixtures.filter(([, f]) => !f.valid).length).toBeGreaterThan(0);
      });

      for (const [file, f] of fixtures) {
        if (f.valid || entry.direction === "s2c") {
          it(`gives no code in ${file}: only an invalid command has one`, () => {
            expect(f.code).toBeUndefined();
          });
        }
        if (f.valid) {
          it(`accepts ${file}: ${f.description}`, () => {
            const r = validate(entry.direction, f.frame);
            expect(r.ok ? [] : r.errors).toEqual([]);
            expect(r.ok && r.name).toBe(entry.name);
          });
        } else {
          it(`rejects ${file} naming the field and rule: ${f.description}`, () => {
            const r = validate(entry.direction, f.frame);
            expect(r.ok).toBe(false);
            if (r.ok) return;
            const got = r.errors.map((e) => ({ path: e.path, rule: e.rule }));
            expect(got).toEqual(expect.arrayContaining(f.errors ?? []));
            expect(f.errors?.length).toBeGreaterThan(0);
            // Every error message names its field, so a person can act on it.
            for (const e of r.errors) if (e.path !== "") expect(e.message).toContain(e.path);
          });
          if (entry.direction === "c2s") {
            it(`[FRAME-SCHEMA-4] [ERROR-ORDER-12] derives the code of ${file} from the schema: ${f.code}`, () => {
              expect(f.code, "an invalid c2s fixture gives its code").toEqual(expect.any(Number));
              expect(codeOf(validate("c2s", f.frame))).toBe(f.code);
            });
          }
        }
      }
    });
  }

  it("has no fixture folder for a message the registry lacks", () => {
    for (const d of DIRECTIONS) {
      const names = new Set(REGISTRY.filter((e) => e.direction === d).map((e) => fileName(e.name)));
      for (const folder of readdirSync(join(root, d))) expect(names).toContain(folder);
    }
  });
});
