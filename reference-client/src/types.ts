/**
 * The public types of the client: its options, the values its methods return, and the map
 * of its typed events.
 * @module
 */
import type { ConfabError } from "./errors.js";
import type { WebSocketConstructor } from "./websocket.js";

/** The three signature fields an app's server computes: `s`, `t` (Unix seconds), `n` [SIG-SIGN-1]. */
export interface Signature {
  /** Lowercase hex HMAC-SHA1 of the signed string (spec 06). */
  readonly s: string;
  /** The Unix time in seconds the signature was computed for, an integer. */
  readonly t: number;
  /** A fresh nonce: a valid id (1 to 64 code points, no control characters, no `:`). */
  readonly n: string;
}

/**
 * What a `session/open` or `session/add` signature covers (SIG-SESSION-1). The client asks
 * for one before each such command, on every (re)open: the app's own server signs, so the
 * master key never is in the client [SIG-KEY-1].
 */
export interface SessionAuthRequest {
  /** The app id. */
  readonly appId: string;
  /** The peer the session is for. */
  readonly peerId: string;
  /** The peers the command names (for `add`, those of that command only), as sent. */
  readonly watchPeerIds: readonly string[];
  /** `true` when the session asks to be a super peer: sign with the suffix `:sp` [SIG-SP-3]. */
  readonly superPeer?: boolean;
  /** The command the signature is for. */
  readonly op: "open" | "add";
}

/** What a `room/join`, `room/invite` or `room/kick` signature covers (SIG-GROUP-1). */
export interface GroupAuthRequest {
  /** The app id. */
  readonly appId: string;
  /** The acting peer. */
  readonly peerId: string;
  /** The signed action. */
  readonly action: "join" | "invite" | "kick";
  /** The group, absent for a `join` that creates one. */
  readonly roomId?: string;
  /** The peers an invite or kick names; empty for a join. */
  readonly roomPeerIds: readonly string[];
}

/** Reconnect policy: exponential backoff with full jitter [SESSION-RECONNECT-1]. */
export interface ReconnectOptions {
  /** The cap of the first wait, ms (default 1000): the first wait is random in [0, this). */
  readonly initialDelayMs?: number;
  /** The largest cap of a wait, ms (default 30000). */
  readonly maxDelayMs?: number;
  /** Attempts before the client gives up and closes (default: no limit). */
  readonly maxAttempts?: number;
}

/** The bounded queue of sends made while disconnected. */
export interface OfflineQueueOptions {
  /** Most sends held; a send beyond it is rejected with {@link QueueFullError}. */
  readonly max: number;
}

/**
 * Where the client remembers the ids of the messages it handed to the app, so that a
 * redelivered message is handed at most once [OFFLINE-DEDUP-1]. The default is in memory
 * (bounded, 7 days); an app that wants the guarantee across restarts gives its own
 * (IndexedDB, a file) [OFFLINE-DEDUP-2].
 */
export interface SeenIdStore {
  /** Whether `id` was handed to the app before. */
  has(id: string): boolean;
  /** Records that `id` was handed to the app at `now` (ms). */
  add(id: string, now: number): void;
  /** Forgets `id`: its handling failed, so its redelivery is to be handed again. */
  delete(id: string): void;
}

