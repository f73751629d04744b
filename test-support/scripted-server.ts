/**
 * A tiny scripted fake Confab server for client-side tests.
 *
 * It answers the router request, accepts WebSocket connections, records every frame in
 * both directions, and replies only what the test scripts: a responder maps each received
 * frame to the frames to send back, and the test can push unsolicited frames at any time.
 * It has no protocol logic of its own, so a client test states exactly what the server
 * does, and the recording shows exactly what the client did.
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type WebSocket, WebSocketServer } from "ws";

// Captured at load so waits keep their real timeouts while a test uses vitest fake timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** One frame seen by the server, in either direction. */
export interface RecordedFrame {
  /** `c2s`: received from a client; `s2c`: sent by the server. */
  direction: "c2s" | "s2c";
  /** Index of the connection, 0 for the first accepted WebSocket, in accept order. */
  conn: number;
  /** Position in the server's single timeline of frames (both directions), from 0. */
  seq: number;
  /** The frame parsed as JSON; `undefined` when a received text was not JSON. */
  frame: unknown;
  /** The exact text on the wire. */
  raw: string;
}

/** One request the router endpoint answered. */
export interface RouteRequest {
  /** The request path and query, e.g. `/v1/route?appId=app1&secure=1`. */
  url: string;
  /** The `appId` query parameter, `null` when absent. */
  appId: string | null;
  /** Whether the query had `secure=1`. */
  secure: boolean;
}

/** A connection as responders and tests see it. */
export interface ScriptedConnection {
  /** Connection index, as in {@link RecordedFrame.conn}. */
  readonly index: number;
  /** The server side of the WebSocket. */
  readonly socket: WebSocket;
  /** Sends a frame (an object is JSON-encoded, a string goes out as-is) and records it. */
  send(frame: unknown): void;
  /** Resolves with the close code and reason once the socket has closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
}

/**
 * Decides the server's answer to a received frame. Return one frame, an array of frames
 * (sent in order), or nothing. `frame` is the parsed JSON (`undefined` if unparseable).
 */
export type Responder = (
  frame: unknown,
  conn: ScriptedConnection,
  received: RecordedFrame,
) => unknown | unknown[] | undefined;

/** Options of {@link ScriptedServer}. */
export interface ScriptedServerOptions {
  /** `ttl` (seconds) in router answers; default 3600. */
  ttl?: number;
}

/**
 * The scripted server. Typical use:
 *
 * ```ts
 * const server = new ScriptedServer();
 * await server.start();
 * server.respond((frame) => (isOpen(frame) ? { cmd: "session", op: "opened" } : undefined));
 * // ... drive a client at server.httpUrl ...
 * await server.stop();
 * ```
 */
export class ScriptedServer {
  /** Every frame in both directions, in order. */
  readonly frames: RecordedFrame[] = [];
  /** Every router request, in order. */
  readonly routeRequests: RouteRequest[] = [];
  /** Every accepted connection, by index; closed ones stay in the list. */
  readonly connections: ScriptedConnection[] = [];
  /**
   * Errors thrown by the responder. Such a connection is closed with 1011 so the client
   * fails at once instead of waiting for a reply; tests should expect this list empty.
   */
  readonly errors: unknown[] = [];

  private readonly ttl: number;
  private http?: Server;
  private wss?: WebSocketServer;
  private port = 0;
  private responder: Responder = () => undefined;
  private waiters: Array<{
    test: (f: RecordedFrame) => boolean;
    resolve: (f: RecordedFrame) => void;
  }> = [];
  private connectionWaiters: Array<(c: ScriptedConnection) => void> = [];

  /** @param options - see {@link ScriptedServerOptions} */
  constructor(options: ScriptedServerOptions = {}) {
    this.ttl = options.ttl ?? 3600;
  }

  /** Origin of the HTTP server, e.g. `http://127.0.0.1:4000` (the router URL). */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The WebSocket URL the router hands out, e.g. `ws://127.0.0.1:4000/`. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** Frames received from clients, in arrival order. */
  get received(): RecordedFrame[] {
    return this.frames.filter((f) => f.direction === "c2s");
  }

  /** Frames sent by the server, in sending order. */
  get sent(): RecordedFrame[] {
    return this.frames.filter((f) => f.direction === "s2c");
  }

  /** Starts listening on 127.0.0.1 on a free port. */
  async start(): Promise<void> {
    const http = createServer((req, res) => this.route(req, res));
    const wss = new WebSocketServer({ server: http });
    wss.on("connection", (socket) => this.accept(socket));
    this.http = http;
    this.wss = wss;
    await new Promise<void>((resolve, reject) => {
      http.once("error", reject);
      http.listen(0, "127.0.0.1", () => {
        http.off("error", reject);
        resolve();
      });
    });
    this.port = (http.address() as AddressInfo).port;
  }

