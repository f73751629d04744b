/**
 * Broken servers of chapter 04 (groups).
 * @module
 */
import { compareBinary } from "../../dist/src/store/memory-store.js";
import { SqliteStore } from "../../dist/src/store/sqlite-store.js";
import {
  currentCommand,
  mapFrames,
  onCommand,
  passFailure,
  wrap,
  wrapStores,
} from "../lib/hooks.mjs";

/** Makes a membership command's store writes of `removeMembers` do nothing. */
function keepMembersOn(command) {
  onCommand({});
  wrapStores(
    "removeMembers",
    (original) =>
      function removeMembers(appId, roomId, peerIds) {
        if (currentCommand()?.cmd.name === command) return undefined;
        return original.call(this, appId, roomId, peerIds);
      },
  );
}

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * ROOM-KICK-1: `room/kick` answers `room/kicked` and sends `room/left` and
   * `room/members-left` as if it had removed the peers, but they stay members: a kicked
   * member still gets the group's messages (live and offline) and may still send to it.
   */
  "kicked-member-still-receives": () => keepMembersOn("room/kick"),

  /**
   * ROOM-LEAVE-1: `room/leave` answers `room/left` and tells the other members, but the
   * caller stays a member and keeps receiving the group's messages.
   */
  "left-member-still-receives": () => keepMembersOn("room/leave"),

  /**
   * ROOM-DURABLE-1: the SQLite store keeps groups and their members in memory only, so
   * every group change is replied to without being committed to storage, and a restart
   * (after `kill -9` or not) forgets every group: `room/query` of a group created before
   * it answers 4404. Messages and everything else stay durable. With `--db :memory:`
   * nothing is durable anyway: run it with a database file.
   */
  "group-change-lost-on-crash": () => {
    /** app → group id → { createdAt, members (in join order) }. */
    let rooms = new Map();
    const roomsOfApp = (appId) => {
      let m = rooms.get(appId);
      if (!m) {
        m = new Map();
        rooms.set(appId, m);
      }
      return m;
    };
    const P = SqliteStore.prototype;
    wrap(P, "createRoom", () => (appId, roomId, createdAt) => {
      const m = roomsOfApp(appId);
      if (m.has(roomId)) throw new Error("UNIQUE constraint failed: rooms.app, rooms.room_id");
      m.set(roomId, { createdAt, members: [] });
    });
    wrap(P, "roomExists", () => (appId, roomId) => rooms.get(appId)?.has(roomId) ?? false);
    wrap(P, "members", () => (appId, roomId) => [
      ...(rooms.get(appId)?.get(roomId)?.members ?? []),
    ]);
    wrap(P, "addMembers", () => (appId, roomId, peerIds) => {
      if (peerIds.length === 0) return;
      const room = rooms.get(appId)?.get(roomId);
      if (!room) throw new Error("FOREIGN KEY constraint failed");
      for (const p of peerIds) if (!room.members.includes(p)) room.members.push(p);
    });
    wrap(P, "removeMembers", () => (appId, roomId, peerIds) => {
      const room = rooms.get(appId)?.get(roomId);
      if (room) room.members = room.members.filter((p) => !peerIds.includes(p));
    });
    wrap(P, "roomsOf", () => (appId, peerId, after, limit) => {
      const ids = [];
      for (const [id, room] of rooms.get(appId) ?? []) {
        if (room.members.includes(peerId) && (after === undefined || compareBinary(id, after) > 0))
          ids.push(id);
      }
      return ids.sort(compareBinary).slice(0, Math.max(0, Math.floor(limit)));
    });
    // A failed command leaves the groups as they were, as the database would
    // [ERROR-NOEFFECT-1]: only durability is broken.
    let depth = 0;
    wrap(
      P,
      "atomically",
      (original) =>
        function atomically(fn) {
          if (depth > 0) return original.call(this, fn);
          const snapshot = new Map(
            [...rooms].map(([app, m]) => [
              app,
              new Map([...m].map(([id, r]) => [id, { ...r, members: [...r.members] }])),
            ]),
          );
          depth++;
          try {
            return original.call(this, fn);
          } catch (err) {
            rooms = snapshot;
            throw err;
          } finally {
            depth--;
          }
        },
    );
  },

  /**
   * ROOM-LIMIT-1: the member limit is not enforced: a `room/join` or `room/invite` after
   * which the group has more than 500 members succeeds instead of failing with 4403.
   */
  "member-limit-not-enforced": () => {
    passFailure((_ctx, spec) => spec.code === 4403);
  },

  /**
   * ROOM-FANOUT-4: the other members are never sent `room/members-joined` when a
   * `room/join` or `room/invite` adds peers; every other frame of Table 2 goes out.
   */
  "members-joined-not-sent": () => {
    mapFrames((frame) => (frame.cmd === "room" && frame.op === "members-joined" ? [] : frame));
  },
};