/** Options of {@link createClient}. */
export interface ClientOptions {
  /** The WebSocket URL to connect to, skipping the router [ROUTER-DIRECT-1]. */
  readonly url?: string;
  /** The HTTP base of a router: `GET {router}/v1/route?appId=…` gives the URL (spec 01, 1.1). */
  readonly router?: string;
  /** The app id: 1 to 64 characters of `[A-Za-z0-9_.-]`. */
  readonly appId: string;
  /** This client's peer id: a valid id (1 to 64 code points, no control characters, no `:`). */
  readonly peerId: string;
  /** The peers to watch from the first open on (presence, and permission to message them). */
  readonly watchPeerIds?: readonly string[];
  /** Signs `session/open` and `session/add`; called again on every (re)open. */
  readonly auth?: (req: SessionAuthRequest) => Promise<Signature>;
  /** Signs `room/join`, `room/invite` and `room/kick`. */
  readonly groupAuth?: (req: GroupAuthRequest) => Promise<Signature>;
  /** Asks to be a super peer (`sp: true`): the app's server decides by signing it. */
  readonly superPeer?: boolean;
  /** Asks the server to echo this peer's messages sent from its other devices (event `echo`). */
  readonly echo?: boolean;
  /** How long a command waits for its reply, ms (default 10000) [TIMEOUT-CLIENT-1]. */
  readonly commandTimeoutMs?: number;
  /** Reconnect policy, or `false` for none (default: reconnect, no attempt limit). */
  readonly reconnect?: ReconnectOptions | false;
  /** Queue sends made while disconnected (bounded), or `false` to reject them (default). */
  readonly offlineQueue?: OfflineQueueOptions | false;
  /** Send a keepalive `{}` after this long without sending, ms (default 60000, at most 180000). */
  readonly keepaliveIntervalMs?: number;
  /** A keepalive unanswered, with nothing received, for this long marks the connection dead, ms (default 10000). */
  readonly deadConnectionMs?: number;
  /** The page's `online`/`offline` events; default `globalThis` when it has `addEventListener`. */
  readonly network?: EventTarget | null;
  /** The WebSocket constructor (default: the global one, else `ws` in Node). */
  readonly WebSocket?: WebSocketConstructor;
  /** `fetch` for the router (default: the global one). */
  readonly fetch?: (
    url: string,
  ) => Promise<{ ok: boolean; status: number; json(): Promise<unknown> }>;
  /** Where handed message ids are remembered (default: in memory, 10000 ids, 7 days). */
  readonly seenIds?: SeenIdStore;
  /** @internal Randomness of the backoff, for tests. */
  readonly random?: () => number;
  /** @internal The first serial `i`, for tests. */
  readonly firstSerial?: number;
  /** @internal The clock (ms), for tests. */
  readonly now?: () => number;
}

/** The states of the client's connection. */
export type ClientState = "idle" | "connecting" | "open" | "reconnecting" | "closed";

/** A message handed to the app. */
export interface Message {
  /** The message id (the sender's `ack` `uid`). */
  readonly id: string;
  /** The text. */
  readonly msg: string;
  /** The sender. */
  readonly fromPeerId: string;
  /** The server's acceptance time, ms. */
  readonly timestamp: number;
  /** `true` when it came from the offline store. */
  readonly offline: boolean;
  /** The group, for a group message. */
  readonly roomId?: string;
  /** The distinct recipients of a peer message, a set [SESSION-LIST-2]. */
  readonly toPeerIds?: readonly string[];
  /** `true` for a transient message. */
  readonly transient?: boolean;
}

/** The result of a send: the server's `ack`. */
export interface SendResult {
  /** The message id. */
  readonly id: string;
  /** The server's acceptance time, ms. */
  readonly t: number;
}

/** Options of `send`. */
export interface SendOptions {
  /** Transient: delivered to the sessions open now only, not stored, no receipt. */
  readonly transient?: boolean;
  /** Ask for a delivery receipt (event `receipt`); single recipient, persistent only. */
  readonly receipt?: boolean;
}

/** Options of `sendToGroup`. */
export interface GroupSendOptions {
  /** Transient: delivered to the members' open sessions only, not stored. */
  readonly transient?: boolean;
}

/** What `queryLogs` pages through: one conversation. */
export type LogsTarget =
  | { readonly peerId: string; readonly roomId?: never; readonly cid?: never }
  | { readonly roomId: string; readonly peerId?: never; readonly cid?: never }
  | { readonly cid: string; readonly peerId?: never; readonly roomId?: never };

/** Options of `queryLogs`. */
export type LogsQueryOptions = LogsTarget & {
  /** Most items to yield in all (default: every item). */
  readonly limit?: number;
  /** Items per page (default 100, at most the server's `pageLimit`). */
  readonly pageSize?: number;
  /** Only items older than this time, ms (exclusive). */
  readonly before?: number;
};

/** One history item, as `queryLogs` yields it. */
export interface LogEntry {
  /** The message id. */
  readonly id: string;
  /** The text. */
  readonly msg: string;
  /** The sender. */
  readonly fromPeerId: string;
  /** Acceptance time, ms. */
  readonly timestamp: number;
  /** The conversation id. */
  readonly cid: string;
  /** The group, for a group message. */
  readonly roomId?: string;
  /** `true` for a message to several peers. */
  readonly multiPeer: boolean;
  /** The wire's `to`: the group, the one recipient, or the conversation id. */
  readonly to: string;
}

/** What a server announces (spec 02, 2.9), with the members this client knows [SESSION-INFO-6]. */
export interface ServerInfo {
  /** The revision of the spec the server implements, e.g. `"1.1"`. */
  readonly revision: string;
  /** Features of Table 10 in force for the app. */
  readonly features: Readonly<Partial<Record<KnownFeature, boolean>>>;
  /** Limits of Table 9 the server applies. */
  readonly limits: Readonly<Partial<Record<KnownLimit, number>>>;
}

