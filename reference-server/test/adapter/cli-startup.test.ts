/**
 * How `confab-server` starts and refuses to: every start-up failure is one line on stderr
 * naming the path (or address) and the cause, with a documented exit status (3 for the
 * database, 4 for the address, 2 for a bad flag); a development server listens on loopback
 * unless a host is given. These are CLI behaviours, not protocol requirements, so the tests
 * are named by sentences (issue 8, items 8, 10 and 14).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { describeCause, EXIT, parseCommandLine, UsageError } from "../../src/cli.js";
import { SqliteStore } from "../../src/store/sqlite-store.js";
import { runCli } from "../support/cli-process.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = join(root, "reference-server/dist/src/cli.js");

/**
 * How to make mode 0444 mean something. Root may write any file, so when the tests run as
 * root the CLI is started as the unprivileged uid/gid 65534 ("nobody"); otherwise the
 * test's own user is unprivileged already. `undefined`: no way here (Windows, or root but
 * uid 65534 cannot run the CLI, say because the checkout is in a private folder).
 */
const unprivileged: { uid?: number; gid?: number } | undefined = (() => {
  if (process.platform === "win32" || process.getuid === undefined) return undefined;
  if (process.getuid() !== 0) return {};
  const probe = spawnSync(process.execPath, [cli, "--version"], {
    uid: 65534,
    gid: 65534,
    timeout: 10_000,
  });
  return probe.status === 0 ? { uid: 65534, gid: 65534 } : undefined;
})();

let tmp: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "confab-start-"));
  chmodSync(tmp, 0o777); // the unprivileged CLI works in here too
});

afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
});

afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/**
 * Runs the CLI until it exits, or kills it after `timeoutMs` (a server that starts when it
 * should have refused), and returns what it printed.
 */
