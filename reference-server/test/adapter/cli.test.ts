import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, disconnect } from "@confab/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { parseCommandLine, UsageError } from "../../src/cli.js";
import { runCli } from "../support/cli-process.js";
import { httpRequest } from "./helpers.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = join(root, "reference-server/dist/src/cli.js");

let tmp: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  // The CLI runs as the compiled JS that `confab-server` is; vitest's global setup
  // (test-support/global-setup.ts) has built it with `tsc -b` before any test file runs.
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npx tsc -b reference-server`);
  tmp = mkdtempSync(join(tmpdir(), "confab-cli-"));
});

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A running CLI process in the test's temp dir; killed after each test. */
function run(args: string[], env: Record<string, string> = {}) {
  const p = runCli(cli, args, { cwd: tmp, env });
  children.push(p.child);
  return p;
}

/** Captures the whole stdout of a short-lived run. */
async function runToEnd(args: string[]) {
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: tmp,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe("confab-server", () => {
  it("prints a usage text listing every flag and exits 0 with --help", async () => {
    const { code, stdout } = await runToEnd(["--help"]);
    expect(code).toBe(0);
    for (const flag of [
      "--port",
      "--host",
      "--db",
      "--app",
      "--config",
      "--dev",
      "--no-dev",
      "--public-url",
      "--read-timeout",
      "--login-timeout",
      "--commit-interval",
      "--sync",
      "--help",
      "--version",
    ]) {
      expect(stdout).toContain(flag);
    }
  });

  it("prints its version with --version", async () => {
    const { code, stdout } = await runToEnd(["--version"]);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("exits 2 with a usage error on an unknown flag", async () => {
    const { code, stderr, stdout } = await runToEnd(["--bogus"]);
    expect(code).toBe(2);
    expect(stderr).toContain("--bogus");
    expect(stdout).toBe("");
  });

  it("exits 2 on an invalid flag value", async () => {
    for (const args of [
      ["--port", "eighty"],
      ["--sync", "sometimes"],
      ["--app", "bad id:k"],
    ]) {
      const { code } = await runToEnd(args);
      expect(code).toBe(2);
    }
  });

  it("logs the actual port when started with --port 0, serves, and exits 0 on SIGTERM", async () => {
    const p = run(["--port", "0", "--host", "127.0.0.1", "--db", ":memory:"]);
    const listening = await p.waitFor("listening");
    expect(listening.level).toBe("info");
    expect(typeof listening.ts).toBe("string");
    expect(listening.port).toBeGreaterThan(0);
    expect(listening.url).toBe(`http://127.0.0.1:${String(listening.port)}`);
    expect(listening.devMode).toBe(true);

    const res = await httpRequest(`${String(listening.url)}/healthz`);
    expect(res.status).toBe(200);
    const client = await connect(String(listening.wsUrl), "confab.v1");
    client.ws.send("{}");
    expect(await client.next()).toEqual({});

    p.child.kill("SIGTERM");
    expect((await client.closed).code).toBe(1001);
    expect(await p.exited).toBe(0);
    expect(p.lines.map((l) => l.event)).toContain("shutdown");
    await disconnect(client);
  });

  it("exits 0 on SIGINT too", async () => {
    const p = run(["--port", "0", "--host", "127.0.0.1", "--db", ":memory:"]);
    await p.waitFor("listening");
    p.child.kill("SIGINT");
    expect(await p.exited).toBe(0);
    expect(await p.waitFor("shutdown")).toMatchObject({ signal: "SIGINT" });
  });

  it("creates the database folder, applies --sync and serves only the listed apps", async () => {
    const p = run(
      ["--port", "0", "--host", "127.0.0.1", "--db", "data/x/confab.db", "--sync", "full"],
      { CONFAB_APPS: "app1:secret" },
    );
    const listening = await p.waitFor("listening");
    expect(listening).toMatchObject({
      devMode: false,
      apps: ["app1"],
      // The server checkpoints the log on a worker thread (issue 11).
      storage: { journalMode: "wal", synchronous: "full", checkpoints: "background" },
    });
    expect(existsSync(join(tmp, "data/x/confab.db"))).toBe(true);
    const url = String(listening.url);
    expect((await httpRequest(`${url}/v1/route?appId=app1`)).status).toBe(200);
    expect((await httpRequest(`${url}/v1/route?appId=other`)).status).toBe(404);
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    // Closed cleanly, the worker's connection first: the last one removed the log.
    expect(existsSync(join(tmp, "data/x/confab.db-wal"))).toBe(false);
  });

  it("reads apps, dev mode and the public URL from a --config file", async () => {
    const file = join(tmp, "confab.json");
    writeFileSync(
      file,
      JSON.stringify({
        apps: [{ appId: "fromfile", masterKey: "k", enforceSignatures: true }],
        devMode: true,
        publicUrl: "wss://chat.example.com/",
      }),
    );
    const p = run(["--config", file, "--port", "0", "--host", "127.0.0.1", "--db", ":memory:"]);
    const listening = await p.waitFor("listening");
    expect(listening).toMatchObject({
      devMode: true,
      apps: ["fromfile"],
      wsUrl: "wss://chat.example.com/",
    });
    const res = await httpRequest(`${String(listening.url)}/v1/route?appId=whatever`);
    expect(JSON.parse(res.body)).toMatchObject({ server: "wss://chat.example.com/" });
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });

  it("[LIMIT-TEST-1] shortens the offline store from the limits of a --config file, and announces them", async () => {
    const file = join(tmp, "under-test.json");
    writeFileSync(
      file,
      JSON.stringify({
        limits: { offlineTtlMs: 2000, maxOfflinePerPeer: 3 },
        loginTimeoutMs: 10_000,
      }),
    );
    const p = run(["--config", file, "--port", "0", "--host", "127.0.0.1", "--db", ":memory:"]);
    const listening = await p.waitFor("listening");
    const client = await connect(String(listening.wsUrl));
    try {
      client.send({
        cmd: "session",
        op: "open",
        appId: "t",
        peerId: "kit",
        sessionPeerIds: [],
        i: 1,
      });
      const opened = (await client.next()) as { serverInfo?: { limits?: Record<string, number> } };
      expect(opened.serverInfo?.limits).toMatchObject({
        offlineAgeMs: 2000,
        offlineCount: 3,
        loginTimeoutMs: 10_000,
      });
    } finally {
      await disconnect(client);
    }
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });

  it("exits 4 with one line naming the address, and logs, when the port is taken", async () => {
    const first = run(["--port", "0", "--host", "127.0.0.1", "--db", ":memory:"]);
    const listening = await first.waitFor("listening");
    const second = run([
      "--port",
      String(listening.port),
      "--host",
      "127.0.0.1",
      "--db",
      ":memory:",
    ]);
    expect(await second.exited).toBe(4);
    expect(second.lines.map((l) => l.event)).toContain("start_failed");
    // The exit can come before the last of stderr has been read.
    await vi.waitFor(() => expect(second.stderr()).toContain("\n"), { timeout: 5000 });
    expect(second.stderr().trim()).toBe(
      `confab-server: cannot listen on 127.0.0.1:${String(listening.port)}: the port is already in use (EADDRINUSE)`,
    );
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
  });
});

