import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// scripts/test-summary.mjs prints the line `.ci/run` ends with; CI keeps only the tail of a run,
// so the names of failed tests must be printed there too, or a flaky failure cannot be traced.
const script = new URL("../../scripts/test-summary.mjs", import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), "confab-summary-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function summarize(report: unknown): string[] {
  const path = join(dir, `report-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(report));
  return execFileSync(process.execPath, [script, path], { encoding: "utf8" }).trimEnd().split("\n");
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
