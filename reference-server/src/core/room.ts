/**
 * Group family handlers: create/join, invite, kick, leave and the events each session sees
 * (spec/04-groups.md, decision D8), and the membership queries (`room/query`, `room/list`,
 * and the pages the REST endpoints share with them, decision D19). Membership is persistent (in the store); events are not
 * stored (ROOM-FANOUT-8).
 *
 * Every handler runs its checks in the order of ERROR-ORDER-1 (open session 4105, then
 * signature 4102, then the command's own rules: 4404, 4401, 4403) and changes nothing and
 * emits nothing before the last check passed, so a failed command leaves no trace but its
 * error frame (ERROR-NOEFFECT-1) and, when its signature verified, its nonce (SIG-NONCE-2).
 * @module
 */
import type {
  RoomInvite,
  RoomJoin,
  RoomKick,
  RoomLeave,
  RoomList,
  RoomQuery,
} from "@confab/protocol";
import { ERRORS, ROOM_LIST_DEFAULT_LIMIT, type S2CBody, uniqueIds } from "@confab/protocol";
import type { Store } from "../store/store.js";
import type { CommandContext, Handlers } from "./context.js";
import { verifyGroupSignature } from "./signature.js";

/** A frame body, before `peerId` (and the reply's `i`) are added. */
/** A group event before it is addressed to a session. */
type Frame = S2CBody;

/** The alphabet and length of a server-made group id (ROOM-ID-1). */
const ROOM_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** The shape of a conversation id of peers, which a group id must never have (ROOM-ID-2). */
const PEER_CONVERSATION_ID = /^[0-9a-f]{32}$/;
/** How many fresh ids to try before giving up with 4200 (a collision is astronomically rare). */
const ROOM_ID_ATTEMPTS = 16;

/**
 * A new group id: of the right alphabet (ROOM-ID-1), not shaped like a conversation id of
 * peers (ROOM-ID-2), and never used by a group of the app before (ROOM-ID-1; groups are
 * never deleted, ROOM-EMPTY-1, so "exists" covers "has had").
 */
function freshRoomId(ctx: CommandContext): string {
  for (let attempt = 0; attempt < ROOM_ID_ATTEMPTS; attempt++) {
    const id = ctx.services.ids.roomId();
    if (!ROOM_ID.test(id) || PEER_CONVERSATION_ID.test(id)) continue;
    if (!ctx.storeWork("read the groups", () => ctx.store.roomExists(ctx.appConfig.appId, id))) {
      return id;
    }
  }
  // ERROR-INTERNAL-1: our own failure; nothing has changed yet.
  return ctx.fail(ERRORS.INTERNAL_ERROR, "could not make a fresh group id");
}

/** The members of an existing group, or error 4404 when `roomId` names no group (ROOM-UNKNOWN-1). */
function membersOf(ctx: CommandContext, roomId: string): string[] {
  const appId = ctx.appConfig.appId;
  const members = ctx.storeWork("read the group", () =>
    ctx.store.roomExists(appId, roomId) ? ctx.store.members(appId, roomId) : undefined,
  );
  if (members === undefined) ctx.fail(ERRORS.ROOM_NOT_FOUND, `no group ${roomId}`);
  return members;
}

/**
 * The members of a group the caller belongs to: 4404 for an unknown group, then 4401 for a
 * non-member (ROOM-UNKNOWN-1, ROOM-MEMBER-1, in the order of ERROR-ORDER-1).
 */
function membersAsMember(ctx: CommandContext, roomId: string): string[] {
  const members = membersOf(ctx, roomId);
  if (!members.includes(ctx.peerId)) {
    ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `${ctx.peerId} is not a member of ${roomId}`);
  }
  return members;
}

/** Fails with 4403 when the group would have more than the member limit (ROOM-LIMIT-1). */
function checkLimit(ctx: CommandContext, roomId: string, after: number): void {
  const max = ctx.services.config.limits.maxRoomMembers;
  if (after > max) {
    ctx.fail(ERRORS.ROOM_FULL, `group ${roomId} would have ${after} members, over ${max}`);
  }
}

