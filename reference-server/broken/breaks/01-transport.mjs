/**
 * Broken servers of chapter 01 (transport): the router, framing, the serial `i`,
 * keepalives and timeouts. Each entry breaks the one requirement its comment names and
 * leaves everything else as the reference does it.
 * @module
 */
import { ServerResponse } from "node:http";
import { ERRORS, errorFrame } from "@confab/protocol";
import { CommandContext } from "../../dist/src/core/context.js";
import { Engine } from "../../dist/src/core/engine.js";
import { mapFrames, wrap } from "../lib/hooks.mjs";

/** @type {Record<string, () => void>} */
export const BREAKS = {
  /**
   * ROUTER-GET-2: the router's JSON answers (200 and errors alike) go out as
   * `text/plain`; the body is the same JSON. JSONP answers keep their
   * `application/javascript` (ROUTER-JSONP-1), and REST answers are untouched.
   */
  "router-json-without-content-type": () => {
    wrap(
      ServerResponse.prototype,
      "writeHead",
      (original) =>
        function writeHead(status, ...rest) {
          const url = this.req?.url ?? "";
          const headers = rest[rest.length - 1];
          if (url.startsWith("/v1/route") && headers && typeof headers === "object") {
            for (const key of Object.keys(headers)) {
              if (key.toLowerCase() === "content-type" && /json/i.test(String(headers[key]))) {
                headers[key] = "text/plain; charset=utf-8";
              }
            }
          }
          return original.call(this, status, ...rest);
        },
    );
  },

  /**
   * FRAME-BINARY-2: a binary WebSocket message is ignored instead of closing the connection
   * with 4114. It still counts as activity for the read timeout, as any frame does.
   */
  "binary-frame-ignored": () => {
    wrap(
      Engine.prototype,
      "receiveBinary",
      () =>
        function receiveBinary(conn, _bytes, now) {
          this.activity(conn, now);
          return this.flush();
        },
    );
  },

  /**
   * FRAME-SIZE-1: a text frame longer than 65536 bytes is read like any other instead of
   * closing the connection with 4109 (the engine is told it is no longer than the limit).
   * `ws` still closes messages over 1 MiB with 1009 (FRAME-SIZE-2).
   */
  "oversized-frame-accepted": () => {
    wrap(
      Engine.prototype,
      "receiveText",
      (original) =>
        function receiveText(conn, text, bytes, now) {
          const max = this.config.limits.maxFrameBytes;
          return original.call(this, conn, text, Math.min(bytes, max), now);
        },
    );
  },

  /**
   * FRAME-JSON-1: a text frame that is not JSON is answered with an `error` frame 4114 and
   * the connection stays open, instead of the error frame and the close with 4114. The
   * flood limit still counts it first (FLOOD-CLOSE-1); a JSON text that is not an object
   * still closes (FRAME-JSON-2).
   */
  "non-json-answered-not-closed": () => {
    wrap(
      Engine.prototype,
      "handleText",
      (original) =>
        function handleText(c, text, bytes, now) {
          if (bytes <= this.config.limits.maxFrameBytes) {
            try {
              JSON.parse(text);
            } catch (err) {
              if (!this.takeToken(c, now)) {
                const detail = `more than ${this.config.rateLimit.perSecond} frames per second`;
                this.closeConnection(c, ERRORS.MESSAGE_SENT_QUOTA_EXCEEDED, detail, now, {});
                return undefined;
              }
              const why = err instanceof Error ? err.message : String(err);
              const frame = errorFrame(ERRORS.UNPARSEABLE_RAW_MESSAGE, `not JSON: ${why}`);
              this.push({ type: "send", conn: c.id, frame });
              return undefined;
            }
          }
          return original.call(this, c, text, bytes, now);
        },
    );
  },

  /**
   * KEEPALIVE-REPLY-1: keepalives get no `{}`; every command is answered as usual, so the
   * connection otherwise works.
   */
  "keepalive-unanswered": () => {
    mapFrames((frame) => (Object.hasOwn(frame, "cmd") ? frame : []));
  },

  /**
   * TIMEOUT-READ-1: a connection on which nothing arrives is never closed with 4107: each
   * tick of the timers counts the connection as just heard from. The login timeout
   * (4108) still runs.
   */
  "read-timeout-not-enforced": () => {
    wrap(
      Engine.prototype,
      "tick",
      (original) =>
        function tick(now) {
          for (const c of this.conns.values()) c.lastSeen = now;
          return original.call(this, now);
        },
    );
  },

  /**
   * TIMEOUT-LOGIN-1: a connection that never opens a session (or whose sessions all ended)
   * is never closed with 4108: each tick restarts its login clock. The read timeout
   * (4107) still runs.
   */
  "login-timeout-not-enforced": () => {
    wrap(
      Engine.prototype,
      "tick",
      (original) =>
        function tick(now) {
          for (const c of this.conns.values()) {
            if (c.sessions.size === 0 && c.noSessionSince !== undefined) c.noSessionSince = now;
          }
          return original.call(this, now);
        },
    );
  },

  /**
   * SERIAL-ECHO-1: the live deliveries a `direct` causes on other connections carry the
   * `i` of that `direct`: a message sent with `i: 7` reaches its recipients (and the
   * sender's echo sessions) with `i: 7`. On the sender's own connection only the `ack`
   * carries it, so every command still gets exactly one frame with its `i`
   * (SERIAL-REPLY-1); replies, group events, presence, receipts and the offline burst are
   * as in the reference.
   */
  "serial-on-events": () => {
    wrap(
      CommandContext.prototype,
      "sendTo",
      (original) =>
        function sendTo(session, frame) {
          const tagged =
            this.serial !== undefined &&
            frame.cmd === "direct" &&
            frame.offline === false &&
            session.conn !== this.conn.id;
          return original.call(this, session, tagged ? { ...frame, i: this.serial } : frame);
        },
    );
  },

  /**
   * FRAME-PEERID-1: a `presence` frame carries in `peerId` the peer whose status changed
   * instead of the watching session's peer. Every other frame names its session's peer.
   */
  "presence-wrong-peerid": () => {
    mapFrames((frame) =>
      frame.cmd === "presence" && Array.isArray(frame.sessionPeerIds)
        ? { ...frame, peerId: frame.sessionPeerIds[0] }
        : frame,
    );
  },
};
