/**
 * The runner's grading and baselines on cases made for the purpose, against a target that
 * is not a server (these cases never connect): every grade, the hard timeout, flaky
 * retries, expected failures and stale ones, the exit codes, features and needs, shards.
 */
import { describe, expect, it } from "vitest";
import { defineCase, type ServerCase } from "../src/case.js";
import { HarnessError, NotApplicable, ServerFault } from "../src/errors.js";
import { Requirements } from "../src/requirements.js";
import { runServerConformance, selectCases } from "../src/runner.js";
import type { Target } from "../src/target.js";

const requirements = Requirements.load();

function fakeTarget(features: Record<string, boolean> = {}): Target {
  return {
    kind: "url",
    wsUrl: "ws://127.0.0.1:9/",
    httpUrl: "http://127.0.0.1:9",
    serverInfo: undefined,
    apps: { open: "app" },
    features: { groups: true, ...features },
    featureSource: "test",
    async close() {},
  };
}

const run = (cases: ServerCase[], extra: Parameters<typeof runServerConformance>[0] = {}) =>
  runServerConformance({ target: fakeTarget(), cases, requirements, seed: 1, ...extra });

const pass = (name: string) =>
  defineCase({ name, requirements: ["DIRECT-DELIVER-1"], async run() {} });
const failing = (name: string) =>
  defineCase({
    name,
    requirements: ["DIRECT-DELIVER-1"],
    async run() {
      throw new ServerFault("DIRECT-DELIVER-1", "not delivered", { expected: "a", actual: "b" });
    },
  });

describe("grading", () => {
  it("grades a MUST fault fail, a SHOULD fault warn, not-applicable, harness errors and crashes", async () => {
    const report = await run([
      failing("t/must/fails"),
      defineCase({
        name: "t/should/warns",
        requirements: ["ROUTER-SECURE-1"],
        async run(ctx) {
          await ctx.soft(() => ctx.fault("ROUTER-SECURE-1", "no wss"));
        },
      }),
      defineCase({
        name: "t/na/reason",
        requirements: ["DIRECT-DELIVER-1"],
        async run() {
          throw new NotApplicable("no such feature");
        },
      }),
      defineCase({
        name: "t/harness/error",
        requirements: ["DIRECT-DELIVER-1"],
        async run() {
          throw new HarnessError("the kit's own bug");
        },
      }),
      defineCase({
        name: "t/crash/error",
        requirements: ["DIRECT-DELIVER-1"],
        async run() {
          throw new TypeError("oops");
        },
      }),
      defineCase({
        name: "t/unknown/requirement",
        requirements: ["DIRECT-DELIVER-1"],
        async run(ctx) {
          ctx.fault("NO-SUCH-1", "x");
        },
      }),
    ]);
    const by = Object.fromEntries(report.cases.map((c) => [c.name, c]));
    expect(by["t/must/fails"]?.grade).toBe("fail");
    expect(by["t/must/fails"]?.failure).toMatchObject({
      requirement: "DIRECT-DELIVER-1",
      level: "MUST",
      expected: "a",
      actual: "b",
    });
    expect(by["t/must/fails"]?.failure?.text).toBe(requirements.get("DIRECT-DELIVER-1")?.text);
    expect(by["t/should/warns"]?.grade).toBe("warn");
    expect(by["t/should/warns"]?.warnings?.[0]?.requirement).toBe("ROUTER-SECURE-1");
    expect(by["t/na/reason"]).toMatchObject({ grade: "n/a", reason: "no such feature" });
    expect(by["t/harness/error"]).toMatchObject({ grade: "error", reason: "the kit's own bug" });
    expect(by["t/crash/error"]?.reason).toMatch(/crashed: TypeError: oops/);
    expect(by["t/unknown/requirement"]?.grade).toBe("error");
    expect(report.exitCode).toBe(1);
  });

  it("ends a case at its hard bound as a harness error", async () => {
    const report = await run([
      defineCase({
        name: "t/slow/case",
        requirements: ["DIRECT-DELIVER-1"],
        timeoutMs: 100,
        run: () => new Promise(() => {}),
      }),
    ]);
    expect(report.cases[0]?.grade).toBe("error");
    expect(report.cases[0]?.reason).toMatch(/hard bound of 100 ms/);
    expect(report.exitCode).toBe(2);
  });

  it("exits 0 when every case passes or does not apply", async () => {
    const report = await run([
      pass("t/a/b"),
      defineCase({
        name: "t/na/feature",
        requirements: ["RECEIPT-SEND-1"],
        features: ["receipts"],
        async run() {},
      }),
    ]);
    expect(report.cases.map((c) => c.grade)).toEqual(["pass", "n/a"]);
    expect(report.cases[1]?.reason).toMatch(/feature receipts is not in force/);
    expect(report.exitCode).toBe(0);
  });

  it("reports a case that needs process control as not applicable without it", async () => {
    const report = await run(
      [
        defineCase({
          name: "durability/x/y",
          requirements: ["ACK-DURABLE-1"],
          needs: ["restart"],
          async run() {},
        }),
      ],
      {
        profile: "durability",
      },
    );
    expect(report.cases[0]).toMatchObject({ grade: "n/a" });
  });
});