/** The frames of one membership change that added or removed peers (Table 2 of spec 04). */
interface Fanout {
  /** The success reply; its copies go to the actor's other sessions (ROOM-FANOUT-1). */
  readonly reply: Frame;
  /** The peers the change added or removed, and the frame each of their sessions gets. */
  readonly affected?: { readonly peers: readonly string[]; readonly frame: Frame };
  /** The other members (after the change, without actor and affected peers) and their frame. */
  readonly others?: { readonly peers: readonly string[]; readonly frame: Frame };
}

/**
 * Sends the frames of a change that added or removed peers, exactly those of Table 2
 * (ROOM-FANOUT-7): the reply to the acting session, the same frame without `i` to the
 * actor's other open sessions (ROOM-FANOUT-1, SERIAL-ECHO-1), then the affected peers'
 * and the other members' open sessions. Sessions that open later get nothing: events are
 * sent to the sessions open now and never stored (ROOM-FANOUT-8).
 */
function fanOut(ctx: CommandContext, f: Fanout): void {
  ctx.reply(f.reply);
  ctx.sendToPeer(ctx.peerId, f.reply, ctx.session);
  if (f.affected) for (const p of f.affected.peers) ctx.sendToPeer(p, f.affected.frame);
  if (f.others) for (const p of f.others.peers) ctx.sendToPeer(p, f.others.frame);
}

/**
 * `room/join`. Without `roomId` it creates a group whose only member is the caller
 * (ROOM-CREATE-1); with one it adds the caller to that existing group (ROOM-JOIN-1,
 * ROOM-JOIN-2), or only replies when the caller is a member already (ROOM-JOIN-3).
 * Open groups (`transient: true`) are refused with 4114 by the schema (ROOM-OPEN-1).
 */
export function handleJoin(ctx: CommandContext, frame: RoomJoin): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  // SIG-ENFORCE-1, SIG-GROUP-1: a join signs an empty peer list; a creation an empty roomId.
  verifyGroupSignature(ctx, frame, "join", frame.roomId, []);

  if (frame.roomId === undefined) {
    const roomId = freshRoomId(ctx);
    ctx.storeWork("create the group", () => {
      ctx.store.createRoom(appId, roomId, ctx.now);
      ctx.store.addMembers(appId, roomId, [ctx.peerId]);
    });
    ctx.services.record("room-created", { appId, roomId, by: ctx.peerId });
    // Table 2, "new group": the actor's sessions only; nobody else is in the group.
    fanOut(ctx, { reply: { cmd: "room", op: "joined", roomId, byPeerId: ctx.peerId } });
    return;
  }

  const roomId = frame.roomId;
  const members = membersOf(ctx, roomId);
  const reply: Frame = { cmd: "room", op: "joined", roomId, byPeerId: ctx.peerId };
  if (members.includes(ctx.peerId)) {
    // ROOM-JOIN-3, ROOM-FANOUT-6: nothing changed, so the reply is the only frame.
    ctx.reply(reply);
    return;
  }
  // ROOM-JOIN-2: any peer may join; only the signature (above) and the limit can refuse.
  checkLimit(ctx, roomId, members.length + 1);
  ctx.storeWork("add the member", () => ctx.store.addMembers(appId, roomId, [ctx.peerId]));
  fanOut(ctx, {
    reply,
    // ROOM-FANOUT-4: every member before the join is an "other member" after it.
    others: {
      peers: members,
      frame: {
        cmd: "room",
        op: "members-joined",
        roomId,
        roomPeerIds: [ctx.peerId],
        byPeerId: ctx.peerId,
      },
    },
  });
}

