// The kit's server launcher (--server-command): the port it picks is free when it picks it,
// not when the server binds it. A server that loses its port to another process in between
// gets another one; a server that fails by itself is reported as it failed, once.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HarnessError } from "../src/errors.js";
import { startCommandTarget } from "../src/target.js";
import { root } from "./support.js";

const CLI = join(root, "reference-server/dist/src/cli.js");

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "confab-target-"));
});
afterEach(() => {
  // The process that took the port, if the test got that far.
  try {
    process.kill(Number(readFileSync(join(dir, "holder.pid"), "utf8")), "SIGKILL");
  } catch {
    // none started, or already gone
  }
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A server command that, the first time, has another process take its port and then exits
 * as a server that could not listen does; from the second time on it is the reference
 * server. Each start is counted in `starts`. With `answering`, the other process answers
 * HTTP (200 to anything, as a stray server would) and the command exits only after
 * `exitAfterMs`, so that the kit sees the stranger's answers before the command fails.
 */
function racyServer(answering = false, exitAfterMs = 0): string {
  const script = join(dir, "racy.mjs");
  const holderCode = answering
    ? `require("node:http").createServer((q, s) => s.end("not confab")).listen(PORT, "127.0.0.1", () => console.log("up"))`
    : `require("node:net").createServer().listen(PORT, "127.0.0.1", () => console.log("up"))`;
  writeFileSync(
    script,
    `import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
const [port, ...rest] = process.argv.slice(2);
appendFileSync(${JSON.stringify(join(dir, "starts"))}, "x");
const pidFile = ${JSON.stringify(join(dir, "holder.pid"))};
if (!existsSync(pidFile)) {
  // Through a parent that exits once the holder listens: the holder is not in this
  // command's process tree, as another test's server is not.
  const code = ${JSON.stringify(holderCode)}.replace("PORT", port);
  const launcher = \`const h = require("node:child_process").spawn(process.execPath, ["-e", process.argv[1]], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
h.stdout.once("data", () => { require("node:fs").writeFileSync(process.argv[2], String(h.pid)); process.exit(0); });\`;
  spawnSync(process.execPath, ["-e", launcher, code, pidFile]);
  writeFileSync(${JSON.stringify(join(dir, "holder.port"))}, port);
  await new Promise((resolve) => setTimeout(resolve, ${exitAfterMs}));
  process.exit(4);
}
const server = spawn(process.execPath, [${JSON.stringify(CLI)}, "--port", port, ...rest], { stdio: "inherit" });
process.on("SIGTERM", () => server.kill("SIGTERM"));
server.on("exit", (code) => process.exit(code ?? 1));
`,
  );
  return `"${process.execPath}" "${script}" {port} --db {db} --config {config}`;
}

/**
 * A server command that starts the reference server outside its own process tree (through
 * a parent that exits, as `docker run -p` reaches a server through `docker-proxy`) and stays
 * up until it is told to stop.
 */
function proxiedServer(): string {
  const script = join(dir, "proxied.mjs");
  const launcher = `const { spawn } = require("node:child_process");
const s = spawn(process.execPath, JSON.parse(process.argv[1]), { detached: true, stdio: "ignore" });
s.unref();
require("node:fs").writeFileSync(${JSON.stringify(join(dir, "holder.pid"))}, String(s.pid));`;
  writeFileSync(
    script,
    `import { spawnSync } from "node:child_process";
import { appendFileSync } from "node:fs";
const [port, ...rest] = process.argv.slice(2);
appendFileSync(${JSON.stringify(join(dir, "starts"))}, "x");
spawnSync(process.execPath, ["-e", ${JSON.stringify(launcher)}, JSON.stringify([${JSON.stringify(CLI)}, "--port", port, ...rest])]);
process.on("SIGTERM", () => process.exit(0));
setInterval(() => {}, 1000);
`,
  );
  return `"${process.execPath}" "${script}" {port} --db {db} --config {config}`;
}

const starts = () => readFileSync(join(dir, "starts"), "utf8").length;

describe("the kit's server launcher", () => {
  it("gives the server another port when another process took the first one", async () => {
    const target = await startCommandTarget({
      kind: "command",
      command: racyServer(),
      short: false,
    });
    try {
      expect(starts()).toBe(2);
      const res = await fetch(`${target.httpUrl}/v1/route?appId=${target.apps.open}`);
      expect(res.status).toBe(200);
    } finally {
      await target.close();
    }
  }, 30_000);

  it("does not take another process's answer on the port for its server's", async () => {
    // The stray server answers before the command fails; the kit waits for the command's
    // own process to listen, sees it exit, and starts it again on another port.
    const target = await startCommandTarget({
      kind: "command",
      command: racyServer(true, 1_500),
      short: false,
    });
    try {
      expect(starts()).toBe(2);
      expect(target.httpUrl).not.toContain(`:${readFileSync(join(dir, "holder.port"), "utf8")}`);
      // What it announced came from the reference server, not from the stranger.
      expect(target.featureSource).toBe("serverInfo");
      const res = await fetch(`${target.httpUrl}/v1/route?appId=${target.apps.open}`);
      expect(res.status).toBe(200);
    } finally {
      await target.close();
    }
  }, 30_000);

  it("accepts a server that answers through a process the command did not start, once the command stays up", async () => {
    const t0 = Date.now();
    const target = await startCommandTarget({
      kind: "command",
      command: proxiedServer(),
      short: false,
    });
    try {
      expect(starts()).toBe(1);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(5_000); // FOREIGN_SETTLE_MS
      const res = await fetch(`${target.httpUrl}/v1/route?appId=${target.apps.open}`);
      expect(res.status).toBe(200);
    } finally {
      await target.close();
    }
  }, 40_000);

  it("reports a server that exits by itself, after one start", async () => {
    const script = join(dir, "fails.mjs");
    writeFileSync(
      script,
      `import { appendFileSync } from "node:fs";
appendFileSync(${JSON.stringify(join(dir, "starts"))}, "x");
console.error("cannot open the database");
process.exit(3);
`,
    );
    const started = startCommandTarget({
      kind: "command",
      command: `"${process.execPath}" "${script}" {port}`,
      short: false,
    });
    await expect(started).rejects.toThrow(HarnessError);
    await expect(started).rejects.toThrow(/exited with 3[\s\S]*cannot open the database/);
    expect(starts()).toBe(1);
  }, 30_000);
});
