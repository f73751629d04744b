/**
 * A push-hook receiver on loopback (spec/03-messages.md 3.10): a small HTTP server that
 * records every request a server under test makes to it (method, path, headers, the raw
 * body, the body parsed as JSON, the time), answers each as the cases tell it (a status,
 * a hang, a reset connection) and lets a case wait, with a bound, for a request that
 * matches a predicate.
 *
 * The kit starts one per run for the targets it starts itself, and provisions the push app
 * of those targets with its URL (target.ts). It is shared by every case of the run, so a
 * case tells its requests from others' by their content (its own fresh peer ids, its own
 * message ids), never by order, and scopes every answer rule to its own requests.
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { WaitTimeout } from "./connection.js";

/** One request the receiver got. */
export interface PushRequest {
  /** 1-based, in the order the bodies were complete, over the receiver's life. */
  readonly seq: number;
  /** The HTTP method. */
  readonly method: string;
  /** The request target as sent: path and query. */
  readonly path: string;
  /** The headers, names lowercased; a repeated header's values joined with `", "`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The body exactly as it came. */
  readonly body: Buffer;
  /** The body decoded as UTF-8. */
  readonly text: string;
  /** The body parsed as JSON; `undefined` when it is not JSON. */
  readonly json: unknown;
  /** When the body was complete, `Date.now()` ms. */
  readonly receivedAt: number;
  /** What the receiver did with it: a status, `"hang"` (held open) or `"reset"`. */
  answer: number | "hang" | "reset" | undefined;
  /** When it ended: answered, reset, or closed by the sender while held. `Date.now()` ms. */
  endedAt: number | undefined;
}

/**
 * How the receiver answers a request: a status (with headers), `"hang"` to hold it open
 * without an answer until {@link PushReceiver.release} or the sender gives up (a timeout
 * for the sender), or `"reset"` to destroy the connection (a network error for the sender).
 */
export type PushAnswer =
  | number
  | { readonly status: number; readonly headers?: Readonly<Record<string, string>> }
  | "hang"
  | "reset";

/** An answer rule: the matching requests get `answer`, up to `times` of them. */
export interface PushRule {
  /** Which requests the rule answers. */
  readonly match: (request: PushRequest) => boolean;
  /** The answer. */
  readonly answer: PushAnswer;
  /** How many matching requests the rule answers before it is spent. Default: all. */
  readonly times?: number;
}

/** Options of {@link PushReceiver.start}. */
export interface PushReceiverOptions {
  /** The interface to listen on. Default `127.0.0.1`. */
  readonly host?: string;
  /** The port; default 0, a free one. */
  readonly port?: number;
  /** Requests kept at most; older ones are forgotten first. Default 50 000. */
  readonly maxRecords?: number;
  /** Bytes of one body kept at most; a larger body is answered 413. Default 1 MiB. */
  readonly maxBodyBytes?: number;
}

/** No matching request within the bound: a {@link WaitTimeout}, so that `ctx.check` grades it. */
export class PushWaitTimeout extends WaitTimeout {
  /**
   * @param what - what was awaited
   * @param afterMs - the bound
   * @param seen - a summary of the requests that came in the meantime
   */
  constructor(
    what: string,
    afterMs: number,
    private readonly seen: string,
  ) {
    super(what, undefined, [], afterMs);
  }

  override get actual(): string {
    return this.seen;
  }
}

/** A rule as the receiver keeps it. */
interface LiveRule {
  readonly rule: PushRule;
  used: number;
}

/** A case waiting for a request. */
interface Waiter {
  readonly after: number;
  readonly predicate: (request: PushRequest) => boolean;
  readonly resolve: (request: PushRequest) => void;
}

/** A request held open by a `"hang"` answer. */
interface Held {
  readonly request: PushRequest;
  readonly res: ServerResponse;
}

/** One line about a request, for a failure's `actual` and the exchange. */
export function describePushRequest(r: PushRequest): string {
  const body = r.text.length > 300 ? `${r.text.slice(0, 300)}…` : r.text;
  return `#${r.seq} ${r.method} ${r.path} ${body}`;
}

