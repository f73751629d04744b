/**
 * Where the kit finds the files of the repository it ships in (the spec's requirement index,
 * the reference server's command), whether it runs compiled from `dist/src` or from source
 * under a test runner: the nearest ancestor folder that holds the path.
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The first `folder/relative` that exists, going up from this module's folder. */
export function findUp(relative: string): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, relative);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
