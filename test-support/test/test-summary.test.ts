import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// scripts/test-summary.mjs prints the line `.ci/run` ends with; CI keeps only the tail of a run,
// so the names of failed tests must be printed there too, or a flaky failure cannot be traced.
const script = new URL("../../scripts/test-summary.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "confab-summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The script's stdout lines for `report`, which must exit 0. */
function summarize(report: unknown): string[] {
  const r = run(report);
  expect(r.status, r.err).toBe(0);
  return r.out;
}

const passing = { fullName: "ok", status: "passed", failureMessages: [] };

describe("scripts/test-summary.mjs", () => {
  it("ends with the counts alone when nothing failed", () => {
    const lines = summarize({
      numPassedTests: 2,
      numFailedTests: 0,
      testResults: [
        {
          name: join(process.cwd(), "a/test/x.test.ts"),
          status: "passed",
          assertionResults: [passing, passing],
        },
      ],
    });
    expect(lines).toEqual(["2 passed, 0 failed"]);
  });

  it("names each failed test with the first line of its failure, above the counts", () => {
    const lines = summarize({
      numPassedTests: 1,
      numFailedTests: 1,
      numPendingTests: 1,
      testResults: [
        {
          name: join(process.cwd(), "conformance/test/kit.test.ts"),
          status: "failed",
          assertionResults: [
            passing,
            {
              fullName: "kit > passes the reference server",
              status: "failed",
              failureMessages: ["\nAssertionError: expected 1 to be 0\n    at kit.test.ts:10:5"],
            },
          ],
        },
      ],
    });
    expect(lines).toEqual([
      "failed (1):",
      "  conformance/test/kit.test.ts > kit > passes the reference server: AssertionError: expected 1 to be 0",
      "1 passed, 1 failed, 1 skipped",
    ]);
  });

  it("names a file that failed outside any test, and lists at most ten", () => {
    const failing = Array.from({ length: 11 }, (_, i) => ({
      fullName: `t${i}`,
      status: "failed",
      failureMessages: [`Error ${i}`],
    }));
    const lines = summarize({
      numPassedTests: 0,
      numFailedTests: 11,
      testResults: [
        {
          name: join(process.cwd(), "b/test/load.test.ts"),
          status: "failed",
          message: "Failed to load url ./missing",
          assertionResults: [],
        },
        {
          name: join(process.cwd(), "b/test/many.test.ts"),
          status: "failed",
          assertionResults: failing,
        },
      ],
    });
    expect(lines[0]).toBe("failed (12):");
    expect(lines[1]).toBe("  b/test/load.test.ts: Failed to load url ./missing");
    expect(lines[2]).toBe("  b/test/many.test.ts > t0: Error 0");
    expect(lines).toHaveLength(1 + 10 + 1 + 1);
    expect(lines.at(-2)).toBe("  ... and 2 more");
    expect(lines.at(-1)).toBe("0 passed, 11 failed");
  });
});

function run(report: unknown) {
  const path = join(dir, `r-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, typeof report === "string" ? report : JSON.stringify(report));
  const r = spawnSync(process.execPath, [script, path], { encoding: "utf8" });
  return { status: r.status, out: r.stdout.trimEnd().split("\n"), err: r.stderr };
}
const file = (name: string, extra: object) => ({ name: join(process.cwd(), name), ...extra });

describe("scripts/test-summary.mjs: edge cases and errors", () => {
  it("exactly ten failures: all listed, no '... and 0 more'", () => {
    const tests = Array.from({ length: 10 }, (_, i) => ({
      fullName: `t${i}`,
      status: "failed",
      failureMessages: [`E${i}`],
    }));
    const { out } = run({
      numPassedTests: 0,
      numFailedTests: 10,
      testResults: [file("a.test.ts", { status: "failed", assertionResults: tests })],
    });
    expect(out).toHaveLength(12);
    expect(out.at(-2)).toBe("  a.test.ts > t9: E9");
  });
  it("uses the first failure message, the full name, and lists skipped/todo tests neither as failed nor omitted from the count", () => {
    const { out } = run({
      numPassedTests: 0,
      numFailedTests: 1,
      numPendingTests: 1,
      numTodoTests: 2,
      testResults: [
        file("a.test.ts", {
          status: "failed",
          assertionResults: [
            {
              title: "short",
              fullName: "suite short",
              status: "failed",
              failureMessages: ["first", "second"],
            },
            { fullName: "skipped one", status: "skipped", failureMessages: [] },
            { fullName: "todo one", status: "todo", failureMessages: [] },
          ],
        }),
      ],
    });
    expect(out).toEqual([
      "failed (1):",
      "  a.test.ts > suite short: first",
      "0 passed, 1 failed, 3 skipped",
    ]);
  });
  it("a file that failed to load: the notice goes to stderr, the last stdout line stays the counts", () => {
    const r = run({
      numPassedTests: 0,
      numFailedTests: 0,
      numFailedTestSuites: 1,
      testResults: [
        file("b.test.ts", {
          status: "failed",
          message: "\nSyntaxError: x\n  at y",
          assertionResults: [],
        }),
        { status: "failed" },
      ],
    });
    expect(r.out).toEqual([
      "failed (2):",
      "  b.test.ts: SyntaxError: x",
      "  ?: (no message)",
      "0 passed, 0 failed",
    ]);
    expect(r.err).toMatch(/1 test file\(s\) failed outside any test/);
  });
  it("trims a failure's first line before cutting it at 300 characters", () => {
    const message = `      ${"x".repeat(298)}   \n  at y`;
    const long = `${"y".repeat(301)}`;
    const { out } = run({
      numPassedTests: 0,
      numFailedTests: 2,
      testResults: [
        file("a.test.ts", {
          status: "failed",
          assertionResults: [
            { fullName: "t", status: "failed", failureMessages: [message] },
            { fullName: "u", status: "failed", failureMessages: [long] },
          ],
        }),
      ],
    });
    expect(out[1]).toBe(`  a.test.ts > t: ${"x".repeat(298)}`);
    expect(out[2]).toBe(`  a.test.ts > u: ${"y".repeat(300)}...`);
  });

  it("exits 1, saying why, for a missing, unparsable or malformed report", () => {
    const missing = spawnSync(process.execPath, [script, join(dir, "none.json")], {
      encoding: "utf8",
    });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/no test report at .*none\.json/);
    expect(run("{not json").status).toBe(1);
    expect(run([]).status).toBe(1);
    expect(run({ numPassedTests: 1 }).err).toMatch(/numFailedTests is undefined/);
    expect(run({ numPassedTests: -1, numFailedTests: 0 }).status).toBe(1);
  });
});
