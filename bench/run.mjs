#!/usr/bin/env node
/**
 * The benchmarks of issue 11: the reference server's throughput, latency, fan-out and
 * memory, as ratios to bare baselines measured in the same run on the same machine.
 *
 *   node bench/run.mjs                         # quick profile (under 3 minutes on 2 cores)
 *   node bench/run.mjs --profile full          # longer steps, finer knee, more messages
 *   node bench/run.mjs --only W2,W3            # some workloads (and the baselines they need)
 *   node bench/run.mjs --smoke --out /tmp/b    # every workload for about a second (tests)
 *
 * Every server is a process of its own on loopback (pinned to core 0 with taskset where the
 * machine allows), driven by one load generator process (lib/loadgen.mjs, pinned to core
 * 1): open loop, latencies from the planned send time into HdrHistograms, warm-up
 * discarded, receivers acking every delivery, the server's CPU time from /proc. Writes
 * `latest.json` (rows of {workload, metric, value, unit, baseline, ratio} with the machine
 * and the run), `latest.md` and the SVG plots into `--out` (bench/results).
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { startGenerator } from "./lib/generator.mjs";
import { machineBusySeconds, machineInfo, tasksetSupport } from "./lib/proc.mjs";
import {
  formatJson,
  latencySvg,
  lineChart,
  markdown,
  niceCeil,
  throughputSvg,
} from "./lib/report.mjs";
import { pairRatios } from "./lib/stats.mjs";
import {
  PINNED_NODE_FLAGS,
  REFERENCE_CLI,
  REFERENCE_CONFIG,
  REFERENCE_CONFIG_WHY,
  ROOT,
  startTarget,
} from "./lib/targets.mjs";
import { TARGETS, verdicts } from "./lib/verdicts.mjs";

const USAGE = `Usage: node bench/run.mjs [options]

  --profile quick|full   quick (default): under 3 minutes on 2 cores; full: longer and finer
  --only LIST            comma-separated workloads and baselines: W1..W7, B0, B1, BF
                         (a workload brings the baselines its ratios need)
  --smoke                every workload for about a second, tiny sizes: checks the harness,
                         its figures mean nothing
  --out DIR              where latest.json, latest.md and the SVGs go (default bench/results)
  --knee N               W2's knee, msg/s, for W3 and the baselines when W2 is not run
                         (default: the knee of DIR/latest.json, else 2000)
  --server PATH          the reference server's CLI (default reference-server/dist/src/cli.js)
  --wait-quiet S         first wait up to S seconds for the machine to be quiet (other
                         processes under 0.3 cores for 3 s): for shared machines
  --nice N               run the servers and the generator at niceness N (negative: root
                         only), so that other processes of a shared machine preempt them
                         less; recorded in the results (default 0)
  -h, --help             this text`;

// `--nice -10`: parseArgs takes a value that starts with a dash only as `--nice=-10`.
const argv = process.argv.slice(2);
for (let k = argv.indexOf("--nice"); k >= 0 && k + 1 < argv.length; k = -1) {
  argv.splice(k, 2, `--nice=${argv[k + 1]}`);
}
const { values: flags } = parseArgs({
  args: argv,
  options: {
    profile: { type: "string", default: "quick" },
    only: { type: "string" },
    smoke: { type: "boolean", default: false },
    out: { type: "string", default: join(ROOT, "bench/results") },
    knee: { type: "string" },
    server: { type: "string" },
    "wait-quiet": { type: "string" },
    nice: { type: "string", default: "0" },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const fail = (/** @type {string} */ msg) => {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
  process.exit(2);
};
if (!["quick", "full"].includes(flags.profile ?? "")) fail("--profile must be quick or full");
const profileName = flags.smoke ? "smoke" : /** @type {"quick" | "full"} */ (flags.profile);
const ALL = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "B0", "B1", "BF"];
const only = flags.only ? flags.only.split(",").map((s) => s.trim().toUpperCase()) : ALL;
for (const name of only) if (!ALL.includes(name)) fail(`--only: unknown workload ${name}`);
const selected = new Set(only);
const outDir = resolve(flags.out ?? "bench/results");
const serverPath = resolve(flags.server ?? REFERENCE_CLI);

/**
 * The sizes and durations of each profile. Steps: warm-up (sent, not recorded) then the
 * measured window. A direct step's warm-up starts with a ramp of `rampMs`, the rate rising
 * from 0 (lib/loadgen.mjs `schedule`): every step starts a fresh server, whose first second
 * at the full rate would otherwise measure its cold start, not its capacity (issue 11).
 */
