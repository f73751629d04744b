/**
 * Cases of chapter 02, sessions, watching and presence: the app a connection binds to,
 * opening, re-opening, closing and ending sessions, super peers, the watch set and the
 * status query, presence, and the server's announcement (`serverInfo`).
 *
 * Over the wire a watch set cannot be read, only observed: a session watches a peer when it
 * hears that peer come online. So a case that asserts "watches exactly W" brings every
 * unwatched candidate online first and the watched ones after, waits for the presence of
 * the watched ones (the positive control), and only then checks that nothing came about
 * the others. A case that asserts that nothing comes at all first makes something come
 * (a sentinel message sent after the event that must stay silent), so that a server that
 * sends nothing cannot pass a negative check.
 * @module
 */
import { conversationId, SPEC_REVISION } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { AppRole, CaseContext, OpenOptions } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";
import {
  APP_HEADER,
  expectCode,
  expectServing,
  type Frame,
  isDelivery,
  requestInvalid,
} from "./support.js";

/** An open session of a case: its connection, its peer and its app. */
interface Session {
  readonly conn: Connection;
  readonly peer: string;
  readonly app: AppRole;
  /** The `session/opened` reply. */
  readonly opened: Frame;
}

/**
 * How long a negative check listens after its positive control arrived, ms. The control
 * has already shown that the server delivers on the connection; this only covers frames
 * that the server sent in another order than the control.
 */
const QUIET_MS = 300;

/** Opens a session of `peer` (a new connection unless `options.on`). */
async function open(ctx: CaseContext, peer: string, options: OpenOptions = {}): Promise<Session> {
  const { conn, opened } = await ctx.open(peer, options);
  return { conn, peer, app: options.app ?? "open", opened };
}

/** Opens a super-peer session of `peer` in the signed app, signed with `:sp` (SIG-SP-1). */
function openSuperPeer(
  ctx: CaseContext,
  peer: string,
  options: OpenOptions = {},
): Promise<Session> {
  return open(ctx, peer, { ...options, app: "signed", superPeer: "sp", extra: { sp: true } });
}

/** A command of `s`: its app and peer, and `frame`. */
function command(ctx: CaseContext, s: Session, frame: Frame): Frame {
  return { appId: ctx.appId(s.app), peerId: s.peer, ...frame };
}

/** Sends a command of `s` with a fresh `i` and takes its answer (none fails `req`). */
function request(ctx: CaseContext, req: string, s: Session, frame: Frame): Promise<Frame> {
  return ctx.request(req, s.conn, command(ctx, s, frame));
}

/** The ids of a list member of a frame (`onlineSessionPeerIds`, `sessionPeerIds`). */
function idsOf(frame: Frame, member: string): string[] {
  const v = frame[member];
  return Array.isArray(v) ? v.map(String) : [];
}

/** `ids` sorted, duplicates removed, for set comparison (SESSION-LIST-2: order is no meaning). */
function asSet(ids: readonly string[]): string[] {
  return [...new Set(ids)].sort();
}

/**
 * Checks the `onlineSessionPeerIds` of a reply: every peer at most once (SESSION-LIST-1),
 * and as a set exactly `expected`, under `req`.
 */
function expectOnline(
  ctx: CaseContext,
  req: string,
  reply: Frame,
  expected: readonly string[],
  what: string,
): void {
  ctx.expect(
    req,
    reply.cmd === "session" && Array.isArray(reply.onlineSessionPeerIds),
    `${what}: not a reply with onlineSessionPeerIds`,
    { expected: "a session reply with onlineSessionPeerIds", actual: describeFrame(reply) },
  );
  const ids = idsOf(reply, "onlineSessionPeerIds");
  ctx.expect(
    "SESSION-LIST-1",
    new Set(ids).size === ids.length,
    `${what}: onlineSessionPeerIds lists a peer more than once`,
    { expected: "each peer once", actual: JSON.stringify(ids) },
  );
  ctx.expectEqual(req, asSet(ids), asSet(expected), `${what}: the online peers (as a set)`);
}

/** Whether `f` is a `presence` frame for the session of `watcher` about `about`. */
function presenceAbout(watcher: string, about: string | readonly string[], status?: "on" | "off") {
  const abouts = typeof about === "string" ? [about] : about;
  return (f: Frame): boolean =>
    f.cmd === "presence" &&
    f.peerId === watcher &&
    (status === undefined || f.status === status) &&
    idsOf(f, "sessionPeerIds").some((p) => abouts.includes(p));
}

/**
 * Waits for the `presence` frame with `status` about `about` for `w` and checks its
 * `sessionPeerIds` is exactly `[about]` (PRESENCE-ON-2, PRESENCE-OFF-1), under `req`.
 */
async function expectPresence(
  ctx: CaseContext,
  req: string,
  w: Session,
  about: string,
  status: "on" | "off",
): Promise<Frame> {
  const f = await ctx.waitFor(
    req,
    w.conn,
    presenceAbout(w.peer, about, status),
    `presence ${status} about ${about} for the session of ${w.peer}`,
  );
  ctx.expectEqual(
    req,
    f.sessionPeerIds,
    [about],
    `the sessionPeerIds of presence ${status} about ${about}`,
  );
  return f;
}

/** Checks under `req` that no `presence` about any of `about` comes to `w` (for QUIET_MS). */
function expectNoPresence(
  ctx: CaseContext,
  req: string,
  w: Session,
  about: string | readonly string[],
  why: string,
): Promise<void> {
  return ctx.expectNone(
    req,
    w.conn,
    presenceAbout(w.peer, about),
    `presence about ${JSON.stringify(about)} to the session of ${w.peer} (${why})`,
    QUIET_MS,
  );
}

/** Sentinels sent per case, for unique peer ids and texts. */
const sentinelCount = new WeakMap<CaseContext, number>();

/**
 * The positive control of a negative check: a transient message, sent from a fresh peer
 * of `w`'s app after the event whose effect must not come, that `w` must receive. Once it
 * has come, the server has shown it delivers to `w`'s connection, and a check that
 * nothing else came is no longer vacuous.
 */
async function sentinel(ctx: CaseContext, w: Session): Promise<void> {
  const n = (sentinelCount.get(ctx) ?? 0) + 1;
  sentinelCount.set(ctx, n);
  // The sender watches w, so that an app that enforces signatures lets it write (DIRECT-PERM-2).
  const from = await open(ctx, ctx.peer(`sentinel${n}`), { app: w.app, watch: [w.peer] });
  const msg = `sentinel ${n}`;
  from.conn.send(command(ctx, from, { cmd: "direct", msg, toPeerIds: [w.peer], transient: true }));
  await ctx.waitFor(
    "DIRECT-DELIVER-1",
    w.conn,
    isDelivery(msg, w.peer),
    `the sentinel message to ${w.peer}`,
  );
}

/**
 * Checks under `req`, by presence, that the session `w` watches every peer of `watched`
 * and none of `unwatched` (all offline so far, none watched by anyone else of the case):
 * brings the unwatched online first, then the watched, waits for the watched ones'
 * `presence` "on", then checks that nothing came about the others. Returns the probe
 * sessions, which keep the peers online.
 */
async function expectWatches(
  ctx: CaseContext,
  req: string,
  w: Session,
  watched: readonly string[],
  unwatched: readonly string[],
): Promise<Session[]> {
  const probes: Session[] = [];
  for (const p of unwatched) probes.push(await open(ctx, p, { app: w.app }));
  for (const p of watched) probes.push(await open(ctx, p, { app: w.app }));
  for (const p of watched) await expectPresence(ctx, req, w, p, "on");
  if (watched.length === 0) await sentinel(ctx, w);
  if (unwatched.length > 0)
    await expectNoPresence(ctx, req, w, unwatched, "a peer it does not watch");
  return probes;
}

/** Sends a persistent `direct` of `s` to `to` and takes its `ack` (ACK-REPLY-1). */
async function sendDirect(
  ctx: CaseContext,
  s: Session,
  to: readonly string[],
  msg: string,
  extra: Frame = {},
): Promise<Frame> {
  const ack = await request(ctx, "ACK-REPLY-1", s, {
    cmd: "direct",
    msg,
    toPeerIds: [...to],
    ...extra,
  });
  ctx.expect("ACK-REPLY-1", ack.cmd === "ack", `the direct "${msg}" was refused`, {
    expected: "ack",
    actual: JSON.stringify(ack).slice(0, 300),
  });
  return ack;
}

/** Waits for the delivery of `msg` to the session `s`, under `req`. */
function expectDelivery(ctx: CaseContext, req: string, s: Session, msg: string): Promise<Frame> {
  return ctx.waitFor(
    req,
    s.conn,
    isDelivery(msg, s.peer),
    `the delivery of "${msg}" to the session of ${s.peer}`,
  );
}

/** A `session/add` of `ids` for `s`, signed when its app enforces signatures (SIG-ENFORCE-1). */
function addFrame(ctx: CaseContext, s: Session, ids: readonly string[]): Frame {
  return {
    cmd: "session",
    op: "add",
    sessionPeerIds: [...ids],
    ...(s.app === "signed" && ctx.sessionSignature({ peerId: s.peer, watchPeerIds: ids })),
  };
}

/** `n` distinct peer ids for a watch list, short enough that 500 fit in a frame. */
function manyIds(ctx: CaseContext, tag: string, from: number, n: number): string[] {
  const base = ctx.peer(tag);
  return Array.from({ length: n }, (_, k) => `${base}.${from + k}`);
}

/** The `serverInfo` of a reply; not applicable when the server announces nothing. */
function serverInfoOf(opened: Frame): Record<string, unknown> {
  const info = opened.serverInfo;
  if (info === undefined || info === null || typeof info !== "object") {
    throw new NotApplicable(
      "the server sends no serverInfo in session/opened (SESSION-INFO-1 is a SHOULD)",
    );
  }
  return info as Record<string, unknown>;
}

/** Whether `feature` is announced as in force (a missing member is not: SESSION-INFO-3). */
function announces(info: Record<string, unknown>, feature: string): boolean {
  const features = info.features as Record<string, unknown> | undefined;
  return features?.[feature] === true;
}

/**
 * The members of `serverInfo.limits` that Table 9 requires in every announcement, and the
 * value each must have where the table fixes it ("fixed": every deployment and every
 * server under test applies the spec's value, so only that value can be the one applied).
 */
const ANNOUNCED_LIMITS: Readonly<Record<string, number | undefined>> = {
  msgBytes: 5120,
  frameBytes: 65536,
  idLength: 64,
  idsPerArray: 500,
  roomMembers: 500,
  pageLimit: 1000,
  pageLimitDefault: 100,
  pageBytes: 1047552,
  signatureWindowS: 300,
  watchPerSession: undefined,
  sessionsPerConnection: undefined,
  watchPerConnection: undefined,
  offlineCount: undefined,
  offlineAgeMs: undefined,
  readTimeoutMs: undefined,
  loginTimeoutMs: undefined,
};

/**
 * Probes whether a feature of Table 10 is in force for the open app (or, for `super-peer`,
 * the signed app), by the behaviour that defines it: `true` when the server did it.
 */
type FeatureProbe = (ctx: CaseContext) => Promise<{ observed: boolean; opened: Frame }>;

/** How long a probe waits for the frame that shows a feature, ms. */
const PROBE_MS = 1_500;

/** Waits up to `ms` for a frame; `undefined` when none came. */
function maybe(
  conn: Connection,
  predicate: (f: Frame) => boolean,
  ms = PROBE_MS,
): Promise<Frame | undefined> {
  return conn.waitFor(predicate, ms).then(
    (f) => f,
    () => undefined,
  );
}

