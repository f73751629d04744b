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

const feature = (description: string) => Type.Optional(Type.Boolean({ description }));
const limit = (description: string) => Type.Integer({ minimum: 0, description });

/**
 * What a server implements and the limits it applies, announced in `session/opened` and in
 * the router's answer [SESSION-INFO-1, ROUTER-INFO-1] (spec 02, 2.9; decision D22).
 *
 * Both member sets are open, so that a later revision adds a feature or a limit as an
 * optional field (Table 8: compatible both ways): every member of `features` is a boolean,
 * every member of `limits` a non-negative integer, and a receiver ignores the members it
 * does not know [SESSION-INFO-6].
 */
export const ServerInfo = Type.Object(
  {
    revision: Type.String({
      pattern: "^[0-9]+\\.[0-9]+$",
      description: 'The revision of the specification the server implements, e.g. "1.1".',
    }),
    features: Type.Object(
      {
        receipts: feature("Delivery receipts: rcp (spec 03, RECEIPT-*)."),
        offline: feature("The offline store and redelivery on open (spec 03, OFFLINE-*)."),
        history: feature("History over the socket: the logs command (spec 05, LOGS-SOCKET-1)."),
        "rest-history": feature("History over REST: GET /1.1/rtm/messages/logs (spec 05, REST-*)."),
        "room-query": feature(
          "The members of a group, asked by a member: room/query (ROOM-QUERY-*).",
        ),
        "room-list": feature(
          "A peer's own groups, asked over the socket: room/list (spec 04, 4.6, ROOM-LIST-*).",
        ),
        "rest-rooms": feature(
          "Members of a group and groups of a peer over REST, with the master key (spec 04, 4.7, REST-ROOMS-*).",
        ),
        echo: feature(
          "Echo to the sender's other sessions that ask for it (ECHO-OPEN-1, ECHO-OTHER-2).",
        ),
        "super-peer": feature("Super-peer sessions, sp: true (spec 02, SUPERPEER-*)."),
        "push-hook": feature(
          "Offline notifications POSTed to the app's push hook (spec 03, 3.10, OFFLINE-PUSH-*).",
        ),
        signatures: feature(
          "true: the app enforces signatures (SIG-ENFORCE-1); false or absent: it does not.",
        ),
      },
      {
        additionalProperties: Type.Boolean(),
        description:
          "Feature name → whether it is in force for the app: true only when the server implements it for the app; false or absent when not. Unknown names are ignored.",
      },
    ),
    limits: Type.Object(
      {
        msgBytes: limit("Largest msg, bytes of UTF-8 (LIMIT-MSG-1)."),
        frameBytes: limit("Largest text frame, bytes (FRAME-SIZE-1)."),
        idLength: limit("Longest peer id, group id or nonce, code points (LIMIT-ID-1)."),
        idsPerArray: limit("Most items of one id array (LIMIT-ARRAY-1)."),
        watchPerSession: limit("Largest watch set of one session (WATCH-LIMIT-1)."),
        sessionsPerConnection: limit("Most open sessions of one connection (LIMIT-SESSIONS-1)."),
        roomMembers: limit("Most members of one group (ROOM-LIMIT-1)."),
        offlineCount: limit("Most pending messages of one peer (OFFLINE-LIMIT-1)."),
        offlineAgeMs: limit(
          "Age after which a pending message is not delivered, ms (OFFLINE-AGE-1).",
        ),
        pageLimit: limit("Largest history page limit (LOGS-LIMIT-2)."),
        pageLimitDefault: limit("The page limit of a query without one (LOGS-LIMIT-1)."),
        pageBytes: limit(
          "Largest history page, bytes of its items as a JSON array (LOGS-BYTES-1).",
        ),
        signatureWindowS: limit(
          "Accepted distance of a signature's t from the server clock, s (SIG-TIME-1).",
        ),
        readTimeoutMs: limit(
          "Silence after which a connection is closed with 4107, ms (TIMEOUT-READ-1).",
        ),
        loginTimeoutMs: limit(
          "Time without a session after which a connection is closed with 4108, ms (TIMEOUT-LOGIN-1).",
        ),
        framesPerSecond: Type.Optional(
          limit(
            "Frames per second one connection may send on average; absent when not limited (FLOOD-RATE-1).",
          ),
        ),
        frameBurst: Type.Optional(
          limit(
            "Frames one connection may send at once, above the average rate; absent when not limited (FLOOD-RATE-1).",
          ),
        ),
        watchPerConnection: limit(
          "Most watch entries of one connection, summed over its sessions (LIMIT-WATCH-CONN-1).",
        ),
        historyBytesPerSecond: Type.Optional(
          limit(
            "History page bytes one connection or REST client may be sent per second; absent when not bounded (LIMIT-LOGS-RATE-1).",
          ),
        ),
        historyBurstBytes: Type.Optional(
          limit(
            "History page bytes one connection or REST client may take at once, above the rate; absent when not bounded (LIMIT-LOGS-RATE-1).",
          ),
        ),
        pendingPerApp: Type.Optional(
          limit("Most pending messages of the app; absent when not bounded (LIMIT-STORE-1)."),
        ),
        watchPerApp: Type.Optional(
          limit("Most watch entries of the app; absent when not bounded (LIMIT-QUOTA-1)."),
        ),
        sessionsPerApp: Type.Optional(
          limit("Most open sessions of the app; absent when not bounded (LIMIT-QUOTA-1)."),
        ),
        connectionsPerApp: Type.Optional(
          limit("Most connections bound to the app; absent when not bounded (LIMIT-QUOTA-1)."),
        ),
        connectionsPerAddress: Type.Optional(
          limit(
            "Most open connections from one network address; absent when not bounded (LIMIT-QUOTA-1).",
          ),
        ),
      },
      {
        additionalProperties: Type.Integer({ minimum: 0 }),
        description:
          "Limit name → the value the server applies to this app and connection (Table 9 of spec 07). Unknown names are ignored.",
      },
    ),
  },
  { description: "What the server implements and the limits it applies, for one app." },
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
    serverInfo: Type.Optional(ServerInfo),
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
/** Static type of the ServerInfo schema. */
export type ServerInfo = Static<typeof ServerInfo>;
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