const PROFILES = {
  smoke: {
    w1: { counts: [60, 120], warm: 20, settleMs: 200 },
    w2: {
      start: 300,
      factor: 2,
      maxSteps: 2,
      warmupMs: 300,
      measureMs: 700,
      stopWhenSaturated: false,
      rampMs: 150,
      kneePairs: 2,
      floorRate: 1200,
    },
    w3: { warmupMs: 300, measureMs: 700, rampMs: 150 },
    w4: { messages: 300 },
    w5: { members: 50, rate: 20, warmupMs: 300, measureMs: 700, repeats: 1 },
    w6: { watchers: 50, churners: 4, rate: 40, warmupMs: 300, measureMs: 700 },
    w7: { messages: 500, warmupMs: 300, measureMs: 700 },
    baselineSteps: "points",
    retries: 0,
  },
  quick: {
    w1: { counts: [5000, 10000], warm: 200, settleMs: 1000 },
    w2: {
      // 2930 is the 1500-based ladder's fourth step (1500 × 1.25³, rounded as the ladder
      // rounds): the same rates from there on, and about 12 s less under 3 minutes (a quick
      // run took 179 s with 1500).
      start: 2930,
      factor: 1.25,
      maxSteps: 16,
      warmupMs: 1500,
      measureMs: 2000,
      rampMs: 500,
      stopWhenSaturated: true,
      kneePairs: 3,
      floorRate: TARGETS.w2MinKnee,
    },
    w3: { warmupMs: 2000, measureMs: 6000, rampMs: 500 },
    w4: { messages: 20000 },
    w5: { members: 500, rate: 10, warmupMs: 1000, measureMs: 3000, repeats: 3 },
    w6: { watchers: 500, churners: 10, rate: 20, warmupMs: 1000, measureMs: 3000 },
    w7: { messages: 10000, warmupMs: 1000, measureMs: 3000 },
    baselineSteps: "points",
    retries: 2,
  },
  full: {
    w1: { counts: [5000, 10000], warm: 200, settleMs: 2000 },
    w2: {
      start: 1000,
      factor: 1.15,
      maxSteps: 30,
      warmupMs: 2000,
      measureMs: 6000,
      rampMs: 1000,
      stopWhenSaturated: true,
      kneePairs: 3,
      floorRate: TARGETS.w2MinKnee,
    },
    w3: { warmupMs: 2000, measureMs: 30000, rampMs: 1000 },
    w4: { messages: 50000 },
    w5: { members: 500, rate: 10, warmupMs: 2000, measureMs: 10000, repeats: 3 },
    w6: { watchers: 500, churners: 10, rate: 20, warmupMs: 2000, measureMs: 10000 },
    w7: { messages: 50000, warmupMs: 2000, measureMs: 10000 },
    baselineSteps: "grid",
    retries: 3,
  },
};
const P = PROFILES[profileName];
/** Other processes using more than this many cores during a window: measure again. */
const DISTURBED_ABOVE = 0.3;
const MSG_BYTES = 100;
const PAIRS = 20;

const t0 = performance.now();
const log = (/** @type {string} */ text) =>
  process.stderr.write(
    `[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${text}\n`,
  );

if (flags["wait-quiet"]) {
  const until = performance.now() + Number(flags["wait-quiet"]) * 1000;
  for (;;) {
    const a = machineBusySeconds();
    const own = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 3000));
    const usage = process.cpuUsage(own);
    const others = (machineBusySeconds() - a - (usage.user + usage.system) / 1e6) / 3;
    if (others < 0.3) break;
    if (performance.now() > until) {
      log(`the machine is still busy (${others.toFixed(2)} cores): measuring anyway`);
      break;
    }
    log(`waiting for a quiet machine: other processes use ${others.toFixed(2)} cores`);
  }
}

const pinning = tasksetSupport();
const serverCore = pinning.available ? 0 : null;
if (!pinning.available) log(`no core pinning: ${pinning.reason}`);
const machine = machineInfo();
const loadStart = loadavg().map((v) => Math.round(v * 100) / 100);
const nice = Number(flags.nice);
if (!Number.isInteger(nice) || nice < -20 || nice > 19)
  fail("--nice must be an integer from -20 to 19");
const gen = await startGenerator({ pinCore: pinning.available ? 1 : null, nice });

/** @type {import("./lib/report.mjs").Row[]} */
const rows = [];
/** @type {Record<string, any>} */
const details = {};

/**
 * Adds a row; the ratio is filled in at the end from the baseline's row.
 * @param {Omit<import("./lib/report.mjs").Row, "ratio">} row
 */
