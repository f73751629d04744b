/**
 * Starts a complete reference server: store, protocol engine, HTTP router and REST
 * endpoints, and the WebSocket adapter, on one port.
 * @module
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { precompile } from "@confab/protocol";
import { createHttpHandler } from "./adapter/http.js";
import { PushNotifier, type PushNotifierOptions } from "./adapter/push.js";
import { WsAdapter } from "./adapter/ws-adapter.js";
import {
  type AppConfig,
  DEFAULT_LIMITS,
  type EngineConfig,
  engineConfig,
  type Limits,
} from "./core/config.js";
import { Engine } from "./core/engine.js";
import type { ProtocolEngine } from "./core/types.js";
import { errorFields, type Logger, silentLogger } from "./log.js";
import { MemoryStore } from "./store/memory-store.js";
import { SqliteStore } from "./store/sqlite-store.js";
import type { Store } from "./store/store.js";
import { DEFAULT_SWEEP_INTERVAL_MS, PendingSweeper } from "./store/sweeper.js";

/** SQLite durability: `normal` (WAL; survives a process crash) or `full` (also power loss). */
export type SyncMode = "normal" | "full";

/** Options of {@link startServer}. Everything is optional. */
export interface ServerOptions {
  /** Interface to listen on. Default `127.0.0.1` (the CLI defaults to `0.0.0.0`). */
  readonly host?: string | undefined;
  /** Port; 0 (the default) picks a free one, reported in {@link RunningServer.port}. */
  readonly port?: number | undefined;
  /**
   * Storage: a SQLite file path, `":memory:"` (the default: an in-memory store, lost on
   * exit), or a {@link Store} instance. The server owns the store: `close()` closes it.
   */
  readonly db?: string | Store | undefined;
  /** SQLite synchronous mode for a file store. Default: the store's own default. */
  readonly sync?: SyncMode | undefined;
  /** Known apps. Listed apps with `enforceSignatures` need signatures (decision D10). */
  readonly apps?: readonly AppConfig[] | undefined;
  /**
   * Development mode: any app id is accepted, without signatures. Default: on when no app
   * is listed, off otherwise.
   */
  readonly devMode?: boolean | undefined;
  /** Read timeout in ms (4107). Default 300 000 (decision D11). */
  readonly readTimeoutMs?: number | undefined;
  /** Login timeout in ms (4108). Default 60 000. */
  readonly loginTimeoutMs?: number | undefined;
  /** Frames per second and burst per connection (4116); `perSecond: 0` disables. */
  readonly rateLimit?: EngineConfig["rateLimit"] | undefined;
  /** Overrides of the spec's default limits (the CLI's `limits` in `--config`). */
  readonly limits?: Partial<Limits> | undefined;
  /** Any other engine setting (limits, signature window), over the defaults. */
  readonly engine?: Partial<EngineConfig> | undefined;
  /** The WebSocket URL the router answers with. Default: built from the request's Host. */
  readonly publicUrl?: string | undefined;
  /**
   * The folder of the demo chat page (`reference-client/demo`), served at `GET /demo` in
   * development mode only: ignored when development mode is off [issue 10].
   */
  readonly demoDir?: string | undefined;
  /** Where log lines go. Default: nowhere. */
  readonly logger?: Logger | undefined;
  /** Largest WebSocket message read before `ws` closes with 1009. Default 1 MiB. */
  readonly maxPayloadBytes?: number | undefined;
  /**
   * Soft bound on a socket's send buffer: past it, a client from which no frame leaves for
   * `sendStallMs` is closed with 1008 [ERROR-BUFFER-1]. Default 4 MiB.
   */
  readonly maxBufferedBytes?: number | undefined;
  /** How long a buffer over that bound may go without a frame leaving it. Default 30 s. */
  readonly sendStallMs?: number | undefined;
  /**
   * Hard bound: a frame due on a backlog already past it closes the connection with 1008 at
   * once. Default 16 × `maxBufferedBytes`.
   */
  readonly hardMaxBufferedBytes?: number | undefined;
  /** Wait for a peer to finish a close handshake before destroying its socket. Default 5 s. */
  readonly closeGraceMs?: number | undefined;
  /**
   * The shortest time between two commits, ms: under load the adapter groups the work of the
   * turns in between into one commit; 0 commits every turn (WsAdapterOptions.commitIntervalMs).
   */
  readonly commitIntervalMs?: number | undefined;
  /** Period of the engine's timers. Default 1 s. */
  readonly tickIntervalMs?: number | undefined;
  /**
   * Period of the sweep of expired pending messages, ms; 0 disables it. Default 60 000
   * [OFFLINE-SWEEP-1].
   */
  readonly sweepIntervalMs?: number | undefined;
  /**
   * Tuning of the push hook of the apps with a `pushUrl` (queue bound, attempts, backoff,
   * timeout): defaults in adapter/push.ts [OFFLINE-PUSH-9, OFFLINE-PUSH-10].
   */
  readonly push?: Omit<PushNotifierOptions, "apps" | "logger"> | undefined;
  /**
   * Builds the protocol engine. Default `new Engine(store, config)`. Tests use it to put a
   * fake engine behind the real I/O layer.
   */
  readonly createEngine?:
    | ((store: Store, config: Partial<EngineConfig>) => ProtocolEngine)
    | undefined;
}

