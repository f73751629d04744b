#!/usr/bin/env node
/**
 * The `confab-server` command: runs the reference server until SIGTERM or SIGINT.
 * Settings come from flags, then environment variables, then a `--config` JSON file, then
 * defaults (earlier wins). Logs one JSON line per event to stdout.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { APP_ID_RULE, isAppId } from "@confab/protocol";
import { pushConfigProblem } from "./adapter/push.js";
import { type AppConfig, DEFAULT_LIMITS, type Limits } from "./core/config.js";
import { createJsonLogger, errorFields } from "./log.js";
import { type RunningServer, type ServerOptions, type SyncMode, startServer } from "./server.js";
import { SqliteStore } from "./store/sqlite-store.js";

/** The usage text of `confab-server --help`. */
export const USAGE = `Usage: confab-server [options]

Runs the Confab reference server: the router (GET /v1/route), the WebSocket endpoint,
REST history (GET /1.1/rtm/messages/logs) and GET /healthz, all on one port; in
development mode also the demo chat page (GET /demo), when reference-client/demo is there.

Options:
  --port N               Port to listen on, 0 to 65535; 0 picks a free one
                         (env PORT; default 8080)
  --host H               Interface to listen on (env HOST). Default 127.0.0.1, this machine
                         only, in development mode; 0.0.0.0, every interface, otherwise.
                         --host 0.0.0.0 opens a development server to the network.
  --db PATH              SQLite database file, created with its folder if missing, or
                         :memory: for a store lost on exit
                         (env CONFAB_DB; default .confab-data/confab.db)
  --app ID:MASTERKEY     Serve app ID with this master key and enforce signatures for it.
                         Repeatable. --app ID alone serves ID without signatures.
                         (env CONFAB_APPS, comma-separated)
  --config FILE          JSON file: {"apps": [{"appId", "masterKey", "enforceSignatures",
                         "allowedOrigins", "disabled", "pushUrl", "pushIncludeText"}],
                         "devMode", "port", "host", "db", "publicUrl",
                         "readTimeoutMs", "loginTimeoutMs", "commitIntervalMs", "sync",
                         "rateLimit": {"perSecond", "burst"},
                         "limits": {"offlineTtlMs", "maxOfflinePerPeer", …: any
                         field of the engine's Limits, a non-negative integer}}
                         Limits below the spec's bounds are for servers under test
                         (spec/07-limits.md Table 9); the server logs each one.
  --dev                  Development mode: accept any app id, without signatures
                         (default when no app is listed)
  --no-dev               Serve only the listed apps (default when an app is listed)
  --public-url URL       WebSocket URL the router hands out (default: ws://<Host header>/)
  --read-timeout MS      Close idle connections with 4107 after MS ms (default 300000)
  --login-timeout MS     Close connections without a session with 4108 after MS ms
                         (default 60000)
  --commit-interval MS   Shortest time between two commits, ms: under load the turns in
                         between share one commit, and a frame waits at most MS ms for
                         it; 0 commits at the end of every event-loop turn (default 1)
  --sync normal|full     SQLite durability: normal survives a process crash, full also
                         power loss (default normal)
  -h, --help             Print this help and exit
  -v, --version          Print the version and exit

Flags win over environment variables, which win over the config file.
SIGTERM or SIGINT closes every connection with 1001 and exits 0; a second signal
exits at once with 1.

Exit status:
  0  stopped by SIGTERM or SIGINT
  1  an unexpected error, while starting, running or stopping
  2  a bad flag, environment variable or config file
  3  the database cannot be opened, created or written
  4  the server cannot listen on the host and port (in use, not allowed, unknown host)`;

/** The exit statuses of `confab-server`, as {@link USAGE} and the README list them. */
export const EXIT = {
  /** Stopped by SIGTERM or SIGINT. */
  OK: 0,
  /** An unexpected error while starting, running or stopping. */
  FAILED: 1,
  /** A bad flag, environment variable or config file. */
  USAGE: 2,
  /** The database cannot be opened, created or written. */
  DATABASE: 3,
  /** The server cannot listen on its host and port. */
  LISTEN: 4,
} as const;

