/**
 * Configuration of the protocol core: apps, limits and timeouts. Defaults are the values
 * the spec states (spec/07-limits.md, decisions D3, D6, D8, D10, D11); tests shorten the
 * timeouts.
 * @module
 */
import {
  isAppId,
  MAX_FRAME_BYTES,
  MAX_OFFLINE_PER_PEER,
  MAX_ROOM_MEMBERS,
  MAX_SESSIONS_PER_CONNECTION,
  MAX_WATCHED_PER_SESSION,
  OFFLINE_TTL_MS,
} from "@confab/protocol";

/** One application. */
export interface AppConfig {
  /** The app id: 1 to 64 characters of `[A-Za-z0-9_.-]` [LIMIT-APPID-1]. */
  readonly appId: string;
  /** The master key: signs signatures and authorises REST history. */
  readonly masterKey?: string | undefined;
  /** Whether open, watch, join, invite and kick need a signature [SIG-ENFORCE-1]. */
  readonly enforceSignatures: boolean;
  /**
   * `Origin` header values (of the WebSocket handshake) allowed to connect; empty or absent
   * allows any [FRAME-ORIGIN-1]. A handshake without `Origin` (a native client, not a web
   * page) is always allowed: origin checks protect web pages only.
   */
  readonly allowedOrigins?: readonly string[] | undefined;
  /** A disabled app is not served: connections to it are closed with 4100 [SESSION-APP-2]. */
  readonly disabled?: boolean | undefined;
  /**
   * The app's push hook: an `http:` or `https:` URL that receives an offline notification
   * for every persistent message that becomes pending for peers without an open session
   * [OFFLINE-PUSH-1, OFFLINE-PUSH-2]. Signed with the master key, which the hook therefore
   * needs [OFFLINE-PUSH-8]. Absent: no notifications.
   */
  readonly pushUrl?: string | undefined;
  /**
   * Whether the notifications carry the message text (`msg`). Off by default: the text then
   * stays between the peers and the server [OFFLINE-PUSH-7].
   */
  readonly pushIncludeText?: boolean | undefined;
}

/** Numeric limits. */
export interface Limits {
  /** Largest text frame, bytes [FRAME-SIZE-1]. */
  readonly maxFrameBytes: number;
  /** Pending messages kept per peer [OFFLINE-LIMIT-1]. */
  readonly maxOfflinePerPeer: number;
  /** Age after which a pending message is no longer delivered, ms [OFFLINE-AGE-1]. */
  readonly offlineTtlMs: number;
  /** Members of a group [ROOM-LIMIT-1]. */
  readonly maxRoomMembers: number;
  /** Distinct peers one session may watch [WATCH-LIMIT-1]. */
  readonly maxWatchedPerSession: number;
  /** Open sessions one connection may hold [LIMIT-SESSIONS-1]. */
  readonly maxSessionsPerConnection: number;
  /**
   * Watch entries one connection may hold, summed over its sessions: a peer watched by two
   * of its sessions counts twice; over it, `session/open` and `session/add` get 4120
   * [LIMIT-WATCH-CONN-1]. The spec's value, 20 000 (two full watch sets), may be raised
   * only [LIMIT-FLOOR-1]; it keeps one connection to a few MB of watch sets.
   */
  readonly maxWatchPerConnection: number;
  /**
   * Watch entries one app may hold over all of its sessions; over it, `session/open` and
   * `session/add` get 4120 [LIMIT-QUOTA-1, LIMIT-WATCH-APP-1]. The deployment's choice:
   * the default, 1 000 000, is about 90 MB of heap (87 bytes an entry with distinct ids,
   * measured), and keeps every index of the app 16 times below V8's 2^24 entries per `Map`.
   */
  readonly maxWatchPerApp: number;
  /**
   * Open sessions one app may hold on all connections; over it, a `session/open` that is
   * not a re-open gets 4120 [LIMIT-QUOTA-1, LIMIT-SESSIONS-APP-1]. The deployment's
   * choice: the default, 100 000, is about 35 MB of heap (some 330 bytes a session, measured).
   */
  readonly maxSessionsPerApp: number;
  /**
   * Connections one app may have bound; over it, the first command of a connection closes
   * it with 4113 after an error frame [LIMIT-QUOTA-1, LIMIT-CONN-APP-1]. The
   * deployment's choice: the default is 10 000.
   */
  readonly maxConnectionsPerApp: number;
  /**
   * Open connections from one remote address; over it, a new connection is closed with
   * 4113 after an error frame, before any of its frames is read [LIMIT-QUOTA-1,
   * LIMIT-CONN-IP-1]. The deployment's choice: the default is 1 000. Behind a proxy that
   * hides client addresses every connection has the proxy's: raise it
   * (`Number.POSITIVE_INFINITY` for no bound).
   */
  readonly maxConnectionsPerAddress: number;
  /**
   * Pending messages one app may hold over all of its peers, one per message and recipient
   * (expired ones until the sweep removes them); a `direct` that would exceed it gets 4120
   * and stores nothing [LIMIT-STORE-1, LIMIT-STORE-2]. The deployment's choice, not the
   * spec's: the default, 1 000 000, is about 150 MB of SQLite (150 bytes a row, measured),
   * besides the messages themselves.
   */
  readonly maxPendingPerApp: number;
  /**
   * History page bytes (LOGS-BYTES-1) that one connection, and one REST client address, may
   * be sent per second; `0` disables the bound. Over it, `logs` gets 4120 and REST HTTP 429
   * [LIMIT-LOGS-RATE-1, LIMIT-LOGS-RATE-2, REST-RATE-1]. The deployment's choice: the
   * default, 1 MiB/s, is one full page a second, some 40 pages of ordinary text.
   */
  readonly historyBytesPerSecond: number;
  /**
   * The bytes of history pages one connection or REST client address may take at once,
   * before the rate of {@link Limits.historyBytesPerSecond} applies [LIMIT-LOGS-RATE-1].
   * The default, 2 MiB, lets through two full pages at once (three in the worst case, which
   * is what one turn may queue on a socket), far below the adapter's 4 MiB send bound.
   */
  readonly historyBurstBytes: number;
}

