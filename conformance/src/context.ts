/**
 * What a case works with: the target, fresh peer ids (isolation by a run prefix, never by
 * resetting the server), connections that record the exchange, session helpers that check
 * the requirements they rely on, REST requests, signatures with the app's master key, and
 * checks that name the requirement they grade.
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  codeOf,
  commandErrors,
  type GroupAction,
  groupSignedString,
  type SuperPeerSuffix,
  sessionSignedString,
  sign,
} from "@confab/protocol";
import {
  type Connection,
  DEFAULT_WAIT_MS,
  describeFrame,
  HandshakeRefused,
  openConnection,
  Recorder,
  type SocketOptions,
  WaitTimeout,
} from "./connection.js";
import {
  type FaultDetails,
  HarnessError,
  NotApplicable,
  ServerFault,
  type Warning,
} from "./errors.js";
import type { CaseResult } from "./report.js";
import type { Requirements } from "./requirements.js";
import type { Endpoint, Target } from "./target.js";

/** Which app a connection speaks for (spec 10, Table 11). */
export type AppRole = "open" | "signed" | "disabled" | "origin" | "unknown";

/** Options of {@link CaseContext.open}. */
export interface OpenOptions {
  /** Peers to watch (`sessionPeerIds`). */
  readonly watch?: readonly string[];
  /** The app; default `open`. A `signed` open is signed unless `sign: false`. */
  readonly app?: AppRole;
  /** Whether to sign; default: when the app is `signed`. */
  readonly sign?: boolean;
  /** Ask for the echo of the peer's own messages (ECHO-OPEN-1). */
  readonly echo?: boolean;
  /** Super-peer suffix to sign for. */
  readonly superPeer?: SuperPeerSuffix;
  /** Connect to the shortened-limits server instead (spec 10.2). */
  readonly short?: boolean;
  /** Open on this connection instead of a new one. */
  readonly on?: Connection;
  /** Other members of the `session/open` frame. */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** A REST or router answer. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  /** The body as text. */
  readonly text: string;
  /** The body parsed as JSON, `undefined` when it is not JSON. */
  readonly json: unknown;
}

/** The signature fields of a signed command (spec 06, decision D10). */
export interface SignatureFields {
  readonly s: string;
  readonly t: number;
  readonly n: string;
}

/** What the runner gives a case. */
export interface CaseContextInit {
  readonly target: Target;
  readonly requirements: Requirements;
  /** This case's prefix for peer ids: unique per run and case. */
  readonly prefix: string;
  /** Aborted when the case's hard timeout passes. */
  readonly signal: AbortSignal;
  /** The run's seed, for cases that draw values. */
  readonly seed: number;
  /** The profile: `quick`, `thorough` or `durability`. */
  readonly profile: string;
  /** Runs of a property case, when the command line sets them. */
  readonly numRuns?: number;
  /** A fast-check replay path for a property case (`--replay`). */
  readonly replayPath?: string;
  /** Where a property case writes the trace of a failure. */
  readonly traceDir: string;
}

/** Waits `ms`, or less if the case is aborted. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The context of one case. Every check names a requirement: a failed check throws a
 * {@link ServerFault} of that requirement (or, for SHOULD and MAY, records a warning and
 * lets the case go on), and anything a case throws outside a check is the kit's own error.
 */
export class CaseContext {
  /** The recorded exchange of the case. */
  readonly recorder = new Recorder();
  /** The SHOULD and MAY the server did not follow. */
  readonly warnings: Warning[] = [];
  /** Set by a property case that failed: how to replay it (seed, path, command, trace). */
  replay: CaseResult["replay"];
  private readonly connections: Connection[] = [];
  private peers = 0;
  private nonces = 0;

  /** @param init - what the runner knows */
  constructor(private readonly init: CaseContextInit) {}

  /** The target. */
  get target(): Target {
    return this.init.target;
  }

  /** Aborted when the case's time is up. */
  get signal(): AbortSignal {
    return this.init.signal;
  }

  /** The run's seed. */
  get seed(): number {
    return this.init.seed;
  }

  /** The profile of the run. */
  get profile(): string {
    return this.init.profile;
  }

