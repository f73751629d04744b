/**
 * Shared field schemas: identifiers, sizes and the envelope fields every frame carries.
 *
 * Every bound here is the one stated in `spec/07-limits.md` (decisions D3); change them
 * together with the spec and regenerate (`npm run gen`).
 * @module
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { ERRORS } from "./errors.js";

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
 * The revision of the specification that this package describes, as a server announces it
 * in `serverInfo.revision` [SESSION-INFO-2] (spec 09, 9.5; decision D22).
 */
export const SPEC_REVISION = "1.1";

/**
 * Pattern of peer ids, room ids and nonces: no control characters (they break logs and
 * terminals) and no `:` (the separator of signed strings, so that a signed string can be
 * split back into exactly one tuple) (decision D3).
 */
export const ID_PATTERN = "^[^\\u0000-\\u001f\\u007f:]+$";

/**
 * The annotation keyword that names, on a schema node, the error code a server answers when
 * a rule of that node fails [FRAME-SCHEMA-4]. Its value maps a keyword of the same node
 * (`maxItems`, `pattern`, …) to a code; `"*"` stands for every rule of the node, including
 * the parent's `required` for this property and the unpaired-surrogate rule
 * {@link WELL_FORMED_RULE}. A failure whose node names no code gets
 * {@link DEFAULT_SCHEMA_ERROR_CODE}. It is an annotation: it never changes what validates.
 */
export const ERROR_CODE_KEYWORD = "x-confab-error";

/**
 * The codes an {@link ERROR_CODE_KEYWORD} annotation may name, in precedence order: when a
 * command fails several rules, the first of these among their codes is the answer
 * [ERROR-ORDER-12]. It is the order of the steps of ERROR-ORDER-1 that the schema's rules
 * belong to: the app (4100, step 3), the `peerId` of a `session/open` (4103, step 4), the
 * schema (4114, step 5), the size of `msg` (4109) and the counts of id arrays (4120, step 6).
 */
export const SCHEMA_ERROR_PRECEDENCE: readonly number[] = [
  ERRORS.APP_NOT_AVAILABLE.code,
  ERRORS.INVALID_LOGIN.code,
  ERRORS.INVALID_FRAME.code,
  ERRORS.MESSAGE_TOO_LONG.code,
  ERRORS.LIMIT_EXCEEDED.code,
];

/** The code of a failed rule whose node names none: 4114 [FRAME-SCHEMA-2, FRAME-SCHEMA-4]. */
export const DEFAULT_SCHEMA_ERROR_CODE = ERRORS.INVALID_FRAME.code;

/**
 * The rule name of the unpaired-surrogate check [LIMIT-TEXT-1], which JSON Schema cannot
 * express: a failure of it counts as a failure of the node that describes the string.
 */
export const WELL_FORMED_RULE = "wellFormed";

/** An {@link ERROR_CODE_KEYWORD} annotation: a keyword of the node (or `"*"`) → its code. */
export type ErrorCodeAnnotation = Readonly<Record<string, number>>;

/**
 * The {@link ERROR_CODE_KEYWORD} member to spread into a schema's options.
 *
 * @example
 * Type.Array(PeerId, { maxItems: 500, ...errorCodes({ maxItems: 4120 }) })
 */
export function errorCodes(codes: ErrorCodeAnnotation): {
  readonly [ERROR_CODE_KEYWORD]: ErrorCodeAnnotation;
} {
  return { [ERROR_CODE_KEYWORD]: codes };
}

/** A peer id: 1..64 code points, no control characters, no `:`. */
export const PeerId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: ID_PATTERN,
  description: "A peer id: 1..64 Unicode code points, no control characters, no ':'.",
});

/**
 * The `peerId` of a `session/open`: a peer id whose every failure, its absence included,
 * is answered with 4103, not 4114 [SESSION-OPEN-1].
 */
export const LoginPeerId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: ID_PATTERN,
  description:
    "The peer to open a session for: 1..64 Unicode code points, no control characters, no ':'.",
  ...errorCodes({ "*": ERRORS.INVALID_LOGIN.code }),
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

/**
 * An app id: 1..64 characters of `[A-Za-z0-9_.-]`. Any other value names no app, so a
 * command that carries one gets 4100, the code of an app not served [LIMIT-APPID-1].
 */
export const AppId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  pattern: APP_ID_PATTERN,
  description: "The application id: 1..64 characters of [A-Za-z0-9_.-].",
  ...errorCodes({ "*": ERRORS.APP_NOT_AVAILABLE.code }),
});

/**
 * A message id as a client echoes it in `ack`. Servers make ids of `[A-Za-z0-9_-]`, but an
 * ack of an id the server never made is ignored, not rejected, so the alphabet is not
 * enforced here [ACK-IGNORE-1]. The length is: a string outside 1..64 code points is no id
 * at all, and its `ack` fails with 4114 [LIMIT-MSGID-1]. The annotation states that 4114
 * explicitly, so that nobody reads ACK-IGNORE-1 as covering it.
 */
export const MessageId = Type.String({
  minLength: 1,
  maxLength: MAX_ID_LENGTH,
  description: "A message id, as assigned by the server.",
  ...errorCodes({ "*": ERRORS.INVALID_FRAME.code }),
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

/**
 * The message text: at most 5120 bytes of UTF-8 (decision D3). `maxLength` is a cheap
 * bound in code points that no text within the byte limit exceeds; both answer 4109
 * [LIMIT-MSG-2]. Its type and its surrogates are schema failures, 4114.
 */
export const MessageText = Type.String({
  maxLength: MAX_MSG_BYTES,
  maxUtf8Bytes: MAX_MSG_BYTES,
  description: "The message text: at most 5120 bytes when encoded as UTF-8.",
  ...errorCodes({
    maxLength: ERRORS.MESSAGE_TOO_LONG.code,
    maxUtf8Bytes: ERRORS.MESSAGE_TOO_LONG.code,
  }),
});

/**
 * A string enum emitted as JSON Schema `enum` (TypeBox unions of literals become `anyOf`,
 * whose errors are harder to read).
 */
export function StringEnum<const T extends readonly string[]>(values: T, description: string) {
  return Type.Unsafe<T[number]>({ type: "string", enum: [...values], description });
}

/**
 * An array of ids of the given schema, at most 500 items; duplicates are collapsed. More
 * than 500 items is a count limit, 4120 [LIMIT-ARRAY-1]; too few items (LIMIT-EMPTY-1) and
 * bad items are schema failures, 4114.
 */
export function IdList<T extends TSchema>(item: T, description: string, minItems = 0) {
  return Type.Array(item, {
    minItems,
    maxItems: MAX_IDS_PER_FRAME,
    description,
    ...errorCodes({ maxItems: ERRORS.LIMIT_EXCEEDED.code }),
  });
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
