/**
 * What both entry points export besides `createClient`.
 * @module
 */
export { conversationId } from "@confab/protocol";
export { backoffCap, backoffDelay, FLOOD_WAIT_MS, RECONNECT_DEFAULTS } from "./backoff.js";
export {
  ConfabClient,
  knownServerInfo,
  LOGS_RETRIES,
  LOGS_RETRY_MS,
  MAX_SILENCE_MS,
  NO_RECONNECT_CODES,
  WATCH_CHUNK,
} from "./client.js";
export { ListenerError } from "./emitter.js";
export * from "./errors.js";
export { RouterError } from "./router.js";
export { MemorySeenIds, SEEN_IDS_MAX } from "./seen-ids.js";
export type * from "./types.js";
export type {
  WebSocketConstructor,
  WebSocketEventLike,
  WebSocketHandler,
  WebSocketLike,
} from "./websocket.js";
export { SUBPROTOCOL } from "./websocket.js";
