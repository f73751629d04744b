/**
 * The load generator: a process of its own (child_process.fork from bench/run.mjs or
 * bench/profile.mjs), pinned to its own core, that runs one job at a time on request over
 * IPC (`{ id, job }` in, `{ id, result }` or `{ id, error }` out).
 *
 * Open loop: messages are sent on a fixed plan (message k at T0 + k / rate), whatever the
 * server answers; every latency is measured from the planned send time, so a server (or a
 * generator) that falls behind is charged for the whole delay (coordinated omission
 * corrected), into HdrHistograms (hdr-histogram-js, µs, 3 significant digits). The first
 * `warmupMs` of each run are sent but not recorded. Receivers ack every delivery, as real
 * clients do. The server's CPU time is read from /proc at the start and end of the
 * measured window, so results are per server CPU-second. Messages still unanswered after
 * the drain time are recorded with the delay they had reached (a lower bound) and counted.
 *
 * Connections come from 127.0.0.2 upwards, 900 per address, under the reference server's
 * bound of 1000 open connections per address.
 * @module
 */
import { createHash } from "node:crypto";
import { performance } from "node:perf_hooks";
import hdr from "hdr-histogram-js";
import WebSocket from "ws";
import { cpuSeconds, machineBusySeconds, rssKb } from "./proc.mjs";
import { schedule } from "./schedule.mjs";

const APP = "bench";
/** Serials of setup requests; the hot paths use lower ones. */
const SETUP_SERIAL = 2_000_000_000;
/** Connections per source address. */
const PER_ADDRESS = 900;

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const range = (/** @type {number} */ n) => Array.from({ length: n }, (_, k) => k);
const now = () => performance.now();

// ---- connections --------------------------------------------------------------------------

let connections = 0;
/** The next source address: 127.0.0.2, …, 900 connections each. */
function nextAddress() {
  const a = 2 + Math.floor(connections++ / PER_ADDRESS);
  return `127.0.${a >> 8}.${a & 255}`;
}

/** One WebSocket connection of the generator. */
class Conn {
  /**
   * @param {string} url
   * @returns {Promise<Conn>}
   */
  static open(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, localAddress: nextAddress() });
      const timer = setTimeout(() => {
        ws.terminate();
        reject(new Error(`connect to ${url} timed out`));
      }, 20_000);
      ws.once("open", () => {
        clearTimeout(timer);
        resolve(new Conn(ws));
      });
      ws.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /** @param {WebSocket} ws */
  constructor(ws) {
    this.ws = ws;
    /** @type {Map<number, (frame: any) => void>} */
    this.pending = new Map();
    this.serial = SETUP_SERIAL;
    /** Every frame that does not answer a setup request. @type {(frame: any) => void} */
    this.onFrame = () => {};
    /**
     * The hot path: sees each frame's text first and returns true when it handled it, so
     * that deliveries and acks are not parsed as JSON (the generator must outrun the server).
     * @type {((text: string) => boolean) | undefined}
     */
    this.onText = undefined;
    this.closed = false;
    ws.on("message", (data) => {
      const text = String(data);
      if (this.onText?.(text)) return;
      let f;
      try {
        f = JSON.parse(text);
      } catch {
        return;
      }
      const settle = typeof f.i === "number" && f.i >= SETUP_SERIAL && this.pending.get(f.i);
      if (settle) {
        this.pending.delete(f.i);
        settle(f);
      } else this.onFrame(f);
    });
    ws.on("error", () => {});
    ws.on("close", () => {
      this.closed = true;
      for (const settle of this.pending.values()) settle({ cmd: "closed" });
      this.pending.clear();
    });
  }

  /**
   * Sends a setup command with a fresh `i`; resolves with its reply (or `{cmd: "closed"}`).
   * @param {Record<string, unknown>} frame
   * @param {number} [timeoutMs]
   * @returns {Promise<any>}
   */
  request(frame, timeoutMs = 30_000) {
    const i = this.serial++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(i);
        reject(new Error(`no reply to ${JSON.stringify(frame).slice(0, 80)}`));
      }, timeoutMs);
      this.pending.set(i, (f) => {
        clearTimeout(timer);
        resolve(f);
      });
      this.send(JSON.stringify({ ...frame, i }));
    });
  }

  /** @param {string} text */
  send(text) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  close() {
    this.ws.terminate();
  }
}

/**
 * Opens one connection per peer id, each with a session (`session/open` → `opened`),
 * `concurrency` at a time; fails on any refusal.
 * @param {string} url
 * @param {string[]} peerIds
 * @param {{ watch?: string[], concurrency?: number }} [options]
 * @returns {Promise<Conn[]>}
 */
