/**
 * Session family: open, watch (add), unwatch (remove), status query, close, and presence
 * (spec/02-sessions.md).
 * @module
 */
import { type Static, Type } from "@sinclair/typebox";
import {
  CommandEnvelope,
  EventEnvelope,
  IdList,
  LoginPeerId,
  NoOp,
  PeerId,
  SignatureFields,
  StringEnum,
} from "../primitives.js";

const watchList = (description: string) => IdList(PeerId, description);

/** c2s `session/open`: opens a session for `peerId` on this connection. */
export const SessionOpen = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("open"),
    ...CommandEnvelope,
    // Every failure of this peerId is 4103 [SESSION-OPEN-1]; the key keeps its place.
    peerId: LoginPeerId,
    sessionPeerIds: Type.Optional(
      watchList("Peers to watch; the session receives their presence. Absent means none."),
    ),
    ...SignatureFields,
    sp: Type.Optional(
      Type.Boolean({ description: "Super peer: may message any peer without watching it." }),
    ),
    echo: Type.Optional(
      Type.Boolean({
        description:
          "true: the session receives the messages its peer sends from its other sessions (ECHO-OPEN-1). Absent or false: it does not.",
      }),
    ),
  },
  { description: "Opens a session for peerId on this connection, with its initial watch list." },
);

/** c2s `session/add`: watches more peers. */
export const SessionAdd = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("add"),
    ...CommandEnvelope,
    sessionPeerIds: watchList("Peers to add to the session's watch set."),
    ...SignatureFields,
  },
  { description: "Adds peers to the session's watch set." },
);

/** c2s `session/remove`: stops watching peers. */
export const SessionRemove = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("remove"),
    ...CommandEnvelope,
    sessionPeerIds: watchList("Peers to remove from the watch set; unwatched ids are ignored."),
  },
  { description: "Removes peers from the session's watch set. Replied to only when it has i." },
);

/** c2s `session/query`: asks which of the given peers are online. */
export const SessionQuery = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("query"),
    ...CommandEnvelope,
    sessionPeerIds: watchList("Peers whose online status is asked; they need not be watched."),
  },
  { description: "Asks which of the given peers are online, without watching them." },
);

/** c2s `session/close`: ends the session of `peerId` on this connection. */
export const SessionClose = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("close"),
    ...CommandEnvelope,
  },
  { description: "Ends the session of peerId on this connection. Replied to only when it has i." },
);

const onlineList = () =>
  Type.Array(PeerId, { description: "The requested peers that are online now." });

/** s2c `session/opened`: the reply to `session/open`. */
export const SessionOpened = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("opened"),
    ...EventEnvelope,
    onlineSessionPeerIds: onlineList(),
  },
  { description: "Reply to session/open: the session is open; lists the watched peers online." },
);

/** s2c `session/added`: the reply to `session/add`. */
export const SessionAdded = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("added"),
    ...EventEnvelope,
    onlineSessionPeerIds: onlineList(),
  },
  { description: "Reply to session/add: lists the newly watched peers that are online." },
);

/** s2c `session/removed`: the reply to `session/remove` carrying `i`. */
export const SessionRemoved = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("removed"),
    ...EventEnvelope,
  },
  { description: "Reply to session/remove, sent only when the command carried i." },
);

/** s2c `session/query-result`: the reply to `session/query`. */
export const SessionQueryResult = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("query-result"),
    ...EventEnvelope,
    onlineSessionPeerIds: onlineList(),
  },
  { description: "Reply to session/query: lists the asked peers that are online." },
);

/** s2c `session/closed`: the reply to `session/close` carrying `i`. */
export const SessionClosed = Type.Object(
  {
    cmd: Type.Literal("session"),
    op: Type.Literal("closed"),
    ...EventEnvelope,
  },
  { description: "Reply to session/close, sent only when the command carried i." },
);

/** s2c `presence`: a watched peer came online or went offline. */
export const Presence = Type.Object(
  {
    cmd: Type.Literal("presence"),
    ...EventEnvelope,
    ...NoOp,
    status: StringEnum(
      ["on", "off"],
      "on: the peers came online (first session); off: their last session ended.",
    ),
    sessionPeerIds: IdList(PeerId, "The watched peers whose status changed.", 1),
  },
  { description: "Presence change of watched peers, sent to each session that watches them." },
);

/** Static type of the SessionOpen schema. */
export type SessionOpen = Static<typeof SessionOpen>;
/** Static type of the SessionAdd schema. */
export type SessionAdd = Static<typeof SessionAdd>;
/** Static type of the SessionRemove schema. */
export type SessionRemove = Static<typeof SessionRemove>;
/** Static type of the SessionQuery schema. */
export type SessionQuery = Static<typeof SessionQuery>;
/** Static type of the SessionClose schema. */
export type SessionClose = Static<typeof SessionClose>;
/** Static type of the SessionOpened schema. */
export type SessionOpened = Static<typeof SessionOpened>;
/** Static type of the SessionAdded schema. */
export type SessionAdded = Static<typeof SessionAdded>;
/** Static type of the SessionRemoved schema. */
export type SessionRemoved = Static<typeof SessionRemoved>;
/** Static type of the SessionQueryResult schema. */
export type SessionQueryResult = Static<typeof SessionQueryResult>;
/** Static type of the SessionClosed schema. */
export type SessionClosed = Static<typeof SessionClosed>;
/** Static type of the Presence schema. */
export type Presence = Static<typeof Presence>;
