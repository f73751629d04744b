/**
 * Cases of chapter 07, limits: message text, identifiers, arrays, the bounds of Table 9
 * and how a server announces and applies them, what one connection and one app may hold,
 * and the history rate; the timeouts and the shortened limits of a server under test; and
 * the two requirements of chapter 10 (SESSION-TEST-1, LIMIT-TEST-1).
 *
 * The bounds of an app and of an address (LIMIT-QUOTA-1) are the deployment's: a case fills
 * one only when the server announces a value small enough to reach in a few seconds (the
 * `*_BUDGET` constants), on the origin-restricted app when there is one (bound without an
 * `Origin` header, FRAME-ORIGIN-3), so that the other cases of the run, which use the open
 * app, do not meet it; otherwise the case is not applicable and says why. The reference
 * server's defaults (a million pending messages or watch entries per app) are far above
 * those budgets, except the 1000 connections of one address, which a case reaches from its
 * own loopback address (127.x.y.z) so that no other case shares it.
 * @module
 */
import {
  conversationId,
  ERRORS,
  LOGS_MAX_PAGE_BYTES,
  MAX_FRAME_BYTES,
  MAX_ID_LENGTH,
  MAX_IDS_PER_FRAME,
  MAX_MSG_BYTES,
  MAX_OFFLINE_PER_PEER,
  MAX_ROOM_MEMBERS,
  MAX_SESSIONS_PER_CONNECTION,
  MAX_WATCHED_PER_SESSION,
  OFFLINE_TTL_MS,
} from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import type { Connection } from "../connection.js";
import type { AppRole, CaseContext } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";
import { SHORT_LIMITS, SHORT_TIMEOUT_MS } from "../target.js";
import {
  askInvalid,
  createGroup,
  cycle,
  direct,
  expectCode,
  expectErrorThenClose,
  expectReply,
  expectServing,
  type Frame,
  framesUntilKeepalive,
  isDelivery,
  isError,
  isPresence,
  peerCommand,
  peerIds,
  refuseInvalid,
  refuseValid,
  summary,
} from "./support.js";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/**
 * What a case fills at most to reach a bound of an app or an address, in the quick profile
 * and in the others: the reference server's defaults for the watch entries (10^6) and the
 * connections (10^4) of an app take seconds, so only a thorough run reaches them.
 */
const BUDGETS = {
  /** Pending messages of an app (LIMIT-STORE-2): each costs a stored row. */
  pendingPerApp: { quick: 5_000, thorough: 5_000 },
  /** Watch entries of an app (LIMIT-WATCH-APP-1). */
  watchPerApp: { quick: 100_000, thorough: 1_000_000 },
  /** Sessions of an app (LIMIT-SESSIONS-APP-1): each costs the kit its `session/opened`. */
  sessionsPerApp: { quick: 5_000, thorough: 5_000 },
  /** Connections of an app (LIMIT-CONN-APP-1). */
  connectionsPerApp: { quick: 2_000, thorough: 10_000 },
  /** Connections of an address (LIMIT-CONN-IP-1). */
  connectionsPerAddress: { quick: 2_000, thorough: 10_000 },
} as const;
/** Longest timeout or offline age a case waits for, ms. */
const WAIT_BUDGET_MS = 6_000;
/** How much earlier than its announced value a timer may fire, for the kit's clock, ms. */
const EARLY_MS = 150;
/** How much later than its announced value a timer may fire (timer ticks, scheduling), ms. */
const LATE_MS = 2_500;

/** The number of Unicode code points of `s`. */
const codePoints = (s: string): number => [...s].length;

/** `base` padded with `fill` (one code point) to exactly `length` code points. */
function padTo(base: string, length: number, fill: string): string {
  const have = codePoints(base);
  if (have > length)
    throw new HarnessError(`the id ${base} is already longer than ${length} code points`);
  return base + fill.repeat(length - have);
}

/** The UTF-8 byte length of the JSON text of `frame`. */
const jsonBytes = (frame: unknown): number => Buffer.byteLength(JSON.stringify(frame));

/** Waits `ms` on the kit's clock. */
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends `session/open` with `i` for every peer of `peers` on `conn` at once (of app
 * `role`, watching `watch`), then takes every answer; returns them by peer.
 */
async function openMany(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  peers: readonly string[],
  role: AppRole = "open",
  watch: readonly string[] = [],
): Promise<Map<string, Frame>> {
  const serials = peers.map((peerId) => {
    const i = conn.nextSerial();
    conn.send({
      cmd: "session",
      op: "open",
      appId: ctx.appId(role),
      peerId,
      ...(watch.length > 0 && { sessionPeerIds: [...watch] }),
      i,
    });
    return i;
  });
  const answers = new Map<string, Frame>();
  for (const [k, i] of serials.entries()) {
    answers.set(
      peers[k] as string,
      await ctx.waitFor(
        requirement,
        conn,
        (f) => f.i === i,
        `the answer to the session/open of ${peers[k]}`,
        10_000,
      ),
    );
  }
  return answers;
}

/** Whether an answer is `session/opened`. */
const isOpened = (f: Frame | undefined) => f?.cmd === "session" && f.op === "opened";

/**
 * The app on which a case fills a per-app bound: the origin-restricted one when the target
 * has it (no other case of the run holds much of it), else the open app; with the limits
 * that its own `session/opened` announces (they are per app, SESSION-INFO-5).
 */
async function quotaApp(
  ctx: CaseContext,
  bound?: keyof typeof BUDGETS,
): Promise<{
  role: AppRole;
  limits: Readonly<Record<string, number>>;
  /** Whether the case fills the small-bounds instance rather than the main one. */
  bounds: boolean;
}> {
  const role: AppRole = ctx.target.apps.origin !== undefined ? "origin" : "open";
  const probe = async () => {
    const { conn, opened } = await ctx.open(ctx.peer("quota-probe"), { app: role });
    await conn.close();
    const info = opened.serverInfo as { limits?: Record<string, number> } | undefined;
    if (info?.limits === undefined)
      throw new NotApplicable(
        "the server announces no limits (serverInfo.limits, SESSION-INFO-5), so a kit cannot tell its bounds",
      );
    return info.limits;
  };
  let limits = await probe();
  // A bound too large to fill in this profile: the instance with small per-app bounds
  // (LIMIT-BOUND-2), when the target has one, is where the case fills it.
  const value = bound === undefined ? undefined : limits[bound];
  const budget =
    bound === undefined
      ? undefined
      : BUDGETS[bound][ctx.profile === "quick" ? "quick" : "thorough"];
  if (
    value !== undefined &&
    budget !== undefined &&
    value > budget &&
    ctx.target.bounds !== undefined
  ) {
    ctx.useInstance("bounds");
    ctx.note(`the main instance's ${bound} is ${value}: filling the small-bounds instance instead`);
    limits = await probe();
    return { role, limits, bounds: true };
  }
  return { role, limits, bounds: false };
}

/**
 * One announced bound of LIMIT-QUOTA-1 or LIMIT-STORE-1; not applicable when the server
 * has none, or when it is more than the profile's budget lets the case fill.
 */
function boundOf(
  ctx: CaseContext,
  limits: Readonly<Record<string, number>>,
  name: keyof typeof BUDGETS,
): number {
  const value = limits[name];
  if (value === undefined)
    throw new NotApplicable(
      `the server announces no ${name}: it has no such bound (Table 9), which limit/quota/bounds-announced grades`,
    );
  const { quick, thorough } = BUDGETS[name];
  const budget = ctx.profile === "quick" ? quick : thorough;
  if (value > budget) {
    const instead =
      ctx.profile === "quick" && value <= thorough
        ? "a thorough run reaches it"
        : "run against a server configured with a smaller bound";
    throw new NotApplicable(
      `the bound ${name} is ${value}, more than this kit fills in the ${ctx.profile} profile (${budget}): ${instead}`,
    );
  }
  return value;
}

/**
 * The app whose bound of connections a case fills, that bound, and whether the case spreads
 * its connections over loopback addresses of their own: on the loopback, batches of 100
 * from fresh addresses, so that the other cases' connections from 127.0.0.1 meet no bound
 * of an address; elsewhere, only when the address's bound leaves room for the other cases.
 */
async function connectionsOfAnApp(
  ctx: CaseContext,
): Promise<{ role: AppRole; bound: number; spread: boolean }> {
  const { role, limits } = await quotaApp(ctx, "connectionsPerApp");
  const bound = boundOf(ctx, limits, "connectionsPerApp");
  const perAddress = limits.connectionsPerAddress ?? Number.POSITIVE_INFINITY;
  const spread = onLoopback(ctx);
  if (!spread && perAddress < 2 * bound + 100)
    throw new NotApplicable(
      `${bound} connections of an app take too much of the ${perAddress} of one address, and the target is not on this machine's loopback`,
    );
  return { role, bound, spread };
}

/** Whether the target is on this machine's loopback, so that the kit may pick its source address. */
function onLoopback(ctx: CaseContext): boolean {
  const host = new URL(ctx.target.wsUrl).hostname;
  return host === "localhost" || host.startsWith("127.");
}

/** A fresh loopback source address, 127.a.b.c, which no other case of the run uses. */
function freshLoopback(): string {
  const byte = () => 2 + Math.floor(Math.random() * 250);
  return `127.${byte()}.${byte()}.${byte()}`;
}

/** Opens `n` connections from `localAddress` (undefined: the default), 100 at a time. */
async function connectMany(
  ctx: CaseContext,
  n: number,
  localAddress?: string,
  short = false,
): Promise<Connection[]> {
  const out: Connection[] = [];
  const ws = localAddress === undefined ? {} : { ws: { localAddress } };
  for (let k = 0; k < n; k += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, n - k) }, () => ctx.connect({ ...ws, short })),
    );
    out.push(...batch);
  }
  return out;
}

/** Closes connections without waiting on each, bounded. */
async function closeAll(conns: readonly Connection[]): Promise<void> {
  for (const c of conns) c.ws.terminate();
  await Promise.race([Promise.all(conns.map((c) => c.closed)), pause(2_000)]);
}

/**
 * The offline deliveries of a session just opened on `conn`: the deliveries received from
 * the frame at index `from` (the open's reply or before it) up to the `{}` of a keepalive
 * sent after the open (OFFLINE-BURST-1, SERIAL-ORDER-1).
 */
async function burstOf(ctx: CaseContext, conn: Connection, from = 0): Promise<Frame[]> {
  const frames = await framesUntilKeepalive(ctx, "OFFLINE-BURST-1", conn, from);
  return frames.filter((f) => f.cmd === "direct");
}

/** The ordering key of a message: `(timestamp, id)` (OFFLINE-LIMIT-1, OFFLINE-ORDER-1). */
const older = (a: { t: number; id: string }, b: { t: number; id: string }) =>
  a.t - b.t || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Fixed limits of Table 9: the announced value must be the spec's, on every server. */
const FIXED: Readonly<Record<string, number>> = {
  msgBytes: MAX_MSG_BYTES,
  frameBytes: MAX_FRAME_BYTES,
  idLength: MAX_ID_LENGTH,
  idsPerArray: MAX_IDS_PER_FRAME,
  roomMembers: MAX_ROOM_MEMBERS,
  pageLimit: 1000,
  pageLimitDefault: 100,
  pageBytes: LOGS_MAX_PAGE_BYTES,
  signatureWindowS: 300,
};

/** Limits of Table 9 that a deployment may raise: the floor of each. */
const DEPLOYMENT_FLOOR: Readonly<Record<string, number>> = {
  watchPerSession: MAX_WATCHED_PER_SESSION,
  sessionsPerConnection: MAX_SESSIONS_PER_CONNECTION,
  watchPerConnection: 20_000,
  offlineCount: MAX_OFFLINE_PER_PEER,
  offlineAgeMs: OFFLINE_TTL_MS,
  readTimeoutMs: 200_000,
  loginTimeoutMs: 10_000,
};

/** The floors a server under test may apply instead (Table 9, last column but one). */
const UNDER_TEST_FLOOR: Readonly<Record<string, number>> = {
  ...DEPLOYMENT_FLOOR,
  offlineCount: 1,
  offlineAgeMs: 1_000,
  readTimeoutMs: 1_000,
  loginTimeoutMs: 1_000,
};