async function openSessions(url, peerIds, options = {}) {
  /** @type {Conn[]} */
  const out = new Array(peerIds.length);
  let next = 0;
  const worker = async () => {
    while (next < peerIds.length) {
      const k = next++;
      const c = await Conn.open(url);
      const peerId = /** @type {string} */ (peerIds[k]);
      const r = await c.request({
        cmd: "session",
        op: "open",
        appId: APP,
        peerId,
        sessionPeerIds: options.watch ?? [],
      });
      if (r.op !== "opened") throw new Error(`session/open ${peerId}: ${JSON.stringify(r)}`);
      out[k] = c;
    }
  };
  await Promise.all(range(Math.min(options.concurrency ?? 100, peerIds.length)).map(worker));
  return out;
}

/** @param {Conn[]} conns */
function closeAll(conns) {
  for (const c of conns) c?.close();
}

// ---- histograms and windows ---------------------------------------------------------------

/** A latency histogram, µs, 1 µs to 10 min, 3 significant digits. */
const histogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 600_000_000,
    numberOfSignificantValueDigits: 3,
  });

/** Records a latency in ms. @param {hdr.Histogram} h @param {number} ms */
const record = (h, ms) => h.recordValue(Math.min(600_000_000, Math.max(1, Math.round(ms * 1000))));

/**
 * A histogram's summary in ms, its percentile curve (for the plot: x in "nines", 0 = p0,
 * 2 = p99, 3 = p99.9) and the histogram itself, compressed (base64), for re-analysis.
 * @param {hdr.Histogram} h
 */
function summarize(h) {
  const at = (/** @type {number} */ p) => h.getValueAtPercentile(p) / 1000;
  const n = h.totalCount;
  /** @type {[number, number][]} */
  const curve = [];
  for (let x = 0; x <= 5.0001 && n > 0; x += 0.1) {
    if (10 ** -x < 1 / n && x > 0) break;
    curve.push([Math.round(x * 10) / 10, at(100 * (1 - 10 ** -x))]);
  }
  return {
    count: n,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: h.maxValue / 1000,
    mean: n > 0 ? h.mean / 1000 : 0,
    curve,
    hdr: n > 0 ? hdr.encodeIntoCompressedBase64(h) : "",
  };
}

/** A point of the measured window: wall time, server CPU, generator CPU. @param {number} pid */
function sample(pid) {
  const gen = process.cpuUsage();
  return {
    t: now(),
    cpu: cpuSeconds(pid) ?? Number.NaN,
    gen: (gen.user + gen.system) / 1e6,
    busy: machineBusySeconds(),
  };
}

/** @param {ReturnType<typeof sample>} a @param {ReturnType<typeof sample>} b */
function windowOf(a, b) {
  const wallS = (b.t - a.t) / 1000;
  const serverCpuS = b.cpu - a.cpu;
  return {
    wallS,
    serverCpuS,
    serverCores: serverCpuS / wallS,
    generatorCores: (b.gen - a.gen) / wallS,
    // What other processes of the machine used meanwhile (this tool's parent aside).
    otherCores: Math.max(0, (b.busy - a.busy - serverCpuS - (b.gen - a.gen)) / wallS),
  };
}

/**
 * Sends on a plan ({@link schedule}: event k at T0 + k × 1000 / rate ms, after an optional
 * ramp), for warmupMs + measureMs. A setImmediate loop (the generator has its core to
 * itself) sends every event that is due; the lateness of each send is recorded too, to tell
 * a slow generator from a slow server. `clock.inWindow` is true during the measured part,
 * whose ends are sampled.
 * @param {{ rate: number, warmupMs: number, measureMs: number, rampMs?: number,
 *   serverPid: number, send: (k: number) => void, total?: number }} plan
 */
async function openLoop(plan) {
  const { interval, at, kFirst, total: planned } = schedule(plan);
  const T0 = now() + 20;
  const tW = T0 + plan.warmupMs;
  const tE = tW + plan.measureMs;
  const total = plan.total ?? planned;
  const lag = histogram();
  const clock = {
    T0,
    interval,
    total,
    kFirst,
    inWindow: false,
    /** @type {ReturnType<typeof sample> | undefined} */
    a: undefined,
    /** @type {ReturnType<typeof sample> | undefined} */
    b: undefined,
    lag,
    /** @param {number} k */
    planned: (k) => T0 + at(k),
    /** @type {Promise<void>} */
    done: Promise.resolve(),
  };
  clock.done = new Promise((resolve) => {
    let k = 0;
    const spin = () => {
      const t = now();
      if (!clock.a && t >= tW) {
        clock.a = sample(plan.serverPid);
        clock.inWindow = true;
        process.send?.({ id: runningJob, window: "start" });
      }
      while (k < total && T0 + at(k) <= t) {
        if (k >= kFirst) record(lag, t - (T0 + at(k)));
        plan.send(k++);
      }
      if (!clock.b && t >= tE) {
        clock.inWindow = false;
        clock.b = sample(plan.serverPid);
        process.send?.({ id: runningJob, window: "end" });
      }
      if (k < total || !clock.b) setImmediate(spin);
      else resolve();
    };
    setTimeout(spin, 15);
  });
  return clock;
}

