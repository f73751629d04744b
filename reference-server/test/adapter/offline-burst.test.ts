/**
 * The offline burst over real sockets (spec/03-messages.md 3.7, OFFLINE-BURST-1): while
 * another connection keeps sending to the peer, the frames a session gets after its
 * `session/opened` are first every pending message, then everything else, with the
 * replies to the commands pipelined behind the open after the burst.
 */
import { connect, type WireClient } from "@confab/test-support";
import { afterEach, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";

let server: RunningServer | undefined;
const clients: WireClient<Record<string, unknown>>[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.disconnect();
  await server?.close();
  server = undefined;
});

async function client(url: string): Promise<WireClient<Record<string, unknown>>> {
  const c = await connect<Record<string, unknown>>(url);
  clients.push(c);
  return c;
}

const cmd = (peerId: string, fields: Record<string, unknown>) =>
  JSON.stringify({ appId: "app1", peerId, ...fields });

describe("the offline burst on the wire (3.7)", () => {
  it("[OFFLINE-BURST-1] delivers the burst right after the opened reply while live messages and pipelined commands arrive", async () => {
    server = await startServer({ port: 0 });
    const alice = await client(server.wsUrl);
    alice.sendText(cmd("alice", { cmd: "session", op: "open", sessionPeerIds: [] }));
    await alice.next();
    const send = (n: number) => {
      for (let k = 0; k < n; k++) {
        alice.sendText(cmd("alice", { cmd: "direct", msg: `m${k}`, toPeerIds: ["bob"] }));
      }
    };
    send(10);
    for (let k = 0; k < 10; k++) expect(await alice.next()).toMatchObject({ cmd: "ack" });

    const bob = await client(server.wsUrl);
    // Both at once: alice keeps sending while bob opens and pipelines a keepalive and a query.
    send(30);
    bob.sendText(cmd("bob", { cmd: "session", op: "open", sessionPeerIds: ["alice"] }));
    bob.sendText("{}");
    bob.sendText(cmd("bob", { cmd: "session", op: "query", sessionPeerIds: ["alice"], i: 7 }));
    for (let k = 0; k < 30; k++) expect(await alice.next()).toMatchObject({ cmd: "ack" });
    await bob.quiet(300);

    const frames = bob.received;
    const opened = frames.findIndex((f) => f.cmd === "session" && f.op === "opened");
    expect(opened).toBe(0);
    let end = opened + 1;
    while (frames[end]?.cmd === "direct" && frames[end]?.offline === true) end++;
    const burst = frames.slice(opened + 1, end);
    const after = frames.slice(end);
    // At least the ten messages sent before bob connected; nothing offline after the burst.
    expect(burst.length).toBeGreaterThanOrEqual(10);
    expect(after.filter((f) => f.offline === true)).toEqual([]);
    // The pipelined keepalive and query are answered after the burst, in order.
    const keepalive = after.findIndex((f) => f.cmd === undefined);
    const query = after.findIndex((f) => f.op === "query-result");
    expect(keepalive).toBeGreaterThanOrEqual(0);
    expect(query).toBeGreaterThan(keepalive);
    // Every message reached bob, in the burst or live after it.
    const ids = new Set(frames.filter((f) => f.cmd === "direct").map((f) => f.id));
    expect(ids.size).toBe(40);
  });
});
