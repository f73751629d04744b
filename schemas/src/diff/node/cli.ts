/**
 * `confab-schema`: the command line of the protocol-change gate. A function of its
 * arguments that returns the exit status, so that tests run it in-process; the bin file
 * only calls it.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { AllowListError, parseAllowList } from "../allow.js";
import { diffSchemaSets } from "../compare.js";
import { evaluate, renderJson, renderMarkdown, renderText } from "../report.js";
import { type RequirementText, requirementsFromJson } from "../requirements.js";
import { SchemaSetError, schemaSetFromFiles } from "../schema-set.js";
import { gitTopLevel, loadSource, SourceError } from "./sources.js";

/** The usage text of `confab-schema --help`. */
export const USAGE = `Usage: confab-schema diff BASE HEAD [options]

Compares two versions of the Confab JSON Schemas message by message and direction by
direction, and classifies every change per Table 8 of spec 09: breaking, warning or
non-breaking, with who is hurt, the JSON pointer, the rule and the requirement IDs.

BASE and HEAD are each:
  git:REF        a ref of the git repository of the current folder (git:HEAD~1,
                 git:origin/main, git:v1.0.0); read from schemas/json of that tree
  FILE.tgz       a packed npm tarball of @confab/protocol (npm pack); package/json/
  FOLDER         a folder like schemas/json (registry.json, c2s/, s2c/, http/), or a
                 package folder holding one as json/

Options:
  --format F           text (default), json, or markdown (for a pull-request comment)
  --allow FILE         allow-list of deliberate breaks, a JSON array of
                       {"message": "c2s direct", "pointer": "/properties/msg",
                        "rule": "constraint-tightened", "keyword": "maxLength",
                        "reason": "why"}  (rule and keyword optional)
  --requirements FILE  spec/requirements.json to cite IDs from (default: HEAD's when it
                       is a git ref, else the repository's spec/requirements.json)
  --git-path PATH      the schema folder inside git trees (default schemas/json)
  --verbose            list the non-breaking changes in the text report too
  -h, --help           this text

Exit status: 0 no breaking change (or only allowed ones); 1 a breaking change that is
not allowed, or a stale allow entry (one that allows no breaking change); 2 a usage
error (bad arguments, an unreadable source or allow-list).
`;

/** Where the CLI writes, and from where it reads relative paths. */
export interface CliIo {
  /** The folder relative paths and `git:` refs are read from. */
  readonly cwd: string;
  /** Writes the report. */
  readonly stdout: (text: string) => void;
  /** Writes usage errors. */
  readonly stderr: (text: string) => void;
}

class UsageError extends Error {}

interface Args {
  base: string;
  head: string;
  format: "text" | "json" | "markdown";
  allow?: string;
  requirements?: string;
  gitPath?: string;
  verbose: boolean;
}

function parseArgs(argv: readonly string[]): Args | "help" {
  if (argv.includes("--help") || argv.includes("-h")) return "help";
  const [sub, ...rest] = argv;
  if (sub === undefined) throw new UsageError("a subcommand is needed: diff");
  if (sub !== "diff") throw new UsageError(`unknown subcommand ${sub}: only diff exists`);
  const positional: string[] = [];
  const args: Partial<Args> & { verbose: boolean } = { verbose: false };
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    const value = () => {
      const v = rest[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      return v;
    };
    if (a === "--format") {
      const f = value();
      if (f !== "text" && f !== "json" && f !== "markdown")
        throw new UsageError(`--format ${f}: use text, json or markdown`);
      args.format = f;
    } else if (a === "--allow") args.allow = value();
    else if (a === "--requirements") args.requirements = value();
    else if (a === "--git-path") args.gitPath = value();
    else if (a === "--verbose") args.verbose = true;
    else if (a.startsWith("-")) throw new UsageError(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2)
    throw new UsageError(`diff needs BASE and HEAD, got ${positional.length} argument(s)`);
  return {
    ...args,
    base: positional[0] as string,
    head: positional[1] as string,
    format: args.format ?? "text",
  };
}

/** The requirements to cite, and where they came from. */
function requirementsFor(
  args: Args,
  headRequirements: string | undefined,
  cwd: string,
): { list: RequirementText[]; source: string | null } {
  const parse = (text: string, source: string) => {
    try {
      return { list: requirementsFromJson(JSON.parse(text)), source };
    } catch {
      throw new UsageError(`${source} is not JSON`);
    }
  };
  if (args.requirements !== undefined) {
    const file = resolve(cwd, args.requirements);
    if (!existsSync(file))
      throw new UsageError(`--requirements ${args.requirements}: no such file`);
    return parse(readFileSync(file, "utf8"), args.requirements);
  }
  if (headRequirements !== undefined)
    return parse(headRequirements, `${args.head.replace(/^git:/, "")}:spec/requirements.json`);
  const top = gitTopLevel(cwd);
  const file = top === undefined ? undefined : join(top, "spec", "requirements.json");
  // Named relative to the working folder: the report may end up in a pull-request comment.
  if (file !== undefined && existsSync(file))
    return parse(readFileSync(file, "utf8"), relative(cwd, file) || file);
  return { list: [], source: null };
}

/**
 * Runs `confab-schema` with `argv` (without node and the script) and returns the exit
 * status: 0 passed, 1 an unallowed break or a stale allow entry, 2 a usage error.
 */
export function runConfabSchema(argv: readonly string[], io: CliIo): number {
  let args: Args | "help";
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.stderr(`confab-schema: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (args === "help") {
    io.stdout(USAGE);
    return 0;
  }
  try {
    const options = { cwd: io.cwd, ...(args.gitPath ? { gitPath: args.gitPath } : {}) };
    const base = loadSource(args.base, options);
    const head = loadSource(args.head, options);
    const allow =
      args.allow === undefined
        ? []
        : (() => {
            const file = resolve(io.cwd, args.allow);
            if (!existsSync(file)) throw new UsageError(`--allow ${args.allow}: no such file`);
            return parseAllowList(readFileSync(file, "utf8"));
          })();
    const requirements = requirementsFor(args, head.requirements, io.cwd);
    const diff = diffSchemaSets(schemaSetFromFiles(base.files), schemaSetFromFiles(head.files), {
      requirements: requirements.list,
    });
    const report = evaluate(diff, allow, {
      base: args.base,
      head: args.head,
      requirementsSource: requirements.source,
    });
    io.stdout(
      args.format === "json"
        ? renderJson(report)
        : args.format === "markdown"
          ? renderMarkdown(report)
          : renderText(report, { verbose: args.verbose }),
    );
    return report.passed ? 0 : 1;
  } catch (e) {
    if (
      e instanceof UsageError ||
      e instanceof SourceError ||
      e instanceof SchemaSetError ||
      e instanceof AllowListError
    ) {
      const what = e instanceof AllowListError ? `--allow ${args.allow}: ` : "";
      io.stderr(`confab-schema: ${what}${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
