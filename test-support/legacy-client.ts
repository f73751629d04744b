/**
 * Loads the real, unmodified legacy JavaScript client `lean-cloud-chat@1.0.4` (`chat.js`)
 * in Node, so tests can drive it against a test server.
 *
 * chat.js was written for browsers of 2014. It expects the globals `WebSocket` and
 * `XMLHttpRequest`, asks a hard-coded router host for its WebSocket URL, and keeps
 * timers alive on its own. This module supplies the globals, points the router at a test
 * server, types what chat.js exposes, and closes clients without leaving timers behind.
 *
 * Side effects on the process, all inherent to chat.js: the globals `WebSocket` and
 * `XMLHttpRequest` stay installed, and chat.js's first command creates the implicit global
 * `k` (a `for (k in props)` without `var`).
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import { createRequire } from "node:module";
import { WebSocket as WsWebSocket } from "ws";

// Captured at load so this module's own timeouts keep working under vitest fake timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Hosts that chat.js asks for the WebSocket URL (`g0` = China, `a0` = `server: "us"`). */
const LEGACY_ROUTER_HOSTS = ["router-g0-push.avoscloud.com", "router-a0-push.avoscloud.com"];

/**
 * Matches the historical router origin at the start of a URL, over http or https.
 * chat.js picks https only when `window.location.protocol` is `https:`, which never happens
 * in Node, but a test may define `window`, so both schemes are rewritten.
 */
const LEGACY_ROUTER_ORIGIN = new RegExp(
  `^https?://(?:${LEGACY_ROUTER_HOSTS.map((h) => h.replace(/\./g, "\\.")).join("|")})(?=[/?#]|$)`,
  "i",
);

/**
 * Where router requests go right now. chat.js resolves `XMLHttpRequest` at call time from
 * the global object, and Node caches the required module, so there is one chat.js and one
 * XHR class per process. A mutable target (rather than a class per server) lets several
 * test servers share that process: each {@link LegacyModule} sets the target just before
 * its client's `open()` runs, and chat.js calls `xhr.open()` synchronously inside `open()`,
 * so a client always reaches the server of the module that created it.
 */
const routing = { target: "" };

/**
 * Rewrites a historical router URL to the current target, keeping path and query.
 *
 * @param url - the URL chat.js asked for, e.g. `http://router-g0-push.avoscloud.com/v1/route?appId=a`
 * @param target - the test server's origin, e.g. `http://127.0.0.1:4000`
 * @returns the URL to request; URLs of other hosts are returned unchanged
 */
export function rewriteRouterUrl(url: string, target: string): string {
  if (!target) return url;
  return url.replace(LEGACY_ROUTER_ORIGIN, target.replace(/\/+$/, ""));
}

/** The subset of the XMLHttpRequest API that chat.js's `get()` uses. */
interface MinimalXhr {
  open(method: string, url: string, ...rest: unknown[]): void;
  send(body?: unknown): void;
  onload: (() => void) | null;
  onerror: (() => void) | null;
  status: number;
  statusText: string | null;
  responseText: string;
}

/** Constructor of an XMLHttpRequest-like class. */
type XhrConstructor = new () => MinimalXhr;

const requireHere = createRequire(import.meta.url);

/** Absolute path of the legacy client's entry file. */
export const LEGACY_CHAT_JS: string = requireHere.resolve("lean-cloud-chat/chat.js");

/** `require` as seen from chat.js, so its own dependencies resolve exactly as it would. */
const requireFromChat = createRequire(LEGACY_CHAT_JS);

/**
 * Builds the global `XMLHttpRequest` that chat.js uses for the router request: the
 * `xmlhttprequest` package (chat.js's own dependency, which is what it would load itself
 * in Node) with `open()` wrapped to rewrite the router host.
 *
 * The package defines every method as an instance property inside its constructor, so a
 * subclass cannot override `open`; instead this constructor builds an instance, wraps the
 * instance's `open`, and returns it (a constructor that returns an object yields that
 * object from `new`).
 */
function makeRoutedXhr(): XhrConstructor {
  const { XMLHttpRequest: Base } = requireFromChat("xmlhttprequest") as {
    XMLHttpRequest: XhrConstructor;
  };
  function RoutedXMLHttpRequest(): MinimalXhr {
    const xhr = new Base();
    const open = xhr.open;
    xhr.open = function routedOpen(this: MinimalXhr, method: string, url: string, ...rest) {
      open.call(this, method, rewriteRouterUrl(String(url), routing.target), ...rest);
    };
    return xhr;
  }
  return RoutedXMLHttpRequest as unknown as XhrConstructor;
}