describe("parseCommandLine", () => {
  const parse = (argv: string[], env: Record<string, string> = {}) => {
    const command = parseCommandLine(argv, env, "/srv");
    if (command.kind !== "run") throw new Error(command.kind);
    return command.options;
  };

  it("uses the defaults with no flag: port 8080, loopback only, the default db, dev mode", () => {
    expect(parse([])).toMatchObject({
      port: 8080,
      host: "127.0.0.1",
      db: "/srv/.confab-data/confab.db",
      apps: [],
      devMode: true,
    });
  });

  it("prefers flags over the environment, and the environment over the config file", () => {
    const file = join(tmp, "precedence.json");
    writeFileSync(file, JSON.stringify({ port: 1, host: "file-host", db: "file.db" }));
    expect(parse(["--config", file])).toMatchObject({
      port: 1,
      host: "file-host",
      db: "/srv/file.db",
    });
    const env = { PORT: "2", HOST: "env-host", CONFAB_DB: ":memory:" };
    expect(parse(["--config", file], env)).toMatchObject({
      port: 2,
      host: "env-host",
      db: ":memory:",
    });
    expect(parse(["--config", file, "--port", "3", "--host", "flag-host"], env)).toMatchObject({
      port: 3,
      host: "flag-host",
    });
  });

  it("reads apps from --app and CONFAB_APPS, turning dev mode off by default", () => {
    const options = parse(["--app", "a1:key1", "--app", "a3"], { CONFAB_APPS: "a2:key2, a1:old" });
    expect(options.devMode).toBe(false);
    const apps = [...(options.apps ?? [])].sort((a, b) => a.appId.localeCompare(b.appId));
    expect(apps).toEqual([
      { appId: "a1", masterKey: "key1", enforceSignatures: true },
      { appId: "a2", masterKey: "key2", enforceSignatures: true },
      { appId: "a3", enforceSignatures: false },
    ]);
    expect(parse(["--app", "a1:k", "--dev"]).devMode).toBe(true);
  });

  it("refuses --no-dev without any app, and both --dev and --no-dev", () => {
    expect(() => parseCommandLine(["--no-dev"], {})).toThrow(UsageError);
    expect(() => parseCommandLine(["--dev", "--no-dev", "--app", "a:k"], {})).toThrow(UsageError);
  });

  it("parses timeouts, sync mode and the public URL", () => {
    expect(
      parse([
        "--read-timeout",
        "250000",
        "--login-timeout",
        "30000",
        "--sync",
        "full",
        "--public-url",
        "wss://x.example/",
      ]),
    ).toMatchObject({
      readTimeoutMs: 250000,
      loginTimeoutMs: 30000,
      sync: "full",
      publicUrl: "wss://x.example/",
    });
    expect(() => parseCommandLine(["--public-url", "http://x"], {})).toThrow(UsageError);
  });

  it("parses the commit interval from a flag or the config file, and bounds it", () => {
    expect(parse([])).toMatchObject({ commitIntervalMs: undefined });
    expect(parse(["--commit-interval", "0"])).toMatchObject({ commitIntervalMs: 0 });
    expect(parse(["--commit-interval", "5"])).toMatchObject({ commitIntervalMs: 5 });
    expect(() => parse(["--commit-interval", "1001"])).toThrow(/--commit-interval/);
    expect(() => parse(["--commit-interval", "-1"])).toThrow(UsageError);
    const file = join(tmp, "commit.json");
    writeFileSync(file, JSON.stringify({ commitIntervalMs: 7 }));
    expect(parse(["--config", file])).toMatchObject({ commitIntervalMs: 7 });
    // The flag wins over the file.
    expect(parse(["--config", file, "--commit-interval", "2"])).toMatchObject({
      commitIntervalMs: 2,
    });
    writeFileSync(file, JSON.stringify({ commitIntervalMs: 5000 }));
    expect(() => parse(["--config", file])).toThrow(/at most 1000/);
    writeFileSync(file, JSON.stringify({ commitIntervalMs: "1" }));
    expect(() => parse(["--config", file])).toThrow(/non-negative integer/);
  });

  it("rejects a config file whose limits name no limit or are not integers", () => {
    const file = join(tmp, "limits.json");
    writeFileSync(file, JSON.stringify({ limits: { offlineTTL: 5 } }));
    expect(() => parseCommandLine(["--config", file], {})).toThrow(
      /limits\.offlineTTL is no limit/,
    );
    writeFileSync(file, JSON.stringify({ limits: { offlineTtlMs: -1 } }));
    expect(() => parseCommandLine(["--config", file], {})).toThrow(/non-negative integer/);
    writeFileSync(file, JSON.stringify({ limits: { offlineTtlMs: 1500 } }));
    expect(parseCommandLine(["--config", file], {})).toMatchObject({
      options: { limits: { offlineTtlMs: 1500 } },
    });
  });

  it("rejects a config file with an unknown setting", () => {
    const file = join(tmp, "bad.json");
    writeFileSync(file, JSON.stringify({ prot: 80 }));
    expect(() => parseCommandLine(["--config", file], {})).toThrow(/unknown setting "prot"/);
  });

  it("[SESSION-APP-2] reads a disabled app from a config file and rejects a non-boolean flag", () => {
    const file = join(tmp, "disabled.json");
    writeFileSync(
      file,
      JSON.stringify({ apps: [{ appId: "old", masterKey: "k", disabled: true }] }),
    );
    const command = parseCommandLine(["--config", file], {});
    expect(command.kind).toBe("run");
    if (command.kind !== "run") return;
    expect(command.options.apps).toEqual([
      { appId: "old", masterKey: "k", enforceSignatures: true, disabled: true },
    ]);
    writeFileSync(file, JSON.stringify({ apps: [{ appId: "old", disabled: "yes" }] }));
    expect(() => parseCommandLine(["--config", file], {})).toThrow(/disabled must be a boolean/);
  });
});