/** The probes of SESSION-INFO-3, by feature name (Table 10). */
const FEATURE_PROBES: Readonly<Record<string, FeatureProbe>> = {
  // echo: the sender's other sessions that asked for it get the message (ECHO-OTHER-2).
  echo: async (ctx) => {
    const alice = ctx.peer("alice");
    const mirror = await open(ctx, alice, { echo: true });
    const sender = await open(ctx, alice);
    const bob = await open(ctx, ctx.peer("bob"));
    await sendDirect(ctx, sender, [bob.peer], "echo probe");
    await expectDelivery(ctx, "DIRECT-DELIVER-1", bob, "echo probe");
    const echo = await maybe(mirror.conn, isDelivery("echo probe"));
    return { observed: echo !== undefined, opened: mirror.opened };
  },
  // offline: a message to an offline peer is delivered after its next open (OFFLINE-OPEN-1).
  offline: async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const carol = ctx.peer("carol");
    await sendDirect(ctx, alice, [carol], "offline probe");
    const c = await open(ctx, carol);
    const got = await maybe(
      c.conn,
      (f) => f.cmd === "direct" && f.msg === "offline probe" && f.offline === true,
    );
    return { observed: got !== undefined, opened: alice.opened };
  },
  // receipts: the sender of r: true gets an rcp once the recipient acknowledges (RECEIPT-SEND-1).
  receipts: async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const bob = await open(ctx, ctx.peer("bob"));
    const ack = await sendDirect(ctx, alice, [bob.peer], "receipt probe", { r: true });
    const got = await expectDelivery(ctx, "DIRECT-DELIVER-1", bob, "receipt probe");
    bob.conn.send(command(ctx, bob, { cmd: "ack", ids: [got.id] }));
    const rcp = await maybe(alice.conn, (f) => f.cmd === "rcp" && f.id === ack.uid);
    return { observed: rcp !== undefined, opened: alice.opened };
  },
  // history: the socket logs command is answered with logs/result (LOGS-SOCKET-1).
  history: async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const bob = ctx.peer("bob");
    await sendDirect(ctx, alice, [bob], "history probe");
    const reply = await request(ctx, "SERIAL-REPLY-1", alice, {
      cmd: "logs",
      cid: conversationId([alice.peer, bob]),
    });
    return { observed: reply.cmd === "logs" && reply.op === "result", opened: alice.opened };
  },
  // rest-history: GET /1.1/rtm/messages/logs is served for the app (REST-OK-1).
  "rest-history": async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const bob = ctx.peer("bob");
    await sendDirect(ctx, alice, [bob], "rest probe");
    const res = await ctx.http(
      "REST-OK-1",
      `/1.1/rtm/messages/logs?convid=${conversationId([alice.peer, bob])}`,
      {
        headers: { [APP_HEADER]: ctx.appId() },
      },
    );
    // An app with a master key answers 401 without it (REST-AUTH-1): served all the same.
    const served =
      res.status === 200 || (res.status === 401 && (res.json as Frame | undefined)?.code === 4102);
    return { observed: served, opened: alice.opened };
  },
  // room-query: a member's room/query is answered with room/query-result (ROOM-QUERY-1).
  "room-query": async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const joined = await request(ctx, "SERIAL-REPLY-1", alice, { cmd: "room", op: "join" });
    if (joined.cmd !== "room" || typeof joined.roomId !== "string") {
      throw new NotApplicable(`the server does not create groups (${describeFrame(joined)})`);
    }
    const reply = await request(ctx, "SERIAL-REPLY-1", alice, {
      cmd: "room",
      op: "query",
      roomId: joined.roomId,
    });
    return { observed: reply.cmd === "room" && reply.op === "query-result", opened: alice.opened };
  },
  // room-list: room/list is answered with room/list-result (ROOM-LIST-1).
  "room-list": async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const reply = await request(ctx, "SERIAL-REPLY-1", alice, { cmd: "room", op: "list" });
    return { observed: reply.cmd === "room" && reply.op === "list-result", opened: alice.opened };
  },
  // rest-rooms: GET /1.1/rtm/peers/{peerId}/rooms is served for the app (REST-ROOMS-7).
  "rest-rooms": async (ctx) => {
    const alice = await open(ctx, ctx.peer("alice"));
    const res = await ctx.http(
      "REST-ROOMS-7",
      `/1.1/rtm/peers/${encodeURIComponent(alice.peer)}/rooms`,
      {
        headers: { [APP_HEADER]: ctx.appId() },
      },
    );
    const served =
      res.status === 200 || (res.status === 401 && (res.json as Frame | undefined)?.code === 4102);
    return { observed: served, opened: alice.opened };
  },
  // super-peer: in an app that enforces signatures, an sp session writes to peers it does
  // not watch (SUPERPEER-OPEN-1, SUPERPEER-SEND-1); the signed app's own announcement counts.
  "super-peer": async (ctx) => {
    // The announcement comes from a plain session of the signed app, so that a server that
    // refuses sp: true is still graded on what it announces.
    const { opened } = await open(ctx, ctx.peer("plain"), { app: "signed" });
    const bob = ctx.peer("bob");
    const conn = await ctx.connect();
    const frame: Frame = {
      cmd: "session",
      op: "open",
      appId: ctx.appId("signed"),
      peerId: ctx.peer("bot"),
      sp: true,
      ...ctx.sessionSignature({ peerId: ctx.peer("bot"), superPeer: "sp" }),
    };
    const reply = await ctx.request("SERIAL-REPLY-1", conn, frame);
    if (reply.op !== "opened") return { observed: false, opened };
    const bot: Session = { conn, peer: ctx.peer("bot"), app: "signed", opened: reply };
    const sent = await request(ctx, "SERIAL-REPLY-1", bot, {
      cmd: "direct",
      msg: "sp probe",
      toPeerIds: [bob],
    });
    return { observed: sent.cmd === "ack", opened };
  },
};

/** The SESSION-INFO-3 case of one feature. */
function featureCase(feature: string, probe: FeatureProbe): ServerCase {
  return defineCase({
    name: `session/info/feature-${feature}-as-announced`,
    requirements: ["SESSION-INFO-3"],
    ...(feature.startsWith("room-") && { features: ["groups"] }),
    async run(ctx) {
      const { observed, opened } = await probe(ctx);
      const info = serverInfoOf(opened);
      const announced = announces(info, feature);
      // [SESSION-INFO-3] true exactly for the features in force: a feature announced and not
      // working misleads every client and kit that trusts it; one working and not announced
      // is left untested and unused.
      ctx.expect(
        "SESSION-INFO-3",
        announced === observed,
        announced
          ? `the server announces ${feature} in force, but does not do what Table 10 says of it`
          : `the server does what Table 10 says of ${feature}, but does not announce it in force`,
        {
          expected: `features.${feature}: ${observed}`,
          actual: `features.${feature}: ${JSON.stringify((info.features as Frame | undefined)?.[feature])}`,
        },
      );
    },
  });
}

