/**
 * Writes the trace of a failed property run to a file: the trace, not the seed alone, is
 * what one debugs from (the history of operations, every frame of every connection).
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Writes `trace` as JSON under `dir`; returns the file's path. */
export function writeTrace(dir: string, name: string, trace: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${Date.now()}.json`);
  writeFileSync(file, `${JSON.stringify(trace, null, 2)}\n`);
  return file;
}
