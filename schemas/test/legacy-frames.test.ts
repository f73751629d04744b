// The legacy client lean-cloud-chat@1.0.4, unmodified, driven through every operation it has
// against a scripted server that answers as a Confab v1 server must. Every frame exchanged
// is pinned in schemas/fixtures/legacy/{c2s,s2c}/ (regenerate with UPDATE_FIXTURES=1), so
// the fixtures are exactly what the real client sends and accepts, and every fixture is
// validated with the protocol schemas.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { validate } from "@confab/protocol";
import {
  closeLegacyClient,
  groupSignature,
  type LegacyClient,
  type LegacyClientEvents,
  type LegacyClientSettings,
  type LegacyModule,
  legacyClientSocket,
  loadLegacyClient,
  type RecordedFrame,
  type Responder,
  rewriteRouterUrl,
  ScriptedServer,
  sessionSignature,
  signText,
} from "@confab/test-support";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

type Direction = "c2s" | "s2c";
type Frame = Record<string, unknown>;

/** A pinned frame, as stored in schemas/fixtures/legacy/<direction>/<name>.json. */
interface Fixture {
  description: string;
  frame: Frame;
}

const FIXTURE_ROOT = join(import.meta.dirname, "../fixtures/legacy");
const UPDATE = process.env.UPDATE_FIXTURES === "1";

const APP = "app1";
/** A fixed server clock (ms), so that server frames, and thus fixtures, are deterministic. */
const T0 = 1417334400000;
/** Signature timestamp (s) and nonce of the test vectors in protocol-facts.md. */
const SIGN_T = 1417334400;
const SIGN_N = "n0nce";

const isFrame = (v: unknown): v is Frame =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** The message name a frame claims, as the schema registry spells it. */
function frameName(frame: unknown): string {
  if (!isFrame(frame)) return "<not an object>";
  if (!("cmd" in frame)) return "keepalive";
  return frame.op === undefined ? String(frame.cmd) : `${String(frame.cmd)}/${String(frame.op)}`;
}

/** An auth hook that signs open and watch as a signing service would (sorted peer ids). */
const signingAuth: NonNullable<LegacyClientSettings["auth"]> = async (peerId, watching) => ({
  watchingPeerIds: watching,
  s: sessionSignature({ appId: APP, peerId, watchPeerIds: watching, t: SIGN_T, n: SIGN_N }).s,
  t: SIGN_T,
  n: SIGN_N,
});

// --- the scripted Confab v1 server ------------------------------------------------------

/** What the scripted server knows in one test. Reset before each test. */
interface V1Script {
  /** Peers the server reports online (other than the client). */
  online: Set<string>;
  /** Message names the server leaves unanswered, to exercise the client's timeouts. */
  silent: Set<string>;
  /** Frames delivered right after `session/opened` (the offline store, decision D6). */
  offline: Frame[];
  /** Counters for server-made ids. */
  uid: number;
  room: number;
}

const freshScript = (): V1Script => ({
  online: new Set(),
  silent: new Set(),
  offline: [],
  uid: 0,
  room: 0,
});

/**
 * Answers the way a Confab v1 server answers a command without `i` (decisions D1, D5, D8,
 * D11): one reply per awaited command, in order; none for `session/remove`, `session/close`,
 * a transient `direct`, or the client's `ack`; `{}` for `{}`. Every server frame but the
 * keepalive carries `peerId`, the session it is for.
 */
function v1(script: V1Script): Responder {
  return (frame) => {
    if (!isFrame(frame)) return undefined;
    const name = frameName(frame);
    if (script.silent.has(name)) return undefined;
    const peerId = frame.peerId;
    const online = () =>
      ((frame.sessionPeerIds as string[] | undefined) ?? []).filter((p) => script.online.has(p));
    switch (name) {
      case "keepalive":
        return {};
      case "session/open":
        return [
          { cmd: "session", op: "opened", peerId, onlineSessionPeerIds: online() },
          ...script.offline,
        ];
      case "session/add":
        return { cmd: "session", op: "added", peerId, onlineSessionPeerIds: online() };
      case "session/query":
        return { cmd: "session", op: "query-result", peerId, onlineSessionPeerIds: online() };
      case "direct": {
        if (frame.transient === true) return undefined;
        script.uid += 1;
        return { cmd: "ack", peerId, t: T0 + script.uid, uid: `m${script.uid}` };
      }
      case "room/join": {
        // Without roomId, join creates a group; the reply names it (decision D8).
        const roomId = frame.roomId ?? `g${++script.room}`;
        return { cmd: "room", op: "joined", peerId, roomId, byPeerId: peerId };
      }
      case "room/invite":
      case "room/kick":
        return {
          cmd: "room",
          op: name === "room/invite" ? "invited" : "kicked",
          peerId,
          roomId: frame.roomId,
          roomPeerIds: frame.roomPeerIds,
          byPeerId: peerId,
        };
      case "room/leave":
        return { cmd: "room", op: "left", peerId, roomId: frame.roomId, byPeerId: peerId };
      default:
        return undefined; // session/remove, session/close, ack: no reply
    }
  };
}

// --- fixtures --------------------------------------------------------------------------

const pinned: Record<Direction, Map<string, Fixture>> = { c2s: new Map(), s2c: new Map() };

/**
 * Serializes a fixture the way `biome format` prints JSON (so `npm run lint` accepts the
 * generated files): objects one member per line, arrays on one line when they fit in 100
 * columns, two-space indent, final newline.
 */
function formatFixture(fixture: Fixture): string {
  const LINE_WIDTH = 100;
  const format = (value: unknown, indent: string, prefixWidth: number): string => {
    if (Array.isArray(value)) {
      const inline = `[${value.map((v) => format(v, "", 0)).join(", ")}]`;
      if (value.length === 0 || prefixWidth + inline.length + 1 <= LINE_WIDTH) return inline;
      const inner = `${indent}  `;
      return `[\n${value.map((v) => inner + format(v, inner, inner.length)).join(",\n")}\n${indent}]`;
    }
    if (isFrame(value)) {
      const entries = Object.entries(value);
      if (entries.length === 0) return "{}";
      const inner = `${indent}  `;
      const members = entries.map(([k, v]) => {
        const key = `${inner}${JSON.stringify(k)}: `;
        return key + format(v, inner, key.length);
      });
      return `{\n${members.join(",\n")}\n${indent}}`;
    }
    return JSON.stringify(value);
  };
  return `${format(fixture, "", 0)}\n`;
}

