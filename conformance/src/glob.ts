/**
 * Globs over case names, as `--run` and `--skip` take them: `*` matches within one segment
 * of `family/command/behavior`, `**` across segments, `?` one character (picomatch's
 * semantics, with `/` as the separator).
 * @module
 */
import picomatch from "picomatch";

/** A predicate true for names that match at least one of `globs`. */
export function compileGlobs(globs: readonly string[]): (name: string) => boolean {
  const matchers = globs.map((g) => picomatch(g, { dot: true }));
  return (name) => matchers.some((m) => m(name));
}
