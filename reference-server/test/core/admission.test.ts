/**
 * Admission (ERROR-ORDER-1): what the engine does with a frame before any handler runs.
 * Hostile shapes must reach the error path, never code outside it.
 */
import { describe, expect, it } from "vitest";
import { expectAlive, expectError, Harness } from "./support-core.js";

describe("hostile frames", () => {
  it("[FRAME-SCHEMA-1, ERROR-SURVIVE-1] answers a cmd that cannot become a string with 4114 and keeps the connection", () => {
    const h = new Harness();
    const c = h.connect();
    c.open("alice");
    c.drain();
    for (const cmd of [{ toString: 1 }, { toString: null, valueOf: null }, [1], 5, null]) {
      c.send({ cmd, peerId: "alice", appId: "app1", i: 3 });
      expectError(c, 4114, { i: 3, peerId: "alice" });
    }
    c.send({ cmd: "session", op: { toString: 1 }, peerId: "alice", appId: "app1", i: 4 });
    expectError(c, 4114, { i: 4 });
    expectAlive(c);
  });
});
