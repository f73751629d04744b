/**
 * Smoke test of the benchmarks (bench/run.mjs, `npm run bench`): `--smoke` runs every
 * workload and baseline for about a second at tiny sizes against real server processes.
 * Only the shape of the output is checked: every workload and baseline is there, every
 * number is finite and positive, each ratio is the row's value over its baseline's row, and
 * the Markdown and SVG files exist, the SVGs well-formed XML. No figure is asserted:
 * performance is measured by `npm run bench`, never by `npm test`.
 */
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Whether Linux perf is here, for profile.mjs --perf (.ci/run installs it). */
const HAS_PERF = spawnSync("perf", ["--version"]).status === 0;
const dir = mkdtempSync(join(tmpdir(), "confab-bench-smoke-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Row {
  workload: string;
  metric: string;
  value: number;
  unit: string;
  baseline: string | null;
  baselineMetric?: string;
  ratio: number | null;
}

/** The baseline each workload's ratios are against (bench/README.md). */
const BASELINE_OF: Record<string, string[]> = {
  W1: ["B0"],
  W2: ["B1", "B0"],
  W3: ["B1"],
  W5: ["BF"],
};

/**
 * Whether `text` is well-formed XML as far as an SVG written by hand needs: one root
 * element, every tag closed in order, attributes quoted, no stray `<` or `&`.
 */
function wellFormed(text: string): boolean {
  const body = text.replace(/^<\?xml[^>]*\?>\s*/, "").trim();
  const stack: string[] = [];
  let roots = 0;
  const token =
    /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  for (m = token.exec(body); m !== null; m = token.exec(body)) {
    at = token.lastIndex;
    const [, close, name, , selfClose, text] = m;
    if (text !== undefined) {
      if (stack.length === 0 && text.trim() !== "") return false;
      if (/&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/.test(text)) return false;
      continue;
    }
    if (close) {
      if (stack.pop() !== name) return false;
    } else {
      if (stack.length === 0) roots++;
      if (!selfClose) stack.push(name as string);
    }
  }
  return at === body.length && stack.length === 0 && roots === 1;
}

describe("benchmarks (bench/run.mjs --smoke)", () => {
  it("checks the XML check itself", () => {
    expect(wellFormed('<svg a="1"><g><text x="2">a &amp; b</text></g><line/></svg>')).toBe(true);
    expect(wellFormed("<svg><g></svg>")).toBe(false);
    expect(wellFormed("<svg>a & b</svg>")).toBe(false);
    expect(wellFormed("<svg></svg><svg></svg>")).toBe(false);
  });

  it("runs every workload and baseline and writes the JSON, the table and the plots", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["bench/run.mjs", "--smoke", "--out", dir],
      { cwd: ROOT, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toContain("| Workload | Metric |");
    const results = JSON.parse(readFileSync(join(dir, "latest.json"), "utf8"));
    expect(results.machine).toMatchObject({
      cpus: expect.any(Number),
      node: process.version,
      taskset: expect.any(Boolean),
    });
    expect(results.run).toMatchObject({
      profile: "smoke",
      pinning: { available: expect.any(Boolean) },
    });

    const rows: Row[] = results.rows;
    const workloads = new Set(rows.map((r) => r.workload));
    for (const w of ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "B0", "B1", "BF"]) {
      expect(workloads, `${w} has rows`).toContain(w);
    }
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(
        expect.arrayContaining(["workload", "metric", "value", "unit", "baseline", "ratio"]),
      );
      expect(typeof r.metric).toBe("string");
      expect(typeof r.unit).toBe("string");
      expect(Number.isFinite(r.value), `${r.workload} ${r.metric}: ${r.value}`).toBe(true);
      expect(r.value, `${r.workload} ${r.metric}`).toBeGreaterThan(0);
      if (r.baseline === null) {
        expect(r.ratio).toBeNull();
        continue;
      }
      expect(BASELINE_OF[r.workload], `${r.workload} against ${r.baseline}`).toContain(r.baseline);
      const base = rows.filter(
        (b) => b.workload === r.baseline && b.metric === (r.baselineMetric ?? r.metric),
      );
      expect(base, `${r.workload} ${r.metric}: its ${r.baseline} row`).toHaveLength(1);
      expect(r.ratio).toBeCloseTo(r.value / (base[0] as Row).value, 9);
      expect(r.ratio).toBeGreaterThan(0);
    }
    // W5's interleaved pairs, one per repeat (one in the smoke profile), each W5 over BF.
    expect(results.details.W5.pairRatios).toHaveLength(1);
    expect(results.details.W5.pairRatios[0]).toBeCloseTo(
      results.details.W5.deliveriesPerCpuS / results.details.BF.deliveriesPerCpuS,
      9,
    );
    // W2 and B1 at the knee in interleaved pairs (two in the smoke profile), the first
    // being the ladder's knee step and B1's run at the knee.
    const kp = results.details.W2KneePairs;
    expect(kp.ratios).toHaveLength(2);
    for (let k = 0; k < 2; k++) {
      expect(kp.reference[k].rate).toBe(results.run.knee);
      expect(kp.ratios[k]).toBeCloseTo(kp.reference[k].msgsPerCpuS / kp.B1[k].msgsPerCpuS, 9);
    }
    expect(kp.B1[0].msgsPerCpuS).toBe(results.details.baselines.B1.atKnee.msgsPerCpuS);
    // B1 at the knee's target rate (the smoke profile's stand-in, 1200 msg/s).
    expect(results.details.B1AtKneeTarget).toMatchObject({
      rate: 1200,
      sustained: expect.any(Boolean),
    });
    // The cold start: the worst delivery of the knee step's warm-up, W2's and B1's, each a
    // real latency (a hole in the timeline once made it NaN), W2's against B1's.
    const cold = rows.filter((r) => r.metric.startsWith("worst send→deliver in the warm-up"));
    expect(cold.map((r) => r.workload).sort()).toEqual(["B0", "B1", "W2"]);
    for (const r of cold) {
      expect(Number.isFinite(r.value) && r.value > 0, `${r.workload} ${r.value}`).toBe(true);
    }
    const coldW2 = cold.find((r) => r.workload === "W2");
    const kneeStep = results.details.W2.find((s: { rate: number }) => s.rate === results.run.knee);
    expect(coldW2?.value).toBe(kneeStep.warmupWorstMs);
    expect(coldW2?.baseline).toBe("B1");
    // Every workload with a baseline has its ratios.
    for (const [w, bases] of Object.entries(BASELINE_OF)) {
      for (const b of bases) {
        expect(
          rows.some((r) => r.workload === w && r.baseline === b),
          `${w} against ${b}`,
        ).toBe(true);
      }
    }
    // Baselines are never ratios of something else.
    for (const r of rows.filter((x) => x.workload.startsWith("B"))) expect(r.baseline).toBeNull();

    // A verdict on each of the issue's targets, every workload having run.
    const targets: { id: string; verdict: string; value: string }[] = results.targets;
    expect(targets.map((t) => t.id)).toEqual([
      "W1",
      "W2/B1",
      "W2/B0",
      "W2/knee",
      "W3/p99",
      "W3/p99.9",
      "W5",
    ]);
    for (const t of targets) {
      expect(["met", "not met", "inconclusive"], `${t.id}: ${t.verdict}`).toContain(t.verdict);
      expect(t.value, t.id).toMatch(/\d/);
    }

    const md = readFileSync(join(dir, "latest.md"), "utf8");
    expect(md).toContain("| Workload | Metric | Value | Unit | Baseline |");
    expect(md).toContain("## Against the issue's targets");
    for (const svg of ["w3-latency.svg", "w2-throughput.svg", "w2-efficiency.svg"]) {
      const path = join(dir, svg);
      expect(existsSync(path), svg).toBe(true);
      const text = readFileSync(path, "utf8");
      expect(text).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(wellFormed(text), `${svg} is well-formed`).toBe(true);
    }
  }, 120_000);

  it("profiles a baseline under the same load (profile.mjs --target BF)", async () => {
    const out = join(dir, "profiles");
    await promisify(execFile)(
      process.execPath,
      ["bench/profile.mjs", "W5", "--target", "BF", "--rate", "2", "--seconds", "1", "--out", out],
      { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const report = JSON.parse(readFileSync(join(out, "W5-BF-latest.json"), "utf8"));
    expect(report).toMatchObject({ workload: "W5", target: "BF", rate: 2 });
    expect(report.busyS).toBeGreaterThan(0);
    const areas = report.areasInclusive.map((a: { area: string }) => a.area);
    // The relay's own code was sampled, and none of the reference server's.
    expect(areas).toContain("baseline relay (bench/baselines)");
    expect(areas.some((a: string) => a.includes("core (engine"))).toBe(false);
    expect(existsSync(join(out, "W5-BF-latest.txt"))).toBe(true);
  }, 90_000);

  it("traces the server's collections under a load (profile.mjs --gc)", async () => {
    const out = join(dir, "gc");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["bench/profile.mjs", "W5", "--gc", "--rate", "2", "--seconds", "1", "--out", out],
      { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
    );
    expect(stdout).toContain("collections over the job");
    const report = JSON.parse(readFileSync(join(out, "W5-gc-latest.json"), "utf8"));
    expect(report).toMatchObject({ workload: "W5", target: "reference", rate: 2 });
    // Opening 500 sessions collects at least once: a server run without the flag has none.
    expect(report.wholeLife).toBeGreaterThan(0);
    expect(report.loadS).toBeGreaterThan(1);
    for (const s of Object.values(report.during) as { count: number; maxPauseMs: number }[]) {
      expect(s.count).toBeGreaterThan(0);
      expect(Number.isFinite(s.maxPauseMs)).toBe(true);
    }
    expect(existsSync(join(out, "W5-gc-latest.txt"))).toBe(true);
  }, 90_000);

  // Skipped only where Linux perf is not installed (the Debian package linux-perf); .ci/run
  // installs it, so CI always runs this.
  it.skipIf(!HAS_PERF)(
    "samples the server with Linux perf over the measured window (profile.mjs --perf)",
    async () => {
      const out = join(dir, "perf");
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["bench/profile.mjs", "W5", "--perf", "--rate", "2", "--seconds", "2", "--out", out],
        { cwd: ROOT, timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
      );
      expect(stdout).toContain("µs of server CPU per delivery");
      const report = JSON.parse(readFileSync(join(out, "W5-perf-latest.json"), "utf8"));
      expect(report).toMatchObject({ workload: "W5", target: "reference", rate: 2 });
      expect(report.samples).toBeGreaterThan(0);
      expect(report.usPerUnit).toBeGreaterThan(0);
      // perf, unlike --cpu-prof, sees the kernel and names V8's JIT code: without
      // --perf-basic-prof there would be no JavaScript kind and no server area.
      const kinds = report.byKind.map((r: { name: string }) => r.name);
      expect(kinds).toContain("kernel");
      expect(kinds.some((k: string) => k.startsWith("JavaScript"))).toBe(true);
      const areas = report.byArea.map((r: { name: string }) => r.name);
      expect(areas.some((a: string) => a.includes("core (engine"))).toBe(true);
      // Only the window was sampled: about the server's CPU time over it (from /proc), not
      // the set-up of 500 sessions and the group before it.
      expect(report.sampledS).toBeLessThan(report.windowCpuS * 1.5 + 0.02);
      expect(report.sampledS).toBeGreaterThan(report.windowCpuS * 0.5);
      expect(existsSync(join(out, "W5-perf-latest.txt"))).toBe(true);
    },
    120_000,
  );
});
