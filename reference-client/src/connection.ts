/**
 * One WebSocket connection: the socket, JSON framing, the serial `i` and the table of
 * commands awaiting their replies, the per-command timeout, and the keepalive with its
 * dead-connection timeout. It knows nothing of sessions: the client (`client.ts`) opens
 * one over it, and makes a new `Connection` for every reconnect.
 *
 * Every command carries an `i` [SERIAL-RANGE-1] and its reply is matched by that `i`, not
 * by arrival order [SERIAL-MATCH-1]; the keepalive `{}` is the one frame sent without `i`,
 * and each `{}` received answers the oldest keepalive still unanswered [SERIAL-MATCH-2].
 * @module
 */
import { MAX_SERIAL } from "@confab/protocol";
import { ConnectionClosedError, InvalidFrameError, ProtocolError, TimeoutError } from "./errors.js";
import { encodeFrame } from "./inputs.js";
import { OPEN, SUBPROTOCOL, type WebSocketConstructor, type WebSocketLike } from "./websocket.js";

/** A frame as received: a JSON object. */
export type Frame = Readonly<Record<string, unknown>>;

/** How a connection ended. */
export interface ConnectionEnd {
  /** The close code (1006 when the client dropped a dead connection or the socket failed). */
  readonly code: number;
  /** The close reason. */
  readonly reason: string;
  /** The `error` frame without `i` that announced the close, if one came [ERROR-CLOSE-4]. */
  readonly error: ProtocolError | undefined;
}

/** Settings of a connection. */
export interface ConnectionOptions {
  /** Reply timeout of a command, and of the WebSocket handshake, ms [TIMEOUT-CLIENT-1]. */
  readonly commandTimeoutMs: number;
  /** Send `{}` after this long without sending, ms [KEEPALIVE-CLIENT-1, KEEPALIVE-CLIENT-2]. */
  readonly keepaliveIntervalMs: number;
  /** An unanswered keepalive with nothing received for this long ends the connection, ms [KEEPALIVE-CLIENT-3]. */
  readonly deadConnectionMs: number;
  /** The largest frame the client may send, bytes [FRAME-SIZE-3]. */
  readonly maxFrameBytes: () => number;
  /** The next serial to use. */
  readonly serials: SerialCounter;
  /** The peer of the session carried; a frame for another peer matches none of its commands. */
  readonly peerId: string;
  /** Frames that answer no pending command: events, and replies that came too late. */
  readonly onFrame: (frame: Frame) => void;
  /** The connection ended (once, whatever the cause). */
  readonly onEnd: (end: ConnectionEnd) => void;
}

/**
 * Serials `i` from 0 to 2147483647, wrapping [SERIAL-RANGE-1], never one still awaiting a
 * reply [SERIAL-UNIQUE-1]. Shared by the client's successive connections, so a late reply on
 * an old connection can never match a command on a new one.
 */
export class SerialCounter {
  #next: number;

  /** @param first - the first serial (0 unless a test starts near the wrap) */
  constructor(first = 0) {
    this.#next = first;
  }

  /** The next serial that `inUse` does not hold. */
  take(inUse: ReadonlyMap<number, unknown>): number {
    for (;;) {
      const i = this.#next;
      this.#next = i >= MAX_SERIAL ? 0 : i + 1;
      if (!inUse.has(i)) return i;
    }
  }
}

