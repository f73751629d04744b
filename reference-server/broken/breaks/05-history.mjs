/**
 * Broken servers of chapter 05 (history).
 * @module
 */
import { LOGS_DEFAULT_LIMIT, LOGS_MAX_LIMIT } from "@confab/protocol";
import { Engine } from "../../dist/src/core/engine.js";
import { mapFrames, wrap, wrapStores } from "../lib/hooks.mjs";

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * LOGS-CURSOR-1: a query with `max_ts` and `msgid` is run as if it carried `max_ts`
   * alone, so a page skips the messages whose `timestamp` equals `max_ts` and whose
   * `msg-id` is below `msgid`: paging through messages accepted in the same millisecond
   * loses some. Queries without `msgid` are right (LOGS-CURSOR-2).
   */
  "paging-skips-tied-timestamps": () => {
    wrapStores(
      "history",
      (original) =>
        function history(query, take) {
          const q =
            query.maxTs !== undefined && query.msgId !== undefined
              ? { ...query, msgId: undefined }
              : query;
          return original.call(this, q, take);
        },
    );
  },

  /**
   * LOGS-PAGE-2: the `limit` a query gives is ignored: its page holds up to 1000 items (the
   * largest limit), on the socket and over REST. A query without `limit` still gets the
   * default of 100 (LOGS-LIMIT-1); order, cursors and the byte bound are right.
   */
  "history-limit-ignored": () => {
    wrapStores(
      "history",
      (original) =>
        function history(query, take) {
          const limit = query.limit === LOGS_DEFAULT_LIMIT ? query.limit : LOGS_MAX_LIMIT;
          return original.call(this, { ...query, limit }, take);
        },
    );
  },

  /**
   * LOGS-MORE-1: every `logs/result` carries `"more": true`, also when the byte bound did
   * not end the page. (REST's `X-Confab-More` header is right.)
   */
  "history-more-always": () => {
    mapFrames((frame) =>
      frame.cmd === "logs" && frame.op === "result" ? { ...frame, more: true } : frame,
    );
  },

  /**
   * REST-AUTH-1: REST history of an app that has a master key is served without the key
   * (or with a wrong one) instead of 401 with code 4102. The group REST endpoints still
   * require it (REST-ROOMS-2).
   */
  "rest-history-without-master-key": () => {
    wrap(
      Engine.prototype,
      "restLogs",
      (original) =>
        function restLogs(appId, masterKey, query, request) {
          const app = typeof appId === "string" ? this.apps.get(appId) : undefined;
          return original.call(this, appId, app?.masterKey ?? masterKey, query, request);
        },
    );
  },

  /**
   * LOGS-AUTH-2: any peer of the app may read the history of any conversation of peers in
   * which something was stored, not only its participants. A conversation id under which
   * nothing was ever stored still gets 4401 (LOGS-AUTH-4), and groups are unchanged
   * (LOGS-AUTH-1).
   */
  "history-readable-by-outsider": () => {
    wrapStores(
      "isParticipant",
      (original) =>
        function isParticipant(appId, cid, peerId) {
          if (original.call(this, appId, cid, peerId)) return true;
          return this.history({ appId, cid, limit: 1 }).length > 0;
        },
    );
  },
};
