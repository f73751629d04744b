// What an ack promises, proven with a real process: ack received → kill -9 → restart → the
// message is still delivered and in history (ACK-DURABLE-1, ACK-PROMISE-1). A graceful
// restart keeps offline messages, history and groups.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connect, disconnect, type WireClient } from "@confab/test-support";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../adapter/helpers.js";
import { runCli } from "../support/cli-process.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const cli = join(root, "reference-server/dist/src/cli.js");
const APP = "durable";

let tmp: string;
const procs: ReturnType<typeof runCli>[] = [];
const clients: WireClient[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "confab-crash-"));
});
afterEach(async () => {
  for (const c of clients.splice(0)) await disconnect(c);
  for (const p of procs.splice(0)) if (p.child.exitCode === null) p.child.kill("SIGKILL");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Starts the CLI on a SQLite file; resolves with its ws URL. */
async function start(db: string) {
  const p = runCli(cli, ["--port", "0", "--host", "127.0.0.1", "--db", db], { cwd: tmp });
  procs.push(p);
  const listening = await p.waitFor("listening");
  return { p, wsUrl: String(listening.wsUrl), url: String(listening.url) };
}

async function client(wsUrl: string): Promise<WireClient> {
  const c = await connect(wsUrl, "confab.v1");
  clients.push(c);
  return c;
}

const frames = (c: WireClient) => c.received as Record<string, unknown>[];
const send = (c: WireClient, frame: Record<string, unknown>) =>
  c.ws.send(JSON.stringify({ appId: APP, ...frame }));

/** Sends a command with `i` and waits for the frame echoing it. */
async function call(c: WireClient, frame: Record<string, unknown>, i: number) {
  send(c, { ...frame, i });
  await waitFor(() => frames(c).some((f) => f.i === i));
  const reply = frames(c).find((f) => f.i === i) as Record<string, unknown>;
  expect(reply.cmd, JSON.stringify(reply)).not.toBe("error");
  return reply;
}

describe("durability of acknowledged messages", () => {
  it("[ACK-DURABLE-1, ACK-PROMISE-1, OFFLINE-PENDING-1] delivers and lists every acked message after kill -9 and restart", async () => {
    const db = join(tmp, "crash.db");
    const first = await start(db);
    const alice = await client(first.wsUrl);
    await call(alice, { cmd: "session", op: "open", peerId: "alice" }, 1);
    const room = await call(alice, { cmd: "room", op: "join", peerId: "alice" }, 2);
    const roomId = room.roomId as string;
    await call(
      alice,
      { cmd: "room", op: "invite", peerId: "alice", roomId, roomPeerIds: ["bob"] },
      3,
    );

    // 45 messages to bob (offline), under the offline limit of 50, pipelined; the process
    // is killed the moment the 20th ack arrives, with the rest still in flight.
    const sent = 45;
    const acked: string[] = [];
    const killed = new Promise<void>((resolve) => {
      alice.ws.on("message", (data) => {
        const f = JSON.parse(String(data)) as Record<string, unknown>;
        if (f.cmd === "ack" && typeof f.uid === "string") {
          acked.push(f.uid);
          if (acked.length === 20) {
            first.p.child.kill("SIGKILL");
            resolve();
          }
        }
      });
    });
    for (let k = 0; k < sent; k++) {
      const target = k % 9 === 8 ? { roomId } : { toPeerIds: ["bob"] };
      send(alice, { cmd: "direct", peerId: "alice", msg: `m${k}`, i: 100 + k, ...target });
    }
    await killed;
    const ackedNow = [...acked]; // acks that raced the kill are acked too, and count
    await first.p.exited;

    const second = await start(db);
    const bob = await client(second.wsUrl);
    await call(bob, { cmd: "session", op: "open", peerId: "bob" }, 1);
    await waitFor(() => frames(bob).filter((f) => f.cmd === "direct").length >= ackedNow.length);
    const delivered = frames(bob).filter((f) => f.cmd === "direct");
    const ids = delivered.map((f) => f.id);
    for (const uid of ackedNow) expect(ids).toContain(uid);
    for (const f of delivered) {
      expect(f.offline).toBe(true);
      expect(String(f.msg)).toMatch(/^m\d+$/); // nothing that was not sent
    }

    // History has them too, in the one-to-one conversation and in the group.
    const a2 = await client(second.wsUrl);
    await call(a2, { cmd: "session", op: "open", peerId: "alice" }, 1);
    const { conversationId } = await import("@confab/protocol");
    const cid = conversationId(["alice", "bob"]);
    const peerLogs = (await call(a2, { cmd: "logs", peerId: "alice", cid, limit: 1000 }, 2))
      .logs as Record<string, unknown>[];
    const roomLogs = (await call(a2, { cmd: "logs", peerId: "alice", cid: roomId, limit: 1000 }, 3))
      .logs as Record<string, unknown>[];
    const inHistory = new Set([...peerLogs, ...roomLogs].map((l) => l["msg-id"]));
    for (const uid of ackedNow) expect(inHistory.has(uid)).toBe(true);
  }, 30_000);

  it("[ACK-PROMISE-1, ROOM-DURABLE-1] keeps offline messages, history and groups across a graceful restart", async () => {
    const db = join(tmp, "graceful.db");
    const first = await start(db);
    const alice = await client(first.wsUrl);
    await call(alice, { cmd: "session", op: "open", peerId: "alice" }, 1);
    const roomId = (await call(alice, { cmd: "room", op: "join", peerId: "alice" }, 2))
      .roomId as string;
    await call(
      alice,
      { cmd: "room", op: "invite", peerId: "alice", roomId, roomPeerIds: ["carol"] },
      3,
    );
    const ack = await call(
      alice,
      { cmd: "direct", peerId: "alice", msg: "before restart", toPeerIds: ["carol"] },
      4,
    );
    first.p.child.kill("SIGTERM");
    expect(await first.p.exited).toBe(0);
    expect(await alice.closed).toMatchObject({ code: 1001 });

    const second = await start(db);
    const carol = await client(second.wsUrl);
    await call(carol, { cmd: "session", op: "open", peerId: "carol" }, 1);
    await waitFor(() => frames(carol).some((f) => f.cmd === "direct"));
    expect(frames(carol).find((f) => f.cmd === "direct")).toMatchObject({
      id: ack.uid,
      offline: true,
    });
    // carol is still a member: she may send to the group and read its history.
    await call(carol, { cmd: "direct", peerId: "carol", msg: "after restart", roomId }, 2);
    const logs = (await call(carol, { cmd: "logs", peerId: "carol", cid: roomId }, 3))
      .logs as Record<string, unknown>[];
    expect(logs.map((l) => l.data)).toEqual(["after restart"]);
  }, 30_000);
});