/** A start-up failure whose cause is known: printed as one line, with its exit status. */
export class StartupError extends Error {
  /** @param status - the exit status, from {@link EXIT} */
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A command-line mistake: printed with a hint, exit status 2. */
export class UsageError extends Error {}

/** What the command line asks for. */
export type CliCommand =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "run"; readonly options: ServerOptions & { readonly db: string } };

/**
 * The longest commit interval a flag takes, ms: every frame waits up to the interval for its
 * commit, so a second is already far past what an interactive client tolerates.
 */
const MAX_COMMIT_INTERVAL_MS = 1000;

/** The longest timeout a flag takes: what a Node.js timer can wait (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function integer(name: string, value: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) > max) {
    throw new UsageError(`${name} must be an integer from 0 to ${max}, not "${value}"`);
  }
  return Number(value);
}

function parseApp(spec: string, source: string): AppConfig {
  const colon = spec.indexOf(":");
  const appId = colon < 0 ? spec : spec.slice(0, colon);
  const masterKey = colon < 0 ? undefined : spec.slice(colon + 1);
  if (!isAppId(appId)) {
    throw new UsageError(`${source}: app id "${appId}" must be ${APP_ID_RULE}`);
  }
  if (masterKey === "") throw new UsageError(`${source}: empty master key for app "${appId}"`);
  return masterKey === undefined
    ? { appId, enforceSignatures: false }
    : { appId, masterKey, enforceSignatures: true };
}

function sync(value: string, source: string): SyncMode {
  if (value !== "normal" && value !== "full") {
    throw new UsageError(`${source} must be normal or full, not "${value}"`);
  }
  return value;
}

/** The settings a `--config` file may hold. */
interface FileConfig {
  apps?: AppConfig[];
  devMode?: boolean;
  port?: number;
  host?: string;
  db?: string;
  publicUrl?: string;
  readTimeoutMs?: number;
  loginTimeoutMs?: number;
  commitIntervalMs?: number;
  sync?: SyncMode;
  rateLimit?: { perSecond: number; burst: number };
  /** Overrides of the engine's limits, for deployments and servers under test [LIMIT-TEST-1]. */
  limits?: Partial<Limits>;
}

