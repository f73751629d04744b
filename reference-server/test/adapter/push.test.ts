/**
 * The push hook over real HTTP (spec/03-messages.md 3.10): a receiver on loopback gets
 * signed POSTs; failures are retried with backoff from a bounded queue; the `ack` never
 * waits for the hook; and the whole path runs end to end through startServer. Signatures
 * are checked with node:crypto against the spec's definition, never with the server's code.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import {
  createServer,
  type IncomingHttpHeaders,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { httpValidators, type PushNotice } from "@confab/protocol";
import { connect, disconnect, TEST_MASTER_KEY, type WireClient } from "@confab/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  PUSH_SIGNATURE_HEADER,
  PUSH_TIMESTAMP_HEADER,
  PushNotifier,
  type PushNotifierOptions,
  pushConfigProblem,
  pushSignature,
  retryDelayMs,
} from "../../src/adapter/push.js";
import { outputsAfterFailedCommit } from "../../src/adapter/ws-adapter.js";
import { parseCommandLine, UsageError } from "../../src/cli.js";
import type { AppConfig } from "../../src/core/config.js";
import type { NotifyOutput, Output } from "../../src/core/types.js";
import { type RunningServer, startServer } from "../../src/server.js";
import { FakeEngine, RecordingLogger, RecordingStore, sleep, waitFor } from "./helpers.js";

/** One POST as the receiver saw it. */
interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The raw body, as bytes decoded from UTF-8. */
  readonly body: string;
  /** When it arrived, `performance.now()`. */
  readonly at: number;
}

/** What the receiver answers to its n-th request (0-based): a status, or hold it open. */
type Answer = number | "hold" | { status: number; headers: Record<string, string> };

/** An HTTP receiver on 127.0.0.1, port 0, that records every request. */
class Receiver {
  readonly requests: Received[] = [];
  /** Requests answered so far. */
  answered = 0;
  private readonly held: ServerResponse[] = [];

  private constructor(
    readonly server: Server,
    public answer: (n: number) => Answer,
  ) {}

  /** The URL to configure as `pushUrl`. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  static async start(answer: (n: number) => Answer = () => 204): Promise<Receiver> {
    let receiver!: Receiver;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const n = receiver.requests.length;
        receiver.requests.push({
          method: req.method ?? "",
          url: req.url ?? "",
          headers: req.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          at: performance.now(),
        });
        const a = receiver.answer(n);
        if (a === "hold") {
          receiver.held.push(res);
          return;
        }
        const { status, headers } = typeof a === "number" ? { status: a, headers: {} } : a;
        res.writeHead(status, headers).end();
        receiver.answered++;
      });
    });
    receiver = new Receiver(server, answer);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    receivers.push(receiver);
    return receiver;
  }

  /** Answers every held request with `status`. */
  release(status = 204): void {
    for (const res of this.held.splice(0)) {
      if (!res.destroyed) res.writeHead(status).end();
      this.answered++;
    }
  }

