/**
 * Configuration of the protocol core: apps, limits and timeouts. Defaults are the values
 * the spec states (spec/07-limits.md, decisions D3, D6, D8, D10, D11); tests shorten the
 * timeouts.
 * @module
 */
import {
  MAX_FRAME_BYTES,
  MAX_OFFLINE_PER_PEER,
  MAX_ROOM_MEMBERS,
  MAX_WATCHED_PER_SESSION,
  OFFLINE_TTL_MS,
} from "@confab/schemas";

/** One application. */
export interface AppConfig {
  readonly appId: string;
  /** The master key: signs signatures and authorises REST history. */
  readonly masterKey?: string | undefined;
  /** Whether open, watch, join, invite and kick need a signature (decision D10). */
  readonly enforceSignatures: boolean;
  /** Origins (the WebSocket `Origin` header) allowed to connect; empty or absent = any. */
  readonly allowedOrigins?: readonly string[] | undefined;
}

/** Numeric limits. */
export interface Limits {
  readonly maxFrameBytes: number;
  readonly maxOfflinePerPeer: number;
  readonly offlineTtlMs: number;
  readonly maxRoomMembers: number;
  readonly maxWatchedPerSession: number;
}

/** Everything the core needs to know that is not protocol state. */
export interface EngineConfig {
  /**
   * Known apps. In development mode an unknown app id is accepted as an app without
   * signatures; otherwise it is refused with 4100.
   */
  readonly apps: ReadonlyMap<string, AppConfig>;
  readonly devMode: boolean;
  readonly limits: Limits;
  /** Close (4107) a connection that sent nothing for this long. */
  readonly readTimeoutMs: number;
  /** Close (4108) a connection that has had no open session for this long. */
  readonly loginTimeoutMs: number;
  /** Accepted distance between a signature's `t` and the server clock, in seconds. */
  readonly signatureWindowS: number;
  /** Token bucket per connection: frames per second, and burst. 0 disables (decision D11). */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
}

/** The spec's default limits. */
export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: MAX_FRAME_BYTES,
  maxOfflinePerPeer: MAX_OFFLINE_PER_PEER,
  offlineTtlMs: OFFLINE_TTL_MS,
  maxRoomMembers: MAX_ROOM_MEMBERS,
  maxWatchedPerSession: MAX_WATCHED_PER_SESSION,
};

/** Builds a config with the spec's defaults, overridden by `overrides`. */
export function engineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    apps: new Map(),
    devMode: true,
    limits: DEFAULT_LIMITS,
    readTimeoutMs: 300_000,
    loginTimeoutMs: 60_000,
    signatureWindowS: 300,
    rateLimit: { perSecond: 1000, burst: 2000 },
    ...overrides,
  };
}

/** Looks up an app, applying development mode. */
export function resolveApp(config: EngineConfig, appId: string): AppConfig | undefined {
  const known = config.apps.get(appId);
  if (known) return known;
  return config.devMode ? { appId, enforceSignatures: false } : undefined;
}
