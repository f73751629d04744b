/**
 * The client: one peer's session over a {@link Connection}, an explicit state machine,
 * automatic reconnect, the watch list and presence, messages with their acks and
 * deduplication, groups and history.
 *
 * States (event `state`):
 *
 * ```text
 *   idle ──open()──▶ connecting ──ok──▶ open ──lost──▶ reconnecting ──ok──▶ open
 *                        │                │               │   ▲  │
 *                        └──fails─────────┴──close()──────┴───┘  └─gives up─▶ closed
 * ```
 *
 * `closed` is reached by `close()`, a failed `open()`, a close code after which the client
 * does not reconnect (4100, 4110, 4115 [ERROR-CLIENT-3]), or reconnect attempts exhausted;
 * `open()` starts again from there.
 * @module
 */
import {
  conversationId,
  ERRORS,
  LOGS_DEFAULT_LIMIT,
  LOGS_MAX_LIMIT,
  MAX_FRAME_BYTES,
  MAX_IDS_PER_FRAME,
  MAX_MSG_BYTES,
  MAX_ROOM_MEMBERS,
  MAX_WATCHED_PER_SESSION,
  type S2CMessages,
  uniqueIds,
  validate,
} from "@confab/protocol";
import { backoffDelay, FLOOD_WAIT_MS, RECONNECT_DEFAULTS } from "./backoff.js";
import {
  Connection,
  type ConnectionEnd,
  type Frame,
  protocolErrorOf,
  SerialCounter,
} from "./connection.js";
import { Emitter, ListenerError } from "./emitter.js";
import {
  ConfabError,
  ConnectionClosedError,
  InvalidArgumentError,
  InvalidFrameError,
  NotSupportedError,
  ProtocolError,
  QueueFullError,
  TimeoutError,
} from "./errors.js";
import { groupEventOf } from "./group-events.js";
import { pageGroups, pageLogs } from "./history.js";
import {
  checkAppId,
  checkId,
  checkIds,
  checkMs,
  checkMsg,
  checkSignature,
  encodeFrame,
} from "./inputs.js";
import { type PresenceChange, PresenceTable } from "./presence.js";
import { type FetchLike, RouterClient } from "./router.js";
import { MemorySeenIds } from "./seen-ids.js";
import { knownServerInfo } from "./server-info.js";
import type {
  ClientEventName,
  ClientEvents,
  ClientOptions,
  ClientState,
  GroupSendOptions,
  KnownFeature,
  KnownLimit,
  Listener,
  LogEntry,
  LogsQueryOptions,
  Message,
  SeenIdStore,
  SendOptions,
  SendResult,
  ServerInfo,
  Signature,
} from "./types.js";
import type { WebSocketConstructor } from "./websocket.js";

/** Historical clients sent watch lists in chunks of 50 ids [WATCH-CLIENT-1]. */
export const WATCH_CHUNK = 50;

/** The longest a client may stay silent on a connection, ms [KEEPALIVE-CLIENT-1]. */
export const MAX_SILENCE_MS = 180_000;

/** Close codes after which the client does not reconnect [ERROR-CLIENT-3]. */
export const NO_RECONNECT_CODES: ReadonlySet<number> = new Set([
  ERRORS.APP_NOT_AVAILABLE.code,
  ERRORS.INVALID_ORIGIN.code,
  ERRORS.KICKED_BY_APP.code,
]);

/** How long `close()` waits for `session/closed`, at most, ms. */
export const CLOSE_WAIT_MS = 1000;

/**
 * `promise`, or a {@link TimeoutError} after `ms`: an `auth` hook whose signing server does
 * not answer fails the attempt instead of hanging it.
 */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms, what === "session/close")), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A send made while disconnected, held in the offline queue. */
interface Queued {
  readonly frame: Frame;
  readonly resolve: (r: SendResult) => void;
  readonly reject: (err: Error) => void;
}

/** A signature as the wire carries it. */
type SigFields = { s?: string; t?: number; n?: string };

/**
 * The Confab client. Make one with `createClient` (the package's entry points give it a
 * WebSocket implementation); see {@link ClientOptions} and {@link ClientEvents}.
 */
export class ConfabClient {
  /** The app id. */
  readonly appId: string;
  /** This client's peer id. */
  readonly peerId: string;

  readonly #options: ClientOptions;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #emitter = new Emitter();
  readonly #serials: SerialCounter;
  readonly #router: RouterClient | undefined;
  readonly #seen: SeenIdStore;
  readonly #random: () => number;
  readonly #now: () => number;
  readonly #commandTimeoutMs: number;
  readonly #keepaliveIntervalMs: number;
  readonly #deadConnectionMs: number;
  readonly #reconnect:
    | { initialDelayMs: number; maxDelayMs: number; maxAttempts: number }
    | undefined;
  readonly #queueMax: number | undefined;

  #state: ClientState = "idle";
  #conn: Connection | undefined;
  #serverInfo: ServerInfo | undefined;
  /** The watch list the app wants, in the order it was given; re-sent on every open [SESSION-RECONNECT-2]. */
  readonly #watch = new Set<string>();
  /** The last known state of each watched peer: a snapshot that later `presence` supersedes [PRESENCE-CLIENT-1]. */
  readonly #presence = new PresenceTable();
  readonly #queue: Queued[] = [];
  /** Ids to acknowledge, kept across reconnects until an `ack` carrying them is written. */
  readonly #toAck = new Set<string>();
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /** Pending joins by group, for a `room/reject` [VERSION-REJECT-2]. */
  readonly #joins = new Map<string, (err: Error) => void>();
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #attemptRunning = false;
  #networkOffline = false;
  #lastEnd: ConnectionEnd | undefined;
  #opening: Promise<void> | undefined;
  #openWaiters: { resolve: () => void; reject: (err: Error) => void }[] = [];
  #networkListeners: { online: () => void; offline: () => void } | undefined;