/** A started server. */
export interface RunningServer {
  /** `http://host:port`, the router and REST base URL. */
  readonly url: string;
  /** The WebSocket URL (`publicUrl` when configured, else `ws://host:port/`). */
  readonly wsUrl: string;
  /** The port actually listened on. */
  readonly port: number;
  /** The interface listened on. */
  readonly host: string;
  readonly engine: ProtocolEngine;
  readonly store: Store;
  /** The underlying http server. */
  readonly httpServer: Server;
  /** The WebSocket adapter. */
  readonly adapter: WsAdapter;
  /** The push hook's sender: one lane per app with a `pushUrl` [OFFLINE-PUSH-1]. */
  readonly push: PushNotifier;
  /**
   * Graceful shutdown: stops accepting, flushes and commits pending outputs, closes every
   * WebSocket with 1001 and waits (bounded) for them, then closes the store. Idempotent.
   */
  close(): Promise<void>;
}

function openStore(db: string | Store | undefined, sync: SyncMode | undefined): Store {
  if (db === undefined || db === ":memory:") return new MemoryStore();
  if (typeof db !== "string") return db;
  // The server checkpoints off the event loop (issue 11; SqliteStoreOptions.checkpoints).
  return SqliteStore.open(db, {
    checkpoints: "background",
    ...(sync === undefined ? {} : { synchronous: sync }),
  });
}

/** The host as it goes in a URL: wildcard addresses become loopback, IPv6 gets brackets. */
function urlHost(host: string): string {
  if (host === "0.0.0.0") return "127.0.0.1";
  if (host === "::") return "[::1]";
  return host.includes(":") ? `[${host}]` : host;
}

