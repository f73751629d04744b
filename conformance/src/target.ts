/**
 * The server under test: where it is, which apps it serves (spec 10, Table 11), which
 * features and limits it announces, and, when the kit starts it, control of its process
 * (SIGKILL, restart on the same storage, SIGTERM), which the durability profile and the
 * fault cases of Table 12 need.
 *
 * Three ways to name a target: none (the kit starts the reference server's command
 * itself), `--url` (any running implementation), `--server-command` (the kit starts any
 * implementation by its command line, with `{port}`, `{db}` and `{config}` placeholders).
 * A kit-started target is started twice: once with the spec's limits and once with the
 * shortened limits of spec 10.2, so expiry, eviction and timeouts show in seconds.
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerInfo, validate } from "@confab/protocol";
import type { WebSocket } from "ws";
import { openSocket } from "./connection.js";
import { HarnessError } from "./errors.js";
import { findUp } from "./paths.js";
import { listenerOwner, pickPort, portIsFree } from "./ports.js";
import { PushReceiver } from "./push-receiver.js";

/** The apps of a conformance run, by role (spec 10, Table 11). */
export interface Apps {
  /** An app that does not enforce signatures. */
  readonly open: string;
  /** An app that enforces signatures, with its master key. */
  readonly signed?: { readonly appId: string; readonly masterKey: string };
  /** A disabled app. */
  readonly disabled?: string;
  /** An app that allows one origin only, and that origin. */
  readonly origin?: { readonly appId: string; readonly origin: string };
  /** An app id the server does not serve. */
  readonly unknown?: string;
  /**
   * An app that does not enforce signatures but has a master key, which signs its push
   * notices, and a push hook pointing at the kit's receiver (OFFLINE-PUSH-1, -8).
   */
  readonly push?: { readonly appId: string; readonly masterKey: string };
}

/** One server endpoint: its WebSocket URL, its HTTP base and what it announced. */
export interface Endpoint {
  /** The WebSocket URL, e.g. `ws://127.0.0.1:8080/`. */
  readonly wsUrl: string;
  /** The HTTP base of the router and REST, e.g. `http://127.0.0.1:8080`. */
  readonly httpUrl: string;
  /** The announcement of `session/opened` for the open app, when the server made one. */
  serverInfo: ServerInfo | undefined;
}

/** Control of a server process the kit started. */
export interface ProcessControl {
  /** Kills the process with SIGKILL, so that no shutdown code runs, and waits for its exit. */
  kill(): Promise<void>;
  /** Starts the process again, on the same port and storage, and waits until it serves. */
  restart(): Promise<void>;
  /** Sends SIGTERM and resolves with the exit status (or the signal's name). */
  stop(): Promise<number | string>;
  /** The process's output so far (bounded), for a harness error's message. */
  output(): string;
}

/** A server the kit tests, with what it knows about it. */
export interface Target extends Endpoint {
  /** `embedded`, `url` or `command`. */
  readonly kind: "embedded" | "url" | "command";
  /** The apps, by role. */
  readonly apps: Apps;
  /** The features in force for the open app, and `push-hook` when the push app announces it. */
  features: Record<string, boolean>;
  /** Where {@link Target.features} came from. */
  featureSource: string;
  /** The same implementation with the shortened limits of spec 10.2, when there is one. */
  readonly short?: Endpoint & { readonly control?: ProcessControl };
  /**
   * The same implementation with small per-app bounds (pending messages, watch entries,
   * sessions, connections; LIMIT-BOUND-2), so that the quota cases reach them in seconds.
   */
  readonly bounds?: Endpoint;
  /** Control of the process, when the kit started it. */
  readonly control?: ProcessControl;
  /**
   * The kit's push-hook receiver, when the kit provisioned the push app's hook with it:
   * paths `/main` and `/short` for the two instances.
   */
  readonly push?: PushReceiver;
  /** Stops what the kit started and removes its files. */
  close(): Promise<void>;
}