/** The features of Table 10 (spec 02). */
export type KnownFeature =
  | "receipts"
  | "offline"
  | "history"
  | "rest-history"
  | "room-query"
  | "room-list"
  | "rest-rooms"
  | "echo"
  | "super-peer"
  | "signatures"
  | "push-hook";

/** The limits of Table 9 (spec 07) that `serverInfo.limits` names. */
export type KnownLimit =
  | "msgBytes"
  | "frameBytes"
  | "idLength"
  | "idsPerArray"
  | "watchPerSession"
  | "sessionsPerConnection"
  | "roomMembers"
  | "offlineCount"
  | "offlineAgeMs"
  | "pageLimit"
  | "pageLimitDefault"
  | "pageBytes"
  | "signatureWindowS"
  | "readTimeoutMs"
  | "loginTimeoutMs"
  | "framesPerSecond"
  | "frameBurst"
  | "watchPerConnection"
  | "historyBytesPerSecond"
  | "historyBurstBytes"
  | "pendingPerApp"
  | "watchPerApp"
  | "sessionsPerApp"
  | "connectionsPerApp"
  | "connectionsPerAddress";

/** A membership event about this peer. */
export interface GroupEvent {
  /** The group. */
  readonly roomId: string;
  /** Who acted: this peer (on another device) or another member. */
  readonly byPeerId: string;
}

/** A membership event about other members. */
export interface GroupMembersEvent extends GroupEvent {
  /** The peers who joined or left, each once. */
  readonly peerIds: readonly string[];
}

/**
 * The client's events and their payloads. Network events follow the names of the source
 * documents' JS SDK (disconnect, offline, online, schedule, retry, reconnect); as
 * `online`/`offline` there name the presence of watched peers (v1), the page's network
 * events are `network:online` and `network:offline`.
 */
export interface ClientEvents {
  /** The state machine moved. */
  state: { readonly from: ClientState; readonly to: ClientState };
  /** A message from another peer, handed once per id [OFFLINE-DEDUP-1]. Return a promise to have the ack wait for it [ACK-CLIENT-4]. */
  message: Message;
  /** A message this peer sent from another device (asked for with `echo: true`) [ECHO-CLIENT-1]. */
  echo: Message;
  /** A delivery receipt for a message sent with `receipt: true`. */
  receipt: { readonly id: string; readonly t: number };
  /** A watched peer's presence changed. */
  presence: { readonly peerId: string; readonly status: "on" | "off" };
  /** Watched peers came online. */
  online: readonly string[];
  /** Watched peers went offline. */
  offline: readonly string[];
  /** This peer became a member by its own join on another device (`byPeerId` is itself). */
  "group:joined": GroupEvent;
  /** Another member added this peer to a group. */
  "group:invited": GroupEvent;
  /** This peer left a group from another device (`byPeerId` is itself). */
  "group:left": GroupEvent;
  /** Another member removed this peer from a group. */
  "group:kicked": GroupEvent;
  /** Other peers joined a group of this peer (`byPeerId` may be this peer, on another device). */
  "group:members-joined": GroupMembersEvent;
  /** Other peers left a group of this peer (`byPeerId` may be this peer, on another device). */
  "group:members-left": GroupMembersEvent;
  /** The connection was lost; the client will reconnect unless told not to. */
  disconnect: { readonly code: number; readonly reason: string };
  /** The page went offline: reconnect attempts pause. */
  "network:offline": undefined;
  /** The page came back online: the client retries at once. */
  "network:online": undefined;
  /** A reconnect attempt is planned; `attempt` counts from 0. */
  schedule: { readonly attempt: number; readonly delayMs: number };
  /** A reconnect attempt starts. */
  retry: { readonly attempt: number };
  /** The session is open again, with its watch list. */
  reconnect: undefined;
  /** The client closed for good: `close()`, a code after which it does not reconnect, or attempts exhausted. */
  close: { readonly code: number; readonly reason: string };
  /** A protocol error not tied to a command, or a failure in the background (a re-watch, a handler). */
  error: ConfabError;
}

/** The name of an event. */
export type ClientEventName = keyof ClientEvents;

/**
 * A listener of an event. What it returns is ignored, except that a `message` or `echo`
 * listener may return a promise: the delivery is acknowledged once it resolves
 * [ACK-CLIENT-4], and not at all if it rejects (the server delivers it again).
 */
export type Listener<E extends ClientEventName> = (payload: ClientEvents[E]) => unknown;
