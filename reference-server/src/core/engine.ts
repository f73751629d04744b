/**
 * The protocol engine: a pure function of (state, inbound frame, time) to outbound frames,
 * with storage behind the {@link Store} interface. No sockets, timers or clocks in here:
 * the adapter passes `now` and carries out the returned outputs.
 *
 * This module only sequences: the checks of ERROR-ORDER-1 that need no state are pure
 * functions in admission.ts; sessions and presence are presence.ts; ids message-ids.ts;
 * each command family has its handler module. Every text frame is answered with the code
 * of the first check that fails: (1) frame size, JSON, object (close); (2) keepalive;
 * (3) the app; (4) the `peerId` of a `session/open`; (5) schema, serial `i` and strings;
 * (6) `msg` size and id array counts; (7) an open session; (8) the signature and (9) the
 * command's own rules, both inside the command's handler.
 * @module
 */
import { randomBytes } from "node:crypto";
import {
  answeredWithoutSerial,
  ERRORS,
  type ErrorSpec,
  errorFrame,
  findEntry,
  frameName,
  httpValidators,
  isValidId,
  LOGS_DEFAULT_LIMIT,
  type RestLogsQuery,
  type RestPeerRoomsQuery,
  type ServerInfo,
  sameSecret,
  validate,
} from "@confab/protocol";
import type { Store } from "../store/store.js";
import {
  checkShape,
  originAllowed,
  parseFrame,
  validSerial,
  withoutSignature,
} from "./admission.js";
import { serverInfo } from "./announce.js";
import {
  type AppConfig,
  type EngineConfig,
  engineConfig,
  resolveApp,
  specViolations,
} from "./config.js";
import { CommandContext, type Commands, type EngineServices, type Handler } from "./context.js";
import { DIRECT_HANDLERS } from "./direct.js";
import { CommandError } from "./errors.js";
import { HISTORY_HANDLERS, HistoryBudgets, page } from "./history.js";
import { MessageIds } from "./message-ids.js";
import { type AppSnapshot, Presence } from "./presence.js";
import { groupMembers, ROOM_HANDLERS, roomsPage } from "./room.js";
import { SESSION_HANDLERS } from "./session.js";
import type { ConnectionState } from "./state.js";
import type {
  ConnectionInfo,
  ConnId,
  LogEvent,
  Output,
  ProtocolEngine,
  RestLogsResult,
  RestPeerRoomsResult,
  RestRefusal,
  RestRequest,
  RestRoomMembersResult,
} from "./types.js";

/** One handler per command: a missing handler is a compile error. */
type HandlerTable = { readonly [K in keyof Commands]: Handler<K> };

const HANDLERS: HandlerTable = {
  ...SESSION_HANDLERS,
  ...DIRECT_HANDLERS,
  ...ROOM_HANDLERS,
  ...HISTORY_HANDLERS,
};

const isCommand = (name: string): name is keyof Commands => Object.hasOwn(HANDLERS, name);

/** Runs the handler of `name`; the compiler ties the frame's type to the handler's. */
function dispatch<K extends keyof Commands>(
  name: K,
  ctx: CommandContext,
  frame: Commands[K],
): void {
  HANDLERS[name](ctx, frame);
}

/** Options that tests set to make ids deterministic. */
export interface EngineOptions {
  /** Random bytes for ids (defaults to node:crypto). */
  readonly random?: (size: number) => Uint8Array;
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
  /** The frame as parsed, for {@link silentOf}. */
  readonly frame: Readonly<Record<string, unknown>>;
}

/**
 * Whether a command gets no frame at all when it fails: one without `i` that awaits no
 * reply [SERIAL-LEGACY-2]. Asked only when it failed: a registry lookup per frame for a
 * question only an error asks was part of every ack's cost (issue 11).
 */
function silentOf(cmd: Inbound): boolean {
  return !cmd.hasSerial && !answeredWithoutSerial(cmd.frame);
}

/** What {@link Engine.inspect} returns: the in-memory state as plain, ordered data. */
export interface EngineSnapshot {
  /** Each connection's app, sessions (peer, watch set, super peer) and clocks, by id. */
  readonly connections: unknown[];
  /** Per app: who is online with how many sessions, which sessions watch whom, and its counts. */
  readonly apps: Record<string, AppSnapshot>;
}

