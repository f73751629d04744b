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
 * server. Each start is counted in `starts`.
 */
function racyServer(): string {
  const script = join(dir, "racy.mjs");
  writeFileSync(
    script,
    `import { spawn } from "node:child_process";
import { appendFileSync, existsSync, writeFileSync } from "node:fs";
const [port, ...rest] = process.argv.slice(2);
appendFileSync(${JSON.stringify(join(dir, "starts"))}, "x");
const pidFile = ${JSON.stringify(join(dir, "holder.pid"))};
if (!existsSync(pidFile)) {
  const code = 'require("node:net").createServer().listen(' + port + ', "127.0.0.1", () => console.log("up"))';
  const holder = spawn(process.execPath, ["-e", code], { detached: true, stdio: ["ignore", "pipe", "ignore"] });
  await new Promise((resolve) => holder.stdout.once("data", resolve));
  writeFileSync(pidFile, String(holder.pid));
  process.exit(4);
}
const server = spawn(process.execPath, [${JSON.stringify(CLI)}, "--port", port, ...rest], { stdio: "inherit" });
process.on("SIGTERM", () => server.kill("SIGTERM"));
server.on("exit", (code) => process.exit(code ?? 1));
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