function readConfigFile(path: string): FileConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`--config ${path}: ${errorFields(err).error}`);
  }
  const where = `--config ${path}`;
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new UsageError(`${where}: must hold a JSON object`);
  }
  const o = raw as Record<string, unknown>;
  const known = new Set([
    "apps",
    "devMode",
    "port",
    "host",
    "db",
    "publicUrl",
    "readTimeoutMs",
    "loginTimeoutMs",
    "commitIntervalMs",
    "sync",
    "rateLimit",
    "limits",
  ]);
  for (const k of Object.keys(o)) {
    if (!known.has(k)) throw new UsageError(`${where}: unknown setting "${k}"`);
  }
  const isInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  const out: FileConfig = {};
  if (o.apps !== undefined) {
    if (!Array.isArray(o.apps)) throw new UsageError(`${where}: apps must be an array`);
    out.apps = o.apps.map((a, i) => {
      const app = a as Record<string, unknown>;
      if (typeof a !== "object" || a === null || typeof app.appId !== "string") {
        throw new UsageError(`${where}: apps[${i}] needs a string appId`);
      }
      if (!isAppId(app.appId)) {
        throw new UsageError(`${where}: apps[${i}].appId must be ${APP_ID_RULE}`);
      }
      if (
        app.masterKey !== undefined &&
        (typeof app.masterKey !== "string" || app.masterKey === "")
      ) {
        throw new UsageError(`${where}: apps[${i}].masterKey must be a non-empty string`);
      }
      const masterKey = app.masterKey as string | undefined;
      const enforce = app.enforceSignatures ?? masterKey !== undefined;
      if (typeof enforce !== "boolean") {
        throw new UsageError(`${where}: apps[${i}].enforceSignatures must be a boolean`);
      }
      if (enforce && masterKey === undefined) {
        throw new UsageError(`${where}: apps[${i}] enforces signatures but has no masterKey`);
      }
      const origins = app.allowedOrigins;
      if (
        origins !== undefined &&
        (!Array.isArray(origins) || !origins.every((o) => typeof o === "string"))
      ) {
        throw new UsageError(`${where}: apps[${i}].allowedOrigins must be an array of strings`);
      }
      if (app.disabled !== undefined && typeof app.disabled !== "boolean") {
        throw new UsageError(`${where}: apps[${i}].disabled must be a boolean`);
      }
      if (app.pushIncludeText !== undefined && typeof app.pushIncludeText !== "boolean") {
        throw new UsageError(`${where}: apps[${i}].pushIncludeText must be a boolean`);
      }
      if (app.pushUrl !== undefined && typeof app.pushUrl !== "string") {
        throw new UsageError(`${where}: apps[${i}].pushUrl must be a string`);
      }
      const config: AppConfig = {
        appId: app.appId,
        masterKey,
        enforceSignatures: enforce,
        ...(origins !== undefined && { allowedOrigins: origins as string[] }),
        ...(app.disabled === true && { disabled: true }),
        // The push hook [OFFLINE-PUSH-1]: a URL, a master key to sign with [OFFLINE-PUSH-8].
        ...(app.pushUrl !== undefined && { pushUrl: app.pushUrl }),
        ...(app.pushIncludeText !== undefined && { pushIncludeText: app.pushIncludeText }),
      };
      const pushProblem = pushConfigProblem(config);
      if (pushProblem !== undefined) throw new UsageError(`${where}: apps[${i}]: ${pushProblem}`);
      return config;
    });
  }
  if (o.devMode !== undefined) {
    if (typeof o.devMode !== "boolean") throw new UsageError(`${where}: devMode must be a boolean`);
    out.devMode = o.devMode;
  }
  for (const k of ["port", "readTimeoutMs", "loginTimeoutMs", "commitIntervalMs"] as const) {
    if (o[k] !== undefined) {
      if (!isInt(o[k])) throw new UsageError(`${where}: ${k} must be a non-negative integer`);
      out[k] = o[k] as number;
    }
  }
  if (out.port !== undefined && out.port > 65535) {
    throw new UsageError(`${where}: port must be an integer from 0 to 65535, not ${out.port}`);
  }
  for (const k of ["host", "db", "publicUrl"] as const) {
    if (o[k] !== undefined) {
      if (typeof o[k] !== "string" || o[k] === "") {
        throw new UsageError(`${where}: ${k} must be a non-empty string`);
      }
      out[k] = o[k] as string;
    }
  }
  if (o.sync !== undefined) out.sync = sync(String(o.sync), `${where}: sync`);
  if (o.limits !== undefined) {
    // Every field of the engine's Limits and nothing else: a misspelt limit must not be
    // silently ignored by a kit that relies on it being shortened.
    if (typeof o.limits !== "object" || o.limits === null || Array.isArray(o.limits)) {
      throw new UsageError(`${where}: limits must be an object`);
    }
    const limits: Record<string, number> = {};
    for (const [k, v] of Object.entries(o.limits as Record<string, unknown>)) {
      if (!Object.hasOwn(DEFAULT_LIMITS, k)) {
        const known = Object.keys(DEFAULT_LIMITS).join(", ");
        throw new UsageError(`${where}: limits.${k} is no limit (known: ${known})`);
      }
      if (!isInt(v)) throw new UsageError(`${where}: limits.${k} must be a non-negative integer`);
      limits[k] = v as number;
    }
    out.limits = limits as Partial<Limits>;
  }
  if (o.rateLimit !== undefined) {
    const r = o.rateLimit as Record<string, unknown>;
    if (typeof r !== "object" || r === null || !isInt(r.perSecond) || !isInt(r.burst)) {
      throw new UsageError(`${where}: rateLimit must be {"perSecond": int, "burst": int}`);
    }
    out.rateLimit = { perSecond: r.perSecond as number, burst: r.burst as number };
  }
  return out;
}

