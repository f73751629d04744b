/**
 * The error registry: every code of spec/08-errors.md (Table 7), its name, the form it is
 * sent in, and the requirements that send it. A code that Table 7 lists in both forms
 * (4100, 4109, 4114) has one entry per form. Servers build their `error` frames and close
 * codes from it; the conformance kit and the client read codes back through it, so that a
 * code means one thing in every package.
 * @module
 */
import type { ErrorFrame } from "./messages/control.js";

/** How a code reaches the client: an `error` frame (the connection survives) or a close. */
export type ErrorDelivery = "frame" | "close";

/** One entry of the error registry. */
export interface ErrorSpec {
  /** The numeric code, as sent in `code` or as the WebSocket close code. */
  readonly code: number;
  /** The code's name from Table 7, sent as `reason` [ERROR-FRAME-1, ERROR-CLOSE-3]. */
  readonly name: string;
  /** Whether Table 7 sends it as an error frame or as a close code [ERROR-CODES-1]. */
  readonly delivery: ErrorDelivery;
  /**
   * Whether the connection and its sessions stay open after it [ERROR-SURVIVE-1]: true for
   * error frames (but for the failed first `session/open` of SESSION-OPEN-4), false for
   * closes.
   */
  readonly survives: boolean;
  /** The requirement IDs that send the code in this form, as Table 7 cites them. */
  readonly requirements: readonly string[];
}

const spec = (
  code: number,
  name: string,
  delivery: ErrorDelivery,
  requirements: readonly string[],
): ErrorSpec => ({ code, name, delivery, survives: delivery === "frame", requirements });