const add = (row) => rows.push({ ratio: null, ...row });

/**
 * Runs `job` on a fresh server of `kind`; measures again while other processes disturbed
 * it (see DISTURBED_ABOVE), up to the profile's retries. `disturbance(result)` gives the
 * other processes' cores of the result's windows.
 * @param {import("./lib/targets.mjs").TargetKind} kind
 * @param {Record<string, unknown>} job
 * @param {{ inspect?: boolean, disturbance?: (r: any) => number }} [options]
 */
async function measure(kind, job, options = {}) {
  const disturbance = options.disturbance ?? ((/** @type {any} */ r) => r.otherCores ?? 0);
  for (let attempt = 0; ; attempt++) {
    const target = await startTarget(kind, {
      pinCore: serverCore,
      nice,
      inspect: options.inspect,
      ...(kind === "reference" && { server: serverPath }),
    });
    let result;
    try {
      result = await gen.run({
        url: target.url,
        serverPid: target.pid,
        inspector: target.inspector,
        msgBytes: MSG_BYTES,
        ...job,
      });
    } finally {
      const stopped = await target.stop();
      if (stopped.killed || stopped.exitCode !== 0) {
        log(`${kind}: stopped with ${stopped.killed ? "SIGKILL" : `exit ${stopped.exitCode}`}`);
      }
    }
    const other = disturbance(result);
    result.attempts = attempt + 1;
    if (other <= DISTURBED_ABOVE || attempt >= P.retries) {
      if (other > DISTURBED_ABOVE) result.disturbed = other;
      return result;
    }
    log(`${kind} ${job.type}: other processes took ${other.toFixed(2)} cores; measuring again`);
  }
}

/** The note of a disturbed or generator-limited result. @param {any} r */
function noteOf(r) {
  const notes = [];
  if (r.disturbed) notes.push(`disturbed: other processes used ${r.disturbed.toFixed(2)} cores`);
  if (r.generatorLimited) notes.push("generator late (send lag p99 over 10 ms)");
  if (r.sustained === false) notes.push("not sustained");
  return notes.length ? notes.join("; ") : undefined;
}

/**
 * The first rate of W2's ladder (from `start`, each step the last × `factor`, rounded, as
 * the ladder itself steps) at or above `rate`.
 * @param {number} start @param {number} factor @param {number} rate
 */
function ladderStepAtLeast(start, factor, rate) {
  let step = start;
  while (step < rate) step = Math.round(step * factor);
  return step;
}

/** Drops the bulky parts of a result (histograms, curves, timelines) for the JSON details. */
const slim = (/** @type {any} */ r) =>
  JSON.parse(
    JSON.stringify(r, (k, v) => (k === "hdr" || k === "curve" || k === "timeline" ? undefined : v)),
  );

/**
 * One open-loop direct-message step on a fresh server of `kind` (its own database, so that
 * no step inherits another's rows or backlog).
 * @param {import("./lib/targets.mjs").TargetKind} kind
 * @param {{ rate: number, warmupMs: number, measureMs: number }} step
 */
function directStep(kind, step) {
  return measure(
    kind,
    {
      type: "direct",
      pairs: PAIRS,
      steps: [step],
      drainMs: 3000,
      stopWhenSaturated: false,
      smoke: flags.smoke,
    },
    { disturbance: (r) => r.steps[0].otherCores },
  ).then((r) => ({
    ...r.steps[0],
    attempts: r.attempts,
    disturbed: r.disturbed,
  }));
}

// ---- W1: idle sessions ---------------------------------------------------------------------

if (selected.has("W1") || selected.has("B0")) {
  for (const kind of /** @type {const} */ (["reference", "B0"])) {
    if (kind === "reference" && !selected.has("W1")) continue;
    log(`W1 idle sessions on ${kind}: ${P.w1.counts.join(", ")}`);
    const r = await measure(
      kind,
      { type: "idle", ...P.w1 },
      { inspect: true, disturbance: () => 0 },
    );
    details[`W1 ${kind}`] = r;
    for (const p of r.points) {
      add({
        workload: kind === "reference" ? "W1" : "B0",
        metric: `RSS per idle session at ${p.sessions} sessions`,
        value: p.kbPerSession,
        unit: "KB",
        baseline: kind === "reference" ? "B0" : null,
        better: "lower",
        note: r.gcForced ? "after a full GC (inspector)" : "no GC forced",
      });
    }
  }
}

// ---- W2: the knee --------------------------------------------------------------------------