  /** Waits (bounded) until at least `n` requests arrived. */
  async waitForRequests(n: number, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.requests.length >= n, timeoutMs);
  }

  async close(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const receivers: Receiver[] = [];
const notifiers: PushNotifier[] = [];
const clients: WireClient[] = [];
let server: RunningServer | undefined;

afterEach(async () => {
  for (const n of notifiers.splice(0)) n.close();
  await Promise.all(clients.splice(0).map((c) => disconnect(c)));
  await server?.close();
  server = undefined;
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});

/** The app of these tests, with its hook at `url`. */
function app(url: string, extra: Partial<AppConfig> = {}): AppConfig {
  return {
    appId: "app1",
    masterKey: TEST_MASTER_KEY,
    enforceSignatures: false,
    pushUrl: url,
    ...extra,
  };
}

/** A notifier for the given apps, closed after the test. */
function notifier(apps: AppConfig[], options: Omit<PushNotifierOptions, "apps"> = {}) {
  const n = new PushNotifier({ apps, ...options });
  notifiers.push(n);
  return n;
}

/** A notice of `app1` for message `id`. */
function notice(id: string, extra: Partial<PushNotice> = {}): NotifyOutput {
  return {
    type: "notify",
    appId: extra.appId ?? "app1",
    notice: {
      appId: "app1",
      id,
      fromPeerId: "alice",
      offlinePeerIds: ["bob"],
      timestamp: 1_700_000_000_000,
      ...extra,
    },
  };
}

/** The signature a receiver expects, computed from the spec's words with node:crypto. */
function expectedSignature(r: Received, key = TEST_MASTER_KEY): string {
  const ts = String(r.headers[PUSH_TIMESTAMP_HEADER.toLowerCase()]);
  return createHmac("sha1", Buffer.from(key, "utf8"))
    .update(Buffer.from(`${ts}:${r.body}`, "utf8"))
    .digest("hex");
}

/** Expects one POST to be a correctly signed notice [OFFLINE-PUSH-6, OFFLINE-PUSH-8]. */
function expectSigned(r: Received, before: number, after: number): PushNotice {
  expect(r.method).toBe("POST");
  expect(r.url).toBe("/hook");
  expect(r.headers["content-type"]).toBe("application/json");
  const ts = Number(r.headers[PUSH_TIMESTAMP_HEADER.toLowerCase()]);
  expect(Number.isInteger(ts)).toBe(true);
  expect(ts).toBeGreaterThanOrEqual(Math.floor(before / 1000));
  expect(ts).toBeLessThanOrEqual(Math.floor(after / 1000));
  const sig = r.headers[PUSH_SIGNATURE_HEADER.toLowerCase()];
  expect(sig).toMatch(/^[0-9a-f]{40}$/);
  expect(sig).toBe(expectedSignature(r));
  const body = JSON.parse(r.body) as PushNotice;
  const checked = httpValidators["push-notice"]?.(body);
  expect(checked?.ok ? [] : checked?.errors).toEqual([]);
  return body;
}

describe("signing (3.10)", () => {
  it("[OFFLINE-PUSH-8] POSTs each notice with its timestamp and an HMAC-SHA1 of timestamp:body keyed with the master key", async () => {
    const r = await Receiver.start();
    const n = notifier([app(r.url)]);
    const before = Date.now();
    n.notify(notice("m1", { msg: "héllo 😀" }));
    await r.waitForRequests(1);
    const body = expectSigned(r.requests[0] as Received, before, Date.now());
    expect(body).toEqual(notice("m1", { msg: "héllo 😀" }).notice);
    // A receiver that checks the signature refuses a body or a timestamp that was changed.
    const forged = {
      ...(r.requests[0] as Received),
      body: r.requests[0]?.body.replace("m1", "m2"),
    };
    expect(expectedSignature(forged as Received)).not.toBe(
      r.requests[0]?.headers[PUSH_SIGNATURE_HEADER.toLowerCase()],
    );
    // Another app's key would not match either.
    expect(expectedSignature(r.requests[0] as Received, "otherkey")).not.toBe(
      r.requests[0]?.headers[PUSH_SIGNATURE_HEADER.toLowerCase()],
    );
    await waitFor(() => n.stats().sent === 1);
  });

  it("[OFFLINE-PUSH-8] matches the signature vectors of Table 6", () => {
    const spec = readFileSync(new URL("../../../spec/03-messages.md", import.meta.url), "utf8");
    const table = spec.slice(spec.indexOf("_Table 6: push-hook signature vectors._"));
    const rows = [
      ...table.matchAll(/^\| (\d+)\s+\| `(\d+)`\s+\| `(\{.*\})`\s+\| `([0-9a-f]{40})` \|$/gm),
    ];
    expect(rows.length).toBeGreaterThanOrEqual(2);
    for (const [, , ts, body, hmac] of rows) {
      const t = Number(ts);
      expect(pushSignature("masterkey", t, String(body))).toBe(hmac);
      const independent = createHmac("sha1", "masterkey").update(`${ts}:${body}`).digest("hex");
      expect(independent).toBe(hmac);
      // Each vector's body is a valid notice.
      expect(httpValidators["push-notice"]?.(JSON.parse(String(body)))?.ok).toBe(true);
    }
  });

  it("[OFFLINE-PUSH-8] refuses a hook without a master key, or a URL that is not http or https", async () => {
    expect(pushConfigProblem(app("http://127.0.0.1:1/x"))).toBeUndefined();
    expect(pushConfigProblem(app("https://push.example/x"))).toBeUndefined();
    expect(pushConfigProblem(app("http://127.0.0.1:1/x", { masterKey: undefined }))).toMatch(
      /masterKey/,
    );
    expect(pushConfigProblem(app("ftp://example/x"))).toMatch(/http/);
    expect(pushConfigProblem(app("/relative"))).toMatch(/absolute/);
    expect(pushConfigProblem(app("", { pushUrl: undefined, pushIncludeText: true }))).toMatch(
      /pushUrl/,
    );
    await expect(
      startServer({ port: 0, apps: [app("http://127.0.0.1:1/x", { masterKey: undefined })] }),
    ).rejects.toThrow(/app1: pushUrl needs a masterKey/);
  });
});

describe("retries (3.10)", () => {
  it("[OFFLINE-PUSH-9, OFFLINE-PUSH-12] retries a failing POST after growing, jittered waits, with the same body", async () => {
    const r = await Receiver.start((n) => (n < 3 ? 503 : 204));
    const logger = new RecordingLogger();
    // random() = 0: each wait is the lower half's bound, half the nominal 40, 80, 160 ms.
    const n = notifier([app(r.url)], { logger, baseDelayMs: 40, random: () => 0 });
    n.notify(notice("m1"));
    await r.waitForRequests(4);
    await waitFor(() => n.stats().sent === 1);
    const retries = logger.lines.filter((l) => l.event === "push_retry");
    expect(retries.map((l) => [l.fields.attempt, l.fields.status, l.fields.delayMs])).toEqual([
      [1, 503, 20],
      [2, 503, 40],
      [3, 503, 80],
    ]);
    // The attempts are spaced at least by the waits (timers never fire early; 2 ms of
    // clock rounding allowed), and carry the same body, each freshly signed.
    const at = r.requests.map((q) => q.at);
    for (let i = 1; i < at.length; i++) {
      expect((at[i] as number) - (at[i - 1] as number)).toBeGreaterThanOrEqual(
        (retries[i - 1]?.fields.delayMs as number) - 2,
      );
    }
    expect(new Set(r.requests.map((q) => q.body)).size).toBe(1);
    for (const q of r.requests) expect(q.headers["x-confab-signature"]).toBe(expectedSignature(q));
    expect(n.stats()).toMatchObject({ sent: 1, failed: 0, attempts: 4, queued: 0 });
  });

  it("[OFFLINE-PUSH-9] draws each wait from the upper half of an exponential, capped nominal wait", () => {
    for (let attempts = 1; attempts <= 12; attempts++) {
      const nominal = Math.min(60_000, 1000 * 2 ** (attempts - 1));
      expect(retryDelayMs(attempts, 1000, 60_000, () => 0)).toBe(nominal / 2);
      expect(retryDelayMs(attempts, 1000, 60_000, () => 0.999_999)).toBe(nominal);
      const d = retryDelayMs(attempts, 1000, 60_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(nominal / 2);
      expect(d).toBeLessThanOrEqual(nominal);
    }
  });

  it("[OFFLINE-PUSH-9] gives up after the last attempt, and at once on a status that is not retried", async () => {
    const failing = await Receiver.start(() => 500);
    const logger = new RecordingLogger();
    const n = notifier([app(failing.url)], { logger, maxAttempts: 3, baseDelayMs: 2 });
    n.notify(notice("m1"));
    await waitFor(() => n.stats().failed === 1);
    expect(failing.requests).toHaveLength(3);
    expect(logger.lines.find((l) => l.event === "push_failed")?.fields).toMatchObject({
      id: "m1",
      attempt: 3,
      status: 500,
    });

    for (const status of [400, 401, 404, 301]) {
      const refusing = await Receiver.start(() =>
        status === 301 ? { status, headers: { Location: "http://127.0.0.1:1/" } } : status,
      );
      const m = notifier([app(refusing.url)], { baseDelayMs: 2 });
      m.notify(notice(`m${status}`));
      await waitFor(() => m.stats().failed === 1);
      expect(refusing.requests).toHaveLength(1); // a redirect is not followed
    }
  });

  it("[OFFLINE-PUSH-9] retries 408, 429, a timeout and a refused connection, and honours Retry-After", async () => {
    const answers: Answer[] = [408, { status: 429, headers: { "Retry-After": "1" } }, "hold", 204];
    const r = await Receiver.start((i) => answers[i] ?? 204);
    const logger = new RecordingLogger();
    const n = notifier([app(r.url)], {
      logger,
      baseDelayMs: 2,
      maxDelayMs: 100, // Retry-After: 1 s, capped at the ceiling
      timeoutMs: 200,
      random: () => 0,
    });
    n.notify(notice("m1"));
    await r.waitForRequests(4);
    await waitFor(() => n.stats().sent === 1);
    const retries = logger.lines.filter((l) => l.event === "push_retry").map((l) => l.fields);
    expect(retries.map((f) => f.status ?? f.why)).toEqual([408, 429, "no answer within 200 ms"]);
    expect(retries[1]?.delayMs).toBe(100);

    // Nobody listens: connection refused, retried until the attempts run out.
    const closed = await Receiver.start();
    const deadUrl = closed.url;
    await closed.close();
    const dead = notifier([app(deadUrl)], { logger, maxAttempts: 2, baseDelayMs: 2 });
    dead.notify(notice("m2"));
    await waitFor(() => dead.stats().failed === 1);
    expect(dead.stats().attempts).toBe(2);
  });
});

describe("the queue (3.10)", () => {
  it("[OFFLINE-PUSH-10] keeps each app's queue bounded, dropping the oldest notice not being sent", async () => {
    const r = await Receiver.start(() => "hold");
    const other = await Receiver.start();
    const logger = new RecordingLogger();
    const n = notifier([app(r.url), app(other.url, { appId: "app2" })], {
      logger,
      queueCapacity: 3,
      concurrency: 1,
    });
    for (let i = 1; i <= 10; i++) {
      n.notify(notice(`n${i}`));
      expect(n.stats().queued).toBeLessThanOrEqual(3);
    }
    expect(n.stats()).toMatchObject({ queued: 3, inFlight: 1, dropped: 7 });
    const dropped = logger.lines.filter((l) => l.event === "push_dropped");
    expect(dropped.map((l) => l.fields.id)).toEqual(["n2", "n3", "n4", "n5", "n6", "n7", "n8"]);
    expect(dropped[0]?.fields).toMatchObject({ appId: "app1", why: "queue full", capacity: 3 });
    expect(dropped.every((l) => l.level === "warn")).toBe(true);

    // Another app's lane is not crowded out.
    n.notify(notice("o1", { appId: "app2" }));
    await other.waitForRequests(1);
    expect(JSON.parse(other.requests[0]?.body ?? "{}").id).toBe("o1");

    // The one in flight and the two newest get through, in order.
    await r.waitForRequests(1);
    const seen = () => r.requests.map((q) => JSON.parse(q.body).id);
    r.answer = () => 204;
    r.release();
    await r.waitForRequests(3);
    expect(seen()).toEqual(["n1", "n9", "n10"]);
    await waitFor(() => n.stats().queued === 0);
    expect(n.stats()).toMatchObject({ sent: 4, dropped: 7, failed: 0 }); // app2's one too
  });

  it("[OFFLINE-PUSH-10] drops a newcomer when every notice it holds is being sent", async () => {
    const r = await Receiver.start(() => "hold");
    const logger = new RecordingLogger();
    const n = notifier([app(r.url)], { logger, queueCapacity: 2, concurrency: 2 });
    n.notify(notice("a"));
    n.notify(notice("b"));
    n.notify(notice("c"));
    expect(n.stats()).toMatchObject({ queued: 2, inFlight: 2, dropped: 1 });
    expect(logger.lines.find((l) => l.event === "push_dropped")?.fields.id).toBe("c");
  });

  it("[OFFLINE-PUSH-11] notify returns at once and never throws; close sends nothing more and stops every timer", async () => {
    const r = await Receiver.start(() => 503);
    const logger = new RecordingLogger();
    const n = notifier([app(r.url)], { logger, baseDelayMs: 100, random: () => 0 });
    n.notify(notice("unknown-app", { appId: "nope" })); // no lane: logged, dropped
    expect(logger.lines.at(-1)).toMatchObject({ event: "push_dropped", level: "warn" });
    n.notify(notice("m1"));
    await r.waitForRequests(1);
    await waitFor(() => logger.events().includes("push_retry"));
    n.close();
    expect(n.stats().queued).toBe(0);
    expect(logger.lines.at(-1)).toMatchObject({ event: "push_closed", fields: { dropped: 1 } });
    n.notify(notice("m2")); // after close: dropped
    await sleep(150); // past the retry's due time: nothing is sent
    expect(r.requests).toHaveLength(1);
    n.close(); // idempotent
  });
});

describe("release after the commit (3.10)", () => {
  it("[OFFLINE-PUSH-4] drops the notices of a turn whose commit failed", () => {
    const outputs: Output[] = [
      { type: "send", conn: 1, frame: { cmd: "ack", peerId: "alice", t: 1, uid: "m1" } },
      notice("m1"),
    ];
    const { released, dropped } = outputsAfterFailedCommit(outputs);
    expect(released.map((o) => o.type)).toEqual(["send"]);
    expect(dropped).toBe(2);
  });

  it("[OFFLINE-PUSH-4, OFFLINE-PUSH-11] hands a notice over after the commit and after the frames before it, never after a failed commit", async () => {
    const timeline: string[] = [];
    const engine = new FakeEngine();
    const store = new RecordingStore(timeline);
    server = await startServer({
      port: 0,
      db: store,
      apps: [app("http://127.0.0.1:1/unused")],
      createEngine: () => engine,
    });
    const push = server.push;
    const original = push.notify.bind(push);
    push.notify = (o) => {
      timeline.push(`notify:${o.notice.id}`);
      original(o);
    };
    engine.onText = (conn) => [
      { type: "send", conn, frame: { cmd: "ack", peerId: "alice", t: 1, uid: "m1" } },
      notice("m1"),
    ];
    const c = await connect(server.wsUrl);
    clients.push(c);
    c.sendText("{}");
    expect(await c.next()).toMatchObject({ cmd: "ack", uid: "m1" });
    await waitFor(() => timeline.includes("notify:m1"));
    // Right after the commit of its turn (a tick may commit later ones).
    expect(timeline[timeline.indexOf("notify:m1") - 1]).toBe("commit");

    store.failCommits = 1;
    c.sendText("{}");
    const err = await c.next();
    expect(err).toMatchObject({ cmd: "error", code: 4200 });
    await sleep(20);
    expect(timeline.filter((e) => e.startsWith("notify:"))).toEqual(["notify:m1"]);
  });
});

describe("end to end (3.10)", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "confab-push-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Waits (bounded) for the first frame from now on that matches. */
  async function until(c: WireClient, match: (f: Record<string, unknown>) => boolean) {
    for (;;) {
      const f = (await c.next()) as Record<string, unknown>;
      if (match(f)) return f;
    }
  }

  async function openSession(peerId: string): Promise<WireClient> {
    if (server === undefined) throw new Error("no server");
    const c = await connect(server.wsUrl);
    clients.push(c);
    c.send({ cmd: "session", op: "open", appId: "app1", peerId, sessionPeerIds: [], i: 1 });
    await until(c, (f) => f.cmd === "session" && f.op === "opened");
    return c;
  }

  it("[OFFLINE-PUSH-2, OFFLINE-PUSH-3, OFFLINE-PUSH-6, OFFLINE-PUSH-7, OFFLINE-PUSH-8] notifies the app's receiver of a message for an offline peer, over real sockets", async () => {
    const r = await Receiver.start();
    server = await startServer({ port: 0, apps: [app(r.url, { pushIncludeText: true })] });
    const alice = await openSession("alice");
    await openSession("carol");
    const before = Date.now();
    // A transient message first: it never causes a notice, so the first POST is the next.
    alice.send({
      cmd: "direct",
      appId: "app1",
      peerId: "alice",
      msg: "typing",
      toPeerIds: ["bob"],
      transient: true,
    });
    alice.send({
      cmd: "direct",
      appId: "app1",
      peerId: "alice",
      msg: "hello bob",
      toPeerIds: ["bob", "carol"],
      i: 2,
    });
    const ack = await until(alice, (f) => f.cmd === "ack");
    await r.waitForRequests(1);
    const body = expectSigned(r.requests[0] as Received, before, Date.now());
    expect(body).toEqual({
      appId: "app1",
      id: ack.uid,
      fromPeerId: "alice",
      offlinePeerIds: ["bob"],
      timestamp: ack.t,
      msg: "hello bob",
    });
    // bob finds the message in his offline store, with the same id.
    const bob = await openSession("bob");
    const delivery = await until(bob, (f) => f.cmd === "direct");
    expect(delivery).toMatchObject({ id: ack.uid, offline: true, msg: "hello bob" });
    await sleep(50);
    expect(r.requests).toHaveLength(1);
  });

  it("[OFFLINE-PUSH-11] sends the ack before the receiver answers, and whether it fails or not", async () => {
    const r = await Receiver.start(() => "hold");
    const logger = new RecordingLogger();
    server = await startServer({
      port: 0,
      logger,
      apps: [app(r.url)],
      push: { timeoutMs: 10_000 },
    });
    const alice = await openSession("alice");
    alice.send({
      cmd: "direct",
      appId: "app1",
      peerId: "alice",
      msg: "m",
      toPeerIds: ["bob"],
      i: 2,
    });
    const ack = await until(alice, (f) => f.cmd === "ack");
    expect(r.answered).toBe(0); // the ack did not wait for the receiver
    await r.waitForRequests(1);
    expect(JSON.parse(r.requests[0]?.body ?? "{}").id).toBe(ack.uid);
    expect(r.answered).toBe(0);
    r.release(500);

    // A receiver that always fails: every ack still comes, and the message is kept.
    r.answer = () => 500;
    for (let i = 3; i < 6; i++) {
      alice.send({
        cmd: "direct",
        appId: "app1",
        peerId: "alice",
        msg: `m${i}`,
        toPeerIds: ["bob"],
        i,
      });
      expect(await until(alice, (f) => f.cmd === "ack")).toMatchObject({ i });
    }
    const bob = await openSession("bob");
    const ids = new Set<unknown>();
    while (ids.size < 4) ids.add((await until(bob, (f) => f.cmd === "direct")).id);
  });

  it("[OFFLINE-PUSH-1] reads pushUrl and pushIncludeText from the --config file, and refuses unusable ones", () => {
    const file = join(dir, "push.json");
    const write = (a: Record<string, unknown>) =>
      writeFileSync(file, JSON.stringify({ apps: [{ appId: "app1", masterKey: "k", ...a }] }));
    write({ pushUrl: "https://push.example/hook", pushIncludeText: true });
    const command = parseCommandLine(["--config", file], {}, dir);
    if (command.kind !== "run") throw new Error(command.kind);
    expect(command.options.apps?.[0]).toMatchObject({
      appId: "app1",
      pushUrl: "https://push.example/hook",
      pushIncludeText: true,
    });
    write({});
    const plain = parseCommandLine(["--config", file], {}, dir);
    if (plain.kind !== "run") throw new Error(plain.kind);
    expect(plain.options.apps?.[0]).not.toHaveProperty("pushUrl");
    for (const bad of [
      { pushUrl: "ftp://x/" },
      { pushUrl: 5 },
      { pushIncludeText: "yes", pushUrl: "http://x/" },
      { pushIncludeText: true },
      { pushUrl: "http://x/", masterKey: undefined },
    ]) {
      write(bad);
      expect(() => parseCommandLine(["--config", file], {}, dir), JSON.stringify(bad)).toThrow(
        UsageError,
      );
    }
  });
});