/** Waits until `ready()` or `ms` passed; returns whether it became ready. */
async function until(/** @type {() => boolean} */ ready, /** @type {number} */ ms) {
  const end = now() + ms;
  while (!ready()) {
    if (now() > end) return false;
    await sleep(5);
  }
  return true;
}

/**
 * The string value of `"key":"…"` in a frame's text (the benchmark's ids and texts hold no
 * quote or backslash), or undefined.
 * @param {string} text
 * @param {string} key with its quotes and colon, like `"id":"`
 */
function stringField(text, key) {
  const at = text.indexOf(key);
  if (at < 0) return undefined;
  const from = at + key.length;
  return text.slice(from, text.indexOf('"', from));
}

/** The integer value of `"i":N` in a frame's text, or -1. @param {string} text */
function serialOf(text) {
  const at = text.indexOf('"i":');
  return at < 0 ? -1 : Number.parseInt(text.slice(at + 4, at + 16), 10);
}

/**
 * The message index k of a benchmark text `${tag}.${k}.…` in a delivery's text, or -1 when
 * it is not a delivery of this run.
 * @param {string} text
 * @param {string} prefix `"msg":"${tag}.`
 */
function messageIndex(text, prefix) {
  const at = text.indexOf(prefix);
  return at < 0 ? -1 : Number.parseInt(text.slice(at + prefix.length, at + prefix.length + 12), 10);
}

let runTag = 1;
/** A fresh tag per run: it prefixes each message's text and sets the range of its `i`. */
const nextTag = () => runTag++;

// ---- jobs ---------------------------------------------------------------------------------

/**
 * Forces a full garbage collection in a Node.js process through its inspector
 * (`HeapProfiler.collectGarbage`); false when it has none or it failed.
 * @param {string | undefined} url the inspector's WebSocket URL
 */
async function collectGarbage(url) {
  if (!url) return false;
  const ws = new WebSocket(url, { perMessageDeflate: false });
  try {
    await new Promise((res, rej) => {
      ws.once("open", res);
      ws.once("error", rej);
    });
    const done = new Promise((res) =>
      ws.on("message", (d) => JSON.parse(String(d)).id === 1 && res(true)),
    );
    ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
    return await Promise.race([done, sleep(10_000).then(() => false)]);
  } catch {
    return false;
  } finally {
    ws.terminate();
  }
}

/**
 * W1: idle sessions. Opens `warm` sessions (one per connection, no watch list), samples the
 * server's RSS, then opens more up to each of `counts`, sampling the RSS after `settleMs`
 * and a full GC forced through the server's inspector (when it has one), so that garbage of
 * the handshakes does not count as the sessions' memory.
 * @param {{ url: string, serverPid: number, counts: number[], warm: number, settleMs: number,
 *   inspector?: string }} job
 */
async function idle(job) {
  const conns = await openSessions(
    job.url,
    range(job.warm).map((k) => `idle${k}`),
  );
  await sleep(job.settleMs);
  const gc = await collectGarbage(job.inspector);
  await sleep(200);
  const baseKb = rssKb(job.serverPid) ?? Number.NaN;
  const points = [];
  for (const count of job.counts) {
    const t0 = now();
    const more = await openSessions(
      job.url,
      range(count - conns.length).map((k) => `idle${conns.length + k}`),
    );
    conns.push(...more);
    const openMs = now() - t0;
    await sleep(job.settleMs);
    await collectGarbage(job.inspector);
    await sleep(200);
    const kb = rssKb(job.serverPid) ?? Number.NaN;
    points.push({
      sessions: count,
      rssKb: kb,
      kbPerSession: (kb - baseKb) / (count - job.warm),
      opensPerS: more.length / (openMs / 1000),
    });
  }
  closeAll(conns);
  return { warm: job.warm, gcForced: gc, baseKb, points };
}

