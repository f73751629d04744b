/**
 * The few members of a WebSocket the client uses, so that the browser's `WebSocket`, the
 * `ws` package's and a test double all fit. Node 20 has no global `WebSocket`; the Node
 * entry (`index.ts`) supplies `ws`, the browser entry (`browser.ts`) the page's own.
 * @module
 */

/** A WebSocket event, as the client reads it: `data` of a message, `code`/`reason` of a close. */
export interface WebSocketEventLike {
  /** The message text (a string for text messages; anything else is not a Confab frame). */
  readonly data?: unknown;
  /** The close code. */
  readonly code?: number;
  /** The close reason. */
  readonly reason?: string;
}

/** The listener type of {@link WebSocketLike}'s `on…` handlers. */
// biome-ignore lint/suspicious/noExplicitAny: the DOM's and ws's event classes differ; any keeps both assignable.
export type WebSocketHandler = ((event: any) => void) | null;

/** A WebSocket instance: the browser's, `ws`'s, or a test double. */
export interface WebSocketLike {
  /** 0 connecting, 1 open, 2 closing, 3 closed (RFC 6455 / WHATWG). */
  readonly readyState: number;
  /** The subprotocol the server selected, `""` when none. */
  readonly protocol?: string;
  /** Sends one text message. */
  send(data: string): void;
  /** Starts the closing handshake. */
  close(code?: number, reason?: string): void;
  /** Called once the handshake completes. */
  onopen: WebSocketHandler;
  /** Called with every message; `event.data` is the text. */
  onmessage: WebSocketHandler;
  /** Called once, when the connection has closed; `event.code` and `event.reason`. */
  onclose: WebSocketHandler;
  /** Called on a failure; a close follows. */
  onerror: WebSocketHandler;
}

/** A WebSocket constructor: `new WebSocket(url, protocols)`. */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

/** `readyState` of an open socket. */
export const OPEN = 1;

/** The subprotocol the client offers [VERSION-SUBPROTO-4]. */
export const SUBPROTOCOL = "confab.v1";
