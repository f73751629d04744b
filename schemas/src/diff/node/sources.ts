/**
 * The loaders of `confab-schema diff`: a side of a comparison from a folder, a git ref of
 * the repository, or a packed npm tarball. Node only (files, processes), so not exported
 * from the package's entry point, which runs in browsers.
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";

/** A source that cannot be read: a bad ref, a missing folder, a tarball without schemas. */
export class SourceError extends Error {
  override readonly name = "SourceError";
}

/** The files of one side, keyed by path in the schema folder, and where they came from. */
export interface LoadedSource {
  /** As given on the command line. */
  readonly label: string;
  /** `folder`, `git` or `tarball`. */
  readonly kind: "folder" | "git" | "tarball";
  /** Path in the folder (`c2s/direct.json`) → text. */
  readonly files: Map<string, string>;
  /** The text of `spec/requirements.json` that goes with it, when the source has one. */
  readonly requirements?: string;
}

/** Options of the loaders. */
export interface LoadOptions {
  /** Where relative folders and the git repository are found. */
  readonly cwd: string;
  /** The schema folder inside a git tree, `schemas/json` by default. */
  readonly gitPath?: string;
}

function run(cmd: string, args: string[], cwd: string, input?: string) {
  // No encoding: the output stays a Buffer, whose byte offsets `git cat-file` sizes need.
  const r = spawnSync(cmd, args, {
    cwd,
    ...(input === undefined ? {} : { input: Buffer.from(input, "utf8") }),
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new SourceError(`${cmd} could not run: ${r.error.message}`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString("utf8").trim() };
}

/** Every `.json` file under a folder, by path relative to it with `/` separators. */
function readFolder(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".json"))
        files.set(relative(dir, p).split(sep).join("/"), readFileSync(p, "utf8"));
    }
  };
  walk(dir);
  return files;
}

/** A folder of schemas; a package folder (`schemas/`) stands for its `json/`. */
function fromFolder(label: string, cwd: string): LoadedSource {
  let dir = resolve(cwd, label);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new SourceError(`${label}: no such folder (nor git:REF, nor a .tgz file)`);
  if (!existsSync(join(dir, "registry.json")) && existsSync(join(dir, "json", "registry.json")))
    dir = join(dir, "json");
  if (!existsSync(join(dir, "registry.json")))
    throw new SourceError(`${label}: no registry.json, so not a folder of Confab schemas`);
  return { label, kind: "folder", files: readFolder(dir) };
}

/** The top of the git work tree that holds `cwd`, or `undefined` outside one. */
export function gitTopLevel(cwd: string): string | undefined {
  const r = run("git", ["rev-parse", "--show-toplevel"], cwd);
  return r.status === 0 ? r.stdout.toString("utf8").trim() : undefined;
}

/** Blobs of a tree read in one `git cat-file --batch`, rather than one process each. */
function catFiles(top: string, specs: string[]): (Buffer | undefined)[] {
  if (specs.length === 0) return [];
  const r = run("git", ["cat-file", "--batch"], top, `${specs.join("\n")}\n`);
  if (r.status !== 0) throw new SourceError(`git cat-file failed: ${r.stderr}`);
  const out = r.stdout;
  const blobs: (Buffer | undefined)[] = [];
  let at = 0;
  for (let i = 0; i < specs.length; i++) {
    const nl = out.indexOf(0x0a, at);
    const header = out.subarray(at, nl).toString("utf8");
    at = nl + 1;
    if (header.endsWith(" missing")) {
      blobs.push(undefined);
      continue;
    }
    const size = Number(header.split(" ")[2]);
    blobs.push(out.subarray(at, at + size));
    at += size + 1;
  }
  return blobs;
}

/** The schemas of a git ref of the repository that holds `cwd`: no checkout. */
function fromGit(label: string, options: LoadOptions): LoadedSource {
  const ref = label.slice("git:".length);
  if (ref === "") throw new SourceError("git: needs a ref, e.g. git:HEAD~1 or git:origin/main");
  const top = gitTopLevel(options.cwd);
  if (top === undefined)
    throw new SourceError(`${label}: ${options.cwd} is not in a git repository`);
  const commit = run("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], top);
  if (commit.status !== 0) throw new SourceError(`${label}: no such commit in ${top}`);
  const sha = commit.stdout.toString("utf8").trim();
  const path = (options.gitPath ?? "schemas/json").replace(/\/+$/, "");
  const list = run("git", ["ls-tree", "-r", "--name-only", sha, "--", `${path}/`], top);
  if (list.status !== 0) throw new SourceError(`${label}: git ls-tree failed: ${list.stderr}`);
  const names = list.stdout
    .toString("utf8")
    .split("\n")
    .filter((n) => n.endsWith(".json"));
  if (names.length === 0) throw new SourceError(`${label}: no ${path}/ in ${ref}`);
  const [req, ...blobs] = catFiles(top, [
    `${sha}:spec/requirements.json`,
    ...names.map((n) => `${sha}:${n}`),
  ]);
  const files = new Map<string, string>();
  names.forEach((n, i) => {
    const blob = blobs[i];
    if (blob !== undefined) files.set(n.slice(path.length + 1), blob.toString("utf8"));
  });
  return {
    label,
    kind: "git",
    files,
    ...(req === undefined ? {} : { requirements: req.toString("utf8") }),
  };
}

/** The schemas of a packed npm tarball of the protocol package, under `package/json/`. */
function fromTarball(label: string, cwd: string): LoadedSource {
  const file = resolve(cwd, label);
  if (!existsSync(file)) throw new SourceError(`${label}: no such file`);
  const dir = mkdtempSync(join(tmpdir(), "confab-schema-"));
  try {
    const r = run("tar", ["-xzf", file, "-C", dir], cwd);
    if (r.status !== 0) throw new SourceError(`${label}: tar could not extract it: ${r.stderr}`);
    const json = join(dir, "package", "json");
    if (!existsSync(join(json, "registry.json")))
      throw new SourceError(`${label}: no package/json/registry.json, so not the protocol package`);
    return { label, kind: "tarball", files: readFolder(json) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Loads one side: `git:REF`, a `.tgz` / `.tar.gz` file, or a folder. */
export function loadSource(label: string, options: LoadOptions): LoadedSource {
  if (label.startsWith("git:")) return fromGit(label, options);
  if (/\.(tgz|tar\.gz)$/.test(label)) return fromTarball(label, options.cwd);
  return fromFolder(label, options.cwd);
}