/**
 * W2, W3, and B0/B1 at the same rates: `pairs` sender → receiver pairs, each message to one
 * peer, stepped through `steps`; stops after the first step the server does not sustain
 * when `stopWhenSaturated`.
 * @param {{ url: string, serverPid: number, pairs: number, msgBytes: number,
 *   steps: { rate: number, warmupMs: number, measureMs: number }[],
 *   drainMs: number, stopWhenSaturated: boolean, smoke?: boolean }} job
 */
async function direct(job) {
  const senders = await openSessions(
    job.url,
    range(job.pairs).map((k) => `s${k}`),
  );
  const receivers = await openSessions(
    job.url,
    range(job.pairs).map((k) => `r${k}`),
  );
  const steps = [];
  for (const step of job.steps) {
    const r = await directStep(job, step, senders, receivers);
    steps.push(r);
    if (job.stopWhenSaturated && !r.sustained) break;
    await sleep(300);
  }
  closeAll([...senders, ...receivers]);
  return { steps };
}

/**
 * One open-loop step of {@link direct}.
 * @param {Parameters<typeof direct>[0]} job
 * @param {{ rate: number, warmupMs: number, measureMs: number }} step
 * @param {Conn[]} senders
 * @param {Conn[]} receivers
 */
async function directStep(job, step, senders, receivers) {
  const tag = nextTag();
  const base = tag * 10_000_000 + 1;
  const pad = "x".repeat(Math.max(1, job.msgBytes - 12));
  const pairs = job.pairs;
  const deliver = histogram();
  const ackH = histogram();
  /** @type {Record<string, number>} */
  const errors = {};
  const c = { delivered: 0, acked: 0, winDelivered: 0, winAcked: 0, dup: 0, stray: 0 };
  /** @type {Uint8Array} 1 delivered, 2 acked */
  let seen = new Uint8Array(0);
  /** @type {Awaited<ReturnType<typeof openLoop>> | undefined} */
  let clock;
  /** @type {number[]} worst delivery latency per 100 ms of planned time */
  const timeline = [];

  const msgKey = `"msg":"${tag}.`;
  receivers.forEach((conn, p) => {
    const ackHead = `{"cmd":"ack","appId":"${APP}","peerId":"r${p}","ids":["`;
    conn.onText = (text) => {
      if (!text.includes('"cmd":"direct"')) return false;
      conn.send(`${ackHead}${stringField(text, '"id":"')}"]}`);
      const k = messageIndex(text, msgKey);
      if (!clock || k < 0) {
        c.stray++;
        return true;
      }
      if (seen[k] & 1) {
        c.dup++;
        return true;
      }
      seen[k] |= 1;
      c.delivered++;
      if (clock.inWindow) c.winDelivered++;
      const lat = now() - clock.planned(k);
      if (k >= clock.kFirst) record(deliver, lat);
      const b = Math.floor((clock.planned(k) - clock.T0) / 100);
      timeline[b] = Math.max(timeline[b] ?? 0, lat);
      return true;
    };
  });
  for (const conn of senders) {
    conn.onText = (text) => {
      if (!text.includes('"cmd":"ack"')) return false;
      const k = serialOf(text) - base;
      if (!clock || k < 0 || k >= clock.total || seen[k] & 2) return true;
      seen[k] |= 2;
      c.acked++;
      if (clock.inWindow) c.winAcked++;
      if (k >= clock.kFirst) record(ackH, now() - clock.planned(k));
      return true;
    };
    conn.onFrame = (f) => {
      if (f.cmd === "error") errors[f.code] = (errors[f.code] ?? 0) + 1;
    };
  }
  const heads = senders.map(
    (_, p) =>
      `{"cmd":"direct","appId":"${APP}","peerId":"s${p}","toPeerIds":["r${p}"],"msg":"${tag}.`,
  );
  const { total } = schedule(step);
  seen = new Uint8Array(total);
  clock = await openLoop({
    ...step,
    total,
    serverPid: job.serverPid,
    send: (k) => {
      const p = k % pairs;
      senders[p]?.send(`${heads[p]}${k}.${pad}","i":${base + k}}`);
    },
  });
  await clock.done;
  const w = windowOf(/** @type {any} */ (clock.a), /** @type {any} */ (clock.b));
  await until(() => c.delivered >= total && c.acked >= total, job.drainMs);
  // What is still unanswered is charged the delay it has reached (a lower bound).
  const t = now();
  let unanswered = 0;
  for (let k = clock.kFirst; k < total; k++) {
    const s = /** @type {number} */ (seen[k]);
    if (!(s & 1)) record(deliver, t - clock.planned(k));
    if (!(s & 2)) record(ackH, t - clock.planned(k));
    if (s !== 3) unanswered++;
  }
  const deliverS = summarize(deliver);
  const ackS = summarize(ackH);
  const lag = summarize(clock.lag);
  const deliveredPerS = c.winDelivered / w.wallS;
  // Sustained: the step's rate was delivered, nothing was lost or refused, and the acks
  // came within 100 ms at p99 (past the knee an open-loop backlog grows without bound).
  // A smoke run only checks the harness: there, everything answered is enough.
  const answered = unanswered === 0 && Object.keys(errors).length === 0;
  const sustained = job.smoke
    ? answered
    : answered && deliveredPerS >= 0.95 * step.rate && ackS.p99 <= 100;
  return {
    rate: step.rate,
    sent: total,
    measured: total - clock.kFirst,
    ...w,
    delivered: c.winDelivered,
    deliveredPerS,
    ackedPerS: c.winAcked / w.wallS,
    msgsPerCpuS: c.winDelivered / w.serverCpuS,
    deliver: deliverS,
    ack: ackS,
    sendLag: lag,
    generatorLimited: lag.p99 > 10,
    unanswered,
    duplicates: c.dup,
    stray: c.stray,
    errors,
    sustained,
    // The worst delivery of the warm-up (never recorded in the histograms): how a freshly
    // started server met its first load, ramped or not.
    // (Array.from, not map: a 100 ms with no delivery is a hole in the timeline.)
    warmupWorstMs: Math.max(
      0,
      ...Array.from(timeline.slice(0, Math.ceil(step.warmupMs / 100)), (v) => v ?? 0),
    ),
    timeline: timeline.map((v) => Math.round(v * 10) / 10),
  };
}

