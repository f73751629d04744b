// The deliberately broken servers of reference-server/broken, which the conformance kit's
// self-test runs against: each must break the one requirement its manifest entry names, so
// that a kit that passes one has missed that requirement. Here every entry is started as a
// real process (`node reference-server/broken/serve.mjs NAME …`) and its break is shown on
// the wire in a few frames, where the reference would do otherwise. The titles name the
// requirements without brackets on purpose: these tests exercise broken servers, so they
// cover nothing of the reference server for the traceability test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { conversationId, ERRORS } from "@confab/protocol";
import { connect, sessionSignature, type WireClient } from "@confab/test-support";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { httpRequest, sleep, waitFor } from "../adapter/helpers.js";
import { runCli } from "../support/cli-process.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const serve = join(root, "reference-server/broken/serve.mjs");
/** The reference CLI, which every demonstration must fail against. */
const referenceCli = join(root, "reference-server/dist/src/cli.js");

/** One entry of reference-server/broken/manifest.json. */
interface Entry {
  readonly name: string;
  readonly requirement: string;
  readonly stateful: boolean;
  readonly description: string;
}

/** One requirement of spec/requirements.json, the fields used here. */
interface Requirement {
  readonly id: string;
  readonly level: string;
  readonly target: string;
  readonly chapter: string;
}

const manifest = JSON.parse(
  readFileSync(join(root, "reference-server/broken/manifest.json"), "utf8"),
) as Entry[];
const requirements = JSON.parse(
  readFileSync(join(root, "spec/requirements.json"), "utf8"),
) as Requirement[];

/** A frame as received or sent: plain JSON. */
type Frame = Record<string, unknown>;

/** The app of the tests that need no signatures (development mode serves any app id). */
const APP = "demo";
/** The app that enforces signatures, with the test master key. */
const SIGNED = "signed";
const SIGNED_ARGS = ["--app", `${SIGNED}:masterkey`];
/** How long to watch for a frame that must not come. */
const QUIET_MS = 400;

let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "confab-broken-"));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A running broken server. */
interface Server {
  readonly wsUrl: string;
  readonly url: string;
  readonly proc: ReturnType<typeof runCli>;
}

/** A connection of a test, with its own serial counter. */
class Conn {
  private serial = 0;
  constructor(
    readonly client: WireClient<Frame>,
    readonly appId: string,
    /** How long to wait for a frame that should come. */
    readonly waitMs: number,
  ) {}

  /** Every frame received so far. */
  get frames(): Frame[] {
    return this.client.received;
  }

  /** Sends a frame as JSON, with `appId` unless the frame has one. */
  send(frame: Frame): void {
    this.client.ws.send(JSON.stringify({ appId: this.appId, ...frame }));
  }

  /** Sends a command with a fresh `i` and resolves with the first frame carrying it. */
  async call(frame: Frame): Promise<Frame> {
    const i = ++this.serial;
    this.send({ ...frame, i });
    return this.until((f) => f.i === i, `with i ${i} for ${JSON.stringify(frame).slice(0, 200)}`);
  }

  /** Sends a command with a fresh `i` and checks that the reply is not an error. */
  async ok(frame: Frame): Promise<Frame> {
    const reply = await this.call(frame);
    expect(reply.cmd, JSON.stringify(reply)).not.toBe("error");
    return reply;
  }

  /** Opens a session of `peerId` on this connection. */
  open(peerId: string, extra: Frame = {}): Promise<Frame> {
    return this.ok({ cmd: "session", op: "open", peerId, sessionPeerIds: [], ...extra });
  }

  /** Resolves with the first received frame matching `pred`, waiting for it if need be. */
  async until(pred: (f: Frame) => boolean, what: string, ms = this.waitMs): Promise<Frame> {
    try {
      await waitFor(() => this.frames.some(pred), ms);
    } catch {
      throw new Error(`no frame ${what} within ${ms} ms; got ${JSON.stringify(this.frames)}`);
    }
    return this.frames.find(pred) as Frame;
  }

  /** Waits until `n` received frames match `pred`, and returns them. */
  async count(pred: (f: Frame) => boolean, n: number, what: string): Promise<Frame[]> {
    try {
      await waitFor(() => this.frames.filter(pred).length >= n, this.waitMs);
    } catch {
      throw new Error(`fewer than ${n} frames ${what}; got ${JSON.stringify(this.frames)}`);
    }
    return this.frames.filter(pred);
  }

  /** Waits {@link QUIET_MS} and returns the frames matching `pred` received by then. */
  async after(pred: (f: Frame) => boolean): Promise<Frame[]> {
    await sleep(QUIET_MS);
    return this.frames.filter(pred);
  }

