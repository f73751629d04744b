/**
 * Helpers of the adapter tests: a fake engine whose answers each test scripts, a store
 * that records commits, a logger that records lines, and raw HTTP requests. The WebSocket
 * client is the shared one of `@confab/test-support`.
 */
import { request } from "node:http";
import type {
  ConnId,
  LogEvent,
  Output,
  ProtocolEngine,
  RestLogsResult,
  RestPeerRoomsResult,
  RestRoomMembersResult,
} from "../../src/core/types.js";
import type { Logger, LogLevel } from "../../src/log.js";
import { MemoryStore } from "../../src/store/memory-store.js";

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

/**
 * An output as the adapter tests script it. The adapter sends a frame without looking
 * inside it, so these tests use frames of any shape (`{ ok: true }`, a `direct` without
 * its timestamp), which the core's registry-typed {@link Output} rightly refuses.
 */
export type ScriptedOutput =
  | {
      readonly type: "send";
      readonly conn: ConnId;
      readonly frame: Readonly<Record<string, unknown>>;
    }
  | Exclude<Output, { readonly type: "send" }>;

/** Hands scripted outputs to the adapter, which takes the core's {@link Output}. */
export function asOutputs(outputs: readonly ScriptedOutput[]): Output[] {
  return outputs as Output[];
}

/** A scripted {@link ProtocolEngine}: every method can be replaced by the test. */
export class FakeEngine implements ProtocolEngine {
  readonly calls: string[] = [];
  readonly connected = new Set<ConnId>();
  onConnect: (conn: ConnId) => ScriptedOutput[] = () => [];
  onText: (conn: ConnId, text: string, bytes: number) => ScriptedOutput[] = () => [];
  onBinary: (conn: ConnId, bytes: number) => ScriptedOutput[] = () => [];
  onTick: () => ScriptedOutput[] = () => [];
  log: LogEvent[] = [];

  connect(conn: ConnId): Output[] {
    this.calls.push(`connect:${conn}`);
    this.connected.add(conn);
    return asOutputs(this.onConnect(conn));
  }
  receiveText(conn: ConnId, text: string, bytes: number): Output[] {
    this.calls.push(`text:${conn}`);
    return asOutputs(this.onText(conn, text, bytes));
  }
  receiveBinary(conn: ConnId, bytes: number): Output[] {
    this.calls.push(`binary:${conn}`);
    return asOutputs(this.onBinary(conn, bytes));
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
    return asOutputs(this.onTick());
  }
  restLogs(): RestLogsResult {
    return { ok: true, items: [] };
  }
  restRoomMembers(_appId?: string, _masterKey?: string, roomId = "r"): RestRoomMembersResult {
    return { ok: true, body: { roomId, roomPeerIds: [] } };
  }
  restPeerRooms(_appId?: string, _masterKey?: string, peerId = "p"): RestPeerRoomsResult {
    return { ok: true, body: { peerId, roomIds: [], more: false } };
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
