// Ports for kit-started servers and who listens on them (conformance/src/ports.ts): the kit
// must not take another process's server for the one its command started.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  listenerOwner,
  listeningInodes,
  pickPort,
  pickRange,
  portIsFree,
  processTree,
} from "../src/ports.js";

const linux = process.platform === "linux";
const cleanup: (() => void)[] = [];
afterEach(() => {
  for (const f of cleanup.splice(0)) f();
});

function listen(host = "127.0.0.1"): Promise<Server & { port: number }> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, host, () => {
      const address = srv.address();
      cleanup.push(() => srv.close());
      resolve(
        Object.assign(srv, { port: typeof address === "object" && address ? address.port : 0 }),
      );
    });
  });
}

/** A node child running `code`, killed after the test; resolves once it prints a line. */
function child(code: string): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  cleanup.push(() => proc.kill("SIGKILL"));
  return new Promise((resolve) =>
    proc.stdout?.once("data", (d: Buffer) => resolve({ proc, line: d.toString().trim() })),
  );
}

const TABLE_HEAD =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const row = (local: string, st: string, inode: string) =>
  `   0: ${local} 00000000:0000 ${st} 00000000:00000000 00:00000000 00000000  1000        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

describe("listeningInodes", () => {
  it("takes the listening sockets on the port that 127.0.0.1 reaches, and nothing else", () => {
    const v4 =
      TABLE_HEAD +
      row("0100007F:1F90", "0A", "101") + // 127.0.0.1:8080, listening
      row("00000000:1F90", "0A", "102") + // 0.0.0.0:8080
      row("0100007F:1F90", "01", "103") + // an established connection from that port
      row("0200007F:1F90", "0A", "104") + // 127.0.0.2: not where the kit connects
      row("0100007F:1F91", "0A", "105"); // another port
    const v6 =
      TABLE_HEAD +
      row("00000000000000000000000000000000:1F90", "0A", "201") + // ::
      row("00000000000000000000000001000000:1F90", "0A", "202"); // ::1
    expect([...listeningInodes(8080, [v4, v6])].sort()).toEqual(["101", "102", "201"]);
    expect(listeningInodes(9999, [v4, v6]).size).toBe(0);
  });
});

describe("processTree", () => {
  it("follows parents through a fake /proc, with spaces and parentheses in names", () => {
    const proc = mkdtempSync(join(tmpdir(), "confab-proc-"));
    cleanup.push(() => rmSync(proc, { recursive: true, force: true }));
    const stat = (pid: number, ppid: number, comm: string) => {
      mkdirSync(join(proc, String(pid)));
      writeFileSync(join(proc, String(pid), "stat"), `${pid} (${comm}) S ${ppid} 1 1 0 -1\n`);
    };
    stat(10, 1, "sh");
    stat(11, 10, "node (server) x"); // a child whose name would fool a split on spaces
    stat(12, 11, "worker");
    stat(13, 1, "other");
    stat(14, 13, "other's child");
    mkdirSync(join(proc, "self"));
    expect([...processTree(10, proc)].sort()).toEqual([10, 11, 12]);
    expect([...processTree(13, proc)].sort()).toEqual([13, 14]);
    expect([...processTree(12, proc)]).toEqual([12]);
  });
});

describe.runIf(linux)("listenerOwner, on this machine's /proc", () => {
  it("is ours for the tree's own listener, foreign for another process's, unknown for none", async () => {
    const srv = await listen();
    expect(listenerOwner(srv.port, process.pid)).toBe("ours");
    // A child of this process: the listener is its parent's, outside the child's tree.
    const { proc } = await child('console.log("up"); setInterval(() => {}, 1000)');
    expect(listenerOwner(srv.port, proc.pid as number)).toBe("foreign");
    srv.close();
    await new Promise((r) => setTimeout(r, 20));
    expect(listenerOwner(srv.port, process.pid)).toBe("unknown");
  });

  it("finds a listener held by a grandchild, as a command that starts its server does", async () => {
    // The grandchild ends when its stdin, a pipe from the child, closes: when the child dies
    // however it dies. (A SIGTERM handler that killed it lost the race with the SIGKILL
    // that child()'s cleanup sends right after, and each test run left one listening.)
    const code = `
      const { spawn } = require("node:child_process");
      spawn(process.execPath, ["-e", 'process.stdin.on("close", () => process.exit(0)); process.stdin.resume(); const s = require("node:net").createServer().listen(0, "127.0.0.1", () => console.log(s.address().port))'], { stdio: ["pipe", "inherit", "inherit"] });`;
    const { proc, line } = await child(code);
    const port = Number(line);
    expect(port).toBeGreaterThan(0);
    expect(listenerOwner(port, proc.pid as number)).toBe("ours");
    expect(listenerOwner(port, process.pid)).toBe("ours"); // the test process is an ancestor
    const { proc: stranger } = await child('console.log("up"); setInterval(() => {}, 1000)');
    expect(listenerOwner(port, stranger.pid as number)).toBe("foreign");
    // Killed as the cleanup kills it, the child leaves no listener behind.
    proc.kill("SIGKILL");
    for (let k = 0; k < 100 && listenerOwner(port, process.pid) !== "unknown"; k++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(listenerOwner(port, process.pid)).toBe("unknown");
  });

  it("is unknown where /proc has no network tables", () => {
    const proc = mkdtempSync(join(tmpdir(), "confab-proc-"));
    cleanup.push(() => rmSync(proc, { recursive: true, force: true }));
    expect(listenerOwner(8080, 1, proc)).toBe("unknown");
  });
});

describe("pickPort", () => {
  it("picks below the ephemeral range the system names, and falls back where there is none", () => {
    const dir = mkdtempSync(join(tmpdir(), "confab-range-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "range");
    writeFileSync(file, "40000\t60999\n");
    expect(pickRange(file)).toEqual({ low: 15_000, high: 39_999 });
    writeFileSync(file, "15500 60999\n");
    expect(pickRange(file)).toBeUndefined();
    expect(pickRange(join(dir, "absent"))).toEqual({ low: 15_000, high: 32_767 });
  });

  it("gives a free port inside the range, and another one when that one is taken", async () => {
    const first = await pickPort();
    const range = pickRange();
    if (range) {
      expect(first).toBeGreaterThanOrEqual(range.low);
      expect(first).toBeLessThanOrEqual(range.high);
    }
    expect(await portIsFree(first)).toBe(true);
    // A one-port range that is taken: the kernel picks instead.
    const srv = await listen();
    const other = await pickPort({ low: srv.port, high: srv.port });
    expect(other).not.toBe(srv.port);
    expect(await portIsFree(other)).toBe(true);
  });
});