/** Everything the core needs to know that is not protocol state. */
export interface EngineConfig {
  /**
   * Known apps. In development mode an unknown app id is accepted as an app without
   * signatures; otherwise it is refused with 4100.
   */
  readonly apps: ReadonlyMap<string, AppConfig>;
  /** Serve any valid app id, as an app without signatures or master key. */
  readonly devMode: boolean;
  /** Numeric limits; the defaults are the spec's. */
  readonly limits: Limits;
  /** Close (4107) a connection that sent nothing for this long [TIMEOUT-READ-1]. */
  readonly readTimeoutMs: number;
  /** Close (4108) a connection that has had no open session for this long [TIMEOUT-LOGIN-1]. */
  readonly loginTimeoutMs: number;
  /** Accepted distance between a signature's `t` and the server clock, s [SIG-TIME-1]. */
  readonly signatureWindowS: number;
  /**
   * Token bucket per connection: frames per second, and burst; `perSecond: 0` disables
   * [FLOOD-RATE-1, FLOOD-CLOSE-1].
   */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number };
}

/**
 * Watch entries one connection may hold, summed over its sessions [LIMIT-WATCH-CONN-1].
 * The spec's value, like those of `@confab/protocol`.
 */
export const MAX_WATCH_PER_CONNECTION = 20_000;

/** The spec's default limits. */
export const DEFAULT_LIMITS: Limits = {
  maxFrameBytes: MAX_FRAME_BYTES,
  maxOfflinePerPeer: MAX_OFFLINE_PER_PEER,
  offlineTtlMs: OFFLINE_TTL_MS,
  maxRoomMembers: MAX_ROOM_MEMBERS,
  maxWatchedPerSession: MAX_WATCHED_PER_SESSION,
  maxSessionsPerConnection: MAX_SESSIONS_PER_CONNECTION,
  maxWatchPerConnection: MAX_WATCH_PER_CONNECTION,
  maxWatchPerApp: 1_000_000,
  maxSessionsPerApp: 100_000,
  maxConnectionsPerApp: 10_000,
  maxConnectionsPerAddress: 1_000,
  maxPendingPerApp: 1_000_000,
  historyBytesPerSecond: 1_048_576,
  historyBurstBytes: 2_097_152,
};

/** The read timeout the spec recommends, ms [TIMEOUT-READ-3]. */
export const DEFAULT_READ_TIMEOUT_MS = 300_000;
/** The shortest read timeout the spec allows, ms [TIMEOUT-READ-2]. */
export const MIN_READ_TIMEOUT_MS = 200_000;
/** The login timeout the spec recommends, ms [TIMEOUT-LOGIN-2]. */
export const DEFAULT_LOGIN_TIMEOUT_MS = 60_000;
/** The signature time window, s [SIG-TIME-1, SIG-NONCE-2]. */
export const SIGNATURE_WINDOW_S = 300;

