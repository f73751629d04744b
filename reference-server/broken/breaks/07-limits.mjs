/**
 * Broken servers of chapter 07 (limits).
 * @module
 */
import { MAX_IDS_PER_FRAME, MAX_MSG_BYTES } from "@confab/protocol";
import { Presence } from "../../dist/src/core/presence.js";
import { onCommand, passFailure, wrap, wrapStores } from "../lib/hooks.mjs";

/** The id arrays whose item count LIMIT-ARRAY-1 bounds. */
const ID_ARRAYS = ["sessionPeerIds", "toPeerIds", "roomPeerIds", "ids"];

/** `text` cut to at most `max` bytes of UTF-8, at a code point boundary. */
function truncateUtf8(text, max) {
  let bytes = 0;
  let out = "";
  for (const ch of text) {
    bytes += Buffer.byteLength(ch, "utf8");
    if (bytes > max) break;
    out += ch;
  }
  return out;
}

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * LIMIT-MSG-2: a `direct` whose `msg` is longer than 5120 bytes is accepted (its text
   * cut to 5120 bytes) instead of failing with 4109. Shorter messages are untouched.
   */
  "msg-over-limit-accepted": () => {
    onCommand({
      before({ frame, cmd }) {
        if (cmd.name !== "direct" || typeof frame.msg !== "string") return;
        if (Buffer.byteLength(frame.msg, "utf8") > MAX_MSG_BYTES) {
          frame.msg = truncateUtf8(frame.msg, MAX_MSG_BYTES);
        }
      },
    });
  },

  /**
   * LIMIT-ARRAY-1: id arrays are counted without their duplicates: a `toPeerIds` of 501
   * items naming one peer is accepted instead of failing with 4120. 501 distinct ids still
   * fail with 4120.
   */
  "duplicates-counted-once": () => {
    onCommand({
      before({ frame }) {
        for (const field of ID_ARRAYS) {
          const ids = frame[field];
          if (Array.isArray(ids) && ids.length > MAX_IDS_PER_FRAME) {
            frame[field] = [...new Set(ids)];
          }
        }
      },
    });
  },

  /**
   * LIMIT-SESSIONS-1: a connection may open more than 100 sessions: the 101st
   * `session/open` succeeds instead of failing with 4120. The app's own bound on sessions
   * (LIMIT-SESSIONS-APP-1) still holds.
   */
  /**
   * LIMIT-STORE-2: the app's pending bound is checked off by one: a persistent `direct`
   * that brings the app's pending messages exactly to the bound is refused with 4120, as
   * if it took them over. Below the bound, and past it, directs are answered as usual.
   * (The store's count reads one more while a `direct` is handled, which is the only
   * command whose check reads it.)
   */
  "pending-bound-refused-at-the-bound": () => {
    let inDirect = false;
    onCommand({
      before({ cmd }) {
        inDirect = cmd.name === "direct";
      },
      after() {
        inDirect = false;
      },
    });
    wrapStores(
      "pendingCount",
      (original) =>
        function pendingCount(appId) {
          const n = original.call(this, appId);
          return inDirect ? n + 1 : n;
        },
    );
  },

  /**
   * LIMIT-CONN-APP-1: when a connection of an app closes while the app has no session
   * open, the app forgets how many connections are still bound to it, so connections whose
   * sessions have ended stop counting against the bound. While any session is open the
   * count is kept: the app fills and refuses as usual.
   */
  "idle-bound-connections-uncounted": () => {
    wrap(
      Presence.prototype,
      "release",
      (original) =>
        function release(c) {
          const appId = c.appId;
          original.call(this, c);
          const app = appId === undefined ? undefined : this.existing(appId);
          if (app !== undefined && app.sessions === 0) app.connections = 0;
        },
    );
  },

  "sessions-per-connection-unbounded": () => {
    passFailure(
      (_ctx, spec, detail) =>
        spec.code === 4120 && /^a connection may hold at most \d+ sessions$/.test(detail),
    );
  },
};