  /** Resolves with the close code once the server has closed the connection. */
  async closed(): Promise<number> {
    try {
      await waitFor(() => this.client.closeInfo !== undefined, this.waitMs);
    } catch {
      throw new Error(`not closed within ${this.waitMs} ms; got ${JSON.stringify(this.frames)}`);
    }
    return this.client.closeInfo?.code ?? 0;
  }

  /** Sends a keepalive and waits for its `{}`: every frame before it has been handled. */
  async sync(): Promise<void> {
    const seen = this.frames.filter(isKeepalive).length;
    this.client.sendText("{}");
    await waitFor(() => this.frames.filter(isKeepalive).length > seen);
  }
}

const isKeepalive = (f: Frame) => !Object.hasOwn(f, "cmd");
const isDirect = (f: Frame) => f.cmd === "direct";
const isPresence = (f: Frame) => f.cmd === "presence";
const isError = (f: Frame) => f.cmd === "error";
const cidOf = (...peers: string[]) => conversationId(peers);

/**
 * What one test of a broken server uses: its processes, connections and files. With
 * `reference`, the same test runs against the reference CLI instead (the control: there the
 * demonstration must fail), and waits for frames that should come more briefly.
 */
class Run {
  private readonly procs: ReturnType<typeof runCli>[] = [];
  private readonly clients: WireClient<Frame>[] = [];

  constructor(
    readonly name: string,
    readonly reference = false,
  ) {}

  /** A file path of this test in the temp folder (a database, a config file). */
  file(suffix: string): string {
    return join(tmp, `${this.name}${this.reference ? "-reference" : ""}-${suffix}`);
  }

  /** Starts the broken server with `args` after the defaults; resolves once it listens. */
  async start(args: string[] = []): Promise<Server> {
    const all = ["--port", "0", "--host", "127.0.0.1"];
    if (!args.includes("--db")) all.push("--db", ":memory:");
    const proc = this.reference
      ? runCli(referenceCli, [...all, ...args], { cwd: tmp })
      : runCli(serve, [this.name, ...all, ...args], { cwd: tmp });
    this.procs.push(proc);
    const listening = await proc.waitFor("listening");
    return { wsUrl: String(listening.wsUrl), url: String(listening.url), proc };
  }

  /** Kills a server without warning (`kill -9`) and waits for it to be gone. */
  async kill9(server: Server): Promise<void> {
    server.proc.child.kill("SIGKILL");
    await server.proc.exited;
  }

  /** A connection to `server`, offering the subprotocol, for the app `appId`. */
  async conn(server: Server, appId = APP): Promise<Conn> {
    const client = await connect<Frame>(server.wsUrl, "confab.v1");
    this.clients.push(client);
    return new Conn(client, appId, this.reference ? 1500 : 5000);
  }

  /** A connection with an open session of `peerId`. */
  async peer(server: Server, peerId: string, extra: Frame = {}, appId = APP): Promise<Conn> {
    const c = await this.conn(server, appId);
    await c.open(peerId, extra);
    return c;
  }

  /** Closes every connection and kills every process of the test. */
  async cleanup(): Promise<void> {
    for (const c of this.clients) await c.disconnect();
    for (const p of this.procs) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await Promise.all(this.procs.map((p) => p.exited));
  }
}

/** A `direct` from the connection's peer, as a frame to send. */
const direct = (from: string, to: string[], msg: string, extra: Frame = {}): Frame => ({
  cmd: "direct",
  peerId: from,
  toPeerIds: to,
  msg,
  ...extra,
});

/** A signed `session/open` of `peerId` without watched peers, for the signed app. */
function signedOpen(peerId: string, overrides: { t?: number; n?: string } = {}): Frame {
  const sig = sessionSignature({ appId: SIGNED, peerId, watchPeerIds: [], ...overrides });
  return { cmd: "session", op: "open", peerId, sessionPeerIds: [], ...sig };
}

/** Creates a group of `owner` with `members` invited; resolves with its id. */
async function group(owner: Conn, ownerId: string, members: string[]): Promise<string> {
  const joined = await owner.ok({ cmd: "room", op: "join", peerId: ownerId });
  const roomId = String(joined.roomId);
  if (members.length > 0) {
    await owner.ok({ cmd: "room", op: "invite", peerId: ownerId, roomId, roomPeerIds: members });
  }
  return roomId;
}

/**
 * For each broken server, a demonstration of its break: what a conforming server would
 * not do. Each starts its own server(s) through `run`.
 */
