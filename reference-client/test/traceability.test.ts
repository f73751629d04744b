// Every client requirement of the spec (target "client", and "both") is named by at least
// one test of the client, or is listed with a reason in test/untested.json (a baseline that
// may only shrink; empty today).
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM tool without types
import { SUITES, trace } from "../../spec/tools/trace.mjs";

interface Trace {
  relevant: { id: string }[];
  covered: { id: string }[];
  missing: { id: string }[];
  unknown: string[];
  stale: string[];
}

describe("client requirement traceability", () => {
  const t = trace({ target: "client" }) as Trace;

  it("reads the client suite: the tests under reference-client/test and its baseline", () => {
    expect(SUITES.client).toEqual({
      dirs: ["reference-client/test"],
      baseline: "reference-client/test/untested.json",
    });
    expect(t.relevant.length).toBeGreaterThanOrEqual(51);
  });

  it("names only requirement IDs that exist in the spec", () => {
    expect(t.unknown).toEqual([]);
  });

  it("covers every client requirement or gives a reason in untested.json", () => {
    expect(t.missing.map((r) => r.id)).toEqual([]);
  });

  it("keeps untested.json free of covered or deleted requirements", () => {
    expect(t.stale).toEqual([]);
  });
});
