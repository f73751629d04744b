/**
 * The server's announcement, `serverInfo`: the revision of the spec it implements, the
 * features in force for an app and every limit it applies, as `session/opened` and the
 * router carry it [SESSION-INFO-1, ROUTER-INFO-1] (spec 02, 2.9; decision D22).
 *
 * Every limit comes from the engine's configuration in force, so that a server configured
 * for a test run (a short offline age, a small offline count, LIMIT-BOUND-2) says so, and a
 * conformance kit tests against what the server applies rather than the spec's defaults
 * [SESSION-INFO-5]. Only the limits that the configuration cannot change are read from the
 * protocol package, because the schemas and the history pager enforce exactly those values
 * (Table 9: fixed).
 * @module
 */
import {
  LOGS_DEFAULT_LIMIT,
  LOGS_MAX_LIMIT,
  LOGS_MAX_PAGE_BYTES,
  MAX_ID_LENGTH,
  MAX_IDS_PER_FRAME,
  MAX_MSG_BYTES,
  type ServerInfo,
  SPEC_REVISION,
} from "@confab/protocol";
import type { AppConfig, EngineConfig } from "./config.js";

/**
 * The features the reference server implements, for an app [SESSION-INFO-3]: `true` for
 * each that is in force, and `signatures` whether the app enforces them [SESSION-INFO-4].
 *
 * Only what is implemented is named, each family under its own name as history is
 * (`history`, `rest-history`): a group's members over the socket (`room-query`), a peer's
 * own groups over the socket (`room-list`) and both over REST (`rest-rooms`). `push-hook` is there only for
 * an app with a hook URL configured: a feature is in force for an app only when the app can
 * use it, and the hook is optional [OFFLINE-PUSH-1].
 */
function featuresOf(app: AppConfig): ServerInfo["features"] {
  return {
    receipts: true, // RECEIPT-*
    offline: true, // OFFLINE-*
    history: true, // the socket `logs` command, LOGS-SOCKET-1
    "rest-history": true, // REST-*
    "room-query": true, // ROOM-QUERY-*
    "room-list": true, // ROOM-LIST-*
    "rest-rooms": true, // REST-ROOMS-*
    echo: true, // ECHO-OPEN-1, ECHO-OTHER-2
    "super-peer": true, // SUPERPEER-*
    signatures: app.enforceSignatures, // SIG-ENFORCE-1
    ...(app.pushUrl !== undefined && { "push-hook": true }), // OFFLINE-PUSH-1, OFFLINE-PUSH-2
  };
}

/**
 * A deployment bound as announced: absent when the server applies none (an infinite value,
 * such as `maxConnectionsPerAddress` behind a proxy), whole otherwise.
 */
function bound(value: number): number | undefined {
  return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
}

/**
 * The limits the engine applies, by their announced names (Table 9 of spec 07)
 * [SESSION-INFO-5]. Members whose value is absent are left out, not sent as `null`.
 */
function limitsOf(config: EngineConfig): ServerInfo["limits"] {
  const { limits, rateLimit } = config;
  const limited = rateLimit.perSecond > 0; // perSecond 0 disables the limit [FLOOD-RATE-1]
  const history = limits.historyBytesPerSecond > 0; // 0 disables it [LIMIT-LOGS-RATE-1]
  const optional: Record<string, number | undefined> = {
    framesPerSecond: limited ? bound(rateLimit.perSecond) : undefined,
    frameBurst: limited ? bound(rateLimit.burst) : undefined,
    historyBytesPerSecond: history ? bound(limits.historyBytesPerSecond) : undefined,
    historyBurstBytes: history ? bound(limits.historyBurstBytes) : undefined,
    pendingPerApp: bound(limits.maxPendingPerApp), // LIMIT-STORE-1
    watchPerApp: bound(limits.maxWatchPerApp), // LIMIT-QUOTA-1
    sessionsPerApp: bound(limits.maxSessionsPerApp),
    connectionsPerApp: bound(limits.maxConnectionsPerApp),
    connectionsPerAddress: bound(limits.maxConnectionsPerAddress),
  };
  const present = Object.fromEntries(
    Object.entries(optional).filter((e): e is [string, number] => e[1] !== undefined),
  );
  return {
    // Fixed by the spec and enforced by the schemas (Table 9).
    msgBytes: MAX_MSG_BYTES,
    idLength: MAX_ID_LENGTH,
    idsPerArray: MAX_IDS_PER_FRAME,
    pageLimit: LOGS_MAX_LIMIT,
    pageLimitDefault: LOGS_DEFAULT_LIMIT,
    pageBytes: LOGS_MAX_PAGE_BYTES, // LOGS-BYTES-1
    // From the configuration in force.
    frameBytes: limits.maxFrameBytes,
    watchPerSession: limits.maxWatchedPerSession,
    sessionsPerConnection: limits.maxSessionsPerConnection,
    watchPerConnection: limits.maxWatchPerConnection,
    roomMembers: limits.maxRoomMembers,
    offlineCount: limits.maxOfflinePerPeer,
    offlineAgeMs: limits.offlineTtlMs,
    signatureWindowS: config.signatureWindowS,
    readTimeoutMs: config.readTimeoutMs,
    loginTimeoutMs: config.loginTimeoutMs,
    ...present,
  };
}

/**
 * The announcement for `app` under `config` [SESSION-INFO-1 … SESSION-INFO-5,
 * ROUTER-INFO-1]: the same for every session of the app and for the router, since nothing
 * in it depends on the connection.
 *
 * @param config the engine's configuration in force (defaults filled in).
 * @param app the app the session or the route request names.
 */
export function serverInfo(config: EngineConfig, app: AppConfig): ServerInfo {
  return { revision: SPEC_REVISION, features: featuresOf(app), limits: limitsOf(config) };
}