/** A push-hook receiver. Start it with {@link PushReceiver.start}; close it with {@link PushReceiver.close}. */
export class PushReceiver {
  readonly #server: Server;
  readonly #records: PushRequest[] = [];
  readonly #rules: LiveRule[] = [];
  readonly #waiters = new Set<Waiter>();
  readonly #held = new Set<Held>();
  readonly #maxRecords: number;
  readonly #maxBodyBytes: number;
  #seq = 0;
  #closed = false;

  /** The base URL, `http://127.0.0.1:PORT`, without a trailing slash. */
  readonly url: string;

  private constructor(server: Server, url: string, options: PushReceiverOptions) {
    this.#server = server;
    this.url = url;
    this.#maxRecords = options.maxRecords ?? 50_000;
    this.#maxBodyBytes = options.maxBodyBytes ?? 1_048_576;
    server.on("request", (req, res) => this.#onRequest(req, res));
  }

  /** Starts a receiver, listening on 127.0.0.1 and a free port unless told otherwise. */
  static start(options: PushReceiverOptions = {}): Promise<PushReceiver> {
    const server = createServer({ keepAliveTimeout: 30_000 });
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      const host = options.host ?? "127.0.0.1";
      server.listen(options.port ?? 0, host, () => {
        server.off("error", reject);
        const { port } = server.address() as AddressInfo;
        const shown = host.includes(":") ? `[${host}]` : host;
        resolve(new PushReceiver(server, `http://${shown}:${port}`, options));
      });
    });
  }

  /** The URL of `path` on this receiver (`path` starts with `/`). */
  urlFor(path: string): string {
    return `${this.url}${path}`;
  }

  /** Every request kept, oldest first. */
  get requests(): readonly PushRequest[] {
    return this.#records;
  }

  /** The seq of the last request so far (0 before the first). */
  get lastSeq(): number {
    return this.#seq;
  }

  /** The requests kept that match `predicate`, oldest first. */
  matching(predicate: (r: PushRequest) => boolean): PushRequest[] {
    return this.#records.filter(predicate);
  }

  /**
   * Answers the requests matching `rule.match` with `rule.answer` (up to `rule.times`),
   * from now on; the newest rule that matches wins, and a request no rule matches gets
   * 200. Returns a function that removes the rule.
   */
  answer(rule: PushRule): () => void {
    const live: LiveRule = { rule, used: 0 };
    this.#rules.unshift(live);
    return () => {
      const i = this.#rules.indexOf(live);
      if (i >= 0) this.#rules.splice(i, 1);
    };
  }

  /**
   * The first request after seq `after` (default 0: any kept) that matches `predicate`,
   * already come or coming within `timeoutMs`; rejects with a {@link PushWaitTimeout}
   * otherwise, or when `signal` aborts.
   */
  waitFor(
    predicate: (r: PushRequest) => boolean,
    timeoutMs: number,
    options: { after?: number; what?: string; signal?: AbortSignal } = {},
  ): Promise<PushRequest> {
    const after = options.after ?? 0;
    const found = this.#records.find((r) => r.seq > after && predicate(r));
    if (found !== undefined) return Promise.resolve(found);
    const what = options.what ?? "a matching push request";
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter: Waiter = {
        after,
        predicate,
        resolve: (r) => {
          finish();
          resolve(r);
        },
      };
      const fail = () => {
        finish();
        const came = this.#records.filter((r) => r.seq > after).slice(-5);
        const seen =
          came.length === 0
            ? "no request at all"
            : `other requests only; the last: ${came.map(describePushRequest).join(" | ")}`;
        reject(new PushWaitTimeout(what, timeoutMs, seen));
      };
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        options.signal?.removeEventListener("abort", fail);
      };
      this.#waiters.add(waiter);
      timer = setTimeout(fail, timeoutMs);
      options.signal?.addEventListener("abort", fail);
    });
  }

  /** The next request matching `predicate`, after every request so far; see {@link waitFor}. */
  next(
    predicate: (r: PushRequest) => boolean,
    timeoutMs: number,
    options: { what?: string; signal?: AbortSignal } = {},
  ): Promise<PushRequest> {
    return this.waitFor(predicate, timeoutMs, { ...options, after: this.#seq });
  }

  /**
   * Waits until no request matching `predicate` has come for `quietMs`, or `maxMs` have
   * passed, and returns the matching requests after seq `after` (default 0).
   */
  async settle(
    predicate: (r: PushRequest) => boolean,
    quietMs: number,
    maxMs: number,
    options: { after?: number; signal?: AbortSignal } = {},
  ): Promise<PushRequest[]> {
    const after = options.after ?? 0;
    const deadline = Date.now() + maxMs;
    for (;;) {
      const mine = this.#records.filter((r) => r.seq > after && predicate(r));
      const last = mine.reduce((t, r) => Math.max(t, r.receivedAt), 0);
      const now = Date.now();
      if (now - last >= quietMs || now >= deadline || options.signal?.aborted === true) return mine;
      const wait = Math.min(quietMs - (now - last), deadline - now);
      await new Promise((r) => setTimeout(r, Math.max(10, wait)));
    }
  }

  /** The requests held open now (by a `"hang"` answer) that match `predicate`. */
  held(predicate: (r: PushRequest) => boolean = () => true): PushRequest[] {
    return [...this.#held].filter((h) => predicate(h.request)).map((h) => h.request);
  }

  /** Answers the held requests that match `predicate` with `answer` (default 200). Returns how many. */
  release(predicate: (r: PushRequest) => boolean = () => true, answer: PushAnswer = 200): number {
    let n = 0;
    for (const h of [...this.#held]) {
      if (!predicate(h.request)) continue;
      this.#held.delete(h);
      this.#respond(h.request, h.res, answer === "hang" ? 200 : answer);
      n++;
    }
    return n;
  }

  /** Stops: ends the held requests, closes every connection and the server. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const h of this.#held) h.res.destroy();
    this.#held.clear();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #onRequest(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.#maxBodyBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("error", () => {});
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const text = body.toString("utf8");
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(", ") : value;
      }
      const request: PushRequest = {
        seq: ++this.#seq,
        method: req.method ?? "",
        path: req.url ?? "",
        headers,
        body,
        text,
        json,
        receivedAt: Date.now(),
        answer: undefined,
        endedAt: undefined,
      };
      this.#records.push(request);
      if (this.#records.length > this.#maxRecords) this.#records.shift();
      const answer = tooLarge ? 413 : this.#answerFor(request);
      if (answer === "hang") {
        request.answer = "hang";
        const held: Held = { request, res };
        this.#held.add(held);
        res.on("close", () => {
          if (this.#held.delete(held)) request.endedAt = Date.now();
        });
      } else {
        this.#respond(request, res, answer);
      }
      for (const w of [...this.#waiters]) {
        if (request.seq > w.after && w.predicate(request)) w.resolve(request);
      }
    });
  }

  #answerFor(request: PushRequest): PushAnswer {
    if (this.#closed) return "reset";
    for (const live of this.#rules) {
      const { rule } = live;
      if (rule.times !== undefined && live.used >= rule.times) continue;
      if (!rule.match(request)) continue;
      live.used++;
      return rule.answer;
    }
    return 200;
  }

  #respond(request: PushRequest, res: ServerResponse, answer: PushAnswer): void {
    if (answer === "hang") return;
    request.endedAt = Date.now();
    if (answer === "reset") {
      request.answer = "reset";
      res.socket?.destroy();
      res.destroy();
      return;
    }
    const { status, headers } = typeof answer === "number" ? { status: answer } : answer;
    request.answer = status;
    res.writeHead(status, { "Content-Length": "0", ...headers });
    res.end();
  }
}
