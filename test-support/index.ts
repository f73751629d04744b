/**
 * `@confab/test-support`: what the tests of every Confab workspace share. The wire client
 * every socket-level test speaks through, the one test signer and master key, fast-check
 * arbitraries of valid and invalid frames, a scripted fake server for client tests, the
 * loader of the unmodified legacy client, and the import scanner of the topology test.
 * Private: tests import it from source.
 * @module
 */
export * from "./frames.js";
export * from "./imports.js";
export * from "./legacy-client.js";
export * from "./scripted-server.js";
export * from "./signing.js";
export * from "./wire-client.js";
