/**
 * The error registry: every code the reference server sends, its name, and whether it is
 * sent as an error frame (connection survives) or as a close code (spec/08-errors.md,
 * decision D2). One table, mirrored by the spec's table.
 * @module
 */

/** How a code reaches the client. */
export type ErrorDelivery = "frame" | "close";

/** One entry of the error registry. */
export interface ErrorSpec {
  readonly code: number;
  readonly name: string;
  readonly delivery: ErrorDelivery;
}

const spec = (code: number, name: string, delivery: ErrorDelivery): ErrorSpec => ({
  code,
  name,
  delivery,
});

/** Every code of spec/08-errors.md that this server sends. */
export const ERRORS = {
  GOING_AWAY: spec(1001, "GOING_AWAY", "close"),
  APP_NOT_AVAILABLE: spec(4100, "APP_NOT_AVAILABLE", "close"),
  /** A frame naming another app than the one the connection is bound to (decision D4). */
  APP_MISMATCH: spec(4100, "APP_NOT_AVAILABLE", "frame"),
  SIGNATURE_FAILED: spec(4102, "SIGNATURE_FAILED", "frame"),
  INVALID_LOGIN: spec(4103, "INVALID_LOGIN", "frame"),
  SESSION_REQUIRED: spec(4105, "SESSION_REQUIRED", "frame"),
  READ_TIMEOUT: spec(4107, "READ_TIMEOUT", "close"),
  LOGIN_TIMEOUT: spec(4108, "LOGIN_TIMEOUT", "close"),
  FRAME_TOO_LONG: spec(4109, "FRAME_TOO_LONG", "close"),
  MESSAGE_TOO_LONG: spec(4109, "FRAME_TOO_LONG", "frame"),
  UNPARSEABLE_RAW_MESSAGE: spec(4114, "UNPARSEABLE_RAW_MESSAGE", "close"),
  INVALID_FRAME: spec(4114, "UNPARSEABLE_RAW_MESSAGE", "frame"),
  INVALID_ORIGIN: spec(4110, "INVALID_ORIGIN", "close"),
  MESSAGE_SENT_QUOTA_EXCEEDED: spec(4116, "MESSAGE_SENT_QUOTA_EXCEEDED", "close"),
  LIMIT_EXCEEDED: spec(4120, "LIMIT_EXCEEDED", "frame"),
  INTERNAL_ERROR: spec(4200, "INTERNAL_ERROR", "frame"),
  INVALID_MESSAGING_TARGET: spec(4401, "INVALID_MESSAGING_TARGET", "frame"),
  ROOM_FULL: spec(4403, "ROOM_FULL", "frame"),
  ROOM_NOT_FOUND: spec(4404, "ROOM_NOT_FOUND", "frame"),
} as const;

/** A failure of one command, raised by a handler and turned into an error frame. */
export class CommandError extends Error {
  /** The registry entry. */
  readonly spec: ErrorSpec;
  /** Human-readable detail sent in the frame's `detail`. */
  readonly detail: string;

  /** @param spec an entry of {@link ERRORS}; @param detail what exactly went wrong. */
  constructor(spec: ErrorSpec, detail: string) {
    super(`${spec.name}: ${detail}`);
    this.spec = spec;
    this.detail = detail;
  }
}