/**
 * Pins a frame: with UPDATE_FIXTURES=1 writes it to the fixture file, otherwise expects the
 * committed file to hold exactly this description and frame.
 */
function pin(direction: Direction, name: string, description: string, frame: unknown): void {
  expect(pinned[direction].has(name), `${direction}/${name} pinned twice`).toBe(false);
  if (!isFrame(frame)) throw new Error(`${direction}/${name}: not a JSON object`);
  const fixture: Fixture = { description, frame };
  pinned[direction].set(name, fixture);
  const file = join(FIXTURE_ROOT, direction, `${name}.json`);
  if (UPDATE) {
    writeFileSync(file, formatFixture(fixture));
    return;
  }
  expect(existsSync(file), `${file} is missing: run with UPDATE_FIXTURES=1`).toBe(true);
  expect(
    JSON.parse(readFileSync(file, "utf8")),
    `${direction}/${name}.json differs from what the legacy client exchanged`,
  ).toEqual(fixture);
}

/**
 * A frame's shape: its keys with the kind of each value; `cmd`, `op` and booleans by
 * value; arrays of strings (empty ones included) as one kind, other arrays by their items'
 * kinds (so an `ids: [null]` stands out). Used to check that every kind of frame exchanged
 * has a fixture.
 */
function shape(frame: unknown): string {
  if (!isFrame(frame)) return JSON.stringify(frame);
  const kind = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.every((x) => typeof x === "string")
        ? "string[]"
        : [...new Set(v.map(kind))]
      : typeof v === "boolean" || v === null
        ? v
        : typeof v;
  return JSON.stringify(
    Object.keys(frame)
      .sort()
      .map((k) => [k, k === "cmd" || k === "op" ? frame[k] : kind(frame[k])]),
  );
}

// --- client harness --------------------------------------------------------------------

const EVENTS = [
  "online",
  "offline",
  "message",
  "joined",
  "left",
  "membersJoined",
  "membersLeft",
  "close",
] as const satisfies readonly (keyof LegacyClientEvents)[];
type EventName = (typeof EVENTS)[number];

/** Records every event a client emits (chat.js has no way to remove a listener). */
class EventLog {
  readonly seen: { event: EventName; arg: unknown }[] = [];
  private waiters: { event: EventName; count: number; resolve: () => void }[] = [];

  constructor(client: LegacyClient) {
    for (const event of EVENTS) {
      client.on(event, (arg: unknown) => {
        this.seen.push({ event, arg });
        this.waiters = this.waiters.filter((w) => {
          if (w.event !== event || this.of(event).length < w.count) return true;
          w.resolve();
          return false;
        });
      });
    }
  }

  /** The arguments of every `event` so far. */
  of(event: EventName): unknown[] {
    return this.seen.filter((e) => e.event === event).map((e) => e.arg);
  }

  /** Resolves once `event` has been emitted `count` times in all. */
  async waitFor(event: EventName, count = 1): Promise<void> {
    if (this.of(event).length >= count) return;
    await new Promise<void>((resolve) => this.waiters.push({ event, count, resolve }));
  }
}

interface Harness {
  client: LegacyClient;
  peerId: string;
  events: EventLog;
  /** The client's connection index on the scripted server. */
  conn: number;
  /** What `open()` resolved with. */
  opened: unknown;
}

const server = new ScriptedServer();
let chat: LegacyModule;
let script: V1Script;
const clients: LegacyClient[] = [];

/** Creates a legacy client for the scripted server and opens it. */
async function connect(
  settings: Partial<LegacyClientSettings> & { peerId: string },
): Promise<Harness> {
  const client = chat({ appId: APP, ...settings });
  clients.push(client);
  const events = new EventLog(client);
  const conn = server.connections.length;
  const opened = await client.open();
  return { client, peerId: settings.peerId, events, conn, opened };
}

/** The first frame `name` the server received at or after index `from` of its timeline. */
const received = (from: number, name: string): Promise<Frame> =>
  server
    .waitForFrame((f) => f.direction === "c2s" && frameName(f.frame) === name, { from })
    .then((f) => f.frame as Frame);

/** Direction and name of every frame exchanged since index `from`, in order. */
const exchanged = (from: number): [Direction, string][] =>
  server.frames.slice(from).map((f: RecordedFrame) => [f.direction, frameName(f.frame)]);

/** The frames the server sent since index `from`. */
const sentSince = (from: number): Frame[] =>
  server.frames
    .slice(from)
    .filter((f) => f.direction === "s2c")
    .map((f) => f.frame as Frame);

/**
 * Waits until the client has processed everything the server sent so far: the server pushes
 * a persistent delivery and waits for the client's ack, which comes after every earlier
 * frame on the same socket has been handled. The ack bypasses chat.js's command path, so
 * it arms no timer and does not touch the keepalive schedule.
 */
async function roundTrip(h: Harness, id: string): Promise<void> {
  const from = server.frames.length;
  server.push(h.conn, {
    cmd: "direct",
    peerId: h.peerId,
    id,
    fromPeerId: "sync",
    msg: "sync",
    timestamp: T0,
    toPeerIds: [h.peerId],
  });
  await server.waitForFrame(
    (f) => f.direction === "c2s" && isFrame(f.frame) && (f.frame.ids as unknown[])?.[0] === id,
    { from },
  );
}

beforeAll(async () => {
  if (UPDATE) {
    for (const d of ["c2s", "s2c"]) {
      rmSync(join(FIXTURE_ROOT, d), { recursive: true, force: true });
      mkdirSync(join(FIXTURE_ROOT, d), { recursive: true });
    }
  }
  await server.start();
  chat = loadLegacyClient({ routerUrl: server.httpUrl });
});

