/**
 * The protocol engine: a pure function of (state, inbound frame, time) to outbound frames,
 * with storage behind the {@link Store} interface. No sockets, timers or clocks in here:
 * the adapter passes `now` and carries out the returned outputs (house style; issue 3).
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  type C2SMessages,
  formatErrors,
  httpValidators,
  LOGS_DEFAULT_LIMIT,
  MAX_SERIAL,
  type RestLogsQuery,
  validate,
} from "@confab/schemas";
import type { Store } from "../store/store.js";
import { type AppConfig, type EngineConfig, engineConfig, resolveApp } from "./config.js";
import { CommandContext, type EngineServices } from "./context.js";
import { handleClientAck, handleDirect } from "./direct.js";
import { CommandError, ERRORS, type ErrorSpec } from "./errors.js";
import { handleLogs, page } from "./history.js";
import { handleInvite, handleJoin, handleKick, handleLeave } from "./room.js";
import { handleAdd, handleClose, handleOpen, handleQuery, handleRemove } from "./session.js";
import { AppState, type Connection, type Session } from "./state.js";
import type {
  ConnectionInfo,
  ConnId,
  LogEvent,
  Output,
  ProtocolEngine,
  RestLogsResult,
} from "./types.js";

type Commands = Omit<C2SMessages, "keepalive">;
/** One handler per command: a missing or extra handler is a compile error. */
type HandlerTable = {
  readonly [K in keyof Commands]: (ctx: CommandContext, frame: Commands[K]) => void;
};

const HANDLERS: HandlerTable = {
  "session/open": handleOpen,
  "session/add": handleAdd,
  "session/remove": handleRemove,
  "session/query": handleQuery,
  "session/close": handleClose,
  direct: handleDirect,
  ack: handleClientAck,
  "room/join": handleJoin,
  "room/invite": handleInvite,
  "room/kick": handleKick,
  "room/leave": handleLeave,
  logs: handleLogs,
};

/** Options that tests set to make ids deterministic. */
export interface EngineOptions {
  /** Random bytes for ids (defaults to node:crypto). */
  readonly random?: (size: number) => Buffer;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const validSerial = (v: unknown): number | undefined =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_SERIAL
    ? (v as number)
    : undefined;

/** The app id alphabet (LIMIT-APPID-1), checked before the schema because 4100 ranks first. */
const APP_ID = /^[A-Za-z0-9_.-]{1,64}$/;

/** `cmd/op` or `cmd` of a frame, for logs and the legacy-open rule. */
function commandName(frame: Record<string, unknown>): string {
  const cmd = String(frame.cmd);
  return typeof frame.op === "string" ? `${cmd}/${frame.op}` : cmd;
}

/** Commands that get no reply without `i` (Table 1 of spec 01). */
function isSilentWithoutSerial(frame: Record<string, unknown>): boolean {
  if (frame.cmd === "ack") return true;
  if (frame.cmd === "direct") return frame.transient === true;
  return frame.cmd === "session" && (frame.op === "remove" || frame.op === "close");
}

function originAllowed(app: AppConfig, origin: string | undefined): boolean {
  if (!app.allowedOrigins || app.allowedOrigins.length === 0) return true;
  return origin !== undefined && app.allowedOrigins.includes(origin);
}

const LIMIT_RULES = new Set(["maxUtf8Bytes", "maxLength"]);

/**
 * Ranks schema errors by ERROR-ORDER-1: a bad `peerId` of `session/open` is 4103; any other
 * violation is 4114; only when `msg` size or array counts are all that is wrong do 4109
 * and 4120 apply.
 */
function rankErrors(
  name: string,
  errors: readonly { path: string; rule: string; message: string }[],
): { spec: ErrorSpec; detail: string } {
  const detail = (list: readonly { path: string; rule: string; message: string }[]) =>
    formatErrors({ ok: false, errors: list });
  if (name === "session/open") {
    const peer = errors.filter((e) => e.path === "/peerId");
    if (peer.length > 0) return { spec: ERRORS.INVALID_LOGIN, detail: detail(peer) };
  }
  const isMsgSize = (e: { path: string; rule: string }) =>
    e.path === "/msg" && LIMIT_RULES.has(e.rule);
  const isCount = (e: { rule: string }) => e.rule === "maxItems";
  const other = errors.filter((e) => !isMsgSize(e) && !isCount(e));
  if (other.length > 0) return { spec: ERRORS.INVALID_FRAME, detail: detail(other) };
  const size = errors.filter(isMsgSize);
  if (size.length > 0) return { spec: ERRORS.MESSAGE_TOO_LONG, detail: detail(size) };
  return { spec: ERRORS.LIMIT_EXCEEDED, detail: detail(errors) };
}

/** Unpaired surrogates cannot be encoded as UTF-8 and are rejected with 4114 (LIMIT-UTF8). */
function wellFormedStrings(value: unknown): { spec: ErrorSpec; detail: string } | undefined {
  const bad = (v: unknown, path: string): string | undefined => {
    if (typeof v === "string") return v.isWellFormed() ? undefined : path;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const hit = bad(v[i], `${path}/${i}`);
        if (hit !== undefined) return hit;
      }
    } else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        if (!k.isWellFormed()) return path;
        const hit = bad(x, `${path}/${k}`);
        if (hit !== undefined) return hit;
      }
    }
    return undefined;
  };
  const path = bad(value, "");
  return path === undefined
    ? undefined
    : {
        spec: ERRORS.INVALID_FRAME,
        detail: `${path || "the frame"} contains an unpaired surrogate`,
      };
}

