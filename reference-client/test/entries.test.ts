// The two entry points: the Node one brings `ws` where there is no global WebSocket, the
// browser one reaches neither `ws` nor any Node built-in, so a bundle of it never holds them.
import { readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { fileURLToPath } from "node:url";
import { importsOf, reachableFrom } from "@confab/test-support";
import { describe, expect, it } from "vitest";

const src = (file: string) => fileURLToPath(new URL(`../src/${file}`, import.meta.url));

/** Every bare specifier imported by the files reachable from `entry`. */
function externals(entry: string): string[] {
  const found = new Set<string>();
  for (const file of reachableFrom(src(entry))) {
    for (const spec of importsOf(readFileSync(file, "utf8")))
      if (!spec.startsWith(".")) found.add(spec);
  }
  return [...found].sort();
}

describe("entry points", () => {
  it("keeps ws and Node's built-ins out of the browser entry's import graph", () => {
    const deps = externals("browser.ts");
    expect(deps).toEqual(["@confab/protocol"]);
    for (const d of deps) expect(builtinModules.includes(d.replace(/^node:/, ""))).toBe(false);
  });

  it("gives the Node entry ws, and nothing else beyond the protocol package", () => {
    expect(externals("index.ts")).toEqual(["@confab/protocol", "ws"]);
  });

  it("maps the package's browser condition to the browser entry", () => {
    const manifest = JSON.parse(
      readFileSync(fileURLToPath(new URL("../package.json", import.meta.url)), "utf8"),
    ) as { exports: { ".": Record<string, string> }; dependencies: Record<string, string> };
    expect(manifest.exports["."]).toMatchObject({
      browser: "./dist/src/browser.js",
      default: "./dist/src/index.js",
    });
    expect(Object.keys(manifest.dependencies).sort()).toEqual(["@confab/protocol", "ws"]);
  });
});