/** @type {number | null} */
let knee = null;
let kneeSource = "W2 of this run";
/** @type {any[]} */
const w2Steps = [];
if (selected.has("W2")) {
  // Up by the profile's factor from its start until a step is not sustained; when even the
  // first is not, down by halves (to 100 msg/s) until one is.
  let rate = P.w2.start;
  let down = false;
  for (let n = 0; n < P.w2.maxSteps + 5; n++) {
    const s = await directStep("reference", {
      rate,
      warmupMs: P.w2.warmupMs,
      rampMs: P.w2.rampMs,
      measureMs: P.w2.measureMs,
    });
    s.note = noteOf(s);
    w2Steps.push(s);
    log(
      `W2 ${rate} msg/s: delivered ${Math.round(s.deliveredPerS)}/s, ${Math.round(s.msgsPerCpuS)} msg/CPU-s, server ${s.serverCores.toFixed(2)} cores, ack p99 ${s.ack.p99.toFixed(1)} ms${s.sustained ? "" : " (not sustained)"}`,
    );
    if (s.sustained) {
      knee = rate;
      if (down) break;
    } else if (knee === null && n === 0 && P.w2.stopWhenSaturated) down = true;
    else if (P.w2.stopWhenSaturated) break;
    if (down) {
      rate = Math.round(rate / 2);
      if (rate < 100) break;
    } else {
      rate = Math.round(rate * P.w2.factor);
      if (w2Steps.length >= P.w2.maxSteps) break;
    }
  }
  w2Steps.sort((a, b) => a.rate - b.rate);
  details.W2 = w2Steps.map(slim);
} else {
  knee = flags.knee ? Number(flags.knee) : null;
  kneeSource = "--knee";
  if (knee === null) {
    try {
      const prev = JSON.parse(readFileSync(join(outDir, "latest.json"), "utf8"));
      knee =
        prev.rows.find((/** @type {any} */ r) => r.workload === "W2" && r.metric.startsWith("knee"))
          ?.value ?? null;
      kneeSource = `${relative(ROOT, join(outDir, "latest.json"))}`;
    } catch {}
  }
  if (knee === null) {
    knee = 2000;
    kneeSource = "default (W2 not run)";
  }
}
const kneeRate = knee ?? P.w2.start;
const w3Rate = Math.max(50, Math.round(kneeRate / 2));
// The warm-up's worst delivery at the knee (lib/loadgen.mjs `warmupWorstMs`): the measured
// window starts after it, so the cold start is reported here rather than hidden.
const coldStartMetric = `worst send→deliver in the warm-up at ${kneeRate} msg/s (fresh server, rate ramped over ${P.w2.rampMs} ms)`;

if (selected.has("W2")) {
  const kneeStep = w2Steps.find((s) => s.rate === knee);
  const failing = w2Steps.find((s) => !s.sustained && s.rate > (knee ?? 0));
  add({
    workload: "W2",
    metric: "knee: highest sustained offered rate",
    value: knee ?? 0,
    unit: "msg/s",
    baseline: null,
    better: "higher",
    note:
      knee === null
        ? `no step sustained (from ${P.w2.start} msg/s)`
        : `steps ×${P.w2.factor} from ${P.w2.start}; next step ${failing ? `${failing.rate} failed` : "not reached"}${failing?.generatorLimited ? " (generator late: a lower bound)" : ""}`,
  });
  add({
    workload: "W2",
    metric: "highest delivered rate",
    value: Math.max(...w2Steps.map((s) => s.deliveredPerS)),
    unit: "msg/s",
    baseline: null,
    better: "higher",
  });
  if (kneeStep) {
    for (const b of ["B1", "B0"]) {
      add({
        workload: "W2",
        metric: `messages per server CPU-second at ${kneeRate} msg/s (the knee)`,
        value: kneeStep.msgsPerCpuS,
        unit: "msg/CPU-s",
        baseline: b,
        better: "higher",
        note: noteOf(kneeStep),
      });
    }
    add({
      workload: "W2",
      metric: "server CPU at the knee",
      value: kneeStep.serverCores,
      unit: "cores",
      baseline: null,
      better: "lower",
    });
    add({
      workload: "W2",
      metric: coldStartMetric,
      value: kneeStep.warmupWorstMs,
      unit: "ms",
      baseline: "B1",
      better: "lower",
      note: "how a freshly started server met the load; no target",
    });
  }
}

// ---- baselines B0 and B1 at the knee and at W3's rate -------------------------------------