/** The reference server's protocol engine. */
export class Engine implements ProtocolEngine {
  readonly config: EngineConfig;
  private readonly conns = new Map<ConnId, Connection>();
  private readonly apps = new Map<string, AppState>();
  private out: Output[] = [];
  private logBuffer: LogEvent[] = [];
  private lastTimestamp = 0;
  private seq = 0;
  private readonly random: (size: number) => Buffer;
  private readonly services: EngineServices;

  /** @param store where messages, offline stores, groups and nonces live. */
  constructor(
    readonly store: Store,
    config: Partial<EngineConfig> = {},
    options: EngineOptions = {},
  ) {
    this.config = engineConfig(config);
    this.random = options.random ?? randomBytes;
    this.services = {
      store,
      config: this.config,
      emit: (o) => this.out.push(o),
      nextMessage: (now) => this.nextMessage(now),
      nextRoomId: () => this.random(12).toString("hex"),
      openSession: (conn, app, peerId) => this.openSession(conn, app, peerId),
      endSession: (conn, app, session, now) => this.endSession(conn, app, session, now),
      log: (event, fields) => this.log(event, fields),
    };
  }

  // ---- ProtocolEngine ------------------------------------------------------------------

  connect(conn: ConnId, now: number, info: ConnectionInfo = {}): Output[] {
    const burst = this.config.rateLimit.burst;
    this.conns.set(conn, {
      id: conn,
      origin: info.origin,
      appId: undefined,
      sessions: new Map(),
      lastSeen: now,
      noSessionSince: now,
      tokens: burst,
      lastRefill: now,
      closing: false,
    });
    this.log("connect", { conn, remote: info.remoteAddress });
    return this.flush();
  }

