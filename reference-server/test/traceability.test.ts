// Every server requirement of the spec is named by at least one reference-server test, or
// is listed with a reason in test/untested.json (a baseline that may only shrink).
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ESM tool without types
import { trace } from "../../spec/tools/trace.mjs";

interface Trace {
  missing: { id: string }[];
  unknown: string[];
  stale: string[];
}

describe("requirement traceability", () => {
  const t = trace({
    target: "server",
    dirs: ["reference-server/test"],
    baseline: "reference-server/test/untested.json",
  }) as Trace;

  it("names only requirement IDs that exist in the spec", () => {
    expect(t.unknown).toEqual([]);
  });

  it("covers every server requirement or gives a reason in untested.json", () => {
    expect(t.missing.map((r) => r.id)).toEqual([]);
  });

  it("keeps untested.json free of covered or deleted requirements", () => {
    expect(t.stale).toEqual([]);
  });
});