/** Whom the `error` frame before a close names, or `null` for no such frame. */
type Notice = { readonly serial?: number | undefined; readonly peerId?: string | undefined };

/** The reference server's protocol engine. */
export class Engine implements ProtocolEngine {
  /** The configuration in force, with the spec's defaults filled in. */
  readonly config: EngineConfig;
  /** The apps of {@link config}, which {@link disableApp} changes. */
  private readonly apps: Map<string, AppConfig>;
  private readonly conns = new Map<ConnId, ConnectionState>();
  private readonly presence: Presence;
  private out: Output[] = [];
  private logBuffer: LogEvent[] = [];
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
    const base = engineConfig(config);
    // This engine's own copy of the app list, which disableApp changes [SESSION-DISABLE-1].
    this.apps = new Map(base.apps);
    this.config = { ...base, apps: this.apps };
    const host = {
      emit: (o: Output) => this.push(o),
      record: (event: string, fields: Record<string, unknown>) => this.record(event, fields),
    };
    this.presence = new Presence(host);
    this.services = {
      store,
      config: this.config,
      ids: new MessageIds(options.random ?? randomBytes),
      presence: this.presence,
      ...host,
    };
    for (const problem of specViolations(this.config)) {
      this.record("config-outside-spec", { problem });
    }
  }

  // ---- ProtocolEngine ------------------------------------------------------------------

  /** {@inheritDoc ProtocolEngine.connect} */
  connect(conn: ConnId, now: number, info: ConnectionInfo = {}): Output[] {
    const c: ConnectionState = {
      id: conn,
      origin: info.origin,
      appId: undefined,
      sessions: new Map(),
      lastSeen: now,
      noSessionSince: now, // the login timeout runs from the opening [TIMEOUT-LOGIN-1]
      tokens: this.config.rateLimit.burst,
      lastRefill: now,
      closing: false,
    };
    this.conns.set(conn, c);
    this.record("connect", { conn, remote: info.remoteAddress });
    // At the handshake, before any frame is read: an unbound socket costs memory too
    // [LIMIT-CONN-IP-1].
    const maxPerAddress = this.config.limits.maxConnectionsPerAddress;
    if (!this.presence.admitAddress(c, info.remoteAddress, maxPerAddress)) {
      const why = `${info.remoteAddress} has ${maxPerAddress} connections open already`;
      this.closeConnection(c, ERRORS.APP_QUOTA_EXCEEDED, why, now, {});
    }
    return this.flush();
  }

  /** {@inheritDoc ProtocolEngine.receiveText} */
  receiveText(conn: ConnId, text: string, bytes: number, now: number): Output[] {
    const c = this.conns.get(conn);
    if (!c || c.closing) return [];
    c.lastSeen = now;
    try {
      this.handleText(c, text, bytes, now);
    } catch (err) {
      // No input may end the process or another connection: a bug outside a command's own
      // error handling costs this connection only [ERROR-INTERNAL-1].
      this.record("internal-error", { conn, error: stackOf(err) });
      this.closeConnection(c, ERRORS.CONNECTION_LOST_STATE, "internal error", now, null);
    }
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
    this.presence.endAll(c, now); // [SESSION-END-1]
    this.presence.release(c); // [LIMIT-QUOTA-1]
    this.conns.delete(conn);
    this.record("disconnect", { conn });
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

  /**
   * Disables an app at run time, an operator hook like {@link kick}: from now on the app id
   * names no app served here, for commands, the router and REST [SESSION-APP-7,
   * ROUTER-APP-1, REST-APP-2], and every connection bound to it is closed with 4100 after
   * the error frame, which ends its sessions [SESSION-DISABLE-1]. Not part of
   * {@link ProtocolEngine}.
   */
  disableApp(appId: string, now: number): Output[] {
    const app = resolveApp(this.config, appId);
    if (app) this.apps.set(appId, { ...app, disabled: true });
    for (const c of this.conns.values()) {
      if (c.appId === appId) {
        this.closeConnection(c, ERRORS.APP_NOT_AVAILABLE, `app ${appId} is disabled`, now, {});
      }
    }
    return this.flush();
  }

  /** The history rate of REST clients, by remote address [LIMIT-LOGS-RATE-1, REST-RATE-1]. */
  private readonly restHistory = new HistoryBudgets();

  /** {@inheritDoc ProtocolEngine.restLogs} */
  restLogs(
    appId: string | undefined,
    masterKey: string | undefined,
    query: Readonly<Record<string, unknown>>,
    request?: RestRequest,
  ): RestLogsResult {
    // A missing or malformed app id names no app [LIMIT-APPID-1, REST-APP-2].
    const app = resolveApp(this.config, appId);
    if (!app) {
      const detail = appId === undefined ? "no app id given" : `unknown app ${appId}`;
      return { ok: false, error: ERRORS.APP_MISMATCH, detail };
    }
    if (app.masterKey !== undefined && !sameSecret(masterKey, app.masterKey)) {
      // [REST-AUTH-1]
      const detail = "X-AVOSCloud-Master-Key is required";
      return { ok: false, error: ERRORS.SIGNATURE_FAILED, detail };
    }
    const checked = httpValidators["logs-query"]?.(query);
    if (!checked?.ok) {
      // [REST-PARAM-1, REST-PARAM-2]
      const detail = checked ? checked.errors.map((e) => e.message).join("; ") : "invalid";
      return { ok: false, error: ERRORS.INVALID_FRAME, detail };
    }
    const q = checked.value as RestLogsQuery;
    // [REST-RATE-1] Per address, across apps: in development mode any app id is served, so
    // a bound per app would be one new app id away. Checked last, so that a refused or
    // malformed request costs the caller nothing. A refused request takes nothing.
    const { limits } = this.config;
    // A caller without `request` is not the network (ProtocolEngine.restLogs): not metered.
    const budget = request && this.restHistory.of(request.remoteAddress ?? "", limits, request.now);
    const waitMs = request && budget ? budget.waitMs(limits, request.now) : 0;
    if (waitMs > 0) {
      const retryAfterS = Math.ceil(waitMs / 1000);
      const detail = `history rate of ${limits.historyBytesPerSecond} bytes/s exceeded: retry in ${retryAfterS} s`;
      return { ok: false, error: ERRORS.LIMIT_EXCEEDED, detail, retryAfterS };
    }
    const { items, more, bytes } = page(this.store, {
      appId: app.appId,
      cid: q.convid,
      fromPeerId: q.from,
      maxTs: q.max_ts,
      msgId: q.msgid,
      limit: q.limit ?? LOGS_DEFAULT_LIMIT,
    });
    budget?.charge(bytes);
    // [REST-MORE-1] The body stays the plain array of REST-OK-1; `more` becomes a header.
    return more ? { ok: true, items, more } : { ok: true, items };
  }

  /** {@inheritDoc ProtocolEngine.restRoomMembers} */
  restRoomMembers(
    appId: string | undefined,
    masterKey: string | undefined,
    roomId: string | undefined,
  ): RestRoomMembersResult {
    const app = this.restApp(appId, masterKey);
    if ("error" in app) return app;
    const invalid = invalidPathId("group", roomId);
    if (invalid) return invalid;
    const id = roomId as string;
    const members = groupMembers(this.store, app.appId, id);
    if (members === undefined) {
      // [REST-ROOMS-6] A group that never existed; an empty one answers with no members.
      return { ok: false, error: ERRORS.ROOM_NOT_FOUND, detail: `no group ${id}` };
    }
    return { ok: true, body: { roomId: id, roomPeerIds: members } }; // [REST-ROOMS-5]
  }

  /** {@inheritDoc ProtocolEngine.restPeerRooms} */
  restPeerRooms(
    appId: string | undefined,
    masterKey: string | undefined,
    peerId: string | undefined,
    query: Readonly<Record<string, unknown>>,
  ): RestPeerRoomsResult {
    const app = this.restApp(appId, masterKey);
    if ("error" in app) return app;
    const invalid = invalidPathId("peer", peerId);
    if (invalid) return invalid;
    const checked = httpValidators["peer-rooms-query"]?.(query);
    if (!checked?.ok) {
      // [REST-ROOMS-3] a bad after or limit
      const detail = checked ? checked.errors.map((e) => e.message).join("; ") : "invalid";
      return { ok: false, error: ERRORS.INVALID_FRAME, detail };
    }
    const q = checked.value as RestPeerRoomsQuery;
    const id = peerId as string;
    // [REST-ROOMS-7] The page of room/list, for that peer; a peer in no group gets an empty one.
    const page = roomsPage(this.store, app.appId, id, q.after, q.limit);
    return { ok: true, body: { peerId: id, roomIds: page.roomIds, more: page.more } };
  }

  /**
   * The app of a group REST request, or the refusal: 4100 (404) when it names no app served
   * here [REST-ROOMS-1], 4102 (401) without the master key of an app that has one
   * [REST-ROOMS-2], the same rules and order as REST history (REST-APP-2, REST-AUTH-1).
   */
  private restApp(
    appId: string | undefined,
    masterKey: string | undefined,
  ): AppConfig | RestRefusal {
    const app = resolveApp(this.config, appId);
    if (!app) {
      const detail = appId === undefined ? "no app id given" : `unknown app ${appId}`;
      return { ok: false, error: ERRORS.APP_MISMATCH, detail };
    }
    if (app.masterKey !== undefined && !sameSecret(masterKey, app.masterKey)) {
      return {
        ok: false,
        error: ERRORS.SIGNATURE_FAILED,
        detail: "X-AVOSCloud-Master-Key is required",
      };
    }
    return app;
  }

  /** {@inheritDoc ProtocolEngine.knowsApp} */
  knowsApp(appId: string): boolean {
    return resolveApp(this.config, appId) !== undefined;
  }

  /** {@inheritDoc ProtocolEngine.serverInfo} */
  serverInfo(appId: string): ServerInfo | undefined {
    const app = resolveApp(this.config, appId);
    return app && serverInfo(this.config, app); // [ROUTER-INFO-1]
  }

  /** {@inheritDoc ProtocolEngine.stats} */
  stats(): { connections: number; sessions: number } {
    let sessions = 0;
    for (const c of this.conns.values()) sessions += c.sessions.size;
    return { connections: this.conns.size, sessions };
  }

  /**
   * A plain, deterministic description of the engine's in-memory state: each connection's
   * app, sessions (peer, watch set, super peer) and login-timeout clock, and each app's
   * presence indexes. For tests (a failed command must leave it unchanged,
   * ERROR-NOEFFECT-1) and for debugging; not part of {@link ProtocolEngine}.
   */
  inspect(): EngineSnapshot {
    const connections = [...this.conns.values()]
      .sort((a, b) => a.id - b.id)
      .map((c) => ({
        id: c.id,
        appId: c.appId,
        closing: c.closing,
        noSessionSince: c.noSessionSince,
        sessions: [...c.sessions.values()]
          .map((s) => ({ peerId: s.peerId, sp: s.sp, watch: [...s.watch].sort() }))
          .sort((a, b) => (a.peerId < b.peerId ? -1 : 1)),
      }));
    return { connections, apps: this.presence.snapshot() };
  }

  /**
   * Every disagreement between the counts and indexes the engine keeps for its bounds and
   * presence, and a recount from its connections (see `Presence.audit`); empty when they
   * agree. For tests, which check it after every step: a drifting count is otherwise seen
   * only as a wrong refusal or admission much later [LIMIT-QUOTA-1, LIMIT-CONN-IP-1].
   */
  audit(): string[] {
    return this.presence.audit(this.conns.values());
  }

  /** {@inheritDoc ProtocolEngine.drainLog} */
  drainLog(): LogEvent[] {
    const events = this.logBuffer;
    this.logBuffer = [];
    return events;
  }

  // ---- frame handling ------------------------------------------------------------------

  /** The flood limit, steps (1) and (2) of ERROR-ORDER-1, then the command. */
  private handleText(c: ConnectionState, text: string, bytes: number, now: number): void {
    if (!this.takeToken(c, now)) {
      const { perSecond } = this.config.rateLimit;
      const detail = `more than ${perSecond} frames per second`;
      this.closeConnection(c, ERRORS.MESSAGE_SENT_QUOTA_EXCEEDED, detail, now, {}); // [FLOOD-CLOSE-1]
      return;
    }
    // (1): a connection that sends a bad frame cannot be trusted.
    const parsed = parseFrame(text, bytes, this.config.limits.maxFrameBytes);
    if (!parsed.ok) {
      this.closeConnection(c, parsed.problem.spec, parsed.problem.detail, now, {});
      return;
    }
    const { frame } = parsed;
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
      frame,
    };
    try {
      this.handleCommand(c, frame, cmd, now);
    } catch (err) {
      // A bug must cost one command, never the process or another connection.
      this.presence.journal.rollback();
      this.record("internal-error", { conn: c.id, cmd: cmd.name, error: stackOf(err) });
      const detail = "the server failed to carry out the command";
      this.answerError(c, cmd, ERRORS.INTERNAL_ERROR, detail, now);
    }
  }

  /** Steps (3) to (9) of ERROR-ORDER-1 for a command. */
  private handleCommand(
    c: ConnectionState,
    frame: Record<string, unknown>,
    cmd: Inbound,
    now: number,
  ): void {
    // (3) the app [SESSION-APP-1, SESSION-APP-2, SESSION-APP-3, LIMIT-APPID-1]
    const app = resolveApp(this.config, frame.appId);
    if (c.appId === undefined) {
      if (!app) {
        const why = `appId ${JSON.stringify(frame.appId) ?? "(none)"} names no app served here`;
        this.closeConnection(c, ERRORS.APP_NOT_AVAILABLE, why, now, silentOf(cmd) ? null : cmd);
        return;
      }
      if (!originAllowed(app, c.origin)) {
        // [FRAME-ORIGIN-2]
        const why = `origin ${String(c.origin)} is not allowed for app ${app.appId}`;
        this.closeConnection(c, ERRORS.INVALID_ORIGIN, why, now, silentOf(cmd) ? null : cmd);
        return;
      }
      // The last check of the binding, after the origin [LIMIT-CONN-APP-1].
      const maxPerApp = this.config.limits.maxConnectionsPerApp;
      if (!this.presence.bind(c, app.appId, maxPerApp)) {
        const why = `app ${app.appId} has ${maxPerApp} connections already`;
        this.closeConnection(c, ERRORS.APP_QUOTA_EXCEEDED, why, now, silentOf(cmd) ? null : cmd);
        return;
      }
      this.record("bind", { conn: c.id, appId: app.appId });
    } else if (app?.appId !== c.appId) {
      const detail = `this connection belongs to app ${c.appId}`;
      this.answerError(c, cmd, ERRORS.APP_MISMATCH, detail, now);
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
      this.answerError(c, cmd, problem.spec, problem.detail, now);
      return;
    }
    if (!result.ok || !isCommand(result.name)) {
      throw new Error(`checkShape passed ${cmd.name}, which no handler takes`); // unreachable
    }
    const name = result.name;
    const peerId = checked.peerId as string;

    // (7) [SESSION-REQUIRED-1]
    if (name !== "session/open" && !c.sessions.has(peerId)) {
      const detail = `${peerId} has no open session here`;
      this.answerError(c, cmd, ERRORS.SESSION_REQUIRED, detail, now);
      return;
    }

    // (8) and (9) in the handler, which changes nothing before its checks pass.
    const ctx = new CommandContext(
      this.services,
      c,
      app,
      this.presence.app(app.appId),
      peerId,
      cmd.serial,
      now,
    );
    const mark = this.out.length;
    let late: unknown;
    const journal = this.presence.journal;
    journal.begin();
    try {
      // The command's writes happen all or not at all, in storage and in memory
      // [ERROR-NOEFFECT-1, ACK-FAIL-1, SESSION-OPEN-6].
      this.store.atomically(() => {
        try {
          // The frame passed the command's schema at step (5): it is a Commands[name].
          dispatch(name, ctx, checked as Commands[typeof name]);
        } catch (err) {
          // Once the one reply is out [SERIAL-REPLY-1, SERIAL-LEGACY-1] it must stay true:
          // keep the writes it reports, and only log the failure.
          if (!ctx.replied) throw err;
          late = err;
        }
      });
      journal.commit();
    } catch (err) {
      journal.rollback();
      // Rolled back. A nonce whose signature verified stays used all the same [SIG-NONCE-2].
      this.keepNonces(ctx);
      // Nothing but the error frame [ERROR-NOEFFECT-1]: whatever the command emitted before
      // it failed (presence of a session it opened, say) is dropped with its state.
      if (this.out.length > mark) {
        this.record("dropped-after-failure", {
          conn: c.id,
          cmd: cmd.name,
          frames: this.out.length - mark,
        });
        this.out.length = mark;
      }
      if (err instanceof CommandError) {
        this.answerError(c, cmd, err.spec, err.detail, now);
      } else {
        // [ERROR-INTERNAL-1]
        this.record("internal-error", { conn: c.id, cmd: cmd.name, error: stackOf(err) });
        const detail = "the server failed to carry out the command";
        this.answerError(c, cmd, ERRORS.INTERNAL_ERROR, detail, now);
      }
      return;
    }
    if (late !== undefined) {
      this.record("failed-after-reply", { conn: c.id, cmd: cmd.name, error: stackOf(late) });
    }
  }

  /** Records again, after a rollback, the nonces the command's signatures used [SIG-NONCE-2]. */
  private keepNonces(ctx: CommandContext): void {
    for (const n of ctx.usedNonces) {
      try {
        this.store.useNonce(n.appId, n.nonce, n.expiresAt, ctx.now);
      } catch (err) {
        this.record("internal-error", {
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
  private answerError(
    c: ConnectionState,
    cmd: Inbound,
    spec: ErrorSpec,
    detail: string,
    now: number,
  ): void {
    if (!silentOf(cmd)) {
      this.push({
        type: "send",
        conn: c.id,
        frame: errorFrame(spec, detail, cmd.serial, cmd.peerId),
      });
    }
    this.record("command-failed", { conn: c.id, cmd: cmd.name, code: spec.code, detail });
    if (cmd.name === "session/open" && !cmd.hasSerial && c.sessions.size === 0) {
      this.closeConnection(c, spec, detail, now, null);
    }
  }

  /**
   * Closes a connection with `spec.code` and the code's name as reason [ERROR-CLOSE-1,
   * ERROR-CLOSE-3]. For codes 4100 to 4199 an `error` frame with the same code goes just
   * before the close, naming the command when there is one, unless `notice` is `null`
   * [ERROR-CLOSE-4]. Its sessions end now [SESSION-END-1]; nothing more is sent on it.
   */
  private closeConnection(
    c: ConnectionState,
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
    this.record("close", { conn: c.id, code: spec.code, detail });
    this.push({ type: "close", conn: c.id, code: spec.code, reason: spec.name });
    this.presence.endAll(c, now);
  }

  /** Token bucket of the flood limit [FLOOD-RATE-1]. */
  private takeToken(c: ConnectionState, now: number): boolean {
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

  /** Buffers a log event for the adapter. */
  private record(event: string, fields: Record<string, unknown>): void {
    // Bounded, so an adapter that never drains cannot leak memory.
    if (this.logBuffer.length < 10_000) this.logBuffer.push({ event, ...fields });
  }

  private flush(): Output[] {
    const out = this.out;
    this.out = [];
    return out;
  }
}

/**
 * The refusal of a REST path segment that is no valid peer or group id once decoded, or
 * that the adapter could not decode (`undefined`) [REST-ROOMS-3, LIMIT-ID-1]; `undefined`
 * for a valid id.
 */
function invalidPathId(kind: "peer" | "group", id: string | undefined): RestRefusal | undefined {
  if (id === undefined) {
    const detail = `the ${kind} id in the path is not valid percent-encoded UTF-8`;
    return { ok: false, error: ERRORS.INVALID_FRAME, detail };
  }
  if (!isValidId(id)) {
    const detail = `the ${kind} id in the path must be 1..64 code points, no control characters, no ':'`;
    return { ok: false, error: ERRORS.INVALID_FRAME, detail };
  }
  return undefined;
}

function stackOf(err: unknown): string {
  return String(err instanceof Error ? (err.stack ?? err.message) : err);
}
