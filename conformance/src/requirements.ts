/**
 * The requirements of the spec, as `spec/tools/index-requirements.mjs` indexes them into
 * `spec/requirements.json`: the kit names each failure by its requirement's ID, level and
 * text (h2spec's habit), and grades a failure by the level (a MUST fails, a SHOULD or MAY
 * warns).
 * @module
 */
import { readFileSync } from "node:fs";
import { findUp } from "./paths.js";

/** One requirement of the spec. */
export interface Requirement {
  /** The stable ID, e.g. `DIRECT-ACK-1`. */
  readonly id: string;
  /** RFC 2119 level. */
  readonly level: "MUST" | "SHOULD" | "MAY";
  /** Who it binds. The server kit grades `server` and `both`. */
  readonly target: "server" | "client" | "both" | "signer";
  /** The chapter's title, e.g. `3. Direct messages`. */
  readonly chapter: string;
  /** The spec file, relative to the repository. */
  readonly file: string;
  /** The line of the requirement in {@link Requirement.file}. */
  readonly line: number;
  /** The normative sentence. */
  readonly text: string;
}

/** Where the kit reads the index when it is not told: the spec next to this package. */
export const DEFAULT_REQUIREMENTS_FILE =
  findUp("spec/requirements.json") ?? "spec/requirements.json";

/** The requirements of the spec, by ID, in spec order. */
export class Requirements {
  private readonly byId: ReadonlyMap<string, Requirement>;

  /** @param all - every requirement, in spec order */
  constructor(readonly all: readonly Requirement[]) {
    this.byId = new Map(all.map((r) => [r.id, r]));
  }

  /** Reads `spec/requirements.json` (or the given file). */
  static load(file = DEFAULT_REQUIREMENTS_FILE): Requirements {
    return new Requirements(JSON.parse(readFileSync(file, "utf8")) as Requirement[]);
  }

  /** The requirement with this ID, or `undefined`. */
  get(id: string): Requirement | undefined {
    return this.byId.get(id);
  }

  /** The requirements a server kit grades: those that bind servers. */
  get server(): Requirement[] {
    return this.all.filter((r) => r.target === "server" || r.target === "both");
  }
}
