/**
 * Helpers of the client's socket-level tests: a scripted server (test-support's) that
 * answers like a reference server unless told otherwise, a client factory that closes what
 * it made, waits, and the checks every frame a client sends must pass.
 */
import { type ClientOptions, type ConfabClient, createClient } from "@confab/client";
import { type ScriptedConnection, ScriptedServer } from "@confab/test-support";
import { happyServer, type Json } from "./fake-socket.js";

/** The answers a scripted server gives instead of the happy ones, by command name. */
export type Overrides = Parameters<typeof happyServer<ScriptedConnection>>[0];

/** Starts a scripted server that answers like a reference server, except for `overrides`. */
export async function scriptedServer(overrides: Overrides = {}): Promise<ScriptedServer> {
  const server = new ScriptedServer();
  await server.start();
  server.respond((frame, conn) =>
    typeof frame === "object" && frame !== null
      ? happyServer<ScriptedConnection>(overrides)(frame as Json, conn)
      : undefined,
  );
  return server;
}

/** Replaces the answers of a running scripted server. */
export function respondWith(server: ScriptedServer, overrides: Overrides): void {
  server.respond((frame, conn) =>
    typeof frame === "object" && frame !== null
      ? happyServer<ScriptedConnection>(overrides)(frame as Json, conn)
      : undefined,
  );
}

/** The frames the server received, parsed, optionally of one command (`direct`, `session/add`). */
export function received(server: ScriptedServer, name?: string, conn?: number): Json[] {
  return server.received
    .filter((f) => conn === undefined || f.conn === conn)
    .map((f) => f.frame as Json)
    .filter((f) => name === undefined || nameOf(f) === name);
}

/** The registry name of a frame. */
export function nameOf(f: Json): string {
  if (!("cmd" in f)) return "keepalive";
  return typeof f.op === "string" ? `${f.cmd}/${f.op}` : String(f.cmd);
}

/** Makes clients and closes them all at the end of a test. */
export class Clients {
  readonly made: ConfabClient[] = [];

  /** A client with the defaults of these tests and `options`. */
  make(options: Partial<ClientOptions> & { url?: string }): ConfabClient {
    const client = createClient({
      appId: "app1",
      peerId: "alice",
      network: null,
      commandTimeoutMs: 2_000,
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
      ...options,
    } as ClientOptions);
    this.made.push(client);
    return client;
  }

  /** Closes every client made. */
  async closeAll(): Promise<void> {
    await Promise.all(this.made.splice(0).map((c) => c.close().catch(() => undefined)));
  }
}

/** Resolves once `test` holds, polling every 5 ms; rejects after `timeoutMs`. */
export async function until(
  test: () => boolean,
  timeoutMs = 3_000,
  what = "condition",
): Promise<void> {
  const start = Date.now();
  while (!test()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits `ms` of real time. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects an event's payloads. */
export function collect<E extends Parameters<ConfabClient["on"]>[0]>(
  client: ConfabClient,
  event: E,
): unknown[] {
  const got: unknown[] = [];
  client.on(event, (p) => void got.push(p));
  return got;
}

/**
 * The member names that occur more than once in some object of a JSON text, found by a
 * scan of the text itself (`JSON.parse` would keep only the last occurrence).
 */
export function duplicateMembers(text: string): string[] {
  const dups: string[] = [];
  const stack: { keys: Set<string>; isObject: boolean; expectKey: boolean }[] = [];
  let k = 0;
  while (k < text.length) {
    const c = text[k] as string;
    if (c === '"') {
      let end = k + 1;
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1;
      const str = JSON.parse(text.slice(k, end + 1)) as string;
      const top = stack.at(-1);
      if (top?.isObject && top.expectKey) {
        if (top.keys.has(str)) dups.push(str);
        top.keys.add(str);
        top.expectKey = false;
      }
      k = end + 1;
      continue;
    }
    if (c === "{") stack.push({ keys: new Set(), isObject: true, expectKey: true });
    else if (c === "[") stack.push({ keys: new Set(), isObject: false, expectKey: false });
    else if (c === "}" || c === "]") stack.pop();
    else if (c === ",") {
      const top = stack.at(-1);
      if (top?.isObject) top.expectKey = true;
    }
    k++;
  }
  return dups;
}
