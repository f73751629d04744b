/**
 * The WebSocket side of the reference server: wires `ws` to the protocol core and the store.
 *
 * The core is pure: it receives frames and the current time, and returns {@link Output}s.
 * This adapter queues those outputs and releases them at the end of an event-loop turn (under
 * load, of the turns of the commit interval: see {@link WsAdapter.scheduleFlush}), right after
 * ONE `store.commit()` (group commit). Nothing the core produced reaches a socket before
 * everything the core wrote until then is durable, so an `ack` is never sent for a
 * message a crash could lose, nor a message delivered that is not stored [ACK-DURABLE-1,
 * ACK-DURABLE-2, decision D5]. If the commit fails, see {@link WsAdapter.flush}: no ack and
 * no delivery of the turn goes out, each ack becomes error 4200 [ACK-FAIL-1], and
 * connections that would lose any other frame are closed with 1011.
 *
 * Close codes of the adapter's own (spec/08-errors.md sends 4200 only as an error frame, so
 * the adapter does not close with it): 1001 on shutdown [ERROR-SHUTDOWN-1], 1011 (RFC 6455
 * "internal error") when the core threw or a failed commit lost frames of a connection, and
 * 1008 (RFC 6455 "policy violation") when a client does not read its frames (backpressure).
 *
 * Backpressure [ERROR-BUFFER-1] closes a client because it does not read, never because a
 * reply the spec allows is large: a frame is always queued on a backlog at most the hard bound
 * (whatever its own size), and a backlog over the soft bound closes the connection only if no
 * frame leaves it for the stall time. A prompt reader drains in that time; one that never
 * reads does not. See {@link WsAdapterOptions.maxBufferedBytes}.
 * @module
 */

import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { ERRORS, type ErrorFrame, errorFrame, type S2CEvent } from "@confab/protocol";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import type {
  ConnectionInfo,
  ConnId,
  NotifyOutput,
  Output,
  ProtocolEngine,
} from "../core/types.js";
import { errorFields, type Logger, logEngineEvents, silentLogger } from "../log.js";
import type { Store } from "../store/store.js";

/** The WebSocket subprotocol of Confab v1 (decision D1). */
export const SUBPROTOCOL = "confab.v1";

/**
 * Close code when the server cannot go on serving a connection consistently: the core threw,
 * or a failed commit dropped frames the connection needed. RFC 6455 1011 ("internal error");
 * not 4200, which spec/08-errors.md reserves for error frames [ERROR-CODES-1].
 */
export const CLOSE_INTERNAL_ERROR = ERRORS.CONNECTION_LOST_STATE.code;
/** Close code of a client that does not read what it is sent [ERROR-BUFFER-1]. */
export const CLOSE_SLOW_CONSUMER = ERRORS.SEND_BUFFER_FULL.code;
/** Close code of a server shutdown [ERROR-SHUTDOWN-1]. */
export const CLOSE_GOING_AWAY = ERRORS.GOING_AWAY.code;
/** Error code answering a command whose effects could not be stored [ACK-FAIL-1]. */
export const ERROR_INTERNAL = ERRORS.INTERNAL_ERROR.code;

/** Default `maxPayload`: `ws` closes with 1009 above it [FRAME-SIZE-2]. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;
/** Default soft bound on a socket's send buffer: above it the client must show it reads. */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/**
 * Default time a send buffer may stay over the soft bound with no frame leaving it before the
 * connection is closed with 1008 [ERROR-BUFFER-1]. Long enough for a client on a slow link to
 * take a multi-megabyte history page; a client that does not read never makes progress.
 */
export const DEFAULT_SEND_STALL_MS = 30_000;
/**
 * Default hard bound, as a multiple of the soft one (64 MiB by default): a frame is not queued
 * on a backlog already past it. Caps what a client that does not read costs during the stall
 * time, and sits well above the largest reply plus the frames of the same turn.
 */
export const DEFAULT_HARD_BUFFER_FACTOR = 16;
/** Default wait for the peer's half of the close handshake before the socket is destroyed. */
export const DEFAULT_CLOSE_GRACE_MS = 5000;
/**
 * The most a flush leaves in a corked socket before writing it out, bytes: enough for the
 * frames a busy flush sends one W2 socket (a few of 250 bytes) to leave in one write, small
 * enough that a burst streams (W4's drain rate with 16 KiB matched no cork, with 64 KiB it
 * was lower).
 */
