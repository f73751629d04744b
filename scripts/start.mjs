#!/usr/bin/env node
/**
 * `npm start`: builds every workspace and the demo page's client bundle, then runs the
 * reference server with the arguments given (`npm start -- --port 9000`), and exits with the
 * server's own status.
 *
 * Why a script and not `npm run build && node ...`: npm runs a script through `sh -c`, and
 * neither sh nor npm passed signals on so that the server stopped cleanly. SIGTERM to npm
 * reached the shell, which died and left the server listening; Ctrl-C made the shell, then
 * npm, exit 130 although the server had stopped cleanly with 0. Here:
 *
 * - the `start` script is `exec node scripts/start.mjs`, so no shell stays between npm
 *   and this process, and npm hands SIGTERM and SIGINT to it;
 * - the server runs in a process group of its own, so Ctrl-C (SIGINT to the terminal's whole
 *   group) reaches it once, through this script, and not a second time directly (the CLI
 *   takes a second signal as "exit now", status 1);
 * - the first SIGINT, SIGTERM or SIGHUP is passed on as it came (SIGHUP as SIGTERM: the
 *   terminal went away). npm and the terminal deliver one Ctrl-C twice, so signals in the
 *   next second are that same request; a later one is passed on, and forces the exit;
 * - this script exits with the server's status: 0 after a clean stop.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const DUPLICATE_WINDOW_MS = 1000;

/** The running child (the build, then the server), to which signals go. */
let child;
/** The first stop request, and when it came. */
let firstSignal;
let firstSignalAt;

/** Exit status of a process that a signal ended: 128 + its number, as a shell reports it. */
const signalStatus = (signal) => 128 + (constants.signals[signal] ?? 0);

function onSignal(signal) {
  const now = Date.now();
  if (firstSignalAt !== undefined && now - firstSignalAt < DUPLICATE_WINDOW_MS) return;
  firstSignal ??= signal;
  firstSignalAt ??= now;
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) {
    process.exit(signalStatus(signal));
  }
  child.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, onSignal);

/** Runs `node <args>` in the repository root; resolves with its exit status. */
function run(args, options = {}) {
  return new Promise((resolve) => {
    child = spawn(process.execPath, args, { cwd: root, stdio: "inherit", ...options });
    child.on("error", (err) => {
      process.stderr.write(`start: ${err.message}\n`);
      resolve(1);
    });
    child.on("exit", (code, signal) => resolve(code ?? signalStatus(signal)));
  });
}

const tsc = join(root, "node_modules/typescript/bin/tsc");
const built = await run([tsc, "-b"]);
// Stopped while building: the server never started, so report the signal as a shell would.
if (firstSignal !== undefined) process.exit(signalStatus(firstSignal));
if (built !== 0) {
  process.stderr.write(`start: the build failed (tsc -b exited ${built})\n`);
  process.exit(built);
}
// The demo chat page's client bundle, which the server serves at /demo in development mode
// (reference-client/demo/build.mjs, esbuild). A failed bundle costs the demo, not the server.
const demoBuild = join(root, "reference-client/demo/build.mjs");
if (existsSync(demoBuild)) {
  const bundled = await run([demoBuild]);
  if (firstSignal !== undefined) process.exit(signalStatus(firstSignal));
  if (bundled !== 0) {
    process.stderr.write(`start: the demo bundle failed (exit ${bundled}); /demo will not load\n`);
  }
}
const cli = join(root, "reference-server/dist/src/cli.js");
// Windows has no process groups to leave, and `detached` would open a console there.
const detached = process.platform !== "win32";
process.exit(await run([cli, ...process.argv.slice(2)], { detached }));
