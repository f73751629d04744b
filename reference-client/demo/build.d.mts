/** Types of build.mjs, for the tests that build the demo's client bundle. */
import type { BuildResult } from "esbuild";

/** The bundle's path: `reference-client/demo/dist/confab-client.js`. */
export declare const BUNDLE: string;

/** The SDK's browser entry: `src/browser.ts` if the SDK has one, else `src/index.ts`. */
export declare function entryPoint(): string;

/** Builds the bundle (in memory with `write: false`), with esbuild's metafile. */
export declare function buildDemoBundle(options?: {
  write?: boolean;
  outfile?: string;
}): Promise<BuildResult<{ metafile: true; write: boolean }>>;