const FLAGS = {
  port: { type: "string" },
  host: { type: "string" },
  db: { type: "string" },
  app: { type: "string", multiple: true },
  config: { type: "string" },
  dev: { type: "boolean" },
  "no-dev": { type: "boolean" },
  "public-url": { type: "string" },
  "read-timeout": { type: "string" },
  "login-timeout": { type: "string" },
  "commit-interval": { type: "string" },
  sync: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/** What each flag that takes a value accepts, for the message when the value is missing. */
const FLAG_VALUES: Readonly<Record<string, string>> = {
  port: "an integer from 0 to 65535",
  host: "an interface address or name, such as 127.0.0.1 or 0.0.0.0",
  db: "a file path, or :memory:",
  app: "ID or ID:MASTERKEY",
  config: "the path of a JSON file",
  "public-url": "a ws:// or wss:// URL",
  "read-timeout": `milliseconds, an integer from 0 to ${MAX_TIMEOUT_MS}`,
  "login-timeout": `milliseconds, an integer from 0 to ${MAX_TIMEOUT_MS}`,
  "commit-interval": `milliseconds, an integer from 0 to ${MAX_COMMIT_INTERVAL_MS}`,
  sync: "normal or full",
};

/** Whether `arg` is one of the flags (so not the value of the flag before it). */
function isFlag(arg: string): boolean {
  if (arg === "-h" || arg === "-v") return true;
  return arg.startsWith("--") && Object.hasOwn(FLAGS, arg.slice(2).split("=")[0] ?? "");
}

/**
 * Checks the shape of the command line and writes every value as `--flag=value`, so that
 * `parseArgs` takes `--port -1` as the value "-1" (it would call it "ambiguous") and every
 * mistake gets a one-line message that names the flag [issue 8, item 14].
 */
function normalizeArgs(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "-h" || arg === "-v") {
      out.push(arg);
      continue;
    }
    if (!arg.startsWith("-")) {
      throw new UsageError(`unexpected argument "${arg}": every setting is a flag, like --port 80`);
    }
    if (!arg.startsWith("--")) throw new UsageError(`unknown flag ${arg}`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    if (!Object.hasOwn(FLAGS, name)) throw new UsageError(`unknown flag --${name}`);
    const flag = FLAGS[name as keyof typeof FLAGS];
    if (flag.type === "boolean") {
      if (eq >= 0) throw new UsageError(`--${name} takes no value, not "${arg.slice(eq + 1)}"`);
      out.push(arg);
    } else if (eq >= 0) {
      out.push(arg);
    } else {
      const value = argv[i + 1];
      if (value === undefined || isFlag(value)) {
        throw new UsageError(`--${name} needs a value: ${FLAG_VALUES[name] ?? "see --help"}`);
      }
      out.push(`--${name}=${value}`);
      i++;
    }
  }
  return out;
}

function parseFlags(argv: readonly string[]) {
  return parseArgs({
    args: normalizeArgs(argv),
    strict: true,
    allowPositionals: false,
    options: FLAGS,
  });
}

/**
 * Parses the command line and environment into what to do. Throws {@link UsageError}.
 * Relative `--config` and `--db` paths resolve against `cwd`.
 */