  /**
   * @param options - see {@link ClientOptions}
   * @param WebSocketImpl - the WebSocket constructor when `options.WebSocket` is not given
   */
  constructor(options: ClientOptions, WebSocketImpl?: WebSocketConstructor) {
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError("options", "must be an object");
    }
    if ("masterKey" in options) {
      // The master key belongs to the app's server, never to a client [SIG-KEY-1].
      throw new InvalidArgumentError(
        "options.masterKey",
        "a client never holds the master key: sign on the app's server and pass `auth`",
      );
    }
    this.appId = checkAppId("options.appId", options.appId);
    this.peerId = checkId("options.peerId", options.peerId);
    if ((options.url === undefined) === (options.router === undefined)) {
      throw new InvalidArgumentError("options", "give exactly one of `url` and `router`");
    }
    if (options.url !== undefined && !/^wss?:\/\//.test(options.url)) {
      throw new InvalidArgumentError("options.url", "must be a ws:// or wss:// URL");
    }
    if (options.router !== undefined && !/^https?:\/\//.test(options.router)) {
      throw new InvalidArgumentError("options.router", "must be an http:// or https:// URL");
    }
    for (const id of checkIds("options.watchPeerIds", options.watchPeerIds ?? [], {
      max: MAX_WATCHED_PER_SESSION,
      allowEmpty: true,
    })) {
      this.#watch.add(id);
    }
    this.#options = options;
    this.#WebSocket = options.WebSocket ?? WebSocketImpl;
    this.#commandTimeoutMs = checkMs("options.commandTimeoutMs", options.commandTimeoutMs, 10_000, {
      min: 1,
    });
    this.#keepaliveIntervalMs = checkMs(
      "options.keepaliveIntervalMs",
      options.keepaliveIntervalMs,
      60_000, // [KEEPALIVE-CLIENT-2]
      { min: 1, max: MAX_SILENCE_MS }, // [KEEPALIVE-CLIENT-1]
    );
    this.#deadConnectionMs = checkMs("options.deadConnectionMs", options.deadConnectionMs, 10_000, {
      min: 1,
    }); // [KEEPALIVE-CLIENT-3]
    if (options.reconnect === false) this.#reconnect = undefined;
    else {
      const r = options.reconnect ?? {};
      this.#reconnect = {
        initialDelayMs: checkMs(
          "options.reconnect.initialDelayMs",
          r.initialDelayMs,
          RECONNECT_DEFAULTS.initialDelayMs,
          { min: 1 },
        ),
        maxDelayMs: checkMs(
          "options.reconnect.maxDelayMs",
          r.maxDelayMs,
          RECONNECT_DEFAULTS.maxDelayMs,
          {
            min: 1,
          },
        ),
        maxAttempts: checkMs(
          "options.reconnect.maxAttempts",
          r.maxAttempts,
          Number.MAX_SAFE_INTEGER,
          { min: 1 },
        ),
      };
    }
    if (options.offlineQueue) {
      this.#queueMax = checkMs("options.offlineQueue.max", options.offlineQueue.max, 0, { min: 1 });
    }
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#serials = new SerialCounter(options.firstSerial ?? 0);
    this.#seen = options.seenIds ?? new MemorySeenIds({ now: this.#now });
    if (options.router !== undefined) {
      const fetchFn: FetchLike | undefined =
        options.fetch ??
        (typeof globalThis.fetch === "function"
          ? (url: string) => globalThis.fetch(url)
          : undefined);
      if (!fetchFn) throw new InvalidArgumentError("options.fetch", "no global fetch: pass one");
      this.#router = new RouterClient(options.router, this.appId, fetchFn, this.#now);
    }
  }

  // ---------------------------------------------------------------- state and events

  /**
   * The connection state: `idle`, `connecting`, `open`, `reconnecting` or `closed`.
   *
   * @example
   * client.on("state", ({ from, to }) => console.log(`${from} → ${to}`));
   * console.log(client.state); // "idle"
   */
  get state(): ClientState {
    return this.#state;
  }

  /**
   * What the server announced in its latest `session/opened` (or router answer): its
   * revision, features and limits, with the names this client knows [SESSION-INFO-6].
   *
   * @example
   * await client.open();
   * console.log(client.serverInfo?.features["room-query"]);
   */
  get serverInfo(): ServerInfo | undefined {
    return this.#serverInfo;
  }

  /**
   * The peers the client watches (re-sent in full on every open [SESSION-RECONNECT-2]).
   *
   * @example
   * await client.watch(["bob"]);
   * client.watchPeerIds; // ["bob"]
   */
  get watchPeerIds(): string[] {
    return [...this.#watch];
  }

  /**
   * The watched peers last reported online: from the latest snapshot (`session/opened`,
   * `session/added`, `session/query-result`), superseded by later `presence` frames
   * [PRESENCE-CLIENT-1].
   *
   * @example
   * client.on("online", () => console.log(client.onlinePeerIds));
   */
  get onlinePeerIds(): string[] {
    return this.#presence.online;
  }

  /**
   * Adds a listener for a typed event; returns a function that removes it.
   *
   * @example
   * const stop = client.on("message", (m) => console.log(m.fromPeerId, m.msg));
   * stop(); // removes the listener
   */
  on<E extends ClientEventName>(event: E, listener: Listener<E>): () => void {
    return this.#emitter.on(event, listener);
  }

  /**
   * Removes a listener added with {@link on}.
   *
   * @example
   * const log = (m: Message) => console.log(m.msg);
   * client.on("message", log);
   * client.off("message", log);
   */
  off<E extends ClientEventName>(event: E, listener: Listener<E>): void {
    this.#emitter.off(event, listener);
  }

  #emit<E extends ClientEventName>(event: E, payload: ClientEvents[E]): void {
    this.#emitter.emit(event, payload);
  }

  #setState(to: ClientState): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.#emit("state", { from, to });
  }

  // ---------------------------------------------------------------- open and close

  /**
   * Connects (through the router when configured) and opens the session with the watch
   * list. Resolves once the session is open; rejects with the first attempt's error, and
   * the client is then `closed`. Later losses are repaired by the reconnect policy.
   *
   * @example
   * const client = createClient({ url: "ws://127.0.0.1:8080/", appId: "demo", peerId: "alice" });
   * await client.open();
   * console.log(client.state); // "open"
   */
  open(): Promise<void> {
    if (this.#state === "open") return Promise.resolve();
    if (this.#state === "connecting" && this.#opening) return this.#opening;
    if (this.#state === "reconnecting") {
      return new Promise((resolve, reject) => this.#openWaiters.push({ resolve, reject }));
    }
    this.#attempt = 0;
    this.#lastEnd = undefined;
    this.#setState("connecting");
    this.#listenToNetwork();
    const opening = this.#connect().then(
      (conn) => {
        this.#opening = undefined;
        if (!this.#becameOpen(conn)) {
          throw new ConnectionClosedError("the connection closed while the session was opening", {
            mayHaveBeenDelivered: false,
          });
        }
      },
      (err: unknown) => {
        this.#opening = undefined;
        if (this.#state === "connecting") {
          const code = err instanceof ConnectionClosedError ? err.closeCode : undefined;
          this.#toClosed(code ?? 1006, (err as Error).message);
        }
        throw err;
      },
    );
    this.#opening = opening;
    return opening;
  }

  /**
   * Closes the session (`session/close`) and the connection, and stops reconnecting.
   * Commands in flight reject with {@link ConnectionClosedError} (`mayHaveBeenDelivered`
   * true: they were written); queued sends reject with it (false: never sent).
   *
   * @example
   * await client.close();
   * console.log(client.state); // "closed"
   */
  async close(): Promise<void> {
    if (this.#state === "closed") return;
    if (this.#closing) return this.#closing;
    this.#closing = (async () => {
      clearTimeout(this.#retryTimer);
      this.#retryTimer = undefined;
      const conn = this.#conn;
      if (conn?.isOpen && this.#state === "open") {
        this.#flushAcks();
        // With `i`, session/close is answered with session/closed (Table 1); a server that
        // does not answer delays the close by a second at most.
        await withTimeout(
          conn.request(this.#frame({ cmd: "session", op: "close" }), "session/closed"),
          Math.min(this.#commandTimeoutMs, CLOSE_WAIT_MS),
          "session/close",
        ).catch(() => undefined);
      }
      this.#closing = undefined;
      this.#toClosed(1000, "closed by the client");
    })();
    return this.#closing;
  }

  /** Set while `close()` runs: no new command goes out, and a lost connection is not repaired. */
  #closing: Promise<void> | undefined;

  /** Enters `closed`: rejects what waits, stops listening to the network, emits `close`. */
  #toClosed(code: number, reason: string): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.close(1000, reason);
    for (const q of this.#queue.splice(0)) {
      const command = q.frame.roomId === undefined ? "direct" : "direct (group)";
      q.reject(
        new ConnectionClosedError(`${command}: the client closed before it could send`, {
          mayHaveBeenDelivered: false,
          command: "direct",
        }),
      );
    }
    const err = new ConnectionClosedError(`the client closed: ${reason}`, {
      mayHaveBeenDelivered: false,
      closeCode: code,
    });
    for (const w of this.#openWaiters.splice(0)) w.reject(err);
    this.#unlistenToNetwork();
    if (this.#state === "closed") return;
    this.#setState("closed");
    this.#emit("close", { code, reason });
  }

  /** Makes one attempt: route, socket (server, then secondary), session, watch list. */
  async #connect(): Promise<Connection> {
    const WebSocketImpl = this.#WebSocket;
    if (!WebSocketImpl) {
      throw new InvalidArgumentError(
        "options.WebSocket",
        "there is no global WebSocket: pass one (in Node, the `ws` package)",
      );
    }
    let urls: readonly string[];
    if (this.#router) {
      const route = await this.#router.route();
      urls = route.urls;
      const info = knownServerInfo(route.serverInfo);
      if (info) this.#serverInfo = info; // [ROUTER-INFO-1]: limits before the first open
    } else urls = [this.#options.url as string]; // [ROUTER-DIRECT-1]
    let lastError: unknown;
    for (const url of urls) {
      const conn = new Connection(WebSocketImpl, url, {
        commandTimeoutMs: this.#commandTimeoutMs,
        keepaliveIntervalMs: this.#keepaliveIntervalMs,
        deadConnectionMs: this.#deadConnectionMs,
        maxFrameBytes: () => this.#limit("frameBytes", MAX_FRAME_BYTES),
        serials: this.#serials,
        peerId: this.peerId,
        onFrame: (frame) => {
          if (this.#conn === conn) this.#onFrame(frame);
        },
        onEnd: (end) => this.#onEnd(conn, end),
      });
      try {
        await conn.opened;
      } catch (err) {
        // [ROUTER-SECONDARY-2] try the router's secondary URL when the server fails.
        lastError = err;
        continue;
      }
      if (this.#state === "closed") {
        conn.close();
        throw new ConnectionClosedError("the client closed while connecting", {
          mayHaveBeenDelivered: false,
        });
      }
      this.#conn = conn;
      try {
        await this.#openSession(conn);
      } catch (err) {
        if (this.#conn === conn) this.#conn = undefined;
        conn.close(1000, "session open failed");
        throw err;
      }
      return conn;
    }
    this.#router?.forget(); // the answer led nowhere: ask again next time
    throw lastError;
  }

  /**
   * Opens the session with the full watch list the app wants [SESSION-RECONNECT-2]: the
   * first chunk in `session/open`, the rest in `session/add` commands of at most 50 ids
   * [WATCH-CLIENT-1], each signed by the app's `auth` hook when there is one.
   */
  async #openSession(conn: Connection): Promise<void> {
    const watch = [...this.#watch];
    const chunk = this.#watchChunk();
    const first = watch.slice(0, chunk);
    const sig = await this.#sessionSignature("open", first);
    this.#assertCurrent(conn);
    const frame: Record<string, unknown> = this.#frame({
      cmd: "session",
      op: "open",
      sessionPeerIds: first,
      ...sig,
    });
    if (this.#options.superPeer) frame.sp = true;
    if (this.#options.echo) frame.echo = true;
    const opened = (await conn.request(frame, "session/opened")) as S2CMessages["session/opened"];
    this.#checkReply(opened, "session/opened");
    const info = knownServerInfo(opened.serverInfo);
    if (info) this.#serverInfo = info;
    // A re-open after a restart starts a new snapshot: peers no longer watched are dropped.
    this.#presence.retain(this.#watch);
    this.#snapshot(first, opened.onlineSessionPeerIds ?? []);
    // Acks held over from a lost connection go out first; the offline burst that follows the
    // reply (OFFLINE-BURST-1) is deduplicated and acknowledged as it arrives.
    this.#scheduleAckFlush();
    for (let k = chunk; k < watch.length; k += this.#watchChunk()) {
      const ids = watch.slice(k, k + this.#watchChunk());
      await this.#add(conn, ids);
    }
    this.#assertCurrent(conn);
  }

  /** One `session/add`, signed, and its snapshot. */
  async #add(conn: Connection, ids: string[]): Promise<string[]> {
    const sig = await this.#sessionSignature("add", ids);
    this.#assertCurrent(conn);
    const added = (await conn.request(
      this.#frame({ cmd: "session", op: "add", sessionPeerIds: ids, ...sig }),
      "session/added",
    )) as S2CMessages["session/added"];
    this.#checkReply(added, "session/added");
    this.#snapshot(ids, added.onlineSessionPeerIds ?? []);
    return uniqueIds(added.onlineSessionPeerIds ?? []);
  }

  #assertCurrent(conn: Connection): void {
    if (this.#conn !== conn || !conn.isOpen) {
      throw new ConnectionClosedError("the connection closed while the session was opening", {
        mayHaveBeenDelivered: false,
      });
    }
  }

  async #sessionSignature(op: "open" | "add", watchPeerIds: string[]): Promise<SigFields> {
    const auth = this.#options.auth;
    if (!auth) return {};
    const req = {
      appId: this.appId,
      peerId: this.peerId,
      watchPeerIds,
      op,
      ...(op === "open" && this.#options.superPeer ? { superPeer: true } : {}),
    };
    // The signature goes on the command it was computed for [SIG-SIGN-1].
    return checkSignature("auth", await withTimeout(auth(req), this.#commandTimeoutMs, "auth"));
  }

  async #groupSignature(
    action: "join" | "invite" | "kick",
    roomId: string | undefined,
    roomPeerIds: string[],
  ): Promise<SigFields> {
    const groupAuth = this.#options.groupAuth;
    if (!groupAuth) return {};
    const sig: Signature = await withTimeout(
      groupAuth({
        appId: this.appId,
        peerId: this.peerId,
        action,
        roomPeerIds,
        ...(roomId === undefined ? {} : { roomId }),
      }),
      this.#commandTimeoutMs,
      "groupAuth",
    );
    return checkSignature("groupAuth", sig);
  }

  /** Enters `open` after a successful attempt; false when the connection was lost meanwhile. */
  #becameOpen(conn: Connection): boolean {
    if (this.#conn !== conn || !conn.isOpen) {
      // Lost between the last reply and now: an attempt that failed after all.
      if (this.#state === "reconnecting") this.#scheduleRetry();
      else if (this.#state === "connecting") this.#toClosed(1006, "connection lost while opening");
      return false;
    }
    const reconnected = this.#state === "reconnecting";
    this.#attempt = 0;
    this.#setState("open");
    if (reconnected) this.#emit("reconnect", undefined);
    for (const w of this.#openWaiters.splice(0)) w.resolve();
    this.#flushQueue();
    this.#scheduleAckFlush();
    return true;
  }

  /** A connection ended: reconnect, or close for good. */
  #onEnd(conn: Connection, end: ConnectionEnd): void {
    if (this.#conn !== conn) return;
    this.#conn = undefined;
    this.#lastEnd = end;
    // An attempt in progress fails and handles it; close() finishes on its own.
    if (this.#state !== "open" || this.#closing) return;
    this.#emit("disconnect", { code: end.code, reason: end.reason });
    if (!this.#reconnect || NO_RECONNECT_CODES.has(end.code)) {
      // [ERROR-CLIENT-3] 4100, 4110 and 4115 say reconnecting would fail or defeat the purpose.
      this.#toClosed(end.code, end.reason || (end.error?.message ?? "connection lost"));
      return;
    }
    // Any other code, known or not, ends this connection only [ERROR-CLIENT-2].
    this.#setState("reconnecting");
    this.#scheduleRetry();
  }

  /**
   * Plans the next attempt after a random wait that grows exponentially with each failed
   * attempt [SESSION-RECONNECT-1], at least 10 s after a close with 4116 [FLOOD-CLIENT-1];
   * paused while the page is offline.
   */
  #scheduleRetry(): void {
    const policy = this.#reconnect;
    if (!policy || this.#state !== "reconnecting" || this.#networkOffline) return;
    clearTimeout(this.#retryTimer);
    const floor =
      this.#lastEnd?.code === ERRORS.MESSAGE_SENT_QUOTA_EXCEEDED.code ? FLOOD_WAIT_MS : 0;
    const attempt = this.#attempt;
    const delayMs = backoffDelay(attempt, policy, this.#random, floor);
    this.#emit("schedule", { attempt, delayMs });
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#retry();
    }, delayMs);
  }

  #retry(): void {
    if (this.#state !== "reconnecting" || this.#attemptRunning) return;
    const attempt = this.#attempt;
    this.#attemptRunning = true;
    this.#emit("retry", { attempt });
    this.#connect().then(
      (conn) => {
        this.#attemptRunning = false;
        if (this.#state !== "reconnecting") {
          conn.close();
          return;
        }
        this.#becameOpen(conn);
      },
      (err: unknown) => {
        this.#attemptRunning = false;
        if (this.#state !== "reconnecting") return;
        const policy = this.#reconnect;
        const code = err instanceof ConnectionClosedError ? err.closeCode : undefined;
        if (code !== undefined && NO_RECONNECT_CODES.has(code)) {
          this.#toClosed(code, (err as Error).message); // [ERROR-CLIENT-3]
          return;
        }
        this.#attempt = attempt + 1;
        if (!policy || this.#attempt >= policy.maxAttempts) {
          const message = `gave up after ${this.#attempt} attempts: ${(err as Error).message}`;
          this.#toClosed(code ?? this.#lastEnd?.code ?? 1006, message);
          return;
        }
        if (err instanceof ConfabError && !(err instanceof ConnectionClosedError)) {
          this.#emit("error", err);
        }
        this.#scheduleRetry();
      },
    );
  }

  // ---------------------------------------------------------------- network events

  #listenToNetwork(): void {
    if (this.#networkListeners) return;
    const target =
      this.#options.network === undefined
        ? typeof (globalThis as { addEventListener?: unknown }).addEventListener === "function"
          ? (globalThis as unknown as EventTarget)
          : undefined
        : (this.#options.network ?? undefined);
    if (!target) return;
    const online = () => this.#onNetwork(true);
    const offline = () => this.#onNetwork(false);
    target.addEventListener("online", online);
    target.addEventListener("offline", offline);
    this.#networkListeners = { online, offline };
    this.#networkTarget = target;
  }

  #networkTarget: EventTarget | undefined;

  #unlistenToNetwork(): void {
    const l = this.#networkListeners;
    if (!l || !this.#networkTarget) return;
    this.#networkTarget.removeEventListener("online", l.online);
    this.#networkTarget.removeEventListener("offline", l.offline);
    this.#networkListeners = undefined;
    this.#networkTarget = undefined;
  }

  /** The page's network changed: offline pauses reconnecting, online retries at once. */
  #onNetwork(online: boolean): void {
    this.#networkOffline = !online;
    this.#emit(online ? "network:online" : "network:offline", undefined);
    if (this.#state !== "reconnecting") return;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (online) {
      this.#attempt = 0; // a new network: start the backoff over
      this.#retry();
    }
  }

  // ---------------------------------------------------------------- incoming frames

  /** An event, or a reply no command awaits (a late one): dispatched by name. */
  #onFrame(frame: Frame): void {
    // [FRAME-PEERID-2] A frame for a session goes to the session of its peerId; this client
    // carries one peer, so a frame for another peer is none of its business.
    if (typeof frame.peerId === "string" && frame.peerId !== this.peerId) return;
    const result = validate("s2c", frame);
    if (!result.ok) {
      if (result.name === undefined) return; // [VERSION-UNKNOWN-3] an unknown cmd or cmd/op
      if (result.name === "presence" && result.errors.every((e) => e.path === "/status")) {
        return; // [VERSION-ENUM-1] a status other than "on" or "off"
      }
      this.#emit(
        "error",
        new InvalidFrameError(
          `the server sent an invalid ${result.name}: ${result.errors[0]?.message ?? ""}`,
          frame,
        ),
      );
      return;
    }
    // Fields the spec does not define are never read: each handler picks the ones it knows
    // [VERSION-UNKNOWN-2].
    switch (result.name) {
      case "direct":
        this.#onDelivery(frame as S2CMessages["direct"]);
        return;
      case "rcp": {
        const r = frame as S2CMessages["rcp"];
        this.#emit("receipt", { id: r.id, t: r.t });
        return;
      }
      case "presence":
        this.#onPresence(frame as S2CMessages["presence"]);
        return;
      case "room/joined":
      case "room/left":
      case "room/invited":
      case "room/kicked":
      case "room/members-joined":
      case "room/members-left":
        this.#onGroupEvent(result.name, frame);
        return;
      case "room/reject": {
        // [VERSION-REJECT-2] the historical "self rejected": the failure of our pending join.
        const roomId = (frame as S2CMessages["room/reject"]).roomId;
        const fail = this.#joins.get(roomId);
        if (fail) {
          this.#joins.delete(roomId);
          fail(
            new ProtocolError({
              code: null,
              reason: "ROOM_REJECTED",
              command: "room/join",
              detail: roomId,
            }),
          );
        }
        return;
      }
      case "error":
        this.#emit("error", protocolErrorOf(frame));
        return;
      default:
        // `ackreq` is ignored [VERSION-ACKREQ-2]; so are replies that no command awaits.
        return;
    }
  }

  /**
   * A delivery: handed to the app at most once per id [OFFLINE-DEDUP-1], as `echo` when this
   * peer sent it from another device [ECHO-CLIENT-1], and acknowledged unless transient
   * [ACK-CLIENT-1, ACK-CLIENT-2] once every `message` listener (and the promises they return)
   * has settled without error [ACK-CLIENT-4]. A redelivered id is acknowledged again, not
   * handed again.
   */
  #onDelivery(d: S2CMessages["direct"]): void {
    const transient = d.transient === true;
    if (this.#seen.has(d.id)) {
      if (!transient) this.#ackLater(d.id);
      return;
    }
    this.#seen.add(d.id, this.#now());
    const message: Message = {
      id: d.id,
      msg: d.msg,
      fromPeerId: d.fromPeerId,
      timestamp: d.timestamp,
      offline: d.offline === true,
      ...(d.roomId === undefined ? {} : { roomId: d.roomId }),
      // A set: its order carries no meaning, and an id counts once [SESSION-LIST-2].
      ...(d.toPeerIds === undefined ? {} : { toPeerIds: uniqueIds(d.toPeerIds) }),
      ...(transient ? { transient: true } : {}),
    };
    const event = d.fromPeerId === this.peerId ? "echo" : "message";
    const pending: Promise<unknown>[] = [];
    let failed = false;
    for (const listener of this.#emitter.listeners(event)) {
      try {
        const r = listener(message);
        if (r instanceof Promise) pending.push(r);
      } catch (err) {
        failed = true;
        this.#emit("error", new ListenerError(event, err));
      }
    }
    const settle = (ok: boolean) => {
      if (ok) {
        if (!transient) this.#ackLater(d.id);
        return;
      }
      // Not handled: no ack, so the server delivers it again, and then it is handed again.
      this.#seen.delete(d.id);
    };
    if (pending.length === 0) {
      settle(!failed);
      return;
    }
    Promise.allSettled(pending).then((results) => {
      let ok = !failed;
      for (const r of results) {
        if (r.status === "rejected") {
          ok = false;
          this.#emit("error", new ListenerError(event, r.reason));
        }
      }
      settle(ok);
    });
  }

  #ackLater(id: string): void {
    this.#toAck.add(id);
    this.#scheduleAckFlush();
  }

  #scheduleAckFlush(): void {
    if (this.#ackTimer !== undefined || this.#toAck.size === 0) return;
    // One timer turn gathers a burst of deliveries into few `ack` frames.
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      this.#flushAcks();
    }, 0);
  }

  /**
   * Writes the held acks, at most `idsPerArray` (500) ids per `ack` [LIMIT-ARRAY-2], with the
   * `peerId` of the deliveries: this client's, as frames of other peers never reach it
   * [ACK-CLIENT-3]. Without a session the ids wait for the next one.
   */
  #flushAcks(): void {
    const conn = this.#conn;
    if (!conn?.isOpen || this.#toAck.size === 0) return;
    const ids = [...this.#toAck];
    const max = this.#limit("idsPerArray", MAX_IDS_PER_FRAME);
    for (let k = 0; k < ids.length; k += max) {
      const chunk = ids.slice(k, k + max);
      for (const id of chunk) this.#toAck.delete(id);
      conn.fire(this.#frame({ cmd: "ack", ids: chunk })).catch((err: unknown) => {
        if (err instanceof ProtocolError) this.#emit("error", err);
        // A lost connection: the server delivers the ids again, and they are acked then.
      });
    }
  }

  /** A `presence` frame supersedes the snapshot of each peer it names [PRESENCE-CLIENT-1]. */
  #onPresence(p: S2CMessages["presence"]): void {
    this.#report(this.#presence.apply(p.status, p.sessionPeerIds, this.#watch));
  }

  /** A snapshot of the watched peers `asked`, `online` among them [PRESENCE-CLIENT-1]. */
  #snapshot(asked: readonly string[], online: readonly string[]): void {
    this.#report(this.#presence.snapshot(asked, online, this.#watch));
  }

  #report(change: PresenceChange): void {
    for (const peerId of change.came) this.#emit("presence", { peerId, status: "on" });
    for (const peerId of change.went) this.#emit("presence", { peerId, status: "off" });
    if (change.came.length > 0) this.#emit("online", change.came);
    if (change.went.length > 0) this.#emit("offline", change.went);
  }

  #onGroupEvent(name: string, frame: Frame): void {
    const event = groupEventOf(name, frame, this.peerId);
    if (event) this.#emit(event.name, event.payload as never);
  }

  // ---------------------------------------------------------------- helpers

  /**
   * A command with `cmd`, `peerId` and `appId` [FRAME-CMD-1] (`op` is the caller's,
   * [FRAME-CMD-2]). Every command the client builds is one of the registry's c2s messages, and
   * it builds no other [VERSION-COMPAT-2].
   */
  #frame<F extends Record<string, unknown>>(fields: F): F & { appId: string; peerId: string } {
    return { ...fields, appId: this.appId, peerId: this.peerId };
  }

  /** A limit as announced, else the spec's value. */
  #limit(name: KnownLimit, fallback: number): number {
    const v = this.#serverInfo?.limits[name];
    return typeof v === "number" && v > 0 ? v : fallback;
  }

  #watchChunk(): number {
    return Math.max(1, Math.min(WATCH_CHUNK, this.#limit("idsPerArray", MAX_IDS_PER_FRAME)));
  }

  /** Validates a reply against its schema; a malformed one is the server's fault. */
  #checkReply(frame: Frame, name: string): void {
    const result = validate("s2c", frame);
    if (!result.ok || result.name !== name) {
      throw new InvalidFrameError(
        `the server's ${name} is invalid: ${result.ok ? result.name : (result.errors[0]?.message ?? "")}`,
        frame,
      );
    }
  }

  /** The open connection, or throws {@link ConnectionClosedError} (nothing was sent). */
  #openConnection(command: string): Connection {
    const conn = this.#conn;
    if (this.#state !== "open" || !conn?.isOpen || this.#closing) {
      throw new ConnectionClosedError(`${command}: the client is ${this.#state}, not open`, {
        mayHaveBeenDelivered: false,
        command,
      });
    }
    return conn;
  }

  async #request<N extends keyof S2CMessages>(
    frame: Record<string, unknown>,
    reply: N,
  ): Promise<S2CMessages[N]> {
    const command = typeof frame.op === "string" ? `${frame.cmd}/${frame.op}` : String(frame.cmd);
    const conn = this.#openConnection(command);
    const answer = await conn.request(this.#frame(frame), reply);
    this.#checkReply(answer, reply);
    return answer as S2CMessages[N];
  }

  #requireFeature(feature: KnownFeature, method: string): void {
    if (this.#serverInfo?.features[feature] !== true) throw new NotSupportedError(feature, method);
  }

  // ---------------------------------------------------------------- watching

  /**
   * Watches more peers: their presence is reported (`presence`, `online`, `offline`) and,
   * where the app enforces signatures, they may be messaged. Sent as `session/add` commands
   * of at most 50 ids [WATCH-CLIENT-1], each signed by `auth`; the watch list is re-sent in
   * full after every reconnect [SESSION-RECONNECT-2]. Resolves with those of `ids` online.
   *
   * @example
   * const online = await client.watch(["bob", "carol"]);
   * console.log(online); // e.g. ["bob"]
   */
  async watch(ids: string | readonly string[]): Promise<string[]> {
    const list = checkIds("ids", ids, { max: Number.MAX_SAFE_INTEGER });
    const fresh = list.filter((id) => !this.#watch.has(id));
    const max = this.#limit("watchPerSession", MAX_WATCHED_PER_SESSION);
    if (this.#watch.size + fresh.length > max) {
      throw new InvalidArgumentError(
        "ids",
        `watching ${this.#watch.size + fresh.length} peers would exceed the server's ${max} per session`,
      );
    }
    const conn = this.#openConnection("session/add");
    const online: string[] = list.filter((id) => this.#presence.get(id) === "on");
    for (let k = 0; k < fresh.length; k += this.#watchChunk()) {
      const chunk = fresh.slice(k, k + this.#watchChunk());
      for (const id of chunk) this.#watch.add(id);
      try {
        online.push(...(await this.#add(conn, chunk)));
      } catch (err) {
        if (!(err instanceof ConnectionClosedError)) for (const id of chunk) this.#watch.delete(id);
        throw err;
      }
    }
    return uniqueIds(online);
  }

  /**
   * Stops watching peers (`session/remove`, at most 500 ids each). While disconnected it
   * only updates the list the next open sends.
   *
   * @example
   * await client.unwatch("bob");
   */
  async unwatch(ids: string | readonly string[]): Promise<void> {
    const list = checkIds("ids", ids, { max: Number.MAX_SAFE_INTEGER });
    const watched = list.filter((id) => this.#watch.has(id));
    for (const id of watched) {
      this.#watch.delete(id);
      this.#presence.delete(id);
    }
    if (this.#state !== "open" || watched.length === 0) return;
    const max = this.#limit("idsPerArray", MAX_IDS_PER_FRAME);
    for (let k = 0; k < watched.length; k += max) {
      await this.#request(
        { cmd: "session", op: "remove", sessionPeerIds: watched.slice(k, k + max) },
        "session/removed",
      );
    }
  }

  /**
   * Asks which of `ids` are online, without watching them (`session/query`).
   *
   * @example
   * const online = await client.getStatus(["bob", "dave"]);
   */
  async getStatus(ids: string | readonly string[]): Promise<string[]> {
    const list = checkIds("ids", ids, { max: Number.MAX_SAFE_INTEGER });
    const max = this.#limit("idsPerArray", MAX_IDS_PER_FRAME);
    const online: string[] = [];
    for (let k = 0; k < list.length; k += max) {
      const chunk = list.slice(k, k + max);
      const r = await this.#request(
        { cmd: "session", op: "query", sessionPeerIds: chunk },
        "session/query-result",
      );
      this.#snapshot(chunk, r.onlineSessionPeerIds ?? []);
      online.push(...(r.onlineSessionPeerIds ?? []));
    }
    return uniqueIds(online);
  }

  // ---------------------------------------------------------------- messages

  /**
   * Sends a message to one peer or several, and resolves with the server's `ack` (`id`,
   * `t`) once the message is stored. With `receipt: true` (one recipient, persistent) a
   * `receipt` event follows when the recipient's device acknowledges it; a missing receipt
   * does not mean the message was not delivered [RECEIPT-CLIENT-1].
   *
   * While disconnected the send is queued when `offlineQueue` is set, else rejected with
   * {@link ConnectionClosedError} (`mayHaveBeenDelivered: false`). A connection lost after
   * the frame was written rejects it with `mayHaveBeenDelivered: true`: do not blindly send
   * it again, it may have arrived [TIMEOUT-CLIENT-1].
   *
   * @example
   * const { id, t } = await client.send("hello", "bob", { receipt: true });
   * client.on("receipt", (r) => r.id === id && console.log("delivered at", r.t));
   */
  send(
    msg: string,
    to: string | readonly string[],
    options: SendOptions = {},
  ): Promise<SendResult> {
    try {
      const text = checkMsg(msg, this.#limit("msgBytes", MAX_MSG_BYTES)); // [LIMIT-MSG-3]
      const toPeerIds = checkIds("to", to, { max: this.#limit("idsPerArray", MAX_IDS_PER_FRAME) }); // [LIMIT-ARRAY-2]
      const frame: Record<string, unknown> = { cmd: "direct", msg: text, toPeerIds };
      if (options.transient) frame.transient = true;
      if (options.receipt) frame.r = true;
      return this.#sendDirect(frame);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Sends a message to a group this peer is a member of; resolves with the `ack`.
   *
   * @example
   * const { roomId } = await client.joinGroup();
   * await client.sendToGroup(roomId, "hello, group");
   */
  sendToGroup(roomId: string, msg: string, options: GroupSendOptions = {}): Promise<SendResult> {
    try {
      const frame: Record<string, unknown> = {
        cmd: "direct",
        msg: checkMsg(msg, this.#limit("msgBytes", MAX_MSG_BYTES)),
        roomId: checkId("roomId", roomId),
      };
      if (options.transient) frame.transient = true;
      return this.#sendDirect(frame);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #sendDirect(frame: Record<string, unknown>): Promise<SendResult> {
    const full = this.#frame(frame);
    // Refuse a frame over the limit now rather than after it waited in the queue [FRAME-SIZE-3].
    encodeFrame({ ...full, i: 2147483647 }, this.#limit("frameBytes", MAX_FRAME_BYTES));
    if (this.#state !== "open" || !this.#conn?.isOpen || this.#closing) {
      if (
        this.#queueMax === undefined ||
        this.#closing ||
        this.#state === "closed" ||
        this.#state === "idle"
      ) {
        return Promise.reject(
          new ConnectionClosedError(`direct: the client is ${this.#state}, not open`, {
            mayHaveBeenDelivered: false,
            command: "direct",
          }),
        );
      }
      if (this.#queue.length >= this.#queueMax) {
        return Promise.reject(new QueueFullError("direct", this.#queueMax));
      }
      return new Promise((resolve, reject) => this.#queue.push({ frame: full, resolve, reject }));
    }
    return this.#writeDirect(full);
  }

  async #writeDirect(frame: Frame): Promise<SendResult> {
    const ack = await this.#request({ ...frame }, "ack");
    return { id: ack.uid, t: ack.t };
  }

  /** Sends the queued messages, in order, once the session is open again. */
  #flushQueue(): void {
    for (const q of this.#queue.splice(0)) {
      this.#writeDirect(q.frame).then(q.resolve, q.reject);
    }
  }

  // ---------------------------------------------------------------- groups

  /**
   * Joins a group, or creates one when no id is given (the caller is then its only
   * member). Signed by `groupAuth` when there is one. Groups persist on the server, so
   * membership survives reconnects with nothing to redo.
   *
   * @example
   * const { roomId } = await client.joinGroup();      // a new group
   * await other.joinGroup(roomId);                    // another peer joins it
   */
  async joinGroup(roomId?: string): Promise<{ roomId: string }> {
    const id = roomId === undefined ? undefined : checkId("roomId", roomId);
    this.#openConnection("room/join");
    const sig = await this.#groupSignature("join", id, []);
    const frame: Record<string, unknown> = { cmd: "room", op: "join", ...sig };
    if (id !== undefined) frame.roomId = id;
    const joined = this.#request(frame, "room/joined");
    if (id === undefined) return { roomId: (await joined).roomId };
    // A `room/reject` for this group fails the join too [VERSION-REJECT-2].
    const rejected = new Promise<never>((_, reject) => this.#joins.set(id, reject));
    rejected.catch(() => {});
    try {
      return { roomId: (await Promise.race([joined, rejected])).roomId };
    } finally {
      this.#joins.delete(id);
    }
  }

  /**
   * Adds peers to a group (any member may); resolves with those actually added (members
   * already in it are left out).
   *
   * @example
   * const { peerIds } = await client.inviteToGroup(roomId, ["bob", "carol"]);
   */
  async inviteToGroup(
    roomId: string,
    ids: string | readonly string[],
  ): Promise<{ peerIds: string[] }> {
    const id = checkId("roomId", roomId);
    const list = checkIds("ids", ids, { max: this.#limit("idsPerArray", MAX_IDS_PER_FRAME) });
    if (list.length > this.#limit("roomMembers", MAX_ROOM_MEMBERS)) {
      throw new InvalidArgumentError(
        "ids",
        `a group holds at most ${this.#limit("roomMembers", MAX_ROOM_MEMBERS)} members`,
      );
    }
    this.#openConnection("room/invite");
    const sig = await this.#groupSignature("invite", id, list);
    const r = await this.#request(
      { cmd: "room", op: "invite", roomId: id, roomPeerIds: list, ...sig },
      "room/invited",
    );
    return { peerIds: uniqueIds(r.roomPeerIds) };
  }

  /**
   * Removes peers from a group (any member may); resolves with those actually removed.
   *
   * @example
   * await client.kickFromGroup(roomId, "carol");
   */
  async kickFromGroup(
    roomId: string,
    ids: string | readonly string[],
  ): Promise<{ peerIds: string[] }> {
    const id = checkId("roomId", roomId);
    const list = checkIds("ids", ids, { max: this.#limit("idsPerArray", MAX_IDS_PER_FRAME) });
    this.#openConnection("room/kick");
    const sig = await this.#groupSignature("kick", id, list);
    const r = await this.#request(
      { cmd: "room", op: "kick", roomId: id, roomPeerIds: list, ...sig },
      "room/kicked",
    );
    return { peerIds: uniqueIds(r.roomPeerIds) };
  }

  /**
   * Leaves a group (never signed).
   *
   * @example
   * await client.leaveGroup(roomId);
   */
  async leaveGroup(roomId: string): Promise<void> {
    const id = checkId("roomId", roomId);
    await this.#request({ cmd: "room", op: "leave", roomId: id }, "room/left");
  }

  /**
   * The members of a group, asked by a member (`room/query`); only where the server
   * announces the feature `room-query`, else {@link NotSupportedError}.
   *
   * @example
   * const members = await client.queryGroupMembers(roomId); // ["alice", "bob"]
   */
  async queryGroupMembers(roomId: string): Promise<string[]> {
    const id = checkId("roomId", roomId);
    this.#requireFeature("room-query", "queryGroupMembers");
    const r = await this.#request({ cmd: "room", op: "query", roomId: id }, "room/query-result");
    return uniqueIds(r.roomPeerIds);
  }

  /**
   * Every group this peer is a member of, paged with `room/list`: each page continues after
   * the last id of the one before, until a page says `more: false` [ROOM-LIST-6]. Only where
   * the server announces `room-list`, else {@link NotSupportedError}.
   *
   * @example
   * const groups = await client.listGroups(); // ["g1", "g7"]
   */
  async listGroups(options: { pageSize?: number } = {}): Promise<string[]> {
    const pageSize = checkMs("pageSize", options.pageSize, 100, { min: 1, max: 500 });
    this.#requireFeature("room-list", "listGroups");
    return pageGroups((frame) => this.#request(frame, "room/list-result"), pageSize);
  }

  // ---------------------------------------------------------------- history

  /**
   * Pages through one conversation's history, newest first, as an async iterator: a peer
   * conversation (`peerId`, its id computed as CONVID-PEER-1 says [CONVID-CLIENT-1]), a
   * group (`roomId`) or a conversation id (`cid`). Each page continues from the `timestamp`
   * and `msg-id` of the last item received [LOGS-CLIENT-1]; a page marked `more` is never
   * taken for the last [LOGS-CLIENT-2]. After error 4120 (the history rate) it waits at least
   * a second before asking again [LIMIT-LOGS-RATE-3]. Only where the server announces
   * `history`, else {@link NotSupportedError}.
   *
   * @example
   * for await (const item of client.queryLogs({ peerId: "bob", limit: 50 })) {
   *   console.log(item.fromPeerId, item.msg);
   * }
   */
  queryLogs(options: LogsQueryOptions): AsyncIterableIterator<LogEntry> {
    return this.#logs(options);
  }

  async *#logs(options: LogsQueryOptions): AsyncIterableIterator<LogEntry> {
    const targets = [options.peerId, options.roomId, options.cid].filter((v) => v !== undefined);
    if (targets.length !== 1) {
      throw new InvalidArgumentError("options", "give exactly one of peerId, roomId and cid");
    }
    let cid: string;
    if (options.peerId !== undefined) {
      cid = conversationId([this.peerId, checkId("peerId", options.peerId)]); // [CONVID-CLIENT-1]
    } else if (options.roomId !== undefined) cid = checkId("roomId", options.roomId);
    else cid = checkId("cid", options.cid);
    const pageLimit = this.#limit("pageLimit", LOGS_MAX_LIMIT);
    const pageSize = checkMs(
      "pageSize",
      options.pageSize,
      Math.min(LOGS_DEFAULT_LIMIT, pageLimit),
      {
        min: 1,
        max: pageLimit,
      },
    );
    const limit = checkMs("limit", options.limit, Number.MAX_SAFE_INTEGER, { min: 1 });
    const before = options.before === undefined ? undefined : checkMs("before", options.before, 0);
    this.#requireFeature("history", "queryLogs");
    yield* pageLogs((frame) => this.#request(frame, "logs/result"), {
      cid,
      pageSize,
      limit,
      before,
    });
  }
}