const DEMOS: Record<string, (run: Run) => Promise<void>> = {
  // ---- 01 transport -------------------------------------------------------------------
  "router-json-without-content-type": async (run) => {
    const s = await run.start();
    const res = await httpRequest(`${s.url}/v1/route?appId=${APP}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).server).toMatch(/^ws:\/\//);
    expect(String(res.headers["content-type"])).not.toMatch(/^application\/json/);
  },

  "binary-frame-ignored": async (run) => {
    const c = await run.conn(await run.start());
    c.client.sendBinary(Buffer.from([1, 2, 3]));
    await c.sync(); // answered: the connection was not closed
    expect(c.client.closeInfo).toBeUndefined();
  },

  "oversized-frame-accepted": async (run) => {
    const c = await run.conn(await run.start());
    c.client.sendText(JSON.stringify({ pad: "x".repeat(70_000) })); // a keepalive over 64 KiB
    await c.until(isKeepalive, "{}");
    expect(c.client.closeInfo).toBeUndefined();
  },

  "non-json-answered-not-closed": async (run) => {
    const c = await run.conn(await run.start());
    c.client.sendText("this is not JSON");
    const error = await c.until(isError, "error");
    expect(error.code).toBe(4114);
    await c.sync();
    expect(c.client.isOpen).toBe(true);
  },

  "keepalive-unanswered": async (run) => {
    const c = await run.peer(await run.start(), "alice");
    c.client.sendText("{}");
    await c.ok({ cmd: "session", op: "query", peerId: "alice", sessionPeerIds: [] });
    expect(await c.after(isKeepalive)).toEqual([]);
  },

  "read-timeout-not-enforced": async (run) => {
    const s = await run.start(["--read-timeout", "1000"]);
    const c = await run.conn(s);
    const opened = await c.open("alice");
    const limits = (opened.serverInfo as { limits: Record<string, number> }).limits;
    expect(limits.readTimeoutMs).toBe(1000);
    await sleep(3500); // silent for more than three times the announced read timeout
    expect(c.client.closeInfo).toBeUndefined();
  },

  "login-timeout-not-enforced": async (run) => {
    const s = await run.start(["--login-timeout", "1000"]);
    const c = await run.conn(s);
    await sleep(3500); // no session for more than three times the login timeout
    expect(c.client.closeInfo).toBeUndefined();
    await c.sync();
  },

  "serial-on-events": async (run) => {
    const s = await run.start();
    const bob = await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "hi"));
    const delivery = await bob.until(isDirect, "direct");
    expect(delivery.id).toBe(ack.uid);
    expect(delivery.i).toBe(ack.i); // an event carrying the sender's serial
  },

  "presence-wrong-peerid": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice", { sessionPeerIds: ["bob"] });
    await run.peer(s, "bob");
    const presence = await alice.until(isPresence, "presence");
    expect(presence.sessionPeerIds).toEqual(["bob"]);
    expect(presence.peerId).not.toBe("alice");
  },

  // ---- 02 sessions and presence -------------------------------------------------------
  "presence-off-with-device-left": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice", { sessionPeerIds: ["bob"] });
    const bobPhone = await run.peer(s, "bob");
    await alice.until((f) => isPresence(f) && f.status === "on", "presence on");
    const bobLaptop = await run.peer(s, "bob");
    await bobLaptop.client.disconnect(); // bob's phone stays online
    const off = await alice.until((f) => isPresence(f) && f.status === "off", "presence off");
    expect(off.sessionPeerIds).toEqual(["bob"]);
    expect(bobPhone.client.isOpen).toBe(true);
  },

  "presence-to-unwatched": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice"); // watches nobody
    await run.peer(s, "bob");
    const presence = await alice.until(isPresence, "presence");
    expect(presence).toMatchObject({ status: "on", sessionPeerIds: ["bob"] });
  },

  "opened-wrong-revision": async (run) => {
    const c = await run.conn(await run.start());
    const opened = await c.open("alice");
    expect((opened.serverInfo as { revision: string }).revision).not.toBe("1.1");
  },

  "online-list-omits-self": async (run) => {
    const c = await run.conn(await run.start());
    const opened = await c.open("alice", { sessionPeerIds: ["alice"] });
    expect(opened.onlineSessionPeerIds).toEqual([]); // alice's own session is open
  },

  "watch-add-ignored": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    await alice.ok({ cmd: "session", op: "add", peerId: "alice", sessionPeerIds: ["bob"] });
    await run.peer(s, "bob");
    const query = await alice.ok({
      cmd: "session",
      op: "query",
      peerId: "alice",
      sessionPeerIds: ["bob"],
    });
    expect(query.onlineSessionPeerIds).toEqual(["bob"]); // bob is online
    expect(await alice.after(isPresence)).toEqual([]); // but alice, who watches him, never hears
  },

  // ---- 03 direct messages -------------------------------------------------------------
  "receipt-before-delivery": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "read me", { r: true })); // bob offline
    const rcp = await alice.until((f) => f.cmd === "rcp", "rcp");
    expect(rcp.id).toBe(ack.uid);
  },

  "offline-evicts-newest": async (run) => {
    const config = run.file("config.json");
    writeFileSync(config, JSON.stringify({ limits: { maxOfflinePerPeer: 3 } }));
    const s = await run.start(["--config", config]);
    const alice = await run.peer(s, "alice");
    for (const msg of ["m1", "m2", "m3", "m4"]) await alice.ok(direct("alice", ["bob"], msg));
    const bob = await run.peer(s, "bob");
    await bob.count(isDirect, 3, "from the offline store");
    await bob.sync();
    expect(bob.frames.filter(isDirect).map((f) => f.msg)).toEqual(["m1", "m2", "m3"]);
  },

  "acked-message-lost-on-crash": async (run) => {
    const db = run.file("crash.db");
    const first = await run.start(["--db", db]);
    const alice = await run.peer(first, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "durable?"));
    expect(typeof ack.uid).toBe("string");
    await run.kill9(first); // right after the ack
    const second = await run.start(["--db", db]);
    const bob = await run.peer(second, "bob");
    expect(await bob.after(isDirect)).toEqual([]);
    const alice2 = await run.peer(second, "alice");
    const logs = await alice2.call({ cmd: "logs", peerId: "alice", cid: cidOf("alice", "bob") });
    expect(logs).toMatchObject({ cmd: "error", code: 4401 }); // nothing was ever stored
  },

  "acked-message-replayed": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "once"));
    const bob = await run.peer(s, "bob");
    const delivery = await bob.until(isDirect, "offline direct");
    expect(delivery.id).toBe(ack.uid);
    bob.send({ cmd: "ack", peerId: "bob", ids: [ack.uid] });
    await bob.sync();
    await bob.client.disconnect();
    const again = await run.peer(s, "bob");
    const replay = await again.until(isDirect, "offline direct");
    expect(replay).toMatchObject({ id: ack.uid, offline: true });
  },

  "transient-in-history": async (run) => {
    const s = await run.start();
    await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "typing…", { transient: true }));
    const logs = await alice.ok({ cmd: "logs", peerId: "alice", cid: cidOf("alice", "bob") });
    const ids = (logs.logs as Frame[]).map((l) => l["msg-id"]);
    expect(ids).toContain(ack.uid);
  },

  "live-delivered-twice": async (run) => {
    const s = await run.start();
    const bob = await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "hi"));
    const deliveries = await bob.count(isDirect, 2, "direct");
    expect(deliveries.map((f) => f.id)).toEqual([ack.uid, ack.uid]);
  },

  "per-sender-order-broken": async (run) => {
    const s = await run.start();
    const bob = await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    await Promise.all([
      alice.ok(direct("alice", ["bob"], "first")),
      alice.ok(direct("alice", ["bob"], "second")),
    ]);
    const deliveries = await bob.count(isDirect, 2, "direct");
    expect(deliveries.map((f) => f.msg)).toEqual(["second", "first"]);
  },

  "echo-to-sending-session": async (run) => {
    const alice = await run.peer(await run.start(), "alice", { echo: true });
    const ack = await alice.ok(direct("alice", ["bob"], "mine"));
    const echo = await alice.until(isDirect, "direct");
    expect(echo).toMatchObject({ id: ack.uid, fromPeerId: "alice", peerId: "alice" });
  },

  "live-delivery-marked-offline": async (run) => {
    const s = await run.start();
    const bob = await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "live"));
    const delivery = await bob.until(isDirect, "direct");
    expect(delivery).toMatchObject({ id: ack.uid, offline: true });
  },

  "transient-acked-without-serial": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    alice.send(direct("alice", ["bob"], "typing…", { transient: true })); // no i
    const ack = await alice.until((f) => f.cmd === "ack", "ack");
    expect(ack.i).toBeUndefined();
  },

  "offline-not-delivered-on-reopen": async (run) => {
    const s = await run.start();
    const bob = await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "pending"));
    await bob.until(isDirect, "live direct"); // delivered live, not acknowledged
    await bob.open("bob"); // a re-open must deliver it again
    expect(await bob.after((f) => isDirect(f) && f.offline === true)).toEqual([]);
    const elsewhere = await run.peer(s, "bob"); // a first open still does
    expect(await elsewhere.until(isDirect, "offline direct")).toMatchObject({ id: ack.uid });
  },

  // ---- 04 groups ----------------------------------------------------------------------
  "kicked-member-still-receives": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    const bob = await run.peer(s, "bob");
    const roomId = await group(alice, "alice", ["bob"]);
    const kicked = await alice.ok({
      cmd: "room",
      op: "kick",
      peerId: "alice",
      roomId,
      roomPeerIds: ["bob"],
    });
    expect(kicked.roomPeerIds).toEqual(["bob"]);
    await bob.until((f) => f.cmd === "room" && f.op === "left", "room/left");
    await alice.ok({ cmd: "direct", peerId: "alice", roomId, msg: "after the kick" });
    const delivery = await bob.until(isDirect, "group direct");
    expect(delivery).toMatchObject({ roomId, msg: "after the kick" });
  },

  "left-member-still-receives": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    const bob = await run.peer(s, "bob");
    const roomId = await group(alice, "alice", ["bob"]);
    await bob.ok({ cmd: "room", op: "leave", peerId: "bob", roomId });
    await alice.until((f) => f.op === "members-left", "room/members-left");
    await alice.ok({ cmd: "direct", peerId: "alice", roomId, msg: "after leaving" });
    const delivery = await bob.until(isDirect, "group direct");
    expect(delivery).toMatchObject({ roomId, msg: "after leaving" });
  },

  "group-change-lost-on-crash": async (run) => {
    const db = run.file("groups.db");
    const first = await run.start(["--db", db]);
    const alice = await run.peer(first, "alice");
    const roomId = await group(alice, "alice", ["bob"]);
    const query = { cmd: "room", op: "query", peerId: "alice", roomId };
    expect((await alice.ok(query)).roomPeerIds).toEqual(["alice", "bob"]);
    await alice.ok(direct("alice", ["bob"], "a message, for comparison"));
    await run.kill9(first);
    const second = await run.start(["--db", db]);
    const again = await run.peer(second, "alice");
    expect(await again.call(query)).toMatchObject({ cmd: "error", code: 4404 });
    // The message of the same turn survived: only the group was never committed.
    const logs = await again.ok({ cmd: "logs", peerId: "alice", cid: cidOf("alice", "bob") });
    expect(logs.logs as Frame[]).toHaveLength(1);
  },

  "member-limit-not-enforced": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const roomId = await group(alice, "alice", []);
    const invitees = Array.from({ length: 500 }, (_, k) => `p${k}`);
    const invited = await alice.ok({
      cmd: "room",
      op: "invite",
      peerId: "alice",
      roomId,
      roomPeerIds: invitees,
    });
    expect(invited.roomPeerIds).toHaveLength(500);
    const members = await alice.ok({ cmd: "room", op: "query", peerId: "alice", roomId });
    expect(members.roomPeerIds).toHaveLength(501);
  },

  "members-joined-not-sent": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    const roomId = await group(alice, "alice", []);
    const bob = await run.peer(s, "bob");
    await bob.ok({ cmd: "room", op: "join", peerId: "bob", roomId });
    const members = await alice.ok({ cmd: "room", op: "query", peerId: "alice", roomId });
    expect(members.roomPeerIds).toEqual(["alice", "bob"]);
    expect(await alice.after((f) => f.op === "members-joined")).toEqual([]);
  },

  // ---- 05 history ---------------------------------------------------------------------
  "paging-skips-tied-timestamps": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const cid = cidOf("alice", "bob");
    // Pipelined, so that several are accepted in the same millisecond.
    await Promise.all(
      Array.from({ length: 60 }, (_, k) => alice.ok(direct("alice", ["bob"], `m${k}`))),
    );
    const all = (await alice.ok({ cmd: "logs", peerId: "alice", cid, limit: 1000 }))
      .logs as Frame[];
    const k = all.findIndex((item, j) => all[j + 1]?.timestamp === item.timestamp);
    expect(k, "two messages accepted in the same millisecond").toBeGreaterThanOrEqual(0);
    const [tied, next] = [all[k] as Frame, all[k + 1] as Frame];
    const page = await alice.ok({
      cmd: "logs",
      peerId: "alice",
      cid,
      max_ts: tied.timestamp,
      msgid: tied["msg-id"],
      limit: 1,
    });
    // The next item in order has the same timestamp and a lower id: it must come next.
    expect((page.logs as Frame[]).map((l) => l["msg-id"])).not.toContain(next["msg-id"]);
  },

  "history-limit-ignored": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    for (const msg of ["a", "b", "c"]) await alice.ok(direct("alice", ["bob"], msg));
    const cid = cidOf("alice", "bob");
    const logs = await alice.ok({ cmd: "logs", peerId: "alice", cid, limit: 1 });
    expect(logs.logs as Frame[]).toHaveLength(3);
  },

  "history-more-always": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    await alice.ok(direct("alice", ["bob"], "one small message"));
    const logs = await alice.ok({ cmd: "logs", peerId: "alice", cid: cidOf("alice", "bob") });
    expect(logs.logs as Frame[]).toHaveLength(1);
    expect(logs.more).toBe(true);
  },

  "rest-history-without-master-key": async (run) => {
    const s = await run.start(SIGNED_ARGS);
    const res = await httpRequest(`${s.url}/1.1/rtm/messages/logs?appId=${SIGNED}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual([]);
  },

  "history-readable-by-outsider": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    const ack = await alice.ok(direct("alice", ["bob"], "between us"));
    const carol = await run.peer(s, "carol");
    const logs = await carol.ok({ cmd: "logs", peerId: "carol", cid: cidOf("alice", "bob") });
    expect((logs.logs as Frame[]).map((l) => l["msg-id"])).toEqual([ack.uid]);
  },

  // ---- 06 signatures ------------------------------------------------------------------
  "nonce-forgotten-after-restart": async (run) => {
    const db = run.file("nonces.db");
    const args = ["--db", db, ...SIGNED_ARGS];
    const open = signedOpen("alice");
    const first = await run.start(args);
    await (await run.conn(first, SIGNED)).ok(open);
    // Replayed on the same process: refused, as it must be.
    expect(await (await run.conn(first, SIGNED)).call(open)).toMatchObject({ code: 4102 });
    await run.kill9(first);
    const second = await run.start(args);
    const replay = await (await run.conn(second, SIGNED)).call(open);
    expect(replay).toMatchObject({ cmd: "session", op: "opened" });
  },

  "wrong-hmac-accepted": async (run) => {
    const s = await run.start(SIGNED_ARGS);
    const wrong = await (await run.conn(s, SIGNED)).call({
      ...signedOpen("alice"),
      s: "0".repeat(40),
    });
    expect(wrong).toMatchObject({ cmd: "session", op: "opened" });
    const open = signedOpen("bob");
    const upper = await (await run.conn(s, SIGNED)).call({
      ...open,
      s: String(open.s).toUpperCase(),
    });
    expect(upper).toMatchObject({ cmd: "session", op: "opened" });
  },

  "missing-signature-accepted": async (run) => {
    const c = await run.conn(await run.start(SIGNED_ARGS), SIGNED);
    const opened = await c.call({
      cmd: "session",
      op: "open",
      peerId: "alice",
      sessionPeerIds: [],
    });
    expect(opened).toMatchObject({ cmd: "session", op: "opened" });
    // A present but wrong signature is still refused.
    const wrong = await c.call({ ...signedOpen("bob"), s: "0".repeat(40) });
    expect(wrong).toMatchObject({ cmd: "error", code: 4102 });
  },

  "expired-timestamp-accepted": async (run) => {
    const c = await run.conn(await run.start(SIGNED_ARGS), SIGNED);
    const t = Math.floor(Date.now() / 1000) - 1000;
    const opened = await c.call(signedOpen("alice", { t }));
    expect(opened).toMatchObject({ cmd: "session", op: "opened" });
  },

  "forged-signature-burns-nonce": async (run) => {
    const s = await run.start(SIGNED_ARGS);
    const genuine = signedOpen("alice", { n: "nonce-to-burn" });
    const attacker = await run.conn(s, SIGNED);
    const forged = await attacker.call({ ...genuine, peerId: "mallory", s: "0".repeat(40) });
    expect(forged).toMatchObject({ cmd: "error", code: 4102 });
    const victim = await run.conn(s, SIGNED);
    expect(await victim.call(genuine)).toMatchObject({ cmd: "error", code: 4102 });
  },

  // ---- 07 limits ----------------------------------------------------------------------
  "msg-over-limit-accepted": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const reply = await alice.call(direct("alice", ["bob"], "x".repeat(5121)));
    expect(reply.cmd).toBe("ack");
  },

  "duplicates-counted-once": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const reply = await alice.call(direct("alice", Array(501).fill("bob"), "to bob, 501 times"));
    expect(reply.cmd).toBe("ack");
  },

  "pending-bound-refused-at-the-bound": async (run) => {
    const config = run.file("config.json");
    writeFileSync(config, JSON.stringify({ limits: { maxPendingPerApp: 4 } }));
    const alice = await run.peer(await run.start(["--config", config]), "alice");
    // Four peers with no session: four pending messages, the app's bound exactly.
    const reply = await alice.call(direct("alice", ["p1", "p2", "p3", "p4"], "to the bound"));
    expect(reply).toMatchObject({ cmd: "error", code: ERRORS.LIMIT_EXCEEDED.code });
  },

  "idle-bound-connections-uncounted": async (run) => {
    const config = run.file("config.json");
    writeFileSync(config, JSON.stringify({ limits: { maxConnectionsPerApp: 2 } }));
    const s = await run.start(["--config", config]);
    const closeSession = (c: Conn, peerId: string) => c.ok({ cmd: "session", op: "close", peerId });
    // One connection stays bound without a session; another binds, ends its session, goes.
    const idle = await run.peer(s, "alice");
    await closeSession(idle, "alice");
    const passing = await run.peer(s, "bob");
    await closeSession(passing, "bob");
    await passing.client.disconnect();
    await sleep(300); // the server sees the close
    await run.peer(s, "carol"); // the place bob's connection left
    const over = await run.conn(s);
    const reply = await over.call({
      cmd: "session",
      op: "open",
      peerId: "dave",
      sessionPeerIds: [],
    });
    // With alice's idle connection and carol's the app is full; the break admits dave.
    expect(reply).toMatchObject({ cmd: "session", op: "opened", peerId: "dave" });
  },

  "sessions-per-connection-unbounded": async (run) => {
    const c = await run.conn(await run.start());
    const replies = await Promise.all(
      Array.from({ length: 101 }, (_, k) =>
        c.call({ cmd: "session", op: "open", peerId: `p${k}`, sessionPeerIds: [] }),
      ),
    );
    expect(replies[100]).toMatchObject({ cmd: "session", op: "opened", peerId: "p100" });
  },

  // ---- 08 errors ----------------------------------------------------------------------
  "error-without-serial": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    alice.send({ cmd: "logs", peerId: "alice", cid: "0".repeat(32), i: 42 });
    const error = await alice.until(isError, "error");
    expect(error).toMatchObject({ code: 4401, peerId: "alice" });
    expect(Object.hasOwn(error, "i")).toBe(false);
  },

  "wrong-reason-name": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const error = await alice.call({ cmd: "logs", peerId: "alice", cid: "0".repeat(32) });
    expect(error.code).toBe(ERRORS.INVALID_MESSAGING_TARGET.code);
    expect(error.reason).not.toBe(ERRORS.INVALID_MESSAGING_TARGET.name);
  },

  "close-without-error-frame": async (run) => {
    const c = await run.conn(await run.start());
    c.client.sendText("this is not JSON");
    expect(await c.closed()).toBe(4114);
    expect(c.frames.filter(isError)).toEqual([]);
  },

  "failed-kick-still-removes": async (run) => {
    const s = await run.start();
    const alice = await run.peer(s, "alice");
    const roomId = await group(alice, "alice", ["bob"]);
    const carol = await run.peer(s, "carol"); // not a member
    const kick = { cmd: "room", op: "kick", peerId: "carol", roomId, roomPeerIds: ["bob"] };
    expect(await carol.call(kick)).toMatchObject({ cmd: "error", code: 4401 });
    const members = await alice.ok({ cmd: "room", op: "query", peerId: "alice", roomId });
    expect(members.roomPeerIds).toEqual(["alice"]);
  },

  "error-closes-connection": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const error = await alice.call({ cmd: "logs", peerId: "alice", cid: "0".repeat(32) });
    expect(error).toMatchObject({ cmd: "error", code: 4401 });
    expect(await alice.closed()).toBe(1000);
  },

  // ---- 09 versioning ------------------------------------------------------------------
  "unknown-fields-rejected": async (run) => {
    const alice = await run.peer(await run.start(), "alice");
    const reply = await alice.call({
      cmd: "session",
      op: "query",
      peerId: "alice",
      sessionPeerIds: [],
      "x-added-later": { any: "thing" },
    });
    expect(reply).toMatchObject({ cmd: "error", code: 4114 });
  },

  "ackreq-sent": async (run) => {
    const s = await run.start();
    const bob = await run.peer(s, "bob");
    const alice = await run.peer(s, "alice");
    await alice.ok(direct("alice", ["bob"], "hi"));
    expect(await bob.until((f) => f.cmd === "ackreq", "ackreq")).toMatchObject({ peerId: "bob" });
  },

  "subprotocol-not-selected": async (run) => {
    const s = await run.start();
    // ws refuses a handshake whose answer selects none of the subprotocols it offered.
    await expect(connect(s.wsUrl, "confab.v1")).rejects.toThrow(/subprotocol/i);
    const legacy = await connect<Frame>(s.wsUrl); // offers none: works
    legacy.ws.send(JSON.stringify({ appId: APP, cmd: "session", op: "open", peerId: "alice" }));
    await waitFor(() => legacy.received.some((f) => f.op === "opened"));
    await legacy.disconnect();
  },
};

