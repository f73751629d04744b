// The verdicts on issue 11's targets (bench/lib/verdicts.mjs): each rule must be able to say
// met, not met and inconclusive, from the rows and details a run writes.
import { describe, expect, it } from "vitest";
import type { Row } from "../lib/report.mjs";
import { TARGETS, verdicts, verdictsMarkdown } from "../lib/verdicts.mjs";

const row = (
  workload: string,
  metric: string,
  value: number,
  baseline: string | null = null,
  ratio: number | null = null,
): Row => ({
  workload,
  metric,
  value,
  unit: "",
  baseline,
  ratio,
});

/** A run's results with the figures each rule reads, overridable one at a time. */
function results(
  o: {
    w1?: number[];
    w2B1?: number;
    w2B0?: number;
    knee?: number;
    nextLate?: boolean;
    kneeDisturbed?: boolean;
    w3?: [number, number];
    b1?: [number, number];
    pairs?: number[];
    bfDisturbed?: boolean;
  } = {},
) {
  const knee = o.knee ?? 21_000;
  const w3 = o.w3 ?? [3, 10];
  const b1 = o.b1 ?? [2, 6];
  const pairs = o.pairs ?? [0.75, 0.8, 0.78];
  const rows: Row[] = [
    ...(o.w1 ?? [6, 6.2]).map((v, k) =>
      row("W1", `RSS per idle session at ${(k + 1) * 5000} sessions`, v, "B0", 1.3),
    ),
    row("W2", "knee: highest sustained offered rate", knee),
    row(
      "W2",
      `messages per server CPU-second at ${knee} msg/s (the knee)`,
      7000,
      "B1",
      o.w2B1 ?? 0.75,
    ),
    row(
      "W2",
      `messages per server CPU-second at ${knee} msg/s (the knee)`,
      7000,
      "B0",
      o.w2B0 ?? 0.55,
    ),
    row("W3", "send→deliver p99 at 2000 msg/s", w3[0], "B1", w3[0] / b1[0]),
    row("W3", "send→deliver p99.9 at 2000 msg/s", w3[1], "B1", w3[1] / b1[1]),
    row("B1", "send→deliver p99 at 2000 msg/s", b1[0]),
    row("B1", "send→deliver p99.9 at 2000 msg/s", b1[1]),
    row("W5", "deliveries per server CPU-second (500 members)", 30_000, "BF", pairs[1] ?? 0.7),
  ];
  const details = {
    W2: [
      { rate: knee, sustained: true, ...(o.kneeDisturbed && { disturbed: 0.4 }) },
      { rate: knee * 1.25, sustained: false, generatorLimited: o.nextLate ?? false },
    ],
    W3: {},
    baselines: { B1: { w3: {}, atKnee: {} }, B0: { w3: {}, atKnee: {} } },
    W5: { pairRatios: pairs, runs: [{}, {}, {}] },
    BF: { runs: [{}, { ...(o.bfDisturbed && { disturbed: 0.35 }) }, {}] },
  };
  return { rows, details };
}

const verdictOf = (r: ReturnType<typeof results>, id: string) =>
  verdicts(r).find((v) => v.id === id)?.verdict;

