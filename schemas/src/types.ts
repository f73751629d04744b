/**
 * Static TypeScript types of every message, named like their schemas.
 * @module
 */
import type { AckReq, ErrorFrame, Keepalive } from "./messages/control.js";
import type {
  ClientAck,
  DirectAck,
  DirectDelivery,
  DirectSend,
  Receipt,
} from "./messages/direct.js";
import type { LogItem, LogsQuery, LogsResult } from "./messages/history.js";
import type {
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
import type {
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

/** Client→server messages by registry name. */
export interface C2SMessages {
  keepalive: Keepalive;
  "session/open": SessionOpen;
  "session/add": SessionAdd;
  "session/remove": SessionRemove;
  "session/query": SessionQuery;
  "session/close": SessionClose;
  direct: DirectSend;
  ack: ClientAck;
  "room/join": RoomJoin;
  "room/invite": RoomInvite;
  "room/kick": RoomKick;
  "room/leave": RoomLeave;
  logs: LogsQuery;
}

/** Server→client messages by registry name. */
export interface S2CMessages {
  keepalive: Keepalive;
  "session/opened": SessionOpened;
  "session/added": SessionAdded;
  "session/removed": SessionRemoved;
  "session/query-result": SessionQueryResult;
  "session/closed": SessionClosed;
  presence: Presence;
  direct: DirectDelivery;
  ack: DirectAck;
  rcp: Receipt;
  "room/joined": RoomJoined;
  "room/invited": RoomInvited;
  "room/kicked": RoomKicked;
  "room/left": RoomLeft;
  "room/members-joined": RoomMembersJoined;
  "room/members-left": RoomMembersLeft;
  "room/reject": RoomReject;
  ackreq: AckReq;
  "logs/result": LogsResult;
  error: ErrorFrame;
}

/** Any client→server message. */
export type C2SMessage = C2SMessages[keyof C2SMessages];
/** Any server→client message. */
export type S2CMessage = S2CMessages[keyof S2CMessages];
export type { LogItem };