export function parseCommandLine(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): CliCommand {
  let values: ReturnType<typeof parseFlags>["values"];
  try {
    values = parseFlags(argv).values;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(errorFields(err).error); // not expected after normalizeArgs
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  if (values.dev && values["no-dev"]) throw new UsageError("--dev and --no-dev exclude each other");

  const file = values.config === undefined ? {} : readConfigFile(resolve(cwd, values.config));
  const envStr = (name: string) =>
    env[name] === undefined || env[name] === "" ? undefined : env[name];

  const portText = values.port ?? envStr("PORT");
  const port =
    portText !== undefined
      ? integer(values.port !== undefined ? "--port" : "PORT", portText, 65535)
      : (file.port ?? 8080);
  if (values.host === "") throw new UsageError(`--host must name an interface, not ""`);
  const explicitHost = values.host ?? envStr("HOST") ?? file.host;
  if (values.db === "") throw new UsageError(`--db must be a file path or :memory:, not ""`);
  const dbPath = values.db ?? envStr("CONFAB_DB") ?? file.db ?? ".confab-data/confab.db";
  const db = dbPath === ":memory:" ? dbPath : resolve(cwd, dbPath);

  // Apps: the file's, then the environment's, then the flags'; a later one replaces an
  // earlier one with the same id.
  const apps = new Map<string, AppConfig>();
  for (const a of file.apps ?? []) apps.set(a.appId, a);
  for (const spec of (envStr("CONFAB_APPS") ?? "").split(",")) {
    if (spec.trim() !== "") {
      const a = parseApp(spec.trim(), "CONFAB_APPS");
      apps.set(a.appId, a);
    }
  }
  for (const spec of values.app ?? []) {
    const a = parseApp(spec, "--app");
    apps.set(a.appId, a);
  }

  const devMode = values.dev ? true : values["no-dev"] ? false : (file.devMode ?? apps.size === 0);
  if (!devMode && apps.size === 0) {
    throw new UsageError("--no-dev needs at least one app (--app, CONFAB_APPS or --config)");
  }
  // Development mode takes any app id without signatures, and its REST history has no
  // credentials: reachable from this machine only unless a host is given [issue 8, item 10].
  const host = explicitHost ?? (devMode ? "127.0.0.1" : "0.0.0.0");
  const publicUrl = values["public-url"] ?? file.publicUrl;
  if (publicUrl !== undefined && !/^wss?:\/\/[^\s]+$/.test(publicUrl)) {
    throw new UsageError(`--public-url must be a ws:// or wss:// URL, not "${publicUrl}"`);
  }
  const readTimeoutMs =
    values["read-timeout"] !== undefined
      ? integer("--read-timeout", values["read-timeout"], MAX_TIMEOUT_MS)
      : file.readTimeoutMs;
  const loginTimeoutMs =
    values["login-timeout"] !== undefined
      ? integer("--login-timeout", values["login-timeout"], MAX_TIMEOUT_MS)
      : file.loginTimeoutMs;
  const commitIntervalMs =
    values["commit-interval"] !== undefined
      ? integer("--commit-interval", values["commit-interval"], MAX_COMMIT_INTERVAL_MS)
      : file.commitIntervalMs;
  if (commitIntervalMs !== undefined && commitIntervalMs > MAX_COMMIT_INTERVAL_MS) {
    throw new UsageError(
      `commitIntervalMs must be at most ${MAX_COMMIT_INTERVAL_MS}, not ${commitIntervalMs}`,
    );
  }
  const syncMode = values.sync !== undefined ? sync(values.sync, "--sync") : file.sync;

  return {
    kind: "run",
    options: {
      host,
      port,
      db,
      apps: [...apps.values()],
      devMode,
      publicUrl,
      readTimeoutMs,
      loginTimeoutMs,
      commitIntervalMs,
      sync: syncMode,
      rateLimit: file.rateLimit,
      limits: file.limits,
    },
  };
}

/** The folder and manifest of this package, found above this file (src/ or dist/src/). */
function packageManifest(): { dir: string; version?: string } | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "@confab/reference-server") return { dir, ...pkg };
    }
    dir = dirname(dir);
  }
  return undefined;
}

/** The package version, from the package.json above this file (src/ or dist/src/). */
export function packageVersion(): string {
  return packageManifest()?.version ?? "0.0.0";
}

/**
 * The demo chat page's folder in this repository (`reference-client/demo`, beside this
 * package), or `undefined` when it is not there (an installed server) [issue 10].
 */
export function demoFolder(): string | undefined {
  const pkg = packageManifest();
  if (pkg === undefined) return undefined;
  const dir = join(pkg.dir, "..", "reference-client", "demo");
  return existsSync(join(dir, "index.html")) ? dir : undefined;
}

