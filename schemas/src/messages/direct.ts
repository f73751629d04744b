/**
 * Direct-message family: send, server ack, delivery, client ack, receipt
 * (spec/03-messages.md, spec/04-groups.md for group messages).
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import {
  CommandEnvelope,
  EventEnvelope,
  IdList,
  MessageId,
  MessageText,
  NoOp,
  PeerId,
  RoomId,
  ServerMessageId,
  TimestampMs,
} from "../primitives.js";

/**
 * c2s `direct`: sends a message to peers (`toPeerIds`) or to a group (`roomId`), exactly
 * one of the two. The `oneOf` is a JSON Schema keyword that TypeBox passes through; the
 * static type keeps both optional.
 */
export const DirectSend = Type.Object(
  {
    cmd: Type.Literal("direct"),
    ...CommandEnvelope,
    ...NoOp,
    msg: MessageText,
    toPeerIds: Type.Optional(IdList(PeerId, "Recipient peers (one-to-one or multi-peer).", 1)),
    roomId: Type.Optional(RoomId),
    transient: Type.Optional(
      Type.Boolean({
        description: "Transient: not stored, not in history, no receipt; no ack without i.",
      }),
    ),
    r: Type.Optional(
      Type.Boolean({
        description: "Request a delivery receipt (single recipient, persistent messages only).",
      }),
    ),
  },
  {
    description:
      "Sends a message to peers (toPeerIds) or to a group (roomId): exactly one of them.",
    oneOf: [{ required: ["toPeerIds"] }, { required: ["roomId"] }],
  },
);

/** s2c `ack`: the server accepted (and, for persistent messages, stored) a `direct`. */
export const DirectAck = Type.Object(
  {
    cmd: Type.Literal("ack"),
    ...EventEnvelope,
    ...NoOp,
    t: TimestampMs,
    uid: ServerMessageId,
  },
  {
    description:
      "Reply to direct: the message is accepted; for a persistent message it is durably stored.",
  },
);

/** s2c `direct`: a message delivered to a recipient's session (or the sender's other devices). */
export const DirectDelivery = Type.Object(
  {
    cmd: Type.Literal("direct"),
    ...EventEnvelope,
    ...NoOp,
    id: ServerMessageId,
    msg: MessageText,
    fromPeerId: PeerId,
    timestamp: TimestampMs,
    offline: Type.Optional(
      Type.Boolean({ description: "true when delivered from the offline store." }),
    ),
    transient: Type.Optional(Type.Boolean({ description: "true for a transient message." })),
    roomId: Type.Optional(RoomId),
    toPeerIds: Type.Optional(
      IdList(
        PeerId,
        "The distinct recipients of a peer message, without the sender (DIRECT-TO-1).",
        1,
      ),
    ),
  },
  { description: "A message delivered to a session. The client acks it with its id." },
);

/** c2s `ack`: the client received these deliveries. */
export const ClientAck = Type.Object(
  {
    cmd: Type.Literal("ack"),
    ...CommandEnvelope,
    ...NoOp,
    ids: IdList(MessageId, "Ids of delivered messages; unknown or transient ids are ignored.", 1),
  },
  { description: "Acknowledges delivered messages. Never replied to." },
);

/** s2c `rcp`: delivery receipt for a message sent with `r: true`. */
export const Receipt = Type.Object(
  {
    cmd: Type.Literal("rcp"),
    ...EventEnvelope,
    ...NoOp,
    id: ServerMessageId,
    t: TimestampMs,
  },
  {
    description:
      "Delivery receipt: id is the uid of the sender's ack; t is when the recipient acked it.",
  },
);

/** Static type of the DirectSend schema. */
export type DirectSend = Static<typeof DirectSend>;
/** Static type of the DirectAck schema. */
export type DirectAck = Static<typeof DirectAck>;
/** Static type of the DirectDelivery schema. */
export type DirectDelivery = Static<typeof DirectDelivery>;
/** Static type of the ClientAck schema. */
export type ClientAck = Static<typeof ClientAck>;
/** Static type of the Receipt schema. */
export type Receipt = Static<typeof Receipt>;