describe("the manifest of broken servers", () => {
  const byId = new Map(requirements.map((r) => [r.id, r]));

  test("names only MUST requirements of the spec that bind servers", () => {
    for (const e of manifest) {
      const r = byId.get(e.requirement);
      expect(r, `${e.name}: ${e.requirement}`).toBeDefined();
      expect(["server", "both"], `${e.name}: ${e.requirement}`).toContain(r?.target);
      // A broken SHOULD only makes a kit warn: every break must be one a kit fails on.
      expect(r?.level, `${e.name}: ${e.requirement}`).toBe("MUST");
    }
  });

  test("has unique names, well-formed entries, and a demonstration for each", () => {
    const names = manifest.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
    for (const e of manifest) {
      expect(e.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(typeof e.stateful).toBe("boolean");
      expect(e.description.length).toBeGreaterThan(20);
    }
    expect(Object.keys(DEMOS).sort()).toEqual([...names].sort());
  });

  test("is the table of the README", () => {
    const readme = readFileSync(join(root, "reference-server/broken/README.md"), "utf8");
    const rows = [...readme.matchAll(/^\| `([a-z0-9-]+)` \| ([A-Z0-9-]+) \|/gm)];
    const table = rows.map((m) => `${m[1]} ${m[2]}`);
    expect(table).toEqual(manifest.map((e) => `${e.name} ${e.requirement}`));
  });

  test("is counted right where the READMEs count it", () => {
    // Counts written by hand go stale when a server is added (51 stood for 53 once).
    const stateful = manifest.filter((e) => e.stateful).length;
    const own = readFileSync(join(root, "reference-server/broken/README.md"), "utf8");
    expect(own).toContain(`(${manifest.length} servers, ${stateful} of them stateful)`);
    const top = readFileSync(join(root, "README.md"), "utf8");
    const counts = [...top.matchAll(/(\d+) (?:deliberately )?broken servers/g)].map((m) => m[1]);
    expect(counts.length).toBeGreaterThanOrEqual(3);
    for (const n of counts) expect(n).toBe(String(manifest.length));
    expect(top).toContain(`${stateful} of them in what it keeps`);
  });

  test("has at least 30 entries, 12 of them stateful, across chapters 1 to 9", () => {
    expect(manifest.length).toBeGreaterThanOrEqual(30);
    expect(manifest.filter((e) => e.stateful).length).toBeGreaterThanOrEqual(12);
    const chapters = new Set(manifest.map((e) => byId.get(e.requirement)?.chapter.split(".")[0]));
    for (let n = 1; n <= 9; n++) expect(chapters, `chapter ${n}`).toContain(String(n));
  });
});

describe("serve.mjs", () => {
  test("exits 2 for an unknown or missing name, listing the names", async () => {
    for (const args of [["no-such-break", "--port", "0"], []]) {
      const p = runCli(serve, args, { cwd: tmp });
      expect(await p.exited).toBe(2);
      expect(p.stderr()).toContain("kicked-member-still-receives");
    }
  });

  test("runs the reference CLI: announces itself, listens, and stops on SIGTERM with 0", async () => {
    const p = runCli(serve, ["keepalive-unanswered", "--port", "0", "--db", ":memory:"], {
      cwd: tmp,
    });
    const broken = await p.waitFor("broken_server");
    expect(broken.requirement).toBe("KEEPALIVE-REPLY-1");
    await p.waitFor("listening");
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });
});

/** Runs the demonstration of `entry` against its broken server, or against the reference. */
async function demonstrate(entry: Entry, reference: boolean): Promise<void> {
  const demo = DEMOS[entry.name];
  if (demo === undefined) throw new Error(`no demonstration for ${entry.name}`);
  const run = new Run(entry.name, reference);
  try {
    await demo(run);
  } finally {
    await run.cleanup();
  }
}

// Each demonstration runs twice, at once: against its broken server, where it must pass,
// and against the reference (the control), where it must fail: a demonstration that also
// passed against the reference would show nothing.
describe.concurrent("each broken server breaks its requirement, which the reference keeps", () => {
  for (const entry of manifest) {
    test(`${entry.name} breaks ${entry.requirement}`, async () => {
      const control = expect(demonstrate(entry, true), "against the reference").rejects.toThrow();
      await Promise.all([demonstrate(entry, false), control]);
    });
  }
});
