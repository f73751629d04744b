/**
 * Group (room) family: create/join, invite, kick, leave, the membership events, and the
 * membership queries over the socket and REST (spec/04-groups.md).
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import {
  CommandEnvelope,
  EventEnvelope,
  IdList,
  PeerId,
  RoomId,
  SignatureFields,
} from "../primitives.js";

const memberList = (description: string, minItems = 0) => IdList(PeerId, description, minItems);

/** c2s `room/join`: joins a group, or creates one when `roomId` is absent. */
export const RoomJoin = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("join"),
    ...CommandEnvelope,
    roomId: Type.Optional(RoomId),
    ...SignatureFields,
    transient: Type.Optional(
      Type.Literal(false, {
        description: "Open groups (transient: true) are not part of v1 and are rejected.",
      }),
    ),
  },
  { description: "Joins the group roomId; without roomId, creates a new group." },
);

/** c2s `room/invite`: adds peers to a group. */
export const RoomInvite = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("invite"),
    ...CommandEnvelope,
    roomId: RoomId,
    roomPeerIds: memberList("Peers to add.", 1),
    ...SignatureFields,
  },
  { description: "Adds peers to a group the caller is a member of." },
);

/** c2s `room/kick`: removes peers from a group. */
export const RoomKick = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("kick"),
    ...CommandEnvelope,
    roomId: RoomId,
    roomPeerIds: memberList("Peers to remove.", 1),
    ...SignatureFields,
  },
  { description: "Removes peers from a group the caller is a member of." },
);

/** c2s `room/leave`: leaves a group. Never signed. */
export const RoomLeave = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("leave"),
    ...CommandEnvelope,
    roomId: RoomId,
  },
  { description: "Leaves a group. Never signed." },
);

/** c2s `room/query`: asks a group's members; only a member may ask [ROOM-QUERY-1]. */
export const RoomQuery = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("query"),
    ...CommandEnvelope,
    roomId: RoomId,
  },
  { description: "Asks the members of a group the caller is a member of. Not signed." },
);

/** s2c `room/query-result`: the members of a group, answering `room/query`. */
export const RoomQueryResult = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("query-result"),
    ...EventEnvelope,
    roomId: RoomId,
    roomPeerIds: IdList(PeerId, "Every member of the group, each once, the caller included."),
  },
  { description: "The members of a group when the query was handled." },
);

/** Default page size of a list of a peer's groups, over the socket and REST [ROOM-LIST-2]. */
export const ROOM_LIST_DEFAULT_LIMIT = 100;
/**
 * Largest page size of a list of a peer's groups [ROOM-LIST-3]: the id-array bound of one
 * frame (LIMIT-ARRAY-1), so that a page always fits in one `room/list-result`.
 */
export const ROOM_LIST_MAX_LIMIT = 500;

/**
 * The cursor and page size of a list of a peer's groups, shared by `room/list` and
 * `GET /1.1/rtm/peers/{peerId}/rooms` so that both page alike (decision D19).
 */
const roomPageFields = {
  // RoomId's rules (and any annotation it carries) with a description of its own here.
  after: Type.Optional(
    Type.Unsafe<string>({
      ...RoomId,
      description:
        "Cursor: the last roomId of the previous page; only groups whose id sorts after it (bytewise) are listed. Need not name a group.",
    }),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: ROOM_LIST_MAX_LIMIT,
      description: `Page size, default ${ROOM_LIST_DEFAULT_LIMIT}, at most ${ROOM_LIST_MAX_LIMIT}.`,
    }),
  ),
};

/** The page of group ids and whether more follow, shared by the socket reply and REST. */
const roomPageResult = {
  roomIds: IdList(
    RoomId,
    "Ids of groups the peer is a member of, each once, in ascending byte order, after the cursor.",
  ),
  more: Type.Boolean({
    description: "true when more groups follow the last id of roomIds: ask again with it as after.",
  }),
};

/** c2s `room/list`: asks which groups the caller is a member of, one page [ROOM-LIST-1]. */
export const RoomList = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("list"),
    ...CommandEnvelope,
    ...roomPageFields,
  },
  {
    description:
      "Asks one page of the ids of the groups the caller is a member of, in ascending order. Not signed.",
  },
);

/** s2c `room/list-result`: one page of the caller's groups, answering `room/list`. */
export const RoomListResult = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("list-result"),
    ...EventEnvelope,
    ...roomPageResult,
  },
  {
    description:
      "Reply to room/list: one page of the caller's groups when the command was handled.",
  },
);

/** Response body of `GET /1.1/rtm/rooms/{roomId}/members` [REST-ROOMS-5]. */
export const RestRoomMembers = Type.Object(
  {
    roomId: RoomId,
    roomPeerIds: IdList(PeerId, "Every member of the group, each once."),
  },
  { description: "Response of GET /1.1/rtm/rooms/{roomId}/members: the members of a group." },
);