describe("verdicts on issue 11's targets", () => {
  it("says met for a run that meets every target", () => {
    const list = verdicts(results());
    expect(list.map((v) => [v.id, v.verdict])).toEqual([
      ["W1", "met"],
      ["W2/B1", "met"],
      ["W2/B0", "met"],
      ["W2/knee", "met"],
      ["W3/p99", "met"],
      ["W3/p99.9", "met"],
      ["W5", "met"],
    ]);
  });

  it("W1: not met when any session count is over the bound", () => {
    expect(verdictOf(results({ w1: [6, TARGETS.w1MaxKb + 0.1] }), "W1")).toBe("not met");
  });

  it("W2: not met under the ratio, inconclusive when the knee step was disturbed", () => {
    expect(verdictOf(results({ w2B1: 0.69 }), "W2/B1")).toBe("not met");
    expect(verdictOf(results({ w2B0: 0.49 }), "W2/B0")).toBe("not met");
    expect(verdictOf(results({ w2B1: 0.69, kneeDisturbed: true }), "W2/B1")).toBe("inconclusive");
  });

  it("W2 against B1: judged on every interleaved pair when the run measured pairs", () => {
    const paired = (ratios: number[], late = false) => {
      const r = results({ w2B1: ratios[0] });
      return {
        ...r,
        details: {
          ...r.details,
          W2KneePairs: {
            ratios,
            reference: ratios.map((_, k) => ({ generatorLimited: late && k === 1 })),
            B1: ratios.map(() => ({})),
          },
        },
      };
    };
    expect(verdictOf(paired([0.72, 0.75, 0.8]), "W2/B1")).toBe("met");
    expect(verdictOf(paired([0.66, 0.68, 0.69]), "W2/B1")).toBe("not met");
    expect(verdictOf(paired([0.66, 0.7, 0.8]), "W2/B1")).toBe("inconclusive");
    const late = verdicts(paired([0.72, 0.75, 0.8], true)).find((v) => v.id === "W2/B1");
    expect(late?.verdict).toBe("inconclusive");
    expect(late?.why).toMatch(/generator was late on W2's run 2/);
    // B0's target stays a single-run verdict: its margin is wide.
    expect(verdictOf(paired([0.66, 0.7, 0.8]), "W2/B0")).toBe("met");
  });

  it("W2's knee: inconclusive when B1 does not sustain the target's rate here either", () => {
    const withFloor = (floor: Record<string, unknown>) => {
      const r = results({ knee: 11_000 });
      return { ...r, details: { ...r.details, B1AtKneeTarget: floor } };
    };
    // The quick ladder's first step at or above the target's 20,000 msg/s.
    const rate = 21_836;
    const slow = verdicts(withFloor({ rate, sustained: false, deliveredPerS: 16_000 }));
    expect(slow.find((v) => v.id === "W2/knee")?.verdict).toBe("inconclusive");
    expect(slow.find((v) => v.id === "W2/knee")?.why).toMatch(/B1.*did not sustain 21,836/);
    const fast = verdicts(withFloor({ rate, sustained: true, deliveredPerS: 20_000 }));
    expect(fast.find((v) => v.id === "W2/knee")?.verdict).toBe("not met");
    expect(fast.find((v) => v.id === "W2/knee")?.why).toMatch(/where B1 sustained/);
    const late = withFloor({ rate, sustained: true, generatorLimited: true });
    expect(verdictOf(late, "W2/knee")).toBe("inconclusive");
    // A floor measured at another rate (the smoke profile's) says nothing of the target.
    expect(verdictOf(withFloor({ rate: 1200, sustained: false }), "W2/knee")).toBe("not met");
  });

  it("W2's knee: says when the failing step delivered more than offered (a backlog from its warm-up)", () => {
    const failingAt = (deliveredPerS: number) => {
      const r = results({ knee: 11_000 });
      const steps = [r.details.W2[0], { rate: 13_750, sustained: false, deliveredPerS }];
      const floor = { rate: 21_836, sustained: true, deliveredPerS: 21_836 };
      return verdicts({ ...r, details: { ...r.details, W2: steps, B1AtKneeTarget: floor } }).find(
        (v) => v.id === "W2/knee",
      );
    };
    const catching = failingAt(15_862);
    expect(catching?.verdict).toBe("not met");
    expect(catching?.why).toMatch(
      /13,750 msg\/s not sustained \(it delivered 15,862 msg\/s, more than offered/,
    );
    expect(catching?.why).toMatch(/where B1 sustained 21,836/);
    // At or under the rate: no such note.
    expect(failingAt(13_750)?.why).not.toMatch(/more than offered/);
    expect(failingAt(12_000)?.why).not.toMatch(/more than offered/);
  });

  it("W2's knee: not met, or a lower bound when the generator was late at the next step", () => {
    expect(verdictOf(results({ knee: 8_000 }), "W2/knee")).toBe("not met");
    const late = verdicts(results({ knee: 8_000, nextLate: true })).find((v) => v.id === "W2/knee");
    expect(late?.verdict).toBe("inconclusive");
    expect(late?.why).toMatch(/lower bound/);
  });

  it("W2's knee: the generator late behind an overloaded server is no lower bound when it drove B1 there on time", () => {
    const run = (floor: Record<string, unknown>) => {
      const r = results({ knee: 16_000, nextLate: true });
      return { ...r, details: { ...r.details, B1AtKneeTarget: floor } };
    };
    // The failing step is 16,000 × 1.25; B1 ran at 21,836 msg/s, above it, on time.
    const onTime = verdicts(run({ rate: 21_836, sustained: true, generatorLimited: false }));
    expect(onTime.find((v) => v.id === "W2/knee")?.verdict).toBe("not met");
    expect(onTime.find((v) => v.id === "W2/knee")?.why).toMatch(/drove B1 there on time/);
    // Late on B1 too: the generator may be the limit.
    expect(
      verdictOf(run({ rate: 21_836, sustained: true, generatorLimited: true }), "W2/knee"),
    ).toBe("inconclusive");
    // B1 on time below the failing step's rate: see the edge cases below.
  });

  it("W3: not met when B1 meets the bound, inconclusive when B1 misses it too", () => {
    expect(verdictOf(results({ w3: [8, 10], b1: [4, 6] }), "W3/p99")).toBe("not met");
    const floor = verdicts(results({ w3: [8, 30], b1: [5.5, 25] }));
    expect(floor.find((v) => v.id === "W3/p99")?.verdict).toBe("inconclusive");
    expect(floor.find((v) => v.id === "W3/p99.9")?.why).toMatch(/B1.*missed it too/);
  });

  it("W5: judged on every pair: straddling or disturbed pairs are inconclusive", () => {
    expect(verdictOf(results({ pairs: [0.6, 0.65, 0.69] }), "W5")).toBe("not met");
    expect(verdictOf(results({ pairs: [0.68, 0.71, 0.73] }), "W5")).toBe("inconclusive");
    expect(verdictOf(results({ bfDisturbed: true }), "W5")).toBe("inconclusive");
    // The median pair alone would say met here.
    expect(verdictOf(results({ pairs: [0.71, 0.72, 0.69] }), "W5")).toBe("inconclusive");
  });

  it("says not run for what the run did not measure, and renders a table row per target", () => {
    const list = verdicts({ rows: [], details: {} });
    expect(list.every((v) => v.verdict === "not run")).toBe(true);
    expect(list).toHaveLength(7);
    const md = verdictsMarkdown(verdicts(results()));
    expect(md.split("\n").filter((l) => l.startsWith("| W"))).toHaveLength(7);
  });
});

// W2/knee rows and details only; the other rules say "not run".
function knee(kneeRate: number, steps: Record<string, unknown>[], floor?: Record<string, unknown>) {
  return {
    rows: [
      {
        workload: "W2",
        metric: "knee: highest sustained offered rate",
        value: kneeRate,
        unit: "",
        baseline: null,
        ratio: null,
      },
    ],
    details: {
      W2: [{ rate: kneeRate, sustained: true }, ...steps],
      ...(floor && { B1AtKneeTarget: floor }),
    },
  };
}
const k = (r: ReturnType<typeof knee>) => verdicts(r as never).find((v) => v.id === "W2/knee");

describe("verdicts on the W2 knee: edge cases", () => {
  it("meets the target exactly at 20,000 msg/s", () => {
    expect(k(knee(20_000, [{ rate: 25_000, sustained: false }]))?.verdict).toBe("met");
  });
  it("B1 on time below the failing step proves nothing: still a lower bound", () => {
    const v = k(
      knee(18_000, [{ rate: 22_500, sustained: false, generatorLimited: true }], {
        rate: 21_836,
        sustained: true,
      }),
    );
    expect(v?.verdict).toBe("inconclusive");
    expect(v?.why).toMatch(/lower bound/);
  });
  it("B1 on time at exactly the failing step's rate counts as driven", () => {
    const v = k(
      knee(17_469, [{ rate: 21_836, sustained: false, generatorLimited: true }], {
        rate: 21_836,
        sustained: true,
      }),
    );
    expect(v?.verdict).toBe("not met");
    expect(v?.why).toBe(
      "21,836 msg/s not sustained, where B1 sustained 21,836 msg/s (the generator, late at the failing step behind the server's backlog, drove B1 there on time)",
    );
  });
  it("a floor exactly at the target counts", () => {
    const v = k(
      knee(16_000, [{ rate: 20_000, sustained: false }], {
        rate: 20_000,
        sustained: false,
        deliveredPerS: 15_000,
      }),
    );
    expect(v?.verdict).toBe("inconclusive");
    expect(v?.why).toBe(
      "B1, the bare durable relay, did not sustain 20,000 msg/s on this machine either (delivered 15,000/s)",
    );
  });
  it("late on B1 too: says the failing step makes the knee a lower bound", () => {
    const v = k(
      knee(16_000, [{ rate: 20_000, sustained: false, generatorLimited: true }], {
        rate: 21_836,
        sustained: true,
        generatorLimited: true,
      }),
    );
    expect(v?.why).toMatch(/late at the failing step \(20,000 msg\/s\): the knee is a lower bound/);
  });
  it("late driving B1, on time at the failing step: names B1's rate", () => {
    const v = k(
      knee(16_000, [{ rate: 20_000, sustained: false }], {
        rate: 21_836,
        sustained: true,
        generatorLimited: true,
      }),
    );
    expect(v).toMatchObject({
      verdict: "inconclusive",
      why: "the generator was late driving B1 at 21,836 msg/s: the machine's floor there is not known",
    });
  });
  it("generator on time at the failing step: no 'drove B1' note; names the failing rate", () => {
    expect(
      k(knee(16_000, [{ rate: 20_000, sustained: false }], { rate: 21_836, sustained: true }))?.why,
    ).toBe("20,000 msg/s not sustained, where B1 sustained 21,836 msg/s");
  });
  it("no failing step under the target: the ladder ended, the knee is a lower bound", () => {
    const v = k(knee(16_000, [{ rate: 12_000, sustained: true }]));
    expect(v?.verdict).toBe("inconclusive");
    expect(v?.why).toMatch(/no higher step was run: the knee is a lower bound/);
  });
  it("the failing step is the unsustained one above the knee (full ladder, a dip below it)", () => {
    const v = k(
      knee(16_000, [
        { rate: 12_000, sustained: false, generatorLimited: true },
        { rate: 20_000, sustained: false },
      ]),
    );
    expect(v).toMatchObject({ verdict: "not met", why: "20,000 msg/s not sustained" });
  });
  it("B1 on time at the rate but not sustained: B1's shortfall, not a lower bound", () => {
    const v = k(
      knee(16_000, [{ rate: 20_000, sustained: false, generatorLimited: true }], {
        rate: 21_836,
        sustained: false,
        deliveredPerS: 18_000,
      }),
    );
    expect(v?.why).toMatch(/B1.*did not sustain 21,836/);
  });
});
