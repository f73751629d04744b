/**
 * The `confab-conformance` command as CI uses it: against the reference server it starts
 * itself (every case passes, the reports are written and the JUnit one validates), against
 * a server started separately by URL, against nothing (exit 2), with bad arguments
 * (exit 2), listing, sharding and merging, and the baseline files.
 *
 * The compiled CLI is run as a child process, as a user runs it; vitest's global setup
 * builds it.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { CASE_NAME } from "../src/case.js";
import { ALL_CASES } from "../src/cases/index.js";
import { pickPort } from "../src/ports.js";
import type { Report } from "../src/report.js";
import { Requirements } from "../src/requirements.js";
import { CLI, type KitRun, kit, root } from "./support.js";

const SERVER = join(root, "reference-server/dist/src/cli.js");

const dir = mkdtempSync(join(tmpdir(), "confab-kit-cli-"));
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Report;

describe("confab-conformance against the reference server it starts", () => {
  let run: KitRun;
  beforeAll(async () => {
    run = await kit([
      "server",
      "--reporter",
      "tty",
      "--reporter",
      `json=${join(dir, "report.json")}`,
      "--reporter",
      `junit=${join(dir, "report.xml")}`,
      "--reporter",
      `html=${join(dir, "report.html")}`,
    ]);
  }, 150_000);

  it("passes every case that applies, and exits 0", () => {
    const report = readJson(join(dir, "report.json"));
    // Not applicable is allowed, with its reason (a MAY the server does not take, a bound
    // larger than the quick profile fills); anything else is a failure of the kit or server.
    const bad = report.cases.filter(
      (c) => c.grade !== "pass" && !(c.grade === "n/a" && (c.reason ?? "") !== ""),
    );
    expect(bad.map((c) => `${c.grade} ${c.name}: ${c.failure?.message ?? c.reason}`)).toEqual([]);
    expect(run.status).toBe(0);
    expect(report.exitCode).toBe(0);
    expect(report.summary.total).toBe(
      ALL_CASES.filter((c) => !c.name.startsWith("durability/")).length,
    );
  });

  it("writes a JUnit report that validates against the JUnit XSD", async () => {
    const xml = readFileSync(join(dir, "report.xml"), "utf8");
    const xsd = readFileSync(join(root, "conformance/test/fixtures/junit.xsd"), "utf8");
    const result = await validateXML({
      xml: [{ fileName: "report.xml", contents: xml }],
      schema: [xsd],
    });
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("writes an HTML report and prints the coverage", () => {
    expect(readFileSync(join(dir, "report.html"), "utf8")).toContain("<svg");
    expect(run.stdout).toMatch(/coverage: \d+\/\d+ server requirements/);
  });

  it("reports the coverage matrix: every server requirement, with its cases", () => {
    const report = readJson(join(dir, "report.json"));
    const server = Requirements.load().server;
    expect(report.coverage.map((r) => r.id)).toEqual(server.map((r) => r.id));
    const untested = report.chapters.flatMap((c) => c.untested);
    expect(report.coverage.filter((r) => r.status === "untested").map((r) => r.id)).toEqual(
      untested,
    );
  });
});

describe("confab-conformance by URL", () => {
  it("tests a server started separately, as npm start runs it (--url alone: development mode serves any app id)", async () => {
    const port = await pickPort();
    const server = spawn(process.execPath, [SERVER, "--port", String(port), "--db", ":memory:"], {
      stdio: "ignore",
    });
    try {
      await new Promise((r) => setTimeout(r, 100));
      for (let k = 0; k < 100; k++) {
        const ok = await fetch(`http://127.0.0.1:${port}/healthz`).then(
          () => true,
          () => false,
        );
        if (ok) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const out = join(dir, "url.json");
      const res = await kit([
        "server",
        "--url",
        `ws://127.0.0.1:${port}/`,
        "--run",
        "direct/**",
        "--reporter",
        `json=${out}`,
      ]);
      const report = readJson(out);
      expect(res.status, res.stderr).toBe(0);
      expect(report.target.kind).toBe("url");
      expect(report.cases.length).toBeGreaterThan(0);
      // Cases that need the shortened limits or the signed app are not applicable here, named so.
      for (const c of report.cases.filter((c) => c.grade === "n/a")) expect(c.reason).toMatch(/\S/);
    } finally {
      server.kill("SIGTERM");
    }
  }, 60_000);

  it("exits 2 with a clear message when nothing listens", async () => {
    const port = await pickPort();
    const res = await kit(["server", "--url", `ws://127.0.0.1:${port}/`, "--app-id", "x"]);
    expect(res.status).toBe(2);
    expect(res.stderr).toMatch(/cannot reach the server at ws:\/\/127\.0\.0\.1/);
  });

  it("exits 2 on bad arguments, naming the argument", async () => {
    for (const args of [
      ["server", "--shard", "3/2"],
      ["server", "--profile", "slow"],
      ["server", "--url", "http://x"],
      ["server", "--nope"],
      ["server", "--url", "ws://127.0.0.1:1/", "--server-command", "x"],
    ]) {
      const res = await kit(args);
      expect(res.status, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(/confab-conformance: /);
    }
  });
});

describe("confab-conformance told to stop", () => {
  it("stops the servers it started and removes their files when it gets SIGTERM, then exits 143", async () => {
    const pids = join(dir, "server-pids");
    writeFileSync(pids, "");
    // Each server records its pid, then becomes the reference server (exec keeps the pid).
    const command = `sh -c 'echo $$ {db} >> "${pids}" && exec "${process.execPath}" "${SERVER}" --port {port} --db {db} --config {config}'`;
    const child = spawn(process.execPath, [CLI, "server", "--server-command", command], {
      cwd: root,
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const lines = () =>
      readFileSync(pids, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(" ") as [string, string]);
    const started = () => lines().map(([pid]) => Number(pid));
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      // The main server and the two with shortened limits and bounds, then a moment of cases.
      for (let k = 0; k < 300 && started().length < 3; k++)
        await new Promise((r) => setTimeout(r, 100));
      expect(started()).toHaveLength(3);
      await new Promise((r) => setTimeout(r, 500));
      child.kill("SIGTERM");
      expect(await exited, stderr).toBe(143);
      expect(stderr).toMatch(/SIGTERM: stopping the servers it started/);
      expect(started().filter(alive)).toEqual([]);
      // And the temporary directory of their databases and configs.
      for (const [, db] of lines()) expect(existsSync(dirname(db)), db).toBe(false);
    } finally {
      child.kill("SIGKILL");
      // Only the processes this test started, by their id.
      for (const pid of started().filter(alive)) process.kill(pid, "SIGKILL");
    }
  }, 60_000);
});

describe("the long profiles, as smoke runs", () => {
  it("--profile durability against the reference server's command (--server-command): kills, restarts, passes", async () => {
    const out = join(dir, "durability.json");
    const res = await kit([
      "server",
      "--profile",
      "durability",
      "--server-command",
      `"${process.execPath}" "${SERVER}" --port {port} --db {db} --config {config}`,
      "--num-runs",
      "2",
      "--reporter",
      `json=${out}`,
    ]);
    const report = readJson(out);
    expect(
      report.cases
        .map((c) => `${c.grade} ${c.name} ${c.failure?.message ?? c.reason ?? ""}`)
        .filter((l) => !l.startsWith("pass")),
    ).toEqual([]);
    expect(report.cases.length).toBe(
      ALL_CASES.filter((c) => c.name.startsWith("durability/")).length,
    );
    expect(report.target.kind).toBe("command");
    expect(res.status).toBe(0);
  }, 150_000);

  it("--profile thorough runs the property case with longer sequences", async () => {
    const out = join(dir, "thorough.json");
    const res = await kit([
      "server",
      "--profile",
      "thorough",
      "--run",
      "property/**",
      "--num-runs",
      "2",
      "--reporter",
      `json=${out}`,
    ]);
    expect(res.status, res.stdout).toBe(0);
    expect(readJson(out).profile).toBe("thorough");
  }, 150_000);

  it("a property failure prints a replay token that reproduces it, and writes its trace", async () => {
    // A broken server that delivers every live message twice (reference-server/broken/):
    // the property run catches it on any sequence with a live delivery, and shrinks it.
    const serve = join(root, "reference-server/broken/serve.mjs");
    const command = `"${process.execPath}" "${serve}" live-delivered-twice --port {port} --db {db} --config {config}`;
    const first = join(dir, "replay-first.json");
    const failed = await kit([
      "server",
      "--server-command",
      command,
      "--run",
      "property/**",
      "--seed",
      "3",
      "--reporter",
      `json=${first}`,
    ]);
    expect(failed.status).toBe(1);
    const c = readJson(first).cases[0];
    expect(c?.failure?.requirement).toBe("DIRECT-ONCE-1");
    const token = /--replay (\S+)/.exec(c?.replay?.command ?? "")?.[1];
    expect(token).toMatch(/^\d+:[0-9:]+/);
    expect(
      JSON.parse(readFileSync(c?.replay?.traceFile as string, "utf8")).violations.length,
    ).toBeGreaterThan(0);
    const again = join(dir, "replay-again.json");
    const replayed = await kit([
      "server",
      "--server-command",
      command,
      "--run",
      "property/**",
      "--replay",
      token as string,
      "--reporter",
      `json=${again}`,
    ]);
    expect(replayed.status).toBe(1);
    expect(readJson(again).cases[0]?.failure?.requirement).toBe("DIRECT-ONCE-1");
    const bad = await kit(["server", "--replay", "nonsense"]);
    expect(bad.status).toBe(2);
  }, 150_000);
});

describe("listing, sharding, merging and baselines", () => {
  it("--list --json names every case with its requirement IDs, all real and unique", async () => {
    const res = await kit(["list", "--json"]);
    expect(res.status).toBe(0);
    const rows = JSON.parse(res.stdout) as { name: string; requirements: string[] }[];
    const requirements = Requirements.load();
    expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    for (const row of rows) {
      expect(row.name).toMatch(CASE_NAME);
      expect(row.requirements.length).toBeGreaterThan(0);
      for (const id of row.requirements)
        expect(requirements.get(id)?.target, `${row.name} names ${id}`).toMatch(/server|both/);
    }
  });

  it("--shard splits the cases deterministically and merge joins the shards", async () => {
    const a = join(dir, "shard1.json");
    const b = join(dir, "shard2.json");
    const [r1, r2] = await Promise.all([
      kit([
        "server",
        "--run",
        "direct/**",
        "--shard",
        "1/2",
        "--seed",
        "7",
        "--reporter",
        `json=${a}`,
      ]),
      kit([
        "server",
        "--run",
        "direct/**",
        "--shard",
        "2/2",
        "--seed",
        "7",
        "--reporter",
        `json=${b}`,
      ]),
    ]);
    expect([r1.status, r2.status]).toEqual([0, 0]);
    const [s1, s2] = [readJson(a), readJson(b)];
    const names1 = s1.cases.map((c) => c.name);
    const names2 = s2.cases.map((c) => c.name);
    expect(names1.filter((n) => names2.includes(n))).toEqual([]);
    const listed = JSON.parse((await kit(["list", "--json", "--run", "direct/**"])).stdout) as {
      name: string;
    }[];
    expect([...names1, ...names2].sort()).toEqual(listed.map((r) => r.name).sort());
    const merged = join(dir, "merged.json");
    const m = await kit([
      "merge",
      "--reporter",
      `json=${merged}`,
      "--reporter",
      `junit=${join(dir, "merged.xml")}`,
      a,
      b,
    ]);
    expect(m.status).toBe(0);
    const report = readJson(merged);
    expect(report.merged).toBe(2);
    expect(report.cases.length).toBe(listed.length);
  }, 120_000);

  it("an expected failure that passes is stale and fails the run; --write-baseline writes the failing cases", async () => {
    const expected = join(dir, "expected.txt");
    writeFileSync(expected, "# known failures\ndirect/send/not-to-others\n");
    const res = await kit([
      "server",
      "--run",
      "direct/send/not-to-others",
      "--expected-failures",
      expected,
      "--write-baseline",
      join(dir, "baseline.txt"),
    ]);
    expect(res.status).toBe(1);
    expect(res.stdout).toMatch(/stale/i);
    expect(readFileSync(join(dir, "baseline.txt"), "utf8")).toBe("");
  }, 60_000);
});
