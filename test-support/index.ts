/**
 * `@confab/test-support`: what the tests of every Confab workspace share. The wire client
 * every socket-level test speaks through, the one test signer and master key, fast-check
 * arbitraries of valid and invalid frames, a scripted fake server for client tests, and the
 * loader of the unmodified legacy client. Private: tests import it from source.
 * @module
 */
export * from "./frames.js";
export * from "./legacy-client.js";
export * from "./scripted-server.js";
export * from "./signing.js";
export * from "./wire-client.js";