/** Every code of spec/08-errors.md, in each form Table 7 gives it. */
export const ERRORS = {
  /** Server shutdown [ERROR-SHUTDOWN-1] (sent by the adapter). */
  GOING_AWAY: spec(1001, "GOING_AWAY", "close", ["ERROR-SHUTDOWN-1"]),
  /** A text message that is not UTF-8 [FRAME-UTF8-1] (sent by the WebSocket layer). */
  INVALID_PAYLOAD_DATA: spec(1007, "INVALID_PAYLOAD_DATA", "close", ["FRAME-UTF8-1"]),
  /** A client that does not read what it is sent [ERROR-BUFFER-1] (sent by the adapter). */
  SEND_BUFFER_FULL: spec(1008, "SEND_BUFFER_FULL", "close", ["ERROR-BUFFER-1"]),
  /** A WebSocket message over 1 MiB [FRAME-SIZE-2] (sent by the WebSocket layer). */
  MESSAGE_TOO_BIG: spec(1009, "MESSAGE_TOO_BIG", "close", ["FRAME-SIZE-2"]),
  /** A failed commit lost frames the connection needed [ERROR-RESYNC-1] (sent by the adapter). */
  CONNECTION_LOST_STATE: spec(1011, "INTERNAL_ERROR", "close", ["ERROR-RESYNC-1"]),
  /** The first command names an unknown or disabled app [SESSION-APP-2]. */
  APP_NOT_AVAILABLE: spec(4100, "APP_NOT_AVAILABLE", "close", [
    "SESSION-APP-2",
    "SESSION-APP-7",
    "SESSION-DISABLE-1",
  ]),
  /** A command names another app than the one the connection is bound to [SESSION-APP-3]. */
  APP_MISMATCH: spec(4100, "APP_NOT_AVAILABLE", "frame", ["SESSION-APP-3"]),
  /** A missing, wrong, expired or replayed signature [SIG-ENFORCE-1, SIG-TIME-1, SIG-NONCE-2]. */
  SIGNATURE_FAILED: spec(4102, "SIGNATURE_FAILED", "frame", [
    "SIG-ENFORCE-1",
    "SIG-TIME-1",
    "SIG-NONCE-2",
  ]),
  /** The `peerId` of a `session/open` is not a valid peer id [SESSION-OPEN-1]. */
  INVALID_LOGIN: spec(4103, "INVALID_LOGIN", "frame", ["SESSION-OPEN-1"]),
  /** A command for a peer without an open session here [SESSION-REQUIRED-1]. */
  SESSION_REQUIRED: spec(4105, "SESSION_REQUIRED", "frame", ["SESSION-REQUIRED-1"]),
  /** Nothing received for the read timeout [TIMEOUT-READ-1]. */
  READ_TIMEOUT: spec(4107, "READ_TIMEOUT", "close", ["TIMEOUT-READ-1"]),
  /** No open session for the login timeout [TIMEOUT-LOGIN-1]. */
  LOGIN_TIMEOUT: spec(4108, "LOGIN_TIMEOUT", "close", ["TIMEOUT-LOGIN-1"]),
  /** A text frame over 65536 bytes [FRAME-SIZE-1]. */
  FRAME_TOO_LONG: spec(4109, "FRAME_TOO_LONG", "close", ["FRAME-SIZE-1"]),
  /** A `msg` over 5120 bytes of UTF-8 [LIMIT-MSG-2]. */
  MESSAGE_TOO_LONG: spec(4109, "FRAME_TOO_LONG", "frame", ["LIMIT-MSG-2"]),
  /** The handshake `Origin` is not allowed for the app [FRAME-ORIGIN-2]. */
  INVALID_ORIGIN: spec(4110, "INVALID_ORIGIN", "close", ["FRAME-ORIGIN-2"]),
  /** The app or the address is over a connection quota [ERROR-QUOTA-1, LIMIT-CONN-APP-1, LIMIT-CONN-IP-1]. */
  APP_QUOTA_EXCEEDED: spec(4113, "APP_QUOTA_EXCEEDED", "close", [
    "ERROR-QUOTA-1",
    "LIMIT-CONN-APP-1",
    "LIMIT-CONN-IP-1",
  ]),
  /** A binary message, a frame that is not JSON, or JSON that is not an object [FRAME-JSON-1]. */
  UNPARSEABLE_RAW_MESSAGE: spec(4114, "UNPARSEABLE_RAW_MESSAGE", "close", [
    "FRAME-BINARY-2",
    "FRAME-JSON-1",
    "FRAME-JSON-2",
  ]),
  /** A command that fails its schema, an unknown command, an invalid `i` [FRAME-SCHEMA-1]. */
  INVALID_FRAME: spec(4114, "UNPARSEABLE_RAW_MESSAGE", "frame", [
    "FRAME-SCHEMA-1",
    "FRAME-SCHEMA-2",
    "SERIAL-INVALID-1",
    "LIMIT-TEXT-1",
    "LIMIT-ID-2",
  ]),
  /** The app or the operator ended the connection [ERROR-KICK-1]. */
  KICKED_BY_APP: spec(4115, "KICKED_BY_APP", "close", ["ERROR-KICK-1"]),
  /** The connection exceeds the frame rate limit [FLOOD-CLOSE-1]. */
  MESSAGE_SENT_QUOTA_EXCEEDED: spec(4116, "MESSAGE_SENT_QUOTA_EXCEEDED", "close", [
    "FLOOD-CLOSE-1",
  ]),
  /** A count limit: id arrays, watch sets, sessions, stored rows [LIMIT-ARRAY-1, WATCH-LIMIT-1, …]. */
  LIMIT_EXCEEDED: spec(4120, "LIMIT_EXCEEDED", "frame", [
    "LIMIT-ARRAY-1",
    "WATCH-LIMIT-1",
    "LIMIT-SESSIONS-1",
    "LIMIT-WATCH-CONN-1",
    "LIMIT-WATCH-APP-1",
    "LIMIT-SESSIONS-APP-1",
    "LIMIT-STORE-2",
    "LIMIT-LOGS-RATE-2",
  ]),
  /** The server failed to carry out the command [ERROR-INTERNAL-1, ACK-FAIL-1]. */
  INTERNAL_ERROR: spec(4200, "INTERNAL_ERROR", "frame", ["ERROR-INTERNAL-1", "ACK-FAIL-1"]),
  /** A `direct` could not be completed in time [ACK-TIMEOUT-1]. */
  SEND_MESSAGE_TIMEOUT: spec(4201, "SEND_MESSAGE_TIMEOUT", "frame", ["ACK-TIMEOUT-1"]),
  /** A target the peer may not reach [DIRECT-PERM-2, ROOM-MEMBER-1, LOGS-AUTH-3]. */
  INVALID_MESSAGING_TARGET: spec(4401, "INVALID_MESSAGING_TARGET", "frame", [
    "DIRECT-PERM-2",
    "DIRECT-SELF-2",
    "ROOM-MEMBER-1",
    "ROOM-MSG-1",
    "LOGS-AUTH-3",
  ]),
  /** The app's policy refused the message [ERROR-APP-1]. */
  MESSAGE_REJECTED_BY_APP: spec(4402, "MESSAGE_REJECTED_BY_APP", "frame", ["ERROR-APP-1"]),
  /** A join or invite would take a group over 500 members [ROOM-LIMIT-1]. */
  ROOM_FULL: spec(4403, "ROOM_FULL", "frame", ["ROOM-LIMIT-1"]),
  /** A `roomId` that names no group [ROOM-UNKNOWN-1]. */
  ROOM_NOT_FOUND: spec(4404, "ROOM_NOT_FOUND", "frame", ["ROOM-UNKNOWN-1"]),
} as const satisfies Record<string, ErrorSpec>;

