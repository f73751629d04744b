/**
 * Reconnect delays: exponential backoff with full jitter [SESSION-RECONNECT-1]. The wait
 * before attempt `n` (from 0) is drawn uniformly from `[0, min(max, initial × 2^n))`, so
 * that clients dropped together by one server restart spread their reconnects instead of
 * arriving as a storm (the "full jitter" of the AWS architecture blog, which centrifuge-js
 * and socket.io-client users asked for after reconnect storms).
 * @module
 */

/** Defaults of the reconnect policy. */
export const RECONNECT_DEFAULTS = { initialDelayMs: 1000, maxDelayMs: 30_000 } as const;

/**
 * The least wait before reconnecting after a close with 4116 (the frame-rate limit), ms
 * [FLOOD-CLIENT-1].
 */
export const FLOOD_WAIT_MS = 10_000;

/**
 * The cap of the wait before attempt `attempt`: `min(max, initial × 2^attempt)`.
 *
 * @example
 * backoffCap(0, { initialDelayMs: 1000, maxDelayMs: 30000 }) // 1000
 * backoffCap(3, { initialDelayMs: 1000, maxDelayMs: 30000 }) // 8000
 * backoffCap(9, { initialDelayMs: 1000, maxDelayMs: 30000 }) // 30000
 */
export function backoffCap(
  attempt: number,
  policy: { initialDelayMs: number; maxDelayMs: number },
): number {
  // 2^attempt overflows to Infinity long before it matters; min() keeps the cap finite.
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 52));
}

/**
 * The wait before reconnect attempt `attempt` (from 0): uniform in `[0, cap)` (full jitter),
 * and at least {@link FLOOD_WAIT_MS} after a close with 4116 [FLOOD-CLIENT-1].
 *
 * @param attempt - the attempt, from 0
 * @param policy - the initial and largest caps, ms
 * @param random - a uniform number in [0, 1)
 * @param floorMs - the least wait (0, or 10000 after 4116)
 *
 * @example
 * backoffDelay(2, { initialDelayMs: 1000, maxDelayMs: 30000 }, () => 0.5) // 2000
 */
export function backoffDelay(
  attempt: number,
  policy: { initialDelayMs: number; maxDelayMs: number },
  random: () => number,
  floorMs = 0,
): number {
  const jittered = Math.floor(random() * backoffCap(attempt, policy));
  return Math.max(floorMs, jittered);
}
