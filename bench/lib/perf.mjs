/**
 * A server's CPU time under a load as Linux `perf` samples it (`bench/profile.mjs --perf`):
 * where each delivery's or message's microseconds go, the kernel's and V8's own code
 * included, which `--cpu-prof` cannot show. `--cpu-prof` charges a system call to the JS
 * function that makes it and slows the server (issue 11: it put `writev` at 19% of W5 and
 * made ours look dearer per call than BF's; perf, with the same number of calls counted by
 * strace, found the two send paths within 3% of each other).
 *
 * The server runs with `--perf-basic-prof` (V8 writes `/tmp/perf-<pid>.map`, naming its
 * JIT code) and `--interpreted-frames-native-stack`; `perf record -g` samples it during the
 * generator's measured window, and `perf script` prints each sample's stack, which
 * {@link parsePerfScript} reads. V8 never removes a name from the map when it frees the
 * code, so a sample in code compiled later at the same address can carry an older name: a
 * JS function that the load never calls in the report (node's `realpathSync` was seen
 * under the adapter's flush) is that.
 * @module
 */

/**
 * @typedef {{ sym: string, dso: string }} PerfFrame
 * @typedef {{ periodNs: number, frames: PerfFrame[] }} PerfSample the leaf frame first
 * @typedef {{ name: string, us: number, share: number }} PerfRow µs per unit, share of the samples
 * @typedef {{ samples: number, sampledS: number, byKind: PerfRow[], byArea: PerfRow[],
 *   topSelf: PerfRow[], topNearest: PerfRow[], topInclusive: PerfRow[], usPerUnit: number
 * }} PerfSummary
 */

/**
 * The samples of `perf script -F period,ip,sym,dso` output: a line with the sample's
 * period (ns, for the cpu-clock event), then one line per frame, `ADDR SYMBOL (DSO)`, the
 * leaf first, and a blank line.
 * @param {string} text
 * @returns {PerfSample[]}
 */
export function parsePerfScript(text) {
  /** @type {PerfSample[]} */
  const samples = [];
  /** @type {PerfSample | undefined} */
  let cur;
  for (const line of text.split("\n")) {
    if (line.trim() === "") {
      if (cur) samples.push(cur);
      cur = undefined;
      continue;
    }
    const head = /^\s*(\d+)\s*$/.exec(line);
    if (head && !line.startsWith("\t")) {
      if (cur) samples.push(cur);
      cur = { periodNs: Number(head[1]), frames: [] };
      continue;
    }
    const frame = /^\s*[0-9a-f]+\s+(.*?)\s+\(([^()]*)\)\s*$/.exec(line);
    if (cur && frame) cur.frames.push({ sym: String(frame[1]), dso: String(frame[2]) });
  }
  if (cur) samples.push(cur);
  return samples;
}

/**
 * The kind of code a frame runs: the kernel, JIT-compiled JavaScript, Node and V8's own
 * native code (builtins, the runtime, the collector), libc, SQLite, or another library.
 * @param {PerfFrame} frame
 */
export function kindOf(frame) {
  const { dso } = frame;
  if (dso.startsWith("[kernel")) return "kernel";
  if (/\/perf-\d+\.map$/.test(dso) || dso.startsWith("[JIT]")) return "JavaScript (JIT code)";
  if (/\/node$/.test(dso) || dso === "node") return "Node and V8 native (builtins, runtime, GC)";
  if (/\/libc[.-]/.test(dso) || /\/libm[.-]/.test(dso)) return "libc";
  if (dso.includes("better_sqlite3")) return "SQLite (better-sqlite3)";
  return `other native (${dso.split("/").pop()})`;
}

/** V8's collector, in any frame of a sample: the sample is GC time. */
const GC_FRAME =
  /v8::internal::(Heap::(CollectGarbage|PerformGarbageCollection)|Scavenger|ScavengerCollector|MarkCompactCollector|MinorMarkCompactCollector|MinorMarkSweepCollector|ConcurrentMarking|Sweeper|MinorGCJob)/;

/**
 * The script a JS frame's symbol names (`JS:*name file:///…/x.js:1:2`, `JS:~name node:fs:3:4`),
 * or undefined for a frame that is not JavaScript.
 * @param {string} sym
 */
export function scriptOf(sym) {
  if (!sym.startsWith("JS:")) return undefined;
  const m = /\s((?:file:\/\/|node:|\/)\S*?):\d+:\d+$/.exec(sym);
  return m ? String(m[1]) : "";
}