const LAT = /** @type {const} */ ([
  ["deliver", "send→deliver"],
  ["ack", "send→ack"],
]);
const PCT = /** @type {const} */ ([
  ["p50", "p50"],
  ["p99", "p99"],
  ["p999", "p99.9"],
]);
/** @type {Record<string, any>} */
const baseRuns = {};
const wantDirectBaselines = ["W2", "W3", "B0", "B1"].some((w) => selected.has(w));
if (wantDirectBaselines) {
  for (const kind of /** @type {const} */ (["B0", "B1"])) {
    if (!selected.has("W2") && !selected.has("W3") && !selected.has(kind)) continue;
    const runs = {};
    log(`${kind}: at the W3 rate ${w3Rate} msg/s and the knee ${kneeRate} msg/s`);
    const w3 = await directStep(kind, { rate: w3Rate, ...P.w3 });
    const atKnee = await directStep(kind, {
      rate: kneeRate,
      warmupMs: P.w2.warmupMs,
      rampMs: P.w2.rampMs,
      measureMs: P.w2.measureMs,
    });
    Object.assign(runs, { w3, atKnee });
    if (P.baselineSteps === "grid" && w2Steps.length > 0) {
      runs.grid = [];
      for (const s of w2Steps) {
        runs.grid.push(
          await directStep(kind, {
            rate: s.rate,
            warmupMs: P.w2.warmupMs,
            rampMs: P.w2.rampMs,
            measureMs: P.w2.measureMs,
          }),
        );
      }
    }
    baseRuns[kind] = runs;
    add({
      workload: kind,
      metric: `messages per server CPU-second at ${kneeRate} msg/s (the knee)`,
      value: atKnee.msgsPerCpuS,
      unit: "msg/CPU-s",
      baseline: null,
      better: "higher",
      note: noteOf(atKnee),
    });
    add({
      workload: kind,
      metric: coldStartMetric,
      value: atKnee.warmupWorstMs,
      unit: "ms",
      baseline: null,
      better: "lower",
    });
    for (const [key, name] of LAT) {
      for (const [p, pname] of PCT) {
        add({
          workload: kind,
          metric: `${name} ${pname} at ${w3Rate} msg/s`,
          value: w3[key][p],
          unit: "ms",
          baseline: null,
          better: "lower",
          note: noteOf(w3),
        });
      }
    }
  }
  details.baselines = Object.fromEntries(
    Object.entries(baseRuns).map(([k, v]) => [
      k,
      { w3: slim(v.w3), atKnee: slim(v.atKnee), grid: v.grid?.map(slim) },
    ]),
  );
}

// ---- W2 against B1 at the knee, in interleaved pairs ---------------------------------------

// The W2-to-B1 ratio is the closest of the targets, and one run of each cannot tell 0.66×
// from 0.80× on a shared machine (three quick runs of one build gave both, issue 11). So
// the knee step and B1 at the knee are measured again in interleaved pairs (B1, W2, W2, B1,
// …): the first pair is the ladder's knee step with B1's run above; the verdict on the
// target reads every pair.
const kneeStep = w2Steps.find((s) => s.rate === knee);
if (kneeStep && baseRuns.B1?.atKnee && P.w2.kneePairs > 1) {
  /** @type {Record<"reference" | "B1", any[]>} */
  const pairRuns = { reference: [kneeStep], B1: [baseRuns.B1.atKnee] };
  for (let k = 1; k < P.w2.kneePairs; k++) {
    for (const kind of /** @type {const} */ (
      k % 2 === 1 ? ["B1", "reference"] : ["reference", "B1"]
    )) {
      log(`W2 pair ${k + 1}/${P.w2.kneePairs}: ${kind} at the knee ${kneeRate} msg/s`);
      pairRuns[kind].push(
        await directStep(kind, {
          rate: kneeRate,
          warmupMs: P.w2.warmupMs,
          rampMs: P.w2.rampMs,
          measureMs: P.w2.measureMs,
        }),
      );
    }
  }
  const pairs = pairRatios(
    pairRuns.reference.map((r) => r.msgsPerCpuS),
    pairRuns.B1.map((r) => r.msgsPerCpuS),
  );
  details.W2KneePairs = {
    ratios: pairs.ratios,
    reference: pairRuns.reference.map(slim),
    B1: pairRuns.B1.map(slim),
  };
  const w2b1 = rows.find(
    (r) => r.workload === "W2" && r.baseline === "B1" && r.metric.startsWith("messages per"),
  );
  if (w2b1 && pairs.min !== null && pairs.max !== null) {
    const range = `ratios of the ${pairs.ratios.length} interleaved pairs ${pairs.min.toFixed(2)}–${pairs.max.toFixed(2)}×`;
    w2b1.note = [range, w2b1.note].filter(Boolean).join("; ");
  }
}

// ---- B1 at the knee's target rate ------------------------------------------------------------

