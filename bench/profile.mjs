#!/usr/bin/env node
/**
 * CPU profile of the reference server under W2 or W5 load, for the performance work of
 * issue 11: runs the server with `node --cpu-prof` (its code untouched) into
 * bench/results/profiles/, drives it with the benchmark's load generator, stops it with
 * SIGTERM (the profile is written at exit), and prints where its time went: the functions
 * with the most self time, and the time by area (the SQLite store, better-sqlite3, ws, the
 * core, the adapter, the protocol package, Node itself, GC), both self and inclusive.
 *
 *   node bench/profile.mjs W2 [--rate 3000] [--seconds 10]
 *   node bench/profile.mjs W5 [--rate 10] [--seconds 10]
 *   node bench/profile.mjs W5 --target BF                  # a baseline under the same load
 *   node bench/profile.mjs W2 --rate 3578 --gc             # its collections, not a profile
 *   node bench/profile.mjs W5 --perf [--target BF]         # Linux perf: kernel and V8 too
 *   node bench/profile.mjs --read FILE.cpuprofile          # only the report of a profile
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { formatGc, parseGcTrace, summarizeGc } from "./lib/gc.mjs";
import { startGenerator } from "./lib/generator.mjs";
import { formatPerf, parsePerfScript, summarizePerf } from "./lib/perf.mjs";
import { cpuSeconds, tasksetSupport } from "./lib/proc.mjs";
import { formatJson } from "./lib/report.mjs";
import { ROOT, startTarget } from "./lib/targets.mjs";

const USAGE = `Usage: node bench/profile.mjs W2|W5 [options]

  --rate R        W2: msg/s (default 80% of the knee in bench/results/latest.json, else 3000);
                  W5: group messages/s to 500 members (default 10)
  --seconds S     measured seconds after a 1 s warm-up (default 10)
  --top N         functions listed (default 25)
  --out DIR       where the profile and its report go (default bench/results/profiles)
  --target T      reference (default), or a baseline: B0, B1 or BF, to see under the same load
                  what the reference server does that the bare relay does not
  --gc            instead of a CPU profile, the server's collections under the load
                  (V8's --trace-gc-nvp): count, pauses, what survived each scavenge
  --perf          instead of a CPU profile, Linux perf's samples of the measured window
                  (the kernel, V8's builtins and GC, SQLite included), in µs per delivery
                  (W5) or message (W2); needs perf (Debian package linux-perf)
  --read FILE     report on an existing .cpuprofile instead of running
  --nice N        niceness of the server and the generator (negative: root only; default 0)
  -h, --help      this text`;

// `--nice -10`: parseArgs takes a value that starts with a dash only as `--nice=-10`.
const argv = process.argv.slice(2);
for (let k = argv.indexOf("--nice"); k >= 0 && k + 1 < argv.length; k = -1) {
  argv.splice(k, 2, `--nice=${argv[k + 1]}`);
}
const { values: flags, positionals } = parseArgs({
  args: argv,
  allowPositionals: true,
  options: {
    rate: { type: "string" },
    seconds: { type: "string", default: "10" },
    top: { type: "string", default: "25" },
    out: { type: "string", default: join(ROOT, "bench/results/profiles") },
    read: { type: "string" },
    nice: { type: "string", default: "0" },
    target: { type: "string", default: "reference" },
    gc: { type: "boolean", default: false },
    perf: { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const top = Number(flags.top);

/**
 * The area a script belongs to, from its URL.
 * @param {string} url
 */
function areaOf(url) {
  if (
    url.includes("/reference-server/dist/src/store/") ||
    url.includes("/reference-server/src/store/")
  )
    return "store (sqlite-store, sweeper)";
  if (url.includes("/node_modules/better-sqlite3/")) return "better-sqlite3";
  if (
    url.includes("/reference-server/dist/src/core/") ||
    url.includes("/reference-server/src/core/")
  )
    return "core (engine, handlers)";
  if (
    url.includes("/reference-server/dist/src/adapter/") ||
    url.includes("/reference-server/src/adapter/")
  )
    return "adapter (ws-adapter, http)";
  if (url.includes("/reference-server/")) return "server (other)";
  if (url.includes("/schemas/dist/") || url.includes("/schemas/src/"))
    return "protocol package (validation)";
  if (url.includes("/bench/baselines/")) return "baseline relay (bench/baselines)";
  if (url.includes("/node_modules/ajv")) return "ajv (validation)";
  if (url.includes("/node_modules/ws/")) return "ws";
  if (url.includes("/node_modules/")) return "other packages";
  if (url.startsWith("node:") || url === "") return "node internals";
  return "other";
}