/**
 * The client whose `open()` is running, carried through chat.js's async chain (XHR
 * callbacks, `process.nextTick`-based es6-promise) to the `new WebSocket()` call, so each
 * socket is attributed to the client that made it. chat.js keeps its socket in a closure.
 */
const opening = new AsyncLocalStorage<ClientState>();

/**
 * The global `WebSocket`: `ws@8` plus two things chat.js relies on implicitly.
 *
 * - It records itself on the client that created it (see {@link opening}).
 * - It has a no-op `error` listener. A browser WebSocket reports errors as events and then
 *   closes; `ws` is an EventEmitter that throws on an `error` event nobody listens to, and
 *   chat.js never sets `onerror`, so without this a refused or reset connection would crash
 *   the test process instead of closing the client.
 *
 * Its `onopen`/`onmessage`/`onclose` handlers receive browser-like events whose text `data`
 * is a string, which is what chat.js parses.
 */
class LegacyWebSocket extends WsWebSocket {
  constructor(address: string, protocols?: string | string[]) {
    super(address, protocols);
    this.on("error", () => {});
    const owner = opening.getStore();
    if (owner) owner.socket = this;
  }
}

/** The routed XHR class, built once: one class serves every server (see {@link routing}). */
let routedXhr: XhrConstructor | undefined;

/**
 * Installs the globals chat.js needs. Idempotent; re-run on every load in case something
 * replaced them in between.
 *
 * chat.js starts with `XMLHttpRequest = typeof XMLHttpRequest === 'undefined' ?
 * require("xmlhttprequest").XMLHttpRequest : XMLHttpRequest` and the same for `WebSocket`
 * (implicit global assignments), so the globals must exist before the first require:
 * otherwise it would take its own 2013 `ws@0.4` dependency and an XHR that knows nothing of
 * the test server. It keeps no copies: it looks both names up on the global object each
 * time it connects, so they also stay installed while clients run.
 */
function installGlobals(): void {
  routedXhr ??= makeRoutedXhr();
  const g = globalThis as Record<string, unknown>;
  g.WebSocket = LegacyWebSocket;
  g.XMLHttpRequest = routedXhr;
}

/** A server frame as chat.js hands it to promises and event listeners (parsed JSON). */
export type LegacyServerFrame = Record<string, unknown>;

/** Signature fields an `auth` or `groupAuth` hook may return; chat.js copies them as-is. */
export interface LegacySignature {
  /** Signature (HMAC-SHA1 hex); sent as `s`. */
  s?: string;
  /** Timestamp in Unix seconds; sent as `t`. */
  t?: number;
  /** Nonce; sent as `n`. */
  n?: string;
}

/** What a `settings.auth` hook resolves with (see {@link LegacyClientSettings.auth}). */
export interface LegacyAuthResult extends LegacySignature {
  /** The peers to watch; chat.js sends them as `sessionPeerIds`. */
  watchingPeerIds: string[];
  /** Super-peer flag; `session/open` sends this value, not `settings.sp`. */
  sp?: boolean;
}

/** What a `settings.groupAuth` hook resolves with. */
export interface LegacyGroupAuthResult extends LegacySignature {
  /** The peers to invite; `room/invite` sends them as `roomPeerIds` (`kick` ignores them). */
  groupPeerIds?: string[];
}

/** Settings accepted by the legacy client constructor `AVChatClient(settings)`. */
export interface LegacyClientSettings {
  /** Application id, sent on every frame and in the router query. */
  appId: string;
  /** The client's own peer id, sent on every frame. */
  peerId: string;
  /** Peers to watch when the session opens (default `[]`). */
  watchingPeerIds?: string[];
  /**
   * Signing hook for open and watch. chat.js calls `auth(peerId, watchingPeerIds, sp)` on
   * open and `auth(peerId, peers)` on watch, and sends whatever `watchingPeerIds`, `s`, `t`,
   * `n` (and, on open, `sp`) it resolves with. The default resolves `{watchingPeerIds}`.
   */
  auth?: (peerId: string, watchingPeerIds: string[], sp?: boolean) => Promise<LegacyAuthResult>;
  /**
   * Signing hook for groups, called as `groupAuth(peerId, groupId, action, groupPeerIds)`
   * with action `join`, `invite` or `kick`. The default resolves `{groupPeerIds}`.
   */
  groupAuth?: (
    peerId: string,
    groupId: string | undefined,
    action: "join" | "invite" | "kick",
    groupPeerIds: string[],
  ) => Promise<LegacyGroupAuthResult>;
  /** Super-peer flag; only passed to `auth`, which decides what goes on the wire. */
  sp?: boolean;
  /** `"us"` selects the `router-a0` host instead of `router-g0`. */
  server?: string;
  /** Adds `&secure=1` to the router query. */
  secure?: boolean;
}