  /** Terminates every socket and stops listening. Safe to call twice. */
  async stop(): Promise<void> {
    const { http, wss } = this;
    this.http = undefined;
    this.wss = undefined;
    if (!wss || !http) return;
    for (const socket of wss.clients) socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    // The router client may hold idle keep-alive sockets; drop them so close() returns.
    http.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      http.close((err) => (err ? reject(err) : resolve())),
    );
  }

  /** Replaces the responder (the default answers nothing). */
  respond(responder: Responder): void {
    this.responder = responder;
  }

  /**
   * Sends an unsolicited frame on a connection.
   *
   * @param conn - connection index
   * @param frame - an object (JSON-encoded) or a raw string
   */
  push(conn: number, frame: unknown): void {
    const c = this.connections[conn];
    if (!c) throw new Error(`no connection ${conn}`);
    c.send(frame);
  }

  /**
   * Resolves with the first recorded frame, at index `from` or later in {@link frames},
   * that satisfies `test`, waiting for it if needed.
   *
   * @param test - predicate over recorded frames
   * @param options.from - index in {@link frames} to start from (e.g. a length taken earlier)
   * @param options.timeoutMs - real-time limit (default 2000 ms)
   */
  waitForFrame(
    test: (f: RecordedFrame) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<RecordedFrame> {
    const found = this.frames.slice(options.from ?? 0).find(test);
    if (found) return Promise.resolve(found);
    const timeoutMs = options.timeoutMs ?? 2_000;
    return new Promise<RecordedFrame>((resolve, reject) => {
      const waiter = {
        test,
        resolve: (f: RecordedFrame) => {
          realClearTimeout(timer);
          resolve(f);
        },
      };
      const timer = realSetTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no matching frame within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /**
   * Resolves with the connection of index `index`, waiting until it is accepted.
   *
   * @param index - connection index
   * @param timeoutMs - real-time limit (default 2000 ms)
   */
  waitForConnection(index: number, timeoutMs = 2_000): Promise<ScriptedConnection> {
    const existing = this.connections[index];
    if (existing) return Promise.resolve(existing);
    return new Promise<ScriptedConnection>((resolve, reject) => {
      const waiter = (c: ScriptedConnection) => {
        if (c.index !== index) return;
        realClearTimeout(timer);
        this.connectionWaiters = this.connectionWaiters.filter((w) => w !== waiter);
        resolve(c);
      };
      const timer = realSetTimeout(() => {
        this.connectionWaiters = this.connectionWaiters.filter((w) => w !== waiter);
        reject(new Error(`connection ${index} not accepted within ${timeoutMs} ms`));
      }, timeoutMs);
      this.connectionWaiters.push(waiter);
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? "/", this.httpUrl);
    if (req.method === "GET" && url.pathname === "/v1/route") {
      this.routeRequests.push({
        url: req.url ?? "",
        appId: url.searchParams.get("appId"),
        secure: url.searchParams.get("secure") === "1",
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ server: this.wsUrl, ttl: this.ttl }));
      return;
    }
    res.writeHead(404, { "content-type": "application/json" });
    res.end(JSON.stringify({ error: "not found" }));
  }

  private accept(socket: WebSocket): void {
    const index = this.connections.length;
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.once("close", (code, reason) => resolve({ code, reason: String(reason) })),
    );
    const conn: ScriptedConnection = {
      index,
      socket,
      closed,
      send: (frame) => {
        const raw = typeof frame === "string" ? frame : JSON.stringify(frame);
        this.record({ direction: "s2c", conn: index, frame: parse(raw), raw });
        socket.send(raw);
      },
    };
    this.connections.push(conn);
    socket.on("message", (data, isBinary) => {
      const raw = isBinary ? `<binary ${String(data)}>` : String(data);
      const frame = parse(raw);
      const received = this.record({ direction: "c2s", conn: index, frame, raw });
      let answer: unknown;
      try {
        answer = this.responder(frame, conn, received);
      } catch (err) {
        this.errors.push(err);
        socket.close(1011, "responder failed");
        return;
      }
      if (answer === undefined) return;
      for (const f of Array.isArray(answer) ? answer : [answer]) conn.send(f);
    });
    for (const waiter of [...this.connectionWaiters]) waiter(conn);
  }

  private record(f: Omit<RecordedFrame, "seq">): RecordedFrame {
    const recorded: RecordedFrame = { ...f, seq: this.frames.length };
    this.frames.push(recorded);
    for (const w of [...this.waiters]) {
      if (w.test(recorded)) {
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(recorded);
      }
    }
    return recorded;
  }
}

/** Parses JSON text, or returns `undefined` when it is not JSON. */
function parse(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}
