import { describe, expect, it } from "vitest";
import { schedule } from "../lib/schedule.mjs";

type Plan = { rate: number; warmupMs: number; measureMs: number; rampMs?: number };
const planOf = (p: Plan) =>
  schedule(p) as { interval: number; at: (k: number) => number; kFirst: number; total: number };

describe("the open-loop schedule (lib/schedule.mjs)", () => {
  it("without a ramp, sends event k at k / rate, the measured window after the warm-up", () => {
    const s = planOf({ rate: 1000, warmupMs: 1000, measureMs: 2000 });
    expect(s.at(0)).toBe(0);
    expect(s.at(10)).toBeCloseTo(10, 9);
    expect(s.kFirst).toBe(1000);
    expect(s.total).toBe(3000);
    expect(s.at(s.kFirst)).toBeCloseTo(1000, 9);
  });

  it("with a ramp, climbs linearly to the rate within the warm-up, then keeps it", () => {
    const s = planOf({ rate: 20_000, warmupMs: 1000, measureMs: 2000, rampMs: 500 });
    // Half the events the full rate would send in 500 ms.
    const kRamp = 5000;
    expect(s.at(kRamp)).toBeCloseTo(500, 9);
    // The count of events by time t in the ramp is rate·t²/(2·ramp): a quarter by half-way.
    expect(s.at(kRamp / 4)).toBeCloseTo(250, 9);
    // The planned times increase, and the gaps shrink to the full rate's interval.
    let increasing = true;
    for (let k = 1; k < s.total; k++) increasing &&= s.at(k) > s.at(k - 1);
    expect(increasing).toBe(true);
    expect(s.at(kRamp + 1) - s.at(kRamp)).toBeCloseTo(s.interval, 9);
    expect(s.at(10) - s.at(9)).toBeGreaterThan(10 * s.interval);
    // The measured window is unchanged: it starts at the warm-up's end, at the full rate,
    // and holds as many events as without a ramp.
    expect(s.at(s.kFirst)).toBeGreaterThanOrEqual(1000);
    expect(s.at(s.kFirst - 1)).toBeLessThan(1000);
    expect(s.total - s.kFirst).toBe(40_000);
    expect(s.at(s.total - 1)).toBeLessThan(3000);
  });

  it("keeps a ramp within the warm-up", () => {
    const s = planOf({ rate: 1000, warmupMs: 300, measureMs: 700, rampMs: 5000 });
    expect(s.at(s.kFirst)).toBeGreaterThanOrEqual(300);
    expect(s.total - s.kFirst).toBe(700);
  });
});

describe("the open-loop schedule: uneven plans and bad ramps", () => {
  it("a ramp whose event count is not whole (17,469 msg/s over 500 ms: 4,367.25 events)", () => {
    const s = planOf({ rate: 17_469, warmupMs: 1500, measureMs: 2000, rampMs: 500 });
    // Events strictly inside the ramp: k < floor(4367.25); the next one starts the full rate.
    expect(s.at(4366)).toBeLessThan(500);
    expect(s.at(4367)).toBe(500);
    expect(s.at(4368) - s.at(4367)).toBeCloseTo(s.interval, 9);
    expect(s.at(s.kFirst - 1)).toBeLessThan(1500);
    expect(s.at(s.kFirst)).toBeGreaterThanOrEqual(1500);
    expect(s.kFirst).toBe(4367 + Math.ceil(1000 / s.interval));
  });
  it("a warm-up that is not a whole number of intervals", () => {
    const s = planOf({ rate: 1000, warmupMs: 1000.5, measureMs: 2000 });
    expect(s.kFirst).toBe(1001);
    expect(s.at(s.kFirst - 1)).toBeLessThan(1000.5);
  });
  it("ignores a negative ramp", () => {
    expect(planOf({ rate: 1000, warmupMs: 1000, measureMs: 1000, rampMs: -200 })).toMatchObject({
      kFirst: 1000,
      total: 2000,
    });
    expect(planOf({ rate: 1000, warmupMs: 1000, measureMs: 1000, rampMs: -200 }).at(0)).toBe(0);
  });
});
