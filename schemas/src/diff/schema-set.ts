/**
 * A set of committed JSON Schemas (a folder shaped like `schemas/json`), built from file
 * contents alone so that the comparison stays pure: the loaders that read folders, git refs
 * and tarballs live in the CLI, and hand this module a map of path → text.
 * @module
 */
import type { Direction } from "../registry.js";
import type { JsonSchema, JsonValue } from "./types.js";

/** The registry metadata of a message, as `registry.json` records it. */
export interface RegistryInfo {
  /** `cmd` of the message, `null` for the keepalive. */
  readonly cmd: string | null;
  /** `op`, `null` when the message has none. */
  readonly op: string | null;
  /** The reply a command gets (`null`: none), as recorded. */
  readonly reply: JsonValue;
  /** Whether the command is signed; `undefined` when the registry did not say (v1.0). */
  readonly signed: boolean | undefined;
}

/** One message of a schema set: a WebSocket frame of one direction, or an HTTP body. */
export interface MessageSchema {
  /** `c2s direct`, `s2c session/opened`, `http logs-query`. */
  readonly id: string;
  /** Registry name (`session/open`) or the HTTP schema's file name (`logs-query`). */
  readonly name: string;
  /** Whose consumer judges a change: see {@link httpDirection} for HTTP bodies. */
  readonly direction: Direction;
  /** `ws` for frames of the registry, `http` for the bodies under `http/`. */
  readonly kind: "ws" | "http";
  /** The path of its file in the set (`c2s/direct.json`). */
  readonly path: string;
  /** The schema. */
  readonly schema: JsonSchema;
  /** Registry metadata, for frames. */
  readonly registry?: RegistryInfo;
}

/** The messages of one side of a comparison, by {@link MessageSchema.id}. */
export interface SchemaSet {
  /** Every message, in registry order, then the HTTP bodies by name. */
  readonly messages: ReadonlyMap<string, MessageSchema>;
}

/** A schema set that cannot be read: a missing registry, a missing or malformed file. */
export class SchemaSetError extends Error {
  override readonly name = "SchemaSetError";
}

/**
 * The direction of an HTTP body's consumer. Queries are read by servers (like c2s
 * commands); responses, error bodies and the push notice are read by clients or by the
 * app's push endpoint (like s2c frames: the server produces them). Names the gate does not
 * know are judged by their suffix.
 */
export function httpDirection(name: string): Direction {
  return /-(query|request)$/.test(name) ? "c2s" : "s2c";
}

function parse(path: string, text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch (e) {
    throw new SchemaSetError(`${path} is not JSON: ${(e as Error).message}`);
  }
}

const isObject = (v: JsonValue | undefined): v is { [k: string]: JsonValue } =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Builds a schema set from the files of a `schemas/json`-shaped folder, keyed by their path
 * in it (`registry.json`, `c2s/direct.json`, `http/error.json`). Throws
 * {@link SchemaSetError} when the registry is missing or names a file that is not there.
 */
export function schemaSetFromFiles(files: ReadonlyMap<string, string>): SchemaSet {
  const registryText = files.get("registry.json");
  if (registryText === undefined) throw new SchemaSetError("registry.json is missing");
  const registry = parse("registry.json", registryText);
  if (!Array.isArray(registry)) throw new SchemaSetError("registry.json is not an array");
  const messages = new Map<string, MessageSchema>();
  for (const raw of registry) {
    if (!isObject(raw)) throw new SchemaSetError("registry.json has an entry that is no object");
    const { name, direction, schema: path } = raw;
    if (typeof name !== "string" || (direction !== "c2s" && direction !== "s2c"))
      throw new SchemaSetError(`registry.json has an entry without name or direction`);
    const file = typeof path === "string" ? path : `${direction}/${name.replace("/", "-")}.json`;
    const text = files.get(file);
    if (text === undefined)
      throw new SchemaSetError(`${file} (of ${direction} ${name}) is missing`);
    const schema = parse(file, text);
    if (!isObject(schema)) throw new SchemaSetError(`${file} is not a JSON Schema object`);
    messages.set(`${direction} ${name}`, {
      id: `${direction} ${name}`,
      name,
      direction,
      kind: "ws",
      path: file,
      schema,
      registry: {
        cmd: typeof raw.cmd === "string" ? raw.cmd : null,
        op: typeof raw.op === "string" ? raw.op : null,
        reply: raw.reply ?? null,
        signed: typeof raw.signed === "boolean" ? raw.signed : undefined,
      },
    });
  }
  const http = [...files.keys()].filter((p) => /^http\/[^/]+\.json$/.test(p)).sort();
  for (const file of http) {
    const name = file.slice("http/".length, -".json".length);
    const schema = parse(file, files.get(file) as string);
    if (!isObject(schema)) throw new SchemaSetError(`${file} is not a JSON Schema object`);
    messages.set(`http ${name}`, {
      id: `http ${name}`,
      name,
      direction: httpDirection(name),
      kind: "http",
      path: file,
      schema,
    });
  }
  return { messages };
}