/** Events chat.js emits, with their listener arguments. */
export interface LegacyClientEvents {
  /** `session/opened` or `session/added` (their `onlineSessionPeerIds`), or presence `on`. */
  online: (peerIds: string[]) => void;
  /** Presence `off` (its `sessionPeerIds`). */
  offline: (peerIds: string[]) => void;
  /** A `direct` delivery (the whole frame); chat.js has already sent its `ack`. */
  message: (frame: LegacyServerFrame) => void;
  /** `room/joined`, both the reply to one's own join and being invited. */
  joined: (frame: LegacyServerFrame) => void;
  /** `room/left`, both the reply to one's own leave and being kicked. */
  left: (frame: LegacyServerFrame) => void;
  /** `room/members-joined`. */
  membersJoined: (frame: LegacyServerFrame) => void;
  /** `room/members-left`. */
  membersLeft: (frame: LegacyServerFrame) => void;
  /** The WebSocket closed (a `ws` CloseEvent with `code` and `reason`). */
  close: (event: { code: number; reason: string }) => void;
}

/**
 * A legacy client instance. Awaited commands resolve with the server frame that answered
 * them (chat.js matches replies by `cmd`+`op` against the oldest waiting command only) and
 * reject after 10 s with e.g. `"roomjoinedtimeout"` (closing the socket), or with
 * `undefined` when the socket closes. Commands that await nothing resolve at once with
 * `undefined`. chat.js's promises are es6-promise 1.0 objects, not native ones: Node does
 * not report their unhandled rejections. Do not send commands before `open()` resolves:
 * they reject, but arm a 60 s keepalive timer whose callback throws.
 */
export interface LegacyClient {
  /** Fetches the route, connects, sends `session/open`; resolves with `session/opened`. */
  open(): Promise<LegacyServerFrame>;
  /** Sends `session/close` (not awaited) and closes the socket; resolves at once. */
  close(): Promise<void>;
  /** Sends `direct` to one or more peers; resolves with `ack`, or at once when transient. */
  send(
    msg: string,
    to: string | string[],
    transient?: boolean,
  ): Promise<LegacyServerFrame | undefined>;
  /** Sends `direct` with `roomId`; resolves with `ack`, or at once when transient. */
  sendToGroup(
    msg: string,
    groupId: string,
    transient?: boolean,
  ): Promise<LegacyServerFrame | undefined>;
  /** Sends `session/add`; resolves with `session/added`. */
  watch(peers: string | string[]): Promise<LegacyServerFrame>;
  /** Sends `session/remove`; resolves at once with `undefined` (no reply is awaited). */
  unwatch(peers: string[]): Promise<undefined>;
  /** Sends `session/query`; resolves with `session/query-result`. */
  getStatus(peers: string | string[]): Promise<LegacyServerFrame>;
  /** Sends `room/join` (no `roomId` when `groupId` is undefined); resolves with `room/joined`. */
  joinGroup(groupId?: string): Promise<LegacyServerFrame>;
  /** Sends `room/invite`; resolves with `room/invited`. */
  inviteToGroup(groupId: string, peers: string | string[]): Promise<LegacyServerFrame>;
  /** Sends `room/kick`; resolves with `room/kicked`. */
  kickFromGroup(groupId: string, peers: string | string[]): Promise<LegacyServerFrame>;
  /** Sends `room/leave`; resolves with `room/left`. */
  leaveGroup(groupId: string): Promise<LegacyServerFrame>;
  /** Adds an event listener (chat.js offers no way to remove one). */
  on<E extends keyof LegacyClientEvents>(event: E, listener: LegacyClientEvents[E]): void;
}

/** The legacy module export itself: `AVChatClient(settings)`, callable with or without `new`. */
export type AVChatClientConstructor = (settings: LegacyClientSettings) => LegacyClient;

