/**
 * `@confab/protocol`: the Confab protocol's message schemas (TypeBox, the source of truth),
 * the registry they derive from, compiled validators, and the protocol facts every package
 * shares: error codes, id rules, signatures and conversation ids. Works in Node and in
 * browsers.
 * @module
 */
export type { Static } from "@sinclair/typebox";
export * from "./asyncapi.js";
export * from "./crypto.js";
export * from "./diff/index.js";
export * from "./errors.js";
export * from "./ids.js";
export * from "./messages/control.js";
export * from "./messages/direct.js";
export * from "./messages/history.js";
export * from "./messages/push.js";
export * from "./messages/room.js";
export * from "./messages/session.js";
export * from "./primitives.js";
export * from "./registry.js";
export * from "./types.js";
export * from "./validate.js";