/**
 * `room/invite`: any member may add peers (ROOM-PERM-1). Adds exactly the named peers that
 * are not members (ROOM-INVITE-1), all or none (ROOM-LIMIT-1); the added peers' sessions get
 * `room/joined` (ROOM-FANOUT-2) and the other members' `room/members-joined` (ROOM-FANOUT-4).
 */
export function handleInvite(ctx: CommandContext, frame: RoomInvite): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const roomId = frame.roomId;
  // LIMIT-DUP-1: a peer named twice counts once, in the signature as in the change.
  const requested = uniqueIds(frame.roomPeerIds);
  verifyGroupSignature(ctx, frame, "invite", roomId, requested);
  const members = membersAsMember(ctx, roomId);
  const added = requested.filter((p) => !members.includes(p));
  // ROOM-LIMIT-1: an invite that would overflow fails whole, it never adds as many as fit.
  checkLimit(ctx, roomId, members.length + added.length);

  const reply: Frame = { cmd: "room", op: "invited", roomId, roomPeerIds: added };
  if (added.length === 0) {
    // ROOM-FANOUT-6: inviting only members changes nothing: the reply and nothing else.
    ctx.reply(reply);
    return;
  }
  ctx.storeWork("add the members", () => ctx.store.addMembers(appId, roomId, added));
  fanOut(ctx, {
    reply,
    affected: {
      peers: added,
      frame: { cmd: "room", op: "joined", roomId, byPeerId: ctx.peerId },
    },
    others: {
      peers: members.filter((m) => m !== ctx.peerId),
      frame: {
        cmd: "room",
        op: "members-joined",
        roomId,
        roomPeerIds: added,
        byPeerId: ctx.peerId,
      },
    },
  });
}

/**
 * `room/kick`: any member may remove peers (ROOM-PERM-1). Removes exactly the named peers
 * that are members, never the caller (ROOM-KICK-1: naming oneself changes nothing; leaving
 * is `room/leave`); the removed peers' sessions get `room/left` (ROOM-FANOUT-3) and the
 * remaining members' `room/members-left` (ROOM-FANOUT-5).
 */
export function handleKick(ctx: CommandContext, frame: RoomKick): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const roomId = frame.roomId;
  const requested = uniqueIds(frame.roomPeerIds);
  verifyGroupSignature(ctx, frame, "kick", roomId, requested);
  const members = membersAsMember(ctx, roomId);
  const removed = requested.filter((p) => p !== ctx.peerId && members.includes(p));

  const reply: Frame = { cmd: "room", op: "kicked", roomId, roomPeerIds: removed };
  if (removed.length === 0) {
    // ROOM-FANOUT-6: kicking only non-members (or oneself) changes nothing.
    ctx.reply(reply);
    return;
  }
  ctx.storeWork("remove the members", () => ctx.store.removeMembers(appId, roomId, removed));
  fanOut(ctx, {
    reply,
    affected: {
      peers: removed,
      frame: { cmd: "room", op: "left", roomId, byPeerId: ctx.peerId },
    },
    others: {
      peers: members.filter((m) => m !== ctx.peerId && !removed.includes(m)),
      frame: {
        cmd: "room",
        op: "members-left",
        roomId,
        roomPeerIds: removed,
        byPeerId: ctx.peerId,
      },
    },
  });
}

/**
 * `room/leave`: never signed (SIG-ENFORCE-2). Removes the calling member (ROOM-LEAVE-1);
 * the remaining members' sessions get `room/members-left` (ROOM-FANOUT-5). The group is
 * kept when its last member leaves (ROOM-EMPTY-1).
 */
export function handleLeave(ctx: CommandContext, frame: RoomLeave): void {
  ctx.requireSession();
  const roomId = frame.roomId;
  const members = membersAsMember(ctx, roomId);
  ctx.storeWork("remove the member", () =>
    ctx.store.removeMembers(ctx.appConfig.appId, roomId, [ctx.peerId]),
  );
  fanOut(ctx, {
    reply: { cmd: "room", op: "left", roomId, byPeerId: ctx.peerId },
    others: {
      peers: members.filter((m) => m !== ctx.peerId),
      frame: {
        cmd: "room",
        op: "members-left",
        roomId,
        roomPeerIds: [ctx.peerId],
        byPeerId: ctx.peerId,
      },
    },
  });
}

