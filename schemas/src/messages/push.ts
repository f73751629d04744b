/**
 * The offline notification: the JSON body a server POSTs to an app's push hook when a
 * persistent message becomes pending for peers that have no open session
 * (spec/03-messages.md 3.10, OFFLINE-PUSH-*). Not a WebSocket frame but an HTTP body, so
 * it is listed in `HTTP_SCHEMAS`.
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import {
  AppId,
  IdList,
  MessageText,
  PeerId,
  RoomId,
  ServerMessageId,
  TimestampMs,
} from "../primitives.js";

/**
 * The header of a push-hook POST carrying the notice's signature, 40 lowercase hex digits:
 * `pushSignature` of crypto.ts [OFFLINE-PUSH-8]. HTTP header names are case-insensitive;
 * Node.js reads them lowercased.
 */
export const PUSH_SIGNATURE_HEADER = "X-Confab-Signature";

/**
 * The header of a push-hook POST carrying the attempt's time, Unix seconds in decimal,
 * which the signature covers [OFFLINE-PUSH-8].
 */
export const PUSH_TIMESTAMP_HEADER = "X-Confab-Timestamp";

/** The media type of a push-hook POST's body [OFFLINE-PUSH-6]. */
export const PUSH_CONTENT_TYPE = "application/json";

/**
 * Body of a push-hook POST [OFFLINE-PUSH-6]. Every attempt of one notice carries the same
 * body [OFFLINE-PUSH-12], so a receiver deduplicates by `id`; `msg` is there only when the
 * app's configuration asks for the text [OFFLINE-PUSH-7]. Open to new optional members,
 * which a receiver ignores, like every message of the protocol (VERSION-UNKNOWN-2).
 */
export const PushNotice = Type.Object(
  {
    appId: AppId,
    id: ServerMessageId,
    fromPeerId: PeerId,
    offlinePeerIds: IdList(
      PeerId,
      "The recipients without an open session when the message was accepted, each once; never the sender.",
      1,
    ),
    roomId: Type.Optional(RoomId),
    timestamp: TimestampMs,
    msg: Type.Optional(MessageText),
  },
  {
    description:
      "Offline notification, POSTed to an app's push hook: a persistent message is pending for peers without an open session. id and timestamp are those of the sender's ack; roomId is set for a group message; msg only when the app asks for the text.",
  },
);

/** Static type of the PushNotice schema. */
export type PushNotice = Static<typeof PushNotice>;