/**
 * W4: offline drain. `fillConns` connections of one sender store `messages` messages for a
 * peer with no session (closed loop, `window` in flight; acks awaited); then that peer
 * opens a session and gets them all from its offline store, acking each. Drain time: from
 * the `session/open` to the last delivery; server CPU: until a `session/query` sent after
 * the last ack is answered (the server reads a connection's frames in order, so every ack
 * was handled by then).
 * @param {{ url: string, serverPid: number, messages: number, msgBytes: number,
 *   fillConns: number, window: number }} job
 */
async function offline(job) {
  const fillers = await openSessions(
    job.url,
    range(job.fillConns).map(() => "o-sender"),
  );
  const pad = "x".repeat(Math.max(1, job.msgBytes - 8));
  let next = 0;
  const tf = now();
  let failed = 0;
  await Promise.all(
    range(job.window).map(async (w) => {
      const conn = /** @type {Conn} */ (fillers[w % fillers.length]);
      while (next < job.messages) {
        const k = next++;
        const r = await conn.request({
          cmd: "direct",
          appId: APP,
          peerId: "o-sender",
          toPeerIds: ["o-drain"],
          msg: `${k}.${pad}`,
        });
        if (r.cmd !== "ack") failed++;
      }
    }),
  );
  const fillMs = now() - tf;
  if (failed > 0) throw new Error(`W4: ${failed} messages refused while filling`);
  await sleep(300);
  const drainer = await Conn.open(job.url);
  let got = 0;
  let tFirst = 0;
  let tLast = 0;
  /** @type {() => void} */
  let allIn = () => {};
  const arrived = new Promise((res) => {
    allIn = () => res(undefined);
  });
  const ackHead = `{"cmd":"ack","appId":"${APP}","peerId":"o-drain","ids":["`;
  drainer.onFrame = (f) => {
    if (f.cmd !== "direct") return;
    drainer.send(`${ackHead}${f.id}"]}`);
    got++;
    if (got === 1) tFirst = now();
    if (got === job.messages) {
      tLast = now();
      allIn();
    }
  };
  const a = sample(job.serverPid);
  const opened = drainer.request({ cmd: "session", op: "open", appId: APP, peerId: "o-drain" });
  const timeout = sleep(120_000).then(() => "timeout");
  const r = await Promise.race([arrived, timeout]);
  if (r === "timeout") throw new Error(`W4: ${got} of ${job.messages} offline messages arrived`);
  const openReply = await opened;
  await drainer.request({
    cmd: "session",
    op: "query",
    appId: APP,
    peerId: "o-drain",
    sessionPeerIds: ["o-sender"],
  });
  const b = sample(job.serverPid);
  const w = windowOf(a, b);
  const drainMs = tLast - a.t;
  closeAll([...fillers, drainer]);
  return {
    messages: job.messages,
    fillMs,
    fillPerS: job.messages / (fillMs / 1000),
    opened: openReply.op === "opened",
    firstDeliveryMs: tFirst - a.t,
    drainMs,
    drainPerS: job.messages / (drainMs / 1000),
    ...w,
    msgsPerCpuS: job.messages / w.serverCpuS,
  };
}

