// The client's timers, driven by vitest's fake timers over an in-memory WebSocket: the
// keepalive and the dead-connection timeout, the per-command timeout, serials and reply
// matching, the reconnect backoff, close codes, the page's network events, the router's
// ttl and secondary URL, and what becomes of sends at a disconnect.
import {
  type ClientOptions,
  type ConfabClient,
  ConnectionClosedError,
  createClient,
  InvalidArgumentError,
  QueueFullError,
  TimeoutError,
} from "@confab/client";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SerialCounter } from "../src/connection.js";
import { FakeNet, type FakeSocket, happyServer, type Json } from "./support/fake-socket.js";

let net: FakeNet;
let clients: ConfabClient[] = [];

beforeEach(() => {
  vi.useFakeTimers();
  net = new FakeNet();
});

afterEach(async () => {
  for (const c of clients) void c.close();
  clients = [];
  await vi.runOnlyPendingTimersAsync();
  vi.useRealTimers();
});

function make(options: Partial<ClientOptions> = {}): ConfabClient {
  const client = createClient({
    url: "ws://fake.test/",
    appId: "app1",
    peerId: "alice",
    WebSocket: net.WebSocket,
    network: null,
    ...options,
  } as ClientOptions);
  clients.push(client);
  return client;
}

async function opened(options: Partial<ClientOptions> = {}): Promise<ConfabClient> {
  const client = make(options);
  const p = client.open();
  await vi.advanceTimersByTimeAsync(0);
  await p;
  return client;
}

/** Every event of `client`, in order, as `name` or `name:payload`. */
function record(client: ConfabClient, names: Parameters<ConfabClient["on"]>[0][]): unknown[] {
  const log: unknown[] = [];
  for (const name of names)
    client.on(name, (p) => void log.push(p === undefined ? name : { [name]: p }));
  return log;
}

const isKeepalive = (f: Json) => !("cmd" in f);

describe("keepalive", () => {
  it("[KEEPALIVE-CLIENT-2] sends {} after 60 seconds in which it sent nothing", async () => {
    await opened();
    const s = net.last;
    const sentBefore = s.sent.length;
    await vi.advanceTimersByTimeAsync(59_999);
    expect(s.sent.length).toBe(sentBefore);
    await vi.advanceTimersByTimeAsync(1);
    expect(s.sent.slice(sentBefore)).toEqual(["{}"]);
  });

  it("[KEEPALIVE-CLIENT-2] counts from the last frame sent: a command postpones the keepalive", async () => {
    const client = await opened();
    const s = net.last;
    await vi.advanceTimersByTimeAsync(50_000);
    await client.send("hi", "bob");
    await vi.advanceTimersByTimeAsync(59_000);
    expect(s.frames.filter(isKeepalive)).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(s.frames.filter(isKeepalive)).toHaveLength(1);
  });

  it("[KEEPALIVE-CLIENT-1] never leaves the connection silent for 180 seconds, and refuses an interval over 180 s", async () => {
    await opened();
    const s = net.last;
    const times: number[] = [];
    const send = s.send.bind(s);
    s.send = (text) => {
      times.push(Date.now());
      send(text);
    };
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    const gaps = [times[0] ?? Number.POSITIVE_INFINITY, ...times.slice(1)].map(
      (t, k) => t - (k === 0 ? start : (times[k - 1] as number)),
    );
    expect(times.length).toBeGreaterThanOrEqual(14);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(180_000);
    expect(() => make({ keepaliveIntervalMs: 180_001 })).toThrow(InvalidArgumentError);
  });

  it("[KEEPALIVE-CLIENT-3] closes and reconnects when no {} comes within 10 seconds of a keepalive", async () => {
    net.responder = happyServer({ keepalive: () => undefined });
    const client = await opened({ reconnect: { initialDelayMs: 100 } });
    const log = record(client, ["disconnect", "schedule"]);
    const first = net.last;
    await vi.advanceTimersByTimeAsync(60_000 + 9_999);
    expect(client.state).toBe("open");
    await vi.advanceTimersByTimeAsync(1);
    expect(client.state).toBe("reconnecting");
    expect(log[0]).toMatchObject({ disconnect: { code: 1006 } });
    expect(first.readyState).toBe(3);
    await vi.advanceTimersByTimeAsync(100);
    expect(net.sockets).toHaveLength(2);
    expect(client.state).toBe("open");
  });

  it("[KEEPALIVE-CLIENT-3] keeps a connection whose keepalive reply queues behind other frames", async () => {
    const client = await opened({ deadConnectionMs: 1_000 });
    const s = net.last;
    net.responder = happyServer({ keepalive: () => undefined });
    await vi.advanceTimersByTimeAsync(60_000);
    for (let k = 0; k < 5; k++) {
      await vi.advanceTimersByTimeAsync(900);
      s.push({ cmd: "presence", peerId: "alice", status: "on", sessionPeerIds: ["zed"] });
    }
    s.push({});
    await vi.advanceTimersByTimeAsync(5_000);
    expect(client.state).toBe("open");
    expect(net.sockets).toHaveLength(1);
  });
});

