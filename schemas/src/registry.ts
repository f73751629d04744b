/**
 * The message registry: one entry per message per direction. Everything else derives from
 * it: the JSON Schema files, the validators, the message reference (docs/messages.md) and
 * the fixture coverage test.
 * @module
 */
import type { Static, TObject, TSchema } from "@sinclair/typebox";
import { AckReq, ErrorFrame, HttpError, Keepalive, RouteResponse } from "./messages/control.js";
import { ClientAck, DirectAck, DirectDelivery, DirectSend, Receipt } from "./messages/direct.js";
import { LogsQuery, LogsResult, RestLogsQuery, RestLogsResponse } from "./messages/history.js";
import { PushNotice } from "./messages/push.js";
import {
  RestPeerRooms,
  RestPeerRoomsQuery,
  RestRoomMembers,
  RoomInvite,
  RoomInvited,
  RoomJoin,
  RoomJoined,
  RoomKick,
  RoomKicked,
  RoomLeave,
  RoomLeft,
  RoomList,
  RoomListResult,
  RoomMembersJoined,
  RoomMembersLeft,
  RoomQuery,
  RoomQueryResult,
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
   * the reply is sent when the command carries no `i` (decision D1); `exceptTransient` that
   * a transient `direct` without `i` gets none all the same (TRANSIENT-ACK-1).
   */
  readonly reply?: {
    readonly name: string;
    readonly repliedWithoutSerial: boolean;
    readonly exceptTransient?: true;
  };
  /**
   * For a c2s command: whether it carries a signature (`s`, `t`, `n`) when the app enforces
   * signatures [SIG-ENFORCE-1]. An app that does not enforce them ignores the three fields
   * of these commands [SIG-ENFORCE-3].
   */
  readonly signed: boolean;
  /** The TypeBox schema. */
  readonly schema: TObject;
}

/** A registry entry that keeps its literal direction, name and schema type. */
export type Entry<D extends Direction, N extends string, S extends TObject> = Omit<
  MessageEntry,
  "direction" | "name" | "schema"
> & {
  readonly direction: D;
  readonly name: N;
  readonly schema: S;
};

function entry<const D extends Direction, const N extends string, S extends TObject>(
  direction: D,
  name: N,
  schema: S,
  legacy: boolean,
  reply?: MessageEntry["reply"],
  signed = false,
): Entry<D, N, S> {
  const [cmd, op] = name === "keepalive" ? [undefined, undefined] : name.split("/");
  return {
    name,
    cmd,
    op,
    direction,
    since: 1,
    legacy,
    signed,
    schema,
    ...(reply ? { reply } : {}),
  };
}

const replies = (name: string, repliedWithoutSerial = true) => ({ name, repliedWithoutSerial });
const SIGNED = true;

/**
 * Every message of protocol v1, client→server first. Its static type keeps each entry's
 * name and schema, so the message types ({@link C2SMessages}, {@link S2CMessages}) are
 * derived from it: a message added here is typed everywhere, with nothing else to edit.
 */
export const REGISTRY = [
  entry("c2s", "keepalive", Keepalive, true, replies("keepalive")),
  entry("c2s", "session/open", SessionOpen, true, replies("session/opened"), SIGNED),
  entry("c2s", "session/add", SessionAdd, true, replies("session/added"), SIGNED),
  entry("c2s", "session/remove", SessionRemove, true, replies("session/removed", false)),
  entry("c2s", "session/query", SessionQuery, true, replies("session/query-result")),
  entry("c2s", "session/close", SessionClose, true, replies("session/closed", false)),
  // A transient direct without i gets no ack (decision D1): the one reply decided per frame.
  entry("c2s", "direct", DirectSend, true, { ...replies("ack"), exceptTransient: true }),
  entry("c2s", "ack", ClientAck, true),
  entry("c2s", "room/join", RoomJoin, true, replies("room/joined"), SIGNED),
  entry("c2s", "room/invite", RoomInvite, true, replies("room/invited"), SIGNED),
  entry("c2s", "room/kick", RoomKick, true, replies("room/kicked"), SIGNED),
  entry("c2s", "room/leave", RoomLeave, true, replies("room/left")),
  entry("c2s", "room/query", RoomQuery, false, replies("room/query-result")),
  entry("c2s", "room/list", RoomList, false, replies("room/list-result")),
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
  entry("s2c", "room/query-result", RoomQueryResult, false),
  entry("s2c", "room/list-result", RoomListResult, false),
  entry("s2c", "ackreq", AckReq, false),
  entry("s2c", "logs/result", LogsResult, false),
  entry("s2c", "error", ErrorFrame, false),
] as const satisfies readonly MessageEntry[];

