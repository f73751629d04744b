/**
 * The parent's side of the load generator (lib/loadgen.mjs): forks it, pins it to core 1
 * when pinning is on, and runs jobs on it one at a time.
 * @module
 */
import { fork } from "node:child_process";
import { setPriority } from "node:os";
import { pin } from "./proc.mjs";

/**
 * Forks the generator.
 * @param {{ pinCore: number | null, nice?: number }} options
 * @returns {Promise<{ pid: number, pinned: boolean, run: (job: Record<string, unknown>, onWindow?: (edge: "start" | "end") => void) => Promise<any>, stop: () => Promise<void> }>}
 *   `run`'s `onWindow` is told when the job's measured window starts and ends (after the
 *   warm-up; once per step of W2), for a tool that samples the server only then.
 */
export async function startGenerator(options) {
  const child = fork(new URL("./loadgen.mjs", import.meta.url), [], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    // Room for 10k connections' buffers and the histograms without GC pauses that matter;
    // --expose-gc for the full collection before each job (loadgen.mjs).
    execArgv: ["--max-old-space-size=2048", "--expose-gc"],
  });
  await new Promise((resolve, reject) => {
    child.once("message", resolve);
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the generator exited (${code})`)));
  });
  const pinned =
    options.pinCore === null ? false : pin(/** @type {number} */ (child.pid), options.pinCore);
  if (options.nice) setPriority(/** @type {number} */ (child.pid), options.nice);
  let serial = 0;
  /** @type {Map<number, { resolve: (v: any) => void, reject: (e: Error) => void, onWindow?: ((edge: "start" | "end") => void) | undefined }>} */
  const waiting = new Map();
  child.on("message", (/** @type {any} */ m) => {
    const w = waiting.get(m.id);
    if (!w) return;
    if (m.window !== undefined) {
      w.onWindow?.(m.window);
      return;
    }
    waiting.delete(m.id);
    if (m.error) w.reject(new Error(`generator: ${m.error}`));
    else w.resolve(m.result);
  });
  child.on("exit", (code) => {
    for (const w of waiting.values()) w.reject(new Error(`the generator exited (${code})`));
    waiting.clear();
  });
  return {
    pid: /** @type {number} */ (child.pid),
    pinned,
    run(job, onWindow) {
      const id = ++serial;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject, onWindow });
        child.send({ id, job });
      });
    },
    async stop() {
      if (child.exitCode !== null) return;
      const gone = new Promise((res) => child.once("exit", res));
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await gone;
      clearTimeout(timer);
    },
  };
}
