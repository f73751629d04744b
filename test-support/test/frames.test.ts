// The frame arbitraries keep their promise: every valid frame validates as the message it
// was drawn for, every invalid one is rejected, and the corpus behind them is all there.
import { REGISTRY, validate } from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type C2SName, c2sFixtures, invalidFrame, validFrame, validId } from "../index.js";

const c2sNames = REGISTRY.filter((e) => e.direction === "c2s").map((e) => e.name as C2SName);

describe("c2s fixture corpus", () => {
  it("holds valid and invalid fixtures of every c2s message and the legacy captures", () => {
    const fixtures = c2sFixtures();
    for (const name of c2sNames) {
      expect(
        fixtures.some((f) => f.name === name && f.valid),
        name,
      ).toBe(true);
      expect(
        fixtures.some((f) => f.name === name && !f.valid),
        name,
      ).toBe(true);
    }
    expect(fixtures.some((f) => f.file.startsWith("legacy"))).toBe(true);
  });
});

describe("validFrame", () => {
  it("draws only frames the c2s schemas accept", () => {
    fc.assert(
      fc.property(validFrame(), (frame) => {
        const r = validate("c2s", frame);
        expect(r.ok ? [] : r.errors, JSON.stringify(frame)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("draws frames of the named message only, for every c2s message", () => {
    for (const name of c2sNames) {
      fc.assert(
        fc.property(validFrame(name), (frame) => {
          const r = validate("c2s", frame);
          expect(r.ok && r.name, JSON.stringify(frame)).toBe(name);
        }),
        { numRuns: 50 },
      );
    }
  });

  it("mutates the fixtures rather than replaying them", () => {
    const originals = new Set(c2sFixtures().map((f) => JSON.stringify(f.frame)));
    const drawn = fc.sample(validFrame("direct"), 100).map((f) => JSON.stringify(f));
    expect(drawn.filter((f) => !originals.has(f)).length).toBeGreaterThan(0);
  });

  it("refuses a message without valid fixtures", () => {
    expect(() => validFrame("no/such" as C2SName)).toThrow(/no valid c2s fixture of no\/such/);
  });
});

describe("invalidFrame", () => {
  it("draws only frames the c2s schemas reject", () => {
    fc.assert(
      fc.property(invalidFrame(), (frame) => {
        expect(validate("c2s", frame).ok, JSON.stringify(frame)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("draws the invalid fixtures of the named message only", () => {
    const files = new Set(
      c2sFixtures()
        .filter((f) => f.name === "direct" && !f.valid)
        .map((f) => JSON.stringify(f.frame)),
    );
    for (const frame of fc.sample(invalidFrame("direct"), 50)) {
      expect(files.has(JSON.stringify(frame))).toBe(true);
    }
  });
});

describe("validId", () => {
  it("draws ids the peer id schema accepts", () => {
    fc.assert(
      fc.property(validId, (peerId) => {
        const r = validate("c2s", { cmd: "session", op: "open", appId: "app1", peerId });
        expect(r.ok ? [] : r.errors).toEqual([]);
      }),
    );
  });
});