/**
 * W5 and BF: group fan-out. `members` sessions (one connection each); the first creates a
 * group (`room/join` without roomId) and invites the others in one `room/invite`; then it
 * sends group messages on an open-loop plan of `rate` per second, and every member acks
 * every delivery.
 * @param {{ url: string, serverPid: number, members: number, msgBytes: number, rate: number,
 *   warmupMs: number, measureMs: number, drainMs: number }} job
 */
async function fanout(job) {
  const ids = range(job.members).map((k) => `g${k}`);
  const conns = await openSessions(job.url, ids);
  const owner = /** @type {Conn} */ (conns[0]);
  let joinedEvents = 0;
  for (const conn of conns.slice(1)) {
    conn.onFrame = (f) => {
      if (f.cmd === "room" && f.op === "joined") joinedEvents++;
    };
  }
  const created = await owner.request({ cmd: "room", op: "join", appId: APP, peerId: "g0" });
  if (created.op !== "joined") throw new Error(`room/join: ${JSON.stringify(created)}`);
  const roomId = created.roomId;
  const invited = await owner.request({
    cmd: "room",
    op: "invite",
    appId: APP,
    peerId: "g0",
    roomId,
    roomPeerIds: ids.slice(1),
  });
  if (invited.op !== "invited") throw new Error(`room/invite: ${JSON.stringify(invited)}`);
  await until(() => joinedEvents >= job.members - 1, 10_000);
  await sleep(200);

  const tag = nextTag();
  const base = tag * 10_000_000 + 1;
  const pad = "x".repeat(Math.max(1, job.msgBytes - 12));
  const fanTo = job.members - 1;
  const total = Math.ceil(((job.warmupMs + job.measureMs) * job.rate) / 1000);
  const perMessage = new Uint16Array(total);
  const acked = new Uint8Array(total);
  const deliver = histogram();
  const ackH = histogram();
  const c = { delivered: 0, winDelivered: 0, acked: 0, stray: 0 };
  /** @type {Awaited<ReturnType<typeof openLoop>> | undefined} */
  let clock;
  const msgKey = `"msg":"${tag}.`;
  conns.slice(1).forEach((conn, m) => {
    const ackHead = `{"cmd":"ack","appId":"${APP}","peerId":"g${m + 1}","ids":["`;
    conn.onText = (text) => {
      if (!text.includes('"cmd":"direct"')) return false;
      conn.send(`${ackHead}${stringField(text, '"id":"')}"]}`);
      const k = messageIndex(text, msgKey);
      if (!clock || k < 0) {
        c.stray++;
        return true;
      }
      perMessage[k] = /** @type {number} */ (perMessage[k]) + 1;
      c.delivered++;
      if (clock.inWindow) c.winDelivered++;
      if (k >= clock.kFirst) record(deliver, now() - clock.planned(k));
      return true;
    };
  });
  owner.onText = (text) => {
    if (!text.includes('"cmd":"ack"')) return false;
    const k = serialOf(text) - base;
    if (!clock || k < 0 || k >= total || acked[k]) return true;
    acked[k] = 1;
    c.acked++;
    if (k >= clock.kFirst) record(ackH, now() - clock.planned(k));
    return true;
  };
  const head = `{"cmd":"direct","appId":"${APP}","peerId":"g0","roomId":${JSON.stringify(roomId)},"msg":"${tag}.`;
  clock = await openLoop({
    rate: job.rate,
    warmupMs: job.warmupMs,
    measureMs: job.measureMs,
    total,
    serverPid: job.serverPid,
    send: (k) => owner.send(`${head}${k}.${pad}","i":${base + k}}`),
  });
  await clock.done;
  const w = windowOf(/** @type {any} */ (clock.a), /** @type {any} */ (clock.b));
  await until(() => c.delivered >= total * fanTo && c.acked >= total, job.drainMs);
  const t = now();
  let missing = 0;
  for (let k = clock.kFirst; k < total; k++) {
    const lacking = fanTo - /** @type {number} */ (perMessage[k]);
    for (let j = 0; j < lacking; j++) record(deliver, t - clock.planned(k));
    missing += lacking;
    if (!acked[k]) record(ackH, t - clock.planned(k));
  }
  closeAll(conns);
  const deliveredPerS = c.winDelivered / w.wallS;
  const deliverS = summarize(deliver);
  const lag = summarize(clock.lag);
  return {
    members: job.members,
    rate: job.rate,
    offeredDeliveriesPerS: job.rate * fanTo,
    ...w,
    delivered: c.winDelivered,
    deliveredPerS,
    deliveriesPerCpuS: c.winDelivered / w.serverCpuS,
    deliver: deliverS,
    ack: summarize(ackH),
    sendLag: lag,
    generatorLimited: lag.p99 > 10,
    missing,
    stray: c.stray,
    sustained: deliveredPerS >= 0.95 * job.rate * fanTo && missing === 0,
  };
}

