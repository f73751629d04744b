/**
 * The collections of a server run with V8's `--trace-gc-nvp`, which prints one line of
 * name=value pairs per collection on stdout (`bench/profile.mjs --gc`): how many scavenges
 * and mark-compacts, their pauses, and what each scavenge copied. A latency tail such as
 * W3's p99 (issue 11) is where pauses are, and a scavenge's pause grows with what survives
 * it, so these are the figures that say whether fewer surviving objects would help.
 * @module
 */

/**
 * @typedef {{ kind: string, atMs: number, pauseMs: number, survivedBytes: number,
 *   promotedBytes: number, sweepArrayBuffersMs: number }} GcEvent
 * @typedef {{ count: number, totalPauseMs: number, meanPauseMs: number, p50PauseMs: number,
 *   p99PauseMs: number, maxPauseMs: number, over3Ms: number, meanSurvivedBytes: number,
 *   meanPromotedBytes: number, meanSweepArrayBuffersMs: number }} GcKindSummary
 */

/** V8's names for the kinds of collection in `gc=`. */
export const GC_KINDS = /** @type {const} */ ({
  s: "scavenge",
  ms: "minor mark-sweep",
  mc: "mark-compact",
  mmc: "minor mark-compact",
});

/**
 * The collections in `text` (a process's stdout), in order. Lines that are not
 * `--trace-gc-nvp` lines (the server's own log) are skipped.
 * @param {string} text
 * @returns {GcEvent[]}
 */
export function parseGcTrace(text) {
  /** @type {GcEvent[]} */
  const events = [];
  for (const line of text.split("\n")) {
    const at = /^\[\d+:0x[0-9a-f]+\]\s+(\d+) ms: pause=/.exec(line);
    if (!at) continue;
    /** @type {Record<string, string>} */
    const f = {};
    for (const m of line.matchAll(/([\w.]+)=(\S+)/g))
      f[/** @type {string} */ (m[1])] = String(m[2]);
    const num = (/** @type {string} */ k) => (f[k] === undefined ? 0 : Number(f[k]));
    events.push({
      kind: f.gc ?? "?",
      atMs: Number(at[1]),
      pauseMs: num("pause"),
      survivedBytes: num("new_space_survived"),
      promotedBytes: num("promoted"),
      sweepArrayBuffersMs: num("scavenge.sweep_array_buffers"),
    });
  }
  return events;
}

/**
 * Per kind of collection: count, pauses (total, mean, p50, p99, max, how many over 3 ms)
 * and the means of what survived, what was promoted and the array-buffer sweep.
 * @param {readonly GcEvent[]} events
 * @returns {Record<string, GcKindSummary>}
 */
export function summarizeGc(events) {
  /** @type {Record<string, GcKindSummary>} */
  const out = {};
  const kinds = [...new Set(events.map((e) => e.kind))];
  for (const kind of kinds) {
    const of = events.filter((e) => e.kind === kind);
    const pauses = of.map((e) => e.pauseMs).sort((a, b) => a - b);
    const sum = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0);
    const rank = (/** @type {number} */ q) =>
      /** @type {number} */ (pauses[Math.min(pauses.length - 1, Math.ceil(q * pauses.length) - 1)]);
    out[GC_KINDS[/** @type {keyof typeof GC_KINDS} */ (kind)] ?? kind] = {
      count: of.length,
      totalPauseMs: sum(pauses),
      meanPauseMs: sum(pauses) / of.length,
      p50PauseMs: rank(0.5),
      p99PauseMs: rank(0.99),
      maxPauseMs: /** @type {number} */ (pauses[pauses.length - 1]),
      over3Ms: pauses.filter((p) => p > 3).length,
      meanSurvivedBytes: sum(of.map((e) => e.survivedBytes)) / of.length,
      meanPromotedBytes: sum(of.map((e) => e.promotedBytes)) / of.length,
      meanSweepArrayBuffersMs: sum(of.map((e) => e.sweepArrayBuffersMs)) / of.length,
    };
  }
  return out;
}

/**
 * The summary as text, one line per kind.
 * @param {Record<string, GcKindSummary>} summary
 * @param {number} seconds the length of the window the events are from
 */
export function formatGc(summary, seconds) {
  const lines = [];
  for (const [kind, s] of Object.entries(summary)) {
    const every = s.count > 0 ? `, one every ${Math.round((1000 * seconds) / s.count)} ms` : "";
    lines.push(
      `${kind}: ${s.count}${every}; pause mean ${s.meanPauseMs.toFixed(2)} ms, p50 ${s.p50PauseMs.toFixed(2)}, p99 ${s.p99PauseMs.toFixed(2)}, max ${s.maxPauseMs.toFixed(2)}, ${s.over3Ms} over 3 ms; survived ${Math.round(s.meanSurvivedBytes / 1024)} KB, promoted ${Math.round(s.meanPromotedBytes / 1024)} KB, array-buffer sweep ${s.meanSweepArrayBuffersMs.toFixed(2)} ms on average`,
    );
  }
  return lines.length > 0 ? lines.join("\n") : "no collection";
}