const MAX_CORKED_BYTES = 16 * 1024;
/** Default period of the core's timers (`engine.tick`). */
export const DEFAULT_TICK_INTERVAL_MS = 1000;
/** Default shortest time between two commits, ms (see {@link WsAdapter.scheduleFlush}). */
export const DEFAULT_COMMIT_INTERVAL_MS = 1;

/** Options of {@link WsAdapter}. */
export interface WsAdapterOptions {
  readonly engine: ProtocolEngine;
  readonly store: Store;
  readonly logger?: Logger | undefined;
  /** Largest message `ws` reads; larger ones are closed with 1009. Default 1 MiB. */
  readonly maxPayloadBytes?: number | undefined;
  /**
   * Soft bound on a socket's unsent bytes [ERROR-BUFFER-1]. Past it, a connection from which
   * no frame leaves for {@link WsAdapterOptions.sendStallMs} is closed with 1008: its client does not read.
   * A single frame larger than the bound is sent as usual. Default 4 MiB.
   */
  readonly maxBufferedBytes?: number | undefined;
  /** How long a buffer over the soft bound may go without a frame leaving it. Default 30 s. */
  readonly sendStallMs?: number | undefined;
  /**
   * Hard bound on unsent bytes: a frame due on a connection whose backlog (before that frame)
   * is already past it closes the connection with 1008 at once, so a client that does not
   * read cannot make the server hold more than this plus one frame. Default 16 times
   * {@link WsAdapterOptions.maxBufferedBytes}.
   */
  readonly hardMaxBufferedBytes?: number | undefined;
  /** How long a closing socket may take to finish the close handshake. Default 5 s. */
  readonly closeGraceMs?: number | undefined;
  /**
   * The shortest time between two commits, ms (see {@link WsAdapter.scheduleFlush}): 0
   * commits at the end of every event-loop turn. Default {@link DEFAULT_COMMIT_INTERVAL_MS}.
   */
  readonly commitIntervalMs?: number | undefined;
  /** Period of `engine.tick`; 0 disables the timer (tests call {@link WsAdapter.tick}). Default 1 s. */
  readonly tickIntervalMs?: number | undefined;
  /** The clock passed to the core. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /**
   * Takes the core's offline notifications once the turn's commit succeeded, after the
   * turn's frames before it (the `ack` among them); it must return at once, never waiting
   * for the hook [OFFLINE-PUSH-4, OFFLINE-PUSH-11]. Absent: they are dropped.
   */
  readonly onNotify?: ((output: NotifyOutput) => void) | undefined;
}

/** What the adapter keeps per connection. */
interface Connection {
  readonly id: ConnId;
  readonly ws: WebSocket;
  /** The upgraded socket under `ws`, corked while a flush writes to it. */
  readonly socket: Duplex;
  /** Whether the running flush corked `socket`. */
  corked: boolean;
  /** The flush that last counted this connection's frames (see #cork). */
  flushSeq: number;
  /** How many frames that flush sends on it. */
  flushFrames: number;
  /** Set once a close was started: later frames are not given to the core. */
  closing: boolean;
  /** Set once `ws` emitted `close` (and the core was told). */
  closed: boolean;
  graceTimer: NodeJS.Timeout | undefined;
  /** Set while the send buffer is over the soft bound: checks the client still reads. */
  stallTimer: NodeJS.Timeout | undefined;
  /** When a frame last left the send buffer (`performance.now()`), while over the bound. */
  lastSentAt: number;
  readonly closedPromise: Promise<void>;
  resolveClosed: () => void;
}

/** The connection an output is for, as log fields (a notification is for none). */
function connOf(output: Output): { conn?: ConnId } {
  return output.type === "notify" ? {} : { conn: output.conn };
}

/** UTF-8 safe truncation of a close reason to the 123 bytes RFC 6455 allows. */
function closeReason(reason: string): string {
  const bytes = Buffer.from(reason, "utf8");
  if (bytes.length <= 123) return reason;
  let end = 123;
  // Back up to the start of a code point (continuation bytes are 10xxxxxx).
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString("utf8");
}

