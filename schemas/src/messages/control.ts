/**
 * Control frames: keepalive, error, ackreq, and the HTTP router response
 * (spec/01-transport.md, spec/08-errors.md).
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import { EventEnvelope, NoOp, PeerId, Serial } from "../primitives.js";
import { ServerInfo } from "./session.js";

/**
 * The keepalive `{}`, in either direction: any object without `cmd`. Receivers ignore
 * unknown fields, so extra fields do not make it another message.
 */
export const Keepalive = Type.Object(
  {},
  {
    description: "Keepalive: an object without cmd, normally {}. The server answers {} with {}.",
    not: { required: ["cmd"] },
  },
);

/** s2c `error`: a command failed; the connection survives unless a close follows. */
export const ErrorFrame = Type.Object(
  {
    cmd: Type.Literal("error"),
    ...NoOp,
    peerId: Type.Optional(PeerId),
    i: Type.Optional(Serial),
    code: Type.Integer({
      minimum: 1000,
      maximum: 4999,
      description: "Code from spec/08-errors.md.",
    }),
    reason: Type.String({ description: "The code's name, e.g. SIGNATURE_FAILED." }),
    detail: Type.Optional(
      Type.String({ description: "Human-readable detail, e.g. the failing field and rule." }),
    ),
    appCode: Type.Optional(Type.Integer({ description: "Application-defined code, if any." })),
  },
  { description: "A command failed. Echoes i and peerId when the command had them." },
);

/** s2c `ackreq`: historical; its meaning was never documented (decision D13). */
export const AckReq = Type.Object(
  {
    cmd: Type.Literal("ackreq"),
    ...EventEnvelope,
    ...NoOp,
    c: Type.Optional(Type.Integer({ minimum: 0, description: "A count." })),
  },
  { description: "Historical; not sent by Confab v1 servers. Clients ignore it." },
);

/** Response body of `GET /v1/route`. */
export const RouteResponse = Type.Object(
  {
    server: Type.String({
      pattern: "^wss?://",
      description: "The WebSocket URL to connect to.",
    }),
    secondary: Type.Optional(
      Type.String({ pattern: "^wss?://", description: "A fallback WebSocket URL." }),
    ),
    ttl: Type.Integer({ minimum: 1, description: "Seconds the answer may be cached." }),
    serverInfo: Type.Optional(ServerInfo),
  },
  { description: "Router answer: where the client opens its WebSocket." },
);

/** Error body of the HTTP endpoints. */
export const HttpError = Type.Object(
  {
    code: Type.Integer({ description: "Code from spec/08-errors.md." }),
    error: Type.String({ description: "What went wrong." }),
  },
  { description: "Error body of the router and REST endpoints." },
);

/** Static type of the Keepalive schema. */
export type Keepalive = Static<typeof Keepalive>;
/** Static type of the ErrorFrame schema. */
export type ErrorFrame = Static<typeof ErrorFrame>;
/** Static type of the AckReq schema. */
export type AckReq = Static<typeof AckReq>;
/** Static type of the RouteResponse schema. */
export type RouteResponse = Static<typeof RouteResponse>;
/** Static type of the HttpError schema. */
export type HttpError = Static<typeof HttpError>;
