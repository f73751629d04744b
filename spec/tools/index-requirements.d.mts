// Types of spec/tools/index-requirements.mjs, for the TypeScript tests that import it.

/** One requirement of the specification, as written to spec/requirements.json. */
export interface Requirement {
  /** The stable ID, e.g. `DIRECT-ACK-1`. */
  id: string;
  /** The strongest BCP 14 keyword of the requirement, normalised. */
  level: "MUST" | "SHOULD" | "MAY";
  /** The party the requirement binds. */
  target: "server" | "client" | "both";
  /** The first part of the ID. */
  area: string;
  /** The title of the chapter (its first heading). */
  chapter: string;
  /** The chapter's path relative to the repository root. */
  file: string;
  /** The 1-based line on which the requirement starts. */
  line: number;
  /** The requirement's text without its ID. */
  text: string;
}

/** The result of parsing chapters: the requirements found and every rule broken. */
export interface IndexResult {
  requirements: Requirement[];
  errors: string[];
}

/** A place to write messages to; `console` by default. */
export interface Log {
  log(message: string): void;
  error(message: string): void;
}

export const ID_PATTERN: RegExp;
export const AREAS: readonly string[];
export const SPEC_DIR: string;
export const REPO_DIR: string;
export const INDEX_FILE: string;
export function sentences(text: string): string[];
export function targetOf(sentence: string): Requirement["target"] | undefined;
export function blocksOf(markdown: string): { kind: string; line: number; text: string }[];
export function parseChapter(markdown: string, file: string): IndexResult;
export function chapterFiles(specDir?: string): string[];
export function buildIndex(specDir?: string, repoDir?: string): IndexResult;
export function serialize(requirements: Requirement[]): string;
export function main(
  argv?: string[],
  options?: { specDir?: string; repoDir?: string; log?: Log },
): number;
