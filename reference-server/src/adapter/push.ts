/**
 * The push hook: POSTs the core's offline notifications to each app's configured URL
 * (spec/03-messages.md 3.10, decision D16).
 *
 * The core decides that a notice is due and what it says (a `notify` output of the
 * `direct` handler); the WebSocket adapter hands it over after the turn's commit and its
 * frames; this module signs it, sends it, and retries it. Nothing here can delay or fail an
 * `ack` or a delivery [OFFLINE-PUSH-11]: {@link PushNotifier.notify} only queues and returns,
 * and every failure ends in a log line.
 *
 * Per app, a lane holds at most `queueCapacity` notices (waiting, scheduled for a retry or
 * being sent), sends at most `concurrency` at a time, oldest first, and gives up on a
 * notice after `maxAttempts` attempts [OFFLINE-PUSH-9]. A full lane drops its oldest notice
 * that is not being sent, with a `push_dropped` log line. Lanes are per app so that one
 * app's dead receiver cannot crowd out another app's notices: apps never share anything.
 * Timers are unref'd, so a lane never keeps the process alive; {@link PushNotifier.close}
 * drops whatever is left, sends nothing more and stops every timer.
 * @module
 */
import { type ClientRequest, Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import {
  PUSH_SIGNATURE_HEADER,
  PUSH_TIMESTAMP_HEADER,
  type PushNotice,
  pushSignature,
  pushSignedString,
} from "@confab/protocol";
import type { AppConfig } from "../core/config.js";
import type { NotifyOutput } from "../core/types.js";
import { errorFields, type Logger, silentLogger } from "../log.js";

// The protocol facts of a notice (its headers, signed string and signature) are the
// protocol package's, shared with receivers and the conformance kit [OFFLINE-PUSH-8];
// re-exported here for the server's own users.
export { PUSH_SIGNATURE_HEADER, PUSH_TIMESTAMP_HEADER, pushSignature, pushSignedString };

/** Notices one app's lane holds at most, being sent or waiting, by default [OFFLINE-PUSH-10]. */
export const DEFAULT_PUSH_QUEUE_CAPACITY = 1000;
/** POSTs one app's lane has in flight at most, by default. */
export const DEFAULT_PUSH_CONCURRENCY = 4;
/** Attempts per notice, the first included, by default [OFFLINE-PUSH-9]. */
export const DEFAULT_PUSH_MAX_ATTEMPTS = 5;
/** Nominal wait before the first retry, ms; it doubles for each later one [OFFLINE-PUSH-9]. */
export const DEFAULT_PUSH_BASE_DELAY_MS = 1000;
/** Longest nominal wait between two attempts, ms. */
export const DEFAULT_PUSH_MAX_DELAY_MS = 60_000;
/** How long one attempt may take, from the request to the response's status, ms. */
export const DEFAULT_PUSH_TIMEOUT_MS = 5000;

/**
 * The wait before the next attempt, after `attempts` failed ones: exponential backoff with
 * "equal jitter", a uniform draw from the upper half of the nominal wait
 * `min(maxMs, baseMs × 2^(attempts − 1))` [OFFLINE-PUSH-9]. The jitter spreads the retries
 * of many notices that failed together (a receiver that was down), the lower half keeps
 * the backoff a backoff.
 *
 * @param random - a number in [0, 1): `Math.random` in production.
 */
export function retryDelayMs(
  attempts: number,
  baseMs: number,
  maxMs: number,
  random: () => number,
): number {
  const nominal = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}

/**
 * What is wrong with an app's push settings, in one sentence, or `undefined` when they are
 * usable: the URL must be an absolute `http:` or `https:` URL, and the app needs a master
 * key to sign with [OFFLINE-PUSH-8].
 */
export function pushConfigProblem(app: AppConfig): string | undefined {
  if (app.pushUrl === undefined) {
    return app.pushIncludeText === undefined ? undefined : "pushIncludeText needs a pushUrl";
  }
  let url: URL;
  try {
    url = new URL(app.pushUrl);
  } catch {
    return `pushUrl must be an absolute http:// or https:// URL, not "${app.pushUrl}"`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `pushUrl must be an http:// or https:// URL, not "${app.pushUrl}"`;
  }
  if (app.masterKey === undefined || app.masterKey === "") {
    return "pushUrl needs a masterKey: notices are signed with it";
  }
  return undefined;
}

/** Options of {@link PushNotifier}. Everything but `apps` is optional. */
export interface PushNotifierOptions {
  /** The apps; those with a `pushUrl` get a lane. Throws on settings {@link pushConfigProblem} refuses. */
  readonly apps: readonly AppConfig[];
  /** Where the `push_*` log lines go. Default: nowhere. */
  readonly logger?: Logger | undefined;
  /** Notices one app holds at most. Default {@link DEFAULT_PUSH_QUEUE_CAPACITY}. */
  readonly queueCapacity?: number | undefined;
  /** POSTs one app has in flight at most. Default {@link DEFAULT_PUSH_CONCURRENCY}. */
  readonly concurrency?: number | undefined;
  /** Attempts per notice, the first included. Default {@link DEFAULT_PUSH_MAX_ATTEMPTS}. */
  readonly maxAttempts?: number | undefined;
  /** Nominal wait before the first retry, ms. Default {@link DEFAULT_PUSH_BASE_DELAY_MS}. */
  readonly baseDelayMs?: number | undefined;
  /** Longest nominal wait, ms. Default {@link DEFAULT_PUSH_MAX_DELAY_MS}. */
  readonly maxDelayMs?: number | undefined;
  /** How long one attempt may take, ms. Default {@link DEFAULT_PUSH_TIMEOUT_MS}. */
  readonly timeoutMs?: number | undefined;
  /** The jitter's source of numbers in [0, 1). Default `Math.random`. */
  readonly random?: (() => number) | undefined;
  /** The clock of {@link PUSH_TIMESTAMP_HEADER}, ms. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
}

/** Counters of a {@link PushNotifier}, over every app, since it started. */
export interface PushStats {
  /** Notices held now: waiting, scheduled for a retry, or being sent. */
  readonly queued: number;
  /** POSTs in flight now. */
  readonly inFlight: number;
  /** Notices a receiver answered with a 2xx status. */
  readonly sent: number;
  /** Notices given up: out of attempts, or refused with a status that is not retried. */
  readonly failed: number;
  /** Notices dropped unsent because their lane was full. */
  readonly dropped: number;
  /** POSTs started, retries included. */
  readonly attempts: number;
}

/** One notice in a lane. */
interface Entry {
  readonly notice: Readonly<PushNotice>;
  /** The body, serialised once: every attempt sends the same bytes [OFFLINE-PUSH-12]. */
  readonly body: string;
  /** Attempts started so far. */
  attempts: number;
  /** When the next attempt may start (`performance.now()` ms). */
  dueAt: number;
  /** The request of the attempt in flight, if any. */
  request: ClientRequest | undefined;
}

/** The notices of one app, in arrival order (a Set keeps insertion order: oldest first). */
interface Lane {
  readonly appId: string;
  readonly url: URL;
  readonly masterKey: string;
  readonly agent: HttpAgent;
  readonly entries: Set<Entry>;
  inFlight: number;
  timer: NodeJS.Timeout | undefined;
  timerAt: number;
}

/** The outcome of one attempt. */
type Attempt =
  | { readonly ok: true; readonly status: number }
  | {
      readonly ok: false;
      readonly retry: boolean;
      readonly why: string;
      readonly status?: number | undefined;
      /** A `Retry-After` the receiver asked for, ms. */
      readonly retryAfterMs?: number | undefined;
    };

/** Whether a status is worth another attempt: the receiver may take it later. */
function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** `Retry-After` in seconds (the HTTP-date form is not used by hooks worth supporting). */
function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const v = Array.isArray(header) ? header[0] : header;
  return v !== undefined && /^\d{1,6}$/.test(v.trim()) ? Number(v.trim()) * 1000 : undefined;
}

/**
 * Sends the core's offline notifications to the apps' push hooks: signed POSTs from a
 * bounded queue per app, retried with backoff and jitter [OFFLINE-PUSH-8, OFFLINE-PUSH-9,
 * OFFLINE-PUSH-10]. {@link PushNotifier.notify} never blocks and never throws
 * [OFFLINE-PUSH-11].
 */
export class PushNotifier {
  readonly #lanes = new Map<string, Lane>();
  readonly #logger: Logger;
  readonly #capacity: number;
  readonly #concurrency: number;
  readonly #maxAttempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #timeoutMs: number;
  readonly #random: () => number;
  readonly #now: () => number;
  #closed = false;
  #sent = 0;
  #failed = 0;
  #dropped = 0;
  #attempts = 0;

  /** Makes a lane for every app with a `pushUrl`; throws an `Error` naming an app whose settings are unusable. */
  constructor(options: PushNotifierOptions) {
    this.#logger = options.logger ?? silentLogger;
    this.#capacity = Math.max(1, options.queueCapacity ?? DEFAULT_PUSH_QUEUE_CAPACITY);
    this.#concurrency = Math.max(1, options.concurrency ?? DEFAULT_PUSH_CONCURRENCY);
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? DEFAULT_PUSH_MAX_ATTEMPTS);
    this.#baseDelayMs = Math.max(0, options.baseDelayMs ?? DEFAULT_PUSH_BASE_DELAY_MS);
    this.#maxDelayMs = Math.max(this.#baseDelayMs, options.maxDelayMs ?? DEFAULT_PUSH_MAX_DELAY_MS);
    this.#timeoutMs = Math.max(1, options.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS);
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    for (const app of options.apps) {
      const problem = pushConfigProblem(app);
      if (problem !== undefined) throw new Error(`app ${app.appId}: ${problem}`);
      if (app.pushUrl === undefined || app.masterKey === undefined) continue;
      const url = new URL(app.pushUrl);
      const agentOptions = { keepAlive: true, maxSockets: this.#concurrency };
      this.#lanes.set(app.appId, {
        appId: app.appId,
        url,
        masterKey: app.masterKey,
        agent:
          url.protocol === "https:" ? new HttpsAgent(agentOptions) : new HttpAgent(agentOptions),
        entries: new Set(),
        inFlight: 0,
        timer: undefined,
        timerAt: Number.POSITIVE_INFINITY,
      });
    }
  }

  /** The app ids that have a push hook. */
  get appIds(): string[] {
    return [...this.#lanes.keys()];
  }

  /** Counters over every app. */
  stats(): PushStats {
    let queued = 0;
    let inFlight = 0;
    for (const lane of this.#lanes.values()) {
      queued += lane.entries.size;
      inFlight += lane.inFlight;
    }
    return {
      queued,
      inFlight,
      sent: this.#sent,
      failed: this.#failed,
      dropped: this.#dropped,
      attempts: this.#attempts,
    };
  }

  /**
   * Queues a notice for its app's hook and returns at once; the first attempt starts in
   * this turn if the lane has room in flight [OFFLINE-PUSH-11]. A full lane first drops its
   * oldest notice that is not being sent [OFFLINE-PUSH-10]. Never throws: a notice for an
   * app without a hook, or after {@link close}, is logged and dropped.
   */
  notify(output: NotifyOutput): void {
    try {
      this.#enqueue(output);
    } catch (err) {
      this.#logger.log("error", "push_failed", {
        appId: output.appId,
        id: output.notice.id,
        ...errorFields(err),
      });
    }
  }

  /**
   * Stops: drops every notice not sent yet, aborts the POSTs in flight, clears every timer
   * and closes the lanes' sockets. Sends nothing more. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    let left = 0;
    for (const lane of this.#lanes.values()) {
      if (lane.timer !== undefined) clearTimeout(lane.timer);
      lane.timer = undefined;
      left += lane.entries.size;
      for (const e of lane.entries) e.request?.destroy();
      lane.entries.clear();
      lane.inFlight = 0;
      lane.agent.destroy();
    }
    if (left > 0) this.#logger.log("info", "push_closed", { dropped: left });
  }

  #enqueue(output: NotifyOutput): void {
    const { appId, notice } = output;
    const lane = this.#lanes.get(appId);
    if (this.#closed || lane === undefined) {
      const why = this.#closed ? "closed" : "no push hook for the app";
      this.#logger.log("warn", "push_dropped", { appId, id: notice.id, why });
      this.#dropped++;
      return;
    }
    if (lane.entries.size >= this.#capacity) {
      // [OFFLINE-PUSH-10] The oldest that is not in flight: aborting a POST that may have
      // reached the receiver would only make it retry-worthy. If every held notice is in
      // flight, the newcomer is the one that goes.
      let victim: Entry | undefined;
      for (const e of lane.entries) {
        if (e.request === undefined) {
          victim = e;
          break;
        }
      }
      const gone = victim?.notice ?? notice;
      this.#logger.log("warn", "push_dropped", {
        appId,
        id: gone.id,
        why: "queue full",
        capacity: this.#capacity,
      });
      this.#dropped++;
      if (victim === undefined) return;
      lane.entries.delete(victim);
    }
    lane.entries.add({
      notice,
      body: JSON.stringify(notice),
      attempts: 0,
      dueAt: performance.now(),
      request: undefined,
    });
    this.#pump(lane);
  }

  /** Starts the due notices, oldest first, while the lane has room in flight; arms the timer for the next. */
  #pump(lane: Lane): void {
    if (this.#closed) return;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    for (const e of lane.entries) {
      if (e.request !== undefined) continue;
      if (e.dueAt <= now) {
        if (lane.inFlight < this.#concurrency) this.#start(lane, e);
      } else if (e.dueAt < next) {
        next = e.dueAt;
      }
    }
    if (next === Number.POSITIVE_INFINITY || next >= lane.timerAt) return;
    if (lane.timer !== undefined) clearTimeout(lane.timer);
    lane.timerAt = next;
    lane.timer = setTimeout(
      () => {
        lane.timer = undefined;
        lane.timerAt = Number.POSITIVE_INFINITY;
        this.#pump(lane);
      },
      Math.max(1, Math.ceil(next - now)),
    );
    lane.timer.unref(); // a pending retry never keeps the process alive
  }

  #start(lane: Lane, e: Entry): void {
    e.attempts++;
    lane.inFlight++;
    this.#attempts++;
    this.#post(lane, e, (result) => {
      e.request = undefined;
      lane.inFlight--;
      if (this.#closed) return;
      this.#settle(lane, e, result);
      this.#pump(lane);
    });
  }

  /** After an attempt: done, retry later, or give up [OFFLINE-PUSH-9]. */
  #settle(lane: Lane, e: Entry, result: Attempt): void {
    const fields = { appId: lane.appId, id: e.notice.id, attempt: e.attempts };
    if (result.ok) {
      lane.entries.delete(e);
      this.#sent++;
      this.#logger.log("debug", "push_sent", { ...fields, status: result.status });
      return;
    }
    const why = { why: result.why, ...(result.status !== undefined && { status: result.status }) };
    if (!result.retry || e.attempts >= this.#maxAttempts) {
      lane.entries.delete(e);
      this.#failed++;
      this.#logger.log("warn", "push_failed", { ...fields, ...why });
      return;
    }
    let delayMs = retryDelayMs(e.attempts, this.#baseDelayMs, this.#maxDelayMs, this.#random);
    if (result.retryAfterMs !== undefined) {
      // Honour the receiver's wish, within the backoff's own ceiling.
      delayMs = Math.max(delayMs, Math.min(result.retryAfterMs, this.#maxDelayMs));
    }
    e.dueAt = performance.now() + delayMs;
    this.#logger.log("info", "push_retry", { ...fields, ...why, delayMs });
  }

  /**
   * One signed POST of a notice [OFFLINE-PUSH-8]: the timestamp is this attempt's, the body
   * the notice's own. A 2xx answer is a success; no answer in time, a network error, 408,
   * 429 and 5xx are retried; anything else (a 3xx, which is not followed, or a 4xx) is the
   * receiver's final word.
   */
  #post(lane: Lane, e: Entry, done: (result: Attempt) => void): void {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (result: Attempt) => {
      if (settled) return;
      settled = true;
      if (timer !== undefined) clearTimeout(timer);
      done(result);
    };
    const timestamp = Math.floor(this.#now() / 1000);
    const send = lane.url.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(lane.url, {
      method: "POST",
      agent: lane.agent,
      headers: {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(e.body),
        "User-Agent": "confab-reference-server",
        [PUSH_TIMESTAMP_HEADER]: String(timestamp),
        [PUSH_SIGNATURE_HEADER]: pushSignature(lane.masterKey, timestamp, e.body),
      },
    });
    e.request = req;
    timer = setTimeout(() => {
      finish({ ok: false, retry: true, why: `no answer within ${this.#timeoutMs} ms` });
      req.destroy();
    }, this.#timeoutMs);
    timer.unref();
    req.on("response", (res) => {
      res.resume(); // the body says nothing the status does not
      res.on("error", () => {}); // a reset after the status changes nothing
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) finish({ ok: true, status });
      else
        finish({
          ok: false,
          retry: retryable(status),
          why: `answered ${status}`,
          status,
          retryAfterMs: retryAfterMs(res.headers["retry-after"]),
        });
    });
    req.on("error", (err) => finish({ ok: false, retry: true, why: errorFields(err).error }));
    req.end(e.body);
  }
}
