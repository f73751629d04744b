/**
 * Broken servers of chapter 02 (sessions, watching and presence).
 * @module
 */
import { Presence } from "../../dist/src/core/presence.js";
import { AppState } from "../../dist/src/core/state.js";
import { currentCommand, mapFrames, onCommand, wrap } from "../lib/hooks.mjs";

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * PRESENCE-DEVICES-1: when one of several sessions of a peer ends (one device leaves,
   * the others stay), its watchers are told `"off"` although the peer is still online.
   * A peer's first session still publishes `"on"` once and its last one `"off"`.
   */
  "presence-off-with-device-left": () => {
    wrap(
      AppState.prototype,
      "removeSession",
      (original) =>
        function removeSession(s) {
          const had = [...this.online.get(s.peerId)].includes(s);
          const last = original.call(this, s);
          // The engine publishes "off" when this returns true.
          return last || had;
        },
    );
  },

  /**
   * PRESENCE-SCOPE-1: a peer's `"on"` and `"off"` also go to every open session of the app
   * that does not watch it (besides its watchers, which get them as usual). The frames are
   * well formed and addressed to each session's own peer.
   */
  "presence-to-unwatched": () => {
    wrap(
      Presence.prototype,
      "publish",
      (original) =>
        function publish(app, peerId, status) {
          original.call(this, app, peerId, status);
          for (const [peer, sessions] of app.online.entries()) {
            if (peer === peerId) continue;
            for (const s of sessions) {
              if (s.watch.has(peerId)) continue;
              const frame = { cmd: "presence", peerId: s.peerId, status, sessionPeerIds: [peerId] };
              this.host.emit({ type: "send", conn: s.conn, frame });
            }
          }
        },
    );
  },

  /**
   * SESSION-INFO-2: the `serverInfo` of `session/opened` announces revision `"1.0"` while
   * the server implements revision 1.1; its features and limits are right. (The router's
   * `serverInfo` is left as it is.)
   */
  "opened-wrong-revision": () => {
    mapFrames((frame) =>
      frame.cmd === "session" && frame.op === "opened" && frame.serverInfo
        ? { ...frame, serverInfo: { ...frame.serverInfo, revision: "1.0" } }
        : frame,
    );
  },

  /**
   * SESSION-SELF-1: the `onlineSessionPeerIds` of `session/opened`, `session/added` and
   * `session/query-result` never list the command's own peer, although its session is
   * open; every other online peer is listed.
   */
  "online-list-omits-self": () => {
    mapFrames((frame) =>
      frame.cmd === "session" && Array.isArray(frame.onlineSessionPeerIds)
        ? {
            ...frame,
            onlineSessionPeerIds: frame.onlineSessionPeerIds.filter((p) => p !== frame.peerId),
          }
        : frame,
    );
  },

  /**
   * WATCH-ADD-1: `session/add` replies `session/added` (with the right online peers) but
   * adds nothing to the watch set, so the session never hears of those peers' presence.
   * Watch sets made by `session/open` work.
   */
  "watch-add-ignored": () => {
    onCommand({}); // tracks the current command
    wrap(
      AppState.prototype,
      "watch",
      (original) =>
        function watch(s, peerId) {
          if (currentCommand()?.cmd.name === "session/add") return;
          original.call(this, s, peerId);
        },
    );
  },
};
