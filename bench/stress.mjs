#!/usr/bin/env node
/**
 * Stress script of issue 8: replays two attacks against a real reference-server process
 * that it starts itself (loopback only, a temporary database), and measures what an
 * unrelated user of the same app sees meanwhile.
 *
 * 1. watch flood (issue 8.1): `--conns` connections, each opening `--sessions` sessions
 *    that each watch `--watch` distinct peers (a `session/open` of 500, then
 *    `session/add`s of 500); default 18 × 100 × 10000, the shape that filled one app's
 *    index to V8's 2^24 entries. A refused command ends its session's attempt; the
 *    attacker goes on with its next session.
 * 2. history amplification (issue 8.2): one peer stores `--messages` messages of
 *    `--msg-chars` U+0001 characters (6 bytes each once escaped in JSON) in a
 *    conversation with another peer; then `--logs` `logs` commands with limit
 *    `--logs-limit` are sent at once from `--logs-conns` connections.
 *
 * Each attack runs on a fresh server, for at most `--time-limit` seconds. Throughout, a
 * worker thread (lib/probe-worker.mjs) measures the keepalive round trip of an unrelated
 * connection (the event-loop delay as seen from outside: the server exposes no metric for
 * it), an unrelated peer's open → direct → ack round trip every 100 ms, and `/healthz`;
 * this script samples the server's RSS from /proc/PID/status. A progress line goes to
 * stderr every second; the summary, JSON, goes to stdout and to `--out`.
 *
 *   node bench/stress.mjs                         # both attacks, full scale
 *   node bench/stress.mjs --attack watch --scale 0.1
 *   node bench/stress.mjs --server /tmp/before/reference-server/dist/src/cli.js
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { Client, outcome } from "./lib/client.mjs";
import { summary, tally } from "./lib/stats.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DEFAULT_SERVER = join(ROOT, "reference-server/dist/src/cli.js");
const APP = "stress";

const USAGE = `Usage: node bench/stress.mjs [options]

  --server PATH        the CLI to run (default reference-server/dist/src/cli.js, built if missing)
  --attack A           watch, history or both (default both)
  --scale F            multiply --sessions, --watch, --messages and --logs by F (default 1)
  --conns N            watch flood: connections (default 18)
  --sessions N         watch flood: sessions per connection (default 100)
  --watch N            watch flood: distinct peers watched per session (default 10000)
  --messages N         history: messages stored (default 1000)
  --msg-chars N        history: U+0001 characters per message (default 5120)
  --logs N             history: logs commands (default 40)
  --logs-conns N       history: connections they come from (default 4)
  --logs-limit N       history: the limit of each logs command (default 1000)
  --time-limit S       seconds each attack may run (default 60)
  --max-rss-mb N       stop an attack when the server's RSS passes N MB (default 6000)
  --interval MS        sampling interval of the probes (default 100)
  --out FILE           where the JSON summary goes (default bench/results/stress-latest.json)
  -h, --help           this text`;

const { values: flags } = parseArgs({
  options: {
    server: { type: "string" },
    attack: { type: "string", default: "both" },
    scale: { type: "string", default: "1" },
    conns: { type: "string", default: "18" },
    sessions: { type: "string", default: "100" },
    watch: { type: "string", default: "10000" },
    messages: { type: "string", default: "1000" },
    "msg-chars": { type: "string", default: "5120" },
    logs: { type: "string", default: "40" },
    "logs-conns": { type: "string", default: "4" },
    "logs-limit": { type: "string", default: "1000" },
    "time-limit": { type: "string", default: "60" },
    "max-rss-mb": { type: "string", default: "6000" },
    interval: { type: "string", default: "100" },
    out: { type: "string", default: join(ROOT, "bench/results/stress-latest.json") },
    help: { type: "boolean", short: "h" },
  },
});
if (flags.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

/** A positive number flag. @param {string} name @returns {number} */
function num(name) {
  const v = Number(flags[/** @type {keyof typeof flags} */ (name)]);
  if (!Number.isFinite(v) || v <= 0) {
    process.stderr.write(`stress: --${name} must be a positive number\n${USAGE}\n`);
    process.exit(2);
  }
  return v;
}
const scale = num("scale");
const scaled = (name) => Math.max(1, Math.round(num(name) * scale));
const config = {
  attack: flags.attack,
  watchFlood: {
    conns: Math.round(num("conns")),
    sessions: scaled("sessions"),
    watch: scaled("watch"),
  },
  history: {
    messages: scaled("messages"),
    msgChars: Math.round(num("msg-chars")),
    logs: scaled("logs"),
    logsConns: Math.round(num("logs-conns")),
    logsLimit: Math.round(num("logs-limit")),
  },
  timeLimitS: num("time-limit"),
  maxRssMb: num("max-rss-mb"),
  intervalMs: num("interval"),
};
if (!["watch", "history", "both"].includes(config.attack)) {
  process.stderr.write(`stress: --attack must be watch, history or both\n`);
  process.exit(2);
}