/** Builds a config with the spec's defaults, overridden by `overrides`. */
export function engineConfig(overrides: Partial<EngineConfig> = {}): EngineConfig {
  return {
    apps: new Map(),
    devMode: true,
    limits: DEFAULT_LIMITS,
    readTimeoutMs: DEFAULT_READ_TIMEOUT_MS,
    loginTimeoutMs: DEFAULT_LOGIN_TIMEOUT_MS,
    signatureWindowS: SIGNATURE_WINDOW_S,
    rateLimit: { perSecond: 1000, burst: 2000 },
    ...overrides,
  };
}

/** The shortest login timeout a deployment may use, ms (Table 9 of spec 07) [LIMIT-BOUND-1]. */
export const MIN_LOGIN_TIMEOUT_MS = 10_000;
/**
 * The shortest timeout or offline age a server under test may use, ms: one second, so that
 * expiry and timeouts can be tested on the wire in seconds (Table 9) [LIMIT-BOUND-2].
 */
export const MIN_TEST_DURATION_MS = 1_000;

/**
 * The settings of `config` outside the bounds of Table 9 of spec 07, as sentences (empty when
 * a deployment may use it as it is) [LIMIT-BOUND-1, LIMIT-CONFIG-1, LIMIT-FLOOR-1]. A value
 * only a server under test may apply says so (LIMIT-BOUND-2): tests shorten the offline
 * store and the timeouts on purpose, so the engine logs these rather than refusing them.
 *
 * - fixed: the frame limit [FRAME-SIZE-1], the group size [ROOM-LIMIT-1] and the signature
 *   window [SIG-TIME-1] (the text, id, array and page limits are the schemas' own and are not
 *   configurable at all);
 * - raise only: the watch set of a session, and the sessions and watch entries of one
 *   connection [WATCH-LIMIT-1, LIMIT-SESSIONS-1, LIMIT-WATCH-CONN-1];
 * - raise, or lower for testing: the offline count and age [OFFLINE-LIMIT-1,
 *   OFFLINE-AGE-1], the read and login timeouts [TIMEOUT-READ-2, TIMEOUT-LOGIN-2];
 * - the deployment's choice, not checked: the frame rate [FLOOD-RATE-1] and the app bounds
 *   [LIMIT-STORE-1, LIMIT-QUOTA-1].
 */
export function specViolations(config: EngineConfig): string[] {
  const out: string[] = [];
  const { limits } = config;
  const fixed = (name: string, value: number, spec: number) => {
    if (value !== spec) out.push(`${name} ${value} is not ${spec}`);
  };
  const floor = (name: string, value: number, spec: number) => {
    if (value < spec) out.push(`${name} ${value} is under ${spec}`);
  };
  /** Raise freely; lower to `testMin` under test only; never below it. */
  const testable = (name: string, value: number, spec: number, testMin: number) => {
    if (value >= spec) return;
    if (value >= testMin) {
      out.push(`${name} ${value} is under ${spec}: for a server under test only (LIMIT-BOUND-2)`);
    } else {
      out.push(`${name} ${value} is under ${spec}, and under ${testMin} even for testing`);
    }
  };
  fixed("maxFrameBytes", limits.maxFrameBytes, MAX_FRAME_BYTES);
  fixed("maxRoomMembers", limits.maxRoomMembers, MAX_ROOM_MEMBERS);
  fixed("signatureWindowS", config.signatureWindowS, SIGNATURE_WINDOW_S);
  floor("maxWatchedPerSession", limits.maxWatchedPerSession, MAX_WATCHED_PER_SESSION);
  floor("maxSessionsPerConnection", limits.maxSessionsPerConnection, MAX_SESSIONS_PER_CONNECTION);
  floor("maxWatchPerConnection", limits.maxWatchPerConnection, MAX_WATCH_PER_CONNECTION);
  testable("maxOfflinePerPeer", limits.maxOfflinePerPeer, MAX_OFFLINE_PER_PEER, 1);
  testable("offlineTtlMs", limits.offlineTtlMs, OFFLINE_TTL_MS, MIN_TEST_DURATION_MS);
  testable("readTimeoutMs", config.readTimeoutMs, MIN_READ_TIMEOUT_MS, MIN_TEST_DURATION_MS);
  testable("loginTimeoutMs", config.loginTimeoutMs, MIN_LOGIN_TIMEOUT_MS, MIN_TEST_DURATION_MS);
  return out;
}

/**
 * The app an app id names, applying development mode, or `undefined` when it names none:
 * a malformed id [LIMIT-APPID-1], an unknown app outside development mode, or a disabled
 * app [SESSION-APP-2].
 */
export function resolveApp(config: EngineConfig, appId: unknown): AppConfig | undefined {
  if (!isAppId(appId)) return undefined;
  const known = config.apps.get(appId);
  if (known) return known.disabled === true ? undefined : known;
  return config.devMode ? { appId, enforceSignatures: false } : undefined;
}
