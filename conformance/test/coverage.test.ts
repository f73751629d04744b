/**
 * The kit's traceability: every server requirement of the spec is named by a case of the
 * kit or listed in `src/untested.ts` with its reason, never both; every case names real
 * server requirements; names are unique and well formed.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CASE_NAME } from "../src/case.js";
import { ALL_CASES } from "../src/cases/index.js";
import { Requirements } from "../src/requirements.js";
import { UNTESTED } from "../src/untested.js";
import { root } from "./support.js";

const requirements = Requirements.load();
const named = new Set(ALL_CASES.flatMap((c) => c.requirements));

describe("the kit's coverage of the spec", () => {
  it("names every server requirement in a case, or says why not", () => {
    const missing = requirements.server
      .filter((r) => !named.has(r.id) && UNTESTED[r.id] === undefined)
      .map((r) => r.id);
    expect(missing).toEqual([]);
  });

  it("lists as untested only requirements that bind servers and that no case names", () => {
    for (const id of Object.keys(UNTESTED)) {
      expect(requirements.get(id)?.target, id).toMatch(/^(server|both)$/);
      expect(named.has(id), `${id} is named by a case and listed as untested`).toBe(false);
    }
  });

  it("has unique, well-formed case names, each naming server requirements", () => {
    const names = ALL_CASES.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const c of ALL_CASES) {
      expect(c.name).toMatch(CASE_NAME);
      expect(c.requirements.length, c.name).toBeGreaterThan(0);
      for (const id of c.requirements)
        expect(requirements.get(id)?.target, `${c.name}: ${id}`).toMatch(/^(server|both)$/);
    }
  });

  it("covers every MUST and SHOULD that can be observed over the wire", () => {
    const untestedMust = requirements.server
      .filter((r) => r.level !== "MAY" && !named.has(r.id))
      .map((r) => r.id);
    // Each is in UNTESTED with a reason (checked above); this pins how many there are.
    expect(untestedMust.sort()).toEqual([
      "ACK-FAIL-1",
      "ERROR-INTERNAL-1",
      "OFFLINE-SWEEP-1",
      "SESSION-DISABLE-1",
      "SIG-ALG-3",
    ]);
  });
});

describe("the README's counts", () => {
  // Counts written by hand go stale when a case or a requirement is added (380 cases and
  // 335 server requirements stood for 382 and 336 once).
  const readme = readFileSync(join(root, "README.md"), "utf8").replace(/\s+/g, " ");
  const server = requirements.server;
  const durability = ALL_CASES.filter((c) => c.name.startsWith("durability/")).length;

  it("are the kit's cases and the spec's requirements", () => {
    const covered = server.filter((r) => named.has(r.id)).length;
    const claims = [
      `There are ${ALL_CASES.length} of them (${ALL_CASES.length - durability} in the quick and thorough profiles, ${durability} in the durability profile)`,
      `name ${covered} of the ${server.length} server requirements`,
      `Each of the other ${server.length - covered} is listed`,
      `(${server.length} of the ${requirements.all.length} in spec v1.1)`,
    ];
    // One claim at a time, so that a failure names the claim rather than the README.
    for (const claim of claims) expect(readme.includes(claim), claim).toBe(true);
  });
});
