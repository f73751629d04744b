/**
 * The protocol core's I/O vocabulary. The core never touches sockets or clocks: the adapter
 * passes frames and the current time in, and carries the returned outputs out.
 * @module
 */
import type {
  ErrorSpec,
  LogItem,
  PushNotice,
  RestPeerRooms,
  RestRoomMembers,
  S2CFrame,
  ServerInfo,
} from "@confab/protocol";
import type { HistoryQuery, StoredMessage } from "../store/store.js";

/** Identifies one WebSocket connection; chosen by the adapter. */
export type ConnId = number;

/**
 * Something the adapter must do. Outputs are carried out in order, which keeps replies in
 * the order of their commands [SERIAL-ORDER-1]. A `send` frame is one JSON object, sent as
 * one text message [FRAME-TEXT-1, FRAME-BINARY-1]; a `close` carries a code of
 * spec/08-errors.md and the code's name as reason [ERROR-CLOSE-1, ERROR-CLOSE-3]. A
 * `notify` asks for an offline notification to the app's push hook; like frames, it is
 * released only after the turn's commit, and never holds back the frames of the turn
 * [OFFLINE-PUSH-4, OFFLINE-PUSH-11].
 */
export type Output =
  | {
      readonly type: "send";
      readonly conn: ConnId;
      /** A server frame of the registry, typed by it. */
      readonly frame: Readonly<S2CFrame>;
      /**
       * `JSON.stringify(frame)`, when the core has it already: a body sent to many sessions
       * is serialised once (issue 11). The adapter sends it as it is.
       */
      readonly text?: string;
    }
  | {
      readonly type: "close";
      readonly conn: ConnId;
      readonly code: number;
      readonly reason: string;
    }
  | NotifyOutput;

/**
 * An offline notification for an app's push hook [OFFLINE-PUSH-2]: the core decides that
 * one is due and what it says; the adapter signs and POSTs it (spec/03-messages.md 3.10).
 */
export interface NotifyOutput {
  readonly type: "notify";
  /** The app whose hook is notified. */
  readonly appId: string;
  /** The body of the POST, as the `push-notice` schema defines it. */
  readonly notice: Readonly<PushNotice>;
}

/** What the adapter knows about a new connection. */
export interface ConnectionInfo {
  /** The peer's address, for logs. */
  readonly remoteAddress?: string | undefined;
  /** The handshake's `Origin` header, checked when the connection binds to an app [FRAME-ORIGIN-2]. */
  readonly origin?: string | undefined;
}

/**
 * Result of a REST history query, in protocol terms: the page, or the error of Table 7
 * that refuses it. The HTTP adapter maps the error to an HTTP status.
 */
export type RestLogsResult =
  | {
      readonly ok: true;
      readonly items: readonly LogItem[];
      /**
       * Whether the byte bound ended the page before `limit` items, so older items match:
       * the adapter sends `X-Confab-More: true` [LOGS-BYTES-1, REST-MORE-1].
       */
      readonly more?: boolean | undefined;
    }
  | {
      readonly ok: false;
      readonly error: ErrorSpec;
      readonly detail: string;
      /** Seconds after which a request refused by the history rate may succeed [REST-RATE-1]. */
      readonly retryAfterS?: number | undefined;
    };

/** What the HTTP adapter knows about a REST request besides its app, key and query. */
export interface RestRequest {
  /** The server clock, ms: the history rate refills with it [LIMIT-LOGS-RATE-1]. */
  readonly now: number;
  /** The client's address: the history rate is counted per address [REST-RATE-1]. */
  readonly remoteAddress?: string | undefined;
}

/**
 * A REST request the core refused: the error of Table 7 that refuses it, which the HTTP
 * adapter maps to an HTTP status, and a human-readable detail.
 */
export interface RestRefusal {
  readonly ok: false;
  readonly error: ErrorSpec;
  readonly detail: string;
}

/** Result of `GET /1.1/rtm/rooms/{roomId}/members`: the body, or why not [REST-ROOMS-5]. */
export type RestRoomMembersResult =
  | { readonly ok: true; readonly body: RestRoomMembers }
  | RestRefusal;

