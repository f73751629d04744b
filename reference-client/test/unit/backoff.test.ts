// Reconnect delays: exponential growth of the cap, full jitter, and the 4116 floor.
import { backoffCap, backoffDelay, FLOOD_WAIT_MS } from "@confab/client";
import { describe, expect, it } from "vitest";

const policy = { initialDelayMs: 1000, maxDelayMs: 30_000 };

describe("backoff", () => {
  it("[SESSION-RECONNECT-1] grows the cap of the wait exponentially with each failed attempt, up to the largest", () => {
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => backoffCap(n, policy))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 30_000, 30_000,
    ]);
    expect(backoffCap(10_000, policy)).toBe(30_000);
  });

  it("[SESSION-RECONNECT-1] draws the wait uniformly below the cap (full jitter), so it is random", () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(4000);
    expect(backoffDelay(3, policy, () => 0.999_999)).toBe(7999);
    const draws = new Set(Array.from({ length: 50 }, () => backoffDelay(4, policy, Math.random)));
    expect(draws.size).toBeGreaterThan(10);
    for (const d of draws) expect(d).toBeLessThan(16_000);
  });

  it("[FLOOD-CLIENT-1] never waits less than 10 s when a floor is given", () => {
    expect(FLOOD_WAIT_MS).toBe(10_000);
    expect(backoffDelay(0, policy, () => 0.1, FLOOD_WAIT_MS)).toBe(10_000);
    expect(backoffDelay(5, policy, () => 0.9, FLOOD_WAIT_MS)).toBe(27_000);
  });
});
