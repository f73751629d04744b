/**
 * `@confab/schemas`: the Confab protocol's message schemas (TypeBox, the source of truth),
 * the registry they derive from, and compiled validators. Signatures and conversation ids
 * live in `@confab/schemas/crypto` (Node-only).
 * @module
 */
export type { Static } from "@sinclair/typebox";
export * from "./messages/control.js";
export * from "./messages/direct.js";
export * from "./messages/history.js";
export * from "./messages/room.js";
export * from "./messages/session.js";
export * from "./primitives.js";
export * from "./registry.js";
export * from "./types.js";
export * from "./validate.js";
