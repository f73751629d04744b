/**
 * Shared field schemas: identifiers, sizes and the envelope fields every frame carries.
 *
 * Every bound here is the one stated in `spec/07-limits.md` (decisions D3); change them
 * together with the spec and regenerate (`npm run gen`).
 * @module
 */
import { type TSchema, Type } from "@sinclair/typebox";

/** Maximum size of `msg` in bytes of UTF-8 [LIMIT-MSG] (decision D3). */
export const MAX_MSG_BYTES = 5120;
/** Maximum size of one WebSocket text frame in bytes (decision D3). */
export const MAX_FRAME_BYTES = 65536;
/** Maximum length of a peer id, room id or nonce, in Unicode code points (decision D3). */
export const MAX_ID_LENGTH = 64;
/** Maximum number of ids in one array field of one frame (decision D3). */
export const MAX_IDS_PER_FRAME = 500;
/** Maximum number of peers one session may watch (decision D3). */
export const MAX_WATCHED_PER_SESSION = 10_000;
/** Maximum number of open sessions on one connection [LIMIT-SESSIONS-1]. */
export const MAX_SESSIONS_PER_CONNECTION = 100;
/** Maximum number of members of one group (decision D8). */
export const MAX_ROOM_MEMBERS = 500;
/** Maximum number of pending offline messages per peer (decision D6). */
export const MAX_OFFLINE_PER_PEER = 50;
/** How long a pending offline message is kept, in milliseconds: 7 days (decision D6). */
export const OFFLINE_TTL_MS = 7 * 24 * 60 * 60 * 1000;
/** Default and maximum page size of a history query (decision D9). */
export const LOGS_DEFAULT_LIMIT = 100;
/** Maximum page size of a history query (decision D9). */
export const LOGS_MAX_LIMIT = 1000;
/** Largest serial `i` a client may send (decision D1). */
export const MAX_SERIAL = 2_147_483_647;

/**
 * Pattern of peer ids, room ids and nonces: no control characters (they break logs and
 * terminals) and no `:` (the separator of signed strings, so that a signed string can be
 * split back into exactly one tuple) (decision D3).
 */
export const ID_PATTERN = "^[^\\u0000-\\u001f\\u007f:]+$";

/** A peer id: 1..64 code points, no control characters, no `:`. */
export const PeerId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: ID_PATTERN,
  description: "A peer id: 1..64 Unicode code points, no control characters, no ':'.",
});

/** A room (group) id: the same alphabet and length as a peer id. */
export const RoomId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: ID_PATTERN,
  description: "A group id: 1..64 Unicode code points, no control characters, no ':'.",
});

/** Pattern of app ids: ASCII letters, digits, `_`, `.` and `-` [LIMIT-APPID-1]. */
export const APP_ID_PATTERN = "^[A-Za-z0-9_.-]+$";

/** An app id: 1..64 characters of `[A-Za-z0-9_.-]`. */
export const AppId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: APP_ID_PATTERN,
  description: "The application id: 1..64 characters of [A-Za-z0-9_.-].",
});

/**
 * A message id as a client echoes it in `ack`. Servers make ids of `[A-Za-z0-9_-]`, but an
 * ack of an id the server never made is ignored, not rejected, so the alphabet is not
 * enforced here.
 */
export const MessageId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  description: "A message id, as assigned by the server.",
});

/** A message id as a server assigns it: ASCII `[A-Za-z0-9_-]`, 1..64 characters. */
export const ServerMessageId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: "^[A-Za-z0-9_-]+$",
  description: "A server-assigned message id: 1..64 characters of [A-Za-z0-9_-].",
});

/** A conversation id: the md5 hex of the participants, or a room id (decision D9). */
export const ConversationId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: ID_PATTERN,
  description:
    "A conversation id: lowercase hex md5 of the sorted participants joined with ':', or a group id.",
});

/** Milliseconds since the Unix epoch, server clock. */
export const TimestampMs = Type.Integer({
  minimum: 0,
  description: "Milliseconds since the Unix epoch (server clock).",
});

/** The optional serial `i` (decision D1). */
export const Serial = Type.Integer({
  minimum: 0,
  maximum: MAX_SERIAL,
  description:
    "Optional command serial. A command that carries it gets exactly one reply echoing it, success or error.",
});

/** The message text: at most 5120 bytes of UTF-8 (decision D3). */
export const MessageText = Type.String({
  maxLength: MAX_MSG_BYTES,
  maxUtf8Bytes: MAX_MSG_BYTES,
  description: "The message text: at most 5120 bytes when encoded as UTF-8.",
});

/**
 * A string enum emitted as JSON Schema `enum` (TypeBox unions of literals become `anyOf`,
 * whose errors are harder to read).
 */
export function StringEnum<const T extends readonly string[]>(values: T, description: string) {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], description });
}

/** An array of ids of the given schema, at most 500 items; duplicates are collapsed. */
export function IdList<T extends TSchema>(item: T, description: string, minItems = 0) {
  return Type.Array(item, { minItems, maxItems: MAX_IDS_PER_FRAME, description });
}

/** The three signature fields `s`, `t`, `n` (decision D10); all optional on the wire. */
export const SignatureFields = {
  s: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      description: "Signature: lowercase hex HMAC-SHA1 of the signed string (spec 06).",
    }),
  ),
  t: Type.Optional(Type.Integer({ minimum: 0, description: "Signature timestamp, Unix seconds." })),
  n: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_ID_LENGTH,
      pattern: ID_PATTERN,
      description: "Signature nonce, used once.",
    }),
  ),
};

/**
 * `op` declared impossible, for commands that have none, so that the JSON Schema alone
 * rejects `{cmd:"direct", op:…}` exactly as the cmd/op lookup does.
 */
export const NoOp = { op: Type.Optional(Type.Never({ description: "Must be absent." })) };

/** Fields of every client command except the keepalive. */
export const CommandEnvelope = {
  peerId: PeerId,
  appId: AppId,
  i: Type.Optional(Serial),
};

/** Fields of every server frame except the keepalive. */
export const EventEnvelope = {
  peerId: Type.String({
    minLength: 1,
    maxLength: MAX_ID_LENGTH,
    description: "The session (peer) this frame is for; a socket may carry several.",
  }),
  appId: Type.Optional(AppId),
  i: Type.Optional(Serial),
};
