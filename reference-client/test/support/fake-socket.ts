/**
 * An in-memory WebSocket double for the client's tests that need vitest's fake timers
 * (keepalive, timeouts, backoff): the client takes it through its `WebSocket` option, and
 * the test plays the server frame by frame. Replies are delivered on a microtask, never
 * synchronously inside `send`, as a real socket would.
 */
import type { WebSocketConstructor, WebSocketLike } from "@confab/client";

/** A frame as the fake server sees it. */
export type Json = Record<string, unknown>;

/** Decides the fake server's answer to a received frame: frames to send back, or none. */
export type FakeResponder = (frame: Json, socket: FakeSocket) => Json | Json[] | undefined;

/** One fake connection. */
export class FakeSocket implements WebSocketLike {
  readyState = 0;
  protocol = "";
  /** Text frames the client sent, in order. */
  readonly sent: string[] = [];
  onopen: WebSocketLike["onopen"] = null;
  onmessage: WebSocketLike["onmessage"] = null;
  onclose: WebSocketLike["onclose"] = null;
  onerror: WebSocketLike["onerror"] = null;
  /** How the client closed it, if it did. */
  closedBy: { code?: number; reason?: string } | undefined;

  /**
   * @param net - the network that made it
   * @param url - the URL the client opened
   * @param protocols - the subprotocols it offered
   */
  constructor(
    readonly net: FakeNet,
    readonly url: string,
    readonly protocols: string | string[] | undefined,
  ) {}

  /** The frames the client sent, parsed. */
  get frames(): Json[] {
    return this.sent.map((t) => JSON.parse(t) as Json);
  }

  /** The commands the client sent (frames with `cmd`). */
  get commands(): Json[] {
    return this.frames.filter((f) => "cmd" in f);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("not open");
    this.sent.push(data);
    const frame = JSON.parse(data) as Json;
    const answer = this.net.responder(frame, this);
    if (answer === undefined) return;
    const list = Array.isArray(answer) ? answer : [answer];
    void Promise.resolve().then(() => {
      for (const f of list) this.push(f);
    });
  }

  close(code?: number, reason?: string): void {
    if (this.readyState === 3) return;
    this.closedBy = { code, reason };
    this.readyState = 3;
    void Promise.resolve().then(() => this.onclose?.({ code: code ?? 1005, reason: reason ?? "" }));
  }

  /** The server accepts the handshake, selecting the first subprotocol offered. */
  accept(): void {
    this.readyState = 1;
    const p = this.protocols;
    this.protocol = (Array.isArray(p) ? p[0] : p) ?? "";
    this.onopen?.({});
  }

  /** The handshake fails (connection refused). */
  refuse(): void {
    this.readyState = 3;
    this.onerror?.({});
    this.onclose?.({ code: 1006, reason: "" });
  }

  /** The server sends a frame (an object, or raw text). */
  push(frame: Json | string): void {
    if (this.readyState !== 1) return;
    this.onmessage?.({ data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /** The server closes the connection with a code. */
  drop(code = 1006, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
}

/** The fake network: every socket the client opened, and the server's behaviour. */
export class FakeNet {
  readonly sockets: FakeSocket[] = [];
  /** What happens to each new socket, on a microtask: by default the server accepts it. */
  connect: (socket: FakeSocket) => void = (s) => s.accept();
  /** The fake server; the default answers like a reference server, with `serverInfo`. */
  responder: FakeResponder = happyServer();
  /** The constructor to pass as the client's `WebSocket` option. */
  readonly WebSocket: WebSocketConstructor;

  constructor() {
    const net = this;
    this.WebSocket = class extends FakeSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(net, url, protocols);
        net.sockets.push(this);
        void Promise.resolve().then(() => this.readyState === 0 && net.connect(this));
      }
    };
  }

  /** The latest socket. */
  get last(): FakeSocket {
    const s = this.sockets.at(-1);
    if (!s) throw new Error("no socket yet");
    return s;
  }
}

/** The `serverInfo` the happy server announces. */
export const SERVER_INFO = {
  revision: "1.1",
  features: {
    receipts: true,
    offline: true,
    history: true,
    "rest-history": true,
    "room-query": true,
    "room-list": true,
    echo: true,
    "super-peer": true,
    signatures: false,
  },
  limits: {
    msgBytes: 5120,
    frameBytes: 65536,
    idLength: 64,
    idsPerArray: 500,
    watchPerSession: 10000,
    sessionsPerConnection: 100,
    roomMembers: 500,
    offlineCount: 50,
    offlineAgeMs: 604_800_000,
    pageLimit: 1000,
    pageLimitDefault: 100,
    pageBytes: 1_047_552,
    signatureWindowS: 300,
    readTimeoutMs: 300_000,
    loginTimeoutMs: 60_000,
    watchPerConnection: 20_000,
  },
};

let uid = 0;

/**
 * A server that answers every command with its success reply, echoing `i`; `overrides`
 * replace the answer to the commands they name (`direct`, `session/open`, `keepalive`).
 * Generic over the connection type, so the scripted server of test-support can use it too.
 */
export function happyServer<S = FakeSocket>(
  overrides: Partial<Record<string, (frame: Json, socket: S) => Json | Json[] | undefined>> = {},
): (frame: Json, socket: S) => Json | Json[] | undefined {
  return (f, socket) => {
    const name = !("cmd" in f)
      ? "keepalive"
      : typeof f.op === "string"
        ? `${f.cmd}/${f.op}`
        : String(f.cmd);
    const custom = overrides[name];
    if (custom) return custom(f, socket);
    const base = { peerId: f.peerId, i: f.i };
    const ids = (f.sessionPeerIds as string[] | undefined) ?? [];
    switch (name) {
      case "keepalive":
        return {};
      case "session/open":
        return {
          cmd: "session",
          op: "opened",
          ...base,
          onlineSessionPeerIds: [],
          serverInfo: SERVER_INFO,
        };
      case "session/add":
        return { cmd: "session", op: "added", ...base, onlineSessionPeerIds: [] };
      case "session/query":
        return {
          cmd: "session",
          op: "query-result",
          ...base,
          onlineSessionPeerIds: ids.slice(0, 1),
        };
      case "session/remove":
        return { cmd: "session", op: "removed", ...base };
      case "session/close":
        return { cmd: "session", op: "closed", ...base };
      case "direct":
        return { cmd: "ack", ...base, uid: `m${++uid}`, t: 1_700_000_000_000 + uid };
      case "room/join":
        return { cmd: "room", op: "joined", ...base, roomId: f.roomId ?? "g1", byPeerId: f.peerId };
      case "room/invite":
        return {
          cmd: "room",
          op: "invited",
          ...base,
          roomId: f.roomId,
          roomPeerIds: f.roomPeerIds,
        };
      case "room/kick":
        return { cmd: "room", op: "kicked", ...base, roomId: f.roomId, roomPeerIds: f.roomPeerIds };
      case "room/leave":
        return { cmd: "room", op: "left", ...base, roomId: f.roomId, byPeerId: f.peerId };
      case "room/query":
        return {
          cmd: "room",
          op: "query-result",
          ...base,
          roomId: f.roomId,
          roomPeerIds: [f.peerId],
        };
      case "room/list":
        return { cmd: "room", op: "list-result", ...base, roomIds: [], more: false };
      case "logs":
        return { cmd: "logs", op: "result", ...base, logs: [] };
      default:
        return undefined;
    }
  };
}