describe("baselines", () => {
  it("an expected failure does not fail the run; one that passes is stale and does", async () => {
    const expectedFailures = new Set(["t/known/fails", "t/known/passes"]);
    const report = await run([failing("t/known/fails"), pass("t/known/passes")], {
      expectedFailures,
    });
    const by = Object.fromEntries(report.cases.map((c) => [c.name, c]));
    expect(by["t/known/fails"]?.baseline).toBe("expected-failure");
    expect(by["t/known/passes"]?.baseline).toBe("stale");
    expect(report.exitCode).toBe(1);
    const onlyKnown = await run([failing("t/known/fails")], { expectedFailures });
    expect(onlyKnown.exitCode).toBe(0);
  });

  it("retries a flaky case once: a second pass passes, a second failure is reported and forgiven", async () => {
    let attempts = 0;
    const flakyOnce = defineCase({
      name: "t/flaky/once",
      requirements: ["DIRECT-DELIVER-1"],
      async run() {
        attempts++;
        if (attempts === 1) throw new ServerFault("DIRECT-DELIVER-1", "first time");
      },
    });
    const report = await run([flakyOnce, failing("t/flaky/always")], {
      flaky: new Set(["t/flaky/once", "t/flaky/always"]),
    });
    const by = Object.fromEntries(report.cases.map((c) => [c.name, c]));
    expect(by["t/flaky/once"]).toMatchObject({ grade: "pass", attempts: 2 });
    expect(by["t/flaky/always"]).toMatchObject({ grade: "fail", attempts: 2, baseline: "flaky" });
    expect(report.summary.flaky).toBe(1);
    expect(report.exitCode).toBe(0);
    // Not listed as flaky: the same failure fails the run, after one attempt.
    expect((await run([failing("t/flaky/always")])).exitCode).toBe(1);
  });
});

describe("selection", () => {
  const cases = ["a/x/one", "a/y/two", "b/x/three", "b/y/four", "c/z/five"].map(pass);

  it("selects by globs: * within a segment, ** across", () => {
    const names = (o: Parameters<typeof selectCases>[1]) =>
      selectCases(cases, o).map((c) => c.name);
    expect(names({ run: ["a/**"] })).toEqual(["a/x/one", "a/y/two"]);
    expect(names({ run: ["*/x/*"] })).toEqual(["a/x/one", "b/x/three"]);
    expect(names({ skip: ["**/x/**"] })).toEqual(["a/y/two", "b/y/four", "c/z/five"]);
  });

  it("shards deterministically into disjoint parts that cover every case", () => {
    const parts = [1, 2, 3].map((index) =>
      selectCases(cases, { shard: { index, total: 3 } }).map((c) => c.name),
    );
    expect(parts.flat().sort()).toEqual(cases.map((c) => c.name).sort());
    expect(new Set(parts.flat()).size).toBe(cases.length);
    expect(
      selectCases([...cases].reverse(), { shard: { index: 1, total: 3 } }).map((c) => c.name),
    ).toEqual(parts[0]);
  });

  it("keeps the durability cases to their own profile", () => {
    const all = [...cases, pass("durability/crash/x")];
    expect(selectCases(all, {}).map((c) => c.name)).not.toContain("durability/crash/x");
    expect(selectCases(all, { profile: "durability" }).map((c) => c.name)).toEqual([
      "durability/crash/x",
    ]);
  });
});