/** The sessions cases. */
export const CASES: readonly ServerCase[] = [
  // 2.1 Connections, apps and sessions
  defineCase({
    name: "session/app/binds-to-first-command",
    requirements: ["SESSION-APP-1"],
    async run(ctx) {
      const signedApp = ctx.appId("signed");
      const alice = ctx.peer("alice");
      // The first command binds the connection even when it fails: a query without a session
      // (4105) binds this connection to the open app [SESSION-APP-1].
      const c = await ctx.connect();
      const query = await ctx.request("SESSION-REQUIRED-1", c, {
        cmd: "session",
        op: "query",
        appId: ctx.appId(),
        peerId: alice,
        sessionPeerIds: [],
      });
      ctx.expectError("SESSION-REQUIRED-1", query, 4105, query.i as number);
      // A correctly signed open of the signed app now names another app: 4100.
      const other = await ctx.request("SESSION-APP-1", c, {
        cmd: "session",
        op: "open",
        appId: signedApp,
        peerId: alice,
        ...ctx.sessionSignature({ peerId: alice }),
      });
      ctx.expect(
        "SESSION-APP-1",
        other.cmd === "error" && other.code === 4100,
        "the connection was not bound to the app of its first command",
        {
          expected:
            "error 4100: the connection is bound to the open app by its first command, a failed session/query",
          actual: describeFrame(other),
        },
      );
      const opened = await ctx.request("SESSION-APP-1", c, {
        cmd: "session",
        op: "open",
        appId: ctx.appId(),
        peerId: alice,
      });
      ctx.expect(
        "SESSION-APP-1",
        opened.op === "opened",
        "a session/open of the connection's own app failed",
        {
          expected: "session/opened",
          actual: describeFrame(opened),
        },
      );
      // A successful first command binds as well: the signed app's open then gets 4100.
      const bob = ctx.peer("bob");
      const d = await open(ctx, bob);
      const third = await ctx.request("SESSION-APP-1", d.conn, {
        cmd: "session",
        op: "open",
        appId: signedApp,
        peerId: ctx.peer("carol"),
        ...ctx.sessionSignature({ peerId: ctx.peer("carol") }),
      });
      ctx.expectError("SESSION-APP-1", third, 4100, third.i as number);
    },
  }),
  defineCase({
    name: "session/app/closes-on-unknown-app",
    requirements: ["SESSION-APP-2", "ERROR-CLOSE-4"],
    async run(ctx) {
      const unknown = ctx.target.apps.unknown;
      const alice = ctx.peer("alice");
      // Each first command names no app the server serves: app ids that are malformed or
      // missing (LIMIT-APPID-1: they name no app, on any server) and, when the target names
      // one, a well-formed unknown app, with and without i, and a command other than open.
      const firsts: { frame: Frame; why?: string }[] = [
        {
          frame: { cmd: "session", op: "open", appId: "bad app", peerId: alice, i: 3 },
          why: "a malformed appId",
        },
        { frame: { cmd: "session", op: "open", appId: "", peerId: alice }, why: "an empty appId" },
        { frame: { cmd: "session", op: "open", peerId: alice, i: 4 }, why: "no appId" },
      ];
      if (unknown !== undefined) {
        firsts.push(
          { frame: { cmd: "session", op: "open", appId: unknown, peerId: alice, i: 1 } },
          { frame: { cmd: "session", op: "open", appId: unknown, peerId: alice } },
          {
            frame: {
              cmd: "session",
              op: "query",
              appId: unknown,
              peerId: alice,
              sessionPeerIds: [],
              i: 2,
            },
          },
        );
      }
      for (const { frame, why } of firsts) {
        const c = await ctx.connect();
        if (why === undefined) c.send(frame);
        else c.sendInvalid(frame, why);
        // [ERROR-CLOSE-4] the error frame with the same code comes just before the close.
        const e = await ctx.waitFor(
          "ERROR-CLOSE-4",
          c,
          (f) => f.cmd === "error",
          `the error frame before the close (${describeFrame(frame)})`,
        );
        ctx.expectEqual(
          "ERROR-CLOSE-4",
          e.code,
          4100,
          "the code of the error frame before the close",
        );
        await ctx.expectClose("SESSION-APP-2", c, 4100);
      }
      // A first command that awaits no reply gets the close only (SERIAL-LEGACY-2), still 4100.
      const c = await ctx.connect();
      const ack = { cmd: "ack", appId: unknown ?? "bad app", peerId: alice, ids: ["m1"] };
      if (unknown !== undefined) c.send(ack);
      else c.sendInvalid(ack, "a malformed appId");
      await ctx.expectClose("SESSION-APP-2", c, 4100);
    },
  }),
  defineCase({
    name: "session/app/disabled-app-as-unknown",
    requirements: ["SESSION-APP-7", "SESSION-APP-2"],
    async run(ctx) {
      const disabled = ctx.appId("disabled");
      const alice = ctx.peer("alice");
      // As the first command, with and without i: the error frame, then the close with 4100.
      for (const frame of [
        { cmd: "session", op: "open", appId: disabled, peerId: alice, i: 1 },
        { cmd: "session", op: "open", appId: disabled, peerId: alice },
      ]) {
        const c = await ctx.connect();
        c.send(frame);
        const e = await ctx.waitFor(
          "SESSION-APP-7",
          c,
          (f) => f.cmd === "error",
          "the error frame of a disabled app",
        );
        ctx.expectEqual("SESSION-APP-7", e.code, 4100, "the code for a disabled app");
        await ctx.expectClose("SESSION-APP-7", c, 4100);
      }
      // The router answers for it as for an unknown app: 404 and code 4100 (ROUTER-APP-1).
      const route = await ctx.http(
        "SESSION-APP-7",
        `/v1/route?appId=${encodeURIComponent(disabled)}`,
      );
      ctx.expectEqual(
        "SESSION-APP-7",
        [route.status, (route.json as Frame | undefined)?.code],
        [404, 4100],
        "the router's answer for a disabled app",
      );
      // The REST history endpoint too (REST-APP-2), when the server serves it at all.
      const rest = await ctx.http("SESSION-APP-7", "/1.1/rtm/messages/logs?convid=x", {
        headers: { [APP_HEADER]: disabled },
      });
      if (ctx.target.features["rest-history"] === true) {
        ctx.expectEqual(
          "SESSION-APP-7",
          [rest.status, (rest.json as Frame | undefined)?.code],
          [404, 4100],
          "the REST history answer for a disabled app",
        );
      }
      const unknown = ctx.target.apps.unknown;
      if (unknown !== undefined) {
        const restUnknown = await ctx.http("SESSION-APP-7", "/1.1/rtm/messages/logs?convid=x", {
          headers: { [APP_HEADER]: unknown },
        });
        ctx.expectEqual(
          "SESSION-APP-7",
          [rest.status, (rest.json as Frame | undefined)?.code],
          [restUnknown.status, (restUnknown.json as Frame | undefined)?.code],
          "the REST answer for a disabled app against that for an unknown app",
        );
      }
    },
  }),
  defineCase({
    name: "session/app/other-app-fails-4100-keeps-connection",
    requirements: ["SESSION-APP-3", "ERROR-FRAME-2"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      const query = { cmd: "session", op: "query", peerId: alice.peer, sessionPeerIds: [] };
      // Another served app, an unknown one: well-formed app ids that are not this connection's.
      const others = [
        ctx.target.apps.signed?.appId,
        ctx.target.apps.unknown,
        "kit-other-app",
      ].filter((a): a is string => a !== undefined);
      for (const appId of others) {
        const e = await ctx.request("SESSION-APP-3", alice.conn, { ...query, appId });
        ctx.expectError("SESSION-APP-3", e, 4100, e.i as number);
      }
      // Malformed and missing app ids name no app: 4100 too, as the schema's annotation says.
      for (const [frame, why] of [
        [{ ...query, appId: "bad app" }, "a malformed appId"],
        [query, "no appId"],
      ] as const) {
        const e = await requestInvalid(ctx, "SESSION-APP-3", alice.conn, frame, why);
        ctx.expectError("SESSION-APP-3", e, ctx.expectedCode(frame), e.i as number);
      }
      // A legacy open naming another app, on a connection with a session: the error, no close.
      alice.conn.send({
        cmd: "session",
        op: "open",
        appId: others[0] ?? "kit-other-app",
        peerId: ctx.peer("bob"),
      });
      const e = await ctx.waitFor(
        "SESSION-APP-3",
        alice.conn,
        (f) => f.cmd === "error",
        "the error frame of a legacy open of another app",
      );
      ctx.expectError("SESSION-APP-3", e, 4100);
      // The connection and its session are still there.
      const r = await request(ctx, "SESSION-APP-3", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [alice.peer],
      });
      ctx.expect(
        "SESSION-APP-3",
        r.op === "query-result",
        "the session did not survive commands of another app",
        {
          expected: "session/query-result",
          actual: describeFrame(r),
        },
      );
    },
  }),
  defineCase({
    name: "session/app/keeps-apps-apart",
    requirements: ["SESSION-APP-5"],
    async run(ctx) {
      ctx.appId("signed");
      // The same peer ids in the open app (A) and the signed app (B).
      const w = ctx.peer("w");
      const x = ctx.peer("x");
      const y = ctx.peer("y");
      const s = ctx.peer("s");
      const wA = await open(ctx, w, { watch: [x] });
      const wB = await open(ctx, w, { app: "signed", watch: [x] });
      // Presence: x comes online in B only; B's watcher hears it, A's must not.
      await open(ctx, x, { app: "signed" });
      await expectPresence(ctx, "PRESENCE-ON-2", wB, x, "on");
      const q = await request(ctx, "SESSION-APP-5", wA, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [x],
      });
      expectOnline(
        ctx,
        "SESSION-APP-5",
        q,
        [],
        "session/query-result in app A for a peer online in app B only",
      );
      // Messages: B's sender writes to w and to the offline y (it watches both: DIRECT-PERM-2).
      const sB = await open(ctx, s, { app: "signed", watch: [w, y] });
      await sendDirect(ctx, sB, [w], "for w of app B");
      await expectDelivery(ctx, "DIRECT-DELIVER-1", wB, "for w of app B");
      const sA = await open(ctx, s);
      await sendDirect(ctx, sA, [w], "for w of app A");
      await expectDelivery(ctx, "DIRECT-DELIVER-1", wA, "for w of app A");
      await ctx.expectNone(
        "SESSION-APP-5",
        wA.conn,
        isDelivery("for w of app B"),
        "app B's message in app A",
        QUIET_MS,
      );
      await expectNoPresence(ctx, "SESSION-APP-5", wA, x, "x is online in app B only");
      // Offline messages: y's pending message of B is not delivered to y's session in A.
      if (ctx.target.features.offline === true) {
        await sendDirect(ctx, sB, [y], "pending for y of app B");
        const yA = await open(ctx, y);
        const yB = await open(ctx, y, { app: "signed" });
        await expectDelivery(ctx, "OFFLINE-OPEN-1", yB, "pending for y of app B");
        await ctx.expectNone(
          "SESSION-APP-5",
          yA.conn,
          (f) => f.cmd === "direct",
          "app B's pending message in app A",
          QUIET_MS,
        );
      }
      // History: the conversation of s and w in A holds A's message only.
      if (ctx.target.features.history === true) {
        const logs = await request(ctx, "SESSION-APP-5", wA, {
          cmd: "logs",
          cid: conversationId([s, w]),
        });
        const items = Array.isArray(logs.logs) ? (logs.logs as Frame[]) : [];
        ctx.expect(
          "SESSION-APP-5",
          !items.some((it) => it.data === "for w of app B"),
          "app B's message is in app A's history",
          {
            expected: "no item of app B",
            actual: JSON.stringify(items.map((it) => it.data)),
          },
        );
      }
    },
  }),
  defineCase({
    name: "session/multi/several-peers-on-one-connection",
    requirements: ["SESSION-MULTI-1"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      const bob = await open(ctx, ctx.peer("bob"), { on: alice.conn });
      const carol = await open(ctx, ctx.peer("carol"));
      await sendDirect(ctx, carol, [alice.peer, bob.peer], "to both");
      // Both sessions are open at once: each gets its own delivery, with its own peerId.
      await expectDelivery(ctx, "SESSION-MULTI-1", alice, "to both");
      await expectDelivery(ctx, "SESSION-MULTI-1", bob, "to both");
      for (const s of [alice, bob]) {
        const r = await request(ctx, "SESSION-MULTI-1", s, {
          cmd: "session",
          op: "query",
          sessionPeerIds: [alice.peer, bob.peer],
        });
        expectOnline(
          ctx,
          "SESSION-MULTI-1",
          r,
          [alice.peer, bob.peer],
          `session/query-result of ${s.peer}`,
        );
      }
    },
  }),
  defineCase({
    name: "session/multi/one-peer-on-several-connections",
    requirements: ["SESSION-MULTI-2"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const devices = [await open(ctx, alice), await open(ctx, alice), await open(ctx, alice)];
      const bob = await open(ctx, ctx.peer("bob"));
      await sendDirect(ctx, bob, [alice], "to every device");
      for (const d of devices) await expectDelivery(ctx, "SESSION-MULTI-2", d, "to every device");
    },
  }),
  defineCase({
    name: "session/required/answers-4105-without-session",
    requirements: ["SESSION-REQUIRED-1", "ERROR-FRAME-2"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      // bob's session is on another connection: it does not count on this one.
      const bob = await open(ctx, ctx.peer("bob"));
      const commands: Frame[] = [
        { cmd: "session", op: "add", sessionPeerIds: [alice.peer] },
        { cmd: "session", op: "remove", sessionPeerIds: [alice.peer] },
        { cmd: "session", op: "query", sessionPeerIds: [alice.peer] },
        { cmd: "session", op: "close" },
        { cmd: "direct", msg: "m", toPeerIds: [alice.peer] },
        { cmd: "direct", msg: "m", toPeerIds: [alice.peer], transient: true },
        { cmd: "ack", ids: ["m1"] },
      ];
      const f = ctx.target.features;
      if (f.groups === true) {
        commands.push(
          { cmd: "room", op: "join" },
          { cmd: "room", op: "invite", roomId: "g1", roomPeerIds: [alice.peer] },
          { cmd: "room", op: "kick", roomId: "g1", roomPeerIds: [alice.peer] },
          { cmd: "room", op: "leave", roomId: "g1" },
        );
        if (f["room-query"] === true) commands.push({ cmd: "room", op: "query", roomId: "g1" });
        if (f["room-list"] === true) commands.push({ cmd: "room", op: "list" });
      }
      if (f.history === true)
        commands.push({ cmd: "logs", cid: conversationId([alice.peer, bob.peer]) });
      for (const frame of commands) {
        const e = await ctx.request("SESSION-REQUIRED-1", alice.conn, {
          appId: ctx.appId(),
          peerId: bob.peer,
          ...frame,
        });
        ctx.expectError("SESSION-REQUIRED-1", e, 4105, e.i as number);
      }
      // A connection bound to the app that holds no session at all.
      const c = await ctx.connect();
      const e = await ctx.request("SESSION-REQUIRED-1", c, {
        cmd: "session",
        op: "query",
        appId: ctx.appId(),
        peerId: bob.peer,
        sessionPeerIds: [],
      });
      ctx.expectError("SESSION-REQUIRED-1", e, 4105, e.i as number);
    },
  }),

  // 2.2 Opening a session
  defineCase({
    name: "session/open/invalid-peer-id-4103",
    requirements: ["SESSION-OPEN-1"],
    async run(ctx) {
      const c = await ctx.connect();
      const bad: [unknown, string][] = [
        ["", "an empty peerId"],
        ["a".repeat(65), "65 code points"],
        ["😀".repeat(65), "65 code points of 2 UTF-16 units"],
        ["a:b", "a colon"],
        ["a\u0000", "U+0000"],
        ["tab\there", "a tab"],
        ["del\u007f", "U+007F"],
        [5, "a number"],
        [null, "null"],
        [["a"], "an array"],
        ["\ud800", "an unpaired high surrogate"],
        ["x\udc00y", "an unpaired low surrogate"],
      ];
      const frames: [Frame, string][] = [
        ...bad.map(([peerId, why]): [Frame, string] => [
          { cmd: "session", op: "open", appId: ctx.appId(), peerId },
          why,
        ]),
        [{ cmd: "session", op: "open", appId: ctx.appId() }, "no peerId"],
      ];
      for (const [frame, why] of frames) {
        // The schema's annotation gives every failure of this peerId 4103 (FRAME-SCHEMA-4).
        const code = ctx.expectedCode(frame);
        if (code !== 4103)
          throw new HarnessError(
            `the schemas give ${why} code ${code}, not the 4103 of SESSION-OPEN-1`,
          );
        const e = await requestInvalid(ctx, "SESSION-OPEN-1", c, frame, why);
        expectCode(ctx, "SESSION-OPEN-1", e, 4103, `a session/open with ${why}`);
      }
      // The positive control: a valid peer id of 64 code points opens on the same connection.
      const id = ctx.peer("z");
      await open(ctx, id + "😀".repeat(64 - [...id].length), { on: c });
    },
  }),
  defineCase({
    name: "session/open/lists-online-watched-peers",
    requirements: ["SESSION-OPEN-2", "SESSION-LIST-1"],
    async run(ctx) {
      const bob = ctx.peer("bob");
      const dave = ctx.peer("dave");
      await open(ctx, bob);
      await open(ctx, bob); // two sessions, still one peer
      await open(ctx, dave);
      const [carol, erin] = [ctx.peer("carol"), ctx.peer("erin")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [bob, carol, bob, dave, erin] });
      expectOnline(
        ctx,
        "SESSION-OPEN-2",
        alice.opened,
        [bob, dave],
        "session/opened watching bob, carol, bob, dave, erin",
      );
      const zed = await open(ctx, ctx.peer("zed"), { watch: [] });
      expectOnline(ctx, "SESSION-OPEN-2", zed.opened, [], "session/opened without sessionPeerIds");
    },
  }),
  defineCase({
    name: "session/open/sets-watch-set",
    requirements: ["SESSION-OPEN-3"],
    async run(ctx) {
      const [x, y, z] = [ctx.peer("x"), ctx.peer("y"), ctx.peer("z")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x, y, x, y] });
      // Absent sessionPeerIds means an empty watch set: yan, on the same connection, hears nothing.
      const yan = await open(ctx, ctx.peer("yan"), { on: alice.conn });
      await expectWatches(ctx, "SESSION-OPEN-3", alice, [x, y], [z]);
      await expectNoPresence(
        ctx,
        "SESSION-OPEN-3",
        yan,
        [x, y, z],
        "a session opened without sessionPeerIds",
      );
    },
  }),
  defineCase({
    name: "session/open/legacy-failure-closes-with-its-code",
    requirements: ["SESSION-OPEN-4", "SESSION-OPEN-1", "FRAME-SCHEMA-4", "SIG-ENFORCE-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const base = { cmd: "session", op: "open", appId: ctx.appId(), peerId: alice };
      // Legacy opens (no i) that fail on a connection without a session, each with its code.
      const failures: { frame: Frame; why: string; code: number; req: string }[] = [
        {
          frame: { ...base, peerId: "" },
          why: "an empty peerId",
          code: 4103,
          req: "SESSION-OPEN-1",
        },
        {
          frame: { ...base, sessionPeerIds: "bob" },
          why: "sessionPeerIds not an array",
          code: 0,
          req: "FRAME-SCHEMA-4",
        },
        {
          frame: { ...base, sessionPeerIds: manyIds(ctx, "w", 0, 501) },
          why: "501 sessionPeerIds",
          code: 0,
          req: "FRAME-SCHEMA-4",
        },
      ];
      for (const f of failures) if (f.code === 0) f.code = ctx.expectedCode(f.frame);
      if (ctx.target.apps.signed !== undefined) {
        // A well-formed open without a signature in an app that enforces them: 4102.
        failures.push({
          frame: { ...base, appId: ctx.appId("signed") },
          why: "no signature",
          code: 4102,
          req: "SIG-ENFORCE-1",
        });
      }
      for (const { frame, why, code, req } of failures) {
        const c = await ctx.connect();
        c.sendInvalid(frame, why);
        const e = await ctx.waitFor(
          "SESSION-OPEN-4",
          c,
          (f) => f.cmd === "error",
          `the error frame of a failed legacy open (${why})`,
        );
        ctx.expectEqual(req, e.code, code, `the code of a legacy open with ${why}`);
        // [SESSION-OPEN-4] then the close, with the same code as the frame, whatever it is.
        await ctx.expectClose("SESSION-OPEN-4", c, e.code as number);
      }
      // An earlier failed open with i left the connection open and without a session: a
      // legacy failure then still closes it.
      const c = await ctx.connect();
      const first = await requestInvalid(
        ctx,
        "SESSION-OPEN-5",
        c,
        { ...base, peerId: "" },
        "an empty peerId",
      );
      ctx.expectError("SESSION-OPEN-1", first, 4103, first.i as number);
      c.sendInvalid({ ...base, peerId: "a:b" }, "a colon in peerId");
      const e = await ctx.waitFor(
        "SESSION-OPEN-4",
        c,
        (f) => f.cmd === "error" && f.i === undefined,
        "the error frame of a failed legacy open",
      );
      await ctx.expectClose("SESSION-OPEN-4", c, e.code as number);
    },
  }),
  defineCase({
    name: "session/open/legacy-failure-with-session-keeps-connection",
    requirements: ["ERROR-SURVIVE-1", "SESSION-OPEN-4"],
    async run(ctx) {
      // The connection holds alice's session: SESSION-OPEN-4 does not apply to bob's failure.
      const alice = await open(ctx, ctx.peer("alice"));
      const frame = {
        cmd: "session",
        op: "open",
        appId: ctx.appId(),
        peerId: ctx.peer("bob"),
        sessionPeerIds: "x",
      };
      alice.conn.sendInvalid(frame, "sessionPeerIds not an array");
      const e = await ctx.waitFor(
        "ERROR-SURVIVE-1",
        alice.conn,
        (f) => f.cmd === "error",
        "the error frame of bob's failed legacy open",
      );
      ctx.expectError("ERROR-SURVIVE-1", e, ctx.expectedCode(frame));
      await expectServing(
        ctx,
        "ERROR-SURVIVE-1",
        alice.conn,
        "after a failed legacy open on a connection with a session",
      );
      const r = await request(ctx, "ERROR-SURVIVE-1", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [],
      });
      ctx.expect(
        "ERROR-SURVIVE-1",
        r.op === "query-result",
        "alice's session did not survive bob's failed open",
        {
          expected: "session/query-result",
          actual: describeFrame(r),
        },
      );
    },
  }),
  defineCase({
    name: "session/open/failure-with-i-keeps-connection",
    requirements: ["SESSION-OPEN-5", "SERIAL-INVALID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const base = { cmd: "session", op: "open", appId: ctx.appId(), peerId: alice };
      const c = await ctx.connect();
      for (const [frame, why] of [
        [{ ...base, peerId: "" }, "an empty peerId"],
        [{ ...base, sessionPeerIds: manyIds(ctx, "w", 0, 501) }, "501 sessionPeerIds"],
        [{ ...base, sessionPeerIds: "bob" }, "sessionPeerIds not an array"],
      ] as const) {
        const e = await requestInvalid(ctx, "SESSION-OPEN-5", c, frame, why);
        ctx.expectError("SESSION-OPEN-5", e, ctx.expectedCode(frame), e.i as number);
        await expectServing(ctx, "SESSION-OPEN-5", c, `after a failed open with i (${why})`);
      }
      // An i that is present but invalid still makes a modern command: 4114 without i, no close.
      for (const i of [-1, "7", 2147483648]) {
        c.sendInvalid({ ...base, i }, `i ${JSON.stringify(i)}`);
        const e = await ctx.waitFor(
          "SERIAL-INVALID-1",
          c,
          (f) => f.cmd === "error",
          `the error for i ${JSON.stringify(i)}`,
        );
        ctx.expectError("SERIAL-INVALID-1", e, 4114);
        ctx.expect(
          "SERIAL-INVALID-1",
          e.i === undefined,
          "the error for an invalid i carries an i",
          {
            expected: "no i",
            actual: `i=${JSON.stringify(e.i)}`,
          },
        );
        await expectServing(
          ctx,
          "SESSION-OPEN-5",
          c,
          `after a session/open with i ${JSON.stringify(i)}`,
        );
      }
      // In an app that enforces signatures, a well-formed open without one (4102).
      if (ctx.target.apps.signed !== undefined) {
        const d = await ctx.connect();
        const e = await ctx.request("SESSION-OPEN-5", d, { ...base, appId: ctx.appId("signed") });
        ctx.expectError("SIG-ENFORCE-1", e, 4102, e.i as number);
        await open(ctx, alice, { app: "signed", on: d });
      }
      // And the connection still opens a session.
      await open(ctx, alice, { on: c });
    },
  }),
  defineCase({
    name: "session/open/failure-publishes-nothing",
    requirements: ["SESSION-OPEN-6"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const carol = ctx.peer("carol");
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      const offline = ctx.target.features.offline === true;
      if (offline) await sendDirect(ctx, bob, [alice], "pending for alice");
      // Failed opens of alice, each watching carol (the schema refuses each).
      const c = await ctx.connect();
      const base = { cmd: "session", op: "open", appId: ctx.appId(), peerId: alice };
      for (const [frame, why] of [
        [{ ...base, sessionPeerIds: [carol, "bad:id"] }, "an invalid id in sessionPeerIds"],
        [{ ...base, sessionPeerIds: [carol, ...manyIds(ctx, "w", 0, 500)] }, "501 sessionPeerIds"],
        [{ ...base, sessionPeerIds: [carol], echo: "yes" }, "echo not a boolean"],
      ] as const) {
        const e = await requestInvalid(ctx, "SESSION-OPEN-6", c, frame, why);
        ctx.expect("SESSION-OPEN-6", e.cmd === "error", `a session/open with ${why} did not fail`, {
          expected: "an error frame",
          actual: describeFrame(e),
        });
      }
      // No watch set: carol coming online is news for nobody on c.
      await open(ctx, carol);
      // Alice is not online, and no presence was published for her.
      const q = await request(ctx, "SESSION-OPEN-6", bob, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [alice],
      });
      expectOnline(
        ctx,
        "SESSION-OPEN-6",
        q,
        [],
        "session/query-result for alice after her failed opens",
      );
      await sentinel(ctx, bob);
      await expectNoPresence(ctx, "SESSION-OPEN-6", bob, alice, "her session/open failed");
      await ctx.expectNone(
        "SESSION-OPEN-6",
        c,
        (f) => f.cmd !== "error",
        "frames (presence, deliveries) after failed opens",
        QUIET_MS,
      );
      // The positive control: a successful open does publish, watch and deliver.
      const a = await open(ctx, alice, { on: c, watch: [carol] });
      expectOnline(
        ctx,
        "SESSION-OPEN-2",
        a.opened,
        [carol],
        "session/opened of the successful open",
      );
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      if (offline) await expectDelivery(ctx, "OFFLINE-OPEN-1", a, "pending for alice");
    },
  }),
  defineCase({
    name: "session/open/unsigned-failure-publishes-nothing",
    requirements: ["SESSION-OPEN-6"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const carol = ctx.peer("carol");
      const bob = await open(ctx, ctx.peer("bob"), { app: "signed", watch: [alice] });
      const offline = ctx.target.features.offline === true;
      if (offline) await sendDirect(ctx, bob, [alice], "pending for alice");
      const c = await ctx.connect();
      const base = {
        cmd: "session",
        op: "open",
        appId: ctx.appId("signed"),
        peerId: alice,
        sessionPeerIds: [carol],
      };
      // Signature failures (4102): none, one for another watch list, an expired one.
      for (const [extra, why] of [
        [{}, "no signature"],
        [
          ctx.sessionSignature({ peerId: alice, watchPeerIds: [ctx.peer("dave")] }),
          "a signature of another watch list",
        ],
        [
          ctx.sessionSignature({
            peerId: alice,
            watchPeerIds: [carol],
            t: ctx.nowSeconds() - 3600,
          }),
          "a signature an hour old",
        ],
      ] as const) {
        const e = await ctx.request("SESSION-OPEN-6", c, { ...base, ...extra });
        expectCode(ctx, "SESSION-OPEN-6", e, 4102, `a session/open with ${why}`);
      }
      await open(ctx, carol, { app: "signed" });
      const q = await request(ctx, "SESSION-OPEN-6", bob, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [alice],
      });
      expectOnline(
        ctx,
        "SESSION-OPEN-6",
        q,
        [],
        "session/query-result for alice after her failed opens",
      );
      await sentinel(ctx, bob);
      await expectNoPresence(ctx, "SESSION-OPEN-6", bob, alice, "her session/open failed");
      await ctx.expectNone(
        "SESSION-OPEN-6",
        c,
        (f) => f.cmd !== "error",
        "frames (presence, deliveries) after failed opens",
        QUIET_MS,
      );
      const a = await open(ctx, alice, { app: "signed", on: c, watch: [carol] });
      expectOnline(
        ctx,
        "SESSION-OPEN-2",
        a.opened,
        [carol],
        "session/opened of the successful open",
      );
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      if (offline) await expectDelivery(ctx, "OFFLINE-OPEN-1", a, "pending for alice");
    },
  }),
  defineCase({
    name: "session/self/counts-own-session-online",
    requirements: ["SESSION-SELF-1"],
    async run(ctx) {
      const zed = ctx.peer("zed");
      const alice = await open(ctx, ctx.peer("alice"), { watch: [ctx.peer("alice"), zed] });
      expectOnline(
        ctx,
        "SESSION-SELF-1",
        alice.opened,
        [alice.peer],
        "session/opened of alice watching alice and zed",
      );
      const added = await request(ctx, "SESSION-SELF-1", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [zed, alice.peer],
      });
      expectOnline(
        ctx,
        "SESSION-SELF-1",
        added,
        [alice.peer],
        "session/added of alice adding zed and alice",
      );
      const q = await request(ctx, "SESSION-SELF-1", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [alice.peer],
      });
      expectOnline(
        ctx,
        "SESSION-SELF-1",
        q,
        [alice.peer],
        "session/query-result of alice asking about alice",
      );
      // A re-open counts its own session too, and so does a second peer of the connection.
      const again = await open(ctx, alice.peer, { on: alice.conn, watch: [alice.peer] });
      expectOnline(
        ctx,
        "SESSION-SELF-1",
        again.opened,
        [alice.peer],
        "session/opened of a re-open watching alice",
      );
      const bob = await open(ctx, ctx.peer("bob"), {
        on: alice.conn,
        watch: [ctx.peer("bob"), alice.peer],
      });
      expectOnline(
        ctx,
        "SESSION-SELF-1",
        bob.opened,
        [bob.peer, alice.peer],
        "session/opened of bob watching bob and alice",
      );
    },
  }),
  defineCase({
    name: "session/list/each-peer-once",
    requirements: ["SESSION-LIST-1"],
    async run(ctx) {
      const [p1, p2] = [ctx.peer("p1"), ctx.peer("p2")];
      const one = await open(ctx, p1);
      await open(ctx, p2);
      const dup = [p2, p1, p2, ctx.peer("zz"), p1, p2];
      const w = await open(ctx, ctx.peer("w"), { watch: dup });
      expectOnline(ctx, "SESSION-OPEN-2", w.opened, [p1, p2], "session/opened with duplicates");
      const added = await request(ctx, "WATCH-ADD-2", w, {
        cmd: "session",
        op: "add",
        sessionPeerIds: dup,
      });
      expectOnline(ctx, "WATCH-ADD-2", added, [p1, p2], "session/added with duplicates");
      const q = await request(ctx, "WATCH-QUERY-1", w, {
        cmd: "session",
        op: "query",
        sessionPeerIds: dup,
      });
      expectOnline(ctx, "WATCH-QUERY-1", q, [p1, p2], "session/query-result with duplicates");
      // A peer watched through duplicates: its presence names it once.
      await one.conn.close();
      const off = await ctx.waitFor(
        "PRESENCE-OFF-1",
        w.conn,
        presenceAbout(w.peer, p1, "off"),
        "presence off about p1",
      );
      const ids = idsOf(off, "sessionPeerIds");
      ctx.expect(
        "SESSION-LIST-1",
        new Set(ids).size === ids.length,
        "a presence frame lists a peer more than once",
        {
          expected: JSON.stringify([p1]),
          actual: JSON.stringify(ids),
        },
      );
    },
  }),

  // 2.3 Re-opening a session
  defineCase({
    name: "session/reopen/answers-opened",
    requirements: ["SESSION-REOPEN-1", "SESSION-CLOSE-1"],
    async run(ctx) {
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      await open(ctx, bob);
      const alice = await open(ctx, ctx.peer("alice"));
      const reopened = await request(ctx, "SESSION-REOPEN-1", alice, {
        cmd: "session",
        op: "open",
        sessionPeerIds: [bob, carol, bob],
      });
      ctx.expect(
        "SESSION-REOPEN-1",
        reopened.cmd === "session" && reopened.op === "opened" && reopened.peerId === alice.peer,
        "a re-open was not answered with session/opened",
        {
          expected: `session/opened for ${alice.peer}`,
          actual: JSON.stringify(reopened).slice(0, 300),
        },
      );
      expectOnline(ctx, "SESSION-REOPEN-1", reopened, [bob], "session/opened of the re-open");
      // Without i (the legacy client), the re-open gets its session/opened as well.
      alice.conn.send(command(ctx, alice, { cmd: "session", op: "open", sessionPeerIds: [carol] }));
      const legacy = await ctx.waitFor(
        "SESSION-REOPEN-1",
        alice.conn,
        (f) => f.cmd === "session" && f.op === "opened" && f.i === undefined,
        "session/opened of a legacy re-open",
      );
      expectOnline(ctx, "SESSION-REOPEN-1", legacy, [], "session/opened of the legacy re-open");
      // Still one session (a peer has at most one per connection): one close ends it.
      const closed = await request(ctx, "SESSION-CLOSE-1", alice, { cmd: "session", op: "close" });
      ctx.expect("SESSION-CLOSE-1", closed.op === "closed", "session/close failed", {
        expected: "session/closed",
        actual: describeFrame(closed),
      });
      const e = await request(ctx, "SESSION-CLOSE-1", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [],
      });
      ctx.expectError("SESSION-CLOSE-1", e, 4105, e.i as number);
    },
  }),
  defineCase({
    name: "session/reopen/replaces-watch-set",
    requirements: ["SESSION-REOPEN-2"],
    async run(ctx) {
      const [x, y, z] = [ctx.peer("x"), ctx.peer("y"), ctx.peer("z")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x, y] });
      await open(ctx, alice.peer, { on: alice.conn, watch: [y, z, z] });
      const probes = await expectWatches(ctx, "SESSION-REOPEN-2", alice, [y, z], [x]);
      // A re-open with no peers empties the watch set: y and z going offline is no news.
      await open(ctx, alice.peer, { on: alice.conn, watch: [] });
      for (const p of probes) await p.conn.close();
      await sentinel(ctx, alice);
      await expectNoPresence(
        ctx,
        "SESSION-REOPEN-2",
        alice,
        [x, y, z],
        "its re-open watches nobody",
      );
    },
  }),
  defineCase({
    name: "session/reopen/sets-super-peer",
    requirements: ["SESSION-REOPEN-3", "DIRECT-PERM-2"],
    features: ["super-peer"],
    async run(ctx) {
      const bob = await open(ctx, ctx.peer("bob"), { app: "signed" });
      const alice = await open(ctx, ctx.peer("alice"), { app: "signed" });
      const write = (msg: string) =>
        request(ctx, "SERIAL-REPLY-1", alice, { cmd: "direct", msg, toPeerIds: [bob.peer] });
      // The control: without super-peer status, bob (not watched) cannot be reached.
      const e1 = await write("as a plain session");
      ctx.expectError("DIRECT-PERM-2", e1, 4401, e1.i as number);
      await openSuperPeer(ctx, alice.peer, { on: alice.conn });
      const ack = await write("as a super peer");
      ctx.expect(
        "SESSION-REOPEN-3",
        ack.cmd === "ack",
        "a re-open with sp: true and a super-peer signature did not make a super peer",
        {
          expected: "ack",
          actual: describeFrame(ack),
        },
      );
      await expectDelivery(ctx, "SUPERPEER-SEND-1", bob, "as a super peer");
      await open(ctx, alice.peer, { app: "signed", on: alice.conn });
      const e2 = await write("plain again");
      ctx.expect(
        "SESSION-REOPEN-3",
        e2.cmd === "error" && e2.code === 4401,
        "a plain re-open left the session a super peer",
        {
          expected: "error 4401",
          actual: describeFrame(e2),
        },
      );
    },
  }),
  defineCase({
    name: "session/reopen/publishes-no-presence",
    requirements: ["SESSION-REOPEN-4"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      const a = await open(ctx, alice);
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      // Re-opens with i, without i, and one that fails.
      await open(ctx, alice, { on: a.conn, watch: [bob.peer] });
      a.conn.send(command(ctx, a, { cmd: "session", op: "open" }));
      await ctx.waitFor(
        "SESSION-REOPEN-1",
        a.conn,
        (f) => f.op === "opened" && f.i === undefined,
        "session/opened of a legacy re-open",
      );
      await requestInvalid(
        ctx,
        "SESSION-REOPEN-5",
        a.conn,
        command(ctx, a, { cmd: "session", op: "open", sessionPeerIds: ["bad:id"] }),
        "an invalid id",
      );
      await sentinel(ctx, bob);
      await expectNoPresence(
        ctx,
        "SESSION-REOPEN-4",
        bob,
        alice,
        "alice only re-opened her session",
      );
    },
  }),
  defineCase({
    name: "session/reopen/failure-keeps-watch-set",
    requirements: ["SESSION-REOPEN-5"],
    async run(ctx) {
      const [x, y] = [ctx.peer("x"), ctx.peer("y")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x] });
      const withI = command(ctx, alice, {
        cmd: "session",
        op: "open",
        sessionPeerIds: [y, "bad:id"],
      });
      const e = await requestInvalid(
        ctx,
        "SESSION-REOPEN-5",
        alice.conn,
        withI,
        "an invalid id in sessionPeerIds",
      );
      ctx.expectError("SESSION-REOPEN-5", e, ctx.expectedCode(withI), e.i as number);
      // Without i: the session being re-opened is open, so the connection is not closed.
      alice.conn.sendInvalid(
        command(ctx, alice, { cmd: "session", op: "open", sessionPeerIds: [y], echo: "no" }),
        "echo not a boolean",
      );
      await ctx.waitFor(
        "SESSION-REOPEN-5",
        alice.conn,
        (f) => f.cmd === "error" && f.i === undefined,
        "the error of a failed legacy re-open",
      );
      const q = await request(ctx, "SESSION-REOPEN-5", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [],
      });
      ctx.expect(
        "SESSION-REOPEN-5",
        q.op === "query-result",
        "the session did not survive a failed re-open",
        {
          expected: "session/query-result",
          actual: describeFrame(q),
        },
      );
      await expectWatches(ctx, "SESSION-REOPEN-5", alice, [x], [y]);
    },
  }),
  defineCase({
    name: "session/reopen/failure-keeps-super-peer",
    requirements: ["SESSION-REOPEN-5"],
    features: ["super-peer"],
    async run(ctx) {
      const bob = await open(ctx, ctx.peer("bob"), { app: "signed" });
      const carol = await open(ctx, ctx.peer("carol"), { app: "signed" });
      const e0 = await request(ctx, "SERIAL-REPLY-1", carol, {
        cmd: "direct",
        msg: "control",
        toPeerIds: [bob.peer],
      });
      ctx.expectError("DIRECT-PERM-2", e0, 4401, e0.i as number);
      const alice = await openSuperPeer(ctx, ctx.peer("alice"));
      // A re-open without signature, and one with sp: true signed without suffix (SIG-SP-5).
      const e1 = await request(ctx, "SESSION-REOPEN-5", alice, { cmd: "session", op: "open" });
      ctx.expectError("SIG-ENFORCE-1", e1, 4102, e1.i as number);
      const e2 = await request(ctx, "SESSION-REOPEN-5", alice, {
        cmd: "session",
        op: "open",
        sp: true,
        ...ctx.sessionSignature({ peerId: alice.peer }),
      });
      ctx.expectError("SIG-SP-5", e2, 4102, e2.i as number);
      const ack = await request(ctx, "SESSION-REOPEN-5", alice, {
        cmd: "direct",
        msg: "still a super peer",
        toPeerIds: [bob.peer],
      });
      ctx.expect(
        "SESSION-REOPEN-5",
        ack.cmd === "ack",
        "a failed re-open took the session's super-peer status",
        {
          expected: "ack",
          actual: describeFrame(ack),
        },
      );
    },
  }),
  defineCase({
    name: "session/reopen/sets-echo",
    requirements: ["SESSION-REOPEN-6"],
    features: ["echo"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const mirror = await open(ctx, alice, { echo: true });
      const sender = await open(ctx, alice);
      const bob = await open(ctx, ctx.peer("bob"));
      const isEcho = (msg: string) => (f: Frame) =>
        f.cmd === "direct" && f.msg === msg && f.peerId === alice;
      await sendDirect(ctx, sender, [bob.peer], "m1");
      await ctx.waitFor("ECHO-OTHER-2", mirror.conn, isEcho("m1"), "the echo of m1 (echo: true)");
      // A re-open without echo turns it off.
      await open(ctx, alice, { on: mirror.conn });
      await sendDirect(ctx, sender, [bob.peer], "m2");
      await expectDelivery(ctx, "DIRECT-DELIVER-1", bob, "m2");
      await sentinel(ctx, mirror);
      await ctx.expectNone(
        "SESSION-REOPEN-6",
        mirror.conn,
        isEcho("m2"),
        "echo of m2 after a re-open without echo",
        QUIET_MS,
      );
      // And a re-open with echo: true turns it on again.
      await open(ctx, alice, { on: mirror.conn, echo: true });
      await sendDirect(ctx, sender, [bob.peer], "m3");
      await ctx.waitFor(
        "SESSION-REOPEN-6",
        mirror.conn,
        isEcho("m3"),
        "the echo of m3 after a re-open with echo: true",
      );
    },
  }),

  // 2.4 Closing and ending sessions
  defineCase({
    name: "session/close/ends-session",
    requirements: ["SESSION-CLOSE-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      const a = await open(ctx, alice);
      const carol = await open(ctx, ctx.peer("carol"), { on: a.conn });
      const other = await open(ctx, alice); // another device of alice
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      const closed = await request(ctx, "SERIAL-REPLY-1", a, { cmd: "session", op: "close" });
      ctx.expect(
        "SERIAL-REPLY-1",
        closed.cmd === "session" && closed.op === "closed",
        "session/close with i was not answered with session/closed",
        {
          expected: "session/closed",
          actual: describeFrame(closed),
        },
      );
      // The session of alice on this connection is gone; carol's and alice's other one are not.
      const e = await request(ctx, "SESSION-CLOSE-1", a, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [],
      });
      ctx.expectError("SESSION-CLOSE-1", e, 4105, e.i as number);
      const q = await request(ctx, "SESSION-CLOSE-1", carol, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [alice],
      });
      expectOnline(
        ctx,
        "SESSION-CLOSE-1",
        q,
        [alice],
        "session/query-result of carol (alice is still online elsewhere)",
      );
      // The legacy form, without i: no reply, and the last session's end is published.
      other.conn.send(command(ctx, other, { cmd: "session", op: "close" }));
      await expectPresence(ctx, "SESSION-CLOSE-1", bob, alice, "off");
    },
  }),
  defineCase({
    name: "session/close/keeps-connection",
    requirements: ["SESSION-CLOSE-2"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      const carol = await open(ctx, ctx.peer("carol"), { on: alice.conn });
      alice.conn.send(command(ctx, alice, { cmd: "session", op: "close" }));
      await expectServing(ctx, "SESSION-CLOSE-2", alice.conn, "after a legacy session/close");
      await request(ctx, "SESSION-CLOSE-2", carol, { cmd: "session", op: "close" });
      // No session is left, and the connection is still usable: alice opens again.
      await expectServing(ctx, "SESSION-CLOSE-2", alice.conn, "after the last session/close");
      await open(ctx, alice.peer, { on: alice.conn });
    },
  }),
  defineCase({
    name: "session/end/connection-end-ends-sessions",
    requirements: ["SESSION-END-1"],
    async run(ctx) {
      const peers = ["alice", "bob", "carol", "dave"].map((n) => ctx.peer(n));
      const [alice, bob, carol, dave] = peers as [string, string, string, string];
      const zoe = await open(ctx, ctx.peer("zoe"), { watch: peers });
      const c1 = await open(ctx, alice);
      await open(ctx, bob, { on: c1.conn });
      const c2 = await open(ctx, carol);
      const c3 = await open(ctx, dave);
      for (const p of peers) await expectPresence(ctx, "PRESENCE-ON-2", zoe, p, "on");
      // Whatever the reason: the client closes, the TCP connection drops, the server closes.
      await c1.conn.close(1000);
      await expectPresence(ctx, "SESSION-END-1", zoe, alice, "off");
      await expectPresence(ctx, "SESSION-END-1", zoe, bob, "off");
      await c2.conn.drop();
      await expectPresence(ctx, "SESSION-END-1", zoe, carol, "off");
      c3.conn.sendBinary(
        new Uint8Array([1, 2, 3]),
        "a binary message, which the server closes with 4114",
      );
      await ctx.expectClose("FRAME-BINARY-2", c3.conn, 4114);
      await expectPresence(ctx, "SESSION-END-1", zoe, dave, "off");
      const q = await request(ctx, "SESSION-END-1", zoe, {
        cmd: "session",
        op: "query",
        sessionPeerIds: peers,
      });
      expectOnline(
        ctx,
        "SESSION-END-1",
        q,
        [],
        "session/query-result after the three connections ended",
      );
    },
  }),
  defineCase({
    name: "session/end/later-session-has-own-watch-set",
    requirements: ["SESSION-END-2"],
    async run(ctx) {
      const [x, y] = [ctx.peer("x"), ctx.peer("y")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x] });
      await request(ctx, "SESSION-CLOSE-1", alice, { cmd: "session", op: "close" });
      const again = await open(ctx, alice.peer, { on: alice.conn, watch: [y] });
      const probes = await expectWatches(ctx, "SESSION-END-2", again, [y], [x]);
      // After the connection ends too: a new session watching nobody hears nothing of x and y.
      await alice.conn.close();
      const fresh = await open(ctx, alice.peer);
      for (const p of probes) await p.conn.close();
      await sentinel(ctx, fresh);
      await expectNoPresence(ctx, "SESSION-END-2", fresh, [x, y], "its own open watches nobody");
    },
  }),
  defineCase({
    name: "session/end/later-session-not-super-peer",
    requirements: ["SESSION-END-2"],
    features: ["super-peer"],
    async run(ctx) {
      const bob = await open(ctx, ctx.peer("bob"), { app: "signed" });
      const alice = await openSuperPeer(ctx, ctx.peer("alice"));
      const write = (s: Session, msg: string) =>
        request(ctx, "SERIAL-REPLY-1", s, { cmd: "direct", msg, toPeerIds: [bob.peer] });
      const ack = await write(alice, "as a super peer");
      ctx.expect(
        "SUPERPEER-OPEN-1",
        ack.cmd === "ack",
        "the super peer could not write to an unwatched peer",
        { expected: "ack", actual: describeFrame(ack) },
      );
      await request(ctx, "SESSION-CLOSE-1", alice, { cmd: "session", op: "close" });
      const plain = await open(ctx, alice.peer, { app: "signed", on: alice.conn });
      const e = await write(plain, "plain after close");
      ctx.expect(
        "SESSION-END-2",
        e.cmd === "error" && e.code === 4401,
        "a plain session after a super peer's close is a super peer",
        {
          expected: "error 4401",
          actual: describeFrame(e),
        },
      );
      // And after the end of the connection.
      const sp = await openSuperPeer(ctx, alice.peer);
      await sp.conn.drop();
      const later = await open(ctx, alice.peer, { app: "signed" });
      const e2 = await write(later, "plain after drop");
      ctx.expect(
        "SESSION-END-2",
        e2.cmd === "error" && e2.code === 4401,
        "a plain session after a super peer's connection ended is a super peer",
        {
          expected: "error 4401",
          actual: describeFrame(e2),
        },
      );
    },
  }),

  // 2.5 Super peers
  defineCase({
    name: "session/super-peer/opens-with-sp",
    requirements: ["SUPERPEER-OPEN-1"],
    features: ["super-peer"],
    async run(ctx) {
      // An app that does not enforce signatures: sp: true needs no signature.
      const bot = await open(ctx, ctx.peer("bot"), { extra: { sp: true } });
      ctx.expect(
        "SUPERPEER-OPEN-1",
        bot.opened.op === "opened",
        "sp: true was refused in an app without signatures",
        { actual: describeFrame(bot.opened) },
      );
      if (ctx.target.apps.signed === undefined) {
        ctx.note("no app that enforces signatures: only the open app's sp: true was checked");
        return;
      }
      // An app that enforces them: a plain session cannot write to an unwatched peer (the
      // control), a super peer signed with :sp can.
      const bob = await open(ctx, ctx.peer("bob"), { app: "signed" });
      const carol = await open(ctx, ctx.peer("carol"), { app: "signed" });
      const e = await request(ctx, "SERIAL-REPLY-1", carol, {
        cmd: "direct",
        msg: "plain",
        toPeerIds: [bob.peer],
      });
      ctx.expectError("DIRECT-PERM-2", e, 4401, e.i as number);
      const sp = await openSuperPeer(ctx, ctx.peer("sp"));
      const ack = await request(ctx, "SUPERPEER-OPEN-1", sp, {
        cmd: "direct",
        msg: "super",
        toPeerIds: [bob.peer],
      });
      ctx.expect(
        "SUPERPEER-OPEN-1",
        ack.cmd === "ack",
        "a session opened with sp: true and a valid :sp signature is not a super peer",
        {
          expected: "ack",
          actual: describeFrame(ack),
        },
      );
    },
  }),
  defineCase({
    name: "session/super-peer/sends-to-unwatched-peers",
    requirements: ["SUPERPEER-SEND-1"],
    features: ["super-peer"],
    async run(ctx) {
      const peers = [
        await open(ctx, ctx.peer("p1"), { app: "signed" }),
        await open(ctx, ctx.peer("p2"), { app: "signed" }),
      ];
      const absent = ctx.peer("p3"); // offline and unwatched
      const bot = await openSuperPeer(ctx, ctx.peer("bot"), { watch: [ctx.peer("p1")] });
      const ack = await request(ctx, "SUPERPEER-SEND-1", bot, {
        cmd: "direct",
        msg: "from the bot",
        toPeerIds: [...peers.map((p) => p.peer), absent],
      });
      ctx.expect(
        "SUPERPEER-SEND-1",
        ack.cmd === "ack",
        "a super peer's direct to peers it does not watch was refused",
        {
          expected: "ack",
          actual: describeFrame(ack),
        },
      );
      for (const p of peers) {
        const got = await expectDelivery(ctx, "SUPERPEER-SEND-1", p, "from the bot");
        ctx.expectEqual(
          "DIRECT-DELIVER-1",
          got.fromPeerId,
          bot.peer,
          "the fromPeerId of the bot's message",
        );
      }
    },
  }),
  defineCase({
    name: "session/super-peer/same-rules-as-others",
    requirements: ["SUPERPEER-SAME-1"],
    features: ["super-peer"],
    async run(ctx) {
      const [x, y] = [ctx.peer("x"), ctx.peer("y")];
      const bot = await openSuperPeer(ctx, ctx.peer("bot"), { watch: [x] });
      // Watch set and presence as for anyone: x only, then z added (signed without suffix,
      // SIG-SP-4).
      await expectWatches(ctx, "SUPERPEER-SAME-1", bot, [x], [y]);
      const z = ctx.peer("z");
      const added = await request(ctx, "SUPERPEER-SAME-1", bot, addFrame(ctx, bot, [z]));
      ctx.expect(
        "SUPERPEER-SAME-1",
        added.op === "added",
        "a super peer's signed session/add failed",
        {
          expected: "session/added",
          actual: describeFrame(added),
        },
      );
      await expectWatches(ctx, "SUPERPEER-SAME-1", bot, [z], []);
      // Limits as for anyone: msg size (LIMIT-MSG-2) and id array size (LIMIT-ARRAY-1).
      for (const [extra, why] of [
        [{ msg: "x".repeat(5121), toPeerIds: [x] }, "a msg of 5121 bytes"],
        [{ msg: "m", toPeerIds: manyIds(ctx, "t", 0, 501) }, "501 toPeerIds"],
      ] as const) {
        const frame = command(ctx, bot, { cmd: "direct", ...extra });
        const e = await requestInvalid(ctx, "SUPERPEER-SAME-1", bot.conn, frame, why);
        ctx.expectError("SUPERPEER-SAME-1", e, ctx.expectedCode(frame), e.i as number);
      }
    },
  }),

  // 2.6 Watching
  defineCase({
    name: "watch/add/adds-distinct-peers",
    requirements: ["WATCH-ADD-1"],
    async run(ctx) {
      const [w, x, y, z] = [ctx.peer("w"), ctx.peer("x"), ctx.peer("y"), ctx.peer("z")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x] });
      const added = await request(ctx, "WATCH-ADD-1", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [y, z, y, x],
      });
      ctx.expect("WATCH-ADD-1", added.op === "added", "session/add failed", {
        expected: "session/added",
        actual: describeFrame(added),
      });
      await expectWatches(ctx, "WATCH-ADD-1", alice, [x, y, z], [w]);
    },
  }),
  defineCase({
    name: "watch/add/lists-online-peers",
    requirements: ["WATCH-ADD-2", "SESSION-LIST-1"],
    async run(ctx) {
      const [x, y, z] = [ctx.peer("x"), ctx.peer("y"), ctx.peer("z")];
      await open(ctx, x);
      await open(ctx, y);
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x] });
      const added = await request(ctx, "WATCH-ADD-2", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [y, z, y],
      });
      ctx.expect(
        "WATCH-ADD-2",
        added.cmd === "session" && added.op === "added",
        "session/add was not answered with session/added",
        {
          expected: "session/added",
          actual: describeFrame(added),
        },
      );
      expectOnline(ctx, "WATCH-ADD-2", added, [y], "session/added adding y, z, y");
      const empty = await request(ctx, "WATCH-ADD-2", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [],
      });
      expectOnline(ctx, "WATCH-ADD-2", empty, [], "session/added adding nobody");
      // Without i (Table 1: replied to), the reply lists the online peers too.
      alice.conn.send(command(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: [x, z] }));
      const legacy = await ctx.waitFor(
        "WATCH-ADD-2",
        alice.conn,
        (f) => f.op === "added" && f.i === undefined,
        "session/added of a legacy add",
      );
      expectOnline(ctx, "WATCH-ADD-2", legacy, [x], "session/added of a legacy add of x, z");
    },
  }),
  defineCase({
    name: "watch/remove/removes-peers",
    requirements: ["WATCH-REMOVE-1"],
    async run(ctx) {
      const [x, y, z] = [ctx.peer("x"), ctx.peer("y"), ctx.peer("z")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x, y, z] });
      const removed = await request(ctx, "WATCH-REMOVE-1", alice, {
        cmd: "session",
        op: "remove",
        sessionPeerIds: [x, z, x],
      });
      ctx.expect("WATCH-REMOVE-1", removed.op === "removed", "session/remove failed", {
        expected: "session/removed",
        actual: describeFrame(removed),
      });
      await expectWatches(ctx, "WATCH-REMOVE-1", alice, [y], [x, z]);
    },
  }),
  defineCase({
    name: "watch/remove/unwatched-peer-not-an-error",
    requirements: ["WATCH-REMOVE-2"],
    async run(ctx) {
      const x = ctx.peer("x");
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x] });
      for (const ids of [[ctx.peer("nobody"), x, x], [x], []]) {
        const r = await request(ctx, "WATCH-REMOVE-2", alice, {
          cmd: "session",
          op: "remove",
          sessionPeerIds: ids,
        });
        ctx.expect(
          "WATCH-REMOVE-2",
          r.cmd === "session" && r.op === "removed",
          `session/remove of ${JSON.stringify(ids)} was not answered with session/removed`,
          {
            expected: "session/removed",
            actual: describeFrame(r),
          },
        );
      }
    },
  }),
  defineCase({
    name: "watch/add/limit-4120-leaves-watch-set",
    requirements: ["WATCH-LIMIT-1"],
    timeoutMs: 30_000,
    async run(ctx) {
      // The limit in force (LIMIT-BOUND-3), the spec's 10000 when the server announces none.
      const limit = ctx.limits().watchPerSession ?? 10_000;
      const perFrame = ctx.limits().idsPerArray ?? 500;
      if (limit > 40_000)
        throw new NotApplicable(`a watch limit of ${limit} takes too long to fill here`);
      const alice = await open(ctx, ctx.peer("alice"));
      const watched = manyIds(ctx, "w", 0, limit);
      const adds: Promise<Frame>[] = [];
      for (let k = 0; k < limit; k += perFrame) {
        adds.push(
          request(ctx, "WATCH-LIMIT-1", alice, {
            cmd: "session",
            op: "add",
            sessionPeerIds: watched.slice(k, k + perFrame),
          }),
        );
      }
      for (const added of await Promise.all(adds)) {
        ctx.expect(
          "WATCH-LIMIT-1",
          added.op === "added",
          `an add within the limit of ${limit} failed`,
          { expected: "session/added", actual: describeFrame(added) },
        );
      }
      const first = watched[0] as string;
      const last = watched[limit - 1] as string;
      // Peers already watched do not grow the set (the limit counts distinct peers).
      const again = await request(ctx, "WATCH-LIMIT-1", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [first, last],
      });
      ctx.expect(
        "WATCH-LIMIT-1",
        again.op === "added",
        "re-adding watched peers at the limit failed",
        { expected: "session/added", actual: describeFrame(again) },
      );
      const [new1, new2] = [ctx.peer("new1"), ctx.peer("new2")];
      const e = await request(ctx, "WATCH-LIMIT-1", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [first, new1, new2],
      });
      ctx.expectError("WATCH-LIMIT-1", e, 4120, e.i as number);
      // Unchanged: new1 coming online is no news; a watched peer is (the control).
      await expectWatches(ctx, "WATCH-LIMIT-1", alice, [watched[5] as string], [new1]);
      // Removing one makes room for one.
      await request(ctx, "WATCH-REMOVE-1", alice, {
        cmd: "session",
        op: "remove",
        sessionPeerIds: [watched[1] as string],
      });
      const room = await request(ctx, "WATCH-LIMIT-1", alice, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [new2],
      });
      ctx.expect("WATCH-LIMIT-1", room.op === "added", "an add back to the limit failed", {
        expected: "session/added",
        actual: describeFrame(room),
      });
    },
  }),

  // 2.7 Status query
  defineCase({
    name: "watch/query/lists-online-peers",
    requirements: ["WATCH-QUERY-1", "SESSION-LIST-1"],
    async run(ctx) {
      const [x, y, z, w] = [ctx.peer("x"), ctx.peer("y"), ctx.peer("z"), ctx.peer("w")];
      await open(ctx, x);
      await open(ctx, y);
      const alice = await open(ctx, ctx.peer("alice"), { watch: [z] });
      const q = await request(ctx, "WATCH-QUERY-1", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [x, z, x, w, y],
      });
      expectOnline(
        ctx,
        "WATCH-QUERY-1",
        q,
        [x, y],
        "session/query-result asking about x, z, x, w, y",
      );
      const empty = await request(ctx, "WATCH-QUERY-1", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [],
      });
      expectOnline(ctx, "WATCH-QUERY-1", empty, [], "session/query-result asking about nobody");
      alice.conn.send(command(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [y, w] }));
      const legacy = await ctx.waitFor(
        "WATCH-QUERY-1",
        alice.conn,
        (f) => f.op === "query-result" && f.i === undefined,
        "session/query-result of a legacy query",
      );
      expectOnline(
        ctx,
        "WATCH-QUERY-1",
        legacy,
        [y],
        "session/query-result of a legacy query about y, w",
      );
    },
  }),
  defineCase({
    name: "watch/query/does-not-watch",
    requirements: ["WATCH-QUERY-2"],
    async run(ctx) {
      const [x, y] = [ctx.peer("x"), ctx.peer("y")];
      const alice = await open(ctx, ctx.peer("alice"), { watch: [x] });
      await request(ctx, "WATCH-QUERY-1", alice, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [y, x],
      });
      await expectWatches(ctx, "WATCH-QUERY-2", alice, [x], [y]);
    },
  }),

  // 2.8 Presence
  defineCase({
    name: "presence/online/while-any-session-open",
    requirements: ["PRESENCE-ONLINE-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const q = await open(ctx, ctx.peer("q"), { watch: [alice] });
      const expectAlice = async (online: boolean, when: string) => {
        const r = await request(ctx, "PRESENCE-ONLINE-1", q, {
          cmd: "session",
          op: "query",
          sessionPeerIds: [alice],
        });
        expectOnline(ctx, "PRESENCE-ONLINE-1", r, online ? [alice] : [], `alice's state ${when}`);
      };
      await expectAlice(false, "before any session");
      const d1 = await open(ctx, alice);
      await expectAlice(true, "with one session");
      const d2 = await open(ctx, alice);
      await request(ctx, "SESSION-CLOSE-1", d1, { cmd: "session", op: "close" });
      await expectAlice(true, "after one of her two sessions closed");
      // Another peer's session on the same connection does not count.
      await open(ctx, ctx.peer("carol"), { on: d1.conn });
      await d2.conn.drop();
      await expectPresence(ctx, "PRESENCE-OFF-1", q, alice, "off");
      await expectAlice(false, "after her last session's connection dropped");
      // A failed open does not make her online.
      await requestInvalid(
        ctx,
        "SESSION-OPEN-6",
        d1.conn,
        command(ctx, d1, { cmd: "session", op: "open", sessionPeerIds: "x" }),
        "sessionPeerIds not an array",
      );
      await expectAlice(false, "after a failed open");
      // Nor does a session in another app.
      if (ctx.target.apps.signed !== undefined) {
        await open(ctx, alice, { app: "signed" });
        await expectAlice(false, "with a session in another app only");
      }
    },
  }),
  defineCase({
    name: "presence/on/one-frame-to-every-watcher",
    requirements: ["PRESENCE-ON-2"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const w1bob = await open(ctx, bob, { watch: [alice] });
      const w1carol = await open(ctx, ctx.peer("carol"), {
        on: w1bob.conn,
        watch: [alice, ctx.peer("zed")],
      });
      const w2bob = await open(ctx, bob, { watch: [alice] });
      await open(ctx, alice, { watch: [bob] });
      const watchers = [w1bob, w1carol, w2bob];
      for (const w of watchers) {
        // Addressed to the watcher's own session, with exactly [alice] (expectPresence).
        await expectPresence(ctx, "PRESENCE-ON-2", w, alice, "on");
      }
      // One frame each: no second one.
      for (const w of watchers)
        await expectNoPresence(ctx, "PRESENCE-ON-2", w, alice, "a second presence for one open");
    },
  }),
  defineCase({
    name: "presence/on/not-to-the-new-session",
    requirements: ["PRESENCE-ON-2", "PRESENCE-ALT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      const carol = await open(ctx, ctx.peer("carol"), { watch: [alice] });
      // Alice's first session opens on carol's connection and watches alice herself.
      const a = await open(ctx, alice, { on: carol.conn, watch: [alice, bob.peer] });
      expectOnline(
        ctx,
        "SESSION-SELF-1",
        a.opened,
        [alice, bob.peer],
        "session/opened of alice watching alice and bob",
      );
      await expectPresence(ctx, "PRESENCE-ON-2", carol, alice, "on");
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      await expectNoPresence(
        ctx,
        "PRESENCE-ON-2",
        a,
        alice,
        "its own reply already says alice is online",
      );
      // While it is open, nothing more about alice reaches it: another device comes and goes.
      const a2 = await open(ctx, alice);
      await a2.conn.close();
      await sentinel(ctx, a);
      await expectNoPresence(ctx, "PRESENCE-ALT-1", a, alice, "alice stayed online");
    },
  }),
  defineCase({
    name: "presence/off/one-frame-to-every-watcher",
    requirements: ["PRESENCE-OFF-1"],
    async run(ctx) {
      const [alice, carol, dave] = [ctx.peer("alice"), ctx.peer("carol"), ctx.peer("dave")];
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice, carol, dave] });
      const erin = await open(ctx, ctx.peer("erin"), { on: bob.conn, watch: [alice] });
      const a2 = await open(ctx, alice);
      await open(ctx, carol, { on: a2.conn });
      const d = await open(ctx, dave);
      for (const p of [alice, carol, dave])
        await expectPresence(ctx, "PRESENCE-ON-2", bob, p, "on");
      await expectPresence(ctx, "PRESENCE-ON-2", erin, alice, "on");
      // By session/close, by the end of the connection, by a close of the server.
      await request(ctx, "SESSION-CLOSE-1", a2, { cmd: "session", op: "close" });
      for (const w of [bob, erin]) {
        // Addressed to the watcher's own session, with exactly [alice] (expectPresence).
        await expectPresence(ctx, "PRESENCE-OFF-1", w, alice, "off");
      }
      await a2.conn.close();
      await expectPresence(ctx, "PRESENCE-OFF-1", bob, carol, "off");
      d.conn.sendBinary(new Uint8Array([0]), "a binary message, which the server closes with 4114");
      await expectPresence(ctx, "PRESENCE-OFF-1", bob, dave, "off");
      await expectNoPresence(
        ctx,
        "PRESENCE-OFF-1",
        bob,
        [alice, carol, dave],
        "a second presence for one end",
      );
      await expectNoPresence(ctx, "PRESENCE-OFF-1", erin, alice, "a second presence for one end");
    },
  }),
  defineCase({
    name: "presence/scope/only-watched-peers",
    requirements: ["PRESENCE-SCOPE-1"],
    async run(ctx) {
      const [alice, carol] = [ctx.peer("alice"), ctx.peer("carol")];
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      await request(ctx, "WATCH-QUERY-1", bob, {
        cmd: "session",
        op: "query",
        sessionPeerIds: [carol],
      }); // a query is no watch
      const x = await open(ctx, carol, { watch: [bob.peer] });
      await open(ctx, alice, { on: x.conn });
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      await x.conn.close();
      await expectPresence(ctx, "PRESENCE-OFF-1", bob, alice, "off");
      await expectNoPresence(ctx, "PRESENCE-SCOPE-1", bob, carol, "carol was only queried");
      // Once alice is removed, her coming and going is no news either.
      await request(ctx, "WATCH-REMOVE-1", bob, {
        cmd: "session",
        op: "remove",
        sessionPeerIds: [alice],
      });
      const y = await open(ctx, alice);
      await y.conn.close();
      await sentinel(ctx, bob);
      await expectNoPresence(
        ctx,
        "PRESENCE-SCOPE-1",
        bob,
        [alice, carol],
        "neither is in the watch set",
      );
    },
  }),
  defineCase({
    name: "presence/devices/none-while-peer-stays-online",
    requirements: ["PRESENCE-DEVICES-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      const d0 = await open(ctx, alice);
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      const d1 = await open(ctx, alice);
      const d2 = await open(ctx, alice);
      await d1.conn.drop();
      await request(ctx, "SESSION-CLOSE-1", d2, { cmd: "session", op: "close" });
      await open(ctx, alice, { on: d2.conn });
      await d0.conn.close();
      await sentinel(ctx, bob);
      await expectNoPresence(
        ctx,
        "PRESENCE-DEVICES-1",
        bob,
        alice,
        "alice had another session open throughout",
      );
      // The last one's end is published, once.
      await d2.conn.close();
      await expectPresence(ctx, "PRESENCE-OFF-1", bob, alice, "off");
    },
  }),
  defineCase({
    name: "presence/alt/alternates-from-reply",
    requirements: ["PRESENCE-ALT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await open(ctx, alice);
      // The opened reply says alice is online: the next frame about her must be off.
      const bob = await open(ctx, ctx.peer("bob"), { watch: [alice] });
      expectOnline(
        ctx,
        "SESSION-OPEN-2",
        bob.opened,
        [alice],
        "session/opened of bob watching alice",
      );
      await open(ctx, alice, { on: a.conn, watch: [ctx.peer("x")] }); // a re-open: no change
      await a.conn.close();
      await expectPresence(ctx, "PRESENCE-OFF-1", bob, alice, "off");
      const b = await open(ctx, alice);
      await expectPresence(ctx, "PRESENCE-ON-2", bob, alice, "on");
      // The added reply of a watched, online peer restates on: the next frame must be off.
      const added = await request(ctx, "WATCH-ADD-2", bob, {
        cmd: "session",
        op: "add",
        sessionPeerIds: [alice],
      });
      expectOnline(ctx, "WATCH-ADD-2", added, [alice], "session/added re-adding alice");
      await b.conn.close();
      await expectPresence(ctx, "PRESENCE-OFF-1", bob, alice, "off");
      await sentinel(ctx, bob);
      // Everything bob's session heard about alice, replies included, alternates.
      const heard: string[] = [];
      for (const f of bob.conn.frames) {
        if (
          f.cmd === "presence" &&
          f.peerId === bob.peer &&
          idsOf(f, "sessionPeerIds").includes(alice)
        )
          heard.push(String(f.status));
      }
      const told = ["on (opened)", ...heard.slice(0, 2), "on (added)", ...heard.slice(2)];
      ctx.expectEqual(
        "PRESENCE-ALT-1",
        heard,
        ["off", "on", "off"],
        `the presence frames about alice, after the replies (${told.join(", ")})`,
      );
    },
  }),

  // 2.9 What a server announces
  defineCase({
    name: "session/info/announces-server-info",
    requirements: ["SESSION-INFO-1"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      const again = await open(ctx, alice.peer, { on: alice.conn });
      const replies = [alice.opened, again.opened];
      if (ctx.target.apps.signed !== undefined)
        replies.push((await open(ctx, ctx.peer("bob"), { app: "signed" })).opened);
      const without = replies.filter((r) => r.serverInfo === undefined).length;
      ctx.expect(
        "SESSION-INFO-1",
        without === 0,
        `${without} of ${replies.length} session/opened replies carry no serverInfo`,
        {
          expected: "serverInfo in every session/opened (first open, re-open, every app)",
          actual: `${without} without`,
        },
      );
    },
  }),
  defineCase({
    name: "session/info/revision",
    requirements: ["SESSION-INFO-2"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      const info = serverInfoOf(alice.opened);
      ctx.expectEqual("SESSION-INFO-2", info.revision, SPEC_REVISION, "serverInfo.revision");
    },
  }),
  defineCase({
    name: "session/info/signatures-feature",
    requirements: ["SESSION-INFO-4"],
    async run(ctx) {
      // What the app does decides: an app enforces signatures when an unsigned open fails 4102.
      for (const app of ["open", "signed"] as const) {
        if (app === "signed" && ctx.target.apps.signed === undefined) continue;
        const c = await ctx.connect();
        const peer = ctx.peer(`${app}-probe`);
        const r = await ctx.request("SERIAL-REPLY-1", c, {
          cmd: "session",
          op: "open",
          appId: ctx.appId(app),
          peerId: peer,
        });
        const enforces = r.cmd === "error" && r.code === 4102;
        const s = enforces ? await open(ctx, peer, { app, on: c }) : { opened: r };
        const info = serverInfoOf(s.opened);
        const announced = (info.features as Frame | undefined)?.signatures;
        ctx.expectEqual(
          "SESSION-INFO-4",
          announced,
          enforces,
          `features.signatures of the ${app} app, which ${enforces ? "enforces" : "does not enforce"} signatures`,
        );
      }
    },
  }),
  ...Object.entries(FEATURE_PROBES).map(([feature, probe]) => featureCase(feature, probe)),
  defineCase({
    name: "session/info/limits-announced",
    requirements: ["SESSION-INFO-5"],
    async run(ctx) {
      const alice = await open(ctx, ctx.peer("alice"));
      const info = serverInfoOf(alice.opened);
      const limits = (info.limits ?? {}) as Record<string, unknown>;
      for (const [name, fixed] of Object.entries(ANNOUNCED_LIMITS)) {
        // [SESSION-INFO-5] every member that Table 9 always names is there...
        ctx.expect(
          "SESSION-INFO-5",
          typeof limits[name] === "number",
          `serverInfo.limits has no ${name}`,
          {
            expected: `limits.${name}: a non-negative integer`,
            actual: JSON.stringify(limits[name]),
          },
        );
        // ...and a limit the table fixes can only be applied with the spec's value.
        if (fixed !== undefined)
          ctx.expectEqual(
            "SESSION-INFO-5",
            limits[name],
            fixed,
            `limits.${name}, fixed by Table 9`,
          );
      }
      // The pairs of one bound come together or not at all (absent when there is no bound).
      for (const [rate, burst] of [
        ["framesPerSecond", "frameBurst"],
        ["historyBytesPerSecond", "historyBurstBytes"],
      ] as const) {
        ctx.expect(
          "SESSION-INFO-5",
          (limits[rate] === undefined) === (limits[burst] === undefined),
          `only one of ${rate} and ${burst} is announced`,
          { actual: JSON.stringify({ [rate]: limits[rate], [burst]: limits[burst] }) },
        );
      }
      // The announced offline count is the one applied: one message more than it leaves
      // exactly that many pending (OFFLINE-LIMIT-1), on each server the kit can reach.
      if (ctx.target.features.offline !== true) {
        ctx.note("offline is not in force: the announced offlineCount was not probed");
        return;
      }
      for (const short of ctx.target.short === undefined ? [false] : [false, true]) {
        const count = ctx.limit("offlineCount", short);
        if (count > 200) {
          ctx.note(`offlineCount ${count} is too large to fill here: not probed`);
          continue;
        }
        const from = await open(ctx, ctx.peer(`from${short ? "s" : ""}`), { short });
        const to = ctx.peer(`to${short ? "s" : ""}`);
        await Promise.all(
          Array.from({ length: count + 1 }, (_, k) => sendDirect(ctx, from, [to], `p${k}`)),
        );
        // The {} after the open comes after the last delivery of its burst (OFFLINE-BURST-1).
        const c = await ctx.connect({ short });
        const i = c.nextSerial();
        c.send({ cmd: "session", op: "open", appId: ctx.appId(), peerId: to, i });
        c.send({});
        await ctx.waitFor(
          "OFFLINE-BURST-1",
          c,
          (f) => Object.keys(f).length === 0,
          "the {} after the offline burst",
        );
        const burst = c.frames.filter((f) => f.cmd === "direct" && f.offline === true).length;
        ctx.expectEqual(
          "SESSION-INFO-5",
          burst,
          count,
          `the pending messages after ${count + 1} sends to an offline peer, against the announced offlineCount${short ? " of the short server" : ""}`,
        );
      }
    },
  }),
];
