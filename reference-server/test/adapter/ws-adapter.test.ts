import { createServer, type Server } from "node:http";
import { connect as netConnect, Socket } from "node:net";
import { connect, disconnect, type WireClient } from "@confab/test-support";
import { afterEach, describe, expect, it, vi } from "vitest";
import { WebSocket } from "ws";
import { outputsAfterFailedCommit, WsAdapter } from "../../src/adapter/ws-adapter.js";
import type { Engine } from "../../src/core/engine.js";
import type { Output } from "../../src/core/types.js";
import { type RunningServer, type ServerOptions, startServer } from "../../src/server.js";
import {
  asOutputs,
  FakeEngine,
  RecordingLogger,
  RecordingStore,
  type ScriptedOutput,
  sleep,
  waitFor,
} from "./helpers.js";

let server: RunningServer | undefined;
const clients: WireClient[] = [];
const rawSockets: Socket[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  for (const s of rawSockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => disconnect(c)));
  await server?.close();
  server = undefined;
});

async function start(options: ServerOptions = {}): Promise<RunningServer> {
  server = await startServer({ host: "127.0.0.1", port: 0, ...options });
  return server;
}

async function open(url: string, protocols?: string | string[]): Promise<WireClient> {
  const c = await connect(url, protocols);
  clients.push(c);
  return c;
}

/** A fake engine behind the real server, with a recording store and logger. */
async function startFake(options: ServerOptions = {}) {
  const timeline: string[] = [];
  const engine = new FakeEngine();
  const store = new RecordingStore(timeline);
  const logger = new RecordingLogger();
  const s = await start({ db: store, logger, createEngine: () => engine, ...options });
  return { s, engine, store, logger, timeline };
}

/** Performs a WebSocket handshake by hand; the socket then answers nothing. */
/**
 * The socket writes (system-call batches) of the server's side of its connections while
 * `during` runs: the chunks and bytes of each `_write`/`_writev` of a socket whose local port
 * is `port`.
 */
async function serverWrites(
  port: string,
  during: () => Promise<void>,
): Promise<{ chunks: number; bytes: number }[]> {
  const writes: { chunks: number; bytes: number }[] = [];
  const proto = Socket.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const spies = (["_write", "_writev"] as const).map((name) => {
    const original = proto[name] as (...a: unknown[]) => unknown;
    return vi.spyOn(proto, name).mockImplementation(function (this: Socket, ...args) {
      if (String(this.localPort) === port) {
        const chunks =
          name === "_writev"
            ? (args[0] as { chunk: Buffer | string }[]).map((c) => c.chunk)
            : [args[0] as Buffer | string];
        const bytes = chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);
        writes.push({ chunks: chunks.length, bytes });
      }
      return original.apply(this, args);
    });
  });
  try {
    await during();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return writes;
}

/**
 * Has a fake engine answer one frame from a client with `frames`, all in one flush, and
 * returns what the client received and the server socket's writes (see serverWrites).
 */
async function writesOfOneFlush(frames: Readonly<Record<string, unknown>>[]): Promise<{
  received: unknown[];
  writes: { chunks: number; bytes: number }[];
}> {
  const { s, engine } = await startFake();
  engine.onText = (conn) => frames.map((frame) => ({ type: "send", conn, frame }));
  const c = await open(s.wsUrl);
  // The writes of the server's side of the connection (its local port is the server's).
  const writes = await serverWrites(new URL(s.wsUrl).port, async () => {
    c.ws.send("go");
    await waitFor(() => c.received.length === frames.length);
  });
  return { received: c.received, writes };
}

/** The end of the current event-loop turn (after its setImmediate callbacks). */
const turn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Runs `body` with a WsAdapter over a FakeEngine and a RecordingStore, without the tick
 * timer, and closes it after.
 */
async function withAdapter(
  options: { commitIntervalMs?: number },
  body: (adapter: WsAdapter, store: RecordingStore) => Promise<void>,
): Promise<void> {
  const store = new RecordingStore();
  const adapter = new WsAdapter({ engine: new FakeEngine(), store, tickIntervalMs: 0, ...options });
  try {
    await body(adapter, store);
  } finally {
    await adapter.close();
  }
}