/** Plain words for the error codes a start-up meets: file system, SQLite, sockets. */
const CAUSES: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "the file system is read-only",
  EEXIST: "a file that is not a folder is in the way",
  ENOTDIR: "a part of the path is a file, not a folder",
  ENOENT: "no such file or folder",
  ENOSPC: "no space left on the device",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links in the path",
  SQLITE_READONLY: "the file is read-only to this user, and the server must write it",
  SQLITE_READONLY_DIRECTORY:
    "its folder is read-only to this user, and SQLite must create the -wal and -shm files there",
  SQLITE_CANTOPEN: "SQLite cannot open or create the file (is its folder writable?)",
  SQLITE_NOTADB: "the file is not a SQLite database",
  SQLITE_CORRUPT: "the database file is corrupt",
  SQLITE_BUSY: "another process holds a lock on it",
  SQLITE_LOCKED: "another process holds a lock on it",
  SQLITE_FULL: "the disk is full",
  SQLITE_IOERR: "an I/O error",
  SQLITE_PERM: "permission denied",
  EADDRINUSE: "the port is already in use",
  EADDRNOTAVAIL: "the address is not one of this machine's",
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "the host name does not resolve (the DNS lookup failed)",
};

/**
 * Why `err` happened, in a few plain words and its code (`permission denied (EACCES)`), for
 * a one-line start-up message. An error without a code gives its message.
 */
export function describeCause(err: unknown): string {
  const raw = (err as { code?: unknown } | null)?.code;
  if (typeof raw !== "string") return errorFields(err).error;
  // SQLite's extended codes (SQLITE_READONLY_DBMOVED) fall back to their primary code.
  const words = CAUSES[raw] ?? CAUSES[raw.split("_").slice(0, 2).join("_")];
  return `${words ?? errorFields(err).error} (${raw})`;
}

/**
 * Opens the SQLite database of `--db` for the server: creates its folder, opens or creates
 * the file, and checks that it can be written, since SQLite opens a file it may not write
 * read-only without a word and every `ack` would then fail with 4200 [issue 8, item 8].
 * Throws a {@link StartupError} (exit 3) naming the path and the cause.
 */
export function openDatabase(path: string, sync?: SyncMode): SqliteStore {
  const folder = dirname(path);
  try {
    mkdirSync(folder, { recursive: true });
  } catch (err) {
    throw new StartupError(
      `cannot create the database folder ${folder}: ${describeCause(err)}`,
      EXIT.DATABASE,
    );
  }
  let isFolder = false;
  try {
    isFolder = statSync(path, { throwIfNoEntry: false })?.isDirectory() ?? false;
  } catch {
    // SQLite reports what is wrong with the path below.
  }
  if (isFolder) {
    throw new StartupError(
      `cannot open the database ${path}: it is a folder, and --db takes a file path`,
      EXIT.DATABASE,
    );
  }
  let store: SqliteStore;
  try {
    // The server checkpoints off the event loop (issue 11; SqliteStoreOptions.checkpoints).
    store = SqliteStore.open(path, {
      checkpoints: "background",
      ...(sync === undefined ? {} : { synchronous: sync }),
    });
  } catch (err) {
    throw new StartupError(
      `cannot open the database ${path}: ${describeCause(err)}`,
      EXIT.DATABASE,
    );
  }
  try {
    store.checkWritable();
  } catch (err) {
    store.close();
    throw new StartupError(
      `cannot write the database ${path}: ${describeCause(err)}`,
      EXIT.DATABASE,
    );
  }
  return store;
}

/** Whether clients on other machines cannot reach `host`. */
function isLoopback(host: string): boolean {
  if (host === "localhost" || host === "::1") return true;
  return isIP(host) === 4 && host.startsWith("127.");
}