/** Query parameters of `GET /1.1/rtm/peers/{peerId}/rooms` (strings on the wire, parsed). */
export const RestPeerRoomsQuery = Type.Object(roomPageFields, {
  description: "Query of GET /1.1/rtm/peers/{peerId}/rooms: the cursor and page size of room/list.",
});

/** Response body of `GET /1.1/rtm/peers/{peerId}/rooms` [REST-ROOMS-7]. */
export const RestPeerRooms = Type.Object(
  {
    peerId: PeerId,
    ...roomPageResult,
  },
  { description: "Response of GET /1.1/rtm/peers/{peerId}/rooms: one page of a peer's groups." },
);

/** s2c `room/joined`: the caller joined/created a group, or was invited into one. */
export const RoomJoined = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("joined"),
    ...EventEnvelope,
    roomId: RoomId,
    byPeerId: PeerId,
  },
  {
    description:
      "This peer is now a member: reply to its own join (byPeerId = itself) or an invitation (byPeerId = inviter).",
  },
);

/** s2c `room/invited`: the reply to `room/invite`. */
export const RoomInvited = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("invited"),
    ...EventEnvelope,
    roomId: RoomId,
    roomPeerIds: memberList("The peers actually added (already-members are left out)."),
  },
  { description: "Reply to room/invite." },
);

/** s2c `room/kicked`: the reply to `room/kick`. */
export const RoomKicked = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("kicked"),
    ...EventEnvelope,
    roomId: RoomId,
    roomPeerIds: memberList("The peers actually removed (non-members are left out)."),
  },
  { description: "Reply to room/kick." },
);

/** s2c `room/left`: the caller left a group, or was kicked from it. */
export const RoomLeft = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("left"),
    ...EventEnvelope,
    roomId: RoomId,
    byPeerId: PeerId,
  },
  {
    description:
      "This peer is no longer a member: reply to its own leave (byPeerId = itself) or a kick (byPeerId = kicker).",
  },
);

/** s2c `room/members-joined`: other peers joined a group this peer is in. */
export const RoomMembersJoined = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("members-joined"),
    ...EventEnvelope,
    roomId: RoomId,
    roomPeerIds: memberList("The peers who joined.", 1),
    byPeerId: PeerId,
  },
  { description: "Other peers joined the group (by joining themselves, or invited by byPeerId)." },
);

/** s2c `room/members-left`: other peers left a group this peer is in. */
export const RoomMembersLeft = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("members-left"),
    ...EventEnvelope,
    roomId: RoomId,
    roomPeerIds: memberList("The peers who left.", 1),
    byPeerId: PeerId,
  },
  { description: "Other peers left the group (by leaving themselves, or kicked by byPeerId)." },
);

/** s2c `room/reject`: historical; defined for compatibility, not sent by Confab v1 servers. */
export const RoomReject = Type.Object(
  {
    cmd: Type.Literal("room"),
    op: Type.Literal("reject"),
    ...EventEnvelope,
    roomId: RoomId,
    byPeerId: Type.Optional(PeerId),
  },
  {
    description:
      "Historical 'self rejected' event. Confab v1 servers do not send it (they send error); clients treat it as a failed join.",
  },
);

/** Static type of the RoomJoin schema. */
export type RoomJoin = Static<typeof RoomJoin>;
/** Static type of the RoomInvite schema. */
export type RoomInvite = Static<typeof RoomInvite>;
/** Static type of the RoomKick schema. */
export type RoomKick = Static<typeof RoomKick>;
/** Static type of the RoomLeave schema. */
export type RoomLeave = Static<typeof RoomLeave>;
/** Static type of the RoomJoined schema. */
export type RoomJoined = Static<typeof RoomJoined>;
/** Static type of the RoomInvited schema. */
export type RoomInvited = Static<typeof RoomInvited>;
/** Static type of the RoomKicked schema. */
export type RoomKicked = Static<typeof RoomKicked>;
/** Static type of the RoomLeft schema. */
export type RoomLeft = Static<typeof RoomLeft>;
/** Static type of the RoomMembersJoined schema. */
export type RoomMembersJoined = Static<typeof RoomMembersJoined>;
/** Static type of the RoomMembersLeft schema. */
export type RoomMembersLeft = Static<typeof RoomMembersLeft>;
/** Static type of the RoomReject schema. */
export type RoomReject = Static<typeof RoomReject>;
/** Static type of the RoomQuery schema. */
export type RoomQuery = Static<typeof RoomQuery>;
/** Static type of the RoomQueryResult schema. */
export type RoomQueryResult = Static<typeof RoomQueryResult>;
/** Static type of the RoomList schema. */
export type RoomList = Static<typeof RoomList>;
/** Static type of the RoomListResult schema. */
export type RoomListResult = Static<typeof RoomListResult>;
/** Static type of the RestRoomMembers schema. */
export type RestRoomMembers = Static<typeof RestRoomMembers>;
/** Static type of the RestPeerRoomsQuery schema. */
export type RestPeerRoomsQuery = Static<typeof RestPeerRoomsQuery>;
/** Static type of the RestPeerRooms schema. */
export type RestPeerRooms = Static<typeof RestPeerRooms>;