async function runToExit(
  args: string[],
  options: { uid?: number; gid?: number; timeoutMs?: number } = {},
) {
  const { timeoutMs = 10_000, ...ids } = options;
  const child = spawn(process.execPath, [cli, ...args], {
    cwd: tmp,
    env: { PATH: process.env.PATH ?? "" },
    stdio: ["ignore", "pipe", "pipe"],
    ...ids,
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
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  // "close", not "exit": it comes after the last output has been read from the pipes.
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** The checks every start-up failure passes: one line, no stack trace, never "listening". */
function expectOneLine(result: { stdout: string; stderr: string }, ...parts: string[]) {
  const lines = result.stderr.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  const line = lines[0] ?? "";
  expect(line).toMatch(/^confab-server: /);
  for (const part of parts) expect(line).toContain(part);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  expect(result.stdout).not.toContain('"listening"');
}

describe("confab-server refuses to start on a database it cannot use (exit 3)", () => {
  it.skipIf(unprivileged === undefined)(
    "refuses a database file it may not write (mode 0444) instead of answering every write with 4200",
    async () => {
      const dir = join(tmp, "readonly-file");
      mkdirSync(dir);
      chmodSync(dir, 0o777); // SQLite may create its -wal and -shm files: only the file is read-only
      const db = join(dir, "c.db");
      SqliteStore.open(db).close(); // a complete database, so opening it needs no migration
      chmodSync(db, 0o444);
      const result = await runToExit(["--port", "0", "--db", db], unprivileged);
      expect(result.code).toBe(EXIT.DATABASE);
      expectOneLine(result, db, "read-only", "SQLITE_READONLY");
    },
  );

  it.skipIf(unprivileged === undefined)(
    "refuses a database folder it may not create, naming the folder and the cause",
    async () => {
      // What a missing folder on a read-only file system meets too (EROFS rather than EACCES:
      // see the describeCause test below).
      const parent = join(tmp, "locked");
      mkdirSync(parent);
      chmodSync(parent, 0o555);
      const result = await runToExit(
        ["--port", "0", "--db", join(parent, "sub/c.db")],
        unprivileged,
      );
      expect(result.code).toBe(EXIT.DATABASE);
      expectOneLine(result, join(parent, "sub"), "permission denied (EACCES)");
    },
  );

  it.skipIf(process.platform === "win32")(
    "refuses --db /dev/null/c.db with one line instead of a raw EEXIST stack",
    async () => {
      const result = await runToExit(["--port", "0", "--db", "/dev/null/c.db"]);
      expect(result.code).toBe(EXIT.DATABASE);
      expectOneLine(result, "/dev/null", "EEXIST");
    },
  );

  it("refuses a database path below a regular file (ENOTDIR)", async () => {
    const file = join(tmp, "plain-file");
    writeFileSync(file, "x");
    const result = await runToExit(["--port", "0", "--db", join(file, "sub/c.db")]);
    expect(result.code).toBe(EXIT.DATABASE);
    expectOneLine(result, file, "not a folder", "ENOTDIR");
  });

  it("refuses a database path that is a folder", async () => {
    const result = await runToExit(["--port", "0", "--db", tmp]);
    expect(result.code).toBe(EXIT.DATABASE);
    expectOneLine(result, tmp, "is a folder");
  });

  it("refuses a file that is not a SQLite database", async () => {
    const file = join(tmp, "not-a-db.db");
    writeFileSync(file, "this is not SQLite, and it is long enough to hold a header".repeat(10));
    const result = await runToExit(["--port", "0", "--db", file]);
    expect(result.code).toBe(EXIT.DATABASE);
    expectOneLine(result, file, "SQLITE_NOTADB");
  });

  it("describes each cause in plain words with its code", () => {
    const err = (code: string, message = "raw message") =>
      Object.assign(new Error(message), { code });
    expect(describeCause(err("EROFS"))).toBe("the file system is read-only (EROFS)");
    expect(describeCause(err("SQLITE_READONLY_DBMOVED"))).toMatch(
      /^the file is read-only .*\(SQLITE_READONLY_DBMOVED\)$/,
    );
    expect(describeCause(err("EWHATEVER"))).toBe("raw message (EWHATEVER)");
    expect(describeCause(new Error("no code at all"))).toBe("no code at all");
  });
});

describe("confab-server refuses an address it cannot listen on (exit 4)", () => {
  it("refuses a host name that does not resolve, naming it", async () => {
    const result = await runToExit([
      "--port",
      "0",
      "--host",
      "no-such-host.invalid",
      "--db",
      ":memory:",
    ]);
    expect(result.code).toBe(EXIT.LISTEN);
    expectOneLine(result, "no-such-host.invalid:0", "does not resolve");
  });
});

describe("confab-server listens on this machine only by default in development mode", () => {
  it("binds 127.0.0.1 without --host, and says so in the listening line", async () => {
    const p = runCli(cli, ["--port", "0", "--db", ":memory:"], { cwd: tmp });
    children.push(p.child);
    const listening = await p.waitFor("listening");
    expect(listening).toMatchObject({ host: "127.0.0.1", devMode: true });
    expect(String(listening.access)).toContain("this machine only");
    expect(String(listening.url)).toBe(`http://127.0.0.1:${String(listening.port)}`);
    expect(p.lines.map((l) => l.event)).not.toContain("dev_mode_open_to_network");
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(EXIT.OK);
  });

  it("opens to the network only with an explicit --host, and warns in development mode", async () => {
    const p = runCli(cli, ["--port", "0", "--host", "0.0.0.0", "--db", ":memory:"], { cwd: tmp });
    children.push(p.child);
    const listening = await p.waitFor("listening");
    expect(listening).toMatchObject({ host: "0.0.0.0", devMode: true });
    expect(String(listening.access)).toContain("the network");
    const warning = p.lines.find((l) => l.event === "dev_mode_open_to_network");
    expect(warning).toMatchObject({ level: "warn", host: "0.0.0.0" });
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(EXIT.OK);
  });

  it("defaults the host to 127.0.0.1 in development mode and to 0.0.0.0 for listed apps", () => {
    const host = (argv: string[], env: Record<string, string> = {}) => {
      const command = parseCommandLine(argv, env, "/srv");
      if (command.kind !== "run") throw new Error(command.kind);
      return command.options.host;
    };
    expect(host([])).toBe("127.0.0.1");
    expect(host(["--dev", "--app", "a:k"])).toBe("127.0.0.1");
    expect(host(["--app", "a:k"])).toBe("0.0.0.0");
    expect(host([], { HOST: "0.0.0.0" })).toBe("0.0.0.0");
    expect(host(["--host", "::"])).toBe("::");
  });
});

describe("confab-server names the flag, the value and what it takes, in one line (exit 2)", () => {
  it("answers --port -1 with one line about --port, not the parser's riddle", async () => {
    const result = await runToExit(["--port", "-1"]);
    expect(result.code).toBe(EXIT.USAGE);
    expectOneLine(result, "--port", '"-1"', "0 to 65535");
  });

  it.each([
    [
      ["--port", "-1"],
      ["--port", '"-1"', "0 to 65535"],
    ],
    [["--port=-1"], ["--port", '"-1"', "0 to 65535"]],
    [
      ["--port", "99999"],
      ["--port", '"99999"', "0 to 65535"],
    ],
    [
      ["--port", "eighty"],
      ["--port", '"eighty"', "0 to 65535"],
    ],
    [["--port"], ["--port", "needs a value", "0 to 65535"]],
    [
      ["--port", "--host", "x"],
      ["--port", "needs a value"],
    ],
    [
      ["--read-timeout", "-5"],
      ["--read-timeout", '"-5"', "integer from 0"],
    ],
    [
      ["--login-timeout", "1e3"],
      ["--login-timeout", '"1e3"', "integer from 0"],
    ],
    [
      ["--sync", "sometimes"],
      ["--sync", '"sometimes"', "normal or full"],
    ],
    [
      ["--host", ""],
      ["--host", '""'],
    ],
    [
      ["--db", ""],
      ["--db", '""'],
    ],
    [
      ["--app", "bad id:k"],
      ["--app", '"bad id"', "[A-Za-z0-9_.-]"],
    ],
    [
      ["--public-url", "http://x"],
      ["--public-url", '"http://x"', "ws://"],
    ],
    [["--dev=yes"], ["--dev", "takes no value", '"yes"']],
    [["--bogus"], ["unknown flag --bogus"]],
    [["-x"], ["unknown flag -x"]],
    [["stray"], ['"stray"', "flag"]],
  ])("rejects %j with a message naming %j", (argv, parts) => {
    let message = "";
    try {
      parseCommandLine(argv, {}, "/srv");
    } catch (err) {
      expect(err).toBeInstanceOf(UsageError);
      message = (err as Error).message;
    }
    for (const part of parts) expect(message).toContain(part);
    expect(message).not.toContain("\n");
  });

  it("still takes a value that starts with a dash where a flag takes a value", () => {
    const command = parseCommandLine(["--db", "-odd-name.db"], {}, "/srv");
    expect(command.kind === "run" && command.options.db).toBe("/srv/-odd-name.db");
  });
});
