#!/usr/bin/env node
/**
 * Bundles the client SDK for the demo page: `reference-client/src/browser.ts` when there is
 * one, else `reference-client/src/index.ts`, into `reference-client/demo/dist/confab-client.js`
 * (ESM, browser platform, with a source map), which the reference server serves at
 * `/demo/dist/confab-client.js` in development mode. `npm start` runs it after `tsc -b`.
 *
 *   node reference-client/demo/build.mjs            # writes the bundle, prints its size
 *
 * In a browser the SDK uses the page's `WebSocket`, so the `ws` package (Node's WebSocket)
 * and Node's built-ins have no place in the bundle: `ws` resolves to an empty module here,
 * and a Node built-in fails the build. `buildDemoBundle({ write: false })` returns the
 * bundle and esbuild's metafile without writing, for the test that checks both.
 *
 * Plain Node ESM; esbuild is a root dev dependency.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const clientRoot = join(here, "..");

/** The bundle's path. */
export const BUNDLE = join(here, "dist", "confab-client.js");

/** The SDK's browser entry: `src/browser.ts` if the SDK has one, else `src/index.ts`. */
export function entryPoint() {
  const browser = join(clientRoot, "src", "browser.ts");
  return existsSync(browser) ? browser : join(clientRoot, "src", "index.ts");
}

/**
 * `ws` becomes an empty module (the SDK reaches for it only where there is no global
 * `WebSocket`), and any Node built-in stops the build with the importer's name.
 */
const browserOnly = {
  name: "confab-browser-only",
  setup(b) {
    b.onResolve({ filter: /^ws$/ }, () => ({ path: "ws", namespace: "confab-no-ws" }));
    b.onLoad({ filter: /.*/, namespace: "confab-no-ws" }, () => ({
      contents: "export default undefined; export const WebSocket = undefined;",
      loader: "js",
    }));
    b.onResolve({ filter: /^node:/ }, (args) => ({
      errors: [{ text: `${args.path} is a Node built-in: the browser bundle may not import it` }],
    }));
  },
};

/**
 * Builds the bundle. `write: false` keeps it in memory (`outputFiles`). Resolves with
 * esbuild's result, its `metafile` included.
 */
export async function buildDemoBundle({ write = true, outfile = BUNDLE } = {}) {
  return build({
    entryPoints: [entryPoint()],
    outfile,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    sourcemap: "linked",
    // Readable: the demo is also for reading what the SDK does.
    minify: false,
    metafile: true,
    write,
    logLevel: "silent",
    legalComments: "none",
    plugins: [browserOnly],
  });
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  try {
    await buildDemoBundle();
  } catch (err) {
    const errors = err?.errors ?? [];
    const lines = errors.length
      ? errors.map((e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ""}${e.text}`)
      : [String(err?.message ?? err)];
    process.stderr.write(`demo build: ${lines.join("\n")}\n`);
    process.exit(1);
  }
  const kib = (statSync(BUNDLE).size / 1024).toFixed(0);
  process.stdout.write(
    `demo build: ${relative(process.cwd(), BUNDLE) || BUNDLE} (${kib} KiB) in ${Date.now() - started} ms\n`,
  );
}
