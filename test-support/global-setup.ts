/**
 * Vitest global setup: builds the workspaces once (tsc -b is incremental) before any test
 * file runs, so tests that spawn the compiled CLI never race each other building `dist/`.
 */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Runs `tsc -b` at the repository root. */
export default function setup(): void {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-b"], {
    cwd: root,
    stdio: "inherit",
  });
}
