/**
 * The servers a benchmark runs against, each a process of its own on loopback with a fresh
 * temporary folder: the reference server (the built CLI) and the baselines B0, B1 and BF
 * (bench/baselines). Pinned to core 0 with `taskset` when the machine allows.
 * @module
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { setPriority, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const REFERENCE_CLI = join(ROOT, "reference-server/dist/src/cli.js");
const BASELINES = join(ROOT, "bench/baselines");

/**
 * The `--config` the reference server runs with in every workload, and why each bound is
 * raised: the results quote it.
 */
export const REFERENCE_CONFIG = {
  rateLimit: { perSecond: 0, burst: 0 },
  limits: {
    maxOfflinePerPeer: 100_000,
    maxConnectionsPerApp: 20_000,
    historyBytesPerSecond: 0,
  },
};
export const REFERENCE_CONFIG_WHY = [
  "rateLimit off (perSecond 0): the flood guard (1000 frames/s per connection) would refuse the generator's senders and ackers above 20k msg/s on 20 pairs; its cost is one token-bucket update per frame",
  "limits.maxOfflinePerPeer 100000 (spec 50): W4 fills one peer's offline store with thousands of messages",
  "limits.maxConnectionsPerApp 20000 (default 10000): W1 opens 10000 sessions on one app",
  "limits.historyBytesPerSecond 0 (default 1 MiB/s per connection): W7 measures paging, not the history rate limit",
  "maxConnectionsPerAddress kept (1000): the generator spreads its connections over 127.0.0.2 and up, 900 each",
];

/**
 * Node flags of every server pinned to one core, the reference server and the baselines
 * alike. On one core V8's helper threads (concurrent marking, parallel scavenges) only take
 * turns with the event loop: measured on the reference server under W3 at 10,918 msg/s, two
 * runs each, p99.9 15-33 ms with them and 7-8 ms without, the same CPU per message; B1, B0
 * and BF did not change (issue 11). It is the setting for a server deployed on one core.
 */
export const PINNED_NODE_FLAGS = ["--single-threaded-gc"];

/** Milliseconds to sleep. @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @typedef {"reference" | "B0" | "B1" | "BF"} TargetKind
 * @typedef {{ kind: TargetKind, pid: number, port: number, url: string, dir: string,
 *   inspector: string | undefined,
 *   stop: () => Promise<{ exitCode: number | null, killed: boolean }> }} Target
 */

/**
 * Starts a server of `kind` on a free loopback port and waits for its listening line.
 * @param {TargetKind} kind
 * @param {{ pinCore?: number | null, nodeArgs?: string[], server?: string, inspect?: boolean, nice?: number }} [options]
 *   `pinCore` the core for `taskset -c`, null for none (pinned, node also gets
 *   {@link PINNED_NODE_FLAGS}); `nodeArgs` flags for node itself
 *   (`--cpu-prof`); `server` another CLI than the built one; `inspect` opens the inspector
 *   on a loopback port, through which W1 forces a full GC before reading the RSS (the
 *   server's code is not touched).
 * @returns {Promise<Target>}
 */
export async function startTarget(kind, options = {}) {
  const dir = mkdtempSync(join(tmpdir(), `confab-bench-${kind}-`));
  /** @type {string[]} */
  let args;
  if (kind === "reference") {
    const cli = resolve(options.server ?? REFERENCE_CLI);
    if (!existsSync(cli)) throw new Error(`no server at ${cli}: build it first (npx tsc -b)`);
    const config = join(dir, "bench-config.json");
    writeFileSync(config, JSON.stringify(REFERENCE_CONFIG));
    args = [cli, "--port", "0", "--host", "127.0.0.1", "--dev"];
    args.push("--db", join(dir, "c.db"), "--config", config);
  } else {
    const script = { B0: "b0.mjs", B1: "b1.mjs", BF: "bf.mjs" }[kind];
    args = [join(BASELINES, script), "--port", "0"];
    if (kind === "B1") args.push("--db", join(dir, "b1.db"));
  }
  const pinned = options.pinCore !== null && options.pinCore !== undefined;
  const nodeArgs = [...(pinned ? PINNED_NODE_FLAGS : []), ...(options.nodeArgs ?? [])];
  if (options.inspect) nodeArgs.push("--inspect=127.0.0.1:0");
  const node = [process.execPath, ...nodeArgs, ...args];
  const [cmd, ...rest] =
    options.pinCore === null || options.pinCore === undefined
      ? node
      : ["taskset", "-c", String(options.pinCore), ...node];
  const logPath = join(dir, "server.log");
  const fd = openSync(logPath, "w");
  // taskset execs node, so the child's pid is the server's own.
  const child = spawn(/** @type {string} */ (cmd), rest, { cwd: dir, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  // A negative niceness (root only) keeps other processes of a shared machine from
  // preempting the server; the results record it.
  if (options.nice) setPriority(/** @type {number} */ (child.pid), options.nice);
  let exited = false;
  /** @type {number | null} */
  let exitCode = null;
  const exit = new Promise((res) => {
    child.on("exit", (code, signal) => {
      exited = true;
      exitCode = code ?? (signal ? 128 : null);
      res(undefined);
    });
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
    const line = text.split("\n").find((l) => l.includes('"event":"listening"'));
    const inspector = /Debugger listening on (ws:\/\/\S+)/.exec(text)?.[1];
    if (line && (!options.inspect || inspector)) {
      const { port } = JSON.parse(line);
      return {
        kind,
        pid: /** @type {number} */ (child.pid),
        port,
        url: `ws://127.0.0.1:${port}/`,
        dir,
        inspector,
        async stop() {
          if (!exited) child.kill("SIGTERM");
          let timer;
          const late = new Promise((res) => {
            timer = setTimeout(() => res(true), 20_000);
          });
          const killed = await Promise.race([exit.then(() => false), late]);
          clearTimeout(timer);
          if (killed) {
            child.kill("SIGKILL");
            await exit;
          }
          rmSync(dir, { recursive: true, force: true });
          return { exitCode, killed: Boolean(killed) };
        },
      };
    }
    if (exited || Date.now() > deadline) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(
        `${kind} did not start (${exited ? `exit ${exitCode}` : "timeout"}):\n${text}`,
      );
    }
    await sleep(25);
  }
}