/** Result of `GET /1.1/rtm/peers/{peerId}/rooms`: the page, or why not [REST-ROOMS-7]. */
export type RestPeerRoomsResult = { readonly ok: true; readonly body: RestPeerRooms } | RestRefusal;

/** A significant event, for the JSON log. */
export interface LogEvent {
  readonly event: string;
  readonly [field: string]: unknown;
}

/** The protocol engine as the adapter sees it. */
export interface ProtocolEngine {
  /** A WebSocket connection was accepted. */
  connect(conn: ConnId, now: number, info?: ConnectionInfo): Output[];
  /** A text frame arrived (already decoded as UTF-8). `bytes` is its size on the wire. */
  receiveText(conn: ConnId, text: string, bytes: number, now: number): Output[];
  /** A binary frame arrived: not part of the protocol, the connection closes [FRAME-BINARY-2]. */
  receiveBinary(conn: ConnId, bytes: number, now: number): Output[];
  /** A WebSocket ping (or pong) arrived: counts as activity for the read timeout [TIMEOUT-READ-1]. */
  activity(conn: ConnId, now: number): void;
  /** The connection is gone (closed by either side): ends its sessions [SESSION-END-1]. */
  disconnect(conn: ConnId, now: number): Output[];
  /** Timers: read and login timeouts [TIMEOUT-READ-1, TIMEOUT-LOGIN-1]. Call about once a second. */
  tick(now: number): Output[];
  /**
   * `GET /1.1/rtm/messages/logs`: the app, the master key and the query as JSON values
   * (the HTTP adapter turns the query string's text into integers where the schema wants
   * them), checked against the `logs-query` schema [REST-AUTH-1, REST-PARAM-1], then
   * against the history rate of the request's address [REST-RATE-1]. The HTTP adapter
   * always passes `request`; a caller without one (a test, a tool in the same process) is
   * not metered.
   */
  restLogs(
    appId: string | undefined,
    masterKey: string | undefined,
    query: Readonly<Record<string, unknown>>,
    request?: RestRequest,
  ): RestLogsResult;
  /**
   * `GET /1.1/rtm/rooms/{roomId}/members`: the app and master key as for
   * {@link ProtocolEngine.restLogs} [REST-ROOMS-1, REST-ROOMS-2], then the group id of the
   * path, percent-decoded by the adapter, or `undefined` when the segment is not valid
   * percent-encoded UTF-8 [REST-ROOMS-3], then the group [REST-ROOMS-6], in that order
   * [REST-ROOMS-4].
   */
  restRoomMembers(
    appId: string | undefined,
    masterKey: string | undefined,
    roomId: string | undefined,
  ): RestRoomMembersResult;
  /**
   * `GET /1.1/rtm/peers/{peerId}/rooms`: like {@link ProtocolEngine.restRoomMembers} for the
   * app, the key and the peer id of the path; `query` is the query string as JSON values,
   * checked against the `peer-rooms-query` schema [REST-ROOMS-3, REST-ROOMS-7].
   */
  restPeerRooms(
    appId: string | undefined,
    masterKey: string | undefined,
    peerId: string | undefined,
    query: Readonly<Record<string, unknown>>,
  ): RestPeerRoomsResult;
  /**
   * Whether an app id is served: well-formed [LIMIT-APPID-1], known (or development mode),
   * and not disabled. The router answers 404 otherwise.
   */
  knowsApp(appId: string): boolean;
  /**
   * The announcement the router adds to its answer for `appId` [ROUTER-INFO-1], as
   * `session/opened` carries it [SESSION-INFO-1]; `undefined` when the app is not served.
   * Optional: an engine without it makes the router answer without `serverInfo`, which a
   * client must accept (the field is optional on the wire).
   */
  serverInfo?(appId: string): ServerInfo | undefined;
  /** Number of open connections and sessions (for /healthz). */
  stats(): { connections: number; sessions: number };
  /** Drains buffered log events. */
  drainLog(): LogEvent[];
}

/** The store types the core hands to the adapter, re-exported for its convenience. */
export type { HistoryQuery, StoredMessage };
