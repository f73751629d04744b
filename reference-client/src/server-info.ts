/**
 * The server's announcement (spec 02, 2.9) as the client keeps it: the features of Table 10
 * and the limits of Table 9 that it knows, and nothing else [SESSION-INFO-6].
 * @module
 */
import type { S2CMessages } from "@confab/protocol";
import type { KnownFeature, KnownLimit, ServerInfo } from "./types.js";

/** The features of Table 10 (spec 02). */
export const KNOWN_FEATURES: readonly KnownFeature[] = [
  "receipts",
  "offline",
  "history",
  "rest-history",
  "room-query",
  "room-list",
  "rest-rooms",
  "echo",
  "super-peer",
  "signatures",
  "push-hook",
];

/** The limits of Table 9 (spec 07) that `serverInfo.limits` names. */
export const KNOWN_LIMITS: readonly KnownLimit[] = [
  "msgBytes",
  "frameBytes",
  "idLength",
  "idsPerArray",
  "watchPerSession",
  "sessionsPerConnection",
  "roomMembers",
  "offlineCount",
  "offlineAgeMs",
  "pageLimit",
  "pageLimitDefault",
  "pageBytes",
  "signatureWindowS",
  "readTimeoutMs",
  "loginTimeoutMs",
  "framesPerSecond",
  "frameBurst",
  "watchPerConnection",
  "historyBytesPerSecond",
  "historyBurstBytes",
  "pendingPerApp",
  "watchPerApp",
  "sessionsPerApp",
  "connectionsPerApp",
  "connectionsPerAddress",
];

/**
 * The announcement with only the features and limits this client knows: a member whose
 * name it does not know is ignored [SESSION-INFO-6].
 */
export function knownServerInfo(
  info: S2CMessages["session/opened"]["serverInfo"],
): ServerInfo | undefined {
  if (!info) return undefined;
  const features: Partial<Record<KnownFeature, boolean>> = {};
  for (const name of KNOWN_FEATURES) {
    const v = (info.features as Record<string, unknown>)[name];
    if (typeof v === "boolean") features[name] = v;
  }
  const limits: Partial<Record<KnownLimit, number>> = {};
  for (const name of KNOWN_LIMITS) {
    const v = (info.limits as Record<string, unknown>)[name];
    if (typeof v === "number") limits[name] = v;
  }
  return { revision: info.revision, features, limits };
}
