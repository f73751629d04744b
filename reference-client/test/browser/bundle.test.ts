/**
 * The demo's client bundle [issue 10]: `reference-client/demo/build.mjs` bundles the SDK's
 * browser entry with esbuild into one ESM file for browsers, which exports the SDK and
 * holds neither the `ws` package nor any Node built-in. Built in memory, so this test
 * writes nothing and races no other test that writes the bundle.
 */
import { describe, expect, it } from "vitest";
import { BUNDLE, buildDemoBundle, entryPoint } from "../../demo/build.mjs";

describe("the demo's client bundle [issue 10]", () => {
  it("is one ESM file for browsers, built from the SDK's browser entry, exporting createClient", async () => {
    const result = await buildDemoBundle({ write: false });
    expect(result.errors).toEqual([]);
    expect(entryPoint()).toMatch(/reference-client\/src\/(browser|index)\.ts$/);
    const js = result.outputFiles?.find((f) => f.path === BUNDLE);
    expect(js, "the bundle is written to demo/dist/confab-client.js").toBeDefined();
    const meta = Object.entries(result.metafile.outputs).find(([path]) =>
      path.endsWith("confab-client.js"),
    )?.[1];
    expect(meta?.exports).toEqual(expect.arrayContaining(["createClient"]));
    // ESM: an export statement, and no module left for a require at run time (esbuild's
    // __require shim). ajv's own text holds require("ajv/…") strings, for standalone code.
    expect(js?.text).toMatch(/^export \{/m);
    expect(js?.text).not.toMatch(/\b__require\(\s*["']/);
  });

  it("holds neither the ws package nor a Node built-in", async () => {
    const result = await buildDemoBundle({ write: false });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.length).toBeGreaterThan(5);
    // The SDK's own sources and the protocol package are in; ws is not.
    expect(inputs.some((p) => p.includes("reference-client/src/"))).toBe(true);
    expect(inputs.filter((p) => /(^|\/)node_modules\/ws\//.test(p))).toEqual([]);
    // build.mjs fails on a Node built-in; none reached the metafile either.
    expect(inputs.filter((p) => p.startsWith("node:"))).toEqual([]);
    const text = result.outputFiles?.find((f) => f.path === BUNDLE)?.text ?? "";
    // Nothing of ws's implementation (its handshake and framing) is in the text either.
    for (const marker of ["Sec-WebSocket-Key", "permessage-deflate", "258EAFA5-E914"]) {
      expect(text, marker).not.toContain(marker);
    }
    expect(text).not.toMatch(/from\s*["'](ws|node:[a-z_/]+)["']/);
    expect(text).not.toMatch(/import\(\s*["'](ws|node:[a-z_/]+)["']\s*\)/);
  });
});
