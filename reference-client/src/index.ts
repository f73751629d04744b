/**
 * `@confab/client`: the Confab reference client for Node and browsers. A Promise API with
 * typed events over one WebSocket, built on the protocol package (`@confab/protocol`):
 * sessions and watch lists, messages with acks, receipts and deduplication, groups,
 * history paging, and a connection that repairs itself (reconnect with backoff and jitter,
 * keepalive, dead-connection detection, an optional offline queue).
 *
 * This is the Node entry: it uses the global `WebSocket` when there is one and the `ws`
 * package otherwise. Bundlers that honour the `browser` condition take `browser.ts`, which
 * never loads `ws`.
 *
 * @example
 * ```ts
 * import { createClient } from "@confab/client";
 *
 * const alice = createClient({ url: "ws://127.0.0.1:8080/", appId: "demo", peerId: "alice" });
 * alice.on("message", (m) => console.log(`${m.fromPeerId}: ${m.msg}`));
 * await alice.open();
 * await alice.send("hello", "bob");
 * ```
 * @module
 */
import WebSocket from "ws";
import { ConfabClient } from "./client.js";
import type { ClientOptions } from "./types.js";
import type { WebSocketConstructor } from "./websocket.js";

export * from "./exports.js";

/**
 * Makes a client. Nothing is sent until {@link ConfabClient.open}.
 *
 * @param options - see {@link ClientOptions}; `url` or `router`, `appId` and `peerId` are required
 * @throws InvalidArgumentError when an option is invalid
 *
 * @example
 * ```ts
 * const client = createClient({
 *   router: "http://127.0.0.1:8080",
 *   appId: "demo",
 *   peerId: "alice",
 *   watchPeerIds: ["bob"],
 *   auth: async (req) => (await fetch("/sign", { method: "POST", body: JSON.stringify(req) })).json(),
 *   offlineQueue: { max: 100 },
 * });
 * await client.open();
 * ```
 */
export function createClient(options: ClientOptions): ConfabClient {
  const global = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  return new ConfabClient(options, global ?? WebSocket);
}
