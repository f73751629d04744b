// precompile: every validator of a direction compiled at once, so that a server's first
// client does not wait for ajv (issue 11's cold start). Its own file: vitest gives each file
// a fresh module, so nothing here has compiled a validator before the first test.
import { precompile, REGISTRY, validate } from "@confab/protocol";
import { describe, expect, it } from "vitest";

const count = (direction: "c2s" | "s2c") =>
  REGISTRY.filter((e) => e.direction === direction).length;

describe("precompile", () => {
  it("compiles each validator of a direction once, and only those not yet compiled", () => {
    // One c2s validator compiled by use first: precompile counts the others only.
    expect(validate("c2s", { cmd: "ack", peerId: "a", appId: "x", ids: ["m1"] }).ok).toBe(true);
    expect(precompile("c2s")).toBe(count("c2s") - 1);
    expect(precompile("c2s")).toBe(0);
    // The other direction is untouched by c2s's precompile.
    expect(precompile("s2c")).toBe(count("s2c"));
    expect(precompile("s2c")).toBe(0);
  });

  it("leaves validation as it was", () => {
    expect(validate("c2s", { cmd: "ack", peerId: "a", appId: "x", ids: ["m1"] }).ok).toBe(true);
    const bad = validate("c2s", { cmd: "ack", peerId: "a", appId: "x", ids: [] });
    expect(bad.ok).toBe(false);
  });
});