/**
 * Checks announced `limits` against Table 9 under `requirement`: fixed limits equal to the
 * spec's, the others at least `floors`. Members the server leaves out are not graded here.
 */
function checkBounds(
  ctx: CaseContext,
  requirement: string,
  limits: Readonly<Record<string, number>>,
  floors: Readonly<Record<string, number>>,
  server: string,
): void {
  for (const [name, value] of Object.entries(FIXED)) {
    const got = limits[name];
    if (got === undefined) continue;
    ctx.expect(
      requirement,
      got === value,
      `the ${server} applies ${name} ${got}, a fixed limit of Table 9`,
      { expected: `${name} ${value}`, actual: `${name} ${got}` },
    );
  }
  for (const [name, floor] of Object.entries(floors)) {
    const got = limits[name];
    if (got === undefined) continue;
    ctx.expect(
      requirement,
      got >= floor,
      `the ${server} applies ${name} ${got}, below what Table 9 allows it`,
      { expected: `${name} ≥ ${floor}`, actual: `${name} ${got}` },
    );
  }
}

/** The announced limits of the main or shortened server; not applicable without an announcement. */
function announced(ctx: CaseContext, short = false): Readonly<Record<string, number>> {
  const info = ctx.endpoint(short).serverInfo;
  if (info === undefined)
    throw new NotApplicable(
      "the server sends no serverInfo (SESSION-INFO-1 is a SHOULD): the kit must be told its limits",
    );
  return ctx.limits(short);
}

/** Acknowledges, best effort, what `peers` have pending, so that a filled app has room again. */
async function drainPending(
  ctx: CaseContext,
  role: AppRole,
  peers: readonly string[],
): Promise<void> {
  for (let k = 0; k < peers.length; k += 100) {
    const chunk = peers.slice(k, k + 100);
    try {
      const conn = await ctx.connect();
      for (const peerId of chunk) {
        conn.send({
          cmd: "session",
          op: "open",
          appId: ctx.appId(role),
          peerId,
          i: conn.nextSerial(),
        });
      }
      const frames = await conn.settle(300, 5_000);
      const byPeer = new Map<string, string[]>();
      for (const f of frames) {
        if (f.cmd === "direct" && typeof f.peerId === "string" && typeof f.id === "string") {
          byPeer.set(f.peerId, [...(byPeer.get(f.peerId) ?? []), f.id]);
        }
      }
      for (const [peerId, ids] of byPeer) {
        for (let j = 0; j < ids.length; j += 500)
          conn.send({ cmd: "ack", appId: ctx.appId(role), peerId, ids: ids.slice(j, j + 500) });
      }
      await expectServing(ctx, "ACK-REMOVE-1", conn).catch(() => undefined);
      conn.ws.terminate();
    } catch {
      // Cleanup only: nothing is graded here.
    }
  }
}

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

