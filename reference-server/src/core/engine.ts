/**
 * The protocol engine: a pure function of (state, inbound frame, time) to outbound frames,
 * with storage behind the {@link Store} interface. No sockets, timers or clocks in here:
 * the adapter passes `now` and carries out the returned outputs.
 *
 * Every text frame is checked in the order of ERROR-ORDER-1 and answered with the code of
 * the first check that fails: (1) frame size, JSON, object (close); (2) keepalive; (3) the
 * app; (4) the `peerId` of a `session/open`; (5) schema, serial `i` and strings; (6) `msg`
 * size and id array counts; (7) an open session; (8) the signature and (9) the command's
 * own rules, both inside the command's handler.
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  answeredWithoutSerial,
  type C2SMessages,
  ERRORS,
  type ErrorSpec,
  errorFrame,
  type FieldError,
  findEntry,
  formatErrors,
  frameName,
  httpValidators,
  isValidId,
  LOGS_DEFAULT_LIMIT,
  MAX_SERIAL,
  type RestLogsQuery,
  sameSecret,
  type ValidationResult,
  validate,
} from "@confab/protocol";
import type { Store } from "../store/store.js";
import {
  type AppConfig,
  type EngineConfig,
  engineConfig,
  resolveApp,
  specViolations,
} from "./config.js";
import { CommandContext, type EngineServices } from "./context.js";
import { handleClientAck, handleDirect } from "./direct.js";
import { CommandError } from "./errors.js";
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

/** What the engine knows about a command (a frame with `cmd`) before it runs it. */
interface Inbound {
  /** `cmd/op`, or `cmd`: for the rules that name commands, and for logs. */
  readonly name: string;
  /**
   * Whether the frame has an `i` member at all, valid or not: the switch between modern
   * and legacy behaviour (spec 1.4).
   */
  readonly hasSerial: boolean;
  /** The `i` when it is valid, echoed in the reply or error [ERROR-FRAME-2]. */
  readonly serial: number | undefined;
  /** The `peerId` when it is a valid peer id, echoed in errors [ERROR-FRAME-3]. */
  readonly peerId: string | undefined;
  /** A command without `i` that awaits no reply gets no frame at all [SERIAL-LEGACY-2]. */
  readonly silent: boolean;
}

/** Whom the `error` frame before a close names, or `null` for no such frame. */
type Notice = { readonly serial?: number | undefined; readonly peerId?: string | undefined };