function rawHandshake(port: number, extraHeaders = ""): Promise<{ socket: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1");
    rawSockets.push(socket);
    let data = "";
    socket.on("error", reject);
    socket.on("data", function onData(chunk: Buffer) {
      data += chunk.toString("latin1");
      const end = data.indexOf("\r\n\r\n");
      if (end >= 0) {
        socket.off("data", onData);
        resolve({ socket, head: data.slice(0, end) });
      }
    });
    socket.write(
      "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
        `${extraHeaders}\r\n`,
    );
  });
}

describe("handshake", () => {
  it("selects the confab.v1 subprotocol when the client offers it [VERSION-SUBPROTO-1]", async () => {
    const s = await start();
    const a = await open(s.wsUrl, "confab.v1");
    expect(a.ws.protocol).toBe("confab.v1");
    const b = await open(s.wsUrl, ["chat", "confab.v1"]);
    expect(b.ws.protocol).toBe("confab.v1");
  });

  it("accepts a connection that offers no subprotocol and speaks v1 on it [FRAME-WS-2] [VERSION-SUBPROTO-2]", async () => {
    const s = await start();
    const c = await open(s.wsUrl);
    expect(c.ws.protocol).toBe("");
    c.ws.send("{}");
    expect(await c.next()).toEqual({}); // [KEEPALIVE-REPLY-1]
  });

  it("accepts a handshake offering only other subprotocols, a future confab.v2 among them, selecting none [VERSION-SUBPROTO-3] [VERSION-NEXT-1]", async () => {
    const s = await start();
    const { head } = await rawHandshake(s.port, "Sec-WebSocket-Protocol: confab.v2, chat\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(head.toLowerCase()).not.toContain("sec-websocket-protocol");
  });

  it("accepts connections at any path [FRAME-WS-1]", async () => {
    const s = await start();
    const c = await open(`${s.wsUrl}some/path?x=1`);
    c.ws.send("{}");
    expect(await c.next()).toEqual({});
  });
});

describe("connection info", () => {
  it("passes the handshake Origin to the core, which enforces the app's origins [FRAME-ORIGIN-1] [FRAME-ORIGIN-2]", async () => {
    const s = await start({
      devMode: false,
      apps: [{ appId: "app1", enforceSignatures: false, allowedOrigins: ["https://ok.example"] }],
    });
    const openFrame = JSON.stringify({
      cmd: "session",
      op: "open",
      appId: "app1",
      peerId: "p1",
      i: 1,
    });
    const good = await connect(s.wsUrl, [], { origin: "https://ok.example" });
    clients.push(good);
    good.ws.send(openFrame);
    expect(await good.next()).toMatchObject({ cmd: "session", op: "opened", i: 1 });
    const bad = await connect(s.wsUrl, [], { origin: "https://evil.example" });
    clients.push(bad);
    bad.ws.send(openFrame);
    expect((await bad.closed).code).toBe(4110);
  });
});

describe("frames", () => {
  it("closes with 1009 a message over 1 MiB [FRAME-SIZE-2]", async () => {
    const s = await start();
    const c = await open(s.wsUrl);
    c.ws.send("x".repeat(1.5 * 1024 * 1024));
    expect((await c.closed).code).toBe(1009);
  });

  it("closes with 4109 a text frame over 65536 bytes [FRAME-SIZE-1]", async () => {
    const s = await start();
    const c = await open(s.wsUrl);
    c.ws.send(JSON.stringify({ pad: "x".repeat(70_000) }));
    expect((await c.closed).code).toBe(4109);
  });

  it("[FRAME-UTF8-1] lets ws close with 1007 a text message that is not UTF-8 (RFC 6455 section 8.1)", async () => {
    const { s, engine } = await startFake();
    const c = await open(s.wsUrl);
    c.ws.send(Buffer.from([0x7b, 0xff, 0x7d]), { binary: false });
    expect((await c.closed).code).toBe(1007);
    expect(engine.calls.filter((call) => call.startsWith("text:"))).toEqual([]);
  });

  it("closes with 4114 a connection that sends a binary message [FRAME-BINARY-2]", async () => {
    const s = await start();
    const c = await open(s.wsUrl);
    c.ws.send(Buffer.from("{}"), { binary: true });
    expect((await c.closed).code).toBe(4114);
    // The core may announce the close with an error frame of the same code [ERROR-CLOSE-4].
    for (const frame of c.received) expect(frame).toMatchObject({ cmd: "error", code: 4114 });
  });

  it("sends each output frame as exactly one JSON text message [FRAME-TEXT-1] [FRAME-BINARY-1]", async () => {
    const { s, engine } = await startFake();
    const frames = [{ cmd: "a", n: 1 }, {}, { cmd: "b", s: "ü\u2028" }];
    engine.onText = (conn) => frames.map((frame) => ({ type: "send", conn, frame }) as Output);
    const c = await open(s.wsUrl);
    const raw: { text: string; isBinary: boolean }[] = [];
    c.ws.on("message", (data, isBinary) => raw.push({ text: String(data), isBinary }));
    c.ws.send("go");
    await waitFor(() => raw.length === 3);
    expect(raw).toEqual(frames.map((f) => ({ text: JSON.stringify(f), isBinary: false })));
  });

  it("passes text with its byte length and binary messages to the core", async () => {
    const { s, engine } = await startFake();
    const texts: [string, number][] = [];
    engine.onText = (_conn, text, bytes) => {
      texts.push([text, bytes]);
      return [];
    };
    let binaryBytes = -1;
    engine.onBinary = (_conn, bytes) => {
      binaryBytes = bytes;
      return [];
    };
    const c = await open(s.wsUrl);
    c.ws.send('{"msg":"héllo ✓"}');
    c.ws.send(Buffer.alloc(7), { binary: true });
    await waitFor(() => binaryBytes >= 0);
    expect(texts).toEqual([['{"msg":"héllo ✓"}', Buffer.byteLength('{"msg":"héllo ✓"}')]]);
    expect(binaryBytes).toBe(7);
  });

  it("answers WebSocket pings and counts them as activity [KEEPALIVE-PING-1]", async () => {
    const { s, engine } = await startFake();
    const c = await open(s.wsUrl);
    const pong = new Promise<void>((resolve) => c.ws.once("pong", () => resolve()));
    c.ws.ping();
    await pong;
    await waitFor(() => engine.calls.includes("activity:1"));
  });

  it("tells the core when a connection closes", async () => {
    const { s, engine } = await startFake();
    const c = await open(s.wsUrl);
    await waitFor(() => engine.calls.includes("connect:1"));
    c.ws.close(1000);
    await waitFor(() => engine.calls.includes("disconnect:1"));
  });
});

describe("timers", () => {
  it("closes with 4107 a connection that sends nothing for the read timeout [TIMEOUT-READ-1]", async () => {
    const s = await start({ readTimeoutMs: 300, loginTimeoutMs: 60_000, tickIntervalMs: 50 });
    const c = await open(s.wsUrl);
    expect((await c.closed).code).toBe(4107);
  });

  it("keeps a connection that pings within the read timeout [KEEPALIVE-PING-1]", async () => {
    const s = await start({ readTimeoutMs: 300, loginTimeoutMs: 60_000, tickIntervalMs: 50 });
    const c = await open(s.wsUrl);
    const timer = setInterval(() => c.ws.ping(), 100);
    try {
      await sleep(700);
      expect(c.ws.readyState).toBe(WebSocket.OPEN);
    } finally {
      clearInterval(timer);
    }
  });

  it("closes with 4108 a connection that opens no session for the login timeout [TIMEOUT-LOGIN-1]", async () => {
    const s = await start({ readTimeoutMs: 300_000, loginTimeoutMs: 300, tickIntervalMs: 50 });
    const c = await open(s.wsUrl);
    expect((await c.closed).code).toBe(4108);
  });

  it("forgets a connection once it is closed, by the client or by the server [LIMIT-QUOTA-1]", async () => {
    // The adapter's own map of sockets is what its timers walk and what a connection holds
    // in memory after the engine forgot it: a leak there is seen by nothing else.
    const s = await start({ readTimeoutMs: 300_000, loginTimeoutMs: 300, tickIntervalMs: 50 });
    const byClient = await open(s.wsUrl);
    const byServer = await open(s.wsUrl); // closed with 4108 when its login timeout passes
    expect(s.adapter.connectionCount).toBe(2);
    byClient.ws.close(1000);
    expect((await byClient.closed).code).toBe(1000);
    expect((await byServer.closed).code).toBe(4108);
    for (let k = 0; k < 40 && s.adapter.connectionCount > 0; k++) await sleep(50);
    expect(s.adapter.connectionCount).toBe(0);
    expect((s.engine as Engine).stats().connections).toBe(0);
  });

  it("uses a 300 s read timeout and a 60 s login timeout by default [TIMEOUT-READ-3] [TIMEOUT-LOGIN-2]", async () => {
    const s = await start();
    const { config } = s.engine as Engine;
    expect(config.readTimeoutMs).toBe(300_000);
    expect(config.loginTimeoutMs).toBe(60_000);
  });
});

describe("group commit", () => {
  it("commits the store before it sends any frame the core produced [ACK-DURABLE-1]", async () => {
    const { s, engine, timeline } = await startFake();
    let n = 0;
    engine.onText = (conn) => {
      n++;
      timeline.push(`core:${n}`);
      return [{ type: "send", conn, frame: { cmd: "ack", n } }];
    };
    const realSend = WebSocket.prototype.send;
    vi.spyOn(WebSocket.prototype, "send").mockImplementation(function (
      this: WebSocket,
      data: unknown,
      ...rest: unknown[]
    ) {
      if (typeof data === "string" && data.includes('"cmd":"ack"')) {
        timeline.push(`send:${(JSON.parse(data) as { n: number }).n}`);
      }
      return (realSend as (...args: unknown[]) => void).call(this, data, ...rest);
    });
    const c = await open(s.wsUrl);
    for (let i = 0; i < 5; i++) c.ws.send('{"cmd":"direct"}');
    for (let i = 1; i <= 5; i++) expect(await c.next()).toEqual({ cmd: "ack", n: i });
    // Every send is preceded by a commit that came after the core call producing it.
    for (let i = 1; i <= 5; i++) {
      const core = timeline.indexOf(`core:${i}`);
      const send = timeline.indexOf(`send:${i}`);
      expect(core).toBeGreaterThanOrEqual(0);
      expect(send).toBeGreaterThan(core);
      expect(timeline.slice(core, send)).toContain("commit");
    }
  });

  it("commits once at the end of a turn, however many core calls the turn made", async () => {
    await withAdapter({}, async (adapter, store) => {
      adapter.tick();
      adapter.tick();
      adapter.tick();
      expect(store.commits).toBe(0);
      await turn();
      expect(store.commits).toBe(1);
    });
  });

  it("[ACK-DURABLE-1] puts off a commit due less than the commit interval after the last, and groups what comes meanwhile", async () => {
    await withAdapter({ commitIntervalMs: 50 }, async (adapter, store) => {
      // Idle until now: the first commit is not delayed.
      adapter.tick();
      await turn();
      expect(store.commits).toBe(1);
      // Two turns' work within the interval: held, then one commit for both.
      adapter.tick();
      await turn();
      adapter.tick();
      await turn();
      expect(store.commits).toBe(1);
      await waitFor(() => store.commits === 2);
      await new Promise((resolve) => setTimeout(resolve, 80));
      expect(store.commits).toBe(2);
      // flush() still commits at once when called.
      adapter.tick();
      adapter.flush();
      expect(store.commits).toBe(3);
    });
  });

  it("commits every turn with a commit interval of 0", async () => {
    await withAdapter({ commitIntervalMs: 0 }, async (adapter, store) => {
      for (let k = 1; k <= 3; k++) {
        adapter.tick();
        await turn();
        expect(store.commits).toBe(k);
      }
    });
  });

  it("answers error 4200 instead of the ack and delivers nothing when the commit fails [ACK-FAIL-1] [ACK-DURABLE-2] [ERROR-SURVIVE-1]", async () => {
    const { s, engine, store, logger } = await startFake();
    const a = await open(s.wsUrl);
    const b = await open(s.wsUrl);
    await waitFor(() => engine.connected.size === 2);
    engine.onText = (conn) => [
      { type: "send", conn, frame: { cmd: "ack", uid: "m1", t: 1, peerId: "pa", i: 7 } },
      { type: "send", conn: 2, frame: { cmd: "direct", id: "m1", msg: "hi", peerId: "pb" } },
    ];
    // The connects' own commit may still be waiting for the commit interval: run it now,
    // so that the failure falls on the direct's commit, not on theirs.
    s.adapter.flush();
    store.failCommits = 1;
    a.ws.send('{"cmd":"direct"}');
    expect(await a.next()).toMatchObject({
      cmd: "error",
      code: 4200,
      reason: "INTERNAL_ERROR",
      i: 7,
      peerId: "pa",
    });
    expect(logger.events()).toContain("commit_failed");
    // Both connections survive [ERROR-SURVIVE-1]; b never saw the unstored message, and the
    // next commit works again.
    a.ws.send('{"cmd":"direct"}');
    expect(await a.next()).toMatchObject({ cmd: "ack", uid: "m1", i: 7 });
    expect(await b.next()).toMatchObject({ cmd: "direct", id: "m1" });
    expect(b.received).toHaveLength(1);
  });

  it("closes with 1011, never 4200, a connection that would lose another frame to a failed commit [ERROR-CODES-1] [ERROR-RESYNC-1]", async () => {
    const { s, engine, store } = await startFake();
    const a = await open(s.wsUrl);
    engine.onText = (conn) => [
      { type: "send", conn, frame: { cmd: "session", op: "opened", peerId: "pa", i: 3 } },
      { type: "send", conn, frame: { cmd: "presence", status: "on", peerId: "pa" } },
    ];
    s.adapter.flush(); // as above: the connect's commit must not take the failure
    store.failCommits = 1;
    a.ws.send('{"cmd":"session","op":"open"}');
    expect(await a.closed).toEqual({ code: 1011, reason: "INTERNAL_ERROR" });
    expect(a.received).toEqual([
      expect.objectContaining({ cmd: "error", code: 4200, i: 3, peerId: "pa" }),
    ]);
  });

  it("[SERIAL-ORDER-1] writes the frames a flush sends to one socket in one write, in order", async () => {
    const frames = [1, 2, 3, 4, 5].map((n) => ({ cmd: "direct", id: `m${n}`, peerId: "pa" }));
    const { received, writes } = await writesOfOneFlush(frames);
    expect(received).toEqual(frames);
    // One write of every frame's header and payload, not one per frame.
    expect(writes.map((w) => w.chunks)).toEqual([2 * frames.length]);
  });

  it("[SERIAL-ORDER-1] writes a large flush to a socket as it goes, in writes of about 16 KiB, in order", async () => {
    // 100 frames of about 2 KiB: 200 KiB for one socket in one flush.
    const pad = "x".repeat(2000);
    const frames = Array.from({ length: 100 }, (_, n) => ({
      cmd: "direct",
      id: `m${n}`,
      msg: pad,
    }));
    const { received, writes } = await writesOfOneFlush(frames);
    expect(received).toEqual(frames);
    expect(writes.length).toBeGreaterThanOrEqual(10);
    for (const w of writes) expect(w.bytes).toBeLessThan(16 * 1024 + 4096);
  });

  it("sends the frames of a turn in order, then the close", async () => {
    const { s, engine } = await startFake();
    engine.onText = (conn) => [
      { type: "send", conn, frame: { cmd: "error", code: 4114 } },
      { type: "close", conn, code: 4114, reason: "UNPARSEABLE_RAW_MESSAGE" },
      { type: "send", conn, frame: { cmd: "late" } },
    ];
    const c = await open(s.wsUrl);
    c.ws.send("nonsense");
    expect(await c.closed).toEqual({ code: 4114, reason: "UNPARSEABLE_RAW_MESSAGE" });
    expect(c.received).toEqual([{ cmd: "error", code: 4114 }]);
  });
});

describe("failures", () => {
  it("closes with 1011 only the connection whose handling threw", async () => {
    const { s, engine, logger } = await startFake();
    engine.onText = (conn, text) => {
      if (text === "boom") throw new Error("bug");
      return [{ type: "send", conn, frame: { ok: true } }];
    };
    const a = await open(s.wsUrl);
    const b = await open(s.wsUrl);
    a.ws.send("boom");
    expect((await a.closed).code).toBe(1011);
    expect(logger.events()).toContain("engine_error");
    b.ws.send("fine");
    expect(await b.next()).toEqual({ ok: true });
  });

  it("[ERROR-BUFFER-1] closes with 1008, at once, a client that does not read once its backlog passes the hard bound", async () => {
    const { s, engine, logger } = await startFake({
      maxBufferedBytes: 256 * 1024,
      hardMaxBufferedBytes: 2 * 1024 * 1024,
      closeGraceMs: 200,
    });
    const big = "y".repeat(512 * 1024);
    engine.onText = (conn) => {
      const out: ScriptedOutput[] = [];
      for (let i = 0; i < 32; i++) out.push({ type: "send", conn, frame: { big } });
      return out;
    };
    const c = await open(s.wsUrl);
    // The client stops reading: the server's buffer fills up.
    c.ws.pause();
    c.ws.send("flood me");
    await waitFor(() => logger.events().includes("send_buffer_full"));
    await waitFor(() => engine.calls.includes("disconnect:1"));
    c.ws.resume();
    const { code } = await c.closed;
    // 1008 if the close frame got through before the grace ran out, 1006 otherwise.
    expect([1008, 1006]).toContain(code);
    expect(c.received.length).toBeLessThan(32);
  });

  it("[ERROR-BUFFER-1] keeps a client that reads promptly, however large a legal frame it is sent", async () => {
    // Default bounds (4 MiB). The frames of one turn: a 5.3 MB page (the size of a legal
    // logs/result of 1,000 plain-text messages), small frames behind it, a second page.
    const { s, engine, logger } = await startFake();
    const page = "p".repeat(5_300_000);
    engine.onText = (conn, text) => {
      if (text !== "pages") return [{ type: "send", conn, frame: { pong: text } }];
      const out: ScriptedOutput[] = [{ type: "send", conn, frame: { n: 0, page } }];
      for (let n = 1; n <= 20; n++) out.push({ type: "send", conn, frame: { n } });
      out.push({ type: "send", conn, frame: { n: 21, page } });
      return out;
    };
    const c = await open(s.wsUrl);
    c.ws.send("pages");
    for (let n = 0; n <= 21; n++) expect(await c.next(10_000)).toMatchObject({ n });
    // Still open and served.
    c.ws.send("after");
    expect(await c.next()).toEqual({ pong: "after" });
    expect(c.closeInfo).toBeUndefined();
    expect(logger.events()).not.toContain("send_buffer_full");
  });

  it("[ERROR-BUFFER-1] closes with 1008 a client that never reads, once its buffer stays over the bound for the stall time", async () => {
    const stallMs = 400;
    const { s, engine, logger } = await startFake({
      maxBufferedBytes: 256 * 1024,
      hardMaxBufferedBytes: 64 * 1024 * 1024,
      sendStallMs: stallMs,
      closeGraceMs: 10_000,
    });
    const big = "z".repeat(1024 * 1024);
    const frames = 32; // 32 MiB: more than the kernel's socket buffers take, under the hard bound
    engine.onText = (conn) => {
      const out: ScriptedOutput[] = [];
      for (let i = 0; i < frames; i++) out.push({ type: "send", conn, frame: { i, big } });
      return out;
    };
    const c = await open(s.wsUrl);
    c.ws.pause(); // the client stops reading
    const sentAt = Date.now();
    c.ws.send("flood me");
    await waitFor(() => logger.events().includes("send_buffer_full"), 5000);
    // Closed because nothing left the buffer for the stall time, not at the first frame.
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(stallMs - 50);
    expect(logger.lines.find((l) => l.event === "send_buffer_full")?.fields).toMatchObject({
      why: "stalled",
    });
    // It reads now: every frame queued before the close, then the close frame itself.
    c.ws.resume();
    expect((await c.closed).code).toBe(1008);
    expect(c.received).toHaveLength(frames);
  });

  it("destroys a socket that does not finish the close handshake within the grace", async () => {
    const { s, engine } = await startFake({ closeGraceMs: 100 });
    engine.onText = (conn) => [{ type: "close", conn, code: 4114, reason: "x" }];
    const { socket } = await rawHandshake(s.port);
    const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    // A masked text frame "{}", then never answer the server's close frame.
    socket.write(Buffer.from([0x81, 0x82, 1, 2, 3, 4, 0x7b ^ 1, 0x7d ^ 2]));
    const started = Date.now();
    await ended;
    expect(Date.now() - started).toBeLessThan(3000);
    await waitFor(() => engine.calls.includes("disconnect:1"));
  });
});

describe("graceful close", () => {
  it("closes open sockets with 1001, then closes the store [ERROR-SHUTDOWN-1]", async () => {
    const { s, store, engine } = await startFake();
    const a = await open(s.wsUrl, "confab.v1");
    const b = await open(s.wsUrl);
    await waitFor(() => engine.connected.size === 2);
    await s.close();
    expect(await a.closed).toEqual({ code: 1001, reason: "GOING_AWAY" }); // [ERROR-CLOSE-3]
    expect((await b.closed).code).toBe(1001);
    expect(engine.connected.size).toBe(0);
    expect(store.closed).toBe(true);
    await expect(open(s.wsUrl)).rejects.toThrow();
  });

  it("flushes outputs pending at shutdown after committing them", async () => {
    const { s, store, engine, timeline } = await startFake();
    const c = await open(s.wsUrl);
    await waitFor(() => engine.connected.size === 1);
    engine.onTick = () => [{ type: "send", conn: 1, frame: { last: true } }];
    s.adapter.tick(); // queued, not yet flushed
    await s.close();
    expect(await c.closed).toMatchObject({ code: 1001 });
    expect(c.received).toEqual([{ last: true }]);
    expect(timeline[0]).toBe("commit");
    expect(store.closed).toBe(true);
  });

  it("is idempotent", async () => {
    const { s, store } = await startFake();
    const first = s.close();
    const second = s.close();
    await Promise.all([first, second]);
    await s.close();
    expect(store.closed).toBe(true);
  });

  it("ends a handshake-only socket within the grace period", async () => {
    const { s } = await startFake({ closeGraceMs: 100 });
    const { socket } = await rawHandshake(s.port);
    const ended = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    const started = Date.now();
    await s.close();
    await ended;
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe("outputsAfterFailedCommit", () => {
  it("keeps closes, keepalives and error frames, turns acks into errors, drops deliveries", () => {
    const outputs: ScriptedOutput[] = [
      { type: "send", conn: 1, frame: {} },
      { type: "send", conn: 1, frame: { cmd: "ack", uid: "m", t: 1, peerId: "p" } },
      { type: "send", conn: 2, frame: { cmd: "direct", id: "m", msg: "x", peerId: "q" } },
      { type: "send", conn: 3, frame: { cmd: "error", code: 4105, reason: "SESSION_REQUIRED" } },
      { type: "close", conn: 4, code: 4107, reason: "READ_TIMEOUT" },
      { type: "send", conn: 5, frame: { cmd: "room", op: "joined", roomId: "r", peerId: "z" } },
    ];
    const { released, unsafe, dropped } = outputsAfterFailedCommit(asOutputs(outputs));
    expect(released).toEqual([
      outputs[0],
      {
        type: "send",
        conn: 1,
        frame: expect.objectContaining({ cmd: "error", code: 4200, peerId: "p" }),
      },
      outputs[3],
      outputs[4],
    ]);
    expect([...unsafe]).toEqual([5]);
    expect(dropped).toBe(3);
  });
});

describe("WsAdapter alone", () => {
  it("attaches to an existing http server", async () => {
    const engine = new FakeEngine();
    engine.onText = (conn, text) => [{ type: "send", conn, frame: { echo: text } }];
    const store = new RecordingStore();
    const adapter = new WsAdapter({ engine, store, tickIntervalMs: 0 });
    const http: Server = createServer();
    adapter.attach(http);
    await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = http.address() as { port: number };
      const c = await open(`ws://127.0.0.1:${port}/`);
      c.ws.send("hi");
      expect(await c.next()).toEqual({ echo: "hi" });
      await adapter.close();
      expect((await c.closed).code).toBe(1001);
    } finally {
      await adapter.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it("runs the core's timers every tick interval", async () => {
    const engine = new FakeEngine();
    let ticks = 0;
    engine.onTick = () => {
      ticks++;
      return [];
    };
    const adapter = new WsAdapter({ engine, store: new RecordingStore(), tickIntervalMs: 20 });
    try {
      await waitFor(() => ticks >= 2);
    } finally {
      await adapter.close();
    }
    const after = ticks;
    await sleep(60);
    expect(ticks).toBe(after);
  });
});