// The knee's target is an absolute rate (4x the issue's 5k msg/s), and machines differ by 2x
// (B0 11.9k and 22.4k messages per CPU-second on two machines of one day). Whether B1, the
// durable floor, sustains it here says whether a knee under it is the server's shortfall or
// the machine's. The ladder's knee meets the target only at a step at or above it, so B1
// runs at that step (21,836 msg/s on the quick profile's ladder for 20,000), not at the
// target's rate itself. The smoke profile's `floorRate` is small, for the harness only.
const floorStep = ladderStepAtLeast(P.w2.start, P.w2.factor, P.w2.floorRate);
if (selected.has("W2") && knee !== null && knee < floorStep) {
  log(`B1 at ${floorStep} msg/s, the ladder's first step at or above the knee's target`);
  const s = await directStep("B1", {
    rate: floorStep,
    warmupMs: P.w2.warmupMs,
    rampMs: P.w2.rampMs,
    measureMs: P.w2.measureMs,
  });
  log(
    `B1 at ${floorStep} msg/s: delivered ${Math.round(s.deliveredPerS)}/s${s.sustained ? "" : " (not sustained)"}${s.generatorLimited ? " (generator late)" : ""}`,
  );
  details.B1AtKneeTarget = slim(s);
}

// ---- W3: latency at half the knee ---------------------------------------------------------

/** @type {any} */
let w3 = null;
if (selected.has("W3")) {
  log(`W3 latency at ${w3Rate} msg/s (half the knee, ${kneeSource})`);
  w3 = await directStep("reference", { rate: w3Rate, ...P.w3 });
  details.W3 = {
    ...slim(w3),
    rate: w3Rate,
    kneeSource,
    hdr: { deliver: w3.deliver.hdr, ack: w3.ack.hdr },
  };
  for (const [key, name] of LAT) {
    for (const [p, pname] of PCT) {
      add({
        workload: "W3",
        metric: `${name} ${pname} at ${w3Rate} msg/s`,
        value: w3[key][p],
        unit: "ms",
        baseline: "B1",
        better: "lower",
        note: noteOf(w3),
      });
    }
  }
}

// ---- W4: offline drain --------------------------------------------------------------------

if (selected.has("W4")) {
  log(`W4 offline drain of ${P.w4.messages} messages`);
  const r = await measure("reference", { type: "offline", fillConns: 4, window: 200, ...P.w4 });
  details.W4 = r;
  const note = noteOf(r);
  add({
    workload: "W4",
    metric: `drain rate (${r.messages} offline messages, session/open → last delivery)`,
    value: r.drainPerS,
    unit: "msg/s",
    baseline: null,
    better: "higher",
    note,
  });
  add({
    workload: "W4",
    metric: "drained messages per server CPU-second (acks included)",
    value: r.msgsPerCpuS,
    unit: "msg/CPU-s",
    baseline: null,
    better: "higher",
    note,
  });
  add({
    workload: "W4",
    metric: "session/open → first offline delivery",
    value: r.firstDeliveryMs,
    unit: "ms",
    baseline: null,
    better: "lower",
    note,
  });
  add({
    workload: "W4",
    metric: `fill: messages stored for the offline peer per second (closed loop, 200 in flight, up to ${r.messages} pending)`,
    value: r.fillPerS,
    unit: "msg/s",
    baseline: null,
    better: "higher",
    note,
  });
}

// ---- W5 and BF: group fan-out -------------------------------------------------------------

