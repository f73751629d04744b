/**
 * One WebSocket connection of a case: it records every frame both ways with its time, for
 * the failure's exchange and the HTML report's sequence diagram; validates every frame the
 * server sends against the published schemas; validates every frame the kit sends, so that
 * a bad frame of the kit's own is reported as a harness error rather than as the server's
 * fault; and waits for frames with a bound, since fast-check and vitest cannot cancel a
 * promise that never settles.
 * @module
 */
import {
  type C2SMessage,
  CODE_NAMES,
  commandErrors,
  formatErrors,
  type S2CFrame,
  validate,
} from "@confab/protocol";
import { type ClientOptions, WebSocket } from "ws";
import { HarnessError, ServerFault } from "./errors.js";
import type { ExchangeEvent } from "./report.js";

/** How a socket closed, as the kit saw it. */
export interface CloseInfo {
  /** The close code; 1006 when the connection dropped without a close frame. */
  readonly code: number;
  /** The close reason, `""` when there was none. */
  readonly reason: string;
}

/** A frame received, with when it came and whether the kit has consumed it. */
interface Received {
  readonly frame: Record<string, unknown>;
  /** The text as it came, for requirements about the bytes (LOGS-BYTES-1, FRAME-NUMBER-1). */
  readonly raw: string;
  /** When it came, ms since the case started. */
  readonly at: number;
  taken: boolean;
}

/** Records the events of one case, shared by its connections. */
export class Recorder {
  /** Every event, in order. */
  readonly events: ExchangeEvent[] = [];
  private readonly start = performance.now();
  private counter = 0;

  /** Milliseconds since the case started. */
  now(): number {
    return Math.round((performance.now() - this.start) * 10) / 10;
  }

  /** The next connection label, `c1`, `c2`, … */
  nextLabel(): string {
    this.counter++;
    return `c${this.counter}`;
  }

  /** Events left out because the list was full. */
  dropped = 0;

  /** Adds an event; the list is bounded so a flood case cannot exhaust the kit's memory. */
  add(event: Omit<ExchangeEvent, "t">): void {
    if (this.events.length >= MAX_EVENTS) {
      this.dropped++;
      return;
    }
    this.events.push({ t: this.now(), ...event });
  }
}

/** Events kept per case: enough for any diagram a person reads. */
const MAX_EVENTS = 2_000;

/** The longest raw text kept in an event. */
const MAX_RAW = 300;

/** A wait's bound when a case names none, in milliseconds. */
export const DEFAULT_WAIT_MS = 3_000;

/** What a wait for a frame looks for. */
export type FramePredicate = (frame: Record<string, unknown>) => boolean;

/** Builds a predicate matching every member of `shape` (compared by JSON equality). */
export function matching(shape: Readonly<Record<string, unknown>>): FramePredicate {
  const entries = Object.entries(shape);
  return (f) => entries.every(([k, v]) => JSON.stringify(f[k]) === JSON.stringify(v));
}

/** A short description of a frame for messages: `cmd/op i=3 code=4114`. */
export function describeFrame(frame: Readonly<Record<string, unknown>>): string {
  const name =
    frame.op === undefined ? String(frame.cmd ?? "(keepalive)") : `${frame.cmd}/${frame.op}`;
  const parts = [name];
  if (frame.i !== undefined) parts.push(`i=${JSON.stringify(frame.i)}`);
  if (frame.code !== undefined) parts.push(`code=${JSON.stringify(frame.code)}`);
  return parts.join(" ");
}

/**
 * A connection of the kit to the server under test. Frames are taken in arrival order by
 * {@link Connection.next} and by predicate by {@link Connection.waitFor}; frames nobody
 * took stay available, so a case can wait for a reply while deliveries pile up.
 */
export class Connection {
  /** Every frame received, in order. */
  private readonly inbox: Received[] = [];
  private readonly listeners = new Set<() => void>();
  private closeInfoValue: CloseInfo | undefined;
  /** Resolves once the socket has closed. */
  readonly closed: Promise<CloseInfo>;
  /** Problems with what the server sent (schema, binary, not JSON): graded by the case. */
  readonly wireFaults: ServerFault[] = [];
  private serial = 0;
  /** When the connection opened, ms since the case started. */
  readonly openedAt: number;

