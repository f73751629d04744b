/**
 * What the kit's own tests share: the repository root and a runner of the compiled
 * `confab-conformance` CLI as a child process, as a user or CI runs it (vitest's global
 * setup builds `conformance/dist` first).
 * @module
 */
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The root of the repository. */
export const root = join(dirname(fileURLToPath(import.meta.url)), "../..");

/** The compiled CLI. */
export const CLI = join(root, "conformance/dist/src/cli.js");

/** How a run of the CLI ended: its exit status (`null` when killed) and its output. */
export interface KitRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the CLI with `args` from the repository root; resolves with its exit status and
 * output. A run still going after `timeoutMs` is killed (status `null`), so that a hung
 * kit fails its test instead of stalling the suite.
 */
export function kit(args: string[], timeoutMs = 120_000): Promise<KitRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}
