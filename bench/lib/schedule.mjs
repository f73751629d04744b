/**
 * The open-loop generator's plan (lib/loadgen.mjs): when each event is due. A module of its
 * own, free of the generator's process wiring, so that tests can import it.
 * @module
 */

/**
 * When event k of a plan is due, in ms after the plan's start, and how many events the plan
 * holds. Without a ramp, event k is at k × 1000 / rate. With `rampMs`, the rate first climbs
 * linearly from 0 to `rate` over `rampMs` (event k at √(2k · rampMs · 1000 / rate) ms, the
 * inverse of the count rate·t²/(2·rampMs)), then stays at `rate`. The ramp is part of the
 * warm-up (`rampMs` ≤ `warmupMs`), which is never recorded: it warms a freshly started
 * server's JIT and caches at rising load instead of charging it, at the full rate, with the
 * backlog of its first cold second (issue 11: the reference server's first 100 ms at 17,469
 * msg/s waited up to 0.8 s, and a near-saturated server drains that only slowly).
 * `kFirst` is the first event of the measured window, `total` the number of events.
 * @param {{ rate: number, warmupMs: number, measureMs: number, rampMs?: number }} plan
 */
export function schedule(plan) {
  const interval = 1000 / plan.rate;
  const ramp = Math.min(Math.max(plan.rampMs ?? 0, 0), plan.warmupMs);
  // Events sent during the ramp: half what the full rate would send in as long.
  const kRamp = Math.floor((ramp * plan.rate) / 2000);
  const at = (/** @type {number} */ k) =>
    k < kRamp ? Math.sqrt(2 * k * ramp * interval) : ramp + (k - kRamp) * interval;
  const kFirst = kRamp + Math.ceil((plan.warmupMs - ramp) / interval);
  const total = kRamp + Math.ceil((plan.warmupMs - ramp + plan.measureMs) / interval);
  return { interval, at, kFirst, total };
}