if (["W5", "BF"].some((w) => selected.has(w))) {
  // W5 and BF take a few tenths of a core for a few seconds, where the CPU time per delivery
  // moves by tens of percent from one minute to the next on a shared machine (0.41× and
  // 0.74× in two runs ten minutes apart). So each is measured `repeats` times, interleaved
  // ABBA (W5, BF, BF, W5, …) so that a drift weighs on both alike, and each row reports the
  // median run; details keep every run.
  const kinds = /** @type {const} */ (["reference", "BF"]).filter((k) =>
    // W5 brings BF, as --help says a workload brings the baselines its ratios need.
    k === "reference" ? selected.has("W5") : true,
  );
  const { repeats, ...w5 } = P.w5;
  /** @type {Record<string, any[]>} */
  const runs = { reference: [], BF: [] };
  for (let rep = 0; rep < repeats; rep++) {
    for (const kind of rep % 2 === 0 ? kinds : [...kinds].reverse()) {
      const wl = kind === "reference" ? "W5" : "BF";
      log(`${wl} fan-out to ${w5.members} members at ${w5.rate} msg/s (${rep + 1}/${repeats})`);
      runs[kind]?.push(await measure(kind, { type: "fanout", drainMs: 5000, ...w5 }));
    }
  }
  // The ratio of each interleaved pair (W5's run k over BF's run k): the median ratio alone
  // hides how far apart two pairs of one run can be on a noisy machine.
  const pairs = pairRatios(
    runs.reference.map((r) => r.deliveriesPerCpuS),
    runs.BF.map((r) => r.deliveriesPerCpuS),
  );
  for (const kind of kinds) {
    const wl = kind === "reference" ? "W5" : "BF";
    const all = /** @type {any[]} */ (runs[kind]);
    const byRate = [...all].sort((a, b) => a.deliveriesPerCpuS - b.deliveriesPerCpuS);
    const r = byRate[Math.floor((byRate.length - 1) / 2)];
    details[wl] = {
      ...slim(r),
      runs: all.map(slim),
      ...(kind === "reference" && pairs.ratios.length > 0 && { pairRatios: pairs.ratios }),
    };
    const metric = `deliveries per server CPU-second (${w5.members} members, ${r.offeredDeliveriesPerS} deliveries/s offered)`;
    const lo = Math.round(byRate[0].deliveriesPerCpuS).toLocaleString("en-US");
    const hi = Math.round(byRate.at(-1).deliveriesPerCpuS).toLocaleString("en-US");
    const spread = all.length > 1 ? `median of ${all.length} interleaved runs (${lo}–${hi})` : "";
    const pairSpread =
      kind === "reference" && pairs.ratios.length > 1
        ? `ratios of the ${pairs.ratios.length} pairs ${pairs.min?.toFixed(2)}–${pairs.max?.toFixed(2)}×`
        : "";
    const note = [spread, pairSpread, noteOf(r)].filter(Boolean).join("; ") || undefined;
    add({
      workload: wl,
      metric,
      value: r.deliveriesPerCpuS,
      unit: "deliveries/CPU-s",
      baseline: kind === "reference" ? "BF" : null,
      better: "higher",
      note,
    });
    add({
      workload: wl,
      metric: "send→deliver p99 (every member)",
      value: r.deliver.p99,
      unit: "ms",
      baseline: kind === "reference" ? "BF" : null,
      better: "lower",
      note: noteOf(r),
    });
  }
}

// ---- W6: presence churn -------------------------------------------------------------------

if (selected.has("W6")) {
  log(
    `W6 presence churn: ${P.w6.churners} peers opening and closing, ${P.w6.rate} ops/s, ${P.w6.watchers} watchers`,
  );
  const r = await measure("reference", { type: "presence", drainMs: 5000, ...P.w6 });
  details.W6 = slim(r);
  const note = noteOf(r);
  // No ratio: BF's deliveries are each acked by their member, presence notices are not,
  // so the two per-CPU-second figures do not measure the same work.
  add({
    workload: "W6",
    metric: `presence notices per server CPU-second (${r.watchers} watchers, ${r.offeredNoticesPerS}/s offered)`,
    value: r.noticesPerCpuS,
    unit: "notices/CPU-s",
    baseline: null,
    better: "higher",
    note,
  });
  add({
    workload: "W6",
    metric: "open/close → watcher's presence p99",
    value: r.notice.p99,
    unit: "ms",
    baseline: null,
    better: "lower",
    note,
  });
  add({
    workload: "W6",
    metric: "open/close → reply p99",
    value: r.op.p99,
    unit: "ms",
    baseline: null,
    better: "lower",
    note,
  });
}

// ---- W7: history paging -------------------------------------------------------------------

if (selected.has("W7")) {
  log(`W7 history paging over ${P.w7.messages} messages`);
  const r = await measure("reference", {
    type: "history",
    window: 200,
    readers: 4,
    inFlight: 2,
    limit: 100,
    ...P.w7,
  });
  details.W7 = slim(r);
  const note = noteOf(r);
  add({
    workload: "W7",
    metric: `pages per second (limit 100, ${r.messages} messages, ${r.concurrency} in flight, closed loop)`,
    value: r.pagesPerS,
    unit: "pages/s",
    baseline: null,
    better: "higher",
    note,
  });
  add({
    workload: "W7",
    metric: "pages per server CPU-second",
    value: r.pagesPerCpuS,
    unit: "pages/CPU-s",
    baseline: null,
    better: "higher",
    note,
  });
  add({
    workload: "W7",
    metric: "page round trip p99",
    value: r.page.p99,
    unit: "ms",
    baseline: null,
    better: "lower",
    note,
  });
}

await gen.stop();