/**
 * The legacy client bound to one test server. Call it like the legacy export
 * (`const client = chat({ appId, peerId })`) to get a client whose router request goes to
 * {@link LegacyModule.routerUrl}.
 */
export interface LegacyModule {
  (settings: LegacyClientSettings): LegacyClient;
  /** The router origin this module's clients use. */
  readonly routerUrl: string;
  /** The raw chat.js export, shared by every module in the process. */
  readonly AVChatClient: AVChatClientConstructor;
}

/** Per-client bookkeeping for {@link closeLegacyClient}; chat.js hides its socket. */
interface ClientState {
  /** The socket of the latest `open()`, once chat.js has created it. */
  socket?: WsWebSocket;
  /** The latest `open()` call, settled either way, so closing can wait for it. */
  opening?: Promise<unknown>;
}

const clientStates = new WeakMap<LegacyClient, ClientState>();

/**
 * Loads chat.js (once per process) with the globals it needs and returns it bound to a
 * test server's router.
 *
 * @param options.routerUrl - origin of the test server that answers `GET /v1/route`,
 *   e.g. `http://127.0.0.1:4000`; requests to the historical router hosts go there instead
 * @returns a factory of legacy clients whose router requests go to `routerUrl`
 */
export function loadLegacyClient(options: { routerUrl: string }): LegacyModule {
  const routerUrl = options.routerUrl.replace(/\/+$/, "");
  installGlobals();
  routing.target = routerUrl;
  // Node's module cache makes this one chat.js per process; it is never evicted, because a
  // second copy would share the globals and gain nothing.
  const AVChatClient = requireHere(LEGACY_CHAT_JS) as AVChatClientConstructor;

  const factory = (settings: LegacyClientSettings): LegacyClient => {
    const client = AVChatClient(settings);
    const state: ClientState = {};
    clientStates.set(client, state);
    // The wrapper only adds bookkeeping; chat.js's open() runs unchanged and its promise is
    // returned as-is. It binds the router target per client (chat.js calls xhr.open()
    // synchronously inside open(), so setting the target just before is enough even with
    // several servers) and attributes the socket open() creates to this client.
    const open = client.open;
    client.open = function openViaThisServer(this: LegacyClient) {
      routing.target = routerUrl;
      const result = opening.run(state, () => open.call(this));
      state.opening = result.then(
        () => undefined,
        () => undefined,
      );
      return result;
    };
    return client;
  };
  return Object.assign(factory, { routerUrl, AVChatClient }) as LegacyModule;
}

/**
 * Closes a legacy client and waits until its WebSocket has closed, so that no chat.js
 * timer (10 s command timeouts, the 60 s keepalive) and no `ws` close timer outlives it.
 *
 * chat.js's own `close()` sends `session/close` (if the socket is open), closes the socket
 * and clears its timers, but it returns before the socket has closed, and on a client that
 * never got a socket it throws after arming a 60 s keepalive timer whose callback would
 * throw too. This helper waits for an `open()` in progress to settle, skips clients without
 * a socket, calls `close()` and waits for the socket's `close` event. Calling it twice, or
 * after the server closed the socket, is safe. Commands still pending are rejected by
 * chat.js (with `undefined`); their callers must handle that rejection.
 *
 * @param client - a client made by a {@link LegacyModule}
 * @param timeoutMs - how long to wait for the socket to close before failing
 */
export async function closeLegacyClient(client: LegacyClient, timeoutMs = 5_000): Promise<void> {
  const state = clientStates.get(client);
  if (!state) throw new Error("closeLegacyClient: client was not made by loadLegacyClient()");
  await state.opening;
  const socket = state.socket;
  if (!socket) return;
  // A closed socket still gets close(): it clears a keepalive timer re-armed by a command
  // sent after the server closed the connection.
  const closed =
    socket.readyState === WsWebSocket.CLOSED
      ? Promise.resolve()
      : new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await client.close();
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, reject) => {
    timer = realSetTimeout(
      () => reject(new Error(`legacy client socket still open after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([closed, gaveUp]);
  } finally {
    realClearTimeout(timer);
  }
}

/**
 * The raw WebSocket chat.js created for a client's latest `open()`, for tests that need
 * to observe the transport (e.g. its close code). `undefined` before a socket exists.
 *
 * @param client - a client made by a {@link LegacyModule}
 */
export function legacyClientSocket(client: LegacyClient): WsWebSocket | undefined {
  return clientStates.get(client)?.socket;
}
