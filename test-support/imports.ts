/**
 * A small import scanner for the topology test: which modules a source file imports, and
 * which of those imports a rule forbids. Regular expressions rather than a parser, so it
 * needs no dependency; only statements that start a line count, so an `import` shown in a
 * comment or a doc example does not.
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/** `import … from "x"` and `export … from "x"`, across lines; no quote or `;` in between. */
const FROM = /^[ \t]*(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"'\n]+)["']/gm;
/** `import "x"`: a module imported for its side effects. */
const BARE = /^[ \t]*import\s*["']([^"'\n]+)["']/gm;
/** `import("x")` and `require("x")`, wherever they appear. */
const CALL = /\b(?:import|require)\s*\(\s*["'`]([^"'`\n]+)["'`]\s*\)/g;

/**
 * The module specifiers `source` imports or re-exports, in order of appearance per form:
 * static imports (type-only ones included), side-effect imports, re-exports, dynamic
 * `import("x")` and `require("x")`.
 */
export function importsOf(source: string): string[] {
  const found: string[] = [];
  for (const pattern of [FROM, BARE, CALL]) {
    for (const match of source.matchAll(pattern)) if (match[1]) found.push(match[1]);
  }
  return found;
}

/** Extensions of the source files the scanner reads. */
const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js)$/;

/**
 * Every source file (`.ts`, `.mts`, `.js`, …) under `dir`, skipping `node_modules` and
 * `dist`; `[]` when `dir` does not exist, so a planned package that has no code yet passes.
 */
export function sourceFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const files: string[] = [];
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...sourceFilesUnder(path));
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

/** One import as a rule sees it. */
export interface ImportSite {
  /** The importing file, relative to the root, with `/` separators. */
  readonly file: string;
  /** The specifier as written, e.g. `node:fs` or `../adapter/ws-adapter.js`. */
  readonly specifier: string;
  /**
   * For a relative specifier, the imported path relative to the root, with `/` separators
   * and without its extension (`reference-server/src/adapter/ws-adapter`); else `undefined`.
   */
  readonly target: string | undefined;
}

/** An import a rule forbids, and why. */
export interface Violation extends ImportSite {
  /** The rule's reason. */
  readonly reason: string;
}

/** Decides whether an import is forbidden: returns the reason, or `undefined` if allowed. */
export type ImportRule = (site: ImportSite) => string | undefined;

const toPosix = (path: string) => path.split(sep).join("/");

/** The imports of one file, located relative to `root`. */
export function importSites(root: string, file: string): ImportSite[] {
  return importsOf(readFileSync(file, "utf8")).map((specifier) => ({
    file: toPosix(relative(root, file)),
    specifier,
    target: specifier.startsWith(".")
      ? toPosix(relative(root, resolve(dirname(file), specifier))).replace(SOURCE, "")
      : undefined,
  }));
}

/** The imports of `files` that `rule` forbids. */
export function violations(root: string, files: readonly string[], rule: ImportRule): Violation[] {
  const found: Violation[] = [];
  for (const file of files) {
    for (const site of importSites(root, file)) {
      const reason = rule(site);
      if (reason !== undefined) found.push({ ...site, reason });
    }
  }
  return found;
}

/**
 * The files reachable from `entry` through relative imports: what a bundler would include
 * of the package, leaving out its build-time tools.
 */
export function reachableFrom(entry: string): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const specifier of importsOf(readFileSync(file, "utf8"))) {
      if (!specifier.startsWith(".")) continue;
      const base = resolve(dirname(file), specifier).replace(SOURCE, "");
      const hit = [".ts", ".mts", ".tsx", ".js", ".mjs", "/index.ts"]
        .map((ext) => base + ext)
        .find((candidate) => existsSync(candidate));
      if (hit) visit(hit);
    }
  };
  visit(entry);
  return [...seen];
}