  /**
   * @param ws - the socket, open
   * @param label - the lane of the sequence diagram
   * @param recorder - the case's recorder
   */
  constructor(
    readonly ws: WebSocket,
    readonly label: string,
    private readonly recorder: Recorder,
  ) {
    ws.on("message", (data: Buffer, isBinary: boolean) => this.onMessage(data, isBinary));
    this.openedAt = recorder.now();
    this.closed = new Promise<CloseInfo>((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        this.closeInfoValue = { code, reason: reason.toString() };
        recorder.add({ conn: label, kind: "close", code, text: reason.toString() });
        resolve(this.closeInfoValue);
        this.notify();
      });
    });
    ws.on("error", () => {
      // Surfaced through `closed`.
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const hex = data.subarray(0, MAX_RAW / 2).toString("hex");
      this.recorder.add({
        conn: this.label,
        kind: "recv",
        text: `binary ${data.length} B: ${hex}`,
        problem: "binary",
      });
      this.wireFaults.push(
        new ServerFault("FRAME-BINARY-1", "the server sent a binary WebSocket message", {
          actual: `${data.length} bytes`,
        }),
      );
      return;
    }
    const text = data.toString("utf8");
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      frame = undefined;
    }
    if (frame === null || typeof frame !== "object" || Array.isArray(frame)) {
      this.recorder.add({
        conn: this.label,
        kind: "recv",
        text: text.slice(0, MAX_RAW),
        problem: "not a JSON object",
      });
      this.wireFaults.push(
        new ServerFault(
          "FRAME-TEXT-1",
          "the server sent a text message that is not one JSON object",
          {
            actual: text.slice(0, MAX_RAW),
          },
        ),
      );
      return;
    }
    const record = frame as Record<string, unknown>;
    const result = validate("s2c", record);
    if (!result.ok) {
      const problem = formatErrors(result);
      this.recorder.add({ conn: this.label, kind: "recv", frame: record, problem });
      // [VERSION-COMPAT-1] a v1 server sends only frames and values the spec defines.
      this.wireFaults.push(
        new ServerFault("VERSION-COMPAT-1", "the server sent a frame that its schema refuses", {
          expected: "a frame valid against the published s2c schemas",
          actual: `${JSON.stringify(record).slice(0, MAX_RAW)}: ${problem}`,
        }),
      );
    } else this.recorder.add({ conn: this.label, kind: "recv", frame: record });
    this.checkError(record);
    this.inbox.push({ frame: record, raw: text, at: this.recorder.now(), taken: false });
    for (const hook of this.hooks) hook(record);
    this.notify();
  }

  private readonly hooks: ((frame: Record<string, unknown>) => void)[] = [];

  /**
   * Calls `hook` with every frame received from now on, as it arrives (before any wait sees
   * it): how a case acknowledges every delivery, as a real client does.
   */
  onFrame(hook: (frame: Record<string, unknown>) => void): void {
    this.hooks.push(hook);
  }

  /** How the socket closed, or `undefined` while it is open. */
  get closeInfo(): CloseInfo | undefined {
    return this.closeInfoValue;
  }

  /** Whether frames sent now reach the server. */
  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Every frame received so far, taken or not, in order. */
  get frames(): Record<string, unknown>[] {
    return this.inbox.map((r) => r.frame);
  }

  /** The text of a received frame as the server sent it, or `undefined` for another object. */
  rawOf(frame: Readonly<Record<string, unknown>>): string | undefined {
    return this.inbox.find((r) => r.frame === frame)?.raw;
  }

  /**
   * What every `error` frame must be, whatever the case: its `reason` the name Table 7 gives
   * its code [ERROR-FRAME-1], and never a code v1 does not use [ERROR-UNUSED-1].
   */
  private checkError(frame: Record<string, unknown>): void {
    if (frame.cmd !== "error" || typeof frame.code !== "number") return;
    const code = frame.code;
    if (code === 4111 || (code >= 4300 && code <= 4399)) {
      this.wireFaults.push(
        new ServerFault(
          "ERROR-UNUSED-1",
          `the server sent error code ${code}, which protocol v1 does not use`,
          {
            actual: JSON.stringify(frame).slice(0, MAX_RAW),
          },
        ),
      );
    }
    const name = CODE_NAMES.get(code);
    if (name !== undefined && frame.reason !== name) {
      this.wireFaults.push(
        new ServerFault(
          "ERROR-FRAME-1",
          `an error frame with code ${code} has reason ${JSON.stringify(frame.reason)}`,
          {
            expected: `reason ${JSON.stringify(name)} (Table 7)`,
            actual: JSON.stringify(frame).slice(0, MAX_RAW),
          },
        ),
      );
    }
  }

  /** Every frame received so far with the time it came (ms since the case started). */
  get timedFrames(): { frame: Record<string, unknown>; at: number }[] {
    return this.inbox.map((r) => ({ frame: r.frame, at: r.at }));
  }

  /** A fresh serial `i` for a command of this connection (1, 2, …). */
  nextSerial(): number {
    this.serial++;
    return this.serial;
  }

  /**
   * Sends a protocol frame. The kit checks it against the c2s schemas first: a frame the
   * schemas refuse is the kit's own bug, a harness error [issue 9: the wire].
   */
  send(frame: C2SMessage | Record<string, unknown>): void {
    const errors = commandErrors(frame);
    if (errors.length > 0) {
      throw new HarnessError(
        `the kit built an invalid ${describeFrame(frame)}: ${formatErrors(errors)}`,
      );
    }
    this.recorder.add({ conn: this.label, kind: "send", frame });
    this.ws.send(JSON.stringify(frame));
  }

  /**
   * Sends a frame the case means to be invalid, as JSON, without checking it; `why` says
   * what is wrong with it, for the report.
   */
  sendInvalid(frame: unknown, why: string): void {
    this.recorder.add({ conn: this.label, kind: "send", frame, problem: why });
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends `text` as one text message, as is. */
  sendText(text: string, why: string): void {
    this.recorder.add({
      conn: this.label,
      kind: "send",
      text: text.slice(0, MAX_RAW),
      problem: why,
    });
    this.ws.send(text, { binary: false });
  }

  /** Sends `bytes` as one binary message. */
  sendBinary(bytes: Uint8Array, why: string): void {
    this.recorder.add({
      conn: this.label,
      kind: "send",
      text: `binary ${bytes.length} B`,
      problem: why,
    });
    this.ws.send(bytes, { binary: true });
  }

  /**
   * Takes the first frame not yet taken that satisfies `predicate` (any frame without
   * one), waiting up to `timeoutMs`. Rejects with a {@link WaitTimeout} on the bound or when
   * the socket closes first; a case turns that into a failure of the requirement it checks.
   */
  waitFor(
    predicate: FramePredicate = () => true,
    timeoutMs = DEFAULT_WAIT_MS,
    what = "a frame",
  ): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.inbox.find((r) => !r.taken && predicate(r.frame));
        if (found !== undefined) {
          found.taken = true;
          done();
          resolve(found.frame);
        } else if (this.closeInfoValue !== undefined) {
          done();
          reject(new WaitTimeout(`${what} on ${this.label}`, this.closeInfoValue, this.untaken()));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new WaitTimeout(`${what} on ${this.label}`, undefined, this.untaken(), timeoutMs));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Takes the next frame not yet taken, in arrival order. */
  next(timeoutMs = DEFAULT_WAIT_MS): Promise<Record<string, unknown>> {
    return this.waitFor(() => true, timeoutMs, "the next frame");
  }

  /**
   * Sends `frame` with a fresh serial `i` (unless it has one) and takes the frame that
   * answers it: the first untaken frame with the same `i`, whatever its command (a reply or
   * an `error`).
   */
  async request(
    frame: Record<string, unknown>,
    timeoutMs = DEFAULT_WAIT_MS,
  ): Promise<Record<string, unknown>> {
    const i = frame.i ?? this.nextSerial();
    const sent = { ...frame, i };
    this.send(sent);
    return this.waitFor((f) => f.i === i, timeoutMs, `the answer to ${describeFrame(sent)}`);
  }

  /**
   * Resolves with the frames not yet taken (taking them) once `quietMs` pass without a new
   * frame or the socket closes: how to collect "everything the server sends" when the count
   * is not known, bounded by `maxMs` in all.
   */
  async settle(quietMs = 300, maxMs = 5_000): Promise<Record<string, unknown>[]> {
    await new Promise<void>((resolve) => {
      const deadline = setTimeout(finish, maxMs);
      let timer = setTimeout(finish, quietMs);
      const onEvent = () => {
        clearTimeout(timer);
        if (this.closeInfoValue !== undefined) finish();
        else timer = setTimeout(finish, quietMs);
      };
      function finish() {
        clearTimeout(timer);
        clearTimeout(deadline);
        resolve();
      }
      this.listeners.add(onEvent);
      void this.closed.then(onEvent);
    });
    return this.takeAll();
  }

  /** Takes every frame not yet taken. */
  takeAll(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const r of this.inbox) {
      if (!r.taken) {
        r.taken = true;
        out.push(r.frame);
      }
    }
    return out;
  }

  /** The frames not yet taken, without taking them. */
  untaken(): Record<string, unknown>[] {
    return this.inbox.filter((r) => !r.taken).map((r) => r.frame);
  }

  /** Waits for the close, up to `timeoutMs`; rejects with a {@link WaitTimeout} otherwise. */
  waitClose(timeoutMs = DEFAULT_WAIT_MS): Promise<CloseInfo> {
    if (this.closeInfoValue !== undefined) return Promise.resolve(this.closeInfoValue);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new WaitTimeout(`the close of ${this.label}`, undefined, this.untaken(), timeoutMs),
          ),
        timeoutMs,
      );
      void this.closed.then((info) => {
        clearTimeout(timer);
        resolve(info);
      });
    });
  }

  /** Closes with a WebSocket close frame and waits for the close (bounded). */
  async close(code = 1000): Promise<void> {
    if (this.closeInfoValue !== undefined) return;
    this.recorder.add({ conn: this.label, kind: "note", text: `client closes with ${code}` });
    this.ws.close(code);
    await this.waitClose(2_000).catch(() => this.ws.terminate());
  }

  /** Drops the TCP connection without a WebSocket close (a lost connection). */
  async drop(): Promise<void> {
    if (this.closeInfoValue !== undefined) return;
    this.recorder.add({ conn: this.label, kind: "note", text: "client drops the TCP connection" });
    this.ws.terminate();
    await this.closed;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** A wait for a frame or a close that ended without it. */
export class WaitTimeout extends Error {
  /**
   * @param what - what was awaited
   * @param closedWith - the close, when the socket closed first
   * @param pending - the frames that came and were not taken, for the report
   * @param afterMs - the bound, when it ran out
   */
  constructor(
    readonly what: string,
    readonly closedWith: CloseInfo | undefined,
    readonly pending: readonly Record<string, unknown>[],
    readonly afterMs?: number,
  ) {
    super(
      closedWith !== undefined
        ? `expected ${what}, but the connection closed with ${closedWith.code}${closedWith.reason ? ` (${closedWith.reason})` : ""}`
        : `expected ${what}, but none came within ${afterMs} ms`,
    );
  }

  /** What came instead, for the failure's `actual`. */
  get actual(): string {
    const came = this.pending.map((f) => describeFrame(f)).join(", ");
    const close = this.closedWith === undefined ? "" : `; closed with ${this.closedWith.code}`;
    return came === "" ? `nothing${close}` : `${came}${close}`;
  }
}

/** A WebSocket handshake that the server answered with an HTTP status other than 101. */
export class HandshakeRefused extends Error {
  /** @param status - the HTTP status of the answer */
  constructor(readonly status: number) {
    super(`handshake refused with HTTP ${status}`);
  }
}

/** Options of {@link openSocket}. */
export interface SocketOptions {
  /** Subprotocols to offer. */
  readonly protocols?: string | string[];
  /** `Origin` header. */
  readonly origin?: string;
  /** Other `ws` options. */
  readonly ws?: ClientOptions;
  /** Handshake bound, ms. */
  readonly timeoutMs?: number;
}

/**
 * Opens a socket to `url` and waits for the handshake. Rejects with the handshake's error
 * (an HTTP status, a refused connection) or on the bound.
 */
export function openSocket(url: string, options: SocketOptions = {}): Promise<WebSocket> {
  const ws = new WebSocket(url, options.protocols, {
    ...(options.origin !== undefined && { origin: options.origin }),
    handshakeTimeout: options.timeoutMs ?? DEFAULT_WAIT_MS,
    ...options.ws,
  });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => {
      reject(new HandshakeRefused(res.statusCode ?? 0));
      ws.terminate();
    });
  });
}

/**
 * Opens a connection to `url` and waits for the handshake. The {@link Connection} listens
 * from before the handshake completes, so a frame the server sends with the upgrade (an
 * error frame before a quota close, LIMIT-CONN-IP-1) is recorded, not lost.
 */
export async function openConnection(
  url: string,
  label: string,
  recorder: Recorder,
  options: SocketOptions = {},
): Promise<Connection> {
  const ws = new WebSocket(url, options.protocols, {
    ...(options.origin !== undefined && { origin: options.origin }),
    handshakeTimeout: options.timeoutMs ?? DEFAULT_WAIT_MS,
    ...options.ws,
  });
  const conn = new Connection(ws, label, recorder);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => {
      reject(new HandshakeRefused(res.statusCode ?? 0));
      ws.terminate();
    });
  });
  return conn;
}

/** The s2c frame type, for casts in cases. */
export type { S2CFrame };