/** A failed check: the error and the detail that names the field [ERROR-FRAME-4]. */
interface Problem {
  readonly spec: ErrorSpec;
  readonly detail: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The serial `i` when it is an integer from 0 to 2147483647 [SERIAL-INVALID-1]. */
const validSerial = (v: unknown): number | undefined =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_SERIAL
    ? (v as number)
    : undefined;

/**
 * Whether a connection may bind to `app` [FRAME-ORIGIN-2]. A handshake without `Origin`
 * does not come from a web page, which is all an origin check can protect.
 */
function originAllowed(app: AppConfig, origin: string | undefined): boolean {
  if (!app.allowedOrigins || app.allowedOrigins.length === 0) return true;
  return origin === undefined || app.allowedOrigins.includes(origin);
}

/** A copy of `frame` without `s`, `t` and `n`, which an app without enforcement ignores. */
function withoutSignature(frame: Record<string, unknown>): Record<string, unknown> {
  const { s: _s, t: _t, n: _n, ...rest } = frame;
  return rest;
}

/**
 * The path of the first string with an unpaired surrogate among the fields the command's
 * schema defines; unknown fields are ignored whatever they hold [VERSION-UNKNOWN-1].
 */
function unpairedSurrogate(
  frame: Record<string, unknown>,
  fields: readonly string[],
): string | undefined {
  const scan = (v: unknown, path: string): string | undefined => {
    if (typeof v === "string") return v.isWellFormed() ? undefined : path;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const hit = scan(v[i], `${path}/${i}`);
        if (hit !== undefined) return hit;
      }
    } else if (isObject(v)) {
      for (const [k, x] of Object.entries(v)) {
        const hit = scan(x, `${path}/${k}`);
        if (hit !== undefined) return hit;
      }
    }
    return undefined;
  };
  for (const field of fields) {
    if (!Object.hasOwn(frame, field)) continue;
    const hit = scan(frame[field], `/${field}`);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

const detailOf = (errors: readonly FieldError[]) => formatErrors({ ok: false, errors });
const isMsgSize = (e: FieldError) =>
  e.path === "/msg" && (e.rule === "maxUtf8Bytes" || e.rule === "maxLength");
const isCount = (e: FieldError) => e.rule === "maxItems";

/**
 * Steps (4) to (6) of ERROR-ORDER-1 for one command: the `peerId` of a `session/open`
 * (4103), then the schema, the serial and the strings (4114), then the size of `msg`
 * (4109) and the item count of id arrays (4120). `undefined` when the command passes.
 */
function checkShape(
  name: string,
  frame: Record<string, unknown>,
  result: ValidationResult,
): Problem | undefined {
  const errors = result.ok ? [] : result.errors;
  // (4) [SESSION-OPEN-1]
  if (name === "session/open") {
    const peer = errors.filter((e) => e.path === "/peerId");
    if (peer.length > 0) return { spec: ERRORS.INVALID_LOGIN, detail: detailOf(peer) };
    if (!isValidId(frame.peerId)) {
      return {
        spec: ERRORS.INVALID_LOGIN,
        detail: "/peerId contains an unpaired surrogate (rule wellFormed)",
      };
    }
  }
  // (5) [FRAME-SCHEMA-1, FRAME-SCHEMA-2, SERIAL-INVALID-1, LIMIT-ID-2, LIMIT-EMPTY-1]
  const other = errors.filter((e) => !isMsgSize(e) && !isCount(e));
  if (other.length > 0) return { spec: ERRORS.INVALID_FRAME, detail: detailOf(other) };
  const entry = findEntry("c2s", name);
  const bad = entry && unpairedSurrogate(frame, Object.keys(entry.schema.properties));
  if (bad !== undefined) {
    // [LIMIT-TEXT-1]
    return {
      spec: ERRORS.INVALID_FRAME,
      detail: `${bad} contains an unpaired surrogate (rule wellFormed)`,
    };
  }
  // (6) [LIMIT-MSG-2, LIMIT-ARRAY-1]
  const size = errors.filter(isMsgSize);
  if (size.length > 0) return { spec: ERRORS.MESSAGE_TOO_LONG, detail: detailOf(size) };
  if (errors.length > 0) return { spec: ERRORS.LIMIT_EXCEEDED, detail: detailOf(errors) };
  return undefined;
}

/** The reference server's protocol engine. */
export class Engine implements ProtocolEngine {
  /** The configuration in force, with the spec's defaults filled in. */
  readonly config: EngineConfig;
  private readonly conns = new Map<ConnId, Connection>();
  private readonly apps = new Map<string, AppState>();
  private out: Output[] = [];
  private logBuffer: LogEvent[] = [];
  private lastTimestamp = 0;
  private seq = 0;
  private readonly random: (size: number) => Buffer;
  private readonly services: EngineServices;

  /**
   * @param store where messages, offline stores, groups and nonces live.
   * @param config overrides of the spec's defaults; settings outside the spec's bounds are
   *   logged (`config-outside-spec`), not refused, so that tests can shorten timeouts.
   * @param options test hooks.
   */
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
      emit: (o) => this.push(o),
      nextMessage: (now) => this.nextMessage(now),
      nextRoomId: () => this.random(12).toString("hex"),
      openSession: (conn, app, peerId) => this.openSession(conn, app, peerId),
      endSession: (conn, app, session, now) => this.endSession(conn, app, session, now),
      log: (event, fields) => this.log(event, fields),
    };
    for (const problem of specViolations(this.config)) this.log("config-outside-spec", { problem });
  }

  // ---- ProtocolEngine ------------------------------------------------------------------

  /** {@inheritDoc ProtocolEngine.connect} */
  connect(conn: ConnId, now: number, info: ConnectionInfo = {}): Output[] {
    this.conns.set(conn, {
      id: conn,
      origin: info.origin,
      appId: undefined,
      sessions: new Map(),
      lastSeen: now,
      noSessionSince: now, // the login timeout runs from the opening [TIMEOUT-LOGIN-1]
      tokens: this.config.rateLimit.burst,
      lastRefill: now,
      closing: false,
    });
    this.log("connect", { conn, remote: info.remoteAddress });
    return this.flush();
  }

  /** {@inheritDoc ProtocolEngine.receiveText} */
  receiveText(conn: ConnId, text: string, bytes: number, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c || c.closing) return [];
    c.lastSeen = now;
    this.handleText(c, text, bytes, now);
    return this.flush();
  }

  /** {@inheritDoc ProtocolEngine.receiveBinary} */
  receiveBinary(conn: ConnId, bytes: number, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c || c.closing) return [];
    c.lastSeen = now;
    // [FRAME-BINARY-2]
    this.closeConnection(
      c,
      ERRORS.UNPARSEABLE_RAW_MESSAGE,
      `binary messages are not part of the protocol (got ${bytes} bytes)`,
      now,
      {},
    );
    return this.flush();
  }

  /** {@inheritDoc ProtocolEngine.activity} */
  activity(conn: ConnId, now: number): void {
    const c = this.conns.get(conn);
    if (c) c.lastSeen = now;
  }

  /** {@inheritDoc ProtocolEngine.disconnect} */
  disconnect(conn: ConnId, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c) return [];
    c.closing = true;
    this.endAllSessions(c, now); // [SESSION-END-1]
    this.conns.delete(conn);
    this.log("disconnect", { conn });
    return this.flush();
  }

  /** {@inheritDoc ProtocolEngine.tick} */
  tick(now: number): Output[] {
    for (const c of this.conns.values()) {
      if (c.closing) continue;
      if (now - c.lastSeen >= this.config.readTimeoutMs) {
        // [TIMEOUT-READ-1]
        const silence = Math.round((now - c.lastSeen) / 1000);
        this.closeConnection(c, ERRORS.READ_TIMEOUT, `nothing received for ${silence} s`, now, {});
      } else if (
        c.sessions.size === 0 &&
        c.noSessionSince !== undefined &&
        now - c.noSessionSince >= this.config.loginTimeoutMs
      ) {
        // [TIMEOUT-LOGIN-1]
        const idle = Math.round((now - c.noSessionSince) / 1000);
        this.closeConnection(c, ERRORS.LOGIN_TIMEOUT, `no open session for ${idle} s`, now, {});
      }
    }
    return this.flush();
  }

  /**
   * Ends a connection on behalf of the app or the operator, with close code 4115
   * [ERROR-KICK-1]. Not part of {@link ProtocolEngine}: an operator hook.
   */
  kick(conn: ConnId, now: number, why = "ended by the app or the operator"): Output[] {
    const c = this.conns.get(conn);
    if (c) this.closeConnection(c, ERRORS.KICKED_BY_APP, why, now, {});
    return this.flush();
  }

  /** {@inheritDoc ProtocolEngine.restLogs} */
  restLogs(
    appId: string | undefined,
    masterKey: string | undefined,
    query: Record<string, string | undefined>,
  ): RestLogsResult {
    // A missing or malformed app id names no app [LIMIT-APPID-1, REST-APP-2].
    const app = resolveApp(this.config, appId);
    if (!app) {
      const error = appId === undefined ? "no app id given" : `unknown app ${appId}`;
      return { ok: false, status: 404, code: 4100, error };
    }
    if (app.masterKey !== undefined && !sameSecret(masterKey, app.masterKey)) {
      // [REST-AUTH-1]
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
      // [REST-PARAM-1, REST-PARAM-2]
      const detail = checked ? checked.errors.map((e) => e.message).join("; ") : "invalid";
      return { ok: false, status: 400, code: 4114, error: detail };
    }
    const q = parsed as RestLogsQuery;
    const items = page(this.store, {
      appId: app.appId,
      cid: q.convid,
      fromPeerId: q.from,
      maxTs: q.max_ts,
      msgId: q.msgid,
      limit: q.limit ?? LOGS_DEFAULT_LIMIT,
    });
    return { ok: true, items };
  }

  /** {@inheritDoc ProtocolEngine.knowsApp} */
  knowsApp(appId: string): boolean {
    return resolveApp(this.config, appId) !== undefined;
  }

  /** {@inheritDoc ProtocolEngine.stats} */
  stats(): { connections: number; sessions: number } {
    let sessions = 0;
    for (const c of this.conns.values()) sessions += c.sessions.size;
    return { connections: this.conns.size, sessions };
  }

  /** {@inheritDoc ProtocolEngine.drainLog} */
  drainLog(): LogEvent[] {
    const events = this.logBuffer;
    this.logBuffer = [];
    return events;
  }

  // ---- frame handling ------------------------------------------------------------------

  /** Steps (1) and (2) of ERROR-ORDER-1, then the command. */
  private handleText(c: Connection, text: string, bytes: number, now: number): void {
    if (!this.takeToken(c, now)) {
      const { perSecond } = this.config.rateLimit;
      // [FLOOD-CLOSE-1]
      this.closeConnection(
        c,
        ERRORS.MESSAGE_SENT_QUOTA_EXCEEDED,
        `more than ${perSecond} frames per second`,
        now,
        {},
      );
      return;
    }
    // (1) [FRAME-SIZE-1, FRAME-JSON-1, FRAME-JSON-2]: the connection cannot be trusted.
    const max = this.config.limits.maxFrameBytes;
    if (bytes > max) {
      this.closeConnection(
        c,
        ERRORS.FRAME_TOO_LONG,
        `a frame of ${bytes} bytes (max ${max})`,
        now,
        {},
      );
      return;
    }
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      this.closeConnection(c, ERRORS.UNPARSEABLE_RAW_MESSAGE, `not JSON: ${why}`, now, {});
      return;
    }
    if (!isObject(frame)) {
      const kind = frame === null ? "null" : Array.isArray(frame) ? "an array" : typeof frame;
      this.closeConnection(
        c,
        ERRORS.UNPARSEABLE_RAW_MESSAGE,
        `JSON ${kind}, not an object`,
        now,
        {},
      );
      return;
    }
    // (2) any object without cmd is a keepalive, answered with exactly {}, whatever else it
    // holds and whatever the connection's state [KEEPALIVE-DEF-1, KEEPALIVE-REPLY-1, -2].
    if (!Object.hasOwn(frame, "cmd")) {
      this.push({ type: "send", conn: c.id, frame: {} });
      return;
    }
    const hasSerial = Object.hasOwn(frame, "i");
    // Nothing here may throw on hostile input: a `cmd` that is not a string has no name
    // rather than a `toString` to run [FRAME-SCHEMA-1, ERROR-SURVIVE-1].
    const cmd: Inbound = {
      name: frameName(frame) ?? "(cmd not a string)",
      hasSerial,
      serial: validSerial(frame.i),
      peerId: isValidId(frame.peerId) ? frame.peerId : undefined,
      silent: !hasSerial && !answeredWithoutSerial(frame),
    };
    try {
      this.handleCommand(c, frame, cmd, now);
    } catch (err) {
      // A bug must cost one command, never the process or another connection.
      this.log("internal-error", { conn: c.id, cmd: cmd.name, error: stackOf(err) });
      this.fail(c, cmd, ERRORS.INTERNAL_ERROR, "the server failed to carry out the command", now);
    }
  }

  /** Steps (3) to (9) of ERROR-ORDER-1 for a command. */
  private handleCommand(
    c: Connection,
    frame: Record<string, unknown>,
    cmd: Inbound,
    now: number,
  ): void {
    // (3) the app [SESSION-APP-1, SESSION-APP-2, SESSION-APP-3, LIMIT-APPID-1]
    const app = resolveApp(this.config, frame.appId);
    if (c.appId === undefined) {
      if (!app) {
        const why = `appId ${JSON.stringify(frame.appId) ?? "(none)"} names no app served here`;
        this.closeConnection(c, ERRORS.APP_NOT_AVAILABLE, why, now, cmd.silent ? null : cmd);
        return;
      }
      if (!originAllowed(app, c.origin)) {
        // [FRAME-ORIGIN-2]
        const why = `origin ${String(c.origin)} is not allowed for app ${app.appId}`;
        this.closeConnection(c, ERRORS.INVALID_ORIGIN, why, now, cmd.silent ? null : cmd);
        return;
      }
      c.appId = app.appId;
      this.log("bind", { conn: c.id, appId: app.appId });
    } else if (app?.appId !== c.appId) {
      this.fail(c, cmd, ERRORS.APP_MISMATCH, `this connection belongs to app ${c.appId}`, now);
      return;
    }

    // An app that does not enforce signatures ignores s, t and n, even malformed ones
    // [SIG-ENFORCE-3].
    const checked =
      !app.enforceSignatures && findEntry("c2s", cmd.name)?.signed === true
        ? withoutSignature(frame)
        : frame;

    // (4) to (6)
    const result = validate("c2s", checked);
    const problem = checkShape(cmd.name, checked, result);
    if (problem) {
      this.fail(c, cmd, problem.spec, problem.detail, now);
      return;
    }
    if (!result.ok) throw new Error("checkShape passed an invalid frame"); // unreachable
    const peerId = checked.peerId as string;

    // (7) [SESSION-REQUIRED-1]
    if (result.name !== "session/open" && !c.sessions.has(peerId)) {
      this.fail(c, cmd, ERRORS.SESSION_REQUIRED, `${peerId} has no open session here`, now);
      return;
    }

    // (8) and (9) in the handler, which changes nothing before its checks pass.
    const ctx = new CommandContext(
      this.services,
      c,
      app,
      this.appState(app),
      peerId,
      cmd.serial,
      now,
    );
    const handler = HANDLERS[result.name as keyof HandlerTable] as (
      ctx: CommandContext,
      f: unknown,
    ) => void;
    const mark = this.out.length;
    let late: unknown;
    try {
      // The command's writes happen all or not at all [ERROR-NOEFFECT-1, ACK-FAIL-1].
      this.store.atomically(() => {
        try {
          handler(ctx, checked);
        } catch (err) {
          // Once the one reply is out [SERIAL-REPLY-1, SERIAL-LEGACY-1] it must stay true:
          // keep the writes it reports, and only log the failure.
          if (!ctx.replied) throw err;
          late = err;
        }
      });
    } catch (err) {
      // Rolled back. A nonce whose signature verified stays used all the same [SIG-NONCE-2].
      this.keepNonces(ctx);
      // Nothing but the error frame [ERROR-NOEFFECT-1]. Handlers emit nothing before their
      // checks pass, so this drops nothing unless a handler has a bug.
      if (this.out.length > mark) {
        this.log("dropped-after-failure", {
          conn: c.id,
          cmd: cmd.name,
          frames: this.out.length - mark,
        });
        this.out.length = mark;
      }
      if (err instanceof CommandError) {
        this.fail(c, cmd, err.spec, err.detail, now);
      } else {
        // [ERROR-INTERNAL-1]
        this.log("internal-error", { conn: c.id, cmd: cmd.name, error: stackOf(err) });
        this.fail(c, cmd, ERRORS.INTERNAL_ERROR, "the server failed to carry out the command", now);
      }
      return;
    }
    if (late !== undefined) {
      this.log("failed-after-reply", { conn: c.id, cmd: cmd.name, error: stackOf(late) });
    }
  }

  /** Records again, after a rollback, the nonces the command's signatures used [SIG-NONCE-2]. */
  private keepNonces(ctx: CommandContext): void {
    for (const n of ctx.usedNonces) {
      try {
        this.store.useNonce(n.appId, n.nonce, n.expiresAt, ctx.now);
      } catch (err) {
        this.log("internal-error", {
          conn: ctx.conn.id,
          what: "keep a nonce",
          error: stackOf(err),
        });
      }
    }
  }

  /**
   * A command failed: answer with an `error` frame, unless it is a legacy command that awaits
   * no reply [SERIAL-LEGACY-2]; the connection survives [ERROR-SURVIVE-1] except after a
   * failed `session/open` without `i` on a connection without sessions, which closes with
   * the same code after the frame [SESSION-OPEN-4, SESSION-OPEN-5].
   */
  private fail(c: Connection, cmd: Inbound, spec: ErrorSpec, detail: string, now: number): void {
    if (!cmd.silent) {
      this.push({
        type: "send",
        conn: c.id,
        frame: errorFrame(spec, detail, cmd.serial, cmd.peerId),
      });
    }
    this.log("command-failed", { conn: c.id, cmd: cmd.name, code: spec.code, detail });
    if (cmd.name === "session/open" && !cmd.hasSerial && c.sessions.size === 0) {
      this.closeConnection(c, spec, detail, now, null);
    }
  }

  /**
   * Closes a connection with `spec.code` and the code's name as reason [ERROR-CLOSE-1,
   * ERROR-CLOSE-3]. For codes 4100 to 4199 an `error` frame with the same code goes just
   * before the close, naming the command when there is one, unless `notice` is `null`
   * [ERROR-CLOSE-2]. Its sessions end now [SESSION-END-1]; nothing more is sent on it.
   */
  private closeConnection(
    c: Connection,
    spec: ErrorSpec,
    detail: string,
    now: number,
    notice: Notice | null,
  ): void {
    if (c.closing) return;
    if (notice !== null && spec.code >= 4100 && spec.code <= 4199) {
      const frame = errorFrame(spec, detail, notice.serial, notice.peerId);
      this.push({ type: "send", conn: c.id, frame });
    }
    c.closing = true;
    this.log("close", { conn: c.id, code: spec.code, detail });
    this.push({ type: "close", conn: c.id, code: spec.code, reason: spec.name });
    this.endAllSessions(c, now);
  }

  /** Token bucket of the flood limit [FLOOD-RATE-1]. */
  private takeToken(c: Connection, now: number): boolean {
    const { perSecond, burst } = this.config.rateLimit;
    if (perSecond <= 0) return true;
    c.tokens = Math.min(burst, c.tokens + (Math.max(0, now - c.lastRefill) * perSecond) / 1000);
    c.lastRefill = now;
    if (c.tokens < 1) return false;
    c.tokens -= 1;
    return true;
  }

  /** Queues an output; frames for a connection that is closing are dropped. */
  private push(o: Output): void {
    if (o.type === "send" && this.conns.get(o.conn)?.closing) return;
    this.out.push(o);
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
    // A fresh object: nothing of an earlier session of the peer survives [SESSION-END-2].
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
    // Only the peer's first session is news [PRESENCE-ON-1, PRESENCE-DEVICES-1].
    if (app.addSession(session)) this.publishPresence(app, peerId, "on");
    return session;
  }

  private endSession(c: Connection, app: AppState, session: Session, now: number): void {
    if (c.sessions.get(session.peerId) !== session) return;
    c.sessions.delete(session.peerId);
    // The login timeout runs again from the end of the last session [TIMEOUT-LOGIN-1].
    if (c.sessions.size === 0) c.noSessionSince = now;
    this.log("session-close", { conn: c.id, appId: session.appId, peerId: session.peerId });
    // Only the peer's last session is news [PRESENCE-OFF-1, PRESENCE-DEVICES-1].
    if (app.removeSession(session)) this.publishPresence(app, session.peerId, "off");
  }

  private endAllSessions(c: Connection, now: number): void {
    const app = c.appId !== undefined ? this.apps.get(c.appId) : undefined;
    if (!app) return;
    for (const s of [...c.sessions.values()]) this.endSession(c, app, s, now);
  }

  /**
   * Tells every open session that watches `peerId`, and only those [PRESENCE-SCOPE-1], that
   * it came online or went offline: one frame per watching session, for its own peer
   * [FRAME-PEERID-1]. Transitions alternate, so each watcher hears on, off, on, …
   * [PRESENCE-ALT-1].
   */
  private publishPresence(app: AppState, peerId: string, status: "on" | "off"): void {
    for (const w of app.watchersOf(peerId)) {
      this.push({
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

function stackOf(err: unknown): string {
  return String(err instanceof Error ? (err.stack ?? err.message) : err);
}