/** The cases of chapter 07, and of chapter 10's two requirements. */
export const CASES: readonly ServerCase[] = [
  // 7.1 Message text ---------------------------------------------------------------------

  defineCase({
    name: "limit/msg/accepts-up-to-5120-bytes",
    requirements: ["LIMIT-MSG-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      // Bytes of UTF-8, not characters: 1, 2, 3 and 4 bytes a code point, the empty string.
      const texts = [
        "",
        "a".repeat(5120),
        `${"中".repeat(1706)}ab`,
        "😀".repeat(1280),
        `${"é".repeat(2559)}a`,
        "\u0001".repeat(5120),
      ];
      for (const msg of texts) {
        if (Buffer.byteLength(msg) > MAX_MSG_BYTES)
          throw new HarnessError("a text over the limit in the accepting case");
        const what = `a direct of ${Buffer.byteLength(msg)} bytes (${codePoints(msg)} code points)`;
        const ack = await expectReply(
          ctx,
          "LIMIT-MSG-1",
          a.conn,
          direct(ctx, alice, [bob], msg),
          "ack",
        );
        const got = await ctx.waitFor(
          "LIMIT-MSG-1",
          b.conn,
          (f) => f.cmd === "direct" && f.id === ack.uid,
          `the delivery of ${what}`,
        );
        ctx.expect("LIMIT-MSG-1", got.msg === msg, `${what} was delivered changed`, {
          expected: `${Buffer.byteLength(msg)} bytes`,
          actual: `${Buffer.byteLength(String(got.msg))} bytes`,
        });
      }
    },
  }),

  defineCase({
    name: "limit/msg/refuses-over-5120-bytes-and-keeps-the-connection",
    requirements: ["LIMIT-MSG-2", "ERROR-NOEFFECT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const texts = [
        "a".repeat(5121),
        "中".repeat(1707),
        "😀".repeat(1281),
        `${"é".repeat(2560)}a`,
      ];
      for (const msg of texts) {
        const what = `a direct of ${Buffer.byteLength(msg)} bytes (${codePoints(msg)} code points)`;
        await refuseInvalid(ctx, "LIMIT-MSG-2", a.conn, direct(ctx, alice, [bob], msg), what);
        await refuseInvalid(
          ctx,
          "LIMIT-MSG-2",
          a.conn,
          direct(ctx, alice, [bob], msg, { transient: true }),
          `a transient ${what}`,
        );
      }
      // The connection and the session go on: a message after the refusals is delivered,
      // and it is the only one bob gets.
      await expectReply(ctx, "LIMIT-MSG-2", a.conn, direct(ctx, alice, [bob], "after"), "ack");
      await ctx.waitFor(
        "LIMIT-MSG-2",
        b.conn,
        isDelivery("after"),
        "the delivery of the message sent after the refusals",
      );
      const long = b.conn.frames.filter((f) => f.cmd === "direct" && f.msg !== "after");
      ctx.expect("ERROR-NOEFFECT-1", long.length === 0, "a refused direct was delivered", {
        expected: "only the message after",
        actual: long.map(summary).join(", "),
      });
    },
  }),

  defineCase({
    name: "limit/msg/refuses-over-5120-bytes-to-a-group",
    requirements: ["LIMIT-MSG-2"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      const roomId = await createGroup(ctx, a.conn, alice);
      await refuseInvalid(
        ctx,
        "LIMIT-MSG-2",
        a.conn,
        peerCommand(ctx, alice, { cmd: "direct", msg: "😀".repeat(1281), roomId }),
        "a group direct of 5124 bytes",
      );
      await expectReply(
        ctx,
        "LIMIT-MSG-2",
        a.conn,
        peerCommand(ctx, alice, { cmd: "direct", msg: "😀".repeat(1280), roomId }),
        "ack",
      );
    },
  }),

  defineCase({
    name: "limit/text/refuses-unpaired-surrogates",
    requirements: ["LIMIT-TEXT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const frames: [Frame, string][] = [
        [direct(ctx, alice, [bob], "ab\ud800"), "a msg ending with a lone high surrogate"],
        [direct(ctx, alice, [bob], "\udc00ab"), "a msg starting with a lone low surrogate"],
        [direct(ctx, alice, [bob], "\udc00\ud800"), "a msg with a reversed pair"],
        [direct(ctx, alice, [`${bob}\ud83d`], "x"), "a recipient ending with a lone surrogate"],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: ["\ude00"] }),
          "a query of a lone surrogate",
        ],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: [`${bob}\ud800`] }),
          "a session/add of a lone surrogate",
        ],
        [peerCommand(ctx, alice, { cmd: "ack", ids: ["\ud800"] }), "an ack of a lone surrogate"],
        [
          peerCommand(ctx, alice, { cmd: "room", op: "leave", roomId: "g\ud800" }),
          "a room/leave of a lone surrogate",
        ],
        [peerCommand(ctx, alice, { cmd: "logs", cid: "\ud800" }), "a logs of a lone surrogate"],
      ];
      for (const [frame, what] of frames)
        await refuseInvalid(ctx, "LIMIT-TEXT-1", a.conn, frame, `a command with ${what}`);
      // The exception: the peerId of a session/open gets 4103, the code of its node.
      const open = {
        cmd: "session",
        op: "open",
        appId: ctx.appId(),
        peerId: `${ctx.peer("x")}\ud800`,
      };
      await refuseInvalid(
        ctx,
        "LIMIT-TEXT-1",
        a.conn,
        open,
        "a session/open whose peerId holds a lone surrogate",
      );
      // A valid pair, escaped, is text like any other.
      const i = a.conn.nextSerial();
      const text = JSON.stringify({ ...direct(ctx, alice, [bob], "PAIR😀"), i }).replace(
        "PAIR",
        "\\ud83d\\ude00",
      );
      a.conn.sendText(text, "a msg holding an escaped surrogate pair (valid)");
      const ack = await ctx.waitFor(
        "LIMIT-TEXT-1",
        a.conn,
        (f) => f.i === i,
        "the answer to a msg with an escaped surrogate pair",
      );
      ctx.expect(
        "LIMIT-TEXT-1",
        ack.cmd === "ack",
        "a msg holding a valid escaped surrogate pair was refused",
        { expected: "ack", actual: summary(ack) },
      );
      const got = await ctx.waitFor(
        "LIMIT-TEXT-1",
        b.conn,
        (f) => f.cmd === "direct" && f.id === ack.uid,
        "the delivery of the escaped pair",
      );
      ctx.expectEqual(
        "LIMIT-TEXT-1",
        got.msg,
        "😀😀",
        "the delivered text of an escaped pair and a raw one",
      );
    },
  }),

  // 7.2 Identifiers ----------------------------------------------------------------------

  defineCase({
    name: "limit/id/accepts-every-valid-id",
    requirements: ["LIMIT-ID-1", "LIMIT-FLOOR-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      const p = ctx.peer("v");
      const long = [padTo(`${p}-`, 64, "😀"), padTo(`${p}-`, 64, "x"), padTo(`${p}-`, 64, "中")];
      const valid = [
        ...long,
        `${p}-a b`,
        `${p}Ａ`,
        `${p}\u0080`,
        `${p}é`,
        `${p}-_.!@#$%^&*()[]{}|/\\?<>'"=+~`,
        `${p}中文`,
      ];
      // Ids of one code point cannot be made fresh, so they are only queried and sent
      // transient messages, which no offline store keeps (TRANSIENT-STORE-1).
      const short = ["a", "é", "😀", "Ａ"];
      for (const id of [...valid, ...short]) {
        const what = `the id ${JSON.stringify(id)} (${codePoints(id)} code points)`;
        await expectReply(
          ctx,
          "LIMIT-ID-1",
          a.conn,
          peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [id] }),
          "session",
          "query-result",
        );
        await expectReply(
          ctx,
          "LIMIT-ID-1",
          a.conn,
          direct(ctx, alice, [id], `to ${what}`, { transient: true }),
          "ack",
        );
      }
      // Peers with the longest and the widest ids open sessions and get their messages.
      for (const id of [long[0] as string, `${p}-a b`, `${p}\u0080`]) {
        const s = await ctx.open(id);
        await expectReply(
          ctx,
          "LIMIT-ID-1",
          a.conn,
          direct(ctx, alice, [id], `hello ${id}`),
          "ack",
        );
        const got = await ctx.waitFor(
          "LIMIT-ID-1",
          s.conn,
          isDelivery(`hello ${id}`),
          `the delivery to ${JSON.stringify(id)}`,
        );
        ctx.expectEqual("LIMIT-ID-1", got.peerId, id, "the peerId of the delivery");
      }
    },
  }),

  defineCase({
    name: "limit/id/refuses-invalid-ids-in-every-field",
    requirements: ["LIMIT-ID-2", "LIMIT-ID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const bad = [
        "",
        "x".repeat(65),
        "😀".repeat(65),
        "a:b",
        ":",
        "\u0000",
        "a\u001f",
        "\u007f",
        "\t",
        `${bob}\n`,
      ];
      for (const id of bad) {
        const fields: [Frame, string][] = [
          [direct(ctx, alice, [bob, id], "m"), "toPeerIds"],
          [
            peerCommand(ctx, alice, { cmd: "direct", msg: "m", roomId: id }),
            "the roomId of a direct",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [id] }),
            "the sessionPeerIds of session/query",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: [id] }),
            "the sessionPeerIds of session/add",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "remove", sessionPeerIds: [id] }),
            "the sessionPeerIds of session/remove",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "open", sessionPeerIds: [bob, id] }),
            "the sessionPeerIds of a re-open",
          ],
          [
            peerCommand(ctx, alice, { cmd: "room", op: "join", roomId: id }),
            "the roomId of room/join",
          ],
          [
            peerCommand(ctx, alice, { cmd: "room", op: "leave", roomId: id }),
            "the roomId of room/leave",
          ],
          [
            peerCommand(ctx, alice, {
              cmd: "room",
              op: "invite",
              roomId: ctx.peer("g"),
              roomPeerIds: [id],
            }),
            "the roomPeerIds of room/invite",
          ],
          [
            peerCommand(ctx, alice, { cmd: "room", op: "kick", roomId: id, roomPeerIds: [bob] }),
            "the roomId of room/kick",
          ],
          [
            peerCommand(ctx, id, { cmd: "session", op: "query", sessionPeerIds: [] }),
            "the peerId of session/query",
          ],
        ];
        for (const [frame, field] of fields) {
          await refuseInvalid(
            ctx,
            "LIMIT-ID-2",
            a.conn,
            frame,
            `${JSON.stringify(id)} (${codePoints(id)} code points) in ${field}`,
          );
        }
        // The peerId of a session/open gets 4103 instead (SESSION-OPEN-1).
        await refuseInvalid(
          ctx,
          "LIMIT-ID-2",
          a.conn,
          { cmd: "session", op: "open", appId: ctx.appId(), peerId: id },
          `${JSON.stringify(id)} as the peerId of a session/open`,
        );
      }
      await expectServing(ctx, "LIMIT-ID-2", a.conn);
    },
  }),

  defineCase({
    name: "limit/id/ignores-signature-fields-of-an-unsigned-app",
    requirements: ["LIMIT-ID-2", "LIMIT-TEXT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      // An app that does not enforce signatures ignores s, t and n whatever they hold: an
      // invalid nonce is not an invalid id here (LIMIT-ID-2), a lone surrogate no failure
      // (LIMIT-TEXT-1). The kit's schemas describe the signed form, so these go unchecked.
      const cases: [Frame, string][] = [
        [{ n: "a:b" }, "LIMIT-ID-2"],
        [{ n: "" }, "LIMIT-ID-2"],
        [{ n: "x".repeat(65), s: 5, t: -1 }, "LIMIT-ID-2"],
        [{ n: "\ud800", s: "\ud800", t: 1 }, "LIMIT-TEXT-1"],
      ];
      for (const [junk, requirement] of cases) {
        const what = `a session/add with ${JSON.stringify(junk)}`;
        const answer = await askInvalid(
          ctx,
          "LIMIT-ID-2",
          conn,
          peerCommand(ctx, alice, {
            cmd: "session",
            op: "add",
            sessionPeerIds: [ctx.peer("w")],
            ...junk,
          }),
          what,
        );
        ctx.expect(
          requirement,
          answer.cmd === "session" && answer.op === "added",
          `${what} in an app that does not enforce signatures was refused`,
          { expected: "session/added", actual: summary(answer) },
        );
      }
    },
  }),

  defineCase({
    name: "limit/id/checks-the-nonce-of-a-signed-app",
    requirements: ["LIMIT-ID-2", "LIMIT-TEXT-1", "LIMIT-ID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice, { app: "signed" });
      const add = (n: string) =>
        peerCommand(
          ctx,
          alice,
          {
            cmd: "session",
            op: "add",
            sessionPeerIds: [],
            ...ctx.sessionSignature({ peerId: alice, watchPeerIds: [], n }),
          },
          "signed",
        );
      // Malformed, the nonce fails the schema, before the signature: 4114, not 4102.
      for (const n of ["a:b", "", "x".repeat(65), "\u0000", "\u007f"]) {
        await refuseInvalid(
          ctx,
          "LIMIT-ID-2",
          conn,
          add(n),
          `a signed session/add whose nonce is ${JSON.stringify(n)}`,
        );
      }
      await refuseInvalid(
        ctx,
        "LIMIT-TEXT-1",
        conn,
        add("n\ud800"),
        "a signed session/add whose nonce holds a lone surrogate",
      );
      // A nonce of 64 code points, four bytes each, is valid.
      const n64 = padTo(`${ctx.nonce().slice(0, 40)}-`, 64, "😀");
      await expectReply(ctx, "LIMIT-ID-1", conn, add(n64), "session", "added");
    },
  }),

  defineCase({
    name: "limit/appid/malformed-app-id-names-no-app",
    requirements: ["LIMIT-APPID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bad: unknown[] = [
        "",
        "x".repeat(65),
        "app 1",
        "app/1",
        "äpp",
        "app:1",
        "app\n",
        5,
        null,
      ];
      for (const appId of bad) {
        // As the first command: the app of the connection, so the close of SESSION-APP-2.
        const conn = await ctx.connect();
        const frame = { cmd: "session", op: "open", appId, peerId: alice };
        const code = ctx.expectedCode(frame);
        const answer = await askInvalid(
          ctx,
          "LIMIT-APPID-1",
          conn,
          frame,
          `a first session/open of the app id ${JSON.stringify(appId)}`,
        );
        expectCode(
          ctx,
          "LIMIT-APPID-1",
          answer,
          code,
          `a first session/open of the app id ${JSON.stringify(appId)}`,
        );
        await ctx.expectClose("LIMIT-APPID-1", conn, code);
      }
      // On a bound connection: another app, error 4100 (SESSION-APP-3), connection kept.
      const { conn } = await ctx.open(alice);
      for (const appId of bad) {
        await refuseInvalid(
          ctx,
          "LIMIT-APPID-1",
          conn,
          { cmd: "session", op: "query", appId, peerId: alice, sessionPeerIds: [] },
          `a query of the app id ${JSON.stringify(appId)}`,
        );
      }
      await expectReply(
        ctx,
        "LIMIT-APPID-1",
        conn,
        peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [] }),
        "session",
        "query-result",
      );
    },
  }),

  defineCase({
    name: "limit/msgid/refuses-malformed-ack-ids-and-keeps-them-pending",
    requirements: ["LIMIT-MSGID-1", "ERROR-NOEFFECT-1", "ACK-IGNORE-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const ack = await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        direct(ctx, alice, [bob], "pending"),
        "ack",
      );
      const id = String(ack.uid);
      const b = await ctx.open(bob);
      const first = await burstOf(ctx, b.conn);
      ctx.expect(
        "OFFLINE-OPEN-1",
        first.some((f) => f.id === id),
        "the pending message was not delivered after the open",
        { actual: first.map(summary).join(", ") || "nothing" },
      );
      // Items that are no message id at all: 4114, the ack fails whole.
      for (const badId of ["", "x".repeat(65), "😀".repeat(65), "\ud800", 7]) {
        await refuseInvalid(
          ctx,
          "LIMIT-MSGID-1",
          b.conn,
          peerCommand(ctx, bob, { cmd: "ack", ids: [id, badId] }),
          `an ack of the pending id and ${JSON.stringify(badId)}`,
        );
      }
      // A well-formed id this server never made is ignored, silently, even with i: any
      // alphabet, 64 code points.
      const unknownI = b.conn.nextSerial();
      b.conn.send(
        peerCommand(ctx, bob, { cmd: "ack", ids: [padTo("never-made-é", 64, "😀")], i: unknownI }),
      );
      await expectServing(ctx, "ACK-IGNORE-1", b.conn);
      ctx.expect(
        "ACK-IGNORE-1",
        !b.conn.frames.some((f) => f.i === unknownI),
        "an ack of a well-formed unknown id was answered",
        { expected: "no answer", actual: summary(b.conn.frames.find((f) => f.i === unknownI)) },
      );
      // The refused acks removed nothing: a re-open delivers the message again.
      const reopened = b.conn.frames.length;
      await expectReply(
        ctx,
        "SESSION-REOPEN-1",
        b.conn,
        peerCommand(ctx, bob, { cmd: "session", op: "open" }),
        "session",
        "opened",
      );
      const again = await burstOf(ctx, b.conn, reopened);
      ctx.expect(
        "ERROR-NOEFFECT-1",
        again.filter((f) => f.id === id).length === 1,
        "a refused ack removed the pending message",
        {
          expected: `the pending message ${id} again`,
          actual: again.map(summary).join(", ") || "nothing",
        },
      );
      // A valid ack removes it: the message is not delivered after the next re-open.
      b.conn.send(peerCommand(ctx, bob, { cmd: "ack", ids: [id] }));
      const last = b.conn.frames.length;
      await expectReply(
        ctx,
        "SESSION-REOPEN-1",
        b.conn,
        peerCommand(ctx, bob, { cmd: "session", op: "open" }),
        "session",
        "opened",
      );
      const after = await burstOf(ctx, b.conn, last);
      ctx.expect(
        "ACK-REMOVE-1",
        !after.some((f) => f.id === id),
        "a valid ack did not remove the pending message",
        { expected: "no delivery after the valid ack", actual: after.map(summary).join(", ") },
      );
    },
  }),

  // 7.3 Arrays ---------------------------------------------------------------------------

  defineCase({
    name: "limit/array/refuses-more-than-500-items",
    requirements: ["LIMIT-ARRAY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      // Few distinct peers, many items: duplicates count (LIMIT-DUP-1 does not apply here).
      const few = peerIds(ctx, "p", 7);
      for (const n of [501, 1000]) {
        const many = cycle(few, n);
        const frames: [Frame, string][] = [
          [
            {
              cmd: "session",
              op: "open",
              appId: ctx.appId(),
              peerId: ctx.peer("carol"),
              sessionPeerIds: many,
            },
            "the sessionPeerIds of a session/open",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: many }),
            "the sessionPeerIds of a session/add",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "remove", sessionPeerIds: many }),
            "the sessionPeerIds of a session/remove",
          ],
          [
            peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: many }),
            "the sessionPeerIds of a session/query",
          ],
          [direct(ctx, alice, many, "m"), "the toPeerIds of a direct"],
          [
            direct(ctx, alice, many, "m", { transient: true }),
            "the toPeerIds of a transient direct",
          ],
          [
            peerCommand(ctx, alice, { cmd: "ack", ids: cycle(["m1", "m2"], n) }),
            "the ids of an ack",
          ],
          [
            peerCommand(ctx, alice, {
              cmd: "room",
              op: "invite",
              roomId: ctx.peer("g"),
              roomPeerIds: many,
            }),
            "the roomPeerIds of a room/invite",
          ],
          [
            peerCommand(ctx, alice, {
              cmd: "room",
              op: "kick",
              roomId: ctx.peer("g"),
              roomPeerIds: many,
            }),
            "the roomPeerIds of a room/kick",
          ],
        ];
        for (const [frame, field] of frames)
          await refuseInvalid(ctx, "LIMIT-ARRAY-1", a.conn, frame, `${n} items in ${field}`);
      }
      // The refused open opened nothing.
      await refuseValid(
        ctx,
        "LIMIT-ARRAY-1",
        a.conn,
        peerCommand(ctx, ctx.peer("carol"), { cmd: "session", op: "query", sessionPeerIds: [] }),
        ERRORS.SESSION_REQUIRED.code,
        "a command of the peer whose open was refused",
      );
    },
  }),

  defineCase({
    name: "limit/array/accepts-500-items",
    requirements: ["LIMIT-FLOOR-1", "LIMIT-ARRAY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      const few = peerIds(ctx, "p", 7);
      const dups = cycle(few, 500);
      // 500 distinct ids of 64 code points in a query.
      const distinct = Array.from({ length: 500 }, (_, k) =>
        padTo(`${ctx.peer("d")}-${k}-`, 64, "x"),
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: distinct }),
        "session",
        "query-result",
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        {
          cmd: "session",
          op: "open",
          appId: ctx.appId(),
          peerId: ctx.peer("carol"),
          sessionPeerIds: dups,
        },
        "session",
        "opened",
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: dups }),
        "session",
        "added",
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "remove", sessionPeerIds: dups }),
        "session",
        "removed",
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: dups }),
        "session",
        "query-result",
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        direct(ctx, alice, dups, "to seven peers"),
        "ack",
      );
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        a.conn,
        direct(ctx, alice, distinct, "to 500 peers", { transient: true }),
        "ack",
      );
      // An ack of 500 ids fails nothing: no answer, even with i (SERIAL-ACK-1).
      const i = a.conn.nextSerial();
      a.conn.send(peerCommand(ctx, alice, { cmd: "ack", ids: cycle(["m1", "m2"], 500), i }));
      await expectServing(ctx, "LIMIT-FLOOR-1", a.conn);
      const answer = a.conn.frames.find((f) => f.i === i);
      ctx.expect("LIMIT-FLOOR-1", answer === undefined, "an ack of 500 ids was refused", {
        expected: "no answer",
        actual: summary(answer),
      });
    },
  }),

  defineCase({
    name: "limit/array/room-peer-ids-500-and-501",
    requirements: ["LIMIT-ARRAY-1", "LIMIT-FLOOR-1"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      const roomId = await createGroup(ctx, a.conn, alice);
      const few = peerIds(ctx, "p", 7);
      for (const op of ["invite", "kick"]) {
        await refuseInvalid(
          ctx,
          "LIMIT-ARRAY-1",
          a.conn,
          peerCommand(ctx, alice, { cmd: "room", op, roomId, roomPeerIds: cycle(few, 501) }),
          `a room/${op} of 501 items`,
        );
        const reply = await expectReply(
          ctx,
          "LIMIT-FLOOR-1",
          a.conn,
          peerCommand(ctx, alice, { cmd: "room", op, roomId, roomPeerIds: cycle(few, 500) }),
          "room",
          op === "invite" ? "invited" : "kicked",
        );
        ctx.expectEqual(
          "LIMIT-FLOOR-1",
          new Set(reply.roomPeerIds as string[]).size,
          few.length,
          `the peers a room/${op} of 500 items (7 distinct) changed`,
        );
      }
    },
  }),

  defineCase({
    name: "limit/empty/refuses-empty-recipient-and-id-arrays",
    requirements: ["LIMIT-EMPTY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      const roomId =
        ctx.target.features.groups === true ? await createGroup(ctx, a.conn, alice) : ctx.peer("g");
      const frames: [Frame, string][] = [
        [direct(ctx, alice, [], "m"), "a direct to no peer"],
        [direct(ctx, alice, [], "m", { transient: true }), "a transient direct to no peer"],
        [
          peerCommand(ctx, alice, { cmd: "room", op: "invite", roomId, roomPeerIds: [] }),
          "a room/invite of no peer",
        ],
        [
          peerCommand(ctx, alice, { cmd: "room", op: "kick", roomId, roomPeerIds: [] }),
          "a room/kick of no peer",
        ],
        [peerCommand(ctx, alice, { cmd: "ack", ids: [] }), "an ack of no id"],
      ];
      for (const [frame, what] of frames)
        await refuseInvalid(ctx, "LIMIT-EMPTY-1", a.conn, frame, what);
      // An empty watch list is allowed: a session may watch nobody.
      await expectReply(
        ctx,
        "SESSION-OPEN-2",
        a.conn,
        {
          cmd: "session",
          op: "open",
          appId: ctx.appId(),
          peerId: ctx.peer("carol"),
          sessionPeerIds: [],
        },
        "session",
        "opened",
      );
      await expectReply(
        ctx,
        "WATCH-ADD-2",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: [] }),
        "session",
        "added",
      );
      await expectReply(
        ctx,
        "WATCH-QUERY-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [] }),
        "session",
        "query-result",
      );
    },
  }),

  defineCase({
    name: "limit/dup/counts-a-repeated-id-once",
    requirements: ["LIMIT-DUP-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const dave = ctx.peer("dave");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      // One delivery per recipient, live and offline.
      await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        direct(ctx, alice, [bob, bob, dave, bob, dave], "twice named"),
        "ack",
      );
      await expectReply(ctx, "ACK-REPLY-1", a.conn, direct(ctx, alice, [bob], "sentinel"), "ack");
      await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b.conn,
        isDelivery("sentinel"),
        "the sentinel sent after the message named twice",
      );
      ctx.expectEqual(
        "LIMIT-DUP-1",
        b.conn.frames.filter(isDelivery("twice named")).length,
        1,
        "live deliveries to bob of a message naming him three times",
      );
      const d = await ctx.open(dave);
      const burst = await burstOf(ctx, d.conn);
      ctx.expectEqual(
        "LIMIT-DUP-1",
        burst.filter((f) => f.msg === "twice named").length,
        1,
        "offline deliveries to dave of a message naming him twice",
      );
      // The replies list each peer once.
      const carol = await ctx.open(ctx.peer("carol"), { watch: [bob, bob, ctx.peer("x"), bob] });
      ctx.expectEqual(
        "LIMIT-DUP-1",
        carol.opened.onlineSessionPeerIds,
        [bob],
        "the online peers of an open watching bob three times",
      );
      const q = await expectReply(
        ctx,
        "WATCH-QUERY-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [bob, dave, bob] }),
        "session",
        "query-result",
      );
      ctx.expectEqual(
        "LIMIT-DUP-1",
        [...(q.onlineSessionPeerIds as string[])].sort(),
        [bob, dave].sort(),
        "the online peers of a query naming bob twice",
      );
    },
  }),

  defineCase({
    name: "limit/dup/watch-limit-counts-distinct-peers",
    requirements: ["LIMIT-DUP-1", "LIMIT-FLOOR-1"],
    async run(ctx) {
      const perSession = ctx.limit("watchPerSession");
      if (perSession > 20_000)
        throw new NotApplicable(
          `a watch set of ${perSession} peers is more than this case fills (20000)`,
        );
      const alice = ctx.peer("alice");
      const watch = peerIds(ctx, "w", perSession - 1);
      const a = await ctx.open(alice, { watch: watch.slice(0, 500) });
      for (let k = 500; k < watch.length; k += 500) {
        await expectReply(
          ctx,
          "WATCH-ADD-2",
          a.conn,
          peerCommand(ctx, alice, {
            cmd: "session",
            op: "add",
            sessionPeerIds: watch.slice(k, k + 500),
          }),
          "session",
          "added",
        );
      }
      // One peer short of the limit: 500 items naming one new peer and old ones fit.
      const last = ctx.peer("last");
      await expectReply(
        ctx,
        "LIMIT-DUP-1",
        a.conn,
        peerCommand(ctx, alice, {
          cmd: "session",
          op: "add",
          sessionPeerIds: cycle([last, ...watch.slice(0, 3)], 500),
        }),
        "session",
        "added",
      );
      // Now full: one more distinct peer is refused (WATCH-LIMIT-1), however it is named.
      await refuseValid(
        ctx,
        "LIMIT-DUP-1",
        a.conn,
        peerCommand(ctx, alice, {
          cmd: "session",
          op: "add",
          sessionPeerIds: [ctx.peer("over"), ctx.peer("over")],
        }),
        ERRORS.LIMIT_EXCEEDED.code,
        "an add of one peer more than the watch limit, named twice",
      );
    },
  }),

  defineCase({
    name: "limit/sessions/refuses-a-session-over-the-connection-bound",
    requirements: ["LIMIT-SESSIONS-1", "LIMIT-FLOOR-1"],
    async run(ctx) {
      const bound = ctx.limit("sessionsPerConnection");
      ctx.expect(
        "LIMIT-FLOOR-1",
        bound >= MAX_SESSIONS_PER_CONNECTION,
        "the server announces fewer sessions per connection than the spec's 100",
        { expected: "≥ 100", actual: String(bound) },
      );
      if (bound > 1_000)
        throw new NotApplicable(
          `${bound} sessions on one connection are more than this case opens (1000)`,
        );
      const peers = peerIds(ctx, "p", bound);
      const over = ctx.peer("over");
      const w = await ctx.open(ctx.peer("watcher"), { watch: [over] });
      const conn = await ctx.connect();
      const answers = await openMany(ctx, "LIMIT-FLOOR-1", conn, peers);
      const refused = [...answers].filter(([, f]) => !isOpened(f));
      ctx.expect(
        "LIMIT-FLOOR-1",
        refused.length === 0,
        `a connection could not open ${bound} sessions`,
        {
          expected: `${bound} session/opened`,
          actual: refused
            .slice(0, 3)
            .map(([, f]) => summary(f))
            .join(", "),
        },
      );
      // One more: 4120, carrying its i and peerId, and no session.
      const answer = await ctx.request("LIMIT-SESSIONS-1", conn, {
        cmd: "session",
        op: "open",
        appId: ctx.appId(),
        peerId: over,
      });
      ctx.expectError("LIMIT-SESSIONS-1", answer, ERRORS.LIMIT_EXCEEDED.code);
      await refuseValid(
        ctx,
        "LIMIT-SESSIONS-1",
        conn,
        peerCommand(ctx, over, { cmd: "session", op: "query", sessionPeerIds: [] }),
        ERRORS.SESSION_REQUIRED.code,
        "a command of the peer whose open was refused",
      );
      await ctx.expectNone(
        "LIMIT-SESSIONS-1",
        w.conn,
        isPresence(over),
        "a presence frame about the peer whose open was refused",
        300,
      );
      // A re-open adds no session, so it never meets the bound.
      await expectReply(
        ctx,
        "LIMIT-SESSIONS-1",
        conn,
        {
          cmd: "session",
          op: "open",
          appId: ctx.appId(),
          peerId: peers[0],
          sessionPeerIds: [over],
        },
        "session",
        "opened",
      );
      // Room comes back when a session ends.
      await expectReply(
        ctx,
        "SESSION-CLOSE-1",
        conn,
        peerCommand(ctx, peers[1] as string, { cmd: "session", op: "close" }),
        "session",
        "closed",
      );
      await expectReply(
        ctx,
        "LIMIT-SESSIONS-1",
        conn,
        { cmd: "session", op: "open", appId: ctx.appId(), peerId: over },
        "session",
        "opened",
      );
      await ctx.waitFor(
        "PRESENCE-ON-2",
        w.conn,
        isPresence(over, "on"),
        "the presence on of the peer once its open succeeds",
      );
    },
  }),

  defineCase({
    name: "limit/watch/connection-bound-refuses-and-changes-nothing",
    requirements: ["LIMIT-WATCH-CONN-1", "LIMIT-FLOOR-1"],
    async run(ctx) {
      const total = ctx.limit("watchPerConnection");
      const perSession = ctx.limit("watchPerSession");
      ctx.expect(
        "LIMIT-FLOOR-1",
        total >= 20_000,
        "the server announces fewer watch entries per connection than the spec's 20000",
        { expected: "≥ 20000", actual: String(total) },
      );
      if (total > 40_000)
        throw new NotApplicable(`${total} watch entries are more than this case fills (40000)`);
      const conn = await ctx.connect();
      // Fillers hold total - 1 entries, the grower g one: total in all less one... then one.
      const grower = ctx.peer("grower");
      const seed = ctx.peer("seed");
      await ctx.open(grower, { on: conn, watch: [seed] });
      let left = total - 2;
      let f = 0;
      while (left > 0) {
        const size = Math.min(left, perSession);
        const filler = ctx.peer(`f${f}`);
        const ids = peerIds(ctx, `w${f}`, size);
        await ctx.open(filler, { on: conn, watch: ids.slice(0, 500) });
        for (let k = 500; k < size; k += 500) {
          await expectReply(
            ctx,
            "LIMIT-FLOOR-1",
            conn,
            peerCommand(ctx, filler, {
              cmd: "session",
              op: "add",
              sessionPeerIds: ids.slice(k, k + 500),
            }),
            "session",
            "added",
          );
        }
        left -= size;
        f++;
      }
      const [x, y, z] = [ctx.peer("x"), ctx.peer("y"), ctx.peer("z")];
      // total - 1, plus one: exactly the bound, accepted.
      await expectReply(
        ctx,
        "LIMIT-FLOOR-1",
        conn,
        peerCommand(ctx, grower, { cmd: "session", op: "add", sessionPeerIds: [x] }),
        "session",
        "added",
      );
      // Over it: a session/add and a new session/open are refused and change nothing.
      await refuseValid(
        ctx,
        "LIMIT-WATCH-CONN-1",
        conn,
        peerCommand(ctx, grower, { cmd: "session", op: "add", sessionPeerIds: [y] }),
        ERRORS.LIMIT_EXCEEDED.code,
        `a session/add of one peer over the ${total} watch entries of the connection`,
      );
      const newcomer = ctx.peer("newcomer");
      await refuseValid(
        ctx,
        "LIMIT-WATCH-CONN-1",
        conn,
        { cmd: "session", op: "open", appId: ctx.appId(), peerId: newcomer, sessionPeerIds: [z] },
        ERRORS.LIMIT_EXCEEDED.code,
        "a session/open watching one peer over the connection's watch entries",
      );
      await refuseValid(
        ctx,
        "LIMIT-WATCH-CONN-1",
        conn,
        peerCommand(ctx, newcomer, { cmd: "session", op: "query", sessionPeerIds: [] }),
        ERRORS.SESSION_REQUIRED.code,
        "a command of the peer whose open was refused",
      );
      // A session that watches nobody adds no entry.
      await expectReply(
        ctx,
        "LIMIT-WATCH-CONN-1",
        conn,
        { cmd: "session", op: "open", appId: ctx.appId(), peerId: newcomer, sessionPeerIds: [] },
        "session",
        "opened",
      );
      // y and z come online, then x: the grower hears of x only.
      await ctx.open(y);
      await ctx.open(z);
      await ctx.open(x);
      await ctx.waitFor(
        "PRESENCE-ON-2",
        conn,
        (fr) => fr.peerId === grower && isPresence(x, "on")(fr),
        "the presence on of x, whom the grower watches",
      );
      const leaked = conn.frames.filter((fr) => isPresence(y)(fr) || isPresence(z)(fr));
      ctx.expect(
        "LIMIT-WATCH-CONN-1",
        leaked.length === 0,
        "a refused command changed a watch set",
        { expected: "no presence of y or z", actual: leaked.map(summary).join(", ") },
      );
      // A re-open that shrinks a filler makes room.
      await expectReply(
        ctx,
        "LIMIT-WATCH-CONN-1",
        conn,
        {
          cmd: "session",
          op: "open",
          appId: ctx.appId(),
          peerId: ctx.peer("f0"),
          sessionPeerIds: [],
        },
        "session",
        "opened",
      );
      await expectReply(
        ctx,
        "LIMIT-WATCH-CONN-1",
        conn,
        peerCommand(ctx, grower, { cmd: "session", op: "add", sessionPeerIds: [y] }),
        "session",
        "added",
      );
    },
  }),

  // 7.4 General rules --------------------------------------------------------------------

  defineCase({
    name: "limit/floor/accepts-a-frame-of-65536-bytes",
    requirements: ["LIMIT-FLOOR-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      // bob's id: 64 code points, two bytes each but the prefix's.
      const bob = padTo(`${ctx.peer("bob")}-`, 64, "é");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      // A direct of exactly 65536 bytes: bob named many times (one recipient, LIMIT-DUP-1),
      // and a msg of 5120 bytes whose control characters take 6 bytes each as JSON.
      const base = (to: string[], msg: string) => ({ ...direct(ctx, alice, to, msg), i: 999_999 });
      let count = 1;
      while (
        count < MAX_IDS_PER_FRAME &&
        MAX_FRAME_BYTES - jsonBytes(base(cycle([bob], count + 1), "")) >= 0 &&
        MAX_FRAME_BYTES - jsonBytes(base(cycle([bob], count), "")) > 6 * 5120
      )
        count++;
      const room = MAX_FRAME_BYTES - jsonBytes(base(cycle([bob], count), ""));
      const controls = Math.floor(room / 6);
      const msg = "\u0001".repeat(controls) + "a".repeat(room - 6 * controls);
      const frame = base(cycle([bob], count), msg);
      if (jsonBytes(frame) !== MAX_FRAME_BYTES || Buffer.byteLength(msg) > MAX_MSG_BYTES) {
        throw new HarnessError(
          `the kit built a frame of ${jsonBytes(frame)} bytes with a msg of ${Buffer.byteLength(msg)} bytes`,
        );
      }
      ctx.note(
        `a direct of ${jsonBytes(frame)} bytes: ${count} items of a 64-code-point id, a msg of ${Buffer.byteLength(msg)} bytes`,
      );
      a.conn.send(frame);
      const ack = await ctx.waitFor(
        "LIMIT-FLOOR-1",
        a.conn,
        (f) => f.i === frame.i,
        "the answer to a direct of exactly 65536 bytes",
      );
      ctx.expect(
        "LIMIT-FLOOR-1",
        ack.cmd === "ack",
        "a direct of exactly 65536 bytes was refused",
        { expected: "ack", actual: summary(ack) },
      );
      const got = await ctx.waitFor(
        "LIMIT-FLOOR-1",
        b.conn,
        (f) => f.cmd === "direct" && f.id === ack.uid,
        "the delivery of the 65536-byte direct",
      );
      ctx.expect(
        "LIMIT-FLOOR-1",
        got.msg === msg,
        "the msg of the 65536-byte direct was delivered changed",
        { actual: `${Buffer.byteLength(String(got.msg))} bytes` },
      );
    },
  }),

  defineCase({
    name: "limit/bound/announced-limits-within-table-9",
    requirements: ["LIMIT-BOUND-1"],
    async run(ctx) {
      const limits = announced(ctx);
      // The main target runs with the spec's values (spec 10.2): it is graded against the
      // column "a deployment may apply"; shortened values belong on the shortened server.
      checkBounds(ctx, "LIMIT-BOUND-1", limits, DEPLOYMENT_FLOOR, "server");
    },
  }),

  defineCase({
    name: "limit/bound/shortened-limits-within-table-9",
    requirements: ["LIMIT-BOUND-2", "LIMIT-BOUND-1", "LIMIT-CONFIG-1"],
    needs: ["short"],
    async run(ctx) {
      const limits = announced(ctx, true);
      // A server under test may go lower, to the column "a server under test may also apply"
      // (LIMIT-BOUND-2, LIMIT-CONFIG-1's bounds), never further: that is LIMIT-BOUND-1's.
      checkBounds(ctx, "LIMIT-BOUND-1", limits, UNDER_TEST_FLOOR, "shortened server");
    },
  }),

  defineCase({
    name: "limit/bound/offline-count-as-announced",
    requirements: ["LIMIT-BOUND-3", "LIMIT-BOUND-2"],
    needs: ["short"],
    features: ["offline"],
    async run(ctx) {
      const count = ctx.limit("offlineCount", true);
      if (count > 200)
        throw new NotApplicable(
          `an offline store of ${count} messages is more than this case fills (200)`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const sent: { t: number; id: string }[] = [];
      for (let k = 0; k <= count; k++) {
        const ack = await expectReply(
          ctx,
          "ACK-REPLY-1",
          a.conn,
          direct(ctx, alice, [bob], `m${k}`),
          "ack",
        );
        sent.push({ t: Number(ack.t), id: String(ack.uid) });
      }
      // count + 1 messages: the oldest, by (timestamp, id), is evicted.
      const expected = [...sent]
        .sort(older)
        .slice(1)
        .map((m) => m.id)
        .sort();
      const b = await ctx.open(bob, { short: true });
      const burst = await burstOf(ctx, b.conn);
      ctx.expectEqual(
        "LIMIT-BOUND-3",
        burst.map((f) => String(f.id)).sort(),
        expected,
        `the ids delivered from an offline store of ${count} after ${count + 1} messages`,
      );
    },
  }),

  defineCase({
    name: "limit/bound/offline-age-as-announced",
    requirements: ["LIMIT-BOUND-3", "LIMIT-BOUND-2"],
    needs: ["short"],
    features: ["offline"],
    timeoutMs: 20_000,
    async run(ctx) {
      const age = ctx.limit("offlineAgeMs", true);
      if (age > WAIT_BUDGET_MS)
        throw new NotApplicable(
          `an offline age of ${age} ms is longer than this case waits (${WAIT_BUDGET_MS} ms)`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const old = await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        direct(ctx, alice, [bob], "old"),
        "ack",
      );
      const t0 = performance.now();
      // "mid" goes late and the open comes soon after the age has passed: a slow machine
      // only makes "old" older (still expired) and leaves "mid" well inside the age.
      await ctx.sleep(Math.max(0, age - 200));
      const mid = await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        direct(ctx, alice, [bob], "mid"),
        "ack",
      );
      await ctx.sleep(Math.max(0, t0 + age + 300 - performance.now()));
      const fresh = await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        direct(ctx, alice, [bob], "fresh"),
        "ack",
      );
      const b = await ctx.open(bob, { short: true });
      const ids = (await burstOf(ctx, b.conn)).map((f) => f.id);
      ctx.note(
        `"old" is ${Math.round(performance.now() - t0)} ms old at the open, "mid" some ${Math.round(performance.now() - t0 - age + 200)} ms`,
      );
      ctx.expect(
        "LIMIT-BOUND-3",
        !ids.includes(old.uid),
        `a message older than the announced offline age of ${age} ms was delivered`,
        { expected: "no delivery of old", actual: ids.join(", ") },
      );
      ctx.expect(
        "LIMIT-BOUND-3",
        ids.includes(mid.uid) && ids.includes(fresh.uid),
        `a message younger than the announced offline age of ${age} ms was not delivered`,
        { expected: `${mid.uid} and ${fresh.uid}`, actual: ids.join(", ") || "nothing" },
      );
    },
  }),

  // 1.6 Timeouts, at the shortened server's values (LIMIT-BOUND-2, LIMIT-BOUND-3) ----------

  defineCase({
    name: "timeout/login/closes-after-the-announced-timeout",
    requirements: ["LIMIT-BOUND-3", "ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-3"],
    needs: ["short"],
    timeoutMs: 20_000,
    async run(ctx) {
      const login = ctx.limit("loginTimeoutMs", true);
      const read = ctx.limit("readTimeoutMs", true);
      if (login > WAIT_BUDGET_MS)
        throw new NotApplicable(
          `a login timeout of ${login} ms is longer than this case waits (${WAIT_BUDGET_MS} ms)`,
        );
      const conn = await ctx.connect({ short: true });
      const start = performance.now();
      // Keepalives hold the read timeout off; they open no session, so the login timer runs.
      const every = Math.max(100, Math.min(login, read) / 3);
      const timer = setInterval(() => {
        if (conn.isOpen) conn.send({});
      }, every);
      try {
        await ctx.check("LIMIT-BOUND-3", () => conn.waitClose(login + LATE_MS), {
          expected: `a close ${login} ms after the connection opened`,
        });
      } finally {
        clearInterval(timer);
      }
      const elapsed = performance.now() - start;
      ctx.expect(
        "LIMIT-BOUND-3",
        elapsed >= login - EARLY_MS,
        "the connection was closed before the announced login timeout",
        { expected: `≥ ${login} ms`, actual: `${Math.round(elapsed)} ms` },
      );
      await expectErrorThenClose(ctx, conn, ERRORS.LOGIN_TIMEOUT.code, { noCommand: true });
    },
  }),

  defineCase({
    name: "timeout/read/closes-after-the-announced-timeout",
    requirements: ["LIMIT-BOUND-3", "ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-3"],
    needs: ["short"],
    timeoutMs: 20_000,
    async run(ctx) {
      const read = ctx.limit("readTimeoutMs", true);
      if (read > WAIT_BUDGET_MS)
        throw new NotApplicable(
          `a read timeout of ${read} ms is longer than this case waits (${WAIT_BUDGET_MS} ms)`,
        );
      // A session: the login timeout does not apply.
      const { conn } = await ctx.open(ctx.peer("alice"), { short: true });
      // A keepalive some way in resets the read timer: silence counts from the last frame.
      await ctx.sleep(read * 0.6);
      const last = performance.now();
      await expectServing(ctx, "LIMIT-BOUND-3", conn);
      await ctx.check("LIMIT-BOUND-3", () => conn.waitClose(read + LATE_MS), {
        expected: `a close ${read} ms after the last frame`,
      });
      const silent = performance.now() - last;
      ctx.expect(
        "LIMIT-BOUND-3",
        silent >= read - EARLY_MS,
        "the connection was closed before the announced read timeout after its last frame",
        { expected: `≥ ${read} ms of silence`, actual: `${Math.round(silent)} ms` },
      );
      await expectErrorThenClose(ctx, conn, ERRORS.READ_TIMEOUT.code, { noCommand: true });
    },
  }),

  // 7.5 Stored data and 7.6 memory: the bounds of an app and an address ------------------

  defineCase({
    name: "limit/store/bound-announced",
    requirements: ["LIMIT-STORE-1"],
    async run(ctx) {
      const limits = announced(ctx);
      ctx.expect(
        "LIMIT-STORE-1",
        limits.pendingPerApp !== undefined,
        "the server announces no pendingPerApp: it holds any number of pending messages for an app",
        { expected: "pendingPerApp", actual: "absent" },
      );
    },
  }),

  defineCase({
    name: "limit/quota/bounds-announced",
    requirements: ["LIMIT-QUOTA-1"],
    async run(ctx) {
      const limits = announced(ctx);
      const missing = [
        "watchPerApp",
        "sessionsPerApp",
        "connectionsPerApp",
        "connectionsPerAddress",
      ].filter((n) => limits[n] === undefined);
      ctx.expect(
        "LIMIT-QUOTA-1",
        missing.length === 0,
        `the server announces no ${missing.join(", ")}: it has no such bound`,
        { expected: "every bound of LIMIT-QUOTA-1", actual: `missing ${missing.join(", ")}` },
      );
    },
  }),

  defineCase({
    name: "limit/logs-rate/bound-announced",
    requirements: ["LIMIT-LOGS-RATE-1"],
    async run(ctx) {
      const limits = announced(ctx);
      ctx.expect(
        "LIMIT-LOGS-RATE-1",
        limits.historyBytesPerSecond !== undefined,
        "the server announces no historyBytesPerSecond: it sends history at any rate",
        { expected: "historyBytesPerSecond", actual: "absent" },
      );
    },
  }),

  defineCase({
    name: "limit/store/accepts-up-to-the-app-bound-and-refuses-past-it",
    requirements: ["LIMIT-STORE-2", "ERROR-NOEFFECT-1"],
    features: ["offline"],
    // Fills a per-app bound that concurrent cases of the app would meet.
    needs: ["alone"],
    timeoutMs: 60_000,
    async run(ctx) {
      // The exact boundary: a direct that brings the app's pending messages to its bound,
      // not over it, is accepted [LIMIT-STORE-2]. A server off by one, refusing at the
      // bound, passes refuses-a-direct-over-the-app-bound, which cannot know how many
      // messages the app held before it. Here the app is known to hold none: the case
      // fills the small-bounds instance of a server the kit started, which no other case
      // leaves pending messages in (the cases that fill it drain what they stored).
      const { role, limits, bounds } = await quotaApp(ctx, "pendingPerApp");
      if (!bounds || ctx.target.kind === "url")
        throw new NotApplicable(
          "needs an app known to hold no pending message at the start: the small-bounds instance of a server the kit started (--url targets: refuses-a-direct-over-the-app-bound checks the bound without its exact edge)",
        );
      const bound = boundOf(ctx, limits, "pendingPerApp");
      const perPeer = limits.offlineCount ?? MAX_OFFLINE_PER_PEER;
      // k peers that never open get r directs each, k × r = bound, r within the offline
      // store of a peer, so that nothing is evicted and the count is exact.
      let k = Math.max(1, Math.ceil(bound / perPeer));
      while (k <= MAX_IDS_PER_FRAME && bound % k !== 0) k++;
      if (k > MAX_IDS_PER_FRAME)
        throw new NotApplicable(
          `the bound ${bound} has no divisor of at most ${MAX_IDS_PER_FRAME} recipients that keeps each under ${perPeer} pending`,
        );
      const rounds = bound / k;
      const offline = peerIds(ctx, "e", k);
      const over = ctx.peer("over");
      const sender = ctx.peer("sender");
      const s = await ctx.open(sender, { app: role });
      ctx.note(`${rounds} directs to ${k} peers: ${bound} pending, the bound itself`);
      try {
        for (let r = 0; r < rounds; r++) {
          const answer = await ctx.request(
            "LIMIT-STORE-2",
            s.conn,
            peerCommand(ctx, sender, { cmd: "direct", msg: `edge ${r}`, toPeerIds: offline }, role),
          );
          ctx.expect(
            "LIMIT-STORE-2",
            !isError(answer),
            `a direct that brings the app's pending messages to ${(r + 1) * k}, ${r + 1 === rounds ? "exactly its bound" : "under its bound"} of ${bound}, was refused: only a direct that takes them over the bound may be`,
            { expected: "ack", actual: summary(answer) },
          );
        }
        // One more pending message, for a peer with room in its own store: over the bound.
        const answer = await ctx.request(
          "LIMIT-STORE-2",
          s.conn,
          peerCommand(ctx, sender, { cmd: "direct", msg: "edge over", toPeerIds: [over] }, role),
        );
        ctx.expect(
          "LIMIT-STORE-2",
          isError(answer),
          `the app accepted a pending message past its bound of ${bound}, all ${bound} of them this case's own`,
          { expected: "error 4120", actual: summary(answer) },
        );
        expectCode(
          ctx,
          "LIMIT-STORE-2",
          answer,
          ERRORS.LIMIT_EXCEEDED.code,
          "the direct one message over the app's pending bound",
        );
        // Stored nothing: its recipient, opening a session, is handed nothing of it.
        const o = await ctx.open(over, { app: role });
        const frames = await o.conn.settle(300, 3_000);
        const leaked = frames.filter(isDelivery("edge over"));
        ctx.expect(
          "ERROR-NOEFFECT-1",
          leaked.length === 0,
          "the refused direct was stored: its recipient got it when it opened a session",
          { expected: "no delivery", actual: leaked.map(summary).join(", ") },
        );
      } finally {
        // Room again for the rest of the run: the recipients acknowledge what they hold.
        await drainPending(ctx, role, offline);
      }
    },
  }),

  defineCase({
    name: "limit/store/refuses-a-direct-over-the-app-bound",
    requirements: ["LIMIT-STORE-2", "ERROR-NOEFFECT-1"],
    features: ["offline"],
    // Fills a per-app bound that concurrent cases of the app would meet.
    needs: ["alone"],
    timeoutMs: 60_000,
    async run(ctx) {
      const { role, limits } = await quotaApp(ctx, "pendingPerApp");
      const bound = boundOf(ctx, limits, "pendingPerApp");
      const perPeer = limits.offlineCount ?? MAX_OFFLINE_PER_PEER;
      // Peers that never open hold up to perPeer pending each: enough of them to pass the
      // bound with our messages alone, whatever the app held already.
      const k = Math.ceil((bound + 1) / perPeer) + 1;
      if (k >= MAX_IDS_PER_FRAME)
        throw new NotApplicable(
          `reaching ${bound} pending messages at ${perPeer} a peer needs more recipients than one direct holds`,
        );
      const offline = peerIds(ctx, "r", k);
      const live = ctx.peer("live");
      const sender = ctx.peer("sender");
      const s = await ctx.open(sender, { app: role });
      const l = await ctx.open(live, { app: role });
      const recipients = [live, ...offline];
      const rounds = Math.floor(bound / recipients.length) + 2;
      let refused: Frame | undefined;
      let accepted = 0;
      try {
        for (let r = 0; r < rounds && refused === undefined; r++) {
          const answer = await ctx.request(
            "LIMIT-STORE-2",
            s.conn,
            peerCommand(
              ctx,
              sender,
              { cmd: "direct", msg: `fill ${r}`, toPeerIds: recipients },
              role,
            ),
          );
          if (isError(answer)) refused = { ...answer, round: r };
          else accepted++;
        }
        const ours = recipients.length * Math.min(accepted, perPeer);
        ctx.expect(
          "LIMIT-STORE-2",
          refused !== undefined,
          `the app accepted ${ours} pending messages of this case alone, over its announced bound of ${bound}`,
          {
            expected: "error 4120 by then",
            actual: `${accepted} directs of ${recipients.length} recipients acknowledged`,
          },
        );
        const no = refused as Frame;
        expectCode(
          ctx,
          "LIMIT-STORE-2",
          no,
          ERRORS.LIMIT_EXCEEDED.code,
          "the direct over the app's pending bound",
        );
        // Nothing of it was delivered: a transient message, which never meets the bound,
        // comes through after it, and the refused one did not.
        await expectReply(
          ctx,
          "LIMIT-STORE-2",
          s.conn,
          peerCommand(
            ctx,
            sender,
            { cmd: "direct", msg: "transient sentinel", toPeerIds: [live], transient: true },
            role,
          ),
          "ack",
        );
        await ctx.waitFor(
          "TRANSIENT-DELIVER-1",
          l.conn,
          isDelivery("transient sentinel"),
          "the transient sentinel",
        );
        const leaked = l.conn.frames.filter(isDelivery(`fill ${no.round}`));
        ctx.expect(
          "ERROR-NOEFFECT-1",
          leaked.length === 0,
          "the refused direct was delivered live",
          { expected: "no delivery", actual: leaked.map(summary).join(", ") },
        );
      } finally {
        // Room again for the rest of the run: the recipients acknowledge what they hold.
        await drainPending(ctx, role, recipients);
      }
    },
  }),

  defineCase({
    name: "limit/watch/app-bound-refuses-and-changes-nothing",
    requirements: ["LIMIT-WATCH-APP-1"],
    // Fills a per-app bound that concurrent cases of the app would meet.
    needs: ["alone"],
    timeoutMs: 60_000,
    async run(ctx) {
      const { role, limits } = await quotaApp(ctx, "watchPerApp");
      const bound = boundOf(ctx, limits, "watchPerApp");
      const perSession = Math.min(limits.watchPerSession ?? MAX_WATCHED_PER_SESSION, 10_000);
      const perConn = Math.min(limits.watchPerConnection ?? 20_000, 20_000);
      const sessionsPerConn = Math.max(1, Math.floor(perConn / perSession));
      const conns: Connection[] = [];
      let refusal: { answer: Frame; ids: string[]; conn: Connection; peerId: string } | undefined;
      let ours = 0;
      let chunk = 500;
      let n = 0;
      // Sessions of perSession entries, sessionsPerConn to a connection, filled 500 at a
      // time; at the first refusal, smaller chunks until one id does not fit.
      let current:
        | { conn: Connection; peerId: string; size: number; sessions: number; first?: string }
        | undefined;
      let lastAccepted: { conn: Connection; peerId: string; id: string } | undefined;
      try {
        while (ours <= bound + 500) {
          if (current === undefined || current.size + chunk > perSession) {
            const fresh = current === undefined || current.sessions >= sessionsPerConn;
            const conn = fresh ? await ctx.connect() : (current as { conn: Connection }).conn;
            if (fresh) conns.push(conn);
            const peerId = ctx.peer(`s${n++}`);
            await ctx.open(peerId, { on: conn, app: role });
            current = {
              conn,
              peerId,
              size: 0,
              sessions: fresh ? 1 : (current as { sessions: number }).sessions + 1,
            };
          }
          const ids = peerIds(ctx, `w${n}-${current.size}`, chunk);
          const answer = await ctx.request(
            "LIMIT-WATCH-APP-1",
            current.conn,
            peerCommand(
              ctx,
              current.peerId,
              { cmd: "session", op: "add", sessionPeerIds: ids },
              role,
            ),
          );
          if (answer.cmd === "session" && answer.op === "added") {
            current.size += chunk;
            ours += chunk;
            current.first ??= ids[0];
            lastAccepted = {
              conn: current.conn,
              peerId: current.peerId,
              id: current.first as string,
            };
          } else {
            expectCode(
              ctx,
              "LIMIT-WATCH-APP-1",
              answer,
              ERRORS.LIMIT_EXCEEDED.code,
              `a session/add of ${chunk} peers at ${ours} watch entries of this case`,
            );
            refusal = { answer, ids, conn: current.conn, peerId: current.peerId };
            if (chunk === 1) break;
            chunk = Math.max(1, Math.floor(chunk / 2));
          }
        }
        ctx.note(`the app's watch bound met at ${ours} watch entries of this case`);
        ctx.expect(
          "LIMIT-WATCH-APP-1",
          refusal !== undefined,
          `the app took ${ours} watch entries of this case alone, over its announced bound of ${bound}`,
          { expected: "error 4120 by then", actual: "every add accepted" },
        );
        const r = refusal as { answer: Frame; ids: string[]; conn: Connection; peerId: string };
        ctx.expect("LIMIT-WATCH-APP-1", chunk === 1, "the app refused a session/add of one peer", {
          actual: `refused a chunk of ${chunk}`,
        });
        // At the bound, a session/open that watches one peer is refused and opens nothing.
        const extra = await ctx.connect();
        conns.push(extra);
        const newcomer = ctx.peer("newcomer");
        await refuseValid(
          ctx,
          "LIMIT-WATCH-APP-1",
          extra,
          {
            cmd: "session",
            op: "open",
            appId: ctx.appId(role),
            peerId: newcomer,
            sessionPeerIds: [ctx.peer("z")],
          },
          ERRORS.LIMIT_EXCEEDED.code,
          "a session/open watching one peer at the app's watch bound",
        );
        await refuseValid(
          ctx,
          "LIMIT-WATCH-APP-1",
          extra,
          peerCommand(ctx, newcomer, { cmd: "session", op: "query", sessionPeerIds: [] }, role),
          ERRORS.SESSION_REQUIRED.code,
          "a command of the peer whose open was refused",
        );
        // The refused add changed nothing: its first peer comes online unheard, while a
        // peer that an add of this case did take is heard (the same session when it can).
        const refusedPeer = r.ids[0] as string;
        const sure =
          current?.first !== undefined && current.peerId === r.peerId
            ? { conn: r.conn, peerId: r.peerId, id: current.first }
            : lastAccepted;
        if (sure === undefined)
          throw new HarnessError("no session/add of the case was accepted before the app's bound");
        await ctx.open(refusedPeer, { app: role });
        await ctx.open(sure.id, { app: role });
        await ctx.waitFor(
          "LIMIT-WATCH-APP-1",
          sure.conn,
          (f) => f.peerId === sure.peerId && isPresence(sure.id, "on")(f),
          "the presence on of a peer the session watches",
        );
        await ctx.expectNone(
          "LIMIT-WATCH-APP-1",
          r.conn,
          isPresence(refusedPeer),
          "a presence frame about the peer of the refused add",
          200,
        );
        const leaked = r.conn.frames.filter(isPresence(refusedPeer));
        ctx.expect(
          "LIMIT-WATCH-APP-1",
          leaked.length === 0,
          "a refused session/add changed the watch set",
          { expected: "no presence of the refused peer", actual: leaked.map(summary).join(", ") },
        );
      } finally {
        await closeAll(conns);
      }
    },
  }),

  defineCase({
    name: "limit/sessions/app-bound-refuses-a-session",
    requirements: ["LIMIT-SESSIONS-APP-1"],
    // Fills a per-app bound that concurrent cases of the app would meet.
    needs: ["alone"],
    timeoutMs: 60_000,
    async run(ctx) {
      const { role, limits } = await quotaApp(ctx, "sessionsPerApp");
      const bound = boundOf(ctx, limits, "sessionsPerApp");
      const perConn = Math.min(limits.sessionsPerConnection ?? MAX_SESSIONS_PER_CONNECTION, 500);
      const needed = Math.ceil((bound + 2) / perConn) + 1;
      if (limits.connectionsPerApp !== undefined && needed >= limits.connectionsPerApp)
        throw new NotApplicable(
          `${bound} sessions at ${perConn} a connection take more connections than the app's bound of ${limits.connectionsPerApp}`,
        );
      const over = ctx.peer("over");
      const w = await ctx.open(ctx.peer("watcher"), { app: role, watch: [over] });
      const conns: Connection[] = [];
      let refused: { conn: Connection; peerId: string; answer: Frame } | undefined;
      let opened: { conn: Connection; peerId: string } | undefined;
      let ours = 1;
      try {
        for (let c = 0; c < needed && refused === undefined; c++) {
          const conn = await ctx.connect();
          conns.push(conn);
          const peers = peerIds(ctx, `c${c}`, perConn);
          const answers = await openMany(ctx, "LIMIT-SESSIONS-APP-1", conn, peers, role);
          for (const [peerId, answer] of answers) {
            if (isOpened(answer)) {
              ours++;
              opened ??= { conn, peerId };
            } else refused ??= { conn, peerId, answer };
          }
        }
        ctx.expect(
          "LIMIT-SESSIONS-APP-1",
          refused !== undefined,
          `the app opened ${ours} sessions of this case alone, over its announced bound of ${bound}`,
          { expected: "error 4120 by then", actual: "every open accepted" },
        );
        const r = refused as { conn: Connection; peerId: string; answer: Frame };
        expectCode(
          ctx,
          "LIMIT-SESSIONS-APP-1",
          r.answer,
          ERRORS.LIMIT_EXCEEDED.code,
          "a session/open over the app's session bound",
        );
        // At the bound: one more is refused and opens nothing; a re-open is no new session.
        const [conn] = conns.slice(-1) as [Connection];
        await refuseValid(
          ctx,
          "LIMIT-SESSIONS-APP-1",
          conn,
          { cmd: "session", op: "open", appId: ctx.appId(role), peerId: over },
          ERRORS.LIMIT_EXCEEDED.code,
          "a session/open at the app's session bound",
        );
        await refuseValid(
          ctx,
          "LIMIT-SESSIONS-APP-1",
          conn,
          peerCommand(ctx, over, { cmd: "session", op: "query", sessionPeerIds: [] }, role),
          ERRORS.SESSION_REQUIRED.code,
          "a command of the peer whose open was refused",
        );
        const q = await expectReply(
          ctx,
          "WATCH-QUERY-1",
          w.conn,
          peerCommand(
            ctx,
            ctx.peer("watcher"),
            { cmd: "session", op: "query", sessionPeerIds: [over] },
            role,
          ),
          "session",
          "query-result",
        );
        ctx.expectEqual(
          "LIMIT-SESSIONS-APP-1",
          q.onlineSessionPeerIds,
          [],
          "the online peers of a query of the peer whose open was refused",
        );
        const o = opened as { conn: Connection; peerId: string };
        await expectReply(
          ctx,
          "LIMIT-SESSIONS-APP-1",
          o.conn,
          { cmd: "session", op: "open", appId: ctx.appId(role), peerId: o.peerId },
          "session",
          "opened",
        );
        await ctx.expectNone(
          "LIMIT-SESSIONS-APP-1",
          w.conn,
          isPresence(over),
          "a presence frame about the peer whose open was refused",
          200,
        );
      } finally {
        await closeAll(conns);
      }
    },
  }),

  defineCase({
    name: "limit/connections/app-bound-closes-4113-at-binding",
    requirements: ["LIMIT-CONN-APP-1", "ERROR-QUOTA-1", "ERROR-CLOSE-4", "ERROR-CLOSE-5"],
    // Fills a per-app bound that concurrent cases of the app would meet.
    needs: ["alone"],
    timeoutMs: 60_000,
    async run(ctx) {
      const { role, bound, spread } = await connectionsOfAnApp(ctx);
      const watcher = ctx.peer("watcher");
      const w = await ctx.open(watcher, { app: role });
      const conns: Connection[] = [];
      let refused: { conn: Connection; i: number; peerId: string } | undefined;
      try {
        for (let k = 0; k <= bound + 1 && refused === undefined; k += 100) {
          const local = spread ? freshLoopback() : undefined;
          const batch = await connectMany(ctx, Math.min(100, bound + 2 - k), local);
          conns.push(...batch);
          const serials = batch.map((c, j) => {
            const i = c.nextSerial();
            c.send({
              cmd: "session",
              op: "open",
              appId: ctx.appId(role),
              peerId: ctx.peer(`p${k + j}`),
              i,
            });
            return i;
          });
          for (const [j, c] of batch.entries()) {
            const i = serials[j] as number;
            const answer = await ctx.waitFor(
              "LIMIT-CONN-APP-1",
              c,
              (f) => f.i === i,
              "the answer to a connection's first session/open",
              10_000,
            );
            if (!isOpened(answer)) refused ??= { conn: c, i, peerId: ctx.peer(`p${k + j}`) };
          }
        }
        ctx.expect(
          "LIMIT-CONN-APP-1",
          refused !== undefined,
          `the app bound ${conns.length + 1} connections of this case alone, over its announced bound of ${bound}`,
          { expected: "a close with 4113 by then", actual: "every connection bound" },
        );
        const r = refused as { conn: Connection; i: number; peerId: string };
        // The error frame with the command's i and peerId, then the close; no other reply.
        await expectErrorThenClose(ctx, r.conn, ERRORS.APP_QUOTA_EXCEEDED.code, {
          i: r.i,
          peerId: r.peerId,
          closeRequirement: "LIMIT-CONN-APP-1",
        });
        ctx.expectEqual(
          "ERROR-CLOSE-5",
          r.conn.frames.length,
          1,
          "frames in answer to the first command of a connection over the app's bound (its error frame only)",
        );
        const q = await expectReply(
          ctx,
          "WATCH-QUERY-1",
          w.conn,
          peerCommand(
            ctx,
            watcher,
            { cmd: "session", op: "query", sessionPeerIds: [r.peerId] },
            role,
          ),
          "session",
          "query-result",
        );
        ctx.expectEqual(
          "LIMIT-CONN-APP-1",
          q.onlineSessionPeerIds,
          [],
          "the online peers of a query of the peer whose connection was refused",
        );
      } finally {
        await closeAll(conns);
      }
    },
  }),

  defineCase({
    name: "limit/connections/app-bound-counts-connections-without-sessions",
    requirements: ["LIMIT-CONN-APP-1", "SESSION-APP-8", "SESSION-APP-1", "LIMIT-QUOTA-1"],
    // Fills a per-app bound that concurrent cases of the app would meet.
    needs: ["alone"],
    timeoutMs: 60_000,
    async run(ctx) {
      // A connection stays bound to its app when its sessions end [SESSION-APP-8], so it
      // keeps its place under the app's bound until it closes [LIMIT-CONN-APP-1]. A server
      // that counts sessions rather than connections, or forgets an app's count once its
      // last session ends, admits more than its bound here and nowhere else.
      const { role, bound, spread } = await connectionsOfAnApp(ctx);
      const conns: Connection[] = [];
      let made = 0;
      /** A new connection's session/open and its answer; then, when opened, its close. */
      const bindIdle = async (c: Connection): Promise<boolean> => {
        const peerId = ctx.peer(`idle${made++}`);
        const i = c.nextSerial();
        c.send({ cmd: "session", op: "open", appId: ctx.appId(role), peerId, i });
        const answer = await ctx.waitFor(
          "LIMIT-CONN-APP-1",
          c,
          (f) => f.i === i,
          "the answer to a connection's first session/open",
          10_000,
        );
        if (!isOpened(answer)) return false;
        const j = c.nextSerial();
        c.send({ cmd: "session", op: "close", appId: ctx.appId(role), peerId, i: j });
        await ctx.waitFor(
          "SESSION-CLOSE-1",
          c,
          (f) => f.i === j,
          "the answer to session/close",
          10_000,
        );
        return true;
      };
      try {
        // Fill the app with connections whose one session opened and ended, up to the
        // first refusal.
        let full = false;
        for (let k = 0; k <= bound + 1 && !full; k += 100) {
          const local = spread ? freshLoopback() : undefined;
          const batch = await connectMany(ctx, Math.min(100, bound + 2 - k), local);
          conns.push(...batch);
          for (const c of batch) if (!(await bindIdle(c))) full = true;
        }
        ctx.expect(
          "LIMIT-CONN-APP-1",
          full,
          `the app bound ${made} connections whose sessions had ended, over its announced bound of ${bound}`,
          { expected: "a close with 4113 by then", actual: "every connection bound" },
        );
        // One bound connection without a session leaves: its place, and only its place,
        // is free. The server may take a moment to see the close: a refused attempt is
        // tried again, a few times.
        const leaving = conns.find((c) => c.isOpen) as Connection;
        await leaving.close();
        let admitted = false;
        for (let attempt = 0; attempt < 6 && !admitted; attempt++) {
          if (attempt > 0) await pause(500);
          const c = await ctx.connect(spread ? { ws: { localAddress: freshLoopback() } } : {});
          conns.push(c);
          admitted = await bindIdle(c);
        }
        ctx.expect(
          "LIMIT-CONN-APP-1",
          admitted,
          "a connection of the full app closed, and for 2.5 s no new connection could bind to the app in its place",
          { expected: "one connection admitted", actual: "every attempt closed with 4113" },
        );
        const over = await ctx.connect(spread ? { ws: { localAddress: freshLoopback() } } : {});
        conns.push(over);
        const peerId = ctx.peer("over");
        const i = over.nextSerial();
        over.send({ cmd: "session", op: "open", appId: ctx.appId(role), peerId, i });
        const answer = await ctx.waitFor(
          "LIMIT-CONN-APP-1",
          over,
          (f) => f.i === i,
          "the answer to the first session/open of a connection over the app's bound",
          10_000,
        );
        ctx.expect(
          "LIMIT-CONN-APP-1",
          !isOpened(answer),
          `the app bound a second connection in the place of the one that closed: its other ${bound - 1} connections, bound but without sessions, were not counted`,
          { expected: "a close with 4113", actual: "session/opened" },
        );
        await expectErrorThenClose(ctx, over, ERRORS.APP_QUOTA_EXCEEDED.code, {
          i,
          peerId,
          closeRequirement: "LIMIT-CONN-APP-1",
        });
      } finally {
        await closeAll(conns);
      }
    },
  }),

  defineCase({
    name: "limit/connections/address-bound-closes-4113-at-the-handshake",
    requirements: ["LIMIT-CONN-IP-1", "ERROR-CLOSE-4", "ERROR-CODES-1"],
    timeoutMs: 60_000,
    async run(ctx) {
      const limits = announced(ctx);
      const bound = boundOf(ctx, limits, "connectionsPerAddress");
      if (!onLoopback(ctx))
        throw new NotApplicable(
          "the case fills an address of its own on this machine's loopback, and the target is not on it",
        );
      const address = freshLoopback();
      ctx.note(`${bound} connections from ${address}`);
      const conns = await connectMany(ctx, bound, address);
      try {
        // One more from the same address: refused before any of its frames is read.
        // ctx.connect records from before the handshake completes, so the error frame of a
        // server that refuses the connection at once is not lost (LIMIT-CONN-IP-1).
        const extra = await ctx
          .connect({ ws: { localAddress: address } })
          .catch((err: unknown) =>
            ctx.fault(
              "LIMIT-CONN-IP-1",
              "the handshake of a connection over the address's bound failed instead of a close with 4113",
              { actual: (err as Error).message },
            ),
          );
        try {
          if (extra.isOpen)
            extra.send({
              cmd: "session",
              op: "open",
              appId: ctx.appId(),
              peerId: ctx.peer("extra"),
              i: 1,
            });
          await expectErrorThenClose(ctx, extra, ERRORS.APP_QUOTA_EXCEEDED.code, {
            noCommand: true,
            closeRequirement: "LIMIT-CONN-IP-1",
          });
          ctx.expectEqual(
            "LIMIT-CONN-IP-1",
            extra.frames.length,
            1,
            "frames the server sent a connection over the address's bound (the error frame only: no frame of it is read)",
          );
          const [wire] = extra.wireFaults;
          if (wire !== undefined) throw wire;
        } finally {
          extra.ws.terminate();
        }
        // Other addresses are not refused meanwhile (4113 only where Table 7 gives it).
        await ctx.open(ctx.peer("elsewhere"));
        // A connection counts until it closes: one closed, one more is accepted.
        await conns[0]?.close();
        let accepted = false;
        for (let attempt = 0; attempt < 10 && !accepted; attempt++) {
          const again = await ctx.connect({ ws: { localAddress: address } });
          const answer = await again
            .request({
              cmd: "session",
              op: "open",
              appId: ctx.appId(),
              peerId: ctx.peer(`again${attempt}`),
            })
            .catch(() => undefined);
          accepted = isOpened(answer);
          if (!accepted) await pause(100);
        }
        ctx.expect(
          "LIMIT-CONN-IP-1",
          accepted,
          "after one of the address's connections closed, a new one is still refused",
          { expected: "a session opened on a new connection", actual: "closed with 4113" },
        );
      } finally {
        await closeAll(conns);
      }
    },
  }),

  // 7.7 History replies -------------------------------------------------------------------

  defineCase({
    name: "limit/logs-rate/refuses-logs-over-the-bound-with-4120",
    requirements: ["LIMIT-LOGS-RATE-2", "LIMIT-LOGS-RATE-1"],
    features: ["history"],
    timeoutMs: 30_000,
    async run(ctx) {
      const limits = announced(ctx);
      const rate = limits.historyBytesPerSecond;
      const burst = limits.historyBurstBytes ?? 0;
      if (rate === undefined)
        throw new NotApplicable(
          "the server announces no history rate bound (historyBytesPerSecond): LIMIT-LOGS-RATE-1 is a SHOULD, graded by limit/logs-rate/bound-announced",
        );
      if (burst > 16 * 1_048_576 || rate > 8 * 1_048_576)
        throw new NotApplicable(
          `a history bound of ${burst} bytes and ${rate} a second is more than this case draws quickly`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      // Messages of 5120 control characters: some 30 KB each as JSON, so that a page of
      // `limit: 1000` is a full page of LOGS-BYTES-1 (about 1 MiB).
      const text = "\u0001".repeat(MAX_MSG_BYTES);
      const itemBytes = jsonBytes(text) + 300;
      const count = Math.ceil(LOGS_MAX_PAGE_BYTES / itemBytes) + 3;
      for (let k = 0; k < count; k++)
        await expectReply(ctx, "ACK-REPLY-1", conn, direct(ctx, alice, [bob], text), "ack");
      const cid = conversationId([alice, bob]);
      const start = performance.now();
      let served = 0;
      let pages = 0;
      let refusal: Frame | undefined;
      while (refusal === undefined) {
        const elapsed = (performance.now() - start) / 1000;
        // What any reading of the bound allows, generously: the burst, two pages, a second more.
        if (served > burst + 2 * LOGS_MAX_PAGE_BYTES + rate * (elapsed + 1) || elapsed > 10) break;
        const answer = await ctx.request(
          "LIMIT-LOGS-RATE-2",
          conn,
          peerCommand(ctx, alice, { cmd: "logs", cid, limit: 1000 }),
          10_000,
        );
        if (answer.cmd === "logs" && answer.op === "result") {
          served += jsonBytes(answer.logs);
          pages++;
        } else refusal = answer;
      }
      ctx.note(
        `${pages} pages, ${served} bytes of history in ${Math.round(performance.now() - start)} ms before the refusal`,
      );
      if (refusal === undefined) {
        return ctx.fault(
          "LIMIT-LOGS-RATE-1",
          `the server sent ${served} bytes of history in ${Math.round(performance.now() - start)} ms, more than its announced bound of ${burst} bytes and ${rate} a second allows`,
          { expected: "a refusal (4120)", actual: `${pages} pages served` },
        );
      }
      expectCode(
        ctx,
        "LIMIT-LOGS-RATE-2",
        refusal,
        ERRORS.LIMIT_EXCEEDED.code,
        "a logs over the history rate bound",
      );
      // The connection and its session go on.
      await expectReply(
        ctx,
        "ERROR-SURVIVE-1",
        conn,
        peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [] }),
        "session",
        "query-result",
      );
    },
  }),

  // Chapter 10: a server under test ----------------------------------------------------

  defineCase({
    name: "testing/provision/apps-of-table-11",
    requirements: ["SESSION-TEST-1"],
    async run(ctx) {
      const { apps } = ctx.target;
      const missing = (["signed", "disabled", "origin"] as const).filter(
        (role) => apps[role] === undefined,
      );
      await ctx.soft(() =>
        ctx.expect(
          "SESSION-TEST-1",
          missing.length === 0,
          `the run has no ${missing.join(", ")} app`,
          { expected: "the apps of Table 11", actual: `missing ${missing.join(", ")}` },
        ),
      );
      // Each app provisioned behaves as its role says.
      await ctx.open(ctx.peer("open"));
      if (apps.signed !== undefined) {
        const s = await ctx.connect();
        const unsigned = await ctx.request("SESSION-TEST-1", s, {
          cmd: "session",
          op: "open",
          appId: ctx.appId("signed"),
          peerId: ctx.peer("unsigned"),
        });
        await ctx.soft(() =>
          expectCode(
            ctx,
            "SESSION-TEST-1",
            unsigned,
            ERRORS.SIGNATURE_FAILED.code,
            "an unsigned open of the app that enforces signatures",
          ),
        );
        await ctx.open(ctx.peer("signed"), { app: "signed", on: s });
      }
      if (apps.disabled !== undefined) {
        const d = await ctx.connect();
        d.send({
          cmd: "session",
          op: "open",
          appId: ctx.appId("disabled"),
          peerId: ctx.peer("disabled"),
          i: 1,
        });
        await ctx.soft(() => ctx.expectClose("SESSION-TEST-1", d, ERRORS.APP_NOT_AVAILABLE.code));
      }
      if (apps.origin !== undefined) {
        await ctx.open(ctx.peer("origin"), {
          app: "origin",
          on: await ctx.connect({ origin: apps.origin.origin }),
        });
        const bad = await ctx.connect({ origin: `${apps.origin.origin}.elsewhere.test` });
        bad.send({
          cmd: "session",
          op: "open",
          appId: ctx.appId("origin"),
          peerId: ctx.peer("bad-origin"),
          i: 1,
        });
        await ctx.soft(() => ctx.expectClose("SESSION-TEST-1", bad, ERRORS.INVALID_ORIGIN.code));
      }
    },
  }),

  defineCase({
    name: "testing/short/accepts-the-shortened-limits",
    requirements: ["LIMIT-TEST-1"],
    needs: ["short"],
    async run(ctx) {
      const limits = announced(ctx, true);
      if (ctx.target.kind !== "url") {
        // The kit wrote the configuration: the server applies exactly what it was given.
        const asked: Record<string, number> = {
          offlineCount: SHORT_LIMITS.maxOfflinePerPeer,
          offlineAgeMs: SHORT_LIMITS.offlineTtlMs,
          readTimeoutMs: SHORT_TIMEOUT_MS,
          loginTimeoutMs: SHORT_TIMEOUT_MS,
        };
        for (const [name, value] of Object.entries(asked)) {
          await ctx.soft(() =>
            ctx.expect(
              "LIMIT-TEST-1",
              limits[name] === value,
              `the shortened server does not apply the ${name} it was configured with`,
              { expected: `${name} ${value}`, actual: `${name} ${limits[name]}` },
            ),
          );
        }
        return;
      }
      // A server someone else configured: its four values are shortened, within the column.
      const names = ["offlineCount", "offlineAgeMs", "readTimeoutMs", "loginTimeoutMs"];
      const shortened = names.filter(
        (n) => limits[n] !== undefined && (limits[n] as number) < (DEPLOYMENT_FLOOR[n] as number),
      );
      ctx.expect(
        "LIMIT-TEST-1",
        shortened.length > 0,
        "the --short-url server applies none of the shortened values of spec 10.2",
        {
          expected: "a shortened offline count, offline age or timeout",
          actual: names.map((n) => `${n} ${limits[n]}`).join(", "),
        },
      );
    },
  }),
];
