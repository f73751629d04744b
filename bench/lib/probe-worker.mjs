/**
 * The stress script's measurements of the server as an unrelated user sees it, in a
 * worker thread so that the attack traffic of the main thread cannot delay them:
 *
 * - keepalive: a connection (with a session, so that the login timeout leaves it alone)
 *   sends `{}` every interval and times each `{}` back, matched first in first out. The
 *   server exposes no event-loop metric, so this round trip is the loop delay as seen
 *   from outside: a server busy for 18 s answers it 18 s late.
 * - peer: every interval, unless the previous round is still running, an unrelated peer
 *   opens a session watching its partner, sends it a persistent `direct` and waits for the
 *   `ack`; the round trip is open → ack. Then it closes the session, so that the next open
 *   adds a watch entry again.
 * - healthz: `GET /healthz` every 500 ms, with a 5 s timeout.
 *
 * Posts `{ type: "tick", … }` every second and `{ type: "final", … }` when told to stop.
 * @module
 */
import { get } from "node:http";
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import { Client, outcome } from "./client.mjs";

const { wsUrl, httpUrl, appId, intervalMs } = workerData;
const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);

const ka = { rtts: /** @type {number[]} */ ([]), sent: /** @type {number[]} */ ([]) };
const peer = {
  rtts: /** @type {number[]} */ ([]),
  failures: /** @type {string[]} */ ([]),
  missed: 0,
  busy: false,
  last: /** @type {number | null} */ (null),
};
const health = {
  rtts: /** @type {number[]} */ ([]),
  timeouts: 0,
  busy: false,
  body: /** @type {unknown} */ (null),
};
let stopping = false;
let sinceTick = { ka: 0, peer: 0 };

const kaClient = await Client.open(wsUrl);
await kaClient.request({ cmd: "session", op: "open", appId, peerId: "stress-keepalive" });
kaClient.onEvent = (frame) => {
  if (frame && typeof frame === "object" && !("cmd" in frame)) {
    const t = ka.sent.shift();
    if (t !== undefined) ka.rtts.push(performance.now() - t);
  }
};
let peerClient = await Client.open(wsUrl);

const timers = [
  setInterval(() => {
    ka.sent.push(performance.now());
    kaClient.send({});
  }, intervalMs),
  setInterval(() => {
    if (peer.busy) peer.missed++;
    else void peerRound();
  }, intervalMs),
  setInterval(() => {
    if (!health.busy) healthz();
  }, 500),
  setInterval(() => {
    const kaNew = ka.rtts.slice(sinceTick.ka);
    const waiting = ka.sent.length > 0 ? performance.now() - (ka.sent[0] ?? 0) : 0;
    port.postMessage({
      type: "tick",
      kaMax: Math.max(0, waiting, ...kaNew),
      kaUnanswered: ka.sent.length,
      peerLast: peer.last,
      peerFailures: peer.failures.length,
      peerRounds: peer.rtts.length - sinceTick.peer,
    });
    sinceTick = { ka: ka.rtts.length, peer: peer.rtts.length };
  }, 1000),
];

/** One open → direct → ack round of the unrelated peer. */
async function peerRound() {
  peer.busy = true;
  try {
    if (peerClient.closed) {
      peer.failures.push(`closed ${peerClient.closed.code}`);
      peerClient = await Client.open(wsUrl);
      return;
    }
    const t0 = performance.now();
    const opened = await peerClient.request(
      {
        cmd: "session",
        op: "open",
        appId,
        peerId: "stress-peer",
        sessionPeerIds: ["stress-partner"],
      },
      30_000,
    );
    if (outcome(opened) !== "ok") {
      peer.failures.push(`open ${outcome(opened)}`);
      return;
    }
    const acked = await peerClient.request(
      { cmd: "direct", appId, peerId: "stress-peer", toPeerIds: ["stress-partner"], msg: "ping" },
      30_000,
    );
    if (outcome(acked) !== "ok") peer.failures.push(`direct ${outcome(acked)}`);
    else {
      peer.last = performance.now() - t0;
      peer.rtts.push(peer.last);
    }
    await peerClient.request({ cmd: "session", op: "close", appId, peerId: "stress-peer" }, 30_000);
  } catch (err) {
    peer.failures.push(`exception ${String(err)}`);
  } finally {
    peer.busy = false;
  }
}

/** One `GET /healthz`. */
function healthz() {
  health.busy = true;
  const t0 = performance.now();
  const req = get(`${httpUrl}/healthz`, { timeout: 5000, agent: false }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (chunk) => {
      body += chunk;
    });
    res.on("end", () => {
      health.rtts.push(performance.now() - t0);
      try {
        health.body = JSON.parse(body);
      } catch {
        health.body = body.slice(0, 200);
      }
      health.busy = false;
    });
  });
  req.on("timeout", () => {
    health.timeouts++;
    req.destroy();
  });
  req.on("error", () => {
    health.busy = false;
  });
}

port.on("message", (msg) => {
  if (msg !== "stop" || stopping) return;
  stopping = true;
  for (const t of timers) clearInterval(t);
  const now = performance.now();
  port.postMessage({
    type: "final",
    // Keepalives still unanswered count with the time they have waited so far.
    keepalive: { rtts: ka.rtts, unanswered: ka.sent.map((t) => now - t) },
    peer: { rtts: peer.rtts, failures: peer.failures, missedTicks: peer.missed },
    healthz: { rtts: health.rtts, timeouts: health.timeouts, body: health.body },
  });
  kaClient.close();
  peerClient.close();
  port.close();
});

port.postMessage({ type: "ready" });
