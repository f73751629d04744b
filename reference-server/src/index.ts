/**
 * `@confab/reference-server`: the Confab reference server as a library.
 *
 * {@link startServer} runs a complete server (router, WebSocket, REST history) on one port;
 * the pieces (the pure protocol {@link Engine}, the {@link Store}s, the I/O adapters) are
 * exported for embedding and testing.
 *
 * @example
 * import { startServer } from "@confab/reference-server";
 * const server = await startServer({ port: 0 });
 * console.log(server.wsUrl);
 * await server.close();
 * @module
 */

/** The I/O adapters the server is made of. */
export {
  createHttpHandler,
  DEMO_FILES,
  type HttpHandlerOptions,
  ROUTE_TTL_S,
} from "./adapter/http.js";
/** The push hook: signed offline notifications to an app's URL, retried from a bounded queue. */
export {
  DEFAULT_PUSH_BASE_DELAY_MS,
  DEFAULT_PUSH_CONCURRENCY,
  DEFAULT_PUSH_MAX_ATTEMPTS,
  DEFAULT_PUSH_MAX_DELAY_MS,
  DEFAULT_PUSH_QUEUE_CAPACITY,
  DEFAULT_PUSH_TIMEOUT_MS,
  PUSH_SIGNATURE_HEADER,
  PUSH_TIMESTAMP_HEADER,
  PushNotifier,
  type PushNotifierOptions,
  type PushStats,
  pushConfigProblem,
  pushSignature,
  pushSignedString,
  retryDelayMs,
} from "./adapter/push.js";
/** The WebSocket adapter: group commit, then release of outputs. */
export {
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL_ERROR,
  CLOSE_SLOW_CONSUMER,
  DEFAULT_COMMIT_INTERVAL_MS,
  SUBPROTOCOL,
  WsAdapter,
  type WsAdapterOptions,
} from "./adapter/ws-adapter.js";

/** Engine configuration: apps, limits, timeouts, and their spec defaults. */
export {
  type AppConfig,
  DEFAULT_LIMITS,
  type EngineConfig,
  engineConfig,
  type Limits,
  resolveApp,
} from "./core/config.js";
/** The protocol engine: frames and time in, outputs out; no I/O of its own. */
export { Engine, type EngineOptions, type EngineSnapshot } from "./core/engine.js";
export type { AppSnapshot } from "./core/presence.js";
/** The vocabulary between the engine and its adapter. */
export type {
  ConnectionInfo,
  ConnId,
  LogEvent,
  NotifyOutput,
  Output,
  ProtocolEngine,
  RestLogsResult,
  RestPeerRoomsResult,
  RestRefusal,
  RestRequest,
  RestRoomMembersResult,
} from "./core/types.js";
/** The JSON-lines logger the server and CLI use. */
export {
  createJsonLogger,
  errorFields,
  type JsonLoggerOptions,
  type Logger,
  type LogLevel,
  logEngineEvents,
  silentLogger,
} from "./log.js";
/** Starts a complete server; see {@link ServerOptions} and {@link RunningServer}. */
export { type RunningServer, type ServerOptions, type SyncMode, startServer } from "./server.js";
/** The WAL checkpoints on a worker thread, the server's choice for a file database. */
export {
  CHECKPOINTER_DEFAULTS,
  Checkpointer,
  type CheckpointerOptions,
  type CheckpointerStats,
} from "./store/checkpointer.js";
/** The in-memory store (lost on exit; tests and `--db :memory:`). */
export { MemoryStore } from "./store/memory-store.js";
/** The durable SQLite store. */
export {
  HISTORY_BATCH,
  RECENT_MESSAGES,
  SCHEMA_VERSION,
  SqliteStore,
  type SqliteStoreOptions,
  type SqliteStoreSettings,
} from "./store/sqlite-store.js";
/** The storage interface, and its history query and message shapes. */
export type { HistoryQuery, Store, StoredMessage } from "./store/store.js";