  receiveText(conn: ConnId, text: string, bytes: number, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c || c.closing) return [];
    c.lastSeen = now;
    try {
      this.handleText(c, text, bytes, now);
    } catch (err) {
      // A bug must cost one command, never the process or another connection.
      this.log("internal-error", { conn, error: String(err instanceof Error ? err.stack : err) });
      this.sendError(c, ERRORS.INTERNAL_ERROR, "internal error", undefined, undefined);
    }
    return this.flush();
  }

  receiveBinary(conn: ConnId, _bytes: number, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c || c.closing) return [];
    c.lastSeen = now;
    // Binary frames are not part of the protocol [FRAME] (spec 01).
    this.close(c, ERRORS.UNPARSEABLE_RAW_MESSAGE, "binary frames are not supported", now);
    return this.flush();
  }

  activity(conn: ConnId, now: number): void {
    const c = this.conns.get(conn);
    if (c) c.lastSeen = now;
  }

  disconnect(conn: ConnId, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c) return [];
    this.endAllSessions(c, now);
    this.conns.delete(conn);
    this.log("disconnect", { conn });
    return this.flush();
  }

  tick(now: number): Output[] {
    for (const c of this.conns.values()) {
      if (c.closing) continue;
      if (now - c.lastSeen > this.config.readTimeoutMs) {
        this.close(c, ERRORS.READ_TIMEOUT, "read timeout", now);
      } else if (
        c.sessions.size === 0 &&
        c.noSessionSince !== undefined &&
        now - c.noSessionSince > this.config.loginTimeoutMs
      ) {
        this.close(c, ERRORS.LOGIN_TIMEOUT, "no session opened", now);
      }
    }
    return this.flush();
  }

  restLogs(
    appId: string | undefined,
    masterKey: string | undefined,
    query: Record<string, string | undefined>,
  ): RestLogsResult {
    if (!appId) return { ok: false, status: 400, code: 4100, error: "appId is required" };
    const app = resolveApp(this.config, appId);
    if (!app) return { ok: false, status: 404, code: 4100, error: `unknown app ${appId}` };
    if (app.masterKey !== undefined && masterKey !== app.masterKey) {
      return { ok: false, status: 401, code: 4102, error: "X-AVOSCloud-Master-Key is required" };
    }
    const parsed: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || k === "appId") continue;
      if (k === "max_ts" || k === "limit") {
        // Query strings are text; integers must be plain decimal (no 1e3, no 0x10).
        parsed[k] = /^\d{1,16}$/.test(v) ? Number(v) : v;
      } else parsed[k] = v;
    }
    const checked = httpValidators["logs-query"]?.(parsed);
    if (!checked?.ok) {
      const detail = checked ? checked.errors.map((e) => e.message).join("; ") : "invalid";
      return { ok: false, status: 400, code: 4114, error: detail };
    }
    const q = parsed as RestLogsQuery;
    const items = page(this.store, {
      appId,
      cid: q.convid,
      fromPeerId: q.from,
      maxTs: q.max_ts,
      msgId: q.msgid,
      limit: q.limit ?? LOGS_DEFAULT_LIMIT,
    });
    return { ok: true, items };
  }

  knowsApp(appId: string): boolean {
    return resolveApp(this.config, appId) !== undefined;
  }

  stats(): { connections: number; sessions: number } {
    let sessions = 0;
    for (const c of this.conns.values()) sessions += c.sessions.size;
    return { connections: this.conns.size, sessions };
  }

  drainLog(): LogEvent[] {
    const events = this.logBuffer;
    this.logBuffer = [];
    return events;
  }

  // ---- frame handling ------------------------------------------------------------------

  /** Checks a text frame in the order of ERROR-ORDER-1, then runs its handler. */
  private handleText(c: Connection, text: string, bytes: number, now: number): void {
    if (!this.takeToken(c, now)) {
      this.close(c, ERRORS.MESSAGE_SENT_QUOTA_EXCEEDED, "too many frames", now); // FLOOD-CLOSE-1
      return;
    }
    // (1) framing: size, JSON, object [FRAME-SIZE-1, FRAME-JSON-1, FRAME-JSON-2]
    if (bytes > this.config.limits.maxFrameBytes) {
      this.close(
        c,
        ERRORS.FRAME_TOO_LONG,
        `frame over ${this.config.limits.maxFrameBytes} bytes`,
        now,
      );
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      this.close(c, ERRORS.UNPARSEABLE_RAW_MESSAGE, "not JSON", now);
      return;
    }
    if (!isObject(frame)) {
      this.close(c, ERRORS.UNPARSEABLE_RAW_MESSAGE, "not a JSON object", now);
      return;
    }
    // (2) keepalive: any object without cmd, answered with exactly {} [KEEPALIVE-DEF-1]
    if (!("cmd" in frame)) {
      this.out.push({ type: "send", conn: c.id, frame: {} });
      return;
    }
    const serial = validSerial(frame.i);
    const peerId = typeof frame.peerId === "string" ? frame.peerId : undefined;
    const name = commandName(frame);
    // SERIAL-LEGACY-2: a command without i that awaits no reply is silent, even on failure.
    const silent = serial === undefined && isSilentWithoutSerial(frame);
    const fail = (spec: ErrorSpec, detail: string) => {
      if (!silent) this.sendError(c, spec, detail, serial, peerId);
      this.log("command-failed", { conn: c.id, cmd: name, code: spec.code, detail });
      this.legacyOpenFailure(c, name, serial, spec, now);
    };

    // (3) the app [SESSION-APP-1..3]: a missing or malformed appId names no app.
    const appId =
      typeof frame.appId === "string" && APP_ID.test(frame.appId) ? frame.appId : undefined;
    const appConfig = appId === undefined ? undefined : resolveApp(this.config, appId);
    if (c.appId === undefined) {
      if (!appConfig) {
        this.close(c, ERRORS.APP_NOT_AVAILABLE, `unknown app ${String(frame.appId)}`, now);
        return;
      }
      if (!originAllowed(appConfig, c.origin)) {
        this.close(c, ERRORS.INVALID_ORIGIN, `origin ${String(c.origin)} not allowed`, now);
        return;
      }
      c.appId = appConfig.appId;
    } else if (!appConfig || appConfig.appId !== c.appId) {
      fail(ERRORS.APP_MISMATCH, `this connection belongs to app ${c.appId}`);
      return;
    }

    // (4)-(6) the schema; its errors are ranked by ERROR-ORDER-1.
    const result = validate("c2s", frame);
    const problem = result.ok ? wellFormedStrings(frame) : rankErrors(name, result.errors);
    if (problem) {
      fail(problem.spec, problem.detail);
      return;
    }
    if (!result.ok) return; // unreachable: rankErrors always returns a problem

    const ctx = new CommandContext(
      this.services,
      c,
      appConfig,
      this.appState(appConfig),
      frame.peerId as string,
      serial,
      now,
    );
    const handler = HANDLERS[result.name as keyof HandlerTable] as (
      ctx: CommandContext,
      f: unknown,
    ) => void;
    try {
      // (7)-(9) session, signature, the command's own rules: inside the handler.
      handler(ctx, frame);
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      // ERROR-NOEFFECT-1: handlers check before they change anything, and emit nothing
      // before their checks pass, so dropping their outputs is not needed.
      fail(err.spec, err.detail);
    }
  }

  /**
   * A legacy client (no `i`) cannot read error frames; when its `session/open` fails and it
   * has no other session here, close with the code as v1 servers did [SESSION-OPEN-4].
   */
  private legacyOpenFailure(
    c: Connection,
    name: string,
    serial: number | undefined,
    spec: ErrorSpec,
    now: number,
  ): void {
    if (name !== "session/open" || serial !== undefined || c.sessions.size > 0) return;
    this.close(c, { ...spec, delivery: "close" }, spec.name, now);
  }

  private sendError(
    c: Connection,
    spec: ErrorSpec,
    detail: string,
    serial: number | undefined,
    peerId: string | undefined,
  ): void {
    const frame: Record<string, unknown> = {
      cmd: "error",
      code: spec.code,
      reason: spec.name,
      detail,
    };
    if (serial !== undefined) frame.i = serial;
    if (peerId !== undefined && peerId.length > 0) frame.peerId = peerId;
    this.out.push({ type: "send", conn: c.id, frame });
  }

  /** Decides to close a connection: its sessions end now, later frames are ignored. */
  private close(c: Connection, spec: ErrorSpec, reason: string, now: number): void {
    if (c.closing) return;
    c.closing = true;
    this.endAllSessions(c, now);
    this.log("close", { conn: c.id, code: spec.code, reason });
    this.out.push({ type: "close", conn: c.id, code: spec.code, reason: spec.name });
  }

  private takeToken(c: Connection, now: number): boolean {
    const { perSecond, burst } = this.config.rateLimit;
    if (perSecond <= 0) return true;
    c.tokens = Math.min(burst, c.tokens + ((now - c.lastRefill) * perSecond) / 1000);
    c.lastRefill = now;
    if (c.tokens < 1) return false;
    c.tokens -= 1;
    return true;
  }

  // ---- sessions and presence -----------------------------------------------------------

  private appState(app: AppConfig): AppState {
    let s = this.apps.get(app.appId);
    if (!s) {
      s = new AppState();
      this.apps.set(app.appId, s);
    }
    return s;
  }

  private openSession(c: Connection, app: AppState, peerId: string): Session {
    const session: Session = {
      conn: c.id,
      appId: c.appId as string,
      peerId,
      watch: new Set(),
      sp: false,
    };
    c.sessions.set(peerId, session);
    c.noSessionSince = undefined;
    this.log("session-open", { conn: c.id, appId: session.appId, peerId });
    if (app.addSession(session)) this.publishPresence(app, peerId, "on");
    return session;
  }

  private endSession(c: Connection, app: AppState, session: Session, now: number): void {
    c.sessions.delete(session.peerId);
    // The login timeout runs again while a connection holds no session (decision D11).
    if (c.sessions.size === 0) c.noSessionSince = now;
    this.log("session-close", { conn: c.id, appId: session.appId, peerId: session.peerId });
    if (app.removeSession(session)) this.publishPresence(app, session.peerId, "off");
  }

  private endAllSessions(c: Connection, now: number): void {
    const app = c.appId !== undefined ? this.apps.get(c.appId) : undefined;
    if (!app) return;
    for (const s of [...c.sessions.values()]) this.endSession(c, app, s, now);
  }

  /** Tells every session watching `peerId` that it came online or went offline (D4). */
  private publishPresence(app: AppState, peerId: string, status: "on" | "off"): void {
    for (const w of app.watchersOf(peerId)) {
      this.out.push({
        type: "send",
        conn: w.conn,
        frame: { cmd: "presence", peerId: w.peerId, status, sessionPeerIds: [peerId] },
      });
    }
  }

  // ---- ids, logging --------------------------------------------------------------------

  /**
   * Message ids sort like acceptance order: a base-36 time prefix, a process-wide sequence,
   * then randomness. Timestamps never go backwards, so (timestamp, id) order is send order.
   */
  private nextMessage(now: number): { id: string; timestamp: number } {
    const timestamp = Math.max(now, this.lastTimestamp);
    this.lastTimestamp = timestamp;
    this.seq = (this.seq + 1) % 36 ** 6;
    const id =
      timestamp.toString(36).padStart(9, "0") +
      this.seq.toString(36).padStart(6, "0") +
      this.random(6).toString("base64url");
    return { id, timestamp };
  }

  private log(event: string, fields: Record<string, unknown>): void {
    // Bounded, so an adapter that never drains cannot leak memory.
    if (this.logBuffer.length < 10_000) this.logBuffer.push({ event, ...fields });
  }

  private flush(): Output[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}