/**
 * W6: presence churn. `watchers` sessions (one connection each) watch the same `churners`
 * peers; each churner's session opens and closes on its own connection, alternately, on an
 * open-loop plan of `rate` operations per second over all churners; every operation is
 * announced to every watcher (`presence` on or off). Latency: planned operation → the
 * watcher's presence frame.
 * @param {{ url: string, serverPid: number, watchers: number, churners: number, rate: number,
 *   warmupMs: number, measureMs: number, drainMs: number }} job
 */
async function presence(job) {
  const churnIds = range(job.churners).map((j) => `c${job.churners}.${j}`);
  const index = new Map(churnIds.map((id, j) => [id, j]));
  const watchers = await openSessions(
    job.url,
    range(job.watchers).map((k) => `pw${k}`),
    { watch: churnIds },
  );
  const churners = await Promise.all(churnIds.map(() => Conn.open(job.url)));
  // Whole open-close cycles, so that every churner ends closed.
  const perCycle = 2 * job.churners;
  const total = Math.ceil(((job.warmupMs + job.measureMs) * job.rate) / 1000 / perCycle) * perCycle;
  const notice = histogram();
  const opH = histogram();
  const c = { notices: 0, winNotices: 0, replies: 0, stray: 0, errors: 0 };
  /** @type {Awaited<ReturnType<typeof openLoop>> | undefined} */
  let clock;
  /** presence frames seen per (watcher, churner): the n-th is the churner's n-th op */
  const counts = new Uint32Array(job.watchers * job.churners);
  watchers.forEach((conn, w) => {
    conn.onFrame = (f) => {
      if (f.cmd !== "presence" || !clock) return;
      for (const id of f.sessionPeerIds) {
        const j = index.get(id);
        if (j === undefined) {
          c.stray++;
          continue;
        }
        const n = /** @type {number} */ (counts[w * job.churners + j])++;
        const k = n * job.churners + j;
        c.notices++;
        if (clock.inWindow) c.winNotices++;
        if (k >= clock.kFirst && k < total) record(notice, now() - clock.planned(k));
      }
    };
  });
  const tag = nextTag();
  const base = tag * 10_000_000 + 1;
  churners.forEach((conn) => {
    conn.onFrame = (f) => {
      if (!clock) return;
      if (f.cmd === "error") c.errors++;
      const k = f.i - base;
      if (k < 0 || k >= total) return;
      c.replies++;
      if (k >= clock.kFirst) record(opH, now() - clock.planned(k));
    };
  });
  clock = await openLoop({
    rate: job.rate,
    warmupMs: job.warmupMs,
    measureMs: job.measureMs,
    total,
    serverPid: job.serverPid,
    send: (k) => {
      const j = k % job.churners;
      const op = Math.floor(k / job.churners) % 2 === 0 ? "open" : "close";
      const conn = /** @type {Conn} */ (churners[j]);
      conn.send(
        `{"cmd":"session","op":"${op}","appId":"${APP}","peerId":"${churnIds[j]}","i":${base + k}}`,
      );
    },
  });
  await clock.done;
  const w = windowOf(/** @type {any} */ (clock.a), /** @type {any} */ (clock.b));
  const expected = total * job.watchers;
  await until(() => c.notices >= expected && c.replies >= total, job.drainMs);
  closeAll([...watchers, ...churners]);
  const lag = summarize(clock.lag);
  const noticesPerS = c.winNotices / w.wallS;
  return {
    watchers: job.watchers,
    churners: job.churners,
    rate: job.rate,
    offeredNoticesPerS: job.rate * job.watchers,
    ...w,
    notices: c.winNotices,
    noticesPerS,
    noticesPerCpuS: c.winNotices / w.serverCpuS,
    missing: expected - c.notices,
    notice: summarize(notice),
    op: summarize(opH),
    sendLag: lag,
    generatorLimited: lag.p99 > 10,
    errors: c.errors,
    stray: c.stray,
    sustained: noticesPerS >= 0.95 * job.rate * job.watchers && c.notices >= expected,
  };
}