beforeEach(() => {
  script = freshScript();
  server.respond(v1(script));
});

afterEach(async () => {
  // Close while fake timers (if any) are still installed, so chat.js clears the very timers
  // it armed; then restore real ones.
  for (const c of clients.splice(0)) await closeLegacyClient(c);
  vi.useRealTimers();
});

afterEach(() => {
  // A responder that throws is a bug in this file, whatever the client did.
  expect(server.errors).toEqual([]);
});

afterAll(async () => {
  await server.stop();
});

// --- the tests -------------------------------------------------------------------------

describe("the legacy client against a scripted Confab v1 server", () => {
  describe("sessions", () => {
    it("asks the router, opens a session with a watch list and reports online peers", async () => {
      script.online.add("bob");
      const routes = server.routeRequests.length;
      const from = server.frames.length;
      const { opened, events } = await connect({
        peerId: "alice",
        watchingPeerIds: ["bob", "carol"],
      });
      expect(server.routeRequests.slice(routes)).toEqual([
        { url: `/v1/route?appId=${APP}`, appId: APP, secure: false },
      ]);
      const open = await received(from, "session/open");
      expect(open).toEqual({
        cmd: "session",
        op: "open",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: ["bob", "carol"],
      });
      const [reply] = sentSince(from);
      expect(reply).toEqual({
        cmd: "session",
        op: "opened",
        peerId: "alice",
        onlineSessionPeerIds: ["bob"],
      });
      expect(opened).toEqual(reply);
      expect(events.of("online")).toEqual([["bob"]]);
      expect(exchanged(from)).toEqual([
        ["c2s", "session/open"],
        ["s2c", "session/opened"],
      ]);
      pin("c2s", "session-open-with-watch", "session/open watching two peers, unsigned", open);
      pin("s2c", "session-opened", "session/opened: one of the watched peers is online", reply);
    });

    it("opens a session with an empty watch list and still emits online", async () => {
      const from = server.frames.length;
      const { opened, events } = await connect({ peerId: "alice" });
      const open = await received(from, "session/open");
      expect(open).toEqual({
        cmd: "session",
        op: "open",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: [],
      });
      expect(opened).toEqual({
        cmd: "session",
        op: "opened",
        peerId: "alice",
        onlineSessionPeerIds: [],
      });
      // chat.js emits `online` for every opened/added, even with nobody online.
      expect(events.of("online")).toEqual([[]]);
      pin("c2s", "session-open-empty-watch", "session/open watching nobody, unsigned", open);
      pin("s2c", "session-opened-empty", "session/opened: no watched peer is online", opened);
    });

    it("sends the signature its auth hook returns on open", async () => {
      const s = "31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e"; // protocol-facts.md vector
      const from = server.frames.length;
      await connect({ peerId: "alice", watchingPeerIds: ["carol", "bob"], auth: signingAuth });
      const open = await received(from, "session/open");
      expect(open).toEqual({
        cmd: "session",
        op: "open",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: ["carol", "bob"],
        s,
        t: SIGN_T,
        n: SIGN_N,
      });
      pin("c2s", "session-open-signed", "session/open watching two peers, signed", open);
    });

    it("sends sp only when the auth hook returns it", async () => {
      const s = signText(`${APP}:alice::${SIGN_T}:${SIGN_N}:sp`);
      const from = server.frames.length;
      const seen: unknown[] = [];
      await connect({
        peerId: "alice",
        sp: true,
        auth: async (_peerId, watching, sp) => {
          seen.push(sp);
          return { watchingPeerIds: watching, s, t: SIGN_T, n: SIGN_N, sp };
        },
      });
      const open = await received(from, "session/open");
      expect(seen).toEqual([true]);
      expect(open).toEqual({
        cmd: "session",
        op: "open",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: [],
        s,
        t: SIGN_T,
        n: SIGN_N,
        sp: true,
      });
      pin("c2s", "session-open-super-peer", "session/open of a super peer, signed with :sp", open);

      // settings.sp alone goes only to the auth hook: the default hook drops it.
      const from2 = server.frames.length;
      await connect({ peerId: "dave", sp: true });
      expect(await received(from2, "session/open")).not.toHaveProperty("sp");
    });

    it("watches peers and resolves with session/added", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      script.online.add("erin");
      const from = server.frames.length;
      const reply = await client.watch(["dave", "erin"]);
      const add = await received(from, "session/add");
      expect(add).toEqual({
        cmd: "session",
        op: "add",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: ["dave", "erin"],
      });
      expect(reply).toEqual({
        cmd: "session",
        op: "added",
        peerId: "alice",
        onlineSessionPeerIds: ["erin"],
      });
      expect(events.of("online")).toEqual([[], ["erin"]]);
      expect(exchanged(from)).toEqual([
        ["c2s", "session/add"],
        ["s2c", "session/added"],
      ]);
      pin("c2s", "session-add", "session/add (watch) two peers, unsigned", add);
      pin("s2c", "session-added", "session/added: one of the new peers is online", reply);
    });

    it("sends the signature its auth hook returns on watch, and on an empty open", async () => {
      let from = server.frames.length;
      const { client } = await connect({ peerId: "alice", auth: signingAuth });
      const open = await received(from, "session/open");
      expect(open).toEqual({
        cmd: "session",
        op: "open",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: [],
        s: "e9ceb17f10c1fa3c348000863f7e6332aa2c897d", // protocol-facts.md vector
        t: SIGN_T,
        n: SIGN_N,
      });
      pin("c2s", "session-open-signed-empty-watch", "session/open watching nobody, signed", open);
      const s = "31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e"; // protocol-facts.md vector
      from = server.frames.length;
      await client.watch(["bob", "carol"]);
      const add = await received(from, "session/add");
      expect(add).toEqual({
        cmd: "session",
        op: "add",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: ["bob", "carol"],
        s,
        t: SIGN_T,
        n: SIGN_N,
      });
      pin("c2s", "session-add-signed", "session/add (watch) two peers, signed", add);
    });

    it("unwatches peers and resolves at once, awaiting no reply", async () => {
      const { client } = await connect({ peerId: "alice", watchingPeerIds: ["bob", "carol"] });
      const from = server.frames.length;
      expect(await client.unwatch(["bob"])).toBeUndefined();
      const remove = await received(from, "session/remove");
      expect(remove).toEqual({
        cmd: "session",
        op: "remove",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: ["bob"],
      });
      expect(exchanged(from)).toEqual([["c2s", "session/remove"]]);
      pin("c2s", "session-remove", "session/remove (unwatch) one peer; no reply expected", remove);
    });

    it("queries peers' status and resolves with session/query-result", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      script.online.add("grace");
      const from = server.frames.length;
      const reply = await client.getStatus(["frank", "grace"]);
      const query = await received(from, "session/query");
      expect(query).toEqual({
        cmd: "session",
        op: "query",
        peerId: "alice",
        appId: APP,
        sessionPeerIds: ["frank", "grace"],
      });
      expect(reply).toEqual({
        cmd: "session",
        op: "query-result",
        peerId: "alice",
        onlineSessionPeerIds: ["grace"],
      });
      // A query result is an answer, not presence: no `online` event beyond the open's.
      expect(events.of("online")).toEqual([[]]);
      pin("c2s", "session-query", "session/query the status of two peers", query);
      pin("s2c", "session-query-result", "session/query-result: one peer is online", reply);
    });

    it("sends session/close, closes the socket and awaits no reply", async () => {
      const h = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const conn = server.connections[h.conn];
      if (!conn) throw new Error("no connection");
      await closeLegacyClient(h.client);
      const close = await received(from, "session/close");
      expect(close).toEqual({ cmd: "session", op: "close", peerId: "alice", appId: APP });
      expect(exchanged(from)).toEqual([["c2s", "session/close"]]);
      // chat.js calls ws.close() without a code.
      expect(await conn.closed).toEqual({ code: 1005, reason: "" });
      expect(h.events.of("close")).toHaveLength(1);
      pin("c2s", "session-close", "session/close; no reply expected", close);
    });
  });

  describe("presence", () => {
    it("emits online and offline for presence frames", async () => {
      const h = await connect({ peerId: "alice", watchingPeerIds: ["bob"] });
      const on = { cmd: "presence", peerId: "alice", status: "on", sessionPeerIds: ["bob"] };
      const off = { cmd: "presence", peerId: "alice", status: "off", sessionPeerIds: ["bob"] };
      server.push(h.conn, on);
      await h.events.waitFor("online", 2);
      server.push(h.conn, off);
      await h.events.waitFor("offline");
      expect(h.events.of("online")).toEqual([[], ["bob"]]);
      expect(h.events.of("offline")).toEqual([["bob"]]);
      pin("s2c", "presence-on", "presence: a watched peer came online", on);
      pin("s2c", "presence-off", "presence: a watched peer went offline", off);
    });
  });

  describe("direct messages", () => {
    it("sends a message to one peer and resolves with the ack", async () => {
      const { client } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.send("hello bob", "bob");
      const direct = await received(from, "direct");
      expect(direct).toEqual({
        cmd: "direct",
        peerId: "alice",
        appId: APP,
        msg: "hello bob",
        toPeerIds: ["bob"],
      });
      expect(reply).toEqual({ cmd: "ack", peerId: "alice", t: T0 + 1, uid: "m1" });
      expect(exchanged(from)).toEqual([
        ["c2s", "direct"],
        ["s2c", "ack"],
      ]);
      pin("c2s", "direct-one-peer", "direct: a persistent message to one peer", direct);
      pin("s2c", "ack", "ack of a persistent direct: server time t and message id uid", reply);
    });

    it("sends a message to several peers and resolves with the ack", async () => {
      const { client } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      // transient=false is the same as leaving it out: chat.js sends no transient field.
      const reply = await client.send("hello all", ["bob", "carol"], false);
      const direct = await received(from, "direct");
      expect(direct).toEqual({
        cmd: "direct",
        peerId: "alice",
        appId: APP,
        msg: "hello all",
        toPeerIds: ["bob", "carol"],
      });
      expect(reply).toEqual({ cmd: "ack", peerId: "alice", t: T0 + 1, uid: "m1" });
      pin("c2s", "direct-several-peers", "direct: a persistent message to two peers", direct);
    });

    it("sends a transient message and resolves at once, awaiting no ack", async () => {
      const { client } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      expect(await client.send("typing", "bob", true)).toBeUndefined();
      const direct = await received(from, "direct");
      expect(direct).toEqual({
        cmd: "direct",
        peerId: "alice",
        appId: APP,
        msg: "typing",
        toPeerIds: ["bob"],
        transient: true,
      });
      expect(exchanged(from)).toEqual([["c2s", "direct"]]);
      pin("c2s", "direct-transient", "direct: a transient message to one peer; no ack", direct);
    });

    it("sends a message to a group and resolves with the ack", async () => {
      const { client } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.sendToGroup("hello team", "g1");
      const direct = await received(from, "direct");
      expect(direct).toEqual({
        cmd: "direct",
        peerId: "alice",
        appId: APP,
        msg: "hello team",
        roomId: "g1",
      });
      expect(reply).toEqual({ cmd: "ack", peerId: "alice", t: T0 + 1, uid: "m1" });
      pin("c2s", "direct-room", "direct: a persistent message to a group", direct);
    });

    it("sends a transient message to a group and resolves at once", async () => {
      const { client } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      expect(await client.sendToGroup("typing", "g1", true)).toBeUndefined();
      const direct = await received(from, "direct");
      expect(direct).toEqual({
        cmd: "direct",
        peerId: "alice",
        appId: APP,
        msg: "typing",
        roomId: "g1",
        transient: true,
      });
      expect(exchanged(from)).toEqual([["c2s", "direct"]]);
      pin("c2s", "direct-room-transient", "direct: a transient message to a group; no ack", direct);
    });
  });

  describe("deliveries", () => {
    it("emits message for a persistent delivery and acks its id", async () => {
      const h = await connect({ peerId: "bob" });
      const delivery = {
        cmd: "direct",
        peerId: "bob",
        id: "m101",
        fromPeerId: "alice",
        msg: "hello bob",
        timestamp: T0,
        toPeerIds: ["bob"], // DIRECT-TO-1
      };
      const from = server.frames.length;
      server.push(h.conn, delivery);
      const ack = await received(from, "ack");
      expect(ack).toEqual({ cmd: "ack", peerId: "bob", appId: APP, ids: ["m101"] });
      expect(h.events.of("message")).toEqual([delivery]);
      expect(exchanged(from)).toEqual([
        ["s2c", "direct"],
        ["c2s", "ack"],
      ]);
      pin("s2c", "direct", "direct delivery of a persistent message, live", delivery);
      pin("c2s", "ack-persistent", "ack of a persistent delivery", ack);
    });

    it("emits message for a transient delivery and acks its id too", async () => {
      const h = await connect({ peerId: "bob" });
      const delivery = {
        cmd: "direct",
        peerId: "bob",
        id: "m102",
        fromPeerId: "alice",
        msg: "typing",
        timestamp: T0,
        toPeerIds: ["bob"], // DIRECT-TO-1
        transient: true,
      };
      const from = server.frames.length;
      server.push(h.conn, delivery);
      const ack = await received(from, "ack");
      // chat.js acks every delivery with [].concat(data.id), so transient ones carry an id.
      expect(ack).toEqual({ cmd: "ack", peerId: "bob", appId: APP, ids: ["m102"] });
      expect(h.events.of("message")).toEqual([delivery]);
      pin(
        "s2c",
        "direct-transient",
        "direct delivery of a transient message (still has id)",
        delivery,
      );
      pin("c2s", "ack-transient", "ack of a transient delivery, which the server ignores", ack);
    });

    it("emits message for offline deliveries right after opened and acks them", async () => {
      const delivery = {
        cmd: "direct",
        peerId: "bob",
        id: "m103",
        fromPeerId: "alice",
        msg: "while you were away",
        timestamp: T0 - 60_000,
        toPeerIds: ["bob"], // DIRECT-TO-1
        offline: true,
      };
      script.offline.push(delivery);
      const from = server.frames.length;
      const h = await connect({ peerId: "bob" });
      const ack = await received(from, "ack");
      expect(ack).toEqual({ cmd: "ack", peerId: "bob", appId: APP, ids: ["m103"] });
      expect(h.events.of("message")).toEqual([delivery]);
      expect(exchanged(from)).toEqual([
        ["c2s", "session/open"],
        ["s2c", "session/opened"],
        ["s2c", "direct"],
        ["c2s", "ack"],
      ]);
      pin(
        "s2c",
        "direct-offline",
        "direct delivery from the offline store, after opened",
        delivery,
      );
    });

    it("emits message for a group delivery and acks its id", async () => {
      const h = await connect({ peerId: "bob" });
      const delivery = {
        cmd: "direct",
        peerId: "bob",
        id: "m104",
        fromPeerId: "alice",
        roomId: "g1",
        msg: "hello team",
        timestamp: T0,
      };
      const from = server.frames.length;
      server.push(h.conn, delivery);
      const ack = await received(from, "ack");
      expect(ack).toEqual({ cmd: "ack", peerId: "bob", appId: APP, ids: ["m104"] });
      expect(h.events.of("message")).toEqual([delivery]);
      pin("s2c", "direct-room", "direct delivery of a group message", delivery);
    });

    it("ignores a receipt: no event, no answer, and the session carries on", async () => {
      const h = await connect({ peerId: "alice" });
      const rcp = { cmd: "rcp", peerId: "alice", id: "m1", t: T0 + 500 };
      const from = server.frames.length;
      server.push(h.conn, rcp);
      expect(await h.client.getStatus(["bob"])).toMatchObject({ op: "query-result" });
      expect(exchanged(from)).toEqual([
        ["s2c", "rcp"],
        ["c2s", "session/query"],
        ["s2c", "session/query-result"],
      ]);
      expect(h.events.seen.map((e) => e.event)).toEqual(["online"]); // the open's
      pin(
        "s2c",
        "rcp",
        "rcp: the single recipient acked message m1 (legacy client ignores it)",
        rcp,
      );
    });
  });

  describe("groups", () => {
    it("joins a group by id, resolving with room/joined and emitting joined", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.joinGroup("g1");
      const join = await received(from, "room/join");
      expect(join).toEqual({ cmd: "room", op: "join", peerId: "alice", appId: APP, roomId: "g1" });
      expect(reply).toEqual({
        cmd: "room",
        op: "joined",
        peerId: "alice",
        roomId: "g1",
        byPeerId: "alice",
      });
      expect(events.of("joined")).toEqual([reply]);
      pin("c2s", "room-join", "room/join an existing group, unsigned", join);
      pin("s2c", "room-joined", "room/joined: reply to one's own join", reply);
    });

    it("creates a group by joining without an id", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.joinGroup();
      const join = await received(from, "room/join");
      // roomId: undefined is dropped by JSON.stringify: no roomId at all.
      expect(join).toEqual({ cmd: "room", op: "join", peerId: "alice", appId: APP });
      expect(reply).toEqual({
        cmd: "room",
        op: "joined",
        peerId: "alice",
        roomId: "g1",
        byPeerId: "alice",
      });
      expect(events.of("joined")).toEqual([reply]);
      pin("c2s", "room-join-create", "room/join without roomId: create a group", join);
      pin("s2c", "room-joined-create", "room/joined naming the new group, by its creator", reply);
    });

    it("invites peers, resolving with room/invited and emitting nothing", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.inviteToGroup("g1", ["bob", "carol"]);
      const invite = await received(from, "room/invite");
      expect(invite).toEqual({
        cmd: "room",
        op: "invite",
        peerId: "alice",
        appId: APP,
        roomId: "g1",
        roomPeerIds: ["bob", "carol"],
      });
      expect(reply).toEqual({
        cmd: "room",
        op: "invited",
        peerId: "alice",
        roomId: "g1",
        roomPeerIds: ["bob", "carol"],
        byPeerId: "alice",
      });
      expect(events.seen.map((e) => e.event)).toEqual(["online"]);
      pin("c2s", "room-invite", "room/invite two peers, unsigned", invite);
      pin("s2c", "room-invited", "room/invited: reply to one's own invite", reply);
    });

    it("kicks peers, resolving with room/kicked and emitting nothing", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.kickFromGroup("g1", "bob");
      const kick = await received(from, "room/kick");
      expect(kick).toEqual({
        cmd: "room",
        op: "kick",
        peerId: "alice",
        appId: APP,
        roomId: "g1",
        roomPeerIds: ["bob"],
      });
      expect(reply).toEqual({
        cmd: "room",
        op: "kicked",
        peerId: "alice",
        roomId: "g1",
        roomPeerIds: ["bob"],
        byPeerId: "alice",
      });
      expect(events.seen.map((e) => e.event)).toEqual(["online"]);
      pin("c2s", "room-kick", "room/kick one peer, unsigned", kick);
      pin("s2c", "room-kicked", "room/kicked: reply to one's own kick", reply);
    });

    it("leaves a group, resolving with room/left and emitting left", async () => {
      const { client, events } = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const reply = await client.leaveGroup("g1");
      const leave = await received(from, "room/leave");
      expect(leave).toEqual({
        cmd: "room",
        op: "leave",
        peerId: "alice",
        appId: APP,
        roomId: "g1",
      });
      expect(reply).toEqual({
        cmd: "room",
        op: "left",
        peerId: "alice",
        roomId: "g1",
        byPeerId: "alice",
      });
      expect(events.of("left")).toEqual([reply]);
      pin("c2s", "room-leave", "room/leave (never signed)", leave);
      pin("s2c", "room-left", "room/left: reply to one's own leave", reply);
    });

    it("sends the signatures its groupAuth hook returns on join, invite and kick", async () => {
      const calls: unknown[][] = [];
      const { client } = await connect({
        peerId: "alice",
        groupAuth: async (peerId, groupId, action, groupPeerIds) => {
          calls.push([peerId, groupId, action, groupPeerIds]);
          const sig = groupSignature({
            appId: APP,
            peerId,
            action,
            roomId: groupId,
            roomPeerIds: groupPeerIds,
            t: SIGN_T,
            n: SIGN_N,
          });
          return { groupPeerIds, ...sig };
        },
      });
      const sig = { t: SIGN_T, n: SIGN_N };
      let from = server.frames.length;
      await client.joinGroup();
      const create = await received(from, "room/join");
      expect(create).toEqual({
        cmd: "room",
        op: "join",
        peerId: "alice",
        appId: APP,
        s: "5529070bf3eb8d624a3790296b697bed9c921d41", // protocol-facts.md vector
        ...sig,
      });
      from = server.frames.length;
      await client.joinGroup("g1");
      const join = await received(from, "room/join");
      expect(join).toMatchObject({
        roomId: "g1",
        s: signText(`${APP}:alice:g1::${SIGN_T}:${SIGN_N}:join`),
      });
      from = server.frames.length;
      await client.inviteToGroup("g1", ["carol", "bob"]);
      const invite = await received(from, "room/invite");
      expect(invite).toEqual({
        cmd: "room",
        op: "invite",
        peerId: "alice",
        appId: APP,
        roomId: "g1",
        roomPeerIds: ["carol", "bob"],
        s: "6ca832cbc9b3d7e358b962d652526e2d57e8b45c", // protocol-facts.md vector
        ...sig,
      });
      from = server.frames.length;
      await client.kickFromGroup("g1", ["bob"]);
      const kick = await received(from, "room/kick");
      expect(kick).toMatchObject({
        roomPeerIds: ["bob"],
        s: signText(`${APP}:alice:g1:bob:${SIGN_T}:${SIGN_N}:kick`),
      });
      expect(calls).toEqual([
        ["alice", undefined, "join", []],
        ["alice", "g1", "join", []],
        ["alice", "g1", "invite", ["carol", "bob"]],
        ["alice", "g1", "kick", ["bob"]],
      ]);
      pin("c2s", "room-join-create-signed", "room/join without roomId (create), signed", create);
      pin("c2s", "room-join-signed", "room/join an existing group, signed", join);
      pin("c2s", "room-invite-signed", "room/invite two peers, signed", invite);
      pin("c2s", "room-kick-signed", "room/kick one peer, signed", kick);
    });

    it("emits joined when invited and left when kicked by another peer", async () => {
      const h = await connect({ peerId: "bob" });
      const joined = { cmd: "room", op: "joined", peerId: "bob", roomId: "g1", byPeerId: "alice" };
      const left = { cmd: "room", op: "left", peerId: "bob", roomId: "g1", byPeerId: "alice" };
      server.push(h.conn, joined);
      await h.events.waitFor("joined");
      server.push(h.conn, left);
      await h.events.waitFor("left");
      expect(h.events.of("joined")).toEqual([joined]);
      expect(h.events.of("left")).toEqual([left]);
      pin(
        "s2c",
        "room-joined-invited",
        "room/joined sent to a peer another member invited",
        joined,
      );
      pin("s2c", "room-left-kicked", "room/left sent to a peer another member kicked", left);
    });

    it("emits membersJoined and membersLeft for other members' changes", async () => {
      const h = await connect({ peerId: "carol" });
      const membersJoined = {
        cmd: "room",
        op: "members-joined",
        peerId: "carol",
        roomId: "g1",
        roomPeerIds: ["bob", "dave"],
        byPeerId: "alice",
      };
      const membersLeft = {
        cmd: "room",
        op: "members-left",
        peerId: "carol",
        roomId: "g1",
        roomPeerIds: ["bob"],
        byPeerId: "alice",
      };
      server.push(h.conn, membersJoined);
      await h.events.waitFor("membersJoined");
      server.push(h.conn, membersLeft);
      await h.events.waitFor("membersLeft");
      expect(h.events.of("membersJoined")).toEqual([membersJoined]);
      expect(h.events.of("membersLeft")).toEqual([membersLeft]);
      pin("s2c", "room-members-joined", "room/members-joined: others were invited", membersJoined);
      pin("s2c", "room-members-left", "room/members-left: another member was kicked", membersLeft);
    });
  });

  describe("keepalive and timeouts", () => {
    // Only setTimeout/clearTimeout are faked: chat.js arms its timers with them, while
    // sockets, HTTP and es6-promise (process.nextTick) keep running for real.
    const fakeTimers = () =>
      vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"], shouldClearNativeTimers: true });

    it("sends {} after 60 s without a command and stays open when answered", async () => {
      fakeTimers();
      const h = await connect({ peerId: "alice" });
      const from = server.frames.length;
      await vi.advanceTimersByTimeAsync(59_999);
      await roundTrip(h, "sync-1");
      expect(exchanged(from).filter(([d]) => d === "c2s")).toEqual([["c2s", "ack"]]);

      await vi.advanceTimersByTimeAsync(1);
      const keepalive = await server.waitForFrame(
        (f) => f.direction === "c2s" && frameName(f.frame) === "keepalive",
        { from },
      );
      expect(keepalive.raw).toBe("{}");
      const [reply] = sentSince(keepalive.seq);
      expect(reply).toEqual({});

      // Once the reply is handled, the 10 s keepalive timeout is cleared.
      await roundTrip(h, "sync-2");
      await vi.advanceTimersByTimeAsync(10_000);
      await roundTrip(h, "sync-3");
      expect(h.events.of("close")).toEqual([]);

      // The keepalive re-arms itself: the next {} follows 60 s after the first.
      const again = server.frames.length;
      await vi.advanceTimersByTimeAsync(50_000);
      await server.waitForFrame((f) => f.direction === "c2s" && f.raw === "{}", { from: again });
      pin(
        "c2s",
        "keepalive",
        "keepalive: the client's {} after 60 s without a command",
        keepalive.frame,
      );
      pin("s2c", "keepalive", "keepalive: the server's {} answer", reply);
    });

    it("closes the socket when {} gets no answer within 10 s", async () => {
      fakeTimers();
      script.silent.add("keepalive");
      const h = await connect({ peerId: "alice" });
      const from = server.frames.length;
      await vi.advanceTimersByTimeAsync(60_000);
      await received(from, "keepalive");
      await vi.advanceTimersByTimeAsync(9_999);
      await roundTrip(h, "sync-1");
      expect(h.events.of("close")).toEqual([]);
      await vi.advanceTimersByTimeAsync(1);
      await h.events.waitFor("close");
      expect(legacyClientSocket(h.client)?.readyState).toBe(3);
    });

    it("rejects a command unanswered for 10 s and closes the socket", async () => {
      fakeTimers();
      script.silent.add("room/join");
      const h = await connect({ peerId: "alice" });
      const from = server.frames.length;
      const outcome = h.client.joinGroup("g1").then(
        (v) => ({ resolved: v }),
        (e: unknown) => ({ rejected: e }),
      );
      await received(from, "room/join");
      await vi.advanceTimersByTimeAsync(10_000);
      expect(await outcome).toEqual({ rejected: "roomjoinedtimeout" });
      await h.events.waitFor("close");
    });

    it("rejects open when the server answers an error frame and closes", async () => {
      const error = {
        cmd: "error",
        peerId: "mallory",
        code: 4102,
        reason: "SIGNATURE_FAILED",
      };
      server.respond((frame, conn) => {
        if (frameName(frame) !== "session/open") return undefined;
        conn.send(error);
        conn.socket.close(4102, "SIGNATURE_FAILED");
        return undefined;
      });
      const client = chat({ appId: APP, peerId: "mallory" });
      clients.push(client);
      const events = new EventLog(client);
      const from = server.frames.length;
      // doClose() rejects every waiting command with no value.
      await expect(client.open()).rejects.toBeUndefined();
      await events.waitFor("close");
      expect((events.of("close")[0] as { code: number }).code).toBe(4102);
      expect(exchanged(from)).toEqual([
        ["c2s", "session/open"],
        ["s2c", "error"],
      ]);
      pin(
        "s2c",
        "error-signature-failed",
        "error for a bad open signature, then close 4102",
        error,
      );
    });
  });

  it("has a fixture for every kind of frame exchanged, and no stale fixture", () => {
    for (const d of ["c2s", "s2c"] as const) {
      const shapes = new Set([...pinned[d].values()].map((f) => shape(f.frame)));
      const unpinned = server.frames
        .filter((f) => f.direction === d && !shapes.has(shape(f.frame)))
        .map((f) => f.raw);
      expect(unpinned, `${d} frames whose shape no fixture has`).toEqual([]);
      const files = readdirSync(join(FIXTURE_ROOT, d)).map((f) => f.replace(/\.json$/, ""));
      expect(files.sort(), `${d} fixture files (run the whole file to compare)`).toEqual(
        [...pinned[d].keys()].sort(),
      );
    }
  });
});