/**
 * Where the samples' time went, in µs per unit (a delivery, a message) and as shares:
 * by the kind of code at the leaf, by area (the nearest JavaScript frame's, through the
 * native and kernel frames it called, GC apart), the leaf symbols with the most time, and
 * the JavaScript functions with the most time inclusive (each counted once per sample).
 * @param {readonly PerfSample[]} samples
 * @param {{ units: number, cpuS?: number | null, areaOf: (url: string) => string, top?: number }} options
 *   `units` how many deliveries or messages the window held; `cpuS` the server's CPU time
 *   over the window from /proc, which the shares divide (else the sampled time); `areaOf`
 *   the area of a script URL.
 * @returns {PerfSummary}
 */
export function summarizePerf(samples, options) {
  const top = options.top ?? 25;
  let totalNs = 0;
  /** @type {Map<string, number>[]} */
  const [kinds, areas, self, nearest, incl] = [
    new Map(),
    new Map(),
    new Map(),
    new Map(),
    new Map(),
  ];
  const add = (
    /** @type {Map<string, number>} */ m,
    /** @type {string} */ k,
    /** @type {number} */ v,
  ) => m.set(k, (m.get(k) ?? 0) + v);
  for (const s of samples) {
    const ns = s.periodNs;
    totalNs += ns;
    const leaf = s.frames[0];
    if (leaf === undefined) continue;
    add(kinds, kindOf(leaf), ns);
    add(self, `${leaf.sym}  [${kindOf(leaf)}]`, ns);
    let area = "outside JavaScript (event loop, kernel)";
    let near = "(no JavaScript frame: event loop, kernel)";
    if (s.frames.some((f) => GC_FRAME.test(f.sym))) area = near = "GC";
    else {
      for (const f of s.frames) {
        const url = scriptOf(f.sym);
        if (url !== undefined) {
          area = options.areaOf(url);
          near = f.sym;
          break;
        }
      }
    }
    add(areas, area, ns);
    add(nearest, near, ns);
    const seen = new Set();
    for (const f of s.frames) {
      if (!f.sym.startsWith("JS:") || seen.has(f.sym)) continue;
      seen.add(f.sym);
      add(incl, f.sym, ns);
    }
  }
  const sampledS = totalNs / 1e9;
  const cpuS = options.cpuS ?? sampledS;
  const usPerUnit = options.units > 0 ? (cpuS * 1e6) / options.units : 0;
  /** @param {Map<string, number>} m @param {number} [n] @returns {PerfRow[]} */
  const rows = (m, n) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, ns]) => {
        const share = totalNs > 0 ? ns / totalNs : 0;
        return { name, us: share * usPerUnit, share };
      });
  return {
    samples: samples.length,
    sampledS,
    usPerUnit,
    byKind: rows(kinds),
    byArea: rows(areas),
    topSelf: rows(self, top),
    topNearest: rows(nearest, top),
    topInclusive: rows(incl, top),
  };
}

/**
 * The summary as text.
 * @param {PerfSummary} s
 * @param {string} unit "delivery" or "message"
 */
export function formatPerf(s, unit) {
  const line = (/** @type {PerfRow} */ r) =>
    `  ${(100 * r.share).toFixed(1).padStart(5)}%  ${r.us.toFixed(2).padStart(7)} µs  ${r.name}`;
  return [
    `${s.samples} samples, ${s.sampledS.toFixed(2)} s of CPU sampled; ${s.usPerUnit.toFixed(2)} µs of server CPU per ${unit}, shared out as the samples are:`,
    "",
    "by the kind of code running (the sample's leaf):",
    ...s.byKind.map(line),
    "",
    "by area (the nearest JavaScript frame's, with the native and kernel code it called; GC apart):",
    ...s.byArea.map(line),
    "",
    "leaf symbols with the most time:",
    ...s.topSelf.map(line),
    "",
    // The areas' split, function by function: where a store's or a handler's time goes,
    // its SQLite and system calls included (a worker thread's JS frames are named too).
    "JavaScript functions with the most time, with the native and kernel code they called (the nearest JavaScript frame; GC apart):",
    ...s.topNearest.map(line),
    "",
    "JavaScript functions with the most time, inclusive (what they called included):",
    ...s.topInclusive.map(line),
    "",
  ].join("\n");
}