  /** What the command line says of property runs: runs, replay path, trace folder. */
  get property(): { numRuns?: number; replayPath?: string; traceDir: string } {
    return {
      ...(this.init.numRuns !== undefined && { numRuns: this.init.numRuns }),
      ...(this.init.replayPath !== undefined && { replayPath: this.init.replayPath }),
      traceDir: this.init.traceDir,
    };
  }

  /** The app id of a role; not applicable when the target has no such app. */
  appId(role: AppRole = "open"): string {
    const { apps } = this.target;
    const id =
      role === "open"
        ? apps.open
        : role === "signed"
          ? apps.signed?.appId
          : role === "disabled"
            ? apps.disabled
            : role === "origin"
              ? apps.origin?.appId
              : apps.unknown;
    if (id === undefined)
      throw new NotApplicable(`the target has no ${role} app (spec 10, Table 11)`);
    return id;
  }

  /** The master key of the signed app. */
  get masterKey(): string {
    const key = this.target.apps.signed?.masterKey;
    if (key === undefined)
      throw new NotApplicable(
        "the target has no app that enforces signatures with a known master key",
      );
    return key;
  }

  /**
   * A fresh peer id for `name`, unique to this run and case, so that leftovers of another
   * case or run cannot reach it. `peer("alice")` twice gives the same id.
   */
  peer(name = `p${++this.peers}`): string {
    return `${this.init.prefix}-${name}`.slice(0, 64);
  }

  /** A nonce not used before by this kit. */
  nonce(): string {
    this.nonces++;
    return `${this.init.prefix}-n${this.nonces}-${randomBytes(3).toString("hex")}`;
  }