/** The bytes of a received message, as one Buffer. */
function payload(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** An error 4200 frame answering the command a dropped reply answered [ACK-FAIL-1]. */
function internalErrorFor(frame: Readonly<S2CEvent>): ErrorFrame {
  const detail = "the server could not store the effects of this command";
  const i = "i" in frame ? frame.i : undefined;
  return errorFrame(ERRORS.INTERNAL_ERROR, detail, i, frame.peerId);
}

/**
 * What a turn whose commit failed may still release (see {@link WsAdapter.flush}): the
 * outputs to carry out, in order, and the connections to close with 1011 afterwards.
 */
export function outputsAfterFailedCommit(outputs: readonly Output[]): {
  released: Output[];
  unsafe: Set<ConnId>;
  dropped: number;
} {
  const released: Output[] = [];
  const unsafe = new Set<ConnId>();
  let dropped = 0;
  for (const output of outputs) {
    if (output.type === "close") {
      released.push(output);
      continue;
    }
    if (output.type === "notify") {
      dropped++; // its message is not stored: nobody is told of it [OFFLINE-PUSH-4]
      continue;
    }
    const { frame, conn } = output;
    if (frame.cmd === undefined || frame.cmd === "error") {
      released.push(output); // `{}` and error frames report no stored state
      continue;
    }
    dropped++;
    if (frame.cmd === "ack") {
      released.push({ type: "send", conn, frame: internalErrorFor(frame) });
    } else if (frame.cmd !== "direct") {
      if (frame.i !== undefined)
        released.push({ type: "send", conn, frame: internalErrorFor(frame) });
      unsafe.add(conn);
    }
  }
  return { released, unsafe, dropped };
}

/**
 * Connects a `ws` WebSocketServer (noServer mode) to a {@link ProtocolEngine} and a
 * {@link Store}. Attach it to an `http.Server` with {@link WsAdapter.attach}.
 *
 * Every handler catches and logs its exceptions: a connection whose handling throws is
 * closed with 1011, and the process keeps serving the others.
 */
export class WsAdapter {
  /** The underlying `ws` server (noServer mode). */
  readonly wss: WebSocketServer;
  readonly #engine: ProtocolEngine;
  readonly #store: Store;
  readonly #logger: Logger;
  readonly #maxBufferedBytes: number;
  readonly #hardMaxBufferedBytes: number;
  readonly #sendStallMs: number;
  readonly #closeGraceMs: number;
  readonly #now: () => number;
  readonly #onNotify: ((output: NotifyOutput) => void) | undefined;
  readonly #connections = new Map<ConnId, Connection>();
  #nextId: ConnId = 1;
  /** Outputs of the current turn, carried out by the next flush. */
  #queue: Output[] = [];
  /** Whether the core was called since the last commit (it may have written). */
  #dirty = false;
  #flushHandle: NodeJS.Immediate | undefined;
  /** A flush put off by the commit interval. */
  #flushTimer: NodeJS.Timeout | undefined;
  /** When the last flush ran (`performance.now()`). */
  #lastFlushAt = Number.NEGATIVE_INFINITY;
  readonly #commitIntervalMs: number;
  /** Counts flushes, so that #countFrames can tell this flush's counts from older ones. */
  #flushSeq = 0;
  #tickTimer: NodeJS.Timeout | undefined;
  #shuttingDown = false;
  #closePromise: Promise<void> | undefined;
  #server: Server | undefined;
  readonly #onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) =>
    this.handleUpgrade(req, socket, head);

  /** Creates the adapter and starts the tick timer. */
  constructor(options: WsAdapterOptions) {
    this.#engine = options.engine;
    this.#store = options.store;
    this.#logger = options.logger ?? silentLogger;
    this.#maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.#hardMaxBufferedBytes =
      options.hardMaxBufferedBytes ?? this.#maxBufferedBytes * DEFAULT_HARD_BUFFER_FACTOR;
    this.#sendStallMs = options.sendStallMs ?? DEFAULT_SEND_STALL_MS;
    this.#closeGraceMs = options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.#commitIntervalMs = options.commitIntervalMs ?? DEFAULT_COMMIT_INTERVAL_MS;
    this.#now = options.now ?? Date.now;
    this.#onNotify = options.onNotify;
    this.wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
      // Select confab.v1 when offered; a handshake without it (the legacy client) is
      // accepted without a subprotocol, never refused [FRAME-WS-2, decision D1].
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.wss.on("connection", (ws: WebSocket, req: IncomingMessage) => this.#onConnection(ws, req));
    this.wss.on("error", (err) => this.#logger.log("error", "ws_server_error", errorFields(err)));
    const interval = options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS;
    if (interval > 0) {
      this.#tickTimer = setInterval(() => this.tick(), interval);
      this.#tickTimer.unref();
    }
  }

  /** Number of connections not yet closed. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Accepts WebSocket upgrades of `server` on every path [FRAME-WS-1]. */
  attach(server: Server): void {
    this.#server = server;
    server.on("upgrade", this.#onUpgrade);
  }

  /** Handles one HTTP upgrade request (what {@link attach} installs). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    try {
      if (this.#shuttingDown) {
        socket.destroy();
        return;
      }
      socket.on("error", () => {
        // Reset by the peer during the handshake: nothing to do, `ws` cleans up.
      });
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit("connection", ws, req));
    } catch (err) {
      this.#logger.log("error", "upgrade_failed", errorFields(err));
      socket.destroy();
    }
  }

  /** Runs the core's timers now (the adapter does it every second on its own). */
  tick(): void {
    if (this.#shuttingDown) return;
    this.#call(undefined, "tick", () => this.#engine.tick(this.#now()));
  }

  /**
   * Commits the store, then carries out the outputs queued since the last flush, in order.
   * Runs on its own at the end of a turn or of the commit interval (see scheduleFlush); call
   * it to flush now.
   *
   * When the commit throws, nothing the turn wrote can be assumed stored, so:
   * - an `ack` becomes an error 4200 with the same `i` and `peerId` [ACK-FAIL-1];
   * - a delivered `direct` is dropped: its message is not stored [ACK-DURABLE-2];
   * - `{}` and `error` frames go out (they report no stored state), and so do closes;
   * - any other frame might report state the commit lost, so it is dropped (a reply carrying
   *   `i` is answered with error 4200 instead [ERROR-INTERNAL-1]) and its connection is
   *   closed with 1011 after the frames above, making the client reconnect and resync.
   */
  flush(): void {
    if (this.#flushHandle !== undefined) {
      clearImmediate(this.#flushHandle);
      this.#flushHandle = undefined;
    }
    if (this.#flushTimer !== undefined) {
      clearTimeout(this.#flushTimer);
      this.#flushTimer = undefined;
    }
    this.#lastFlushAt = performance.now();
    const outputs = this.#queue;
    this.#queue = [];
    if (this.#dirty || outputs.length > 0) {
      this.#dirty = false;
      try {
        this.#store.commit();
      } catch (err) {
        this.#commitFailed(err, outputs);
        this.#drainLog();
        return;
      }
    }
    // A socket that gets several frames in this flush is corked for it: under load, when
    // each flush carries several frames per socket, they leave in one write instead of one
    // each (a system call per frame was the server's largest single cost under W2, issue
    // 11). A socket with one frame, the usual case below saturation, is written at once:
    // corking every socket, W3's p99 at 8,735 msg/s rose from 8.1-8.6 to 9.4-10.2 ms. Order
    // is kept, and the data leaves before this call returns.
    const corked: Connection[] = [];
    this.#countFrames(outputs);
    try {
      for (const output of outputs) {
        try {
          if (output.type === "send") this.#cork(output.conn, corked);
          this.#carryOut(output);
        } catch (err) {
          this.#logger.log("error", "output_failed", { ...connOf(output), ...errorFields(err) });
        }
      }
    } finally {
      for (const conn of corked) {
        conn.corked = false;
        conn.socket.uncork();
      }
    }
    this.#drainLog();
  }

  /** Counts the frames `outputs` send on each connection (`flushFrames`), for #cork. */
  #countFrames(outputs: readonly Output[]): void {
    const seq = ++this.#flushSeq;
    for (const output of outputs) {
      if (output.type !== "send") continue;
      const conn = this.#connections.get(output.conn);
      if (conn === undefined) continue;
      if (conn.flushSeq === seq) conn.flushFrames++;
      else {
        conn.flushSeq = seq;
        conn.flushFrames = 1;
      }
    }
  }

  /**
   * Before a frame to connection `id`: corks its socket, once per flush, if the flush sends
   * it more than one frame, noting it in `corked`.
   */
  #cork(id: ConnId, corked: Connection[]): void {
    const conn = this.#connections.get(id);
    if (conn === undefined || conn.corked || conn.closing || conn.closed) return;
    if (conn.flushSeq !== this.#flushSeq || conn.flushFrames < 2) return;
    conn.socket.cork();
    conn.corked = true;
    corked.push(conn);
  }

  /**
   * Graceful shutdown: refuses new upgrades, flushes what is pending, closes every socket
   * with 1001 [ERROR-SHUTDOWN-1], waits up to the close grace for them to close (then
   * destroys the rest), and commits what the core wrote while they closed. Idempotent.
   * Does not close the store or the http server.
   */
  close(): Promise<void> {
    this.#closePromise ??= this.#close();
    return this.#closePromise;
  }

  async #close(): Promise<void> {
    this.#shuttingDown = true;
    if (this.#tickTimer !== undefined) clearInterval(this.#tickTimer);
    this.#server?.off("upgrade", this.#onUpgrade);
    this.flush();
    const waits: Promise<void>[] = [];
    for (const conn of this.#connections.values()) {
      this.#closeConnection(conn, CLOSE_GOING_AWAY, ERRORS.GOING_AWAY.name);
      waits.push(conn.closedPromise);
    }
    // Bounded: each socket is destroyed after the grace period, which ends its wait.
    await Promise.all(waits);
    this.flush();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  #onConnection(ws: WebSocket, req: IncomingMessage): void {
    const id = this.#nextId++;
    let resolveClosed!: () => void;
    const closedPromise = new Promise<void>((resolve) => {
      resolveClosed = resolve;
    });
    const conn: Connection = {
      id,
      ws,
      // The socket the upgrade came on, which ws writes to.
      socket: req.socket,
      corked: false,
      flushSeq: 0,
      flushFrames: 0,
      closing: false,
      closed: false,
      graceTimer: undefined,
      stallTimer: undefined,
      lastSentAt: 0,
      closedPromise,
      resolveClosed,
    };
    this.#connections.set(id, conn);
    ws.on("error", (err) => {
      // ws closes the socket itself (1009 for maxPayload, 1002/1007 for protocol errors).
      this.#logger.log("warn", "ws_error", { conn: id, ...errorFields(err) });
    });
    ws.on("close", (code, reason) => this.#onClose(conn, code, reason));
    ws.on("message", (data, isBinary) => this.#onMessage(conn, data, isBinary));
    ws.on("ping", () => this.#onActivity(conn));
    ws.on("pong", () => this.#onActivity(conn));
    if (this.#shuttingDown) {
      this.#closeConnection(conn, CLOSE_GOING_AWAY, ERRORS.GOING_AWAY.name);
      return;
    }
    const info: ConnectionInfo = {
      remoteAddress: req.socket.remoteAddress,
      origin: typeof req.headers.origin === "string" ? req.headers.origin : undefined,
    };
    this.#call(conn, "connect", () => this.#engine.connect(id, this.#now(), info));
  }

  #onMessage(conn: Connection, data: RawData, isBinary: boolean): void {
    // After a close started (by the core, backpressure or shutdown) the peer's remaining
    // frames are not given to the core: it already decided this connection's fate.
    if (conn.closing || conn.closed) return;
    const bytes = payload(data);
    if (isBinary) {
      // [FRAME-BINARY-2] the core decides (it closes with 4114).
      this.#call(conn, "receiveBinary", () =>
        this.#engine.receiveBinary(conn.id, bytes.length, this.#now()),
      );
      return;
    }
    // ws has validated the UTF-8 already (invalid text is closed by ws with 1007).
    const text = bytes.toString("utf8");
    this.#call(conn, "receiveText", () =>
      this.#engine.receiveText(conn.id, text, bytes.length, this.#now()),
    );
  }

  #onActivity(conn: Connection): void {
    if (conn.closing || conn.closed) return;
    try {
      this.#engine.activity(conn.id, this.#now());
    } catch (err) {
      this.#logger.log("error", "engine_error", {
        conn: conn.id,
        call: "activity",
        ...errorFields(err),
      });
    }
  }

  #onClose(conn: Connection, code: number, reason: Buffer): void {
    if (conn.closed) return;
    conn.closed = true;
    if (conn.graceTimer !== undefined) clearTimeout(conn.graceTimer);
    if (conn.stallTimer !== undefined) clearTimeout(conn.stallTimer);
    this.#connections.delete(conn.id);
    this.#logger.log("debug", "connection_closed", {
      conn: conn.id,
      code,
      reason: reason.toString("utf8"),
    });
    this.#call(undefined, "disconnect", () => this.#engine.disconnect(conn.id, this.#now()));
    conn.resolveClosed();
  }

  /**
   * Calls the core, queues its outputs and schedules the flush. An exception is logged and
   * closes `conn` (if given) with 1011: the core's state for it can no longer be trusted.
   */
  #call(conn: Connection | undefined, call: string, fn: () => Output[]): void {
    this.#dirty = true;
    try {
      const outputs = fn();
      for (const output of outputs) this.#queue.push(output);
    } catch (err) {
      this.#logger.log("error", "engine_error", { conn: conn?.id, call, ...errorFields(err) });
      if (conn !== undefined) {
        this.#queue.push({
          type: "close",
          conn: conn.id,
          code: CLOSE_INTERNAL_ERROR,
          reason: "INTERNAL_ERROR",
        });
      }
    }
    this.scheduleFlush();
  }

  /**
   * Schedules a flush (once, however often called): at the end of this event-loop turn, or,
   * when the last one ran less than the commit interval ago, once the interval has passed.
   * A commit costs about the same for one message as for twenty (the log pages they share):
   * under load, committing every turn meant 2.6 messages per commit at 15000 msg/s, and the
   * commits and their checkpoints took a quarter of the server's time (issue 11). The interval
   * groups them; it delays a frame by at most the interval, and an idle server, whose last
   * flush is long past, not at all.
   */
  scheduleFlush(): void {
    if (this.#flushHandle !== undefined || this.#flushTimer !== undefined) return;
    const run = () => {
      this.#flushHandle = undefined;
      this.#flushTimer = undefined;
      try {
        this.flush();
      } catch (err) {
        this.#logger.log("error", "flush_failed", errorFields(err));
      }
    };
    const wait = this.#lastFlushAt + this.#commitIntervalMs - performance.now();
    if (wait > 0) this.#flushTimer = setTimeout(run, wait);
    else this.#flushHandle = setImmediate(run);
  }

  /**
   * The commit failed: never ack what was not stored, never deliver a message that is not in
   * history. See {@link WsAdapter.flush} for what goes out instead.
   */
  #commitFailed(err: unknown, outputs: readonly Output[]): void {
    const { released, unsafe, dropped } = outputsAfterFailedCommit(outputs);
    this.#logger.log("error", "commit_failed", {
      ...errorFields(err),
      droppedFrames: dropped,
      closedConnections: [...unsafe],
    });
    for (const output of released) {
      try {
        this.#carryOut(output);
      } catch (e) {
        this.#logger.log("error", "output_failed", { ...connOf(output), ...errorFields(e) });
      }
    }
    for (const id of unsafe) {
      const conn = this.#connections.get(id);
      if (conn !== undefined)
        this.#closeConnection(conn, CLOSE_INTERNAL_ERROR, ERRORS.CONNECTION_LOST_STATE.name);
    }
  }

  #carryOut(output: Output): void {
    if (output.type === "notify") {
      // Only reached after a successful commit, in the turn's order [OFFLINE-PUSH-4].
      this.#onNotify?.(output);
      return;
    }
    const conn = this.#connections.get(output.conn);
    if (conn === undefined || conn.closing || conn.closed) return; // gone: drop
    if (output.type === "close") {
      this.#closeConnection(conn, output.code, output.reason);
      return;
    }
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    // [ERROR-BUFFER-1] Backpressure, judged on the backlog BEFORE this frame: however large a
    // frame the spec allows (a history page), it never trips the bound by itself. Past the
    // hard bound the peer has not read for a long while: close with 1008 rather than buffer
    // more (the close frame queues behind the data; the grace timer destroys the socket if it
    // never drains). Its sessions end like any other close.
    const backlog = conn.ws.bufferedAmount;
    if (backlog > this.#hardMaxBufferedBytes) {
      this.#slowConsumer(conn, "hard_bound", backlog);
      return;
    }
    const text = output.text ?? JSON.stringify(output.frame);
    // The callback tells #checkStall that a frame left the buffer, which only a stall watch
    // reads: a frame sent with none running, on a backlog that this frame (at most 3 bytes a
    // UTF-16 unit) cannot take past the soft bound, needs none. A callback per frame was a
    // closure and a write-callback round per frame on every message (issue 11).
    if (conn.stallTimer !== undefined || backlog + 3 * text.length > this.#maxBufferedBytes) {
      conn.ws.send(text, () => this.#onFrameSent(conn));
    } else {
      conn.ws.send(text);
    }
    // A corked socket holds what it was given: past MAX_CORKED_BYTES it writes them out and
    // corks again, so that a large burst (an offline store of 20000 messages, W4) streams to
    // the client as it is produced instead of waiting for the whole flush (uncapped, W4's
    // first delivery came after 150 ms instead of 85, and its drain rate halved).
    if (conn.corked && conn.socket.writableLength >= MAX_CORKED_BYTES) {
      conn.socket.uncork();
      conn.socket.cork();
    }
    // Over the soft bound, the peer must show that it reads: see #checkStall.
    if (conn.stallTimer === undefined && conn.ws.bufferedAmount > this.#maxBufferedBytes) {
      conn.lastSentAt = performance.now();
      this.#watchStall(conn, this.#sendStallMs);
    }
  }

  /** A frame left the send buffer (handed to the kernel): the peer is reading. */
  #onFrameSent(conn: Connection): void {
    if (conn.stallTimer === undefined) return;
    if (conn.ws.bufferedAmount <= this.#maxBufferedBytes) {
      clearTimeout(conn.stallTimer);
      conn.stallTimer = undefined;
    } else {
      conn.lastSentAt = performance.now();
    }
  }

  #watchStall(conn: Connection, delayMs: number): void {
    conn.stallTimer = setTimeout(() => this.#checkStall(conn), delayMs);
    conn.stallTimer.unref();
  }

  /**
   * [ERROR-BUFFER-1] The buffer went over the soft bound: close with 1008 if it is still over
   * it and no frame has left it for the stall time (the client does not read); otherwise look
   * again when the stall time since the last frame that left has passed.
   */
  #checkStall(conn: Connection): void {
    conn.stallTimer = undefined;
    if (conn.closing || conn.closed) return;
    const buffered = conn.ws.bufferedAmount;
    if (buffered <= this.#maxBufferedBytes) return;
    const idleMs = performance.now() - conn.lastSentAt;
    if (idleMs >= this.#sendStallMs) this.#slowConsumer(conn, "stalled", buffered);
    else this.#watchStall(conn, Math.max(1, this.#sendStallMs - idleMs));
  }

  /** Closes with 1008 a connection whose client does not read [ERROR-BUFFER-1]. */
  #slowConsumer(conn: Connection, why: "stalled" | "hard_bound", buffered: number): void {
    this.#logger.log("warn", "send_buffer_full", {
      conn: conn.id,
      bufferedAmount: buffered,
      why,
    });
    this.#closeConnection(conn, CLOSE_SLOW_CONSUMER, ERRORS.SEND_BUFFER_FULL.name);
  }

  /** Starts the close handshake; destroys the socket if it does not finish in the grace. */
  #closeConnection(conn: Connection, code: number, reason: string): void {
    if (conn.closing || conn.closed) return;
    conn.closing = true;
    if (conn.stallTimer !== undefined) clearTimeout(conn.stallTimer);
    conn.stallTimer = undefined;
    try {
      conn.ws.close(code, closeReason(reason));
    } catch (err) {
      this.#logger.log("error", "close_failed", { conn: conn.id, code, ...errorFields(err) });
      conn.ws.terminate();
      return;
    }
    conn.graceTimer = setTimeout(() => {
      if (!conn.closed) conn.ws.terminate();
    }, this.#closeGraceMs);
    conn.graceTimer.unref();
  }

  #drainLog(): void {
    try {
      logEngineEvents(this.#logger, this.#engine.drainLog());
    } catch (err) {
      this.#logger.log("error", "engine_error", { call: "drainLog", ...errorFields(err) });
    }
  }
}