describe("dead connections", () => {
  it("[KEEPALIVE-CLIENT-3] probes a connection that hears nothing for the keepalive interval, however much it sends", async () => {
    const client = await opened({ commandTimeoutMs: 120_000, random: () => 0 });
    net.responder = () => undefined; // frames now vanish, as on a dead link
    const sends: Promise<unknown>[] = [];
    for (let t = 0; t < 80; t += 5) {
      sends.push(client.send(`m${t}`, "bob").catch((e: unknown) => e));
      await vi.advanceTimersByTimeAsync(5_000);
      if (client.state !== "open") break;
    }
    // 60 s without a frame from the server: a keepalive; 10 s more without one: dropped.
    expect(client.state).not.toBe("open");
    expect(net.sockets[0]?.frames.filter(isKeepalive)).toHaveLength(1);
    for (const r of await Promise.all(sends))
      expect(r).toMatchObject({ mayHaveBeenDelivered: true });
  });

  it("[TIMEOUT-CLIENT-1] probes the connection when a command times out, and drops it if the probe goes unanswered", async () => {
    const client = await opened({ random: () => 0.99 });
    net.responder = () => undefined;
    const err = client.send("hi", "bob").catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await err).toBeInstanceOf(TimeoutError);
    expect(net.last.frames.filter(isKeepalive)).toHaveLength(1);
    expect(client.state).toBe("open");
    await vi.advanceTimersByTimeAsync(10_000);
    expect(client.state).toBe("reconnecting");
  });
});