/**
 * Reads a .cpuprofile: self time per function, and self and inclusive time per area.
 * Native frames (no URL: SQLite's statements, JSON.parse, socket writes) are charged to the
 * area of the nearest caller that has one.
 * @param {string} path
 */
export function analyse(path) {
  const prof = JSON.parse(readFileSync(path, "utf8"));
  /** @type {Map<number, any>} */
  const nodes = new Map(prof.nodes.map((/** @type {any} */ n) => [n.id, n]));
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Time of each sample: the delta to the next one (the last gets the mean).
  const deltas = prof.timeDeltas ?? [];
  /** @type {Map<number, number>} self µs per node */
  const self = new Map();
  const samples = prof.samples ?? [];
  const totalUs = prof.endTime - prof.startTime;
  const mean = samples.length ? totalUs / samples.length : 0;
  for (let k = 0; k < samples.length; k++) {
    const dt = k + 1 < deltas.length ? deltas[k + 1] : mean;
    self.set(samples[k], (self.get(samples[k]) ?? 0) + dt);
  }
  const special = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);
  /** @param {number} id */
  const areaOfNode = (id) => {
    const n = nodes.get(id);
    const name = n.callFrame.functionName;
    if (special.has(name)) return name === "(garbage collector)" ? "GC" : name;
    for (let cur = id; cur !== undefined; cur = /** @type {number} */ (parent.get(cur))) {
      const url = nodes.get(cur)?.callFrame.url ?? "";
      if (url !== "") return areaOf(url);
    }
    return "node internals";
  };
  /** @type {Map<string, { name: string, where: string, area: string, us: number }>} */
  const fns = new Map();
  /** @type {Map<string, number>} */
  const areaSelf = new Map();
  /** @type {Map<string, number>} */
  const areaIncl = new Map();
  let busyUs = 0;
  for (const [id, us] of self) {
    const n = nodes.get(id);
    const cf = n.callFrame;
    const area = areaOfNode(id);
    if (area !== "(idle)") busyUs += us;
    const where = cf.url
      ? `${relative(ROOT, cf.url.replace(/^file:\/\//, ""))}:${cf.lineNumber + 1}`
      : "(native)";
    const key = `${cf.functionName}\u0000${where}`;
    const f = fns.get(key) ?? { name: cf.functionName || "(anonymous)", where, area, us: 0 };
    f.us += us;
    fns.set(key, f);
    areaSelf.set(area, (areaSelf.get(area) ?? 0) + us);
    // Inclusive: every area on the stack of this sample, once each.
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = /** @type {number} */ (parent.get(cur))) {
      const url = nodes.get(cur)?.callFrame.url ?? "";
      if (url === "") continue;
      const a = areaOf(url);
      if (seen.has(a)) continue;
      seen.add(a);
      areaIncl.set(a, (areaIncl.get(a) ?? 0) + us);
    }
  }
  const pct = (/** @type {number} */ us) => (busyUs > 0 ? (100 * us) / busyUs : 0);
  return {
    file: path,
    wallS: totalUs / 1e6,
    busyS: busyUs / 1e6,
    functions: [...fns.values()]
      .filter((f) => f.area !== "(idle)")
      .sort((a, b) => b.us - a.us)
      .map((f) => ({ ...f, ms: f.us / 1000, pct: pct(f.us) })),
    areasSelf: [...areaSelf.entries()]
      .filter(([a]) => a !== "(idle)")
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: us / 1000, pct: pct(us) })),
    areasInclusive: [...areaIncl.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: us / 1000, pct: pct(us) })),
  };
}

