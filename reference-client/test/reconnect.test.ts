// A reconnect over real sockets: the reference server is killed with SIGKILL in the middle
// of a conversation and restarted on the same database and port. No message whose send was
// acknowledged is lost, none is shown twice, and the sends made while the server was down
// end as the app asked: rejected (never sent) or queued and sent after the reconnect.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ConfabClient, ConnectionClosedError, type Message } from "@confab/client";
import { afterAll, describe, expect, it } from "vitest";
import { Clients, sleep, until } from "./support/helpers.js";
import { recordingWebSocket, ServerProcess, type WireFrame } from "./support/server-process.js";

const clients = new Clients();
let server: ServerProcess | undefined;
let configDir: string | undefined;

afterAll(async () => {
  await clients.closeAll();
  await server?.stop();
  if (configDir !== undefined) rmSync(configDir, { recursive: true, force: true });
});

const reconnect = { initialDelayMs: 50, maxDelayMs: 400 };

function opened(client: ConfabClient): Promise<void> {
  return until(() => client.state === "open", 10_000, `${client.peerId} open again`);
}

describe("reconnect across a server crash", () => {
  it("[SESSION-RECONNECT-2] [OFFLINE-DEDUP-1] loses no acked message, shows none twice, and ends sends made while down as the app asked", async () => {
    // Above the spec's 50 per peer: bob holds hold-1 and hold-2 unacked while up to 110 more
    // messages of the burst are pending for him. When the server read the whole burst in one
    // turn before bob acked any of it, the limit evicted the two oldest, the held ones, and
    // the redelivery this test checks never came (seen once in CI under load).
    configDir = mkdtempSync(join(tmpdir(), "confab-reconnect-"));
    const config = join(configDir, "config.json");
    writeFileSync(config, JSON.stringify({ limits: { maxOfflinePerPeer: 1000 } }));
    server = await ServerProcess.start({ stablePort: true, args: ["--config", config] });
    const url = server.wsUrl;
    const bobWire: WireFrame[] = [];
    const bob = clients.make({
      url,
      peerId: "bob",
      watchPeerIds: ["alice"],
      reconnect,
      WebSocket: recordingWebSocket(bobWire),
    });
    const alice = clients.make({
      url,
      peerId: "alice",
      watchPeerIds: ["bob"],
      reconnect,
      commandTimeoutMs: 5000,
    });
    // Alice's second device queues what it sends while disconnected.
    const tablet = clients.make({ url, peerId: "alice", reconnect, offlineQueue: { max: 10 } });

    // Bob handles "hold" messages durably only later: they are not acknowledged before the
    // crash, so the server delivers them again after it, and the client must not show them again.
    const handed: Message[] = [];
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    bob.on("message", (m) => {
      handed.push(m);
      return m.msg.startsWith("hold") ? held : undefined;
    });
    await Promise.all([bob.open(), alice.open(), tablet.open()]);

    const acked = new Map<string, string>(); // id → text
    for (const text of ["hold-1", "hold-2"]) acked.set((await alice.send(text, "bob")).id, text);
    await until(() => handed.length === 2, 3000, "bob has the held messages");

    // A burst in flight at the moment of the crash: the kill comes with its third ack.
    const unknown: string[] = [];
    const crashed = server;
    let killing: Promise<void> | undefined;
    let burstAcks = 0;
    const late: Promise<void>[] = [];
    const sendOne = (text: string): Promise<void> =>
      alice.send(text, "bob").then(
        (r) => {
          acked.set(r.id, text);
          if (++burstAcks === 3) {
            killing = crashed.kill();
            // SIGKILL is on its way, and these are written while alice's socket still looks
            // open: sends in flight at the crash, whatever the server had already answered
            // of the burst (with group commit it may ack all 100 in one write).
            for (let k = 0; k < 10; k++) late.push(sendOne(`late-${k}`));
          }
        },
        (err: unknown) => {
          // Written but not acknowledged: the outcome is unknown, not failed.
          expect(err).toBeInstanceOf(ConnectionClosedError);
          expect((err as ConnectionClosedError).mayHaveBeenDelivered).toBe(true);
          unknown.push(text);
        },
      );
    const burst = Array.from({ length: 100 }, (_, k) => sendOne(`burst-${k}`));
    await Promise.all(burst);
    await Promise.all(late);
    await killing;
    expect(burstAcks).toBeGreaterThanOrEqual(3);
    expect(unknown.length).toBeGreaterThan(0); // sends were in flight at the crash
    await until(
      () => [alice, bob, tablet].every((c) => c.state === "reconnecting"),
      5000,
      "every client reconnecting",
    );

    // While the server is down: a send without a queue is rejected and was never sent; a
    // send with a queue waits; bob finishes handling the held messages.
    const refused = await alice.send("while-down", "bob").catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConnectionClosedError);
    expect(refused).toMatchObject({ mayHaveBeenDelivered: false });
    const queued = ["queued-1", "queued-2"].map((text) =>
      tablet.send(text, "bob").then((r) => {
        acked.set(r.id, text);
        return r;
      }),
    );
    release();
    await sleep(100);

    await server.restart();
    await Promise.all([alice, bob, tablet].map(opened));
    await Promise.all(queued);

    // Every acknowledged message reaches bob, exactly once.
    await until(
      () => [...acked.keys()].every((id) => handed.some((m) => m.id === id)),
      10_000,
      "every acked message at bob",
    );
    await bob.getStatus(["alice"]);
    await sleep(200); // room for a duplicate to show, if the client let one through
    const ids = handed.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const texts = handed.map((m) => m.msg);
    expect(new Set(texts).size).toBe(texts.length);
    for (const [id, text] of acked) expect(handed.find((m) => m.id === id)?.msg).toBe(text);
    expect(texts).not.toContain("while-down");
    // Messages of unknown outcome arrived at most once (or not at all).
    for (const text of unknown)
      expect(texts.filter((t) => t === text).length).toBeLessThanOrEqual(1);

    // The test did exercise deduplication: the server delivered a held message a second
    // time, from the offline store, after the restart.
    const deliveries = bobWire
      .filter((f) => f.direction === "s2c")
      .map((f) => JSON.parse(f.text) as Record<string, unknown>)
      .filter((f) => f.cmd === "direct" && typeof f.msg === "string" && f.msg.startsWith("hold"));
    expect(deliveries.length).toBeGreaterThan(2);
    expect(deliveries.some((f) => f.offline === true)).toBe(true);

    // Bob opened his session again with his watch list.
    const opens = bobWire
      .filter((f) => f.direction === "c2s")
      .map((f) => JSON.parse(f.text) as Record<string, unknown>)
      .filter((f) => f.cmd === "session" && f.op === "open");
    expect(opens.length).toBeGreaterThanOrEqual(2);
    for (const f of opens) expect(f.sessionPeerIds).toEqual(["alice"]);

    // After the restart the conversation goes on, and presence with it.
    const next = await alice.send("after", "bob");
    await until(() => handed.some((m) => m.id === next.id), 3000, "a message after the restart");
    expect(alice.onlinePeerIds).toEqual(["bob"]);
  }, 30_000);
});
