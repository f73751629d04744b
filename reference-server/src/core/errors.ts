/**
 * The error registry: every code of spec/08-errors.md (Table 7), its name, and whether this
 * entry is sent as an error frame (the connection survives) or as a close code (decision
 * D2). A code that Table 7 lists in both forms (4100, 4109, 4114) has one entry per form.
 * @module
 */

/** How a code reaches the client. */
export type ErrorDelivery = "frame" | "close";

/** One entry of the error registry. */
export interface ErrorSpec {
  /** The numeric code, as sent in `code` or as the WebSocket close code. */
  readonly code: number;
  /** The code's name from Table 7, sent as `reason` [ERROR-FRAME-1, ERROR-CLOSE-3]. */
  readonly name: string;
  /** Whether Table 7 sends it as an error frame or as a close code [ERROR-CODES-1]. */
  readonly delivery: ErrorDelivery;
}

const spec = (code: number, name: string, delivery: ErrorDelivery): ErrorSpec => ({
  code,
  name,
  delivery,
});

/** Every code of spec/08-errors.md, in each form Table 7 gives it. */
export const ERRORS = {
  /** Server shutdown [ERROR-SHUTDOWN-1] (sent by the adapter). */
  GOING_AWAY: spec(1001, "GOING_AWAY", "close"),
  /** A text message that is not UTF-8 [FRAME-UTF8-1] (sent by the WebSocket layer). */
  INVALID_PAYLOAD_DATA: spec(1007, "INVALID_PAYLOAD_DATA", "close"),
  /** A client that does not read what it is sent [ERROR-BUFFER-1] (sent by the adapter). */
  SEND_BUFFER_FULL: spec(1008, "SEND_BUFFER_FULL", "close"),
  /** A WebSocket message over 1 MiB [FRAME-SIZE-2] (sent by the WebSocket layer). */
  MESSAGE_TOO_BIG: spec(1009, "MESSAGE_TOO_BIG", "close"),
  /** A failed commit lost frames the connection needed [ERROR-RESYNC-1] (sent by the adapter). */
  CONNECTION_LOST_STATE: spec(1011, "INTERNAL_ERROR", "close"),
  /** The first command names an unknown or disabled app [SESSION-APP-2]. */
  APP_NOT_AVAILABLE: spec(4100, "APP_NOT_AVAILABLE", "close"),
  /** A command names another app than the one the connection is bound to [SESSION-APP-3]. */
  APP_MISMATCH: spec(4100, "APP_NOT_AVAILABLE", "frame"),
  /** A missing, wrong, expired or replayed signature [SIG-ENFORCE-1, SIG-TIME-1, SIG-NONCE-2]. */
  SIGNATURE_FAILED: spec(4102, "SIGNATURE_FAILED", "frame"),
  /** The `peerId` of a `session/open` is not a valid peer id [SESSION-OPEN-1]. */
  INVALID_LOGIN: spec(4103, "INVALID_LOGIN", "frame"),
  /** A command for a peer without an open session here [SESSION-REQUIRED-1]. */
  SESSION_REQUIRED: spec(4105, "SESSION_REQUIRED", "frame"),
  /** Nothing received for the read timeout [TIMEOUT-READ-1]. */
  READ_TIMEOUT: spec(4107, "READ_TIMEOUT", "close"),
  /** No open session for the login timeout [TIMEOUT-LOGIN-1]. */
  LOGIN_TIMEOUT: spec(4108, "LOGIN_TIMEOUT", "close"),
  /** A text frame over 65536 bytes [FRAME-SIZE-1]. */
  FRAME_TOO_LONG: spec(4109, "FRAME_TOO_LONG", "close"),
  /** A `msg` over 5120 bytes of UTF-8 [LIMIT-MSG-2]. */
  MESSAGE_TOO_LONG: spec(4109, "FRAME_TOO_LONG", "frame"),
  /** The handshake `Origin` is not allowed for the app [FRAME-ORIGIN-2]. */
  INVALID_ORIGIN: spec(4110, "INVALID_ORIGIN", "close"),
  /** The app is over a quota of the deployment [ERROR-QUOTA-1] (not sent by this server). */
  APP_QUOTA_EXCEEDED: spec(4113, "APP_QUOTA_EXCEEDED", "close"),
  /** A binary message, a frame that is not JSON, or JSON that is not an object [FRAME-JSON-1]. */
  UNPARSEABLE_RAW_MESSAGE: spec(4114, "UNPARSEABLE_RAW_MESSAGE", "close"),
  /** A command that fails its schema, an unknown command, an invalid `i` [FRAME-SCHEMA-1]. */
  INVALID_FRAME: spec(4114, "UNPARSEABLE_RAW_MESSAGE", "frame"),
  /** The app or the operator ended the connection [ERROR-KICK-1]. */
  KICKED_BY_APP: spec(4115, "KICKED_BY_APP", "close"),
  /** The connection exceeds the frame rate limit [FLOOD-CLOSE-1]. */
  MESSAGE_SENT_QUOTA_EXCEEDED: spec(4116, "MESSAGE_SENT_QUOTA_EXCEEDED", "close"),
  /** An id array over 500 items, a watch set over 10000 [LIMIT-ARRAY-1, WATCH-LIMIT-1]. */
  LIMIT_EXCEEDED: spec(4120, "LIMIT_EXCEEDED", "frame"),
  /** The server failed to carry out the command [ERROR-INTERNAL-1, ACK-FAIL-1]. */
  INTERNAL_ERROR: spec(4200, "INTERNAL_ERROR", "frame"),
  /** A `direct` could not be completed in time [ACK-TIMEOUT-1]. */
  SEND_MESSAGE_TIMEOUT: spec(4201, "SEND_MESSAGE_TIMEOUT", "frame"),
  /** A target the peer may not reach [DIRECT-PERM-2, ROOM-MEMBER-1, LOGS-AUTH-3]. */
  INVALID_MESSAGING_TARGET: spec(4401, "INVALID_MESSAGING_TARGET", "frame"),
  /** The app's policy refused the message [ERROR-APP-1]. */
  MESSAGE_REJECTED_BY_APP: spec(4402, "MESSAGE_REJECTED_BY_APP", "frame"),
  /** A join or invite would take a group over 500 members [ROOM-LIMIT-1]. */
  ROOM_FULL: spec(4403, "ROOM_FULL", "frame"),
  /** A `roomId` that names no group [ROOM-UNKNOWN-1]. */
  ROOM_NOT_FOUND: spec(4404, "ROOM_NOT_FOUND", "frame"),
} as const;

