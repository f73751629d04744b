/**
 * The reference server as a child process, for the client's tests against the real thing.
 * The client may not import the server, tests included (test-support's topology test), so
 * the tests run its compiled CLI, `reference-server/dist/src/cli.js` (built by vitest's
 * global setup), and read its JSON `listening` line for the port. `kill()` is SIGKILL;
 * `restart()` starts it again on the same database and port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { WebSocketConstructor } from "@confab/client";
import WebSocket from "ws";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const CLI = join(REPO, "reference-server/dist/src/cli.js");

/** A running reference server. */
export class ServerProcess {
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stderr = "";
  /** The port it listens on (kept across restarts). */
  port = 0;

  /**
   * @param db - the SQLite file
   * @param args - extra flags (`--app id:key`, `--no-dev`)
   * @param ownsDir - a folder to remove at {@link stop}
   */
  private constructor(
    readonly db: string,
    readonly args: readonly string[],
    private readonly ownsDir: string | undefined,
  ) {}

  /**
   * Starts a server on a new database in a temporary folder (or `db`), on a free port. With
   * `stablePort`, the port is drawn below the kernel's ephemeral range (32768 and up on
   * Linux), so that no server of another test, started on port 0, can take it while this
   * one is down between a kill and its restart.
   */
  static async start(
    options: { db?: string; args?: string[]; stablePort?: boolean } = {},
  ): Promise<ServerProcess> {
    const dir = options.db ? undefined : mkdtempSync(join(tmpdir(), "confab-client-"));
    const db = options.db ?? join(dir as string, "confab.db");
    const server = new ServerProcess(db, options.args ?? [], dir);
    for (let tries = 0; ; tries++) {
      const port = options.stablePort ? 20_000 + Math.floor(Math.random() * 12_000) : 0;
      try {
        await server.#spawn(port);
        return server;
      } catch (err) {
        if (!options.stablePort || tries >= 20) throw err; // that port was taken: draw again
      }
    }
  }

  /** `ws://127.0.0.1:PORT/`. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** `http://127.0.0.1:PORT`, the router's base. */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async #spawn(port: number): Promise<void> {
    const child = spawn(
      process.execPath,
      [CLI, "--port", String(port), "--db", this.db, ...this.args],
      { cwd: REPO, env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#child = child;
    this.#stderr = "";
    this.#exited = new Promise((resolve) => child.once("exit", () => resolve()));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      this.#stderr += chunk;
    });
    child.stdout?.setEncoding("utf8");
    this.port = await new Promise<number>((resolve, reject) => {
      let buffer = "";
      const onData = (chunk: string) => {
        buffer += chunk;
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) {
          try {
            const entry = JSON.parse(line) as { event?: string; port?: number };
            if (entry.event === "listening" && typeof entry.port === "number") {
              child.stdout?.off("data", onData);
              resolve(entry.port);
              return;
            }
          } catch {
            // not a JSON log line
          }
        }
      };
      child.stdout?.on("data", onData);
      child.once("exit", (code) =>
        reject(new Error(`confab-server exited with ${code} before listening: ${this.#stderr}`)),
      );
    });
    // Keep draining stdout so the child never blocks on a full pipe.
    child.stdout?.resume();
  }

  /** Kills the process with SIGKILL, as a crash would, and waits for its exit. */
  async kill(): Promise<void> {
    this.#child?.kill("SIGKILL");
    await this.#exited;
    this.#child = undefined;
  }

  /** Starts it again on the same database and port. */
  async restart(): Promise<void> {
    for (let tries = 0; ; tries++) {
      try {
        await this.#spawn(this.port);
        return;
      } catch (err) {
        // The port may take a moment to be free again after a kill.
        if (tries >= 20) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Stops it (SIGTERM) and removes its temporary folder. */
  async stop(): Promise<void> {
    this.#child?.kill("SIGTERM");
    await this.#exited;
    this.#child = undefined;
    if (this.ownsDir) rmSync(this.ownsDir, { recursive: true, force: true });
  }
}

/** One frame a {@link RecordingWebSocket} saw. */
export interface WireFrame {
  readonly direction: "c2s" | "s2c";
  readonly text: string;
  /** For a sent frame: whether the client handed `send` a string, which goes out as a text message. */
  readonly isString?: boolean;
}

/**
 * `ws`'s WebSocket that records every text frame in both directions, for tests that check
 * what the client put on the wire. Pass `recordingWebSocket(log)` as the `WebSocket` option.
 */
export function recordingWebSocket(log: WireFrame[]): WebSocketConstructor {
  return class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on("message", (data, isBinary) => {
        if (!isBinary) log.push({ direction: "s2c", text: String(data) });
      });
    }

    override send(data: unknown, ...rest: unknown[]): void {
      log.push({ direction: "c2s", text: String(data), isString: typeof data === "string" });
      (super.send as (d: unknown, ...r: unknown[]) => void)(data, ...rest);
    }
  };
}
