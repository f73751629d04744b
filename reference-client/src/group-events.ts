/**
 * Membership frames (Table 2 of spec 04) as the client's events, from this peer's point of
 * view.
 * @module
 */
import { uniqueIds } from "@confab/protocol";
import type { ClientEvents, GroupEvent, GroupMembersEvent } from "./types.js";

/** A group event and its payload. */
export type GroupEventOf =
  | { name: "group:joined" | "group:invited" | "group:left" | "group:kicked"; payload: GroupEvent }
  | { name: "group:members-joined" | "group:members-left"; payload: GroupMembersEvent };

/**
 * The event of a membership frame that no command of this session awaits: `room/joined` is
 * `group:joined` when this peer joined on another device and `group:invited` when another
 * member added it; `room/left` is `group:left` or `group:kicked` likewise; the copies of
 * this peer's own invite and kick made on another device (ROOM-FANOUT-1) are
 * `group:members-joined` and `group:members-left` by itself; `room/members-joined` and
 * `room/members-left` are what their names say. Id lists are sets [SESSION-LIST-2].
 *
 * @param name - the frame's `cmd/op`
 * @param frame - the frame, valid against its schema
 * @param self - this client's peer id
 *
 * @example
 * groupEventOf("room/joined", { roomId: "g1", byPeerId: "bob" }, "alice")
 * // { name: "group:invited", payload: { roomId: "g1", byPeerId: "bob" } }
 */
export function groupEventOf(
  name: string,
  frame: Readonly<Record<string, unknown>>,
  self: string,
): GroupEventOf | undefined {
  const roomId = frame.roomId as string;
  switch (name) {
    case "room/joined":
    case "room/left": {
      const byPeerId = frame.byPeerId as string;
      const mine = byPeerId === self;
      const joined = name === "room/joined";
      const event = joined
        ? mine
          ? "group:joined"
          : "group:invited"
        : mine
          ? "group:left"
          : "group:kicked";
      return { name: event, payload: { roomId, byPeerId } };
    }
    case "room/invited":
    case "room/kicked": {
      const peerIds = uniqueIds(frame.roomPeerIds as string[]);
      if (peerIds.length === 0) return undefined; // no change, no event (ROOM-FANOUT-6)
      const event = name === "room/invited" ? "group:members-joined" : "group:members-left";
      return { name: event, payload: { roomId, byPeerId: self, peerIds } };
    }
    case "room/members-joined":
    case "room/members-left": {
      const event = name === "room/members-joined" ? "group:members-joined" : "group:members-left";
      return {
        name: event,
        payload: {
          roomId,
          byPeerId: frame.byPeerId as string,
          peerIds: uniqueIds(frame.roomPeerIds as string[]),
        },
      };
    }
    default:
      return undefined;
  }
}

/** Every group event name, for listeners that want them all. */
export const GROUP_EVENTS: readonly (keyof ClientEvents)[] = [
  "group:joined",
  "group:invited",
  "group:left",
  "group:kicked",
  "group:members-joined",
  "group:members-left",
];