const serverPath = resolve(flags.server ?? DEFAULT_SERVER);
if (!existsSync(serverPath)) {
  if (flags.server !== undefined) {
    process.stderr.write(`stress: no server at ${serverPath}\n`);
    process.exit(2);
  }
  log(`building ${relative(ROOT, serverPath)} (npx tsc -b)`);
  execFileSync("npx", ["tsc", "-b"], { cwd: ROOT, stdio: "inherit" });
}

/** A progress line, to stderr. @param {string} text */
function log(text) {
  process.stderr.write(`${text}\n`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- the server process ------------------------------------------------------------------

/**
 * Starts the CLI on a free loopback port with a fresh database; its log goes to a file, so
 * that a slow reader here can never block the server on a full pipe.
 */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), "confab-stress-"));
  const logPath = join(dir, "server.log");
  const fd = openSync(logPath, "w");
  const args = [
    serverPath,
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--db",
    join(dir, "c.db"),
    "--dev",
  ];
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  /** @type {number | null} */
  let exitCode = null;
  let exited = false;
  const exit = new Promise((res) => {
    child.on("exit", (code, signal) => {
      exited = true;
      exitCode = code ?? (signal ? 128 : null);
      res(undefined);
    });
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
    const line = text.split("\n").find((l) => l.includes('"event":"listening"'));
    if (line) {
      const port = JSON.parse(line).port;
      return {
        pid: /** @type {number} */ (child.pid),
        port,
        wsUrl: `ws://127.0.0.1:${port}/`,
        httpUrl: `http://127.0.0.1:${port}`,
        dir,
        logPath,
        get exited() {
          return exited;
        },
        /** SIGTERM, then SIGKILL after 30 s; resolves with how long the stop took. */
        async stop() {
          const t0 = performance.now();
          if (!exited) child.kill("SIGTERM");
          let timer;
          const late = new Promise((res) => {
            timer = setTimeout(() => res(true), 30_000);
          });
          const killed = await Promise.race([exit.then(() => false), late]);
          clearTimeout(timer);
          if (killed) {
            child.kill("SIGKILL");
            await exit;
          }
          const ms = Math.round(performance.now() - t0);
          rmSync(dir, { recursive: true, force: true });
          return { shutdownMs: ms, killed, exitCode };
        },
      };
    }
    if (exited || Date.now() > deadline) {
      throw new Error(
        `the server did not start (${exited ? `exit ${exitCode}` : "timeout"}):\n${text}`,
      );
    }
    await sleep(50);
  }
}

/** The server's RSS and peak RSS, MB, from /proc; null when gone. @param {number} pid */
function rssOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
  } catch {
    return null;
  }
}

// ---- measurement around an attack --------------------------------------------------------

/**
 * Runs `attack` on a fresh server with the probes and the RSS sampler around it: 1 s
 * before, the attack (bounded by the time limit and the RSS cap), 2 s after.
 * @param {string} name
 * @param {(ctx: AttackContext) => Promise<Record<string, unknown>>} attack
 */