describe("serials and reply matching", () => {
  it("[SERIAL-RANGE-1] gives every command an integer i from 0 to 2147483647, wrapping after the largest", async () => {
    const client = await opened({ firstSerial: 2_147_483_646 });
    await client.send("a", "bob");
    await client.send("b", "bob");
    await client.getStatus(["bob"]);
    const serials = net.last.commands.map((f) => f.i);
    expect(serials).toEqual([2_147_483_646, 2_147_483_647, 0, 1]);
    for (const i of serials) expect(Number.isInteger(i)).toBe(true);
  });

  it("[SERIAL-UNIQUE-1] never reuses the i of a command still awaiting its reply, even across a wrap", async () => {
    const counter = new SerialCounter(2_147_483_647);
    const inUse = new Map<number, unknown>([
      [0, "pending"],
      [1, "pending"],
    ]);
    expect(counter.take(inUse)).toBe(2_147_483_647);
    expect(counter.take(inUse)).toBe(2);
    // On the wire: commands in flight together carry distinct serials.
    net.responder = happyServer({ direct: () => undefined });
    const client = await opened({ commandTimeoutMs: 60_000 });
    const sends = Array.from({ length: 20 }, (_, k) => client.send(`m${k}`, "bob").catch(() => {}));
    const serials = net.last.commands.filter((f) => f.cmd === "direct").map((f) => f.i);
    expect(new Set(serials).size).toBe(20);
    void sends;
  });

  it("[SERIAL-MATCH-1] matches replies by i, not by arrival order", async () => {
    net.responder = happyServer({ direct: () => undefined });
    const client = await opened();
    const a = client.send("a", "bob");
    const b = client.send("b", "bob");
    const [fa, fb] = net.last.commands.filter((f) => f.cmd === "direct") as [Json, Json];
    net.last.push({ cmd: "ack", peerId: "alice", i: fb.i, uid: "second", t: 2 });
    net.last.push({ cmd: "ack", peerId: "alice", i: fa.i, uid: "first", t: 1 });
    expect(await a).toEqual({ id: "first", t: 1 });
    expect(await b).toEqual({ id: "second", t: 2 });
  });

  it("[SERIAL-MATCH-2] matches each {} to its oldest keepalive still awaiting a reply", async () => {
    net.responder = happyServer({ keepalive: () => undefined });
    const client = await opened({ keepaliveIntervalMs: 10_000, deadConnectionMs: 25_000 });
    const s = net.last;
    await vi.advanceTimersByTimeAsync(20_000); // two keepalives, 10 s apart, both unanswered
    expect(s.frames.filter(isKeepalive)).toHaveLength(2);
    s.push({}); // answers the first only: the second still awaits its {}
    await vi.advanceTimersByTimeAsync(24_999);
    expect(client.state).toBe("open");
    await vi.advanceTimersByTimeAsync(1); // 25 s of silence with a keepalive unanswered
    expect(client.state).toBe("reconnecting");
  });

  it("[SERIAL-MATCH-2] keeps the connection once every keepalive has its {}", async () => {
    net.responder = happyServer({ keepalive: () => undefined });
    const client = await opened({ keepaliveIntervalMs: 10_000, deadConnectionMs: 25_000 });
    const s = net.last;
    await vi.advanceTimersByTimeAsync(20_000);
    s.push({});
    s.push({});
    net.responder = happyServer();
    await vi.advanceTimersByTimeAsync(200_000);
    expect(client.state).toBe("open");
    expect(net.sockets).toHaveLength(1);
  });
});

describe("command timeout", () => {
  it("[TIMEOUT-CLIENT-1] gives up on a reply after 10 seconds and reports the outcome as unknown", async () => {
    net.responder = happyServer({ direct: () => undefined });
    const client = await opened();
    let settled: unknown;
    client.send("hi", "bob").then(
      (v) => {
        settled = v;
      },
      (e) => {
        settled = e;
      },
    );
    await vi.advanceTimersByTimeAsync(9_999);
    expect(settled).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toBeInstanceOf(TimeoutError);
    expect(settled).toMatchObject({
      mayHaveBeenDelivered: true,
      command: "direct",
      timeoutMs: 10_000,
    });
    // An unknown outcome is not a failure of the connection: it stays open.
    expect(client.state).toBe("open");
  });
});

