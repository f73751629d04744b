/**
 * The one WebSocket client of the socket-level tests: it connects, records every frame it
 * receives, waits for the next one with a bound, sends typed frames or raw text and bytes,
 * and reports the close. Tests that need the socket itself (pings, pausing, spies) reach it
 * through {@link WireClient.ws}.
 *
 * @module
 */
import type { C2SMessages, S2CMessages } from "@confab/protocol";
import { type ClientOptions, WebSocket } from "ws";

// Captured at load so bounded waits keep real time while a test uses vitest fake timers.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Any client→server frame of the protocol. */
export type C2SFrame = C2SMessages[keyof C2SMessages];

/** Any server→client frame of the protocol. */
export type S2CFrame = S2CMessages[keyof S2CMessages];

/** How a socket closed: the close code and reason the client saw. */
export interface CloseInfo {
  /** The close code (1006 when the connection dropped without a close frame). */
  readonly code: number;
  /** The close reason, `""` when there was none. */
  readonly reason: string;
}

/** How long {@link WireClient.next} waits by default, in milliseconds. */
export const DEFAULT_WAIT_MS = 5_000;

/**
 * A connected test client. `In` is the type of the frames it expects; it defaults to the
 * protocol's s2c frames, which is what a real server sends. Frames are not validated here:
 * tests that want that call `validate("s2c", frame)` themselves.
 */
export class WireClient<In = S2CFrame> {
  /** Text frames received, parsed as JSON, in arrival order (taken ones included). */
  readonly received: In[] = [];
  /**
   * Messages that were not JSON text: binary messages and text that does not parse. A
   * Confab server never sends either, so tests can expect this list empty.
   */
  readonly malformed: (string | Buffer)[] = [];
  /** Resolves with the close code and reason once the socket has closed. */
  readonly closed: Promise<CloseInfo>;

  private taken = 0;
  private closeInfoValue: CloseInfo | undefined;
  private readonly listeners = new Set<() => void>();

  /** @param ws - an open (or opening) socket; use {@link connect} to make one. */
  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.malformed.push(data);
      else {
        const text = data.toString("utf8");
        try {
          this.received.push(JSON.parse(text) as In);
        } catch {
          this.malformed.push(text);
        }
      }
      this.notify();
    });
    this.closed = new Promise<CloseInfo>((resolve) => {
      ws.on("close", (code: number, reason: Buffer) => {
        this.closeInfoValue = { code, reason: reason.toString() };
        resolve(this.closeInfoValue);
        this.notify();
      });
    });
    ws.on("error", () => {
      // Surfaced through `closed`, or by `connect` while the handshake runs.
    });
  }

  /** How the socket closed, or `undefined` while it has not. */
  get closeInfo(): CloseInfo | undefined {
    return this.closeInfoValue;
  }

  /** Whether the socket is open, so that a send reaches the server. */
  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Resolves with the first received frame not taken yet, waiting for it if need be.
   * Rejects when the socket closes first, or after `timeoutMs` without a frame.
   */
  next(timeoutMs = DEFAULT_WAIT_MS): Promise<In> {
    return new Promise<In>((resolve, reject) => {
      const check = () => {
        if (this.taken < this.received.length) {
          done();
          resolve(this.received[this.taken++] as In);
        } else if (this.ws.readyState >= WebSocket.CLOSING) {
          done();
          reject(new Error("closed"));
        }
      };
      const timer = realSetTimeout(() => {
        done();
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      const done = () => {
        realClearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /**
   * Resolves once `quietMs` pass without a new message, or when the socket closes: the way
   * to collect "everything the server answers" when the count is not known.
   */
  quiet(quietMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.closeInfoValue !== undefined) return resolve();
      const finish = () => {
        realClearTimeout(timer);
        this.listeners.delete(onEvent);
        resolve();
      };
      const onEvent = () => {
        if (this.closeInfoValue !== undefined) return finish();
        realClearTimeout(timer);
        timer = realSetTimeout(finish, quietMs);
      };
      let timer = realSetTimeout(finish, quietMs);
      this.listeners.add(onEvent);
    });
  }

  /** Sends a protocol frame as one JSON text message. */
  send(frame: C2SFrame): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends `text` as one text message, as is (malformed JSON included). */
  sendText(text: string): void {
    this.ws.send(text, { binary: false });
  }

  /** Sends `bytes` as one binary message. */
  sendBinary(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  /** Ends the connection at once if it is still open, and waits for the close. */
  async disconnect(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) {
      this.ws.terminate();
    }
    await this.closed;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Opens a client and waits for the handshake; rejects if the handshake fails.
 *
 * @param url - the server's WebSocket URL, e.g. `ws://127.0.0.1:8080/`
 * @param protocols - subprotocols to offer, e.g. `"confab.v1"`
 * @param options - `ws` client options, e.g. `{ origin }`
 */
export async function connect<In = S2CFrame>(
  url: string,
  protocols?: string | string[],
  options?: ClientOptions,
): Promise<WireClient<In>> {
  const client = new WireClient<In>(new WebSocket(url, protocols, options));
  await new Promise<void>((resolve, reject) => {
    client.ws.once("open", () => resolve());
    client.ws.once("error", reject);
  });
  return client;
}

/** Closes a client if it is still open, and waits for the close; `undefined` is a no-op. */
export async function disconnect(client: WireClient<unknown> | undefined): Promise<void> {
  await client?.disconnect();
}