/** The key of an entry of {@link ERRORS}, e.g. `"SIGNATURE_FAILED"`. */
export type ErrorKey = keyof typeof ERRORS;

/**
 * The name Table 7 gives each code. Codes 4111 and 4300–4399 are absent: protocol v1 never
 * sends them [ERROR-UNUSED-1].
 */
export const CODE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.values(ERRORS).map((e) => [e.code, e.name]),
);

/** The registry entry of a code in a form, or `undefined` if Table 7 has no such pair. */
export function errorSpecOf(code: number, delivery: ErrorDelivery): ErrorSpec | undefined {
  return Object.values(ERRORS).find((e) => e.code === code && e.delivery === delivery);
}

/**
 * The longest `detail` an `error` frame carries, in UTF-16 code units, so that an error
 * never costs more to send than the command cost to receive [ERROR-FRAME-5].
 */
export const MAX_ERROR_DETAIL = 1024;

/**
 * Bounds `detail` to {@link MAX_ERROR_DETAIL}, cutting at a code-point boundary and saying
 * how much was cut [ERROR-FRAME-5].
 */
export function boundDetail(detail: string): string {
  if (detail.length <= MAX_ERROR_DETAIL) return detail;
  const note = ` … (${detail.length} characters, cut)`;
  let cut = MAX_ERROR_DETAIL - note.length;
  // Never split a surrogate pair: a lone surrogate is not valid text [LIMIT-TEXT-1].
  const code = detail.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut--;
  return detail.slice(0, cut) + note;
}

/**
 * Builds an `error` frame: `reason` is the code's name [ERROR-FRAME-1], `i` and `peerId` are
 * those of the failed command when it carried valid ones [ERROR-FRAME-2, ERROR-FRAME-3], and
 * `detail` is bounded [ERROR-FRAME-5].
 *
 * @example
 * errorFrame(ERRORS.SESSION_REQUIRED, "alice has no open session here", 7, "alice")
 * // { cmd: "error", code: 4105, reason: "SESSION_REQUIRED", detail: "…", i: 7, peerId: "alice" }
 */
export function errorFrame(
  spec: ErrorSpec,
  detail: string,
  serial: number | undefined,
  peerId: string | undefined,
): ErrorFrame {
  const frame: ErrorFrame = {
    cmd: "error",
    code: spec.code,
    reason: spec.name,
    detail: boundDetail(detail),
  };
  if (serial !== undefined) frame.i = serial;
  if (peerId !== undefined) frame.peerId = peerId;
  return frame;
}

/** One row of Table 7 as the spec's Markdown gives it. */
export interface ErrorTableRow {
  /** The code. */
  readonly code: number;
  /** Its name. */
  readonly name: string;
  /** The forms it is sent in. */
  readonly forms: readonly ErrorDelivery[];
}

/**
 * Parses Table 7 out of the Markdown of spec/08-errors.md: code → name and the forms it is
 * sent in. The error registry is tested against it, and a conformance kit can check a
 * server's codes against the spec text itself rather than against a copy.
 *
 * @throws Error when the text holds no recognisable Table 7 (fewer than 20 codes).
 */
export function parseErrorTable(markdown: string): ReadonlyMap<number, ErrorTableRow> {
  const table = new Map<number, { code: number; name: string; forms: ErrorDelivery[] }>();
  for (const line of markdown.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (!/^\d{4}$/.test(cells[1] ?? "") || cells[2] === undefined) continue;
    const code = Number(cells[1]);
    const sentAs = cells[4] ?? "";
    const entry = table.get(code) ?? { code, name: cells[2], forms: [] };
    if (sentAs.includes("close code") && !entry.forms.includes("close")) entry.forms.push("close");
    if (/^error frame/.test(sentAs) || sentAs.includes("after an error frame")) {
      if (!entry.forms.includes("frame")) entry.forms.push("frame");
    }
    if (entry.forms.length > 0) table.set(code, entry);
  }
  if (table.size < 20) throw new Error(`Table 7 not found (${table.size} rows with a code)`);
  return table;
}
