// The READMEs quote the committed bench results (bench/results/latest.json): a figure there
// that the results do not hold is a claim nobody measured. This keeps the two in step when
// either changes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fmt } from "../lib/report.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");
const results = JSON.parse(read("bench/results/latest.json"));
const rows: { workload: string; value: number; ratio: number | null }[] = results.rows;

/** The text between a heading and the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = heading.match(/^#+/)?.[0].length ?? 2;
  const rest = text.slice(start + heading.length + 1);
  const next = rest.search(new RegExp(`^#{1,${level}} `, "m"));
  return next < 0 ? rest : rest.slice(0, next);
}

/** The numbers of a table cell, without thousands separators. */
const numbers = (cell: string) =>
  (cell.match(/(?<![A-Za-z\d.,])\d[\d,]*(?:\.\d+)?/g) ?? []).map((n) => n.replaceAll(",", ""));

/** The run's date as the READMEs write it: `2026-12-03 09:00 UTC`. */
const runDate = `${String(results.run.date).slice(0, 16).replace("T", " ")} UTC`;

describe("the READMEs quote the committed bench results", () => {
  it("README.md's benchmark table: every value and ratio is one of the run's, for that workload", () => {
    const text = section(read("README.md"), "## Benchmarks");
    expect(text).toContain(runDate);
    const table = text.split("\n").filter((l) => /^\| W\d /.test(l));
    expect(table.length).toBeGreaterThanOrEqual(7);
    for (const line of table) {
      const [workload, , value, ratio] = line
        .split("|")
        .slice(1)
        .map((c) => c.trim());
      const own = rows.filter((r) => r.workload === workload);
      const values = new Set(own.map((r) => fmt(r.value).replaceAll(",", "")));
      const ratios = new Set(own.flatMap((r) => (r.ratio === null ? [] : [r.ratio.toFixed(2)])));
      for (const n of numbers(value ?? ""))
        expect(values, `${workload}: ${n} in "${value}"`).toContain(n);
      for (const n of numbers(ratio ?? ""))
        expect(ratios, `${workload}: ${n}× in "${ratio}"`).toContain(n);
    }
  });

  it("bench/README.md's latest table is latest.md's rows of the workloads", () => {
    const text = section(read("bench/README.md"), "### Latest results");
    expect(text).toContain(runDate.replace(" UTC", ""));
    const quoted = text
      .split("\n")
      .filter((l) => /^\| W\d \| /.test(l) && !l.includes(" ≤ ") && !l.includes(" ≥ "));
    const md = read("bench/results/latest.md")
      .split("\n")
      .filter((l) => /^\| W\d \| /.test(l))
      .map(
        (l) =>
          `| ${l
            .split("|")
            .slice(1, 8)
            .map((c) => c.trim())
            .join(" | ")} |`,
      );
    expect(quoted).toEqual(md);
  });
});