/**
 * W7: history paging. One sender stores `messages` messages in a conversation (closed loop,
 * `window` in flight); then `readers` connections (the sender's peer) page through it from
 * the newest with `logs` of `limit` items and the (max_ts, msgid) cursor of each page's last
 * item, starting over at the end; `inFlight` pages outstanding per reader (closed loop: this
 * measures the most pages the server answers, not a latency under a planned rate).
 * @param {{ url: string, serverPid: number, messages: number, msgBytes: number, window: number,
 *   readers: number, inFlight: number, limit: number, warmupMs: number, measureMs: number }} job
 */
async function history(job) {
  const [a, b] = ["h-a", "h-b"];
  const cid = createHash("md5").update([a, b].sort().join(":")).digest("hex");
  const fillers = await openSessions(job.url, [a, a, a, a]);
  const pad = "x".repeat(Math.max(1, job.msgBytes - 8));
  let next = 0;
  const tf = now();
  await Promise.all(
    range(job.window).map(async (w) => {
      const conn = /** @type {Conn} */ (fillers[w % fillers.length]);
      while (next < job.messages) {
        const k = next++;
        const r = await conn.request({
          cmd: "direct",
          appId: APP,
          peerId: a,
          toPeerIds: [b],
          msg: `${k}.${pad}`,
        });
        if (r.cmd !== "ack") throw new Error(`W7 fill: ${JSON.stringify(r)}`);
      }
    }),
  );
  const fillMs = now() - tf;
  closeAll(fillers);
  const readers = await openSessions(
    job.url,
    range(job.readers).map(() => a),
  );
  const page = histogram();
  const c = { pages: 0, winPages: 0, items: 0, winItems: 0, laps: 0, errors: 0, bytes: 0 };
  let inWindow = false;
  let stop = false;
  const t0 = now();
  const loop = async (/** @type {Conn} */ conn) => {
    /** @type {{ max_ts: number, msgid: string } | undefined} */
    let cursor;
    while (!stop) {
      const ts = now();
      const r = await conn.request({
        cmd: "logs",
        appId: APP,
        peerId: a,
        cid,
        limit: job.limit,
        ...(cursor ?? {}),
      });
      if (r.cmd !== "logs") {
        c.errors++;
        if (r.cmd === "closed") return;
        continue;
      }
      c.pages++;
      c.items += r.logs.length;
      if (inWindow) {
        c.winPages++;
        c.winItems += r.logs.length;
        record(page, now() - ts);
      }
      const last = r.logs.at(-1);
      if (r.logs.length < job.limit || !last) {
        cursor = undefined;
        c.laps++;
      } else cursor = { max_ts: last.timestamp, msgid: last["msg-id"] };
    }
  };
  const loops = readers.flatMap((conn) => range(job.inFlight).map(() => loop(conn)));
  await sleep(job.warmupMs);
  const sa = sample(job.serverPid);
  inWindow = true;
  await sleep(job.measureMs);
  inWindow = false;
  const sb = sample(job.serverPid);
  stop = true;
  await Promise.all(loops);
  closeAll(readers);
  const w = windowOf(sa, sb);
  return {
    messages: job.messages,
    fillMs,
    fillPerS: job.messages / (fillMs / 1000),
    limit: job.limit,
    concurrency: job.readers * job.inFlight,
    ...w,
    pages: c.winPages,
    pagesPerS: c.winPages / w.wallS,
    itemsPerS: c.winItems / w.wallS,
    pagesPerCpuS: c.winPages / w.serverCpuS,
    laps: c.laps,
    errors: c.errors,
    page: summarize(page),
    elapsedMs: now() - t0,
  };
}

const JOBS = { idle, direct, offline, fanout, presence, history };

/** The id of the job being run: openLoop tells the parent its window's edges under it. */
let runningJob = 0;

process.on("message", async (/** @type {any} */ m) => {
  try {
    const run = JOBS[/** @type {keyof typeof JOBS} */ (m.job.type)];
    if (!run) throw new Error(`unknown job ${m.job.type}`);
    // The previous jobs' garbage goes before this one starts, so that the generator's own
    // collections, which delay what it records, cost the same in every measurement: the
    // first of a run and one after W2's steps (issue 11).
    globalThis.gc?.();
    runningJob = m.id;
    const result = await run(m.job);
    process.send?.({ id: m.id, result });
  } catch (err) {
    process.send?.({
      id: m.id,
      error: err instanceof Error ? (err.stack ?? err.message) : String(err),
    });
  }
});
process.on("disconnect", () => process.exit(0));
process.send?.({ ready: true });
