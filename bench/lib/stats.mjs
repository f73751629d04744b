/**
 * Small statistics helpers of the stress script and the benchmarks.
 * @module
 */

/**
 * p50, p99 and max of `values` (nearest rank), in whole ms or with one decimal below 10.
 * @param {number[]} values
 * @returns {{ n: number, p50: number | null, p99: number | null, max: number | null }}
 */
export function summary(values) {
  if (values.length === 0) return { n: 0, p50: null, p99: null, max: null };
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  return { n: sorted.length, p50: ms(rank(0.5)), p99: ms(rank(0.99)), max: ms(sorted.at(-1)) };
}

/** Rounds a duration for display: one decimal under 10 ms, whole ms above. @param {number} v */
export function ms(v) {
  return v < 10 ? Math.round(v * 10) / 10 : Math.round(v);
}

/**
 * Counts occurrences: `{ key: count }`, keys sorted.
 * @param {string[]} keys
 * @returns {Record<string, number>}
 */
export function tally(keys) {
  /** @type {Record<string, number>} */
  const out = {};
  for (const k of [...keys].sort()) out[k] = (out[k] ?? 0) + 1;
  return out;
}

/**
 * The ratios of interleaved runs taken pair by pair (`a[k] / b[k]`), and their range: W5's
 * row reports the median of each side, and these say how far one pair of runs can be from
 * another on the same machine (issue 11: BF alone spread 16.9k–43.0k over one morning).
 * Pairs with a non-positive or missing denominator are left out.
 * @param {number[]} a
 * @param {number[]} b
 * @returns {{ ratios: number[], min: number | null, max: number | null }}
 */
export function pairRatios(a, b) {
  const ratios = [];
  for (let k = 0; k < Math.min(a.length, b.length); k++) {
    const d = /** @type {number} */ (b[k]);
    if (d > 0) ratios.push(/** @type {number} */ (a[k]) / d);
  }
  if (ratios.length === 0) return { ratios, min: null, max: null };
  return { ratios, min: Math.min(...ratios), max: Math.max(...ratios) };
}