describe("the legacy client against servers that break the Confab rules", () => {
  // Why some v1 rules exist. These run on a server of their own, and their frames are not
  // fixtures: a Confab server never sends them, or the client sends them only when misused.
  const rogue = new ScriptedServer();
  let rogueChat: LegacyModule;
  beforeAll(async () => {
    await rogue.start();
    rogueChat = loadLegacyClient({ routerUrl: rogue.httpUrl });
  });
  afterAll(() => rogue.stop());
  afterEach(() => expect(rogue.errors).toEqual([]));
  beforeEach(() => rogue.respond(v1(freshScript())));

  const open = async (peerId: string) => {
    const client = rogueChat({ appId: APP, peerId });
    clients.push(client);
    const events = new EventLog(client);
    const conn = rogue.connections.length;
    await client.open();
    return { client, events, conn };
  };

  it("acks a delivery without id with ids [null], so every delivery carries an id", async () => {
    const { conn } = await open("bob");
    const from = rogue.frames.length;
    rogue.push(conn, {
      cmd: "direct",
      peerId: "bob",
      fromPeerId: "alice",
      msg: "hi",
      timestamp: T0,
      transient: true,
    });
    const ack = await rogue.waitForFrame((f) => f.direction === "c2s", { from });
    expect(ack.raw).toBe('{"cmd":"ack","peerId":"bob","appId":"app1","ids":[null]}');
  });

  it("takes an unsolicited room/joined as the reply to its pending join", async () => {
    const script = freshScript();
    script.silent.add("room/join");
    rogue.respond(v1(script));
    const { client, conn } = await open("bob");
    const from = rogue.frames.length;
    const joining = client.joinGroup("g2");
    await rogue.waitForFrame((f) => frameName(f.frame) === "room/join", { from });
    const invitation = {
      cmd: "room",
      op: "joined",
      peerId: "bob",
      roomId: "g1",
      byPeerId: "alice",
    };
    rogue.push(conn, invitation);
    // chat.js matches replies by cmd+op only: being invited to g1 "answers" the join of g2.
    expect(await joining).toEqual(invitation);
  });

  it("sends [null] or nothing for peer lists its signing hooks leave out", async () => {
    // A hook that returns only the signature is an easy mistake: chat.js copies its lists.
    const signatureOnly = async () => ({ s: "0".repeat(40), t: SIGN_T, n: SIGN_N });
    const hooked = rogueChat({
      appId: APP,
      peerId: "carol",
      auth: signatureOnly as unknown as LegacyClientSettings["auth"],
      groupAuth: signatureOnly,
    });
    clients.push(hooked);
    let from = rogue.frames.length;
    await hooked.open();
    const openFrame = await rogue.waitForFrame((f) => frameName(f.frame) === "session/open", {
      from,
    });
    expect(openFrame.frame).not.toHaveProperty("sessionPeerIds");
    from = rogue.frames.length;
    await hooked.inviteToGroup("g1", ["bob"]);
    const invite = await rogue.waitForFrame((f) => frameName(f.frame) === "room/invite", {
      from,
    });
    expect(invite.frame).toMatchObject({ roomPeerIds: [null] });
  });

  it("sends [null] for a recipient it was not given", async () => {
    const { client } = await open("alice");
    const from = rogue.frames.length;
    await client.send("hi", undefined as unknown as string, true);
    const direct = await rogue.waitForFrame((f) => frameName(f.frame) === "direct", { from });
    expect(direct.frame).toMatchObject({ toPeerIds: [null], transient: true });
  });
});

