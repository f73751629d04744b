/**
 * The browser entry of `@confab/client` (the `browser` condition of its `exports`): the
 * same API as the Node entry, with the page's own `WebSocket`, so that a bundle never
 * contains `ws`.
 * @module
 */
import { ConfabClient } from "./client.js";
import type { ClientOptions } from "./types.js";
import type { WebSocketConstructor } from "./websocket.js";

export * from "./exports.js";

/**
 * Makes a client that uses the page's `WebSocket` (or `options.WebSocket`).
 *
 * @example
 * ```ts
 * const client = createClient({ router: location.origin, appId: "demo", peerId: "alice" });
 * await client.open();
 * ```
 */
export function createClient(options: ClientOptions): ConfabClient {
  return new ConfabClient(options, (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket);
}