/**
 * Starts a reference server and resolves once it listens.
 *
 * @example
 * const server = await startServer({ port: 0 });
 * // connect to server.wsUrl …
 * await server.close();
 */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const logger = options.logger ?? silentLogger;
  const apps = options.apps ?? [...(options.engine?.apps?.values() ?? [])];
  const config: Partial<EngineConfig> = {
    ...options.engine,
    apps: new Map(apps.map((a) => [a.appId, a])),
    devMode: options.devMode ?? apps.length === 0,
    ...(options.readTimeoutMs !== undefined && { readTimeoutMs: options.readTimeoutMs }),
    ...(options.loginTimeoutMs !== undefined && { loginTimeoutMs: options.loginTimeoutMs }),
    ...(options.rateLimit !== undefined && { rateLimit: options.rateLimit }),
    ...(options.limits !== undefined && {
      limits: { ...DEFAULT_LIMITS, ...options.engine?.limits, ...options.limits },
    }),
  };

  // Every command validator compiled before the first client, not under it: a fresh
  // server's first session/open waited 31-43 ms for ajv, 3 ms with this (issue 11's cold
  // start). A schema ajv rejects then stops the start instead of failing the validation
  // FRAME-SCHEMA-2 asks for. Once per process: the validators are the protocol package's.
  const compileStart = performance.now();
  const compiled = precompile("c2s");
  if (compiled > 0) {
    const ms = Math.round((performance.now() - compileStart) * 10) / 10;
    logger.log("debug", "validators_compiled", { count: compiled, ms });
  }

  // Before the store: an unusable pushUrl refuses the start with nothing to undo.
  const push = new PushNotifier({ ...options.push, apps, logger });
  const store = openStore(options.db, options.sync);
  let engine: ProtocolEngine;
  try {
    engine = options.createEngine ? options.createEngine(store, config) : new Engine(store, config);
  } catch (err) {
    push.close();
    store.close();
    throw err;
  }

  const adapter = new WsAdapter({
    engine,
    store,
    logger,
    maxPayloadBytes: options.maxPayloadBytes,
    maxBufferedBytes: options.maxBufferedBytes,
    sendStallMs: options.sendStallMs,
    hardMaxBufferedBytes: options.hardMaxBufferedBytes,
    closeGraceMs: options.closeGraceMs,
    commitIntervalMs: options.commitIntervalMs,
    tickIntervalMs: options.tickIntervalMs,
    // Released after the turn's commit and frames; queues and returns [OFFLINE-PUSH-11].
    onNotify: (output) => push.notify(output),
  });
  const httpServer = createServer(
    createHttpHandler({
      engine,
      publicUrl: options.publicUrl,
      demoDir: config.devMode ? options.demoDir : undefined,
      logger,
      // REST reads do not write, but the core may log: drain through the next flush.
      afterRequest: () => adapter.scheduleFlush(),
      // Commit (and release) what the core wrote before a REST read shows it: flushing early
      // is always safe, a commit only ever comes sooner.
      beforeRead: () => adapter.flush(),
    }),
  );
  adapter.attach(httpServer);
  httpServer.on("clientError", (err, socket) => {
    logger.log("debug", "http_client_error", errorFields(err));
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  try {
    await new Promise<void>((resolve, reject) => {
      httpServer.once("error", reject);
      httpServer.listen(options.port ?? 0, host, () => {
        httpServer.off("error", reject);
        resolve();
      });
    });
  } catch (err) {
    await adapter.close();
    push.close();
    store.close();
    throw err;
  }
  httpServer.on("error", (err) => logger.log("error", "http_server_error", errorFields(err)));

  // Pending messages of peers that never return are removed in the background
  // [OFFLINE-SWEEP-1]. Before each batch the adapter commits the turn's writes with their
  // frames, so the batch's own commit holds its removals only.
  const sweeper = new PendingSweeper({
    store,
    ttlMs: engineConfig(config).limits.offlineTtlMs,
    intervalMs: options.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS,
    beforeBatch: () => adapter.flush(),
    onSwept: (rows, ms) => logger.log("info", "pending_swept", { rows, ms }),
    onError: (err) => logger.log("error", "pending_sweep_failed", errorFields(err)),
  });
  sweeper.start();

  const port = (httpServer.address() as AddressInfo).port;
  const url = `http://${urlHost(host)}:${port}`;
  const wsUrl = options.publicUrl ?? `ws://${urlHost(host)}:${port}/`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      sweeper.stop(); // no batch after this, so the store can close
      // Stop accepting connections; in-flight HTTP requests finish.
      const httpClosed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      try {
        await adapter.close();
      } catch (err) {
        logger.log("error", "shutdown_error", errorFields(err));
      }
      // After the adapter's last flush: what is left unsent is dropped, not flushed, and no
      // retry timer outlives the server.
      push.close();
      // Upgraded sockets are gone; drop any HTTP keep-alive connection still open.
      httpServer.closeAllConnections();
      await httpClosed;
      try {
        store.close();
      } catch (err) {
        logger.log("error", "store_close_failed", errorFields(err));
      }
    })();
    return closing;
  };

  return { url, wsUrl, port, host, engine, store, httpServer, adapter, push, close };
}