  /** Now, in Unix seconds, the signature timestamp. */
  nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
  }

  /** The `s`, `t`, `n` of a `session/open` or `session/add` (SIG-SESSION-1). */
  sessionSignature(args: {
    peerId: string;
    watchPeerIds?: readonly string[];
    superPeer?: SuperPeerSuffix;
    t?: number;
    n?: string;
    key?: string;
    appId?: string;
  }): SignatureFields {
    const t = args.t ?? this.nowSeconds();
    const n = args.n ?? this.nonce();
    const signed = sessionSignedString({
      appId: args.appId ?? this.appId("signed"),
      peerId: args.peerId,
      watchPeerIds: args.watchPeerIds ?? [],
      timestamp: t,
      nonce: n,
      superPeer: args.superPeer,
    });
    return { s: sign(args.key ?? this.masterKey, signed), t, n };
  }

  /** The `s`, `t`, `n` of a `room/join`, `room/invite` or `room/kick` (SIG-GROUP-1). */
  groupSignature(args: {
    peerId: string;
    action: GroupAction;
    roomId: string | undefined;
    roomPeerIds?: readonly string[];
    t?: number;
    n?: string;
    key?: string;
    appId?: string;
  }): SignatureFields {
    const t = args.t ?? this.nowSeconds();
    const n = args.n ?? this.nonce();
    const signed = groupSignedString({
      appId: args.appId ?? this.appId("signed"),
      peerId: args.peerId,
      roomId: args.roomId,
      roomPeerIds: args.roomPeerIds ?? [],
      timestamp: t,
      nonce: n,
      action: args.action,
    });
    return { s: sign(args.key ?? this.masterKey, signed), t, n };
  }

  /**
   * The endpoint: the shortened-limits one (`short`), or the instance the case chose with
   * {@link CaseContext.useInstance} (the main one unless it chose); not applicable when the
   * target has no such instance.
   */
  endpoint(short = false): Endpoint {
    if (!short) return this.instance === "bounds" ? (this.target.bounds as Endpoint) : this.target;
    const s = this.target.short;
    if (s === undefined) {
      throw new NotApplicable(
        "needs a server with the shortened limits of spec 10.2 (--short-url)",
      );
    }
    return s;
  }

  private instance: "main" | "bounds" = "main";

  /**
   * Makes `bounds`, the instance with small per-app bounds, the one every later connection
   * of the case goes to (LIMIT-BOUND-2): a case that fills a per-app bound calls it when the
   * main instance's bound is too large to fill. Not applicable when the target has none.
   */
  useInstance(instance: "main" | "bounds"): void {
    if (instance === "bounds" && this.target.bounds === undefined) {
      throw new NotApplicable(
        "needs an instance with small per-app bounds (--bounds-url, or a kit-started server)",
      );
    }
    this.instance = instance;
  }

  /** The limits the server announced (SESSION-INFO-5); `{}` when it announced none. */
  limits(short = false): Readonly<Record<string, number>> {
    return (this.endpoint(short).serverInfo?.limits ?? {}) as Readonly<Record<string, number>>;
  }

  /** One announced limit; not applicable when the server does not announce it. */
  limit(name: string, short = false): number {
    const v = this.limits(short)[name];
    if (v === undefined)
      throw new NotApplicable(`the server announces no limit ${name} (SESSION-INFO-5)`);
    return v;
  }

  /** Not applicable unless the target has `feature` in force. */
  requireFeature(feature: string): void {
    if (this.target.features[feature] !== true) {
      throw new NotApplicable(`feature ${feature} is not in force (${this.target.featureSource})`);
    }
  }

  /**
   * Opens a WebSocket connection (no session). A refused handshake or connection fails
   * FRAME-WS-1: the server accepts connections at the URL its router returns.
   */
  async connect(
    options: SocketOptions & { short?: boolean; url?: string } = {},
  ): Promise<Connection> {
    const url = options.url ?? this.endpoint(options.short).wsUrl;
    const label = this.recorder.nextLabel();
    let conn: Connection;
    try {
      conn = await openConnection(url, label, this.recorder, options);
    } catch (err) {
      this.recorder.add({
        conn: label,
        kind: "note",
        text: `connect to ${url} failed: ${(err as Error).message}`,
      });
      if (err instanceof HandshakeRefused) throw err;
      throw new ServerFault("FRAME-WS-1", `the WebSocket handshake to ${url} failed`, {
        actual: (err as Error).message,
      });
    }
    this.recorder.add({ conn: label, kind: "connect", text: url });
    this.connections.push(conn);
    return conn;
  }

  /**
   * Opens a session for `peerId` (a new connection unless `on`), and waits for
   * `session/opened`: SESSION-OPEN-1 is what every case that needs a session rests on, so
   * a server that cannot open one fails it, not the case's own requirement.
   */
  async open(
    peerId: string,
    options: OpenOptions = {},
  ): Promise<{ conn: Connection; opened: Record<string, unknown> }> {
    const app = options.app ?? "open";
    const conn = options.on ?? (await this.connect({ short: options.short ?? false }));
    const watch = options.watch ?? [];
    const signed = options.sign ?? app === "signed";
    const frame: Record<string, unknown> = {
      cmd: "session",
      op: "open",
      appId: this.appId(app),
      peerId,
      ...(watch.length > 0 && { sessionPeerIds: [...watch] }),
      ...(options.echo !== undefined && { echo: options.echo }),
      ...(options.superPeer === "sp" && { sp: true }),
      ...(signed &&
        this.sessionSignature({
          peerId,
          watchPeerIds: watch,
          ...(options.superPeer !== undefined && { superPeer: options.superPeer }),
          appId: this.appId(app),
        })),
      ...options.extra,
    };
    const opened = await this.check("SESSION-OPEN-2", () => conn.request(frame), {
      expected: "session/opened",
    });
    this.expect(
      "SESSION-OPEN-2",
      opened.cmd === "session" && opened.op === "opened",
      "the server did not open the session",
      {
        expected: "session/opened",
        actual: describeFrame(opened),
      },
    );
    return { conn, opened };
  }

  /**
   * Sends `frame` on `conn` with a fresh `i` and takes its answer, checking under
   * `requirement` that one came.
   */
  request(
    requirement: string,
    conn: Connection,
    frame: Record<string, unknown>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Record<string, unknown>> {
    return this.check(requirement, () => conn.request(frame, timeoutMs));
  }

  /**
   * Waits on `conn` for a frame matching `predicate`, checking under `requirement`: no such
   * frame within the bound fails it, and the failure shows what came instead.
   */
  waitFor(
    requirement: string,
    conn: Connection,
    predicate: (f: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Record<string, unknown>> {
    return this.check(requirement, () => conn.waitFor(predicate, timeoutMs, what), {
      expected: what,
    });
  }

  /**
   * Checks under `requirement` that no frame matching `predicate` arrives on `conn` within
   * `ms` (or already came untaken). The way to grade "MUST NOT deliver".
   */
  async expectNone(
    requirement: string,
    conn: Connection,
    predicate: (f: Record<string, unknown>) => boolean,
    what: string,
    ms = 500,
  ): Promise<void> {
    const came = await conn.waitFor(predicate, ms, what).then(
      (f) => f,
      () => undefined,
    );
    if (came !== undefined) {
      this.fault(requirement, `the server sent ${what}`, {
        expected: `none of: ${what}`,
        actual: JSON.stringify(came).slice(0, 500),
      });
    }
  }

  /**
   * A flush barrier: `from` sends one transient message to each peer of `to`, and the case
   * waits until each of their connections has it. Everything `from`'s session sent before
   * has then arrived [DIRECT-ORDER-1], so a "nothing else came" check that follows cannot
   * pass just because the server is slow or silent. The sentinels are taken, so they do
   * not count as stray frames.
   */
  async flush(
    from: { readonly conn: Connection; readonly peerId: string },
    to: readonly { readonly conn: Connection; readonly peerId: string }[],
  ): Promise<void> {
    const text = `flush-${this.nonce()}`;
    const peers = [...new Set(to.map((t) => t.peerId))];
    await this.request("TRANSIENT-ACK-2", from.conn, {
      cmd: "direct",
      appId: this.appId(),
      peerId: from.peerId,
      msg: text,
      toPeerIds: peers,
      transient: true,
    });
    for (const t of to) {
      await this.waitFor(
        "TRANSIENT-DELIVER-1",
        t.conn,
        (f) => f.cmd === "direct" && f.msg === text,
        `the flush sentinel "${text}" from ${from.peerId}`,
      );
    }
  }

  /**
   * A keepalive round trip on `conn`: the server answers `{}` (KEEPALIVE-REPLY-1) after
   * every reply to what `conn` sent before it (SERIAL-ORDER-1).
   */
  async roundTrip(conn: Connection): Promise<void> {
    conn.send({});
    await this.waitFor(
      "KEEPALIVE-REPLY-1",
      conn,
      (f) => Object.keys(f).length === 0,
      "the keepalive reply {}",
    );
  }

  /**
   * Waits for `conn` to be closed by the server with `code`, under `requirement`.
   * `codes` may list several acceptable codes.
   */
  async expectClose(
    requirement: string,
    conn: Connection,
    codes: number | readonly number[],
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<void> {
    const allowed = typeof codes === "number" ? [codes] : codes;
    const info = await this.check(requirement, () => conn.waitClose(timeoutMs), {
      expected: `close with ${allowed.join(" or ")}`,
    });
    this.expect(
      requirement,
      allowed.includes(info.code),
      `the connection closed with ${info.code}`,
      {
        expected: `close with ${allowed.join(" or ")}`,
        actual: `${info.code}${info.reason ? ` (${info.reason})` : ""}`,
      },
    );
  }

  /**
   * Runs `fn` as the check of `requirement`: a {@link WaitTimeout} or a {@link ServerFault}
   * of no requirement inside it becomes a fault of `requirement`; a fault of another
   * requirement, a harness error and a not-applicable pass through unchanged.
   */
  async check<T>(
    requirement: string,
    fn: () => Promise<T> | T,
    details: FaultDetails = {},
  ): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WaitTimeout) {
        return this.fault(requirement, err.message, { ...details, actual: err.actual });
      }
      if (err instanceof HandshakeRefused) {
        return this.fault(requirement, err.message, { ...details, actual: `HTTP ${err.status}` });
      }
      throw err;
    }
  }

  /** Fails `requirement` unless `ok` (for SHOULD and MAY: records a warning instead). */
  expect(requirement: string, ok: boolean, message: string, details: FaultDetails = {}): void {
    if (!ok) this.fault(requirement, message, details);
  }

  /** Fails `requirement` unless `actual` and `expected` are equal as JSON. */
  expectEqual(requirement: string, actual: unknown, expected: unknown, what: string): void {
    const a = JSON.stringify(actual);
    const e = JSON.stringify(expected);
    if (a !== e) {
      this.fault(requirement, `${what}: got ${String(a).slice(0, 200)}`, {
        expected: String(e),
        actual: String(a),
      });
    }
  }

  /**
   * Checks that `frame` is an `error` frame with `code` (and its Table 7 reason, which the
   * schemas already check) answering `i` when given, under `requirement`.
   */
  expectError(requirement: string, frame: Record<string, unknown>, code: number, i?: number): void {
    this.expect(
      requirement,
      frame.cmd === "error" && frame.code === code,
      `expected error ${code}, got ${describeFrame(frame)}`,
      {
        expected: `error code ${code}${i === undefined ? "" : ` i=${i}`}`,
        actual: JSON.stringify(frame).slice(0, 500),
      },
    );
    if (i !== undefined) {
      this.expect(
        "ERROR-FRAME-2",
        frame.i === i,
        "the error frame does not carry the command's i",
        {
          expected: `i=${i}`,
          actual: `i=${JSON.stringify(frame.i)}`,
        },
      );
    }
  }

  /**
   * Records a fault of `requirement`: throws for a MUST (the case fails), records a warning
   * for a SHOULD or MAY (the case goes on and ends as a warning).
   */
  fault(requirement: string, message: string, details: FaultDetails = {}): never {
    const req = this.init.requirements.get(requirement);
    if (req === undefined)
      throw new HarnessError(`the case names an unknown requirement ${requirement}`);
    if (req.level !== "MUST") {
      this.warnings.push({ requirement, message, details });
      throw new SoftFault();
    }
    throw new ServerFault(requirement, message, details);
  }

  /**
   * Runs `fn` and turns a SHOULD-level fault inside it into a warning only: the case goes
   * on after it. Use around the checks of SHOULD requirements in a case that grades MUSTs too.
   */
  async soft(fn: () => Promise<void> | void): Promise<void> {
    try {
      await fn();
    } catch (err) {
      if (!(err instanceof SoftFault)) throw err;
    }
  }

  /**
   * The error code the spec gives a frame that its schema refuses: the failed rules'
   * `x-confab-error` annotations, first by the precedence of ERROR-ORDER-12, derived from
   * the published schemas rather than written into the case [FRAME-SCHEMA-4]. A frame the
   * schemas accept is the case's own mistake: a harness error.
   */
  expectedCode(frame: unknown): number {
    const code = codeOf(commandErrors(frame));
    if (code === undefined)
      throw new HarnessError(
        `the case expects an error for a frame the schemas accept: ${JSON.stringify(frame).slice(0, 200)}`,
      );
    return code;
  }

  /** A note in the exchange, for the reader of a failure. */
  note(text: string): void {
    this.recorder.add({ conn: "kit", kind: "note", text });
  }

  /** Waits `ms` (cut short when the case is aborted). Prefer waiting for a frame. */
  sleep(ms: number): Promise<void> {
    return sleep(ms, this.signal);
  }

  /**
   * An HTTP request to the target's HTTP base (router, REST), recorded in the exchange.
   * A request that cannot be made is a fault of `requirement`.
   */
  async http(
    requirement: string,
    path: string,
    init: RequestInit & { short?: boolean } = {},
  ): Promise<HttpAnswer> {
    const url = `${this.endpoint(init.short).httpUrl}${path}`;
    this.recorder.add({ conn: "http", kind: "send", text: `${init.method ?? "GET"} ${path}` });
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        signal: AbortSignal.any([this.signal, AbortSignal.timeout(DEFAULT_WAIT_MS)]),
      });
    } catch (err) {
      return this.fault(requirement, `the HTTP request ${path} failed`, {
        actual: (err as Error).message,
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    this.recorder.add({ conn: "http", kind: "recv", code: res.status, text: text.slice(0, 300) });
    return { status: res.status, headers: res.headers, text, json };
  }

  /** Faults the connections found on the wire (schema-invalid frames, binary), if any. */
  wireFaults(): ServerFault[] {
    return this.connections.flatMap((c) => c.wireFaults);
  }

  /** Ends every connection the case opened. */
  async dispose(): Promise<void> {
    await Promise.all(
      this.connections.map(async (c) => {
        if (c.closeInfo === undefined) {
          c.ws.terminate();
          await Promise.race([c.closed, sleep(1_000, new AbortController().signal)]);
        }
      }),
    );
  }
}

/** A SHOULD-level fault already recorded as a warning: ends the check, not the run. */
export class SoftFault extends Error {
  constructor() {
    super("a SHOULD or MAY was not followed (recorded as a warning)");
  }
}
