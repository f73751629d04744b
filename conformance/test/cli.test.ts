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
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { validateXML } from "xmllint-wasm";
import { CASE_NAME } from "../src/case.js";
import { ALL_CASES } from "../src/cases/index.js";
import type { Report } from "../src/report.js";
import { Requirements } from "../src/requirements.js";
import { freePort } from "../src/target.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const CLI = join(root, "conformance/dist/src/cli.js");
const SERVER = join(root, "reference-server/dist/src/cli.js");

/** Runs the CLI; resolves with its exit status and output. */
function kit(
  args: string[],
  timeoutMs = 120_000,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), "confab-kit-cli-"));
const readJson = (file: string) => JSON.parse(readFileSync(file, "utf8")) as Report;

describe("confab-conformance against the reference server it starts", () => {
  let run: Awaited<ReturnType<typeof kit>>;
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

  it("passes every case and exits 0", () => {
    const report = readJson(join(dir, "report.json"));
    const notPassing = report.cases.filter((c) => c.grade !== "pass");
    expect(
      notPassing.map((c) => `${c.grade} ${c.name}: ${c.failure?.message ?? c.reason}`),
    ).toEqual([]);
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
  it("tests a server started separately (--url, --app-id)", async () => {
    const port = await freePort();
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
        "--app-id",
        "any-app",
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
    const port = await freePort();
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
      ["server", "--url", "ws://x/"],
    ]) {
      const res = await kit(args);
      expect(res.status, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(/confab-conformance: /);
    }
  });
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