// ---- ratios and outputs -------------------------------------------------------------------

for (const row of rows) {
  if (!row.baseline) continue;
  const base = rows.find(
    (b) => b.workload === row.baseline && b.metric === (row.baselineMetric ?? row.metric),
  );
  row.ratio = base && base.value !== 0 ? row.value / base.value : null;
  if (!base) row.baseline = null;
}

/** The commit the server was built from, and whether its source differed from it. */
function sourceState() {
  const git = (/** @type {string[]} */ args) => {
    try {
      return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    } catch {
      return "";
    }
  };
  const dirty = git(["status", "--porcelain", "--", "reference-server/src", "schemas/src"]);
  return {
    commit: git(["rev-parse", "--short", "HEAD"]) || "unknown",
    uncommittedServerFiles: dirty ? dirty.split("\n").length : 0,
  };
}

const run = {
  tool: "bench/run.mjs",
  source: sourceState(),
  profile: profileName,
  only: [...selected],
  date: new Date().toISOString(),
  durationS: (performance.now() - t0) / 1000,
  server: relative(ROOT, serverPath) || serverPath,
  pinning,
  serverNodeFlags: pinning.available ? PINNED_NODE_FLAGS : [],
  generatorPinned: gen.pinned,
  nice,
  loadavg: { start: loadStart, end: loadavg().map((v) => Math.round(v * 100) / 100) },
  disturbedAbove: DISTURBED_ABOVE,
  retries: P.retries,
  knee,
  kneeSource,
  w3Rate,
  pairs: PAIRS,
  msgBytes: MSG_BYTES,
  referenceConfig: REFERENCE_CONFIG,
  referenceConfigWhy: REFERENCE_CONFIG_WHY,
  profileSettings: P,
  w2Steps: w2Steps.map(slim),
};
const targets = verdicts({ rows, details });
const results = {
  machine: { ...machine, taskset: pinning.available },
  run,
  rows,
  targets,
  details,
};
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, "latest.json"), formatJson(results));
writeFileSync(join(outDir, "latest.md"), markdown(results));

if (w3) {
  const curves = [
    { name: "W3 reference send→deliver", curve: w3.deliver.curve },
    { name: "W3 reference send→ack", curve: w3.ack.curve },
  ];
  for (const kind of ["B1", "B0"]) {
    const b = baseRuns[kind]?.w3;
    if (b) curves.push({ name: `${kind} send→deliver`, curve: b.deliver.curve });
  }
  writeFileSync(
    join(outDir, "w3-latency.svg"),
    latencySvg(curves, `W3: direct-message latency at ${w3Rate} msg/s (${PAIRS} pairs, open loop)`),
  );
}
if (w2Steps.length > 0) {
  const extra = ["B1", "B0"].flatMap((kind) => {
    const b = baseRuns[kind];
    if (!b) return [];
    const pts = (b.grid ?? [b.w3, b.atKnee]).map(
      (/** @type {any} */ s) => /** @type {[number, number]} */ ([s.rate, s.deliveredPerS]),
    );
    return [{ name: `${kind}`, points: pts }];
  });
  writeFileSync(join(outDir, "w2-throughput.svg"), throughputSvg(w2Steps, knee, extra));
  const eff = ["B1", "B0"].flatMap((kind) => {
    const b = baseRuns[kind];
    if (!b) return [];
    const pts = (b.grid ?? [b.w3, b.atKnee]).map(
      (/** @type {any} */ s) => /** @type {[number, number]} */ ([s.rate, s.msgsPerCpuS]),
    );
    return [{ name: kind, points: pts, markers: true }];
  });
  const xMax = niceCeil(Math.max(...w2Steps.map((s) => s.rate)));
  writeFileSync(
    join(outDir, "w2-efficiency.svg"),
    lineChart({
      title: "W2: messages per server CPU-second against the offered rate",
      xLabel: "offered rate, msg/s (open loop)",
      yLabel: "msg per server CPU-second",
      xMax,
      xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1].map((f) => ({
        at: Math.round(xMax * f),
        label: String(Math.round(xMax * f)),
      })),
      series: [
        {
          name: "reference server",
          points: w2Steps.map((s) => [s.rate, s.msgsPerCpuS]),
          markers: true,
        },
        ...eff,
      ],
      vlines: knee === null ? [] : [{ at: knee, label: `knee ${knee}` }],
    }),
  );
}
log(
  `wrote ${relative(process.cwd(), join(outDir, "latest.json"))} and latest.md (${rows.length} rows)`,
);
process.stdout.write(readFileSync(join(outDir, "latest.md"), "utf8"));
