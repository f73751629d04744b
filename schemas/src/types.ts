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

/** `Omit` distributed over each member of a union, so that the union stays discriminated. */
export type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A server frame before the server addresses it: everything but the `peerId` of the
 * session it goes to and the `i` of the command it answers, which the sender adds
 * [FRAME-PEERID-1, SERIAL-REPLY-1].
 */
export type S2CBody = OmitEach<S2CEvent, "peerId" | "i">;

/** Every server frame but the keepalive: the frames that carry `cmd`. */
export type S2CEvent = S2CMessages[Exclude<keyof S2CMessages, "keepalive">];

/**
 * The keepalive as a server sends it: exactly `{}` [KEEPALIVE-REPLY-1]. (The schema's
 * static type is `{}`, which TypeScript lets any object satisfy; this one it does not.)
 */
export type KeepaliveReply = { readonly cmd?: never };

/** Any frame a server sends, typed so that an object the registry does not know is refused. */
export type S2CFrame = S2CEvent | KeepaliveReply;