/** The report as text. @param {ReturnType<typeof analyse>} a @param {string} title */
function report(a, title) {
  const lines = [
    title,
    `profile ${relative(ROOT, a.file)}: ${a.wallS.toFixed(1)} s of wall time, ${a.busyS.toFixed(2)} s busy (not idle); percentages are of the busy time`,
    "",
    "self time by area (native frames charged to their JS caller's area):",
    ...a.areasSelf.map(
      (x) => `  ${x.pct.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(7)} ms  ${x.area}`,
    ),
    "",
    "inclusive time by area (a sample counts for every area on its stack):",
    ...a.areasInclusive.map(
      (x) => `  ${x.pct.toFixed(1).padStart(5)}%  ${x.ms.toFixed(0).padStart(7)} ms  ${x.area}`,
    ),
    "",
    `top ${top} functions by self time:`,
    ...a.functions
      .slice(0, top)
      .map(
        (f) =>
          `  ${f.pct.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(7)} ms  ${f.name}  ${f.where}  [${f.area}]`,
      ),
  ];
  return `${lines.join("\n")}\n`;
}

if (flags.read) {
  process.stdout.write(report(analyse(flags.read), `report of ${flags.read}`));
  process.exit(0);
}

const workload = (positionals[0] ?? "").toUpperCase();
if (workload !== "W2" && workload !== "W5") {
  process.stderr.write(`profile: name W2 or W5\n${USAGE}\n`);
  process.exit(2);
}
const kind = flags.target === "reference" ? "reference" : String(flags.target).toUpperCase();
if (!["reference", "B0", "B1", "BF"].includes(kind)) {
  process.stderr.write(`profile: --target is reference, B0, B1 or BF\n${USAGE}\n`);
  process.exit(2);
}
// Group messages need rooms, which only BF among the baselines has.
if (workload === "W5" && kind !== "reference" && kind !== "BF") {
  process.stderr.write("profile: W5 needs rooms: --target reference or BF\n");
  process.exit(2);
}
if (flags.gc && flags.perf) {
  process.stderr.write("profile: --gc or --perf, not both\n");
  process.exit(2);
}
if (flags.perf && spawnSync("perf", ["--version"]).status !== 0) {
  process.stderr.write(
    "profile: --perf needs Linux perf on the PATH (Debian package linux-perf)\n",
  );
  process.exit(2);
}
const seconds = Number(flags.seconds);
let rate = flags.rate ? Number(flags.rate) : workload === "W5" ? 10 : 0;
if (!rate) {
  try {
    const latest = JSON.parse(readFileSync(join(ROOT, "bench/results/latest.json"), "utf8"));
    const knee = latest.rows.find(
      (/** @type {any} */ r) => r.workload === "W2" && r.metric.startsWith("knee"),
    )?.value;
    rate = knee ? Math.round(knee * 0.8) : 3000;
  } catch {
    rate = 3000;
  }
}
const outDir = flags.out ?? join(ROOT, "bench/results/profiles");
mkdirSync(outDir, { recursive: true });
const prefix = kind === "reference" ? workload : `${workload}-${kind}`;
const name = `${prefix}-${rate}-${new Date().toISOString().replace(/[:.]/g, "-")}`;
const pinning = tasksetSupport();
// Node's own file names, in a directory of this run's: every thread writes a profile (the
// store's checkpointer is a worker), and under one fixed --cpu-prof-name the thread that
// exited last overwrote the others, so the report was of the worker now and then.
const rawDir = join(outDir, `${name}.threads`);
const cpuProfile = !flags.gc && !flags.perf;
if (cpuProfile) mkdirSync(rawDir, { recursive: true });
const target = await startTarget(kind, {
  pinCore: pinning.available ? 0 : null,
  nice: Number(flags.nice),
  // --trace-gc-nvp: V8 prints a line per collection on stdout, which goes to the server's
  // log. --perf-basic-prof: V8 names its JIT code in /tmp/perf-<pid>.map for perf, and
  // --interpreted-frames-native-stack gives interpreted functions frames of their own.
  nodeArgs: flags.gc
    ? ["--trace-gc-nvp"]
    : flags.perf
      ? ["--perf-basic-prof", "--interpreted-frames-native-stack"]
      : ["--cpu-prof", `--cpu-prof-dir=${rawDir}`],
});
const perfData = join(outDir, `${name}.perf.data`);
/** perf record, attached to the server for the measured window only. */
const recorder = {
  /** @type {import("node:child_process").ChildProcess | undefined} */
  child: undefined,
  /** @type {Promise<number | null> | undefined} */
  exited: undefined,
  stderr: "",
  start() {
    if (this.child) return;
    const child = spawn(
      "perf",
      ["record", "-F", "1999", "-g", "-p", String(target.pid), "-o", perfData, "--quiet"],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    child.stderr?.on("data", (d) => {
      this.stderr += String(d);
    });
    this.exited = new Promise((res) => child.once("exit", (code) => res(code)));
    this.child = child;
  },
  async stop() {
    if (!this.child) return null;
    if (this.child.exitCode === null) this.child.kill("SIGINT");
    return this.exited;
  },
};
const serverLog = join(target.dir, "server.log");
const gen = await startGenerator({
  pinCore: pinning.available ? 1 : null,
  nice: Number(flags.nice),
});
process.stderr.write(
  `${flags.gc ? "tracing the collections of" : flags.perf ? "sampling (perf)" : "profiling"} ${kind === "reference" ? "the reference server" : kind} (pid ${target.pid}) under ${workload} at ${rate}/s for ${seconds} s\n`,
);
/** @type {any} */
let result;
/** @type {number | null} the server's CPU time over its whole life, from /proc */
let serverCpuS = null;
/** The server's log: its length when the load starts, then all of it once the load ended. */
let logStart = 0;
let log = Buffer.alloc(0);
let loadS = 0;
const loadStart = performance.now();
try {
  logStart = readFileSync(serverLog).length;
  const common = { url: target.url, serverPid: target.pid, msgBytes: 100, drainMs: 3000 };
  /** With --perf: perf samples the measured window only, not the set-up or the drain. */
  const onWindow = flags.perf
    ? (/** @type {"start" | "end"} */ edge) => {
        if (edge === "start") recorder.start();
        else recorder.stop();
      }
    : undefined;
  result =
    workload === "W2"
      ? (
          await gen.run(
            {
              ...common,
              type: "direct",
              pairs: 20,
              steps: [{ rate, warmupMs: 1000, measureMs: seconds * 1000 }],
              stopWhenSaturated: false,
            },
            onWindow,
          )
        ).steps[0]
      : await gen.run(
          {
            ...common,
            type: "fanout",
            members: 500,
            rate,
            warmupMs: 1000,
            measureMs: seconds * 1000,
          },
          onWindow,
        );
} finally {
  await recorder.stop();
  serverCpuS = cpuSeconds(target.pid);
  // Before the stop, which removes the log with the server's directory.
  if (flags.gc) log = readFileSync(serverLog);
  loadS = (performance.now() - loadStart) / 1000;
  await gen.stop();
  await target.stop();
}
if (flags.perf) {
  // The map of the server's JIT code stays in /tmp after it exits: read it, then remove it.
  const perfMap = `/tmp/perf-${target.pid}.map`;
  const script = spawnSync("perf", ["script", "-i", perfData, "-F", "period,ip,sym,dso"], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  rmSync(perfMap, { force: true });
  if (script.status !== 0 || recorder.child === undefined) {
    process.stderr.write(
      `profile: perf recorded nothing${recorder.child ? "" : " (the window never started)"}\n${recorder.stderr}${script.stderr ?? ""}\n`,
    );
    process.exit(1);
  }
  const units = result.deliveredPerS * result.wallS;
  const unit = workload === "W5" ? "delivery" : "message";
  const summary = summarizePerf(parsePerfScript(script.stdout), {
    units,
    cpuS: result.serverCpuS,
    areaOf,
    top,
  });
  const load =
    workload === "W2"
      ? `${Math.round(result.deliveredPerS)} msg/s delivered, ${Math.round(result.msgsPerCpuS)} msg per server CPU-second`
      : `${Math.round(result.deliveredPerS)} deliveries/s, ${Math.round(result.deliveriesPerCpuS)} per server CPU-second`;
  const text = [
    `${workload} at ${rate}/s on ${kind === "reference" ? "the reference server" : kind}: ${load}, over the measured window (${result.wallS.toFixed(1)} s, ${result.serverCpuS.toFixed(2)} s of server CPU from /proc)`,
    `perf data: ${perfData.startsWith(ROOT) ? relative(ROOT, perfData) : perfData}`,
    formatPerf(summary, unit),
  ].join("\n");
  writeFileSync(
    join(outDir, `${prefix}-perf-latest.json`),
    formatJson({
      workload,
      target: kind,
      rate,
      seconds,
      load,
      unit,
      units,
      windowS: result.wallS,
      windowCpuS: result.serverCpuS,
      ...summary,
    }),
  );
  writeFileSync(join(outDir, `${prefix}-perf-latest.txt`), text);
  process.stdout.write(text);
  process.exit(0);
}
if (flags.gc) {
  // The collections of the generator's job: the sessions it opens (and W5's group) come
  // first, then the warm-up, the measured seconds and the drain; and those of the whole
  // life, start-up included, for comparison.
  const during = parseGcTrace(log.subarray(logStart).toString("utf8"));
  const all = parseGcTrace(log.toString("utf8"));
  const summary = summarizeGc(during);
  const text = [
    `${workload} at ${rate}/s on ${kind === "reference" ? "the reference server" : kind}: collections over the job (its set-up of sessions, warm-up and drain included)`,
    `over ${loadS.toFixed(1)} s:`,
    formatGc(summary, loadS),
    `whole life (start-up and set-up included): ${all.length} collections`,
    "",
  ].join("\n");
  writeFileSync(
    join(outDir, `${prefix}-gc-latest.json`),
    formatJson({
      workload,
      target: kind,
      rate,
      seconds,
      loadS,
      during: summary,
      wholeLife: all.length,
    }),
  );
  writeFileSync(join(outDir, `${prefix}-gc-latest.txt`), text);
  process.stdout.write(text);
  process.exit(0);
}
const file = join(outDir, `${name}.cpuprofile`);
// Node names a profile CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; the main
// thread's id is 0.
const main = readdirSync(rawDir).find((f) => f.endsWith(".cpuprofile") && f.split(".")[4] === "0");
if (main === undefined) {
  process.stderr.write(`profile: the server's main thread wrote no profile to ${rawDir}\n`);
  process.exit(1);
}
renameSync(join(rawDir, main), file);
rmSync(rawDir, { recursive: true, force: true });
const a = analyse(file);
const load =
  workload === "W2"
    ? `${Math.round(result.deliveredPerS)} msg/s delivered, ${Math.round(result.msgsPerCpuS)} msg per server CPU-second, server ${result.serverCores.toFixed(2)} cores`
    : `${Math.round(result.deliveredPerS)} deliveries/s, ${Math.round(result.deliveriesPerCpuS)} per server CPU-second, server ${result.serverCores.toFixed(2)} cores`;
const cpuNote =
  serverCpuS === null
    ? ""
    : `\nserver CPU time over its whole life (start-up and setup included), from /proc: ${serverCpuS.toFixed(2)} s, against ${a.busyS.toFixed(2)} s of busy samples. The profiler samples wall time: time the server waits while not idle (blocked in a system call such as SQLite's fsyncs at WAL checkpoints, or preempted by another process) counts for the function it waits in, so the percentages are shares of its busy time, close to its CPU time only on an idle machine.`;
const text = report(a, `${workload} at ${rate}/s: ${load}${cpuNote}`);
writeFileSync(
  join(outDir, `${prefix}-latest.json`),
  formatJson({
    workload,
    target: kind,
    rate,
    seconds,
    load,
    profile: relative(ROOT, file),
    ...a,
    functions: a.functions.slice(0, 100),
    file: undefined,
  }),
);
writeFileSync(join(outDir, `${prefix}-latest.txt`), text);
process.stdout.write(text);