/** The shortened limits a kit-started server gets (spec 10.2's suggested values). */
export const SHORT_LIMITS = {
  offlineTtlMs: 2_000,
  maxOfflinePerPeer: 3,
} as const;

/**
 * The per-app bounds of the small-bounds instance: low enough to fill in a second, high
 * enough for a case's own peers (Table 9 lets a server under test apply them, LIMIT-BOUND-2).
 */
export const BOUNDS_LIMITS = {
  maxPendingPerApp: 400,
  maxWatchPerApp: 4_000,
  maxSessionsPerApp: 400,
  maxConnectionsPerApp: 400,
} as const;

/** Which configuration an instance gets. */
export type Instance = "main" | "short" | "bounds";

/** The read and login timeouts of the shortened server, ms. */
export const SHORT_TIMEOUT_MS = 2_000;

/** The origin the origin-restricted app of a kit-started server allows. */
export const ALLOWED_ORIGIN = "https://allowed.confab.test";

/** Where the reference server's command is, in this repository. */
export const REFERENCE_CLI =
  findUp("reference-server/dist/src/cli.js") ?? "reference-server/dist/src/cli.js";

/** Settings of {@link startCommandTarget}. */
export interface CommandTargetOptions {
  /** The command line, with `{port}`, `{db}`, `{config}` placeholders; run by `sh -c`. */
  readonly command: string;
  /** Also pass the port in this environment variable. */
  readonly portEnv?: string;
  /** `embedded` when the command is the kit's own default. */
  readonly kind: "embedded" | "command";
  /** The apps: the kit's own when the kit writes the config. */
  readonly apps?: Apps;
  /** Whether to start a second instance with the shortened limits. Default true. */
  readonly short?: boolean;
  /** How long a start may take, ms. */
  readonly startTimeoutMs?: number;
}

/** The apps a kit-started server is provisioned with (the `{config}` file). */
export function kitApps(): Apps {
  const suffix = randomBytes(3).toString("hex");
  return {
    open: `kit-open-${suffix}`,
    signed: { appId: `kit-signed-${suffix}`, masterKey: randomBytes(12).toString("hex") },
    disabled: `kit-disabled-${suffix}`,
    origin: { appId: `kit-origin-${suffix}`, origin: ALLOWED_ORIGIN },
    unknown: `kit-unknown-${suffix}`,
    push: { appId: `kit-push-${suffix}`, masterKey: randomBytes(12).toString("hex") },
  };
}

/**
 * The `{config}` file the kit writes, in the reference server's `--config` format: the
 * apps of Table 11, the push app with its hook at `pushUrl` when given (notices without
 * the text), and for the shortened instance the limits of spec 10.2.
 */
export function configFor(
  apps: Apps,
  instance: Instance | boolean,
  pushUrl?: string,
): Record<string, unknown> {
  const kind: Instance = instance === true ? "short" : instance === false ? "main" : instance;
  const list: Record<string, unknown>[] = [{ appId: apps.open, enforceSignatures: false }];
  if (apps.signed)
    list.push({
      appId: apps.signed.appId,
      masterKey: apps.signed.masterKey,
      enforceSignatures: true,
    });
  if (apps.disabled) list.push({ appId: apps.disabled, disabled: true });
  if (apps.origin) list.push({ appId: apps.origin.appId, allowedOrigins: [apps.origin.origin] });
  if (apps.push && pushUrl !== undefined)
    list.push({
      appId: apps.push.appId,
      masterKey: apps.push.masterKey,
      enforceSignatures: false,
      pushUrl,
      pushIncludeText: false,
    });
  return {
    apps: list,
    devMode: false,
    ...(kind === "short" && {
      readTimeoutMs: SHORT_TIMEOUT_MS,
      loginTimeoutMs: SHORT_TIMEOUT_MS,
      limits: SHORT_LIMITS,
    }),
    ...(kind === "bounds" && { limits: BOUNDS_LIMITS }),
  };
}