describe("reconnect", () => {
  /** Drops the open connection, then refuses every new one. */
  function refuseFromNowOn(): void {
    net.connect = (s: FakeSocket) => s.refuse();
  }

  it("[SESSION-RECONNECT-1] waits a random delay that grows exponentially with each failed attempt", async () => {
    const client = await opened({
      random: () => 0.5,
      reconnect: { initialDelayMs: 1000, maxDelayMs: 8000 },
    });
    const delays: number[] = [];
    client.on("schedule", ({ attempt, delayMs }) => void delays.push(attempt, delayMs));
    refuseFromNowOn();
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(delays.slice(0, 12)).toEqual([0, 500, 1, 1000, 2, 2000, 3, 4000, 4, 4000, 5, 4000]);
  });

  it("[SESSION-RECONNECT-1] draws the delay at random by default, so clients dropped together spread out", async () => {
    const a = await opened({ url: "ws://a.test/" });
    const b = await opened({ url: "ws://b.test/" });
    const waits: number[] = [];
    for (const c of [a, b]) c.on("schedule", ({ delayMs }) => void waits.push(delayMs));
    for (const s of net.sockets.slice(-2)) s.drop(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(waits).toHaveLength(2);
    expect(waits[0]).not.toBe(waits[1]);
  });

  it("[FLOOD-CLIENT-1] waits at least 10 seconds before reconnecting after a close with 4116", async () => {
    const client = await opened({ random: () => 0 });
    const log = record(client, ["schedule"]);
    net.last.drop(4116, "MESSAGE_SENT_QUOTA_EXCEEDED");
    await vi.advanceTimersByTimeAsync(9_999);
    expect(net.sockets).toHaveLength(1);
    expect(log).toEqual([{ schedule: { attempt: 0, delayMs: 10_000 } }]);
    await vi.advanceTimersByTimeAsync(1);
    expect(net.sockets).toHaveLength(2);
    expect(client.state).toBe("open");
  });

  for (const code of [4100, 4110, 4115]) {
    it(`[ERROR-CLIENT-3] does not reconnect after close code ${code}`, async () => {
      const client = await opened();
      const log = record(client, ["disconnect", "close", "schedule"]);
      net.last.drop(code, "bye");
      await vi.advanceTimersByTimeAsync(120_000);
      expect(net.sockets).toHaveLength(1);
      expect(client.state).toBe("closed");
      expect(log).toEqual([
        { disconnect: { code, reason: "bye" } },
        { close: { code, reason: "bye" } },
      ]);
    });
  }

  it("[ERROR-CLIENT-3] does not retry a reconnect attempt that the server closes with 4100", async () => {
    const client = await opened({ random: () => 0 });
    net.responder = happyServer({
      "session/open": (_f, s) => void queueMicrotask(() => s.drop(4100)),
    });
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(net.sockets).toHaveLength(2);
    expect(client.state).toBe("closed");
  });

  for (const code of [4999, 3000, 1011, 4120]) {
    it(`[ERROR-CLIENT-2] treats the close code ${code}, which it does not act on, as the end of the connection`, async () => {
      const client = await opened({ random: () => 0 });
      const log = record(client, ["disconnect", "reconnect"]);
      net.last.drop(code, "?");
      expect(client.state).toBe("reconnecting");
      await vi.advanceTimersByTimeAsync(0);
      expect(net.sockets).toHaveLength(2);
      expect(client.state).toBe("open");
      expect(log).toEqual([{ disconnect: { code, reason: "?" } }, "reconnect"]);
    });
  }

  it("gives up after maxAttempts failed attempts and closes", async () => {
    const client = await opened({ random: () => 0, reconnect: { maxAttempts: 3 } });
    const log = record(client, ["retry", "close"]);
    refuseFromNowOn();
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(client.state).toBe("closed");
    expect(log).toEqual([
      { retry: { attempt: 0 } },
      { retry: { attempt: 1 } },
      { retry: { attempt: 2 } },
      { close: expect.objectContaining({ code: 1006 }) },
    ]);
  });

  it("does not reconnect with reconnect: false", async () => {
    const client = await opened({ reconnect: false });
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(client.state).toBe("closed");
    expect(net.sockets).toHaveLength(1);
  });

  it("pauses while the page is offline and retries at once when it comes back online", async () => {
    const network = new EventTarget();
    const client = await opened({ network, random: () => 0.99 });
    const log = record(client, [
      "network:offline",
      "network:online",
      "schedule",
      "retry",
      "reconnect",
    ]);
    network.dispatchEvent(new Event("offline"));
    refuseFromNowOn();
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(net.sockets).toHaveLength(1); // no attempt while offline
    net.connect = (s) => s.accept();
    network.dispatchEvent(new Event("online"));
    await vi.advanceTimersByTimeAsync(0);
    expect(net.sockets).toHaveLength(2);
    expect(client.state).toBe("open");
    expect(log).toEqual([
      "network:offline",
      "network:online",
      { retry: { attempt: 0 } },
      "reconnect",
    ]);
  });

  it("stops listening to the network once closed", async () => {
    const network = new EventTarget();
    const client = await opened({ network });
    const log = record(client, ["network:online"]);
    await client.close();
    network.dispatchEvent(new Event("online"));
    expect(log).toEqual([]);
  });
});

describe("signing hooks", () => {
  it("fails an attempt whose auth hook does not answer in time, and asks the hook again at the next one", async () => {
    let calls = 0;
    const client = make({
      random: () => 0,
      auth: () => {
        calls++;
        // The signing server hangs the first time after the reconnect, then answers.
        return calls === 2
          ? new Promise(() => {})
          : Promise.resolve({ s: "sig", t: 1, n: `n${calls}` });
      },
    });
    const p = client.open();
    await vi.advanceTimersByTimeAsync(0);
    await p;
    const errors = record(client, ["error", "reconnect"]);
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(errors).toMatchObject([
      { error: { name: "TimeoutError", command: "auth", mayHaveBeenDelivered: false } },
    ]);
    await vi.advanceTimersByTimeAsync(2_000);
    expect(calls).toBe(3);
    expect(client.state).toBe("open");
    expect(errors.at(-1)).toBe("reconnect");
    expect(net.last.commands[0]).toMatchObject({ op: "open", s: "sig", n: "n3" });
  });
});

describe("sends at a disconnect", () => {
  it("rejects a send written before the connection dropped with mayHaveBeenDelivered: true", async () => {
    net.responder = happyServer({ direct: () => undefined });
    const client = await opened();
    const p = client.send("hi", "bob");
    net.last.drop(1006);
    await expect(p).rejects.toBeInstanceOf(ConnectionClosedError);
    await expect(p).rejects.toMatchObject({ mayHaveBeenDelivered: true, command: "direct" });
  });

  it("rejects a send made while disconnected with mayHaveBeenDelivered: false when no queue is set", async () => {
    const client = await opened({ random: () => 0.99 });
    net.connect = () => {};
    net.last.drop(1006);
    const p = client.send("hi", "bob");
    await expect(p).rejects.toMatchObject({
      name: "ConnectionClosedError",
      mayHaveBeenDelivered: false,
    });
  });

  it("queues sends made while disconnected, sends them after the reconnect, and refuses beyond the bound", async () => {
    const client = await opened({ random: () => 0.5, offlineQueue: { max: 2 } });
    net.connect = () => {};
    net.last.drop(1006);
    const a = client.send("a", "bob");
    const b = client.send("b", "bob");
    await expect(client.send("c", "bob")).rejects.toBeInstanceOf(QueueFullError);
    net.connect = (s) => s.accept();
    net.last.drop(1006); // the pending attempt fails; the next one succeeds
    await vi.advanceTimersByTimeAsync(5_000);
    expect(client.state).toBe("open");
    await expect(a).resolves.toMatchObject({ id: expect.any(String) });
    await expect(b).resolves.toMatchObject({ id: expect.any(String) });
    const sent = net.last.commands.filter((f) => f.cmd === "direct").map((f) => f.msg);
    expect(sent).toEqual(["a", "b"]);
  });

  it("rejects queued sends with mayHaveBeenDelivered: false when the client closes", async () => {
    const client = await opened({ offlineQueue: { max: 5 } });
    net.connect = () => {};
    net.last.drop(1006);
    const p = client.send("a", "bob");
    await client.close();
    await expect(p).rejects.toMatchObject({
      name: "ConnectionClosedError",
      mayHaveBeenDelivered: false,
    });
  });
});

describe("router", () => {
  function router(answers: Json[]) {
    const calls: string[] = [];
    const fetch = async (url: string) => {
      calls.push(url);
      const body = answers[Math.min(calls.length - 1, answers.length - 1)];
      return { ok: true, status: 200, json: async () => body };
    };
    return { fetch, calls };
  }

  it("[ROUTER-TTL-1] uses a router answer for no longer than its ttl", async () => {
    let now = 1_000_000;
    const r = router([{ server: "ws://one.test/", ttl: 60 }]);
    const client = await opened({
      url: undefined,
      router: "http://router.test",
      fetch: r.fetch,
      now: () => now,
      random: () => 0,
    });
    expect(r.calls).toEqual(["http://router.test/v1/route?appId=app1"]);
    now += 59_000;
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe("open");
    expect(r.calls).toHaveLength(1); // within the ttl: the cached answer
    now += 1_000;
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(client.state).toBe("open");
    expect(r.calls).toHaveLength(2); // the ttl is over: asked again
  });

  it("[ROUTER-SECONDARY-2] connects to secondary when the connection to server fails", async () => {
    const r = router([{ server: "ws://down.test/", secondary: "ws://up.test/", ttl: 60 }]);
    net.connect = (s) => (s.url === "ws://down.test/" ? s.refuse() : s.accept());
    const client = await opened({ url: undefined, router: "http://router.test", fetch: r.fetch });
    expect(client.state).toBe("open");
    expect(net.sockets.map((s) => s.url)).toEqual(["ws://down.test/", "ws://up.test/"]);
  });

  it("[ROUTER-DIRECT-1] skips the router and connects to the WebSocket URL it was configured with", async () => {
    const r = router([{ server: "ws://elsewhere.test/", ttl: 60 }]);
    const client = await opened({ url: "ws://direct.test/", fetch: r.fetch });
    expect(client.state).toBe("open");
    expect(r.calls).toEqual([]);
    expect(net.last.url).toBe("ws://direct.test/");
  });

  it("asks the router again after its URL failed, even within the ttl", async () => {
    const r = router([
      { server: "ws://old.test/", ttl: 3600 },
      { server: "ws://new.test/", ttl: 3600 },
    ]);
    const client = await opened({
      url: undefined,
      router: "http://router.test",
      fetch: r.fetch,
      random: () => 0,
    });
    net.connect = (s) => (s.url === "ws://old.test/" ? s.refuse() : s.accept());
    net.last.drop(1006);
    await vi.advanceTimersByTimeAsync(10);
    expect(client.state).toBe("open");
    expect(net.last.url).toBe("ws://new.test/");
  });
});

describe("close", () => {
  it("closes the session, then the socket, and rejects commands in flight", async () => {
    net.responder = happyServer({ direct: () => undefined });
    const client = await opened();
    const log = record(client, ["state", "close"]);
    const p = client.send("hi", "bob").catch((e: unknown) => e);
    const closing = client.close();
    await vi.advanceTimersByTimeAsync(0);
    await closing;
    expect(net.last.commands.at(-1)).toMatchObject({ cmd: "session", op: "close" });
    expect(net.last.closedBy).toEqual({ code: 1000, reason: "closed by the client" });
    expect(await p).toMatchObject({ name: "ConnectionClosedError", mayHaveBeenDelivered: true });
    expect(log).toEqual([
      { state: { from: "open", to: "closed" } },
      { close: { code: 1000, reason: "closed by the client" } },
    ]);
    await expect(client.send("x", "bob")).rejects.toBeInstanceOf(ConnectionClosedError);
  });

  it("waits at most a second for session/closed", async () => {
    net.responder = happyServer({ "session/close": () => undefined });
    const client = await opened();
    let done = false;
    void client.close().then(() => {
      done = true;
    });
    await vi.advanceTimersByTimeAsync(999);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(done).toBe(true);
    expect(client.state).toBe("closed");
  });
});
