/**
 * What both entry points export besides `createClient`.
 * @module
 */
export { conversationId } from "@confab/protocol";
export { backoffCap, backoffDelay, FLOOD_WAIT_MS, RECONNECT_DEFAULTS } from "./backoff.js";
export {
  CLOSE_WAIT_MS,
  ConfabClient,
  MAX_SILENCE_MS,
  NO_RECONNECT_CODES,
  WATCH_CHUNK,
} from "./client.js";
export { ListenerError } from "./emitter.js";
export * from "./errors.js";
export { GROUP_EVENTS, type GroupEventOf, groupEventOf } from "./group-events.js";
export {
  type Ask,
  LOGS_RETRIES,
  LOGS_RETRY_MS,
  logEntryOf,
  pageGroups,
  pageLogs,
} from "./history.js";
export { type PresenceChange, PresenceTable } from "./presence.js";
export { RouterError } from "./router.js";
export { MemorySeenIds, SEEN_IDS_MAX } from "./seen-ids.js";
export { KNOWN_FEATURES, KNOWN_LIMITS, knownServerInfo } from "./server-info.js";
export type * from "./types.js";
export type {
  WebSocketConstructor,
  WebSocketEventLike,
  WebSocketHandler,
  WebSocketLike,
} from "./websocket.js";
export { SUBPROTOCOL } from "./websocket.js";