describe("legacy fixtures", () => {
  it("every legacy frame validates against its schema", () => {
    const failures: unknown[] = [];
    let count = 0;
    for (const direction of ["c2s", "s2c"] as const) {
      const dir = join(FIXTURE_ROOT, direction);
      for (const file of readdirSync(dir).filter((f) => f.endsWith(".json"))) {
        const { frame } = JSON.parse(readFileSync(join(dir, file), "utf8")) as Fixture;
        const result = validate(direction, frame);
        const expected = frameName(frame);
        count += 1;
        if (!result.ok || result.name !== expected) {
          failures.push({ fixture: `${direction}/${file}`, expected, result });
        }
      }
    }
    expect(count).toBeGreaterThan(40);
    expect(failures).toEqual([]);
  });
});

describe("loadLegacyClient", () => {
  it("routes each client to the server of the module that made it", async () => {
    const a = new ScriptedServer();
    const b = new ScriptedServer();
    await Promise.all([a.start(), b.start()]);
    try {
      const opened = (frame: unknown) =>
        frameName(frame) === "session/open"
          ? {
              cmd: "session",
              op: "opened",
              peerId: (frame as Frame).peerId,
              onlineSessionPeerIds: [],
            }
          : undefined;
      a.respond(opened);
      b.respond(opened);
      const chatA = loadLegacyClient({ routerUrl: a.httpUrl });
      const chatB = loadLegacyClient({ routerUrl: `${b.httpUrl}/` });
      // One chat.js per process, shared by both modules.
      expect(chatA.AVChatClient).toBe(chatB.AVChatClient);
      const alice = chatA({ appId: APP, peerId: "alice" });
      const bob = chatB({ appId: APP, peerId: "bob", secure: true, server: "us" });
      clients.push(alice, bob);
      // chatB was loaded last, yet alice still reaches a.
      await Promise.all([alice.open(), bob.open()]);
      expect(a.routeRequests).toEqual([
        { url: `/v1/route?appId=${APP}`, appId: APP, secure: false },
      ]);
      expect(b.routeRequests).toEqual([
        { url: `/v1/route?appId=${APP}&secure=1`, appId: APP, secure: true },
      ]);
      expect(a.received.map((f) => (f.frame as Frame).peerId)).toEqual(["alice"]);
      expect(b.received.map((f) => (f.frame as Frame).peerId)).toEqual(["bob"]);
      for (const c of clients.splice(0)) await closeLegacyClient(c);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("rewrites both historical router hosts over http and https, keeping path and query", () => {
    const to = "http://127.0.0.1:4000";
    for (const host of ["router-g0-push.avoscloud.com", "router-a0-push.avoscloud.com"]) {
      for (const scheme of ["http", "https"]) {
        expect(rewriteRouterUrl(`${scheme}://${host}/v1/route?appId=x&secure=1`, to)).toBe(
          `${to}/v1/route?appId=x&secure=1`,
        );
      }
    }
    expect(rewriteRouterUrl("http://example.com/v1/route", to)).toBe("http://example.com/v1/route");
    expect(rewriteRouterUrl("http://router-g0-push.avoscloud.com.evil/x", to)).toBe(
      "http://router-g0-push.avoscloud.com.evil/x",
    );
  });

  it("closes a client that never opened without touching chat.js", async () => {
    const client = chat({ appId: APP, peerId: "alice" });
    await closeLegacyClient(client);
    await closeLegacyClient(client);
  });
});
