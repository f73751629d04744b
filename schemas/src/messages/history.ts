/**
 * History family: the socket `logs` command, its reply, and the REST item shape
 * (spec/05-history.md).
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import {
  CommandEnvelope,
  ConversationId,
  EventEnvelope,
  LOGS_DEFAULT_LIMIT,
  LOGS_MAX_LIMIT,
  MAX_ID_LENGTH,
  NoOp,
  PeerId,
  ServerMessageId,
  TimestampMs,
} from "../primitives.js";

/**
 * Largest size of one history page, in bytes of UTF-8: the page's items serialized as a JSON
 * array, which is the REST response body and the value of `logs` in `logs/result`
 * [LOGS-BYTES-1]. 1 MiB less 1 KiB, so that a whole `logs/result` frame (the array and an
 * envelope of at most some 400 bytes) stays within 1 MiB; one item takes at most some 31.5 KB
 * (a `msg` of 5120 control characters, each escaped as 6 bytes), so a page always holds one.
 */
export const LOGS_MAX_PAGE_BYTES = 1_047_552;

/** Paging parameters shared by the socket command and the REST endpoint (decision D9). */
const pageFields = {
  max_ts: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "Exclusive upper bound on timestamp (ms); with msgid, a (timestamp, id) cursor.",
    }),
  ),
  msgid: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: MAX_ID_LENGTH,
      description: "Id of the last item of the previous page; requires max_ts.",
    }),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: LOGS_MAX_LIMIT,
      description: `Page size, default ${LOGS_DEFAULT_LIMIT}, at most ${LOGS_MAX_LIMIT}.`,
    }),
  ),
};

/** c2s `logs`: one page of a conversation's history, newest first. */
export const LogsQuery = Type.Object(
  {
    cmd: Type.Literal("logs"),
    ...CommandEnvelope,
    ...NoOp,
    cid: ConversationId,
    ...pageFields,
  },
  {
    description:
      "Asks for one page of a conversation's history, newest first; allowed for participants and current group members.",
    dependencies: { msgid: ["max_ts"] },
  },
);

/** One history item, as in the socket reply and the REST response. */
export const LogItem = Type.Object(
  {
    timestamp: TimestampMs,
    "conv-id": ConversationId,
    data: Type.String({ description: "The message text." }),
    from: PeerId,
    "msg-id": ServerMessageId,
    "is-conv": Type.Boolean({ description: "true for a multi-recipient peer message." }),
    "is-room": Type.Boolean({ description: "true for a group message." }),
    to: Type.String({
      description:
        "The group id for a group message, the recipient for a one-recipient message, the conversation id otherwise.",
    }),
  },
  { description: "One stored message in a history page." },
);

/** s2c `logs/result`: the reply to `logs`. */
export const LogsResult = Type.Object(
  {
    cmd: Type.Literal("logs"),
    op: Type.Literal("result"),
    ...EventEnvelope,
    logs: Type.Array(LogItem, { maxItems: LOGS_MAX_LIMIT, description: "Newest first." }),
    more: Type.Optional(
      Type.Boolean({
        description: `true when the page ended before limit items because the next item would take it over ${LOGS_MAX_PAGE_BYTES} bytes of JSON: older items match, ask for the next page. Absent otherwise.`,
      }),
    ),
  },
  {
    description:
      "Reply to logs: one page, newest first. A page shorter than limit without more: true, and in particular an empty page, means no more.",
  },
);

/** Query parameters of `GET /1.1/rtm/messages/logs` (strings on the wire, parsed). */
export const RestLogsQuery = Type.Object(
  {
    convid: Type.Optional(ConversationId),
    from: Type.Optional(PeerId),
    ...pageFields,
  },
  {
    description:
      "Query of GET /1.1/rtm/messages/logs: convid or from (not both), or neither for the whole app.",
    not: { required: ["convid", "from"] },
    dependencies: { msgid: ["max_ts"] },
  },
);

/** Response body of `GET /1.1/rtm/messages/logs`. */
export const RestLogsResponse = Type.Array(LogItem, {
  maxItems: LOGS_MAX_LIMIT,
  description: `One page of history, newest first, of at most ${LOGS_MAX_PAGE_BYTES} bytes. The header X-Confab-More: true marks a page that the byte bound ended before limit items.`,
});

/** Static type of the LogsQuery schema. */
export type LogsQuery = Static<typeof LogsQuery>;
/** Static type of the LogItem schema. */
export type LogItem = Static<typeof LogItem>;
/** Static type of the LogsResult schema. */
export type LogsResult = Static<typeof LogsResult>;
/** Static type of the RestLogsQuery schema. */
export type RestLogsQuery = Static<typeof RestLogsQuery>;
/** Static type of the RestLogsResponse schema. */
export type RestLogsResponse = Static<typeof RestLogsResponse>;
