/**
 * `npm start` stops cleanly: SIGTERM to npm (a supervisor, `kill`) and Ctrl-C (SIGINT to
 * the terminal's whole process group) both close the server's port and make npm exit 0
 * (issue 8, item 11). It runs the real `npm start`, so its shell, npm's own signal
 * forwarding and scripts/start.mjs are all under test.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../../", import.meta.url));

let tmp: string;
/** Process groups (npm's) and server pids this file started, to kill if a test fails. */
const groups: number[] = [];
const servers: number[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "confab-npm-start-"));
});

const kill = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal);
  } catch {
    // Gone already.
  }
};

afterEach(() => {
  for (const pid of groups.splice(0)) kill(-pid, "SIGKILL");
  for (const pid of servers.splice(0)) kill(pid, "SIGKILL");
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Resolves with whether something accepts connections on 127.0.0.1:`port`. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Starts `npm start` in a process group of its own; resolves once the server listens. */
async function npmStart(db: string) {
  const child: ChildProcess = spawn("npm", ["start", "--", "--port", "0", "--db", db], {
    cwd: root,
    detached: true, // its own process group, so a test can press "Ctrl-C" on it
    stdio: ["ignore", "pipe", "pipe"],
  });
  if (child.pid !== undefined) groups.push(child.pid);
  // "close", not "exit": it comes after the last output has been read from the pipes.
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("close", (code, signal) => resolve({ code, signal })),
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    // The build is a no-op after the global setup; npm and the server start in seconds.
    const timer = setTimeout(
      () => reject(new Error(`no listening line in 60 s: ${stderr}`)),
      60_000,
    );
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
      for (const line of stdout.split("\n")) {
        if (!line.includes('"event":"listening"')) continue;
        clearTimeout(timer);
        resolve(JSON.parse(line) as Record<string, unknown>);
      }
    });
    void exited.then(() => reject(new Error(`npm start exited before listening: ${stderr}`)));
  });
  servers.push(Number(listening.pid));
  return { child, listening, exited, events: () => stdout };
}

/** Waits up to `ms` for the exit, so a server left running fails the test, not the run. */
function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  return Promise.race([
    promise,
    new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), ms)),
  ]);
}

describe.skipIf(process.platform === "win32")("npm start", () => {
  it("stops cleanly on SIGTERM to npm: the port closes and npm exits 0", async () => {
    const { child, listening, exited, events } = await npmStart(join(tmp, "term.db"));
    const port = Number(listening.port);
    expect(await portOpen(port)).toBe(true);
    child.kill("SIGTERM"); // npm's pid only, as a supervisor or `kill` would
    expect(await within(exited, 15_000)).toEqual({ code: 0, signal: null });
    expect(await portOpen(port)).toBe(false);
    expect(events()).toContain('"event":"stopped"');
  });

  it("stops cleanly on Ctrl-C (SIGINT to the process group): the port closes and npm exits 0", async () => {
    const { child, listening, exited, events } = await npmStart(join(tmp, "int.db"));
    const port = Number(listening.port);
    expect(await portOpen(port)).toBe(true);
    // A terminal's Ctrl-C: every process of the foreground group gets SIGINT at once.
    process.kill(-(child.pid as number), "SIGINT");
    expect(await within(exited, 15_000)).toEqual({ code: 0, signal: null });
    expect(await portOpen(port)).toBe(false);
    // One stop request, not two: a second signal would have forced exit status 1.
    expect(events()).not.toContain("forced_exit");
    expect(events()).toContain('"event":"stopped"');
  });
});
