/**
 * Helpers of the adapter tests: WebSocket clients that record what they receive, a fake
 * engine whose answers each test scripts, a store that records commits, and a logger that
 * records lines.
 */
import { request } from "node:http";
import { type ClientOptions, WebSocket } from "ws";
import type {
  ConnId,
  LogEvent,
  Output,
  ProtocolEngine,
  RestLogsResult,
} from "../../src/core/types.js";
import type { Logger, LogLevel } from "../../src/log.js";
import { MemoryStore } from "../../src/store/memory-store.js";

/** A connected test client. */
export interface Client {
  readonly ws: WebSocket;
  /** Text frames received, parsed. */
  readonly received: unknown[];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the next received frame (or the first already received and not taken). */
  next(): Promise<unknown>;
}

/** Opens a client and waits for the handshake. */
export async function connect(
  url: string,
  protocols?: string | string[],
  options?: ClientOptions,
): Promise<Client> {
  const ws = new WebSocket(url, protocols, options);
  const received: unknown[] = [];
  let taken = 0;
  const waiters: (() => void)[] = [];
  ws.on("message", (data, isBinary) => {
    received.push(isBinary ? data : JSON.parse(String(data)));
    for (const w of waiters.splice(0)) w();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  ws.on("error", () => {
    // Surfaced through `closed` or the open promise.
  });
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    ws,
    received,
    closed,
    next() {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (taken < received.length) resolve(received[taken++]);
          else if (ws.readyState >= WebSocket.CLOSING) reject(new Error("closed"));
          else waiters.push(check);
        };
        check();
      });
    },
  };
}

/** Closes a client if it is still open, and waits for the close. */
export async function disconnect(client: Client | undefined): Promise<void> {
  if (client === undefined) return;
  if (client.ws.readyState === WebSocket.OPEN || client.ws.readyState === WebSocket.CONNECTING) {
    client.ws.terminate();
  }
  await client.closed;
}

/** A GET (or other method) with raw control of the headers. */
export function httpRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

/** A logger that keeps its lines. */
export class RecordingLogger implements Logger {
  readonly lines: { level: LogLevel; event: string; fields: Record<string, unknown> }[] = [];
  log(level: LogLevel, event: string, fields: Readonly<Record<string, unknown>> = {}): void {
    this.lines.push({ level, event, fields: { ...fields } });
  }
  events(): string[] {
    return this.lines.map((l) => l.event);
  }
}

/** A MemoryStore that records, in a shared timeline, when it commits and closes. */
export class RecordingStore extends MemoryStore {
  commits = 0;
  closed = false;
  /** Set to make the next commits throw. */
  failCommits = 0;
  constructor(readonly timeline: string[] = []) {
    super();
  }
  override commit(): void {
    this.commits++;
    this.timeline.push("commit");
    if (this.failCommits > 0) {
      this.failCommits--;
      throw new Error("disk full (simulated)");
    }
    super.commit();
  }
  override close(): void {
    this.closed = true;
    super.close();
  }
}

/** A scripted {@link ProtocolEngine}: every method can be replaced by the test. */
export class FakeEngine implements ProtocolEngine {
  readonly calls: string[] = [];
  readonly connected = new Set<ConnId>();
  onConnect: (conn: ConnId) => Output[] = () => [];
  onText: (conn: ConnId, text: string, bytes: number) => Output[] = () => [];
  onBinary: (conn: ConnId, bytes: number) => Output[] = () => [];
  onTick: () => Output[] = () => [];
  log: LogEvent[] = [];

  connect(conn: ConnId): Output[] {
    this.calls.push(`connect:${conn}`);
    this.connected.add(conn);
    return this.onConnect(conn);
  }
  receiveText(conn: ConnId, text: string, bytes: number): Output[] {
    this.calls.push(`text:${conn}`);
    return this.onText(conn, text, bytes);
  }
  receiveBinary(conn: ConnId, bytes: number): Output[] {
    this.calls.push(`binary:${conn}`);
    return this.onBinary(conn, bytes);
  }
  activity(conn: ConnId): void {
    this.calls.push(`activity:${conn}`);
  }
  disconnect(conn: ConnId): Output[] {
    this.calls.push(`disconnect:${conn}`);
    this.connected.delete(conn);
    return [];
  }
  tick(): Output[] {
    return this.onTick();
  }
  restLogs(): RestLogsResult {
    return { ok: true, items: [] };
  }
  knowsApp(): boolean {
    return true;
  }
  stats(): { connections: number; sessions: number } {
    return { connections: this.connected.size, sessions: 0 };
  }
  drainLog(): LogEvent[] {
    return this.log.splice(0);
  }
}

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true, or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error("waitFor timed out");
    await sleep(10);
  }
}