async function measured(name, attack) {
  const server = await startServer();
  log(`[${name}] server pid ${server.pid} on port ${server.port}`);
  const worker = new Worker(new URL("./lib/probe-worker.mjs", import.meta.url), {
    workerData: {
      wsUrl: server.wsUrl,
      httpUrl: server.httpUrl,
      appId: APP,
      intervalMs: config.intervalMs,
    },
  });
  /** @type {any} */
  let lastTick = {};
  /** @type {Promise<any>} */
  const final = new Promise((res, rej) => {
    worker.on("message", (m) => {
      if (m.type === "tick") lastTick = m;
      if (m.type === "final") res(m);
    });
    worker.on("error", rej);
  });
  await new Promise((res, rej) => {
    worker.once("message", (m) => m.type === "ready" && res(undefined));
    worker.once("error", rej);
  });

  const rss = { start: rssOf(server.pid)?.rss ?? 0, peak: 0, end: 0 };
  const ctx = {
    server,
    stopReason: /** @type {string | null} */ (null),
    progress: /** @type {() => string} */ (() => ""),
    /** Clients of the attack: closed at once when it must stop, so that no reply is awaited. */
    clients: /** @type {Client[]} */ ([]),
    get stopped() {
      return this.stopReason !== null;
    },
  };
  const closer = setInterval(() => {
    if (ctx.stopped) for (const c of ctx.clients) if (!c.closed) c.close();
  }, 100);
  const t0 = performance.now();
  const sampler = setInterval(() => {
    const r = rssOf(server.pid);
    if (!r) {
      ctx.stopReason ??= "server exited";
      return;
    }
    rss.peak = Math.max(rss.peak, r.rss);
    if (r.rss > config.maxRssMb) ctx.stopReason ??= `rss over ${config.maxRssMb} MB`;
  }, 250);
  const printer = setInterval(() => {
    const r = rssOf(server.pid);
    const secs = ((performance.now() - t0) / 1000).toFixed(0).padStart(3);
    const ka = `keepalive max ${Math.round(lastTick.kaMax ?? 0)} ms`;
    const peer = `peer last ${lastTick.peerLast === null || lastTick.peerLast === undefined ? "-" : Math.round(lastTick.peerLast)} ms, ${lastTick.peerRounds ?? 0}/s, ${lastTick.peerFailures ?? 0} failed`;
    log(
      `[${name} ${secs}s] rss ${Math.round(r?.rss ?? 0)} MB | ${ka} | ${peer} | ${ctx.progress()}`,
    );
  }, 1000);

  await sleep(1000);
  const started = performance.now();
  const deadline = setTimeout(() => {
    ctx.stopReason ??= `time limit ${config.timeLimitS} s`;
  }, config.timeLimitS * 1000);
  let result;
  try {
    result = await attack(ctx);
  } finally {
    clearTimeout(deadline);
  }
  clearInterval(closer);
  const durationMs = Math.round(performance.now() - started);
  const stoppedBy = ctx.stopReason ?? "done";
  await sleep(2000);
  worker.postMessage("stop");
  const probes = await final;
  await worker.terminate();
  clearInterval(sampler);
  clearInterval(printer);
  const end = rssOf(server.pid);
  rss.end = end?.rss ?? 0;
  rss.peak = Math.max(rss.peak, end?.hwm ?? 0);
  const stop = await server.stop();
  const keepalive = summary([...probes.keepalive.rtts, ...probes.keepalive.unanswered]);
  return {
    durationMs,
    stoppedBy,
    ...result,
    serverRssMb: {
      start: Math.round(rss.start),
      peak: Math.round(rss.peak),
      end: Math.round(rss.end),
    },
    loopDelayMs: {
      method: "keepalive {} round trip of an unrelated connection (no server metric exposed)",
      ...keepalive,
      unanswered: probes.keepalive.unanswered.length,
    },
    peerRoundTripMs: {
      what: "unrelated peer: session/open -> direct -> ack, every 100 ms",
      ...summary(probes.peer.rtts),
      failures: tally(probes.peer.failures),
      missedTicks: probes.peer.missedTicks,
    },
    healthzMs: { ...summary(probes.healthz.rtts), timeouts: probes.healthz.timeouts },
    shutdown: stop,
  };
}