/** Every entry of {@link REGISTRY}, as a union of their literal types. */
export type Entries = (typeof REGISTRY)[number];

/** The schema type of each message of a direction, by registry name. */
export type SchemasOf<D extends Direction> = {
  [E in Entries as E["direction"] extends D ? E["name"] : never]: E["schema"];
};

/** The schema type of every client→server message, by name. */
export type C2SSchemas = SchemasOf<"c2s">;
/** The schema type of every server→client message, by name. */
export type S2CSchemas = SchemasOf<"s2c">;

/** Client→server messages by registry name, typed by their schemas. */
export type C2SMessages = { [K in keyof C2SSchemas]: Static<C2SSchemas[K]> };

/** Server→client messages by registry name, typed by their schemas. */
export type S2CMessages = { [K in keyof S2CSchemas]: Static<S2CSchemas[K]> };

/** Schemas of the HTTP endpoints (not WebSocket frames), keyed by file name. */
export const HTTP_SCHEMAS: Readonly<Record<string, TSchema>> = {
  "route-response": RouteResponse,
  "logs-query": RestLogsQuery,
  "logs-response": RestLogsResponse,
  // GET /1.1/rtm/rooms/{roomId}/members and GET /1.1/rtm/peers/{peerId}/rooms (spec 04, 4.7).
  "room-members-response": RestRoomMembers,
  "peer-rooms-query": RestPeerRoomsQuery,
  "peer-rooms-response": RestPeerRooms,
  error: HttpError,
  // The body of a push-hook POST, server to the app's endpoint [OFFLINE-PUSH-6].
  "push-notice": PushNotice,
};

const BY_NAME = new Map<string, MessageEntry>(REGISTRY.map((e) => [`${e.direction}:${e.name}`, e]));

/** Looks up a registry entry by direction and name (`session/open`, `direct`, ...). */
export function findEntry(direction: Direction, name: string): MessageEntry | undefined {
  return BY_NAME.get(`${direction}:${name}`);
}

/**
 * The registry name a frame claims, `cmd/op` or `cmd`, without trusting its types: a `cmd`
 * that is not a string yields `undefined` rather than running its `toString`
 * [FRAME-SCHEMA-1].
 */
export function frameName(frame: Readonly<Record<string, unknown>>): string | undefined {
  if (!Object.hasOwn(frame, "cmd")) return "keepalive";
  const { cmd, op } = frame;
  if (typeof cmd !== "string") return undefined;
  return typeof op === "string" ? `${cmd}/${op}` : cmd;
}

/**
 * Whether a client command gets a reply when it carries no `i`: the legacy client awaits
 * replies to some commands only and matches them by order (Table 1 of spec 01, decision
 * D1). Commands the registry does not know are answered (with an error) [SERIAL-LEGACY-2].
 *
 * @example
 * answeredWithoutSerial({ cmd: "ack", ids: ["m1"] })              // false
 * answeredWithoutSerial({ cmd: "direct", transient: true, msg: "" }) // false
 * answeredWithoutSerial({ cmd: "session", op: "open" })           // true
 */
export function answeredWithoutSerial(frame: Readonly<Record<string, unknown>>): boolean {
  const name = frameName(frame);
  if (name === undefined) return true;
  // A command without op keeps its rule whatever op a frame adds (`{cmd:"ack", op:…}` is
  // still an ack to the legacy client, which awaits nothing for it).
  const e = findEntry("c2s", name) ?? findEntry("c2s", String(frame.cmd));
  if (!e) return true;
  if (!e.reply?.repliedWithoutSerial) return false;
  return !(e.reply.exceptTransient === true && frame.transient === true);
}

/** File-system-safe name of an entry: `session/open` → `session-open`. */
export function fileName(name: string): string {
  return name.replace("/", "-");
}