/**
 * `room/query`: the members of a group, for a member [ROOM-QUERY-1]; 4404 for an unknown
 * group, 4401 for a non-member [ROOM-QUERY-2]. Reads only, so it changes nothing and
 * tells nobody else [ROOM-QUERY-3].
 */
export function handleRoomQuery(ctx: CommandContext, frame: RoomQuery): void {
  ctx.requireSession();
  const members = membersAsMember(ctx, frame.roomId);
  ctx.reply({
    cmd: "room",
    op: "query-result",
    roomId: frame.roomId,
    roomPeerIds: uniqueIds(members),
  });
}

/** One page of a peer's groups, as `room/list-result` and the REST list carry it. */
export interface RoomsPage {
  /** Group ids in ascending byte order, after the cursor [ROOM-LIST-1]. */
  readonly roomIds: string[];
  /** Whether more groups follow the last of `roomIds` [ROOM-LIST-4]. */
  readonly more: boolean;
}

/**
 * One page of the groups of which `peerId` is a member: the first `limit` ids after
 * `after` in byte order [ROOM-LIST-1], `limit` defaulting to 100 [ROOM-LIST-2], and whether
 * more follow [ROOM-LIST-4], learnt by reading one id beyond the page rather than by a
 * second request (decision D19). Shared by `room/list` and `GET /1.1/rtm/peers/{peerId}/rooms`
 * [REST-ROOMS-7], so both page alike. `limit` must be validated (1 to 500, ROOM-LIST-3).
 */
export function roomsPage(
  store: Store,
  appId: string,
  peerId: string,
  after: string | undefined,
  limit: number = ROOM_LIST_DEFAULT_LIMIT,
): RoomsPage {
  const ids = store.roomsOf(appId, peerId, after, limit + 1);
  return { roomIds: ids.slice(0, limit), more: ids.length > limit };
}

/**
 * The members of a group, each once, or `undefined` when `roomId` names no group of the app
 * (an empty group exists, ROOM-EMPTY-1): what `GET /1.1/rtm/rooms/{roomId}/members`
 * answers [REST-ROOMS-5, REST-ROOMS-6].
 */
export function groupMembers(store: Store, appId: string, roomId: string): string[] | undefined {
  return store.roomExists(appId, roomId) ? uniqueIds(store.members(appId, roomId)) : undefined;
}

/**
 * `room/list`: one page of the caller's own groups [ROOM-LIST-1, ROOM-LIST-2, ROOM-LIST-4];
 * a `limit` outside 1 to 500 never gets here, the schema answers it with 4114 at step (5)
 * of ERROR-ORDER-1 [ROOM-LIST-3]. There is nothing to refuse: a peer in no group gets an
 * empty page, and `after` need not name a group. Reads only, so it changes nothing and
 * tells nobody else [ROOM-LIST-5]. Not signed: it says nothing about anyone but the
 * session's own peer (decision D19).
 */
export function handleRoomList(ctx: CommandContext, frame: RoomList): void {
  ctx.requireSession();
  const page = ctx.storeWork("read the groups", () =>
    roomsPage(ctx.store, ctx.appConfig.appId, ctx.peerId, frame.after, frame.limit),
  );
  ctx.reply({ cmd: "room", op: "list-result", roomIds: page.roomIds, more: page.more });
}

/** The handlers of the group family, by registry name; the engine's table is the union of these. */
export const ROOM_HANDLERS = {
  "room/join": handleJoin,
  "room/invite": handleInvite,
  "room/kick": handleKick,
  "room/leave": handleLeave,
  "room/query": handleRoomQuery,
  "room/list": handleRoomList,
} satisfies Handlers;