/**
 * @typedef {{ server: Awaited<ReturnType<typeof startServer>>, stopReason: string | null,
 *   progress: () => string, clients: Client[], readonly stopped: boolean }} AttackContext
 */

// ---- attack 1: the watch flood -----------------------------------------------------------

/** @param {AttackContext} ctx */
async function watchFlood(ctx) {
  const { conns, sessions, watch } = config.watchFlood;
  const state = { commands: 0, accepted: 0, outcomes: /** @type {string[]} */ ([]) };
  /** @type {Record<string, unknown> | null} */
  let firstRefusal = null;
  /** @type {string[]} */
  const closes = [];
  ctx.progress = () =>
    `${state.commands} commands, ${state.accepted} entries accepted, ${state.outcomes.length} refused`;

  /** @param {number} k */
  async function oneConnection(k) {
    const c = await Client.open(ctx.server.wsUrl);
    ctx.clients.push(c);
    let connEntries = 0;
    for (let s = 0; s < sessions && !ctx.stopped && !c.closed; s++) {
      const peerId = `f${k}.${s}`;
      for (let done = 0, first = true; (first || done < watch) && !ctx.stopped; first = false) {
        const n = Math.min(500, watch - done);
        const ids = Array.from({ length: n }, (_, j) => `w${k}.${s}.${done + j}`);
        const op = first ? "open" : "add";
        const r = await c.request({ cmd: "session", op, appId: APP, peerId, sessionPeerIds: ids });
        state.commands++;
        const o = outcome(r);
        // Our own closes at the time limit or the RSS cap are not the server's answer.
        if (o !== "ok" && ctx.stopped) break;
        if (o !== "ok") {
          state.outcomes.push(o);
          firstRefusal ??= {
            code: r.frame?.code ?? o,
            reason: r.frame?.reason,
            detail: r.frame?.detail,
            command: op,
            atMs: Math.round(performance.now()),
            appEntriesAccepted: state.accepted,
            connEntriesAccepted: connEntries,
          };
          break; // this session is refused: the attacker tries its next one
        }
        done += n;
        connEntries += n;
        state.accepted += n;
      }
    }
    if (c.closed && !ctx.stopped) closes.push(String(c.closed.code));
    return c;
  }

  const t0 = performance.now();
  const settled = await Promise.allSettled(
    Array.from({ length: conns }, (_, k) => oneConnection(k)),
  );
  for (const s of settled) if (s.status === "fulfilled") s.value.close();
  const failedToConnect = settled.filter((s) => s.status === "rejected").length;
  if (firstRefusal) firstRefusal.atMs = Math.round(/** @type {number} */ (firstRefusal.atMs) - t0);
  return {
    shape: `${conns} x ${sessions} x ${watch}`,
    entriesAttempted: conns * sessions * watch,
    commands: state.commands,
    entriesAccepted: state.accepted,
    refused: state.outcomes.length > 0,
    refusals: tally(state.outcomes),
    firstRefusal,
    closes: tally(closes),
    failedToConnect,
  };
}

// ---- attack 2: history amplification -----------------------------------------------------

