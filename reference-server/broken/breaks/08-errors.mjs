/**
 * Broken servers of chapter 08 (errors).
 * @module
 */
import { Engine } from "../../dist/src/core/engine.js";
import {
  currentCommand,
  filterOutputs,
  mapFrames,
  onCommand,
  passFailure,
  wrap,
} from "../lib/hooks.mjs";

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * ERROR-FRAME-2: `error` frames never carry the `i` of the failed command; the code,
   * reason, detail and `peerId` are right.
   */
  "error-without-serial": () => {
    mapFrames((frame) => {
      if (frame.cmd !== "error" || !Object.hasOwn(frame, "i")) return frame;
      const { i: _i, ...rest } = frame;
      return rest;
    });
  },

  /**
   * ERROR-FRAME-1: the `reason` of an `error` frame is its code's name in lower case
   * (`invalid_messaging_target` for 4401) instead of the name Table 7 gives it.
   */
  "wrong-reason-name": () => {
    mapFrames((frame) =>
      frame.cmd === "error" && typeof frame.reason === "string"
        ? { ...frame, reason: frame.reason.toLowerCase() }
        : frame,
    );
  },

  /**
   * ERROR-CLOSE-4: a close with a code from 4100 to 4199 comes without the `error` frame
   * that should announce it: an unparseable or binary frame, a frame over the size limit,
   * a timeout, the flood limit, an unknown or disabled app, a refused origin. The close
   * code and reason are right. Where a command with `i` caused the close, that frame was
   * also its one reply (ERROR-CLOSE-5), so such a command now goes unanswered; a failed
   * `session/open` without `i` still gets its error frame before the close
   * (SESSION-OPEN-4), which is the command's own reply rather than an announcement.
   */
  "close-without-error-frame": () => {
    wrap(
      Engine.prototype,
      "closeConnection",
      (original) =>
        function closeConnection(c, spec, detail, now, _notice) {
          // `null`: no frame before the close (the engine's own switch for SERIAL-LEGACY-2).
          return original.call(this, c, spec, detail, now, null);
        },
    );
  },

  /**
   * ERROR-NOEFFECT-1: a `room/kick` from a peer that is not a member of the group is
   * answered with error 4401, as it must be, but the peers it names are removed from the
   * group all the same.
   */
  "failed-kick-still-removes": () => {
    onCommand({
      after({ engine, conn, frame, notes }) {
        if (notes.kickAnyway !== true || typeof frame.roomId !== "string") return;
        const peers = [...new Set(frame.roomPeerIds)].filter((p) => p !== frame.peerId);
        engine.store.removeMembers(conn.appId, frame.roomId, peers);
      },
    });
    passFailure((_ctx, spec) => {
      const c = currentCommand();
      if (c?.cmd.name === "room/kick" && spec.code === 4401) c.notes.kickAnyway = true;
      return false;
    });
  },

  /**
   * ERROR-SURVIVE-1: after an `error` frame that announces no close (a 4401, a 4114 for a
   * bad field, …) the server closes the connection, with 1000, which ends all its
   * sessions. Errors that come with their own close are as in the reference.
   */
  "error-closes-connection": () => {
    filterOutputs((outputs) => {
      const out = [];
      outputs.forEach((o, k) => {
        out.push(o);
        if (o.type !== "send" || o.frame.cmd !== "error") return;
        const closed = outputs.slice(k + 1).some((p) => p.type === "close" && p.conn === o.conn);
        if (!closed) out.push({ type: "close", conn: o.conn, code: 1000, reason: "" });
      });
      return out;
    });
  },
};
