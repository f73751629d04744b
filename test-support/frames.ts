/**
 * fast-check arbitraries of client→server frames, built from the fixture corpus
 * (`schemas/fixtures/c2s/**` and the frames the legacy client really sends,
 * `schemas/fixtures/legacy/c2s/*`) and the schemas (`REGISTRY`, `validate`). Valid frames
 * are fixtures with mutations the schemas still accept; invalid frames are the invalid
 * fixtures, each of which the corpus test pins to the field and rule it breaks.
 *
 * Validity here is the schemas' validity: a mutated signed frame keeps its old `s`, so the
 * server may refuse it with a signature error, which is a valid reply to a valid frame.
 *
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type C2SMessages, fileName, MAX_SERIAL, REGISTRY, validate } from "@confab/protocol";
import fc from "fast-check";

/** The fixture corpus of the protocol package. */
const FIXTURE_ROOT = fileURLToPath(new URL("../schemas/fixtures/", import.meta.url));

/** A c2s message name of the registry, e.g. `session/open`. */
export type C2SName = keyof C2SMessages;

/** One c2s fixture of the corpus. */
export interface C2SFixture {
  /** The message it is (or claims to be) an example of. */
  readonly name: C2SName;
  /** Its file, relative to `schemas/fixtures/`. */
  readonly file: string;
  /** What it shows. */
  readonly description: string;
  /** Whether the schemas accept it. */
  readonly valid: boolean;
  /** The frame. */
  readonly frame: unknown;
}

/** A fixture file as stored; legacy captures carry no `valid` (they are all valid). */
interface StoredFixture {
  description: string;
  valid?: boolean;
  frame: unknown;
}

const readJson = (path: string) => JSON.parse(readFileSync(path, "utf8")) as StoredFixture;
const jsonFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith(".json"));

let corpus: readonly C2SFixture[] | undefined;

/** Every c2s fixture of the corpus, read once. */
export function c2sFixtures(): readonly C2SFixture[] {
  if (corpus) return corpus;
  const found: C2SFixture[] = [];
  for (const entry of REGISTRY) {
    if (entry.direction !== "c2s") continue;
    const folder = join("c2s", fileName(entry.name));
    for (const file of jsonFiles(join(FIXTURE_ROOT, folder))) {
      const stored = readJson(join(FIXTURE_ROOT, folder, file));
      found.push({
        name: entry.name as C2SName,
        file: join(folder, file),
        description: stored.description,
        valid: stored.valid === true,
        frame: stored.frame,
      });
    }
  }
  const legacy = join("legacy", "c2s");
  for (const file of jsonFiles(join(FIXTURE_ROOT, legacy))) {
    const stored = readJson(join(FIXTURE_ROOT, legacy, file));
    const result = validate("c2s", stored.frame);
    // The legacy-frames test pins every capture as valid; one that is not is its failure.
    if (!result.ok) continue;
    found.push({
      name: result.name as C2SName,
      file: join(legacy, file),
      description: stored.description,
      valid: true,
      frame: stored.frame,
    });
  }
  corpus = found;
  return corpus;
}

/** Fixtures of one validity, of one message if `name` is given; never empty. */
function pool(valid: boolean, name: C2SName | undefined): C2SFixture[] {
  const hits = c2sFixtures().filter((f) => f.valid === valid && (!name || f.name === name));
  if (hits.length === 0) {
    throw new Error(`no ${valid ? "valid" : "invalid"} c2s fixture${name ? ` of ${name}` : ""}`);
  }
  return hits;
}

/** Whether a code point may appear in an id: no C0 control, no DEL, no `:` (decision D3). */
const idSafe = (ch: string) => {
  const code = ch.codePointAt(0) ?? 0;
  return code >= 0x20 && code !== 0x7f && ch !== ":";
};

/**
 * An id the schemas accept as a peer id, room id or message id: 1 to 16 code points of
 * any plane, without control characters or `:` (decision D3).
 */
export const validId: fc.Arbitrary<string> = fc
  .string({ unit: "binary", minLength: 1, maxLength: 16 })
  .map((s) => [...s].map((ch) => (idSafe(ch) ? ch : "_")).join(""));

type JsonObject = Record<string, unknown>;
type Mutation = (frame: JsonObject) => void;

/** Fields holding a list of ids. */
const ID_LISTS = ["toPeerIds", "sessionPeerIds", "roomPeerIds", "ids"] as const;

/** Sets the serial `i`, present or not. */
function setSerial(i: number): Mutation {
  return (f) => {
    f.i = i;
  };
}

/** Replaces the string field `key`, if the frame has it. */
function replaceString(key: "peerId" | "roomId" | "msg", value: string): Mutation {
  return (f) => {
    if (typeof f[key] === "string") f[key] = value;
  };
}

/** Replaces every non-empty id list of the frame. */
function replaceIdLists(ids: string[]): Mutation {
  return (f) => {
    for (const key of ID_LISTS) if (Array.isArray(f[key]) && f[key].length > 0) f[key] = ids;
  };
}

/** Rotates the order of the frame's keys: key order means nothing in JSON. */
function rotateKeys(by: number): Mutation {
  return (f) => {
    const entries = Object.entries(f);
    for (const key of Object.keys(f)) delete f[key];
    for (let k = 0; k < entries.length; k++) {
      const pair = entries[(k + by) % entries.length];
      if (pair) f[pair[0]] = pair[1];
    }
  };
}

/** Changes to a frame that keep its shape; the schemas have the last word (see below). */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.integer({ min: 0, max: MAX_SERIAL }).map(setSerial),
  validId.map((id) => replaceString("peerId", id)),
  validId.map((id) => replaceString("roomId", id)),
  fc.string({ maxLength: 200 }).map((msg) => replaceString("msg", msg)),
  fc.array(validId, { minLength: 1, maxLength: 5 }).map(replaceIdLists),
  fc.integer({ min: 1, max: 1000 }).map(rotateKeys),
);

/** Whether the schemas accept `frame` as the message `name`. */
function isValidAs(frame: unknown, name: C2SName): boolean {
  const result = validate("c2s", frame);
  return result.ok && result.name === name;
}

/**
 * A c2s frame the schemas accept: a valid fixture (of message `name`, if given) with up to
 * three mutations (serial, ids, text, key order). A mutation the schemas would reject is
 * dropped, so every drawn frame validates as the message it started as.
 */
export function validFrame<K extends C2SName>(name?: K): fc.Arbitrary<C2SMessages[K]> {
  const fixtures = pool(true, name);
  return fc
    .tuple(fc.constantFrom(...fixtures), fc.array(mutation, { maxLength: 3 }))
    .map(([fixture, mutations]) => {
      let frame = structuredClone(fixture.frame) as JsonObject;
      for (const mutate of mutations) {
        const next = structuredClone(frame);
        mutate(next);
        if (isValidAs(next, fixture.name)) frame = next;
      }
      return frame as C2SMessages[K];
    });
}

/**
 * A frame the schemas reject: an invalid fixture (claiming to be message `name`, if given).
 * Typed `unknown`, since some are not even objects.
 */
export function invalidFrame(name?: C2SName): fc.Arbitrary<unknown> {
  return fc.constantFrom(...pool(false, name)).map((f) => structuredClone(f.frame));
}