/**
 * The name Table 7 gives each code. Codes 4111 and 4300–4399 are absent: protocol v1 never
 * sends them [ERROR-UNUSED-1].
 */
export const CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.values(ERRORS).map((e) => [e.code, e.name]),
);

/** A failure of one command, raised by a handler and turned into an error frame. */
export class CommandError extends Error {
  /** The registry entry. */
  readonly spec: ErrorSpec;
  /** Human-readable detail sent in the frame's `detail` [ERROR-FRAME-4]. */
  readonly detail: string;

  /** @param spec an entry of {@link ERRORS}; @param detail what exactly went wrong. */
  constructor(spec: ErrorSpec, detail: string) {
    super(`${spec.name}: ${detail}`);
    this.spec = spec;
    this.detail = detail;
  }
}

/**
 * Builds an `error` frame: `reason` is the code's name [ERROR-FRAME-1], `i` and `peerId` are
 * those of the failed command when it carried valid ones [ERROR-FRAME-2, ERROR-FRAME-3].
 */
export function errorFrame(
  spec: ErrorSpec,
  detail: string,
  serial: number | undefined,
  peerId: string | undefined,
): Record<string, unknown> {
  const frame: Record<string, unknown> = {
    cmd: "error",
    code: spec.code,
    reason: spec.name,
    detail,
  };
  if (serial !== undefined) frame.i = serial;
  if (peerId !== undefined) frame.peerId = peerId;
  return frame;
}
