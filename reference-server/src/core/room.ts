/**
 * Group family handlers: create/join, invite, kick, leave and the events each member sees
 * (spec/04-groups.md, decision D8). Membership is persistent; events are not stored.
 * @module
 */
import type { RoomInvite, RoomJoin, RoomKick, RoomLeave } from "@confab/schemas";
import type { CommandContext } from "./context.js";
import { ERRORS } from "./errors.js";
import { unique } from "./session.js";
import { verifyGroupSignature } from "./signature.js";

/** Loads a room's members or fails: 4404 if it does not exist, 4401 if the caller is not in it. */
function membersAsMember(ctx: CommandContext, roomId: string): string[] {
  const appId = ctx.appConfig.appId;
  if (!ctx.store.roomExists(appId, roomId)) ctx.fail(ERRORS.ROOM_NOT_FOUND, `no group ${roomId}`);
  const members = ctx.store.members(appId, roomId);
  if (!members.includes(ctx.peerId)) {
    ctx.fail(ERRORS.INVALID_MESSAGING_TARGET, `${ctx.peerId} is not a member of ${roomId}`);
  }
  return members;
}

/**
 * Sends the reply to the actor's session and the same frame, without `i`, to the actor's
 * other sessions, so every device of the actor learns the change (decision D8).
 */
function replyAndMirror(ctx: CommandContext, frame: Record<string, unknown>): void {
  ctx.reply(frame);
  ctx.sendToPeer(ctx.peerId, frame, ctx.session);
}

/** `room/join`: without roomId creates a group; otherwise joins an existing one. */
export function handleJoin(ctx: CommandContext, frame: RoomJoin): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  verifyGroupSignature(ctx, frame, "join", frame.roomId, []);
  if (frame.roomId === undefined) {
    const roomId = ctx.services.nextRoomId();
    ctx.store.createRoom(appId, roomId, ctx.now);
    ctx.store.addMembers(appId, roomId, [ctx.peerId]);
    ctx.services.log("room-created", { appId, roomId, by: ctx.peerId });
    replyAndMirror(ctx, { cmd: "room", op: "joined", roomId, byPeerId: ctx.peerId });
    return;
  }
  const roomId = frame.roomId;
  if (!ctx.store.roomExists(appId, roomId)) ctx.fail(ERRORS.ROOM_NOT_FOUND, `no group ${roomId}`);
  const members = ctx.store.members(appId, roomId);
  if (members.includes(ctx.peerId)) {
    // Joining a group one is in changes nothing: reply, but publish no event.
    ctx.reply({ cmd: "room", op: "joined", roomId, byPeerId: ctx.peerId });
    return;
  }
  const max = ctx.services.config.limits.maxRoomMembers;
  if (members.length + 1 > max) ctx.fail(ERRORS.ROOM_FULL, `group ${roomId} has ${max} members`);
  ctx.store.addMembers(appId, roomId, [ctx.peerId]);
  replyAndMirror(ctx, { cmd: "room", op: "joined", roomId, byPeerId: ctx.peerId });
  const event = {
    cmd: "room",
    op: "members-joined",
    roomId,
    roomPeerIds: [ctx.peerId],
    byPeerId: ctx.peerId,
  };
  for (const m of members) ctx.sendToPeer(m, event);
}

/** `room/invite`: adds peers; invitees get `joined`, other members `members-joined`. */
export function handleInvite(ctx: CommandContext, frame: RoomInvite): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const requested = unique(frame.roomPeerIds);
  verifyGroupSignature(ctx, frame, "invite", frame.roomId, requested);
  const members = membersAsMember(ctx, frame.roomId);
  const added = requested.filter((p) => !members.includes(p));
  const max = ctx.services.config.limits.maxRoomMembers;
  // All or nothing: a change that would exceed the limit fails whole (decision D8).
  if (members.length + added.length > max) {
    ctx.fail(ERRORS.ROOM_FULL, `group ${frame.roomId} would exceed ${max} members`);
  }
  if (added.length > 0) ctx.store.addMembers(appId, frame.roomId, added);
  replyAndMirror(ctx, { cmd: "room", op: "invited", roomId: frame.roomId, roomPeerIds: added });
  if (added.length === 0) return;
  for (const p of added) {
    ctx.sendToPeer(p, { cmd: "room", op: "joined", roomId: frame.roomId, byPeerId: ctx.peerId });
  }
  const event = {
    cmd: "room",
    op: "members-joined",
    roomId: frame.roomId,
    roomPeerIds: added,
    byPeerId: ctx.peerId,
  };
  for (const m of members) if (m !== ctx.peerId) ctx.sendToPeer(m, event);
}

/** `room/kick`: removes peers; they get `left`, remaining members `members-left`. */
export function handleKick(ctx: CommandContext, frame: RoomKick): void {
  ctx.requireSession();
  const appId = ctx.appConfig.appId;
  const requested = unique(frame.roomPeerIds);
  verifyGroupSignature(ctx, frame, "kick", frame.roomId, requested);
  const members = membersAsMember(ctx, frame.roomId);
  const removed = requested.filter((p) => members.includes(p));
  if (removed.length > 0) ctx.store.removeMembers(appId, frame.roomId, removed);
  replyAndMirror(ctx, { cmd: "room", op: "kicked", roomId: frame.roomId, roomPeerIds: removed });
  if (removed.length === 0) return;
  for (const p of removed) {
    ctx.sendToPeer(
      p,
      { cmd: "room", op: "left", roomId: frame.roomId, byPeerId: ctx.peerId },
      ctx.session,
    );
  }
  const event = {
    cmd: "room",
    op: "members-left",
    roomId: frame.roomId,
    roomPeerIds: removed,
    byPeerId: ctx.peerId,
  };
  for (const m of members) if (m !== ctx.peerId && !removed.includes(m)) ctx.sendToPeer(m, event);
}

/** `room/leave`: never signed; the leaver gets `left`, the others `members-left`. */
export function handleLeave(ctx: CommandContext, frame: RoomLeave): void {
  ctx.requireSession();
  const members = membersAsMember(ctx, frame.roomId);
  ctx.store.removeMembers(ctx.appConfig.appId, frame.roomId, [ctx.peerId]);
  replyAndMirror(ctx, { cmd: "room", op: "left", roomId: frame.roomId, byPeerId: ctx.peerId });
  const event = {
    cmd: "room",
    op: "members-left",
    roomId: frame.roomId,
    roomPeerIds: [ctx.peerId],
    byPeerId: ctx.peerId,
  };
  for (const m of members) if (m !== ctx.peerId) ctx.sendToPeer(m, event);
}
