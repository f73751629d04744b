/**
 * Static TypeScript types of every message, named like their schemas, and the unions the
 * server and clients send. The per-name maps come from the registry.
 * @module
 */

import type { LogItem } from "./messages/history.js";
import type { C2SMessages, S2CMessages } from "./registry.js";

/** Any client→server message. */
export type C2SMessage = C2SMessages[keyof C2SMessages];
/** Any server→client message. */
export type S2CMessage = S2CMessages[keyof S2CMessages];
export type { LogItem };

/** `Omit` distributed over each member of a union, so that the union stays discriminated. */
export type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * A server frame before the server addresses it: everything but the `peerId` of the
 * session it goes to and the `i` of the command it answers, which the sender adds
 * [FRAME-PEERID-1, SERIAL-REPLY-1].
 */
export type S2CBody = OmitEach<S2CEvent, "peerId" | "i">;

/** Every server frame but the keepalive: the frames that carry `cmd`. */
export type S2CEvent = S2CMessages[Exclude<keyof S2CMessages, "keepalive">];

/**
 * The keepalive as a server sends it: exactly `{}` [KEEPALIVE-REPLY-1]. (The schema's
 * static type is `{}`, which TypeScript lets any object satisfy; this one it does not.)
 */
export type KeepaliveReply = { readonly cmd?: never };

/** Any frame a server sends, typed so that an object the registry does not know is refused. */
export type S2CFrame = S2CEvent | KeepaliveReply;
