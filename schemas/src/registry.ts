/**
 * The message registry: one entry per message per direction. Everything else derives from
 * it: the JSON Schema files, the validators, the message reference (docs/messages.md) and
 * the fixture coverage test.
 * @module
 */
import type { TObject, TSchema } from "@sinclair/typebox";
import { AckReq, ErrorFrame, HttpError, Keepalive, RouteResponse } from "./messages/control.js";
import { ClientAck, DirectAck, DirectDelivery, DirectSend, Receipt } from "./messages/direct.js";
import { LogsQuery, LogsResult, RestLogsQuery, RestLogsResponse } from "./messages/history.js";
import {
  RoomInvite,
  RoomInvited,
  RoomJoin,
  RoomJoined,
  RoomKick,
  RoomKicked,
  RoomLeave,
  RoomLeft,
  RoomMembersJoined,
  RoomMembersLeft,
  RoomReject,
} from "./messages/room.js";
import {
  Presence,
  SessionAdd,
  SessionAdded,
  SessionClose,
  SessionClosed,
  SessionOpen,
  SessionOpened,
  SessionQuery,
  SessionQueryResult,
  SessionRemove,
  SessionRemoved,
} from "./messages/session.js";

/** Who sends a frame: `c2s` client→server (consumed by servers), `s2c` server→client. */
export type Direction = "c2s" | "s2c";

/** The two directions, in a fixed order. */
export const DIRECTIONS: readonly Direction[] = ["c2s", "s2c"];

/** One message of the protocol in one direction. */
export interface MessageEntry {
  /** `cmd/op`, or `cmd` for commands without op, or `keepalive`; unique per direction. */
  readonly name: string;
  /** The `cmd` field, or `undefined` for the keepalive (which has none). */
  readonly cmd: string | undefined;
  /** The `op` field, if the message has one. */
  readonly op: string | undefined;
  /** Who sends it. */
  readonly direction: Direction;
  /** Protocol version that introduced it. */
  readonly since: 1;
  /** Whether the legacy client lean-cloud-chat@1.0.4 sends (c2s) or expects (s2c) it. */
  readonly legacy: boolean;
  /**
   * For a c2s command: the s2c message that answers it. `repliedWithoutSerial` says whether
   * the reply is sent when the command carries no `i` (decision D1).
   */
  readonly reply?: { readonly name: string; readonly repliedWithoutSerial: boolean };
  /** The TypeBox schema. */
  readonly schema: TObject;
}

function entry(
  direction: Direction,
  name: string,
  schema: TObject,
  legacy: boolean,
  reply?: MessageEntry["reply"],
): MessageEntry {
  const [cmd, op] = name === "keepalive" ? [undefined, undefined] : name.split("/");
  return { name, cmd, op, direction, since: 1, legacy, schema, ...(reply ? { reply } : {}) };
}

const replies = (name: string, repliedWithoutSerial = true) => ({ name, repliedWithoutSerial });

/** Every message of protocol v1, client→server first. */
export const REGISTRY: readonly MessageEntry[] = [
  entry("c2s", "keepalive", Keepalive, true, replies("keepalive")),
  entry("c2s", "session/open", SessionOpen, true, replies("session/opened")),
  entry("c2s", "session/add", SessionAdd, true, replies("session/added")),
  entry("c2s", "session/remove", SessionRemove, true, replies("session/removed", false)),
  entry("c2s", "session/query", SessionQuery, true, replies("session/query-result")),
  entry("c2s", "session/close", SessionClose, true, replies("session/closed", false)),
  // A transient direct without i gets no ack (decision D1); the server decides per frame.
  entry("c2s", "direct", DirectSend, true, replies("ack")),
  entry("c2s", "ack", ClientAck, true),
  entry("c2s", "room/join", RoomJoin, true, replies("room/joined")),
  entry("c2s", "room/invite", RoomInvite, true, replies("room/invited")),
  entry("c2s", "room/kick", RoomKick, true, replies("room/kicked")),
  entry("c2s", "room/leave", RoomLeave, true, replies("room/left")),
  entry("c2s", "logs", LogsQuery, false, replies("logs/result")),

  entry("s2c", "keepalive", Keepalive, true),
  entry("s2c", "session/opened", SessionOpened, true),
  entry("s2c", "session/added", SessionAdded, true),
  entry("s2c", "session/removed", SessionRemoved, false),
  entry("s2c", "session/query-result", SessionQueryResult, true),
  entry("s2c", "session/closed", SessionClosed, false),
  entry("s2c", "presence", Presence, true),
  entry("s2c", "direct", DirectDelivery, true),
  entry("s2c", "ack", DirectAck, true),
  entry("s2c", "rcp", Receipt, false),
  entry("s2c", "room/joined", RoomJoined, true),
  entry("s2c", "room/invited", RoomInvited, true),
  entry("s2c", "room/kicked", RoomKicked, true),
  entry("s2c", "room/left", RoomLeft, true),
  entry("s2c", "room/members-joined", RoomMembersJoined, true),
  entry("s2c", "room/members-left", RoomMembersLeft, true),
  entry("s2c", "room/reject", RoomReject, false),
  entry("s2c", "ackreq", AckReq, false),
  entry("s2c", "logs/result", LogsResult, false),
  entry("s2c", "error", ErrorFrame, false),
];

/** Schemas of the HTTP endpoints (not WebSocket frames), keyed by file name. */
export const HTTP_SCHEMAS: Readonly<Record<string, TSchema>> = {
  "route-response": RouteResponse,
  "logs-query": RestLogsQuery,
  "logs-response": RestLogsResponse,
  error: HttpError,
};

/** Looks up a registry entry by direction and name (`session/open`, `direct`, ...). */
export function findEntry(direction: Direction, name: string): MessageEntry | undefined {
  return REGISTRY.find((e) => e.direction === direction && e.name === name);
}

/** File-system-safe name of an entry: `session/open` → `session-open`. */
export function fileName(name: string): string {
  return name.replace("/", "-");
}
