/**
 * Broken servers of chapter 09 (versioning and compatibility).
 * @module
 */
import { ERRORS, findEntry } from "@confab/protocol";
import { WsAdapter } from "../../dist/src/adapter/ws-adapter.js";
import { resolveApp } from "../../dist/src/core/config.js";
import { mapFrames, onCommand, wrap } from "../lib/hooks.mjs";

/** The signature fields, which SIG-ENFORCE-3 has an app ignore wherever they appear. */
const SIGNATURE_FIELDS = new Set(["s", "t", "n"]);

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * VERSION-UNKNOWN-1: a command carrying a field that the specification does not define
   * for it (anything outside the properties of its schema) fails with 4114 naming that
   * field. `s`, `t` and `n` are let through on every command, so that SIG-ENFORCE-3 holds;
   * the app is checked first, as in the reference (an unknown app still closes with 4100);
   * the legacy client sends no unknown field, so it is not affected.
   */
  "unknown-fields-rejected": () => {
    onCommand({
      before({ engine, conn, frame, cmd, now }) {
        const properties = findEntry("c2s", cmd.name)?.schema?.properties;
        if (!properties) return undefined; // an unknown command: the reference answers it
        if (conn.appId === undefined && !resolveApp(engine.config, frame.appId)) return undefined;
        const unknown = Object.keys(frame).filter(
          (k) => !Object.hasOwn(properties, k) && !SIGNATURE_FIELDS.has(k),
        );
        if (unknown.length === 0) return undefined;
        const detail = `/${unknown[0]}: must NOT have additional properties`;
        engine.answerError(conn, cmd, ERRORS.INVALID_FRAME, detail, now);
        return false;
      },
    });
  },

  /**
   * VERSION-ACKREQ-1: every live delivery is followed by an `ackreq` (`{"cmd": "ackreq",
   * "c": 1}`) for the same session, a historical frame that v1 servers must not send. The
   * offline burst is left alone, so OFFLINE-BURST-1 holds.
   */
  "ackreq-sent": () => {
    mapFrames((frame) =>
      frame.cmd === "direct" && frame.offline === false
        ? [frame, { cmd: "ackreq", c: 1, peerId: frame.peerId }]
        : frame,
    );
  },

  /**
   * VERSION-SUBPROTO-1: the handshake never selects a subprotocol, even when the client
   * offers `confab.v1` (a client that requires it then fails the handshake). Handshakes
   * without a subprotocol, the legacy client's, work (VERSION-SUBPROTO-2).
   */
  "subprotocol-not-selected": () => {
    wrap(
      WsAdapter.prototype,
      "handleUpgrade",
      (original) =>
        function handleUpgrade(req, socket, head) {
          delete req.headers["sec-websocket-protocol"];
          return original.call(this, req, socket, head);
        },
    );
  },
};
