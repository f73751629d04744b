// The pair ratios of W5's interleaved runs (issue 11): the spread the W5 row reports beside
// its median ratio.
import { describe, expect, it } from "vitest";
import { pairRatios } from "../lib/stats.mjs";

describe("pairRatios", () => {
  it("divides run k of one side by run k of the other, not by a median", () => {
    const { ratios, min, max } = pairRatios([20, 30, 25], [40, 30, 50]);
    expect(ratios).toEqual([0.5, 1, 0.5]);
    expect(min).toBe(0.5);
    expect(max).toBe(1);
  });

  it("leaves out pairs without a positive denominator, and says when none is left", () => {
    expect(pairRatios([1, 2, 3], [0, 4])).toEqual({ ratios: [0.5], min: 0.5, max: 0.5 });
    expect(pairRatios([1], [])).toEqual({ ratios: [], min: null, max: null });
  });
});
