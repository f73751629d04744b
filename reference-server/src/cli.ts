#!/usr/bin/env node
/**
 * The `confab-server` command: runs the reference server until SIGTERM or SIGINT.
 * Settings come from flags, then environment variables, then a `--config` JSON file, then
 * defaults (earlier wins). Logs one JSON line per event to stdout.
 * @module
 */
import { existsSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { AppConfig } from "./core/config.js";
import { createJsonLogger, errorFields } from "./log.js";
import { type RunningServer, type ServerOptions, type SyncMode, startServer } from "./server.js";
import { SqliteStore } from "./store/sqlite-store.js";

/** The usage text of `confab-server --help`. */
export const USAGE = `Usage: confab-server [options]

Runs the Confab reference server: the router (GET /v1/route), the WebSocket endpoint,
REST history (GET /1.1/rtm/messages/logs) and GET /healthz, all on one port.

Options:
  --port N               Port to listen on; 0 picks a free one (env PORT; default 8080)
  --host H               Interface to listen on (env HOST; default 0.0.0.0)
  --db PATH              SQLite database file, created with its folder if missing, or
                         :memory: for a store lost on exit
                         (env CONFAB_DB; default .confab-data/confab.db)
  --app ID:MASTERKEY     Serve app ID with this master key and enforce signatures for it.
                         Repeatable. --app ID alone serves ID without signatures.
                         (env CONFAB_APPS, comma-separated)
  --config FILE          JSON file: {"apps": [{"appId", "masterKey", "enforceSignatures",
                         "allowedOrigins", "disabled"}], "devMode", "port", "host", "db", "publicUrl",
                         "readTimeoutMs", "loginTimeoutMs", "sync",
                         "rateLimit": {"perSecond", "burst"}}
  --dev                  Development mode: accept any app id, without signatures
                         (default when no app is listed)
  --no-dev               Serve only the listed apps (default when an app is listed)
  --public-url URL       WebSocket URL the router hands out (default: ws://<Host header>/)
  --read-timeout MS      Close idle connections with 4107 after MS ms (default 300000)
  --login-timeout MS     Close connections without a session with 4108 after MS ms
                         (default 60000)
  --sync normal|full     SQLite durability: normal survives a process crash, full also
                         power loss (default normal)
  -h, --help             Print this help and exit
  -v, --version          Print the version and exit

Flags win over environment variables, which win over the config file.
SIGTERM or SIGINT closes every connection with 1001 and exits 0.`;

/** A command-line mistake: printed with a hint, exit status 2. */
export class UsageError extends Error {}

/** What the command line asks for. */
export type CliCommand =
  | { readonly kind: "help" }
  | { readonly kind: "version" }
  | { readonly kind: "run"; readonly options: ServerOptions & { readonly db: string } };

const APP_ID = /^[A-Za-z0-9_.-]{1,64}$/;

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
  if (!APP_ID.test(appId)) {
    throw new UsageError(`${source}: app id "${appId}" must be 1..64 characters of [A-Za-z0-9_.-]`);
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
  sync?: SyncMode;
  rateLimit?: { perSecond: number; burst: number };
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
    "sync",
    "rateLimit",
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
      if (!APP_ID.test(app.appId)) {
        throw new UsageError(
          `${where}: apps[${i}].appId must be 1..64 characters of [A-Za-z0-9_.-]`,
        );
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
      return {
        appId: app.appId,
        masterKey,
        enforceSignatures: enforce,
        ...(origins !== undefined && { allowedOrigins: origins as string[] }),
        ...(app.disabled === true && { disabled: true }),
      };
    });
  }
  if (o.devMode !== undefined) {
    if (typeof o.devMode !== "boolean") throw new UsageError(`${where}: devMode must be a boolean`);
    out.devMode = o.devMode;
  }
  for (const k of ["port", "readTimeoutMs", "loginTimeoutMs"] as const) {
    if (o[k] !== undefined) {
      if (!isInt(o[k])) throw new UsageError(`${where}: ${k} must be a non-negative integer`);
      out[k] = o[k] as number;
    }
  }
  for (const k of ["host", "db", "publicUrl"] as const) {
    if (o[k] !== undefined) {
      if (typeof o[k] !== "string") throw new UsageError(`${where}: ${k} must be a string`);
      out[k] = o[k] as string;
    }
  }
  if (o.sync !== undefined) out.sync = sync(String(o.sync), `${where}: sync`);
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
  sync: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

function parseFlags(argv: readonly string[]) {
  return parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: FLAGS });
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
    throw new UsageError(errorFields(err).error);
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
  if (port > 65535) throw new UsageError("port must be at most 65535");
  const host = values.host ?? envStr("HOST") ?? file.host ?? "0.0.0.0";
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
  const publicUrl = values["public-url"] ?? file.publicUrl;
  if (publicUrl !== undefined && !/^wss?:\/\/[^\s]+$/.test(publicUrl)) {
    throw new UsageError(`--public-url must be a ws:// or wss:// URL, not "${publicUrl}"`);
  }
  const readTimeoutMs =
    values["read-timeout"] !== undefined
      ? integer("--read-timeout", values["read-timeout"])
      : file.readTimeoutMs;
  const loginTimeoutMs =
    values["login-timeout"] !== undefined
      ? integer("--login-timeout", values["login-timeout"])
      : file.loginTimeoutMs;
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
      sync: syncMode,
      rateLimit: file.rateLimit,
    },
  };
}

/** The package version, from the package.json above this file (src/ or dist/src/). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === "@confab/reference-server") return pkg.version ?? "0.0.0";
    }
    dir = dirname(dir);
  }
  return "0.0.0";
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
    process.stderr.write(`confab-server: ${err.message}\nTry 'confab-server --help'.\n`);
    return 2;
  }
  if (command.kind === "help") {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const version = packageVersion();
  if (command.kind === "version") {
    process.stdout.write(`${version}\n`);
    return 0;
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
  if (options.db !== ":memory:") mkdirSync(dirname(options.db), { recursive: true });

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

  try {
    server = await startServer({ ...options, logger });
  } catch (err) {
    logger.log("error", "start_failed", errorFields(err));
    return 1;
  }
  if (stopSignal === undefined) {
    const { store } = server;
    logger.log("info", "listening", {
      version,
      url: server.url,
      wsUrl: server.wsUrl,
      host: server.host,
      port: server.port,
      db: options.db,
      storage: store instanceof SqliteStore ? store.settings() : { kind: "memory" },
      devMode: options.devMode,
      apps: (options.apps ?? []).map((a) => a.appId),
    });
  }

  await stopRequested;
  try {
    await server.close();
  } catch (err) {
    logger.log("error", "shutdown_failed", errorFields(err));
    return 1;
  }
  logger.log("info", "stopped", {});
  return 0;
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