/** @param {AttackContext} ctx */
async function historyAmplification(ctx) {
  const { messages, msgChars, logs, logsConns, logsLimit } = config.history;
  const [a, b] = ["hist-a", "hist-b"];
  const cid = createHash("md5").update([a, b].sort().join(":")).digest("hex");
  const sender = await Client.open(ctx.server.wsUrl);
  ctx.clients.push(sender);
  await sender.request({ cmd: "session", op: "open", appId: APP, peerId: a });
  const msg = "\u0001".repeat(msgChars);
  const store = { acked: 0, failed: /** @type {string[]} */ ([]) };
  const phase = { name: "storing" };
  const replies = /** @type {{ bytes: number, items: number | null, ms: number }[]} */ ([]);
  const logErrors = /** @type {string[]} */ ([]);
  ctx.progress = () =>
    phase.name === "storing"
      ? `stored ${store.acked}/${messages}`
      : `logs replies ${replies.length + logErrors.length}/${logs}, ${Math.round(replies.reduce((t, r) => t + r.bytes, 0) / 1e6)} MB`;

  const t0 = performance.now();
  let next = 0;
  const window = async () => {
    while (next < messages && !ctx.stopped) {
      next++;
      const r = await sender.request({ cmd: "direct", appId: APP, peerId: a, toPeerIds: [b], msg });
      if (outcome(r) === "ok") store.acked++;
      else store.failed.push(outcome(r));
    }
  };
  await Promise.all(Array.from({ length: 50 }, window));
  const storeMs = Math.round(performance.now() - t0);

  phase.name = "logs";
  const readers = await Promise.all(
    Array.from({ length: logsConns }, async (_, k) => {
      const c = await Client.open(ctx.server.wsUrl);
      ctx.clients.push(c);
      await c.request({ cmd: "session", op: "open", appId: APP, peerId: k % 2 === 0 ? a : b });
      return c;
    }),
  );
  const t1 = performance.now();
  const timeLeft = Math.max(1000, config.timeLimitS * 1000 - (t1 - t0));
  await Promise.all(
    Array.from({ length: logs }, async (_, q) => {
      const c = /** @type {Client} */ (readers[q % logsConns]);
      const peerId = (q % logsConns) % 2 === 0 ? a : b;
      const r = await c.request(
        { cmd: "logs", appId: APP, peerId, cid, limit: logsLimit },
        timeLeft,
      );
      const ms = performance.now() - t1;
      if (r.big) replies.push({ bytes: r.big.bytes, items: r.big.items, ms });
      else if (outcome(r) === "ok") {
        replies.push({ bytes: r.bytes ?? 0, items: r.frame?.logs?.length ?? null, ms });
      } else logErrors.push(ctx.stopped ? "unanswered at the stop" : outcome(r));
    }),
  );
  const allRepliesMs = Math.round(performance.now() - t1);
  // A 1006 after a stop is our own close, not the server's.
  const closes = [sender, ...readers].flatMap((c) =>
    c.closed && !(ctx.stopped && c.closed.code === 1006) ? [String(c.closed.code)] : [],
  );
  for (const c of [sender, ...readers]) c.close();
  const bytes = replies.map((r) => r.bytes);
  return {
    shape: `${messages} messages of ${msgChars} U+0001, ${logs} logs of limit ${logsLimit} from ${logsConns} connections`,
    stored: store.acked,
    storeFailures: tally(store.failed),
    storeMs,
    logsReplies: replies.length,
    logsItems: replies.reduce((t, r) => t + (r.items ?? 0), 0),
    logsErrors: tally(logErrors),
    replyBytes: {
      max: bytes.length ? Math.max(...bytes) : 0,
      total: bytes.reduce((t, n) => t + n, 0),
    },
    allRepliesMs,
    closes: tally(closes),
  };
}

// ---- main --------------------------------------------------------------------------------

const out = {
  tool: "bench/stress.mjs",
  date: new Date().toISOString(),
  server: relative(ROOT, serverPath) || serverPath,
  node: process.version,
  config,
  /** @type {Record<string, unknown>} */
  attacks: {},
};
if (config.attack !== "history") out.attacks.watchFlood = await measured("watch flood", watchFlood);
if (config.attack !== "watch") {
  out.attacks.historyAmplification = await measured("history", historyAmplification);
}
const json = `${JSON.stringify(out, null, 2)}\n`;
mkdirSync(dirname(resolve(flags.out)), { recursive: true });
writeFileSync(resolve(flags.out), json);
process.stdout.write(json);