/** `host:port` as in a URL (IPv6 in brackets), for messages. */
function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/** Runs the command; resolves with the exit status (or never, while the server runs). */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let command: CliCommand;
  try {
    command = parseCommandLine(argv, env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    // One line: the flag, the value and what it takes [issue 8, item 14].
    process.stderr.write(`confab-server: ${err.message} (see confab-server --help)\n`);
    return EXIT.USAGE;
  }
  if (command.kind === "help") {
    process.stdout.write(`${USAGE}\n`);
    return EXIT.OK;
  }
  const version = packageVersion();
  if (command.kind === "version") {
    process.stdout.write(`${version}\n`);
    return EXIT.OK;
  }

  const logger = createJsonLogger();
  const { options } = command;
  if (options.readTimeoutMs !== undefined && options.readTimeoutMs < 200_000) {
    // [TIMEOUT-READ-2] allowed for tests, but not a conforming setting.
    logger.log("warn", "read_timeout_below_spec", {
      readTimeoutMs: options.readTimeoutMs,
      minimum: 200_000,
    });
  }

  // Signal handlers go in before anything is logged: a supervisor that reads "listening"
  // and signals at once must get a graceful stop, not the default kill.
  let server: RunningServer | undefined;
  let stopSignal: NodeJS.Signals | undefined;
  let resolveStop!: (signal: NodeJS.Signals) => void;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    resolveStop = resolve;
  });
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopSignal !== undefined) {
      logger.log("warn", "forced_exit", { signal });
      process.exit(1);
    }
    stopSignal = signal;
    logger.log("info", "shutdown", { signal });
    resolveStop(signal);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  process.on("uncaughtException", (err) => {
    logger.log("error", "uncaught_exception", errorFields(err));
    process.exit(1);
  });

  // Every start-up failure: one line on stderr naming what and why, and an exit status of
  // its own (see USAGE); the log line on stdout says the same for log collectors.
  const failStart = (err: unknown): number => {
    const known = err instanceof StartupError;
    const message = known ? err.message : `cannot start: ${errorFields(err).error}`;
    const status = known ? err.status : EXIT.FAILED;
    logger.log("error", "start_failed", {
      error: message,
      status,
      ...(!known && errorFields(err)),
    });
    process.stderr.write(`confab-server: ${message}\n`);
    return status;
  };
  // Development mode serves the demo chat page at /demo when the repository has it.
  const demoDir = options.devMode ? demoFolder() : undefined;
  try {
    const db = options.db === ":memory:" ? options.db : openDatabase(options.db, options.sync);
    try {
      server = await startServer({ ...options, db, logger, demoDir });
    } catch (err) {
      const { syscall } = err as { syscall?: unknown };
      if (syscall !== "listen" && syscall !== "getaddrinfo") throw err;
      const where = hostPort(options.host ?? "", options.port ?? 0);
      throw new StartupError(`cannot listen on ${where}: ${describeCause(err)}`, EXIT.LISTEN);
    }
  } catch (err) {
    return failStart(err);
  }
  const host = server.host;
  if (options.devMode && !isLoopback(host)) {
    logger.log("warn", "dev_mode_open_to_network", {
      host,
      detail:
        "development mode accepts any app id without signatures, and serves REST history " +
        "of every app without credentials, to anyone who can reach this port",
    });
  }
  if (stopSignal === undefined) {
    const { store } = server;
    logger.log("info", "listening", {
      version,
      pid: process.pid,
      url: server.url,
      wsUrl: server.wsUrl,
      host: server.host,
      port: server.port,
      db: options.db,
      storage: store instanceof SqliteStore ? store.settings() : { kind: "memory" },
      devMode: options.devMode,
      ...(demoDir !== undefined && { demo: `${server.url}/demo` }),
      apps: (options.apps ?? []).map((a) => a.appId),
      // [issue 8, item 10] Who can connect: a newcomer's first question about a dev server.
      access: isLoopback(host)
        ? `this machine only (${host}); --host 0.0.0.0 opens it to the network`
        : `the network (${host})`,
    });
  }

  await stopRequested;
  try {
    await server.close();
  } catch (err) {
    logger.log("error", "shutdown_failed", errorFields(err));
    return EXIT.FAILED;
  }
  logger.log("info", "stopped", {});
  return EXIT.OK;
}

/** Whether this module is the program being run (not imported by a test). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return pathToFileURL(realpathSync(script)).href === import.meta.url;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main().then(
    (status) => process.exit(status),
    (err: unknown) => {
      process.stderr.write(`confab-server: ${errorFields(err).stack ?? errorFields(err).error}\n`);
      process.exit(1);
    },
  );
}