/**
 * How many ports a server command gets: {@link pickPort}'s port is free when it answers, not
 * when the server binds it, and another process (tests starting servers in parallel) may
 * take it in between.
 */
const PORT_ATTEMPTS = 3;

/**
 * How long a command must stay up, ms, while a process it did not start answers on its port,
 * before the kit takes that process for the command's own server. A server behind a proxy
 * (`docker run -p`, whose `docker-proxy` is not the command's child) answers that way; a
 * server that lost its port to another process exits within its start-up, and is given
 * another port (PORT_ATTEMPTS).
 */
const FOREIGN_SETTLE_MS = 5_000;

/** Bytes of a started process's output kept for messages. */
const MAX_OUTPUT = 20_000;

/** One started process: its command line with the placeholders filled in, and its output. */
class ServerProcess implements ProcessControl {
  private child: ChildProcess | undefined;
  private out = "";
  private exited: Promise<number | string> | undefined;
  private exitedEarly = false;

  constructor(
    private readonly line: string,
    private readonly env: NodeJS.ProcessEnv,
    readonly httpUrl: string,
    private readonly port: number,
    private readonly startTimeoutMs: number,
  ) {}

  async start(): Promise<void> {
    const child = spawn("sh", ["-c", `exec ${this.line}`], {
      env: this.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const keep = (d: Buffer) => {
      this.out = (this.out + d.toString()).slice(-MAX_OUTPUT);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    });
    await this.ready();
  }

  /**
   * Waits until the router answers from the command's own process, or the process exits, or
   * the bound passes. An answer from a process outside the command's tree is not the
   * command's server (another server took the port first) unless the command stays up for
   * {@link FOREIGN_SETTLE_MS} while it answers.
   */
  private async ready(): Promise<void> {
    const deadline = Date.now() + this.startTimeoutMs;
    let exited: number | string | undefined;
    void this.exited?.then((s) => {
      exited = s;
    });
    let foreignSince: number | undefined;
    while (Date.now() < deadline) {
      if (exited !== undefined) {
        this.exitedEarly = true;
        throw new HarnessError(
          `the server command exited with ${exited} before it served:\n${this.output()}`,
        );
      }
      if (await this.answers()) {
        const pid = this.child?.pid;
        const owner = pid === undefined ? "unknown" : listenerOwner(this.port, pid);
        if (owner !== "foreign") return;
        foreignSince ??= Date.now();
        if (Date.now() - foreignSince >= FOREIGN_SETTLE_MS) return;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    const foreign =
      foreignSince === undefined
        ? ""
        : " (a process the command did not start answers on that port)";
    throw new HarnessError(
      `the server command did not serve ${this.httpUrl} within ${this.startTimeoutMs} ms${foreign}:\n${this.output()}`,
    );
  }

  /** Whether anything answers HTTP at the router's address now. */
  private async answers(): Promise<boolean> {
    try {
      const res = await fetch(`${this.httpUrl}/v1/route?appId=probe`, {
        signal: AbortSignal.timeout(1_000),
      });
      await res.arrayBuffer();
      return true;
    } catch {
      return false;
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await this.exited;
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  async stop(): Promise<number | string> {
    const child = this.child;
    if (child === undefined) return "not started";
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const status = (await this.exited) ?? "unknown";
    clearTimeout(timer);
    return status;
  }

  output(): string {
    return this.out;
  }

  /** Whether the last start failed because the process exited before it served. */
  exitedBeforeServing(): boolean {
    return this.exitedEarly;
  }
}

/**
 * How to close each target that {@link startCommandTarget} started and that is not closed
 * yet: what {@link closeStartedTargets} runs when the kit itself is told to stop.
 */
const LIVE_TARGETS = new Set<() => Promise<void>>();

/**
 * Closes every target this process started from a command and has not closed yet: stops
 * their servers (SIGTERM, then SIGKILL after 10 s) and removes their temporary files. The
 * command line calls it when it gets SIGINT or SIGTERM, so that a CI job that cancels the
 * kit does not leave the servers it started running, holding their ports and files.
 */
export async function closeStartedTargets(): Promise<void> {
  const closing = [...LIVE_TARGETS];
  LIVE_TARGETS.clear();
  await Promise.allSettled(closing.map((close) => close()));
}

/**
 * Starts a server by its command line (and, unless told not to, a second one with the
 * shortened limits), waits until each serves, and reads what it announces.
 */
export async function startCommandTarget(options: CommandTargetOptions): Promise<Target> {
  const apps = options.apps ?? kitApps();
  const dir = mkdtempSync(join(tmpdir(), "confab-conformance-"));
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const started: ServerProcess[] = [];
  const push = apps.push === undefined ? undefined : await PushReceiver.start();
  let closed: Promise<void> | undefined;
  // Once only, whoever comes first: the target's own close, a failed start, or the kit's
  // signal handler (closeStartedTargets).
  const closeAll = (): Promise<void> => {
    closed ??= (async () => {
      LIVE_TARGETS.delete(closeAll);
      await Promise.all(started.map((p) => p.stop()));
      await push?.close();
      rmSync(dir, { recursive: true, force: true });
    })();
    return closed;
  };
  LIVE_TARGETS.add(closeAll);
  const launch = async (name: Instance) => {
    const config = join(dir, `${name}.config.json`);
    const pushUrl = push?.urlFor(`/${name}`);
    writeFileSync(config, JSON.stringify(configFor(apps, name, pushUrl), null, 2));
    for (let attempt = 1; ; attempt++) {
      const port = await pickPort();
      const line = options.command
        .replaceAll("{port}", String(port))
        .replaceAll("{db}", join(dir, `${name}.db`))
        .replaceAll("{config}", config);
      const env = {
        ...process.env,
        ...(options.portEnv !== undefined && { [options.portEnv]: String(port) }),
      };
      const httpUrl = `http://127.0.0.1:${port}`;
      const proc = new ServerProcess(line, env, httpUrl, port, startTimeoutMs);
      started.push(proc);
      try {
        await proc.start();
      } catch (err) {
        // The server exited and something else holds its port now: it lost the port to
        // another process, so it gets another (PORT_ATTEMPTS). Any other failure is the
        // server's own and is reported.
        const lost = proc.exitedBeforeServing() && !(await portIsFree(port));
        if (!lost || attempt >= PORT_ATTEMPTS) throw err;
        started.splice(started.indexOf(proc), 1);
        continue;
      }
      const endpoint: Endpoint = {
        wsUrl: `ws://127.0.0.1:${port}/`,
        httpUrl,
        serverInfo: undefined,
      };
      endpoint.serverInfo = await announcement(endpoint, apps.open);
      return { endpoint, proc };
    }
  };
  try {
    const main = await launch("main");
    const short = options.short === false ? undefined : await launch("short");
    const bounds = options.short === false ? undefined : await launch("bounds");
    const info = main.endpoint.serverInfo;
    // A feature of the push app's own (spec 02, Table 10: push-hook only for an app with a hook).
    const pushInfo =
      push && apps.push ? await announcement(main.endpoint, apps.push.appId) : undefined;
    return {
      kind: options.kind,
      ...main.endpoint,
      apps,
      features: {
        groups: true,
        ...(info?.features ?? {}),
        ...(pushInfo?.features?.["push-hook"] === true && { "push-hook": true }),
      },
      featureSource: info === undefined ? "none announced" : "serverInfo",
      ...(short && { short: { ...short.endpoint, control: short.proc } }),
      ...(bounds && { bounds: bounds.endpoint }),
      control: main.proc,
      ...(push && { push }),
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** The kit's default target: the reference server's own command, on this machine. */
export function startEmbeddedTarget(): Promise<Target> {
  if (!existsSync(REFERENCE_CLI)) {
    throw new HarnessError(
      `the reference server is not built (${REFERENCE_CLI}): run npm run build`,
    );
  }
  return startCommandTarget({
    kind: "embedded",
    command: `"${process.execPath}" "${REFERENCE_CLI}" --port {port} --db {db} --config {config}`,
  });
}

/** Settings of {@link urlTarget}. */
export interface UrlTargetOptions {
  readonly url: string;
  readonly httpUrl?: string;
  readonly apps: Apps;
  /** A second running instance with shortened limits. */
  readonly shortUrl?: string;
  /** A running instance with small per-app bounds. */
  readonly boundsUrl?: string;
}

/** The HTTP base a WebSocket URL implies: same host and port, http(s). */
export function httpBaseOf(wsUrl: string): string {
  const u = new URL(wsUrl);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  return `${u.protocol}//${u.host}`;
}

/** A target a user started: the kit only connects to it. */
export async function urlTarget(options: UrlTargetOptions): Promise<Target> {
  const main: Endpoint = {
    wsUrl: options.url,
    httpUrl: options.httpUrl ?? httpBaseOf(options.url),
    serverInfo: undefined,
  };
  main.serverInfo = await announcement(main, options.apps.open);
  let short: Endpoint | undefined;
  if (options.shortUrl !== undefined) {
    short = {
      wsUrl: options.shortUrl,
      httpUrl: httpBaseOf(options.shortUrl),
      serverInfo: undefined,
    };
    short.serverInfo = await announcement(short, options.apps.open);
  }
  let bounds: Endpoint | undefined;
  if (options.boundsUrl !== undefined) {
    bounds = {
      wsUrl: options.boundsUrl,
      httpUrl: httpBaseOf(options.boundsUrl),
      serverInfo: undefined,
    };
    bounds.serverInfo = await announcement(bounds, options.apps.open);
  }
  const info = main.serverInfo;
  return {
    kind: "url",
    ...main,
    apps: options.apps,
    features: { groups: true, ...(info?.features ?? {}) },
    featureSource: info === undefined ? "none announced" : "serverInfo",
    ...(short && { short }),
    ...(bounds && { bounds }),
    async close() {},
  };
}

/**
 * Opens a session for a probe peer and returns the `serverInfo` of `session/opened`
 * (SESSION-INFO-1), or `undefined` when the server announces nothing. A target that does
 * not answer is a harness error, exit 2 [issue 9: a --url where nothing listens].
 */
export async function announcement(
  endpoint: Endpoint,
  appId: string,
): Promise<ServerInfo | undefined> {
  let ws: WebSocket;
  try {
    ws = await openSocket(endpoint.wsUrl, { timeoutMs: 5_000 });
  } catch (err) {
    throw new HarnessError(
      `cannot reach the server at ${endpoint.wsUrl}: ${(err as Error).message}`,
    );
  }
  try {
    const opened = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new HarnessError(`no session/opened from ${endpoint.wsUrl} within 5 s`)),
        5_000,
      );
      ws.on("message", (data: Buffer) => {
        try {
          const f = JSON.parse(data.toString()) as Record<string, unknown>;
          if (f.i === 1) {
            clearTimeout(timer);
            resolve(f);
          }
        } catch {
          // Graded by the cases, not here.
        }
      });
      ws.once("close", (code: number) => {
        clearTimeout(timer);
        reject(
          new HarnessError(`the server at ${endpoint.wsUrl} closed the probe session with ${code}`),
        );
      });
      ws.send(
        JSON.stringify({
          cmd: "session",
          op: "open",
          appId,
          peerId: `probe-${randomBytes(4).toString("hex")}`,
          i: 1,
        }),
      );
    });
    if (opened.cmd !== "session" || opened.op !== "opened") {
      throw new HarnessError(
        `the probe session of app ${appId} was answered with ${JSON.stringify(opened).slice(0, 300)}; ` +
          "is the app id right (--app-id)?",
      );
    }
    const info = opened.serverInfo;
    return info !== undefined && validate("s2c", opened).ok ? (info as ServerInfo) : undefined;
  } finally {
    ws.terminate();
  }
}
