// Released schemas never change: every file of schemas/released/<version> matches the sum
// recorded when it was released, and no file was added or removed.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../released/", import.meta.url));

/** Every file below `dir`, as paths relative to it, sorted. */
function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(`./${relative(dir, p)}`);
    }
  };
  walk(dir);
  return out.filter((f) => f !== "./SHA256SUMS").sort();
}

describe("released schemas", () => {
  const versions = readdirSync(root).filter((v) => statSync(join(root, v)).isDirectory());

  it("has the releases 1.0 and 1.1", () => {
    expect(versions).toEqual(expect.arrayContaining(["1.0", "1.1"]));
  });

  for (const v of versions) {
    it(`keeps release ${v} exactly as released`, () => {
      const dir = join(root, v);
      const sums = readFileSync(join(dir, "SHA256SUMS"), "utf8")
        .trim()
        .split("\n")
        .map((line) => {
          const [sum, path] = line.split(/\s+/);
          return [path as string, sum as string] as const;
        });
      expect(files(dir)).toEqual(sums.map(([p]) => p).sort());
      for (const [path, sum] of sums) {
        const actual = createHash("sha256")
          .update(readFileSync(join(dir, path)))
          .digest("hex");
        expect(actual, `${v}/${path}`).toBe(sum);
      }
    });
  }
});
