/**
 * The kit's self-test: a conformance kit is judged by the bugs it finds. Each server of
 * `reference-server/broken/manifest.json` is the reference server with one requirement
 * broken; the kit, started on it by `--server-command` as a user starts an implementation,
 * must exit 1 and name that requirement in a failure. (Against the unmodified reference
 * server the whole kit passes: `cli.test.ts`.)
 *
 * Each broken server is run against the cases that name its requirement, as a CI job runs
 * the family it touches; `CONFAB_SELFTEST_FULL=1` runs the whole kit against each instead
 * (`npm run conformance:selftest`), which proves the other cases do not mistake the break
 * for something else, at several minutes' cost.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ALL_CASES } from "../src/cases/index.js";
import type { Report } from "../src/report.js";
import { Requirements } from "../src/requirements.js";
import { kit, root } from "./support.js";

const SERVE = join(root, "reference-server/broken/serve.mjs");

/** One broken server. */
interface Broken {
  readonly name: string;
  readonly requirement: string;
  readonly stateful: boolean;
  readonly description: string;
}

const manifest = JSON.parse(
  readFileSync(join(root, "reference-server/broken/manifest.json"), "utf8"),
) as Broken[];
const requirements = Requirements.load();
const full = process.env.CONFAB_SELFTEST_FULL === "1";
const dir = mkdtempSync(join(tmpdir(), "confab-selftest-"));

describe("the broken servers", () => {
  it("break MUSTs the kit has cases for, across every chapter, at least 10 of them stateful", () => {
    expect(manifest.length).toBeGreaterThanOrEqual(25);
    expect(manifest.filter((b) => b.stateful).length).toBeGreaterThanOrEqual(10);
    const chapters = new Set(manifest.map((b) => requirements.get(b.requirement)?.chapter));
    expect([...chapters].filter(Boolean).length).toBeGreaterThanOrEqual(9);
    for (const b of manifest) {
      // A SHOULD broken only warns (exit 0): every broken server must break a MUST.
      expect(requirements.get(b.requirement)?.level, b.name).toBe("MUST");
      expect(
        ALL_CASES.some((c) => c.requirements.includes(b.requirement)),
        `no case names ${b.requirement}`,
      ).toBe(true);
    }
  });
});

describe.concurrent("the kit against each broken server", () => {
  for (const b of manifest) {
    it(`${b.name}: exits 1 naming ${b.requirement}`, async () => {
      const cases = ALL_CASES.filter((c) => c.requirements.includes(b.requirement));
      // The durability cases run in their own profile: one kit run per profile needed.
      const profiles = (["quick", "durability"] as const).filter((p) =>
        full
          ? p === "quick" || cases.some((c) => c.name.startsWith("durability/"))
          : cases.some((c) => (p === "durability") === c.name.startsWith("durability/")),
      );
      const failures: (string | undefined)[] = [];
      const statuses: (number | null)[] = [];
      const outputs: string[] = [];
      for (const profile of profiles) {
        const out = join(dir, `${b.name}-${profile}.json`);
        const selected = cases.filter(
          (c) => (profile === "durability") === c.name.startsWith("durability/"),
        );
        const args = [
          "server",
          "--server-command",
          `"${process.execPath}" "${SERVE}" ${b.name} --port {port} --db {db} --config {config}`,
          "--reporter",
          `json=${out}`,
          "--seed",
          "1",
          "--profile",
          profile,
          ...(full ? [] : selected.flatMap((c) => ["--run", c.name])),
        ];
        const res = await kit(args, full ? 400_000 : 150_000);
        expect(res.stderr, res.stderr).not.toMatch(/internal error/);
        // A kit that could not run (its server did not start: status 2) writes no report;
        // say what it said rather than only that the file is missing.
        expect(
          existsSync(out),
          `no report; status ${res.status}\n${res.stderr}\n${res.stdout.slice(-3000)}`,
        ).toBe(true);
        const report = JSON.parse(readFileSync(out, "utf8")) as Report;
        failures.push(
          ...report.cases.filter((c) => c.grade === "fail").map((c) => c.failure?.requirement),
        );
        statuses.push(res.status);
        outputs.push(res.stdout.slice(-3000));
      }
      expect(failures, `${b.description}\n${outputs.join("\n")}`).toContain(b.requirement);
      expect(statuses).toContain(1);
    }, 420_000);
  }
});
