/**
 * The protocol core's I/O vocabulary. The core never touches sockets or clocks: the adapter
 * passes frames and the current time in, and carries the returned outputs out.
 * @module
 */
import type { HistoryQuery, StoredMessage } from "../store/store.js";

/** Identifies one WebSocket connection; chosen by the adapter. */
export type ConnId = number;

/** Something the adapter must do. Outputs are carried out in order. */
export type Output =
  | {
      readonly type: "send";
      readonly conn: ConnId;
      readonly frame: Readonly<Record<string, unknown>>;
    }
  | {
      readonly type: "close";
      readonly conn: ConnId;
      readonly code: number;
      readonly reason: string;
    };

/** What the adapter knows about a new connection. */
export interface ConnectionInfo {
  readonly remoteAddress?: string | undefined;
  readonly origin?: string | undefined;
}

/** Result of a REST history query. */
export type RestLogsResult =
  | { readonly ok: true; readonly items: readonly Record<string, unknown>[] }
  | { readonly ok: false; readonly status: number; readonly code: number; readonly error: string };

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
  /** A binary frame arrived: not part of the protocol. */
  receiveBinary(conn: ConnId, bytes: number, now: number): Output[];
  /** A WebSocket ping (or pong) arrived: counts as activity for the read timeout. */
  activity(conn: ConnId, now: number): void;
  /** The connection is gone (closed by either side): ends its sessions. */
  disconnect(conn: ConnId, now: number): Output[];
  /** Timers: read and login timeouts. Call about once a second. */
  tick(now: number): Output[];
  /** `GET /1.1/rtm/messages/logs`, after the adapter parsed the query string. */
  restLogs(
    appId: string | undefined,
    masterKey: string | undefined,
    query: Record<string, string | undefined>,
  ): RestLogsResult;
  /** Whether an app id is served (router answers 404 otherwise). */
  knowsApp(appId: string): boolean;
  /** Number of open connections and sessions (for /healthz). */
  stats(): { connections: number; sessions: number };
  /** Drains buffered log events. */
  drainLog(): LogEvent[];
}

export type { HistoryQuery, StoredMessage };