interface Pending {
  /** The command, as `cmd/op`. */
  readonly command: string;
  /** The registry name of its success reply; `undefined` for a command awaiting none (`ack`). */
  readonly reply: string | undefined;
  readonly resolve: (frame: Frame) => void;
  readonly reject: (err: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The registry name of a frame: `cmd/op` or `cmd`. */
export function nameOf(frame: Frame): string {
  if (!Object.hasOwn(frame, "cmd")) return "keepalive";
  return typeof frame.op === "string" ? `${String(frame.cmd)}/${frame.op}` : String(frame.cmd);
}

/** The `error` frame as a {@link ProtocolError}. */
export function protocolErrorOf(frame: Frame, command?: string): ProtocolError {
  return new ProtocolError({
    code: typeof frame.code === "number" ? frame.code : null,
    reason: typeof frame.reason === "string" ? frame.reason : "UNKNOWN",
    detail: typeof frame.detail === "string" ? frame.detail : undefined,
    appCode: typeof frame.appCode === "number" ? frame.appCode : undefined,
    command,
  });
}

/** One WebSocket connection and the commands in flight on it. */
export class Connection {
  /** Resolves once the WebSocket is open; rejects if it closes or times out first. */
  readonly opened: Promise<void>;
  /** The URL connected to. */
  readonly url: string;

  readonly #socket: WebSocketLike;
  readonly #options: ConnectionOptions;
  readonly #pending = new Map<number, Pending>();
  /** Keepalives sent and not yet answered, oldest first: each `{}` answers the oldest [SERIAL-MATCH-2]. */
  #keepalivesOut = 0;
  #keepaliveTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #deadTimer: ReturnType<typeof setTimeout> | undefined;
  #closeError: ProtocolError | undefined;
  #ended = false;
  #isOpen = false;

  /**
   * Opens a WebSocket to `url`, offering the subprotocol `confab.v1` [VERSION-SUBPROTO-4].
   *
   * @param WebSocketImpl - the WebSocket constructor
   * @param url - the WebSocket URL
   * @param options - timeouts, the serial counter and the callbacks
   */
  constructor(WebSocketImpl: WebSocketConstructor, url: string, options: ConnectionOptions) {
    this.url = url;
    this.#options = options;
    let socket: WebSocketLike;
    try {
      socket = new WebSocketImpl(url, SUBPROTOCOL);
    } catch (err) {
      this.#socket = { readyState: 3 } as WebSocketLike;
      this.#ended = true;
      this.opened = Promise.reject(
        new ConnectionClosedError(`cannot connect to ${url}: ${(err as Error).message}`, {
          mayHaveBeenDelivered: false,
        }),
      );
      return;
    }
    this.#socket = socket;
    this.opened = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new ConnectionClosedError(
            `no WebSocket handshake with ${url} within ${options.commandTimeoutMs} ms`,
            {
              mayHaveBeenDelivered: false,
            },
          ),
        );
        this.#end({ code: 1006, reason: "handshake timeout", error: undefined });
      }, options.commandTimeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        if (this.#ended) return;
        this.#isOpen = true;
        this.#armKeepalive();
        this.#armIdle();
        resolve();
      };
      socket.onclose = (event: { code?: number; reason?: string }) => {
        clearTimeout(timer);
        const code = event?.code ?? 1006;
        const reason = event?.reason ?? "";
        if (!this.#isOpen) {
          reject(
            new ConnectionClosedError(
              `cannot connect to ${url} (close ${code}${reason ? ` ${reason}` : ""})`,
              {
                mayHaveBeenDelivered: false,
                closeCode: code,
              },
            ),
          );
        }
        this.#end({ code, reason, error: this.#closeError });
      };
    });
    // A rejected handshake is reported through `opened`; keep it from counting as unhandled.
    this.opened.catch(() => {});
    socket.onerror = () => {
      // A close event follows every error; the close is what ends the connection.
    };
    socket.onmessage = (event: { data?: unknown }) => this.#receive(event?.data);
  }

  /** Whether the socket is open and the connection not ended. */
  get isOpen(): boolean {
    return this.#isOpen && !this.#ended && this.#socket.readyState === OPEN;
  }

  /** The subprotocol the server selected. */
  get protocol(): string {
    return this.#socket.protocol ?? "";
  }

  /**
   * Sends a command with the next serial and resolves with its success reply, or rejects
   * with a {@link ProtocolError} (an `error` frame with that `i`, whatever its code
   * [ERROR-CLIENT-1]), a {@link TimeoutError} after `commandTimeoutMs` [TIMEOUT-CLIENT-1],
   * a {@link ConnectionClosedError}, or an {@link InvalidFrameError} for a wrong reply.
   *
   * @param frame - the command without `i`
   * @param reply - the registry name of its success reply
   */
  request(frame: Frame, reply: string): Promise<Frame> {
    return this.#send(frame, reply);
  }

  /**
   * Sends a command that awaits no success reply (the c2s `ack` [SERIAL-ACK-1]) with a serial,
   * so that its failure, if any, comes back as an `error` with that `i` [SERIAL-ACK-3]: the
   * promise rejects then, and resolves once `commandTimeoutMs` passes without one.
   */
  fire(frame: Frame): Promise<void> {
    return this.#send(frame, undefined).then(() => undefined);
  }

  /** Closes the connection; commands in flight fail with {@link ConnectionClosedError}. */
  close(code = 1000, reason = "closed by the client"): void {
    if (this.#ended) return;
    try {
      this.#socket.close(code, reason);
    } catch {
      // Already closing.
    }
    // Do not wait for the closing handshake: a dead peer never answers it.
    this.#end({ code, reason, error: undefined });
  }

  #send(frame: Frame, reply: string | undefined): Promise<Frame> {
    const command = nameOf(frame);
    if (!this.isOpen) {
      return Promise.reject(
        new ConnectionClosedError(`${command}: not connected`, {
          mayHaveBeenDelivered: false,
          command,
        }),
      );
    }
    const i = this.#options.serials.take(this.#pending);
    let text: string;
    try {
      text = encodeFrame({ ...frame, i }, this.#options.maxFrameBytes());
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<Frame>((resolve, reject) => {
      const timeoutMs = this.#options.commandTimeoutMs;
      const timer = setTimeout(() => {
        this.#pending.delete(i);
        // A command awaiting no reply succeeded when no error came in time.
        if (reply === undefined) resolve({});
        else {
          reject(new TimeoutError(command, timeoutMs));
          // A reply that does not come may mean a dead connection: find out now.
          this.#probe();
        }
      }, timeoutMs);
      this.#pending.set(i, { command, reply, resolve, reject, timer });
      if (!this.#write(text)) {
        clearTimeout(timer);
        this.#pending.delete(i);
        reject(
          new ConnectionClosedError(`${command}: not connected`, {
            mayHaveBeenDelivered: false,
            command,
          }),
        );
      }
    });
  }

  /** Writes one text frame; false when the socket refused it (not open). */
  #write(text: string): boolean {
    if (!this.isOpen) return false;
    try {
      this.#socket.send(text);
    } catch {
      return false;
    }
    this.#armKeepalive();
    return true;
  }

  /** (Re)starts the send-silence timer: `{}` after `keepaliveIntervalMs` without sending. */
  #armKeepalive(): void {
    clearTimeout(this.#keepaliveTimer);
    if (this.#ended) return;
    this.#keepaliveTimer = setTimeout(() => this.#keepalive(), this.#options.keepaliveIntervalMs);
  }

  /**
   * Sends a keepalive [KEEPALIVE-CLIENT-2] (so the connection is never silent for 180 s,
   * KEEPALIVE-CLIENT-1) and starts the dead-connection timer: without a frame for
   * `deadConnectionMs`, the connection is dropped so the client reconnects [KEEPALIVE-CLIENT-3].
   */
  #keepalive(): void {
    if (!this.#write("{}")) return;
    // The timer runs from the first unanswered keepalive; later ones do not postpone it.
    if (this.#keepalivesOut++ === 0) this.#armDeadTimer();
  }

  /**
   * (Re)starts the receive-silence timer: after `keepaliveIntervalMs` without a frame from the
   * server, a keepalive probes the connection, however much the client itself sends (frames
   * written to a dead connection fail silently).
   */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    if (this.#ended) return;
    this.#idleTimer = setTimeout(() => this.#probe(), this.#options.keepaliveIntervalMs);
  }

  /** Sends a keepalive unless one already awaits its `{}`. */
  #probe(): void {
    if (this.#keepalivesOut === 0) this.#keepalive();
  }

  #armDeadTimer(): void {
    clearTimeout(this.#deadTimer);
    this.#deadTimer = setTimeout(() => {
      try {
        const socket = this.#socket as WebSocketLike & { terminate?: () => void };
        if (typeof socket.terminate === "function") socket.terminate();
        else socket.close(1000, "dead connection");
      } catch {
        // Closing a dead socket may throw; it is dropped either way.
      }
      this.#end({
        code: 1006,
        reason: `no keepalive reply within ${this.#options.deadConnectionMs} ms`,
        error: undefined,
      });
    }, this.#options.deadConnectionMs);
  }

  #receive(data: unknown): void {
    if (this.#ended) return;
    this.#armIdle();
    // Any frame shows the connection alive: a keepalive's `{}` may queue behind a burst.
    if (this.#keepalivesOut > 0) this.#armDeadTimer();
    if (typeof data !== "string") return; // a server never sends binary (FRAME-BINARY-1)
    let frame: unknown;
    try {
      frame = JSON.parse(data);
    } catch {
      return; // not JSON: nothing to act on
    }
    if (typeof frame !== "object" || frame === null || Array.isArray(frame)) return;
    const f = frame as Frame;
    if (!Object.hasOwn(f, "cmd")) {
      // `{}` answers the oldest keepalive awaiting one [SERIAL-MATCH-2].
      if (this.#keepalivesOut > 0) this.#keepalivesOut--;
      if (this.#keepalivesOut === 0) clearTimeout(this.#deadTimer);
      return;
    }
    // [FRAME-PEERID-2] A frame for another peer's session is not a reply to this one's.
    const mine = typeof f.peerId !== "string" || f.peerId === this.#options.peerId;
    const i = f.i;
    const pending = mine && typeof i === "number" ? this.#pending.get(i) : undefined;
    if (pending && typeof i === "number") {
      // Matched by `i`, whatever the order of arrival [SERIAL-MATCH-1].
      this.#pending.delete(i);
      clearTimeout(pending.timer);
      const name = nameOf(f);
      if (name === "error") pending.reject(protocolErrorOf(f, pending.command));
      else if (pending.reply === undefined || name !== pending.reply) {
        pending.reject(
          new InvalidFrameError(
            `${pending.command}: the server answered with ${name}${pending.reply ? `, not ${pending.reply}` : ", which no ack awaits"}`,
            f,
          ),
        );
      } else pending.resolve(f);
      return;
    }
    // An `error` without a command of ours announces a close, or concerns the connection
    // [ERROR-CLOSE-4]: keep it as the cause of the close that may follow.
    if (mine && nameOf(f) === "error" && f.i === undefined) this.#closeError = protocolErrorOf(f);
    this.#options.onFrame(f);
  }

  #end(end: ConnectionEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#isOpen = false;
    clearTimeout(this.#keepaliveTimer);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#deadTimer);
    this.#socket.onmessage = null;
    this.#socket.onopen = null;
    for (const [i, p] of this.#pending) {
      clearTimeout(p.timer);
      this.#pending.delete(i);
      // The frame was written: the server may have carried it out [TIMEOUT-CLIENT-1].
      p.reject(
        new ConnectionClosedError(
          `${p.command}: the connection closed before the reply (code ${end.code})`,
          {
            mayHaveBeenDelivered: true,
            command: p.command,
            closeCode: end.code,
          },
        ),
      );
    }
    this.#options.onEnd(end);
  }
}
