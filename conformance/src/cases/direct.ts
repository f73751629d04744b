/**
 * Cases of chapter 03, direct messages: sending and its checks, the server `ack`, live
 * delivery, echo to the sender's other sessions, transient messages, the client `ack`, the
 * offline store and receipts. Every case works over the wire only, against any server, with
 * what the spec guarantees.
 *
 * Negative checks ("MUST NOT deliver") never pass on a silent server: each follows a
 * positive control, usually a sentinel message sent after the frame under test from the same
 * session to the same receiving session, which DIRECT-ORDER-1 puts after any wrong delivery,
 * or a keepalive, whose `{}` SERIAL-ORDER-1 puts after every earlier reply without `i`. The
 * offline store is read with the burst that follows a `session/open`: a keepalive sent after
 * the `session/opened` reply is answered after the last delivery of the burst
 * (OFFLINE-BURST-1).
 * @module
 */
import { conversationId } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { AppRole, CaseContext, OpenOptions } from "../context.js";
import { NotApplicable } from "../errors.js";
import { expectInvalidRefused, type Frame, framesUntilKeepalive, isDelivery } from "./support.js";

/** The form of a message id [ACK-ID-1]. */
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * How far a server time (`t`, `timestamp`) may be from the kit's clock: the signature
 * window of SIG-TIME-1, within which a server's clock must agree with its clients' anyway.
 * It tells milliseconds from seconds and a real time from a made-up one.
 */
const CLOCK_TOLERANCE_MS = 300_000;

/** How long a negative check waits after its sentinel came, ms. */
const AFTER_SENTINEL_MS = 100;

/** How long a negative check waits when no sentinel can be ordered after it, ms. */
const QUIET_MS = 300;

/** A message the server accepted: its `ack` and the text sent. */
interface Accepted {
  readonly uid: string;
  readonly t: number;
  readonly msg: string;
  readonly ack: Frame;
}

/**
 * The ids the server gave accepted messages in this run, by server and app, with the text
 * of each: one id for two texts breaks ACK-ID-1.
 */
const SEEN_IDS = new Map<string, Map<string, string>>();

/** A unique text for a message, labelled for the reader of a failure. */
function text(ctx: CaseContext, label: string): string {
  return `${label} ${ctx.nonce()}`;
}

/** A c2s `direct` from `from` to `to` (without `i`), with a unique text unless `extra` has one. */
function dm(
  ctx: CaseContext,
  from: string,
  to: readonly string[],
  extra: Readonly<Record<string, unknown>> = {},
  app: AppRole = "open",
): Frame {
  return {
    cmd: "direct",
    appId: ctx.appId(app),
    peerId: from,
    msg: text(ctx, "m"),
    toPeerIds: [...to],
    ...extra,
  };
}

/** A c2s group `direct` from `from` to the group `roomId` (without `i`). */
function roomDm(
  ctx: CaseContext,
  from: string,
  roomId: string,
  extra: Readonly<Record<string, unknown>> = {},
): Frame {
  return { cmd: "direct", appId: ctx.appId(), peerId: from, msg: text(ctx, "g"), roomId, ...extra };
}

/**
 * Sends `frame` with a fresh `i` and checks, under `requirement`, that an `ack` answers it
 * (ACK-REPLY-1 for a persistent message, TRANSIENT-ACK-2 for a transient one).
 */
async function accept(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
): Promise<Accepted> {
  const ack = await ctx.request(requirement, conn, frame);
  ctx.expect(
    requirement,
    ack.cmd === "ack" && typeof ack.uid === "string" && typeof ack.t === "number",
    "the direct was not acknowledged",
    { expected: "an ack with uid and t", actual: describeFrame(ack) },
  );
  const uid = ack.uid as string;
  const key = `${conn.ws.url}|${String(frame.appId)}`;
  const seen = SEEN_IDS.get(key) ?? new Map<string, string>();
  SEEN_IDS.set(key, seen);
  if (!seen.has(uid)) seen.set(uid, String(frame.msg));
  return { uid, t: ack.t as number, msg: String(frame.msg), ack };
}

/** Sends `frame` with a fresh `i` and checks that an `error` with `code` answers it. */
async function refuse(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  code: number,
): Promise<void> {
  const i = conn.nextSerial();
  const reply = await ctx.request(requirement, conn, { ...frame, i });
  ctx.expectError(requirement, reply, code, i);
}

/** Waits under `requirement` for the delivery of `msg` to the session of `peerId` on `conn`. */
function delivered(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  msg: string,
  peerId: string,
  what = `the delivery of "${msg}" to ${peerId}`,
): Promise<Frame> {
  return ctx.waitFor(requirement, conn, isDelivery(msg, peerId), what);
}

/**
 * Sends a transient sentinel from the session of `from` on `sender` to `to`, and waits under
 * `requirement` for it at every `[conn, peerId]` of `receivers`. Sent after the frame under
 * test from the same session, it comes after any live delivery of that frame to the same
 * session [DIRECT-ORDER-1], so a negative check after it cannot pass vacuously.
 */
async function sentinel(
  ctx: CaseContext,
  requirement: string,
  sender: Connection,
  from: string,
  to: readonly string[],
  receivers: ReadonlyArray<readonly [Connection, string]>,
  app: AppRole = "open",
): Promise<string> {
  const msg = text(ctx, "sentinel");
  await accept(ctx, "TRANSIENT-ACK-2", sender, dm(ctx, from, to, { msg, transient: true }, app));
  for (const [conn, peerId] of receivers) {
    await delivered(
      ctx,
      requirement,
      conn,
      msg,
      peerId,
      `the sentinel to ${peerId}, sent after the message under test`,
    );
  }
  return msg;
}

/** Takes `frames` off the inbox of `conn`, so that later waits do not see them again. */
async function take(conn: Connection, frames: readonly Frame[]): Promise<void> {
  for (const frame of frames) await conn.waitFor((f) => f === frame, 1).catch(() => undefined);
}

/**
 * The offline deliveries for `peerId` that followed `opened` on `conn`: a keepalive sent now
 * is answered after the last of them [OFFLINE-BURST-1], so they are the frames with
 * `offline: true` between the reply and that `{}`. Takes them.
 */
async function burstAfter(
  ctx: CaseContext,
  conn: Connection,
  opened: Frame,
  peerId: string,
): Promise<Frame[]> {
  const between = await framesUntilKeepalive(
    ctx,
    "KEEPALIVE-REPLY-1",
    conn,
    conn.frames.indexOf(opened) + 1,
  );
  const burst = between.filter(
    (f) => f.cmd === "direct" && f.peerId === peerId && f.offline === true,
  );
  await take(conn, burst);
  return burst;
}

/** Opens a session (as `ctx.open`) and reads the burst of pending messages that follows. */
async function openBurst(
  ctx: CaseContext,
  peerId: string,
  options: OpenOptions = {},
): Promise<{ conn: Connection; opened: Frame; burst: Frame[] }> {
  const { conn, opened } = await ctx.open(peerId, options);
  const burst = await burstAfter(ctx, conn, opened, peerId);
  return { conn, opened, burst };
}

/** The ids of `frames`, sorted (to compare sets). */
function idSet(frames: ReadonlyArray<Frame | Accepted>): string[] {
  return frames.map((f) => String("uid" in f ? f.uid : f.id)).sort();
}

/** Oldest first: by timestamp, then by message id [OFFLINE-ORDER-1, OFFLINE-LIMIT-1]. */
function byTimeThenId(a: Accepted, b: Accepted): number {
  return a.t - b.t || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0);
}

/** Sends a c2s `ack` of `ids` for the session of `peerId` (with `i` when given). */
function clientAck(
  ctx: CaseContext,
  conn: Connection,
  peerId: string,
  ids: readonly string[],
  i?: number,
  app: AppRole = "open",
): void {
  conn.send({
    cmd: "ack",
    appId: ctx.appId(app),
    peerId,
    ids: [...ids],
    ...(i !== undefined && { i }),
  });
}

/**
 * Sends `ids` in a c2s `ack` with `i`, then a keepalive, and checks under `requirement`
 * that no `error` came for it: an ack's ids never make it fail [ACK-IGNORE-1], and a
 * success is not replied to (SERIAL-ACK-1).
 */
async function ackQuietly(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  peerId: string,
  ids: readonly string[],
  app: AppRole = "open",
): Promise<void> {
  const i = conn.nextSerial();
  clientAck(ctx, conn, peerId, ids, i, app);
  await ctx.roundTrip(conn);
  await ctx.expectNone(
    requirement,
    conn,
    (f) => f.i === i,
    `an answer to an ack of ${ids.join(", ")}`,
    AFTER_SENTINEL_MS,
  );
}

/** Checks under `requirement` that `t` is a server time in milliseconds near the kit's clock. */
function expectServerTime(ctx: CaseContext, requirement: string, t: unknown, what: string): void {
  const now = Date.now();
  ctx.expect(
    requirement,
    typeof t === "number" && Math.abs(t - now) <= CLOCK_TOLERANCE_MS,
    `${what} is not the server time in milliseconds`,
    { expected: `about ${now} (within ${CLOCK_TOLERANCE_MS} ms)`, actual: JSON.stringify(t) },
  );
}

/** Checks under `requirement` that `id` has the form of a message id. */
function expectMessageId(ctx: CaseContext, requirement: string, id: unknown, what: string): void {
  ctx.expect(
    requirement,
    typeof id === "string" && MESSAGE_ID.test(id),
    `${what} is not 1 to 64 characters of [A-Za-z0-9_-]`,
    { expected: String(MESSAGE_ID), actual: JSON.stringify(id) },
  );
}

/** Checks under `requirement` that `got` lists exactly the peers of `expected`, each once. */
function expectPeerSet(
  ctx: CaseContext,
  requirement: string,
  got: unknown,
  expected: readonly string[],
  what: string,
): void {
  const list = Array.isArray(got) ? got.map(String) : got;
  const sorted = Array.isArray(list) ? [...list].sort() : list;
  ctx.expectEqual(requirement, sorted, [...new Set(expected)].sort(), what);
}

/** The history of the conversation of `participants`, asked by `peerId` on `conn`. */
async function history(
  ctx: CaseContext,
  conn: Connection,
  peerId: string,
  participants: readonly string[],
  app: AppRole = "open",
): Promise<Frame[]> {
  const reply = await ctx.request("LOGS-SOCKET-1", conn, {
    cmd: "logs",
    appId: ctx.appId(app),
    peerId,
    cid: conversationId(participants),
    limit: 100,
  });
  ctx.expect(
    "LOGS-SOCKET-1",
    reply.cmd === "logs" && reply.op === "result",
    "the logs query was not answered",
    {
      expected: "logs/result",
      actual: describeFrame(reply),
    },
  );
  return (reply.logs ?? []) as Frame[];
}

/** Checks under `requirement` that `uid` has a receipt on `conn` for `peerId`, and returns it. */
function receiptOf(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  peerId: string,
  uid: string,
): Promise<Frame> {
  return ctx.waitFor(
    requirement,
    conn,
    (f) => f.cmd === "rcp" && f.id === uid && f.peerId === peerId,
    `the rcp of ${uid} for ${peerId}`,
  );
}

/**
 * Checks that no `rcp` came on `conn` yet: the kit has acknowledged nothing, and a receipt
 * is sent at the acknowledgement, not before [RECEIPT-SEND-1].
 */
function noReceiptYet(ctx: CaseContext, conn: Connection): Promise<void> {
  return ctx.expectNone(
    "RECEIPT-SEND-1",
    conn,
    (f) => f.cmd === "rcp",
    "an rcp before the recipient acknowledged anything",
    0,
  );
}

/** The number of frames of `conn`, taken or not, that satisfy `predicate`. */
function count(conn: Connection, predicate: (f: Frame) => boolean): number {
  return conn.frames.filter(predicate).length;
}

/** The direct-message cases. */
export const CASES: readonly ServerCase[] = [
  // ---------------------------------------------------------------- 3.3 live delivery
  defineCase({
    name: "direct/send/delivers-live-to-every-session",
    requirements: ["DIRECT-DELIVER-1", "DIRECT-DELIVER-2", "DIRECT-ID-1", "ACK-REPLY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const b2 = await ctx.open(bob);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      for (const b of [b1, b2]) {
        // [DIRECT-DELIVER-1] Every open session of the recipient, with the message's fields.
        const got = await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
        // [DIRECT-ID-1] The message id, the `uid` of the sender's ack.
        ctx.expectEqual("DIRECT-ID-1", got.id, m.uid, "the delivered id against the ack's uid");
        ctx.expectEqual(
          "DIRECT-DELIVER-1",
          { fromPeerId: got.fromPeerId, peerId: got.peerId, timestamp: got.timestamp },
          { fromPeerId: alice, peerId: bob, timestamp: m.t },
          "the delivery's sender, recipient and timestamp (the t of the ack)",
        );
        // [DIRECT-DELIVER-2] A live delivery is not marked as coming from the offline store.
        ctx.expect(
          "DIRECT-DELIVER-2",
          got.offline !== true,
          "a live delivery carries offline: true",
          {
            expected: "offline absent or false",
            actual: JSON.stringify(got),
          },
        );
      }
    },
  }),
  defineCase({
    name: "direct/send/not-to-others",
    requirements: ["DIRECT-ONLY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const dave = ctx.peer("dave");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const c = await ctx.open(carol);
      // Dave shares bob's connection: a server that delivers per connection would reach him.
      await ctx.open(dave, { on: b.conn });
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
      // Sent after m by the same session: a wrong delivery of m to carol or dave comes first.
      await sentinel(
        ctx,
        "DIRECT-DELIVER-1",
        a.conn,
        alice,
        [carol, dave],
        [
          [c.conn, carol],
          [b.conn, dave],
        ],
      );
      await ctx.expectNone(
        "DIRECT-ONLY-1",
        c.conn,
        isDelivery(m.msg),
        "a delivery to carol, who is not a recipient",
        AFTER_SENTINEL_MS,
      );
      await ctx.expectNone(
        "DIRECT-ONLY-1",
        b.conn,
        isDelivery(m.msg, dave),
        "a delivery to dave, who is not a recipient",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "direct/send/to-peer-ids-distinct-recipients",
    requirements: ["DIRECT-TO-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const dave = ctx.peer("dave");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const c = await ctx.open(carol);
      // Dave never connects: he is a recipient all the same.
      const multi = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol, dave]));
      for (const [conn, peer] of [
        [b.conn, bob],
        [c.conn, carol],
      ] as const) {
        const got = await delivered(ctx, "DIRECT-DELIVER-1", conn, multi.msg, peer);
        expectPeerSet(
          ctx,
          "DIRECT-TO-1",
          got.toPeerIds,
          [bob, carol, dave],
          `toPeerIds of the delivery to ${peer}`,
        );
      }
      const one = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const got = await delivered(ctx, "DIRECT-DELIVER-1", b.conn, one.msg, bob);
      expectPeerSet(
        ctx,
        "DIRECT-TO-1",
        got.toPeerIds,
        [bob],
        "toPeerIds of a one-recipient delivery",
      );
    },
  }),
  defineCase({
    name: "direct/send/once-per-session",
    requirements: ["DIRECT-ONCE-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      // One connection with sessions of both recipients: one delivery per session, not per
      // connection nor per recipient of the connection.
      const shared = await ctx.open(carol);
      await ctx.open(bob, { on: shared.conn });
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]));
      const sessions = [
        [b1.conn, bob],
        [shared.conn, bob],
        [shared.conn, carol],
      ] as const;
      for (const [conn, peer] of sessions)
        await delivered(ctx, "DIRECT-DELIVER-1", conn, m.msg, peer);
      await sentinel(ctx, "DIRECT-DELIVER-1", a.conn, alice, [bob, carol], sessions);
      for (const [conn, peer] of sessions) {
        ctx.expectEqual(
          "DIRECT-ONCE-1",
          count(conn, isDelivery(m.msg, peer)),
          1,
          `deliveries of the message to the session of ${peer} on ${conn.label}`,
        );
      }
    },
  }),
  defineCase({
    name: "direct/order/live-in-acceptance-order",
    requirements: ["DIRECT-ORDER-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const b2 = await ctx.open(bob);
      // One by one: each is sent after the previous one's ack, so the acceptance order is
      // the send order.
      const serial: Accepted[] = [];
      for (let n = 0; n < 8; n++) {
        serial.push(
          await accept(
            ctx,
            "ACK-REPLY-1",
            a.conn,
            dm(ctx, alice, [bob], { msg: text(ctx, `serial ${n}`) }),
          ),
        );
      }
      // Pipelined, persistent and transient: the kit does not know the acceptance order, but
      // the timestamps are acceptance times, so they may not go down in delivery order.
      const piped = await Promise.all(
        Array.from({ length: 12 }, (_, n) =>
          accept(
            ctx,
            n % 3 === 2 ? "TRANSIENT-ACK-2" : "ACK-REPLY-1",
            a.conn,
            dm(ctx, alice, [bob], {
              msg: text(ctx, `piped ${n}`),
              ...(n % 3 === 2 && { transient: true }),
            }),
          ),
        ),
      );
      const texts = new Set([...serial, ...piped].map((m) => m.msg));
      for (const b of [b1, b2]) {
        for (const m of [...serial, ...piped])
          await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
        // The first delivery of each: a repeated one is DIRECT-ONCE-1's matter, not order's.
        const firsts = new Set<string>();
        const got = b.conn.frames.filter((f) => {
          const msg = String(f.msg);
          if (f.cmd !== "direct" || !texts.has(msg) || firsts.has(msg)) return false;
          firsts.add(msg);
          return true;
        });
        ctx.expectEqual(
          "DIRECT-ORDER-1",
          got.slice(0, serial.length).map((f) => f.msg),
          serial.map((m) => m.msg),
          `the order of the messages sent one by one, on ${b.conn.label}`,
        );
        const times = got.slice(serial.length).map((f) => Number(f.timestamp));
        const down = times.findIndex((t, n) => n > 0 && t < (times[n - 1] ?? 0));
        ctx.expect(
          "DIRECT-ORDER-1",
          down === -1,
          "a message accepted later was delivered first (timestamps go down)",
          {
            expected: "non-decreasing timestamps in delivery order",
            actual: JSON.stringify(times),
          },
        );
      }
    },
  }),

  // ---------------------------------------------------------------- 3.1 sending
  defineCase({
    name: "direct/target/both-or-neither-rejected",
    requirements: ["DIRECT-TARGET-1", "DIRECT-REJECT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const both = dm(ctx, alice, [bob], { roomId: ctx.peer("room"), msg: text(ctx, "both") });
      const neither = dm(ctx, alice, [], { msg: text(ctx, "neither") });
      delete neither.toPeerIds;
      // [DIRECT-TARGET-1] 4114, the code the schemas give (FRAME-SCHEMA-4).
      await expectInvalidRefused(
        ctx,
        "DIRECT-TARGET-1",
        a.conn,
        both,
        "a direct with both toPeerIds and roomId",
      );
      await expectInvalidRefused(
        ctx,
        "DIRECT-TARGET-1",
        a.conn,
        neither,
        "a direct with neither toPeerIds nor roomId",
      );
      // Without i, the error frame comes all the same (a persistent direct awaits a reply).
      const bare = dm(ctx, alice, [bob], {
        roomId: ctx.peer("room"),
        msg: text(ctx, "both, no i"),
      });
      const code = ctx.expectedCode(bare);
      a.conn.sendInvalid(bare, "a direct with both toPeerIds and roomId, without i");
      const err = await ctx.waitFor(
        "DIRECT-TARGET-1",
        a.conn,
        (f) => f.cmd === "error" && f.i === undefined,
        "the error answering a direct with both targets, without i",
      );
      ctx.expectError("DIRECT-TARGET-1", err, code);
      // [DIRECT-REJECT-1] Neither acknowledged nor delivered: an ack without i would come
      // before the {} (SERIAL-ORDER-1), a delivery to bob before the sentinel.
      await ctx.roundTrip(a.conn);
      await ctx.expectNone(
        "DIRECT-REJECT-1",
        a.conn,
        (f) => f.cmd === "ack",
        "an ack of a refused direct",
        AFTER_SENTINEL_MS,
      );
      await sentinel(ctx, "DIRECT-DELIVER-1", a.conn, alice, [bob], [[b.conn, bob]]);
      for (const f of [both, neither, bare]) {
        await ctx.expectNone(
          "DIRECT-REJECT-1",
          b.conn,
          isDelivery(String(f.msg)),
          "a delivery of a refused direct",
          0,
        );
      }
    },
  }),
  defineCase({
    name: "direct/target/duplicates-count-once",
    requirements: ["DIRECT-TARGET-2", "DIRECT-TO-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const b2 = await ctx.open(bob);
      const c = await ctx.open(carol);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, bob, carol, bob]));
      const sessions = [
        [b1.conn, bob],
        [b2.conn, bob],
        [c.conn, carol],
      ] as const;
      for (const [conn, peer] of sessions) {
        const got = await delivered(ctx, "DIRECT-DELIVER-1", conn, m.msg, peer);
        // [DIRECT-TO-1] The distinct recipients, after DIRECT-TARGET-2.
        expectPeerSet(
          ctx,
          "DIRECT-TO-1",
          got.toPeerIds,
          [bob, carol],
          `toPeerIds of the delivery to ${peer}`,
        );
      }
      const control = await sentinel(
        ctx,
        "DIRECT-DELIVER-1",
        a.conn,
        alice,
        [bob, carol],
        sessions,
      );
      for (const [conn, peer] of sessions) {
        // Each peer named once: one delivery per session, else it is no matter of duplicates.
        ctx.expectEqual(
          "DIRECT-ONCE-1",
          count(conn, isDelivery(control, peer)),
          1,
          `deliveries of a message without duplicate recipients to ${peer} on ${conn.label}`,
        );
        // [DIRECT-TARGET-2] Bob, named three times, is one recipient: one delivery per session.
        ctx.expectEqual(
          "DIRECT-TARGET-2",
          count(conn, isDelivery(m.msg, peer)),
          1,
          `deliveries to the session of ${peer} on ${conn.label}`,
        );
      }
    },
  }),
  defineCase({
    name: "direct/target/duplicates-pending-once",
    requirements: ["DIRECT-TARGET-2"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, bob, bob]));
      // One pending entry, not three: one delivery in bob's burst.
      const { burst } = await openBurst(ctx, bob);
      ctx.expectEqual(
        "DIRECT-TARGET-2",
        burst.map((f) => f.id),
        [m.uid],
        "the pending messages of bob, named three times",
      );
    },
  }),
  defineCase({
    name: "direct/self/sender-removed",
    requirements: ["DIRECT-SELF-1", "DIRECT-TO-1"],
    features: ["echo"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a1 = await ctx.open(alice);
      const a2 = await ctx.open(alice, { echo: true });
      const a3 = await ctx.open(alice);
      const b = await ctx.open(bob);
      const m = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [alice, bob, alice]));
      const got = await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
      // [DIRECT-SELF-1] [DIRECT-TO-1] Alice is no recipient of her own message.
      expectPeerSet(
        ctx,
        "DIRECT-TO-1",
        got.toPeerIds,
        [bob],
        "toPeerIds of a message sent to the sender and bob",
      );
      const echo = await delivered(ctx, "ECHO-OTHER-2", a2.conn, m.msg, alice);
      expectPeerSet(ctx, "DIRECT-TO-1", echo.toPeerIds, [bob], "toPeerIds of the echo");
      const control = await sentinel(
        ctx,
        "ECHO-OTHER-2",
        a1.conn,
        alice,
        [bob],
        [
          [a2.conn, alice],
          [b.conn, bob],
        ],
      );
      // A message to bob only is echoed once: else the server delivers everything twice.
      ctx.expectEqual(
        "DIRECT-ONCE-1",
        count(a2.conn, isDelivery(control)),
        1,
        "echoes of a message to bob only",
      );
      // A server that kept alice as a recipient would deliver to a2 twice (as recipient and
      // as echo), and to a1 and a3, which have no echo.
      ctx.expectEqual(
        "DIRECT-SELF-1",
        count(a2.conn, isDelivery(m.msg)),
        1,
        "deliveries to alice's echo session",
      );
      await ctx.expectNone(
        "DIRECT-SELF-1",
        a1.conn,
        isDelivery(m.msg),
        "a delivery to the sending session",
        0,
      );
      await ctx.expectNone(
        "DIRECT-SELF-1",
        a3.conn,
        isDelivery(m.msg),
        "a delivery to a session of the sender without echo",
        QUIET_MS,
      );
    },
  }),
  defineCase({
    name: "direct/self/only-self-rejected",
    requirements: ["DIRECT-SELF-2", "DIRECT-REJECT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      await refuse(ctx, "DIRECT-SELF-2", a.conn, dm(ctx, alice, [alice]), 4401);
      await refuse(ctx, "DIRECT-SELF-2", a.conn, dm(ctx, alice, [alice, alice, alice]), 4401);
      // Without i: the error frame, without i.
      a.conn.send(dm(ctx, alice, [alice]));
      const err = await ctx.waitFor(
        "DIRECT-SELF-2",
        a.conn,
        (f) => f.cmd === "error" && f.i === undefined,
        "the error answering a direct to the sender only, without i",
      );
      ctx.expectError("DIRECT-SELF-2", err, 4401);
      // [DIRECT-REJECT-1] No ack: one without i would come before the {} (SERIAL-ORDER-1).
      await ctx.roundTrip(a.conn);
      await ctx.expectNone(
        "DIRECT-REJECT-1",
        a.conn,
        (f) => f.cmd === "ack",
        "an ack of a refused direct",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "direct/perm/open-app-any-peer",
    requirements: ["DIRECT-PERM-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      // Alice watches nobody; bob is online, the others never connected; one id is 64 code
      // points long, one is not ASCII (LIMIT-ID-1).
      const long = ctx.peer("long").padEnd(64, "z").slice(0, 64);
      const unicode = ctx.peer("ünï-çødé-人");
      const targets = [
        [bob],
        [ctx.peer("ghost")],
        [long],
        [unicode],
        [bob, ctx.peer("g2"), ctx.peer("g3")],
      ];
      let first: Accepted | undefined;
      for (const to of targets) {
        const m = await accept(ctx, "DIRECT-PERM-1", a.conn, dm(ctx, alice, to));
        first ??= m;
      }
      if (first !== undefined) await delivered(ctx, "DIRECT-PERM-1", b.conn, first.msg, bob);
    },
  }),
  defineCase({
    name: "direct/perm/signed-unwatched-rejected",
    requirements: ["DIRECT-PERM-2", "DIRECT-REJECT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { app: "signed", watch: [bob] });
      const b = await ctx.open(bob, { app: "signed" });
      const c = await ctx.open(carol, { app: "signed" });
      const mixed = dm(ctx, alice, [bob, carol], { msg: text(ctx, "bob and carol") }, "signed");
      const other = dm(ctx, alice, [carol], { msg: text(ctx, "carol only") }, "signed");
      // [DIRECT-PERM-2] One recipient outside the watch set refuses the whole message.
      await refuse(ctx, "DIRECT-PERM-2", a.conn, mixed, 4401);
      await refuse(ctx, "DIRECT-PERM-2", a.conn, other, 4401);
      // The control: a watched recipient is allowed, and its delivery comes after any
      // delivery of the refused ones to bob (DIRECT-ORDER-1).
      const ok = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], {}, "signed"));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, ok.msg, bob);
      await ctx.expectNone(
        "DIRECT-PERM-2",
        b.conn,
        isDelivery(String(mixed.msg)),
        "a delivery to bob of a refused direct",
        0,
      );
      // Carol: a session of alice that watches her sends a sentinel.
      const a2 = await ctx.open(alice, { app: "signed", watch: [carol] });
      await sentinel(ctx, "DIRECT-DELIVER-1", a2.conn, alice, [carol], [[c.conn, carol]], "signed");
      for (const f of [mixed, other]) {
        await ctx.expectNone(
          "DIRECT-PERM-2",
          c.conn,
          isDelivery(String(f.msg)),
          "a delivery to carol of a refused direct",
          0,
        );
      }
      // [DIRECT-REJECT-1] No ack besides the control's (taken): none before the {}.
      await ctx.roundTrip(a.conn);
      await ctx.expectNone(
        "DIRECT-REJECT-1",
        a.conn,
        (f) => f.cmd === "ack",
        "an ack of a refused direct",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "direct/perm/signed-unwatched-not-stored",
    requirements: ["DIRECT-PERM-2", "DIRECT-REJECT-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { app: "signed", watch: [bob] });
      await refuse(ctx, "DIRECT-PERM-2", a.conn, dm(ctx, alice, [bob, carol], {}, "signed"), 4401);
      // Controls: one message each that bob and carol may get.
      const toBob = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], {}, "signed"));
      const a2 = await ctx.open(alice, { app: "signed", watch: [carol] });
      const toCarol = await accept(
        ctx,
        "ACK-REPLY-1",
        a2.conn,
        dm(ctx, alice, [carol], {}, "signed"),
      );
      // [DIRECT-PERM-2] "deliver nothing", [DIRECT-REJECT-1] "not store": not pending either.
      const b = await openBurst(ctx, bob, { app: "signed" });
      ctx.expectEqual(
        "DIRECT-REJECT-1",
        idSet(b.burst),
        [toBob.uid],
        "the pending messages of bob",
      );
      const c = await openBurst(ctx, carol, { app: "signed" });
      ctx.expectEqual(
        "DIRECT-REJECT-1",
        idSet(c.burst),
        [toCarol.uid],
        "the pending messages of carol",
      );
    },
  }),
  defineCase({
    name: "direct/reject/not-stored",
    requirements: ["DIRECT-REJECT-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const dave = ctx.peer("dave");
      const a = await ctx.open(alice);
      const d = await ctx.open(dave);
      // Controls: one message pending for alice, one for bob.
      const forAlice = await accept(ctx, "ACK-REPLY-1", d.conn, dm(ctx, dave, [alice]));
      await refuse(ctx, "DIRECT-SELF-2", a.conn, dm(ctx, alice, [alice]), 4401);
      await expectInvalidRefused(
        ctx,
        "DIRECT-TARGET-1",
        a.conn,
        dm(ctx, alice, [bob], { roomId: ctx.peer("room") }),
        "a direct with both toPeerIds and roomId",
      );
      await expectInvalidRefused(
        ctx,
        "LIMIT-MSG-2",
        a.conn,
        dm(ctx, alice, [bob], { msg: "x".repeat(ctx.limit("msgBytes") + 1) }),
        "a direct whose msg is over the limit",
      );
      const forBob = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const a2 = await openBurst(ctx, alice);
      ctx.expectEqual(
        "DIRECT-REJECT-1",
        idSet(a2.burst),
        [forAlice.uid],
        "the pending messages of alice",
      );
      const b = await openBurst(ctx, bob);
      ctx.expectEqual(
        "DIRECT-REJECT-1",
        idSet(b.burst),
        [forBob.uid],
        "the pending messages of bob",
      );
    },
  }),
  defineCase({
    name: "direct/reject/not-in-history",
    requirements: ["DIRECT-REJECT-1"],
    features: ["history"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      await expectInvalidRefused(
        ctx,
        "DIRECT-TARGET-1",
        a.conn,
        dm(ctx, alice, [bob], { roomId: ctx.peer("room") }),
        "a direct with both toPeerIds and roomId",
      );
      await expectInvalidRefused(
        ctx,
        "LIMIT-MSG-2",
        a.conn,
        dm(ctx, alice, [bob], { msg: "y".repeat(ctx.limit("msgBytes") + 1) }),
        "a direct whose msg is over the limit",
      );
      const ok = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const items = await history(ctx, a.conn, alice, [alice, bob]);
      ctx.expectEqual(
        "DIRECT-REJECT-1",
        items.map((x) => x["msg-id"]),
        [ok.uid],
        "the history of alice and bob",
      );
    },
  }),

  // ---------------------------------------------------------------- 3.2 the server ack
  defineCase({
    name: "ack/reply/uid-and-acceptance-time",
    requirements: ["ACK-REPLY-1", "ACK-ID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const m1 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      expectMessageId(ctx, "ACK-ID-1", m1.uid, "the uid of the ack");
      expectServerTime(ctx, "ACK-REPLY-1", m1.t, "the t of the ack");
      const d1 = await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m1.msg, bob);
      ctx.expectEqual(
        "ACK-REPLY-1",
        { id: d1.id, timestamp: d1.timestamp },
        { id: m1.uid, timestamp: m1.t },
        "the ack's uid and t against the delivery's id and timestamp",
      );
      // The acceptance time follows the server's clock: 100 ms later, t is later too
      // (half of it, for the clock's granularity).
      await ctx.sleep(100);
      const m2 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      ctx.expect(
        "ACK-REPLY-1",
        m2.t - m1.t >= 50,
        "the t of an ack does not follow the server's clock",
        {
          expected: `at least ${m1.t + 50} (100 ms after ${m1.t})`,
          actual: String(m2.t),
        },
      );
      // Without i: an ack all the same, without i (the legacy client matches it by order).
      const bare = dm(ctx, alice, [bob]);
      a.conn.send(bare);
      const ack = await ctx.waitFor(
        "ACK-REPLY-1",
        a.conn,
        (f) => f.cmd === "ack" && f.i === undefined,
        "the ack of a direct without i",
      );
      const d3 = await delivered(ctx, "DIRECT-DELIVER-1", b.conn, String(bare.msg), bob);
      expectMessageId(ctx, "ACK-ID-1", ack.uid, "the uid of the ack");
      ctx.expectEqual(
        "ACK-REPLY-1",
        { uid: ack.uid, t: ack.t },
        { uid: d3.id, t: d3.timestamp },
        "the ack without i against the delivery",
      );
    },
  }),
  defineCase({
    name: "ack/id/unique-and-well-formed",
    requirements: ["ACK-ID-1"],
    async run(ctx) {
      const bob = ctx.peer("bob");
      await ctx.open(bob);
      // Three senders at once, persistent and transient messages pipelined.
      const senders = await Promise.all(
        ["alice", "carol", "dave"].map(async (name) => ({
          peer: ctx.peer(name),
          ...(await ctx.open(ctx.peer(name))),
        })),
      );
      const all = (
        await Promise.all(
          senders.map((s) =>
            Promise.all(
              Array.from({ length: 15 }, (_, n) =>
                accept(
                  ctx,
                  n % 3 === 0 ? "TRANSIENT-ACK-2" : "ACK-REPLY-1",
                  s.conn,
                  dm(ctx, s.peer, [bob], n % 3 === 0 ? { transient: true } : {}),
                ),
              ),
            ),
          ),
        )
      ).flat();
      for (const m of all) expectMessageId(ctx, "ACK-ID-1", m.uid, "a message id");
      const ids = all.map((m) => m.uid);
      const dup = ids.find((id, n) => ids.indexOf(id) !== n);
      ctx.expect("ACK-ID-1", dup === undefined, "two accepted messages got the same id", {
        expected: "distinct ids",
        actual: String(dup),
      });
      // And none of them is the id of another message this run saw from the same server and app.
      const key = `${senders[0]?.conn.ws.url}|${ctx.appId()}`;
      const seen = SEEN_IDS.get(key) ?? new Map<string, string>();
      for (const m of all) {
        const owner = seen.get(m.uid);
        ctx.expect(
          "ACK-ID-1",
          owner === undefined || owner === m.msg,
          "an id was given to two messages of the app",
          {
            expected: `a fresh id for "${m.msg}"`,
            actual: `${m.uid}, already the id of "${owner}"`,
          },
        );
      }
    },
  }),
  defineCase({
    name: "ack/promise/in-history",
    requirements: ["ACK-PROMISE-1"],
    features: ["history"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const one = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const multi = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]));
      const b = await ctx.open(bob);
      for (const [conn, peer] of [
        [a.conn, alice],
        [b.conn, bob],
      ] as const) {
        for (const [m, participants] of [
          [one, [alice, bob]],
          [multi, [alice, bob, carol]],
        ] as const) {
          const items = await history(ctx, conn, peer, participants);
          const item = items.find((x) => x["msg-id"] === m.uid);
          ctx.expect(
            "ACK-PROMISE-1",
            item !== undefined,
            "an acknowledged message is not in history",
            {
              expected: `msg-id ${m.uid} in the history of ${participants.join(", ")}, asked by ${peer}`,
              actual: JSON.stringify(items.map((x) => x["msg-id"])),
            },
          );
          ctx.expectEqual(
            "ACK-PROMISE-1",
            { timestamp: item?.timestamp, data: item?.data, from: item?.from },
            { timestamp: m.t, data: m.msg, from: alice },
            "the history item of an acknowledged message",
          );
        }
      }
    },
  }),
  defineCase({
    name: "ack/promise/delivered-live-or-stored",
    requirements: ["ACK-PROMISE-2", "OFFLINE-PENDING-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]));
      await delivered(
        ctx,
        "ACK-PROMISE-2",
        b.conn,
        m.msg,
        bob,
        "the live delivery of an acknowledged message",
      );
      // Carol, offline when it was accepted, gets it on her first open.
      const c = await openBurst(ctx, carol);
      ctx.expectEqual("ACK-PROMISE-2", idSet(c.burst), [m.uid], "the pending messages of carol");
    },
  }),

  defineCase({
    name: "ack/timeout/refused-message-has-no-effect",
    requirements: ["ACK-TIMEOUT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      // A server may answer 4201 to a direct it could not complete in time; the kit cannot
      // make it slow, so it sends a pipelined batch and grades what a 4201 left behind.
      const frames = Array.from(
        { length: 40 },
        (): Frame => ({
          ...dm(ctx, alice, [bob]),
          i: a.conn.nextSerial(),
        }),
      );
      for (const f of frames) a.conn.send(f);
      const replies = await Promise.all(
        frames.map((f) =>
          ctx.waitFor("ACK-REPLY-1", a.conn, (r) => r.i === f.i, `the answer to direct i=${f.i}`),
        ),
      );
      const timedOut = frames.filter(
        (_, n) => replies[n]?.cmd === "error" && replies[n]?.code === 4201,
      );
      if (timedOut.length === 0)
        throw new NotApplicable("the server answered every direct in time (no 4201)");
      await sentinel(ctx, "DIRECT-DELIVER-1", a.conn, alice, [bob], [[b.conn, bob]]);
      for (const f of timedOut) {
        await ctx.expectNone(
          "ACK-TIMEOUT-1",
          b.conn,
          isDelivery(String(f.msg)),
          "a live delivery of a direct answered with 4201",
          0,
        );
      }
      // Nor stored: not pending for bob.
      const b2 = await openBurst(ctx, bob);
      const refused = new Set(timedOut.map((f) => String(f.msg)));
      ctx.expect(
        "ACK-TIMEOUT-1",
        !b2.burst.some((f) => refused.has(String(f.msg))),
        "a direct answered with 4201 is pending",
        {
          actual: JSON.stringify(b2.burst.filter((f) => refused.has(String(f.msg)))).slice(0, 500),
        },
      );
    },
  }),

  // ---------------------------------------------------------------- 3.4 echo
  defineCase({
    name: "echo/open/only-when-asked",
    requirements: ["ECHO-OPEN-1", "ECHO-OTHER-2", "ECHO-OFF-1"],
    features: ["echo"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a1 = await ctx.open(alice);
      const a2 = await ctx.open(alice, { echo: true });
      const a3 = await ctx.open(alice);
      const a4 = await ctx.open(alice, { echo: false });
      const b = await ctx.open(bob);
      const live = (msg: string) => (f: Frame) => isDelivery(msg, alice)(f) && f.offline !== true;
      const m1 = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m1.msg, bob);
      // [ECHO-OTHER-2] To the session that asked, from and for the sender.
      const echo = await delivered(
        ctx,
        "ECHO-OTHER-2",
        a2.conn,
        m1.msg,
        alice,
        "the echo to a session opened with echo: true",
      );
      ctx.expectEqual(
        "ECHO-OTHER-2",
        { fromPeerId: echo.fromPeerId, peerId: echo.peerId, id: echo.id },
        { fromPeerId: alice, peerId: alice, id: m1.uid },
        "the echo's sender, recipient and id",
      );
      // Re-opens: a3 turns echo on, a2 off (no echo member), a4 stays off.
      await ctx.open(alice, { on: a3.conn, echo: true });
      await ctx.open(alice, { on: a2.conn });
      const m2 = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      // [ECHO-OPEN-1] A re-open with echo: true enables it; m1 came before it had echo, and
      // would have come before m2 (DIRECT-ORDER-1).
      await delivered(
        ctx,
        "ECHO-OPEN-1",
        a3.conn,
        m2.msg,
        alice,
        "the echo to a session re-opened with echo: true",
      );
      await ctx.expectNone(
        "ECHO-OFF-1",
        a3.conn,
        live(m1.msg),
        "an echo to a session opened without echo",
        0,
      );
      // a2 lost echo at its re-open, a4 never had it: turn both on to have a sentinel.
      await ctx.open(alice, { on: a2.conn, echo: true });
      await ctx.open(alice, { on: a4.conn, echo: true });
      const m3 = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      await delivered(
        ctx,
        "ECHO-OPEN-1",
        a2.conn,
        m3.msg,
        alice,
        "the echo to a session re-opened with echo: true",
      );
      await delivered(
        ctx,
        "ECHO-OPEN-1",
        a4.conn,
        m3.msg,
        alice,
        "the echo to a session re-opened with echo: true",
      );
      await ctx.expectNone(
        "ECHO-OPEN-1",
        a2.conn,
        live(m2.msg),
        "an echo to a session re-opened without echo",
        0,
      );
      for (const m of [m1, m2]) {
        await ctx.expectNone(
          "ECHO-OFF-1",
          a4.conn,
          live(m.msg),
          "an echo to a session opened with echo: false",
          0,
        );
      }
    },
  }),
  defineCase({
    name: "echo/open/failed-reopen-keeps-echo",
    requirements: ["ECHO-OPEN-1"],
    features: ["echo"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a1 = await ctx.open(alice);
      const off = await ctx.open(alice);
      const on = await ctx.open(alice, { echo: true });
      await ctx.open(bob);
      // Re-opens that fail (a watch list the schemas refuse): the latest successful open
      // still decides, so `off` stays off and `on` stays on.
      for (const [conn, echo] of [
        [off.conn, true],
        [on.conn, false],
      ] as const) {
        const frame = {
          cmd: "session",
          op: "open",
          appId: ctx.appId(),
          peerId: alice,
          sessionPeerIds: ["not:a-peer-id"],
          echo,
          i: conn.nextSerial(),
        };
        const code = ctx.expectedCode(frame);
        conn.sendInvalid(frame, "a re-open whose watch list holds an invalid peer id");
        const reply = await ctx.waitFor(
          "SESSION-OPEN-5",
          conn,
          (f) => f.i === frame.i,
          "the answer to a failed re-open",
        );
        ctx.expectError("SESSION-OPEN-5", reply, code, frame.i);
      }
      const m1 = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      await delivered(
        ctx,
        "ECHO-OPEN-1",
        on.conn,
        m1.msg,
        alice,
        "the echo to a session whose failed re-open had no echo",
      );
      // The sentinel for `off`: a successful re-open with echo, then m2, which comes after
      // any echo of m1 (DIRECT-ORDER-1).
      await ctx.open(alice, { on: off.conn, echo: true });
      const m2 = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      await delivered(
        ctx,
        "ECHO-OPEN-1",
        off.conn,
        m2.msg,
        alice,
        "the echo after a successful re-open with echo: true",
      );
      await ctx.expectNone(
        "ECHO-OPEN-1",
        off.conn,
        (f) => isDelivery(m1.msg)(f) && f.offline !== true,
        "an echo to a session whose only successful open had no echo",
        0,
      );
    },
  }),
  defineCase({
    name: "echo/send/not-to-sending-session",
    requirements: ["ECHO-NOTSELF-1"],
    features: ["echo"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a1 = await ctx.open(alice, { echo: true });
      const a2 = await ctx.open(alice, { echo: true });
      const b = await ctx.open(bob);
      const m = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      const t = await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a1.conn,
        dm(ctx, alice, [bob], { transient: true }),
      );
      for (const x of [m, t]) await delivered(ctx, "ECHO-OTHER-2", a2.conn, x.msg, alice);
      // The positive control on a1: it does receive echoes, of a2's message.
      const back = await accept(ctx, "ACK-REPLY-1", a2.conn, dm(ctx, alice, [bob]));
      await delivered(ctx, "ECHO-OTHER-2", a1.conn, back.msg, alice);
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, back.msg, bob);
      for (const x of [m, t]) {
        await ctx.expectNone(
          "ECHO-NOTSELF-1",
          a1.conn,
          isDelivery(x.msg),
          "a delivery of a message to the session that sent it",
          AFTER_SENTINEL_MS,
        );
      }
      // Nor is a2's own message delivered back to a2.
      await ctx.expectNone(
        "ECHO-NOTSELF-1",
        a2.conn,
        isDelivery(back.msg),
        "a delivery of a message to the session that sent it",
        0,
      );
    },
  }),
  defineCase({
    name: "echo/store/not-pending-for-sender",
    requirements: ["ECHO-STORE-1", "DIRECT-SELF-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const dave = ctx.peer("dave");
      const d = await ctx.open(dave);
      // The control: a message pending for alice, from dave.
      const forAlice = await accept(ctx, "ACK-REPLY-1", d.conn, dm(ctx, dave, [alice]));
      const a1 = await ctx.open(alice);
      await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob]));
      // [DIRECT-SELF-1] Named as a recipient, the sender is removed: nothing pending for it.
      await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [alice, bob]));
      const a2 = await openBurst(ctx, alice);
      ctx.expectEqual(
        "ECHO-STORE-1",
        idSet(a2.burst),
        [forAlice.uid],
        "the pending messages of alice, who sent two messages",
      );
      // A session with echo gets the sender's messages live, never from the store.
      const a3 = await openBurst(ctx, alice, { echo: true });
      ctx.expectEqual(
        "ECHO-STORE-1",
        idSet(a3.burst),
        [forAlice.uid],
        "the pending messages of alice, in a session with echo",
      );
    },
  }),

  // ---------------------------------------------------------------- 3.6 transient messages
  defineCase({
    name: "transient/send/live-only-flagged",
    requirements: ["TRANSIENT-DELIVER-1", "DIRECT-ID-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const t1 = await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [bob, carol], { transient: true }),
      );
      const bare = dm(ctx, alice, [bob, carol], { transient: true });
      a.conn.send(bare);
      const got1 = await delivered(ctx, "TRANSIENT-DELIVER-1", b1.conn, t1.msg, bob);
      const got2 = await delivered(ctx, "TRANSIENT-DELIVER-1", b1.conn, String(bare.msg), bob);
      for (const got of [got1, got2]) {
        ctx.expect(
          "TRANSIENT-DELIVER-1",
          got.transient === true,
          "a transient delivery without transient: true",
          { expected: "transient: true", actual: JSON.stringify(got) },
        );
      }
      // [DIRECT-ID-1] Transient deliveries carry the message id too.
      ctx.expectEqual(
        "DIRECT-ID-1",
        got1.id,
        t1.uid,
        "the id of a transient delivery against the ack's uid",
      );
      expectMessageId(ctx, "DIRECT-ID-1", got2.id, "the id of a transient delivery sent without i");
      // Sessions opened after acceptance never get them: not carol, not a new session of bob.
      const c = await ctx.open(carol);
      const b2 = await ctx.open(bob);
      await sentinel(
        ctx,
        "TRANSIENT-DELIVER-1",
        a.conn,
        alice,
        [bob, carol],
        [
          [c.conn, carol],
          [b2.conn, bob],
        ],
      );
      for (const msg of [t1.msg, String(bare.msg)]) {
        await ctx.expectNone(
          "TRANSIENT-DELIVER-1",
          c.conn,
          isDelivery(msg),
          "a transient message delivered to a session opened after it",
          0,
        );
        await ctx.expectNone(
          "TRANSIENT-DELIVER-1",
          b2.conn,
          isDelivery(msg),
          "a transient message delivered to a session opened after it",
          0,
        );
      }
    },
  }),
  defineCase({
    name: "transient/store/never-pending",
    requirements: ["TRANSIENT-STORE-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const t1 = await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [bob, carol], { transient: true }),
      );
      await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [bob], { transient: true, r: true }),
      );
      a.conn.send(dm(ctx, alice, [carol], { transient: true }));
      await delivered(ctx, "TRANSIENT-DELIVER-1", b1.conn, t1.msg, bob);
      // The control: a persistent message, pending for both.
      const p = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]));
      const c = await openBurst(ctx, carol);
      ctx.expectEqual(
        "TRANSIENT-STORE-1",
        idSet(c.burst),
        [p.uid],
        "the pending messages of carol, offline when the transient messages were sent",
      );
      const b2 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "TRANSIENT-STORE-1",
        idSet(b2.burst),
        [p.uid],
        "the pending messages of bob in a new session",
      );
    },
  }),
  defineCase({
    name: "transient/history/never-returned",
    requirements: ["TRANSIENT-HISTORY-1"],
    features: ["history"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      await ctx.open(bob);
      await accept(ctx, "TRANSIENT-ACK-2", a.conn, dm(ctx, alice, [bob], { transient: true }));
      a.conn.send(dm(ctx, alice, [bob], { transient: true }));
      await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [bob, carol], { transient: true }),
      );
      // Controls: one persistent message in each conversation.
      const p1 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const p2 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]));
      const one = await history(ctx, a.conn, alice, [alice, bob]);
      ctx.expectEqual(
        "TRANSIENT-HISTORY-1",
        one.map((x) => x["msg-id"]),
        [p1.uid],
        "the history of alice and bob",
      );
      const multi = await history(ctx, a.conn, alice, [alice, bob, carol]);
      ctx.expectEqual(
        "TRANSIENT-HISTORY-1",
        multi.map((x) => x["msg-id"]),
        [p2.uid],
        "the history of alice, bob and carol",
      );
    },
  }),
  defineCase({
    name: "transient/ack/none-without-i",
    requirements: ["TRANSIENT-ACK-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const t = dm(ctx, alice, [bob], { transient: true });
      const offline = dm(ctx, alice, [ctx.peer("ghost")], { transient: true });
      const p = dm(ctx, alice, [bob]);
      // Transient, transient to nobody online, then persistent, all without i, then {}.
      a.conn.send(t);
      a.conn.send(offline);
      a.conn.send(p);
      await ctx.roundTrip(a.conn);
      const dt = await delivered(ctx, "TRANSIENT-DELIVER-1", b.conn, String(t.msg), bob);
      const dp = await delivered(ctx, "DIRECT-DELIVER-1", b.conn, String(p.msg), bob);
      // Every reply without i came before the {}: only the persistent one's ack.
      const acks = a.conn.frames.filter((f) => f.cmd === "ack");
      ctx.expectEqual(
        "TRANSIENT-ACK-1",
        acks.map((f) => f.uid),
        [dp.id],
        "the acks of a transient, a transient and a persistent direct, all without i",
      );
      ctx.expect(
        "TRANSIENT-ACK-1",
        !acks.some((f) => f.uid === dt.id),
        "a transient direct without i was acknowledged",
        { actual: JSON.stringify(acks) },
      );
    },
  }),
  defineCase({
    name: "transient/ack/with-i",
    requirements: ["TRANSIENT-ACK-2"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const i = a.conn.nextSerial();
      const frame: Frame = { ...dm(ctx, alice, [bob], { transient: true }), i };
      const ack = await ctx.request("TRANSIENT-ACK-2", a.conn, frame);
      ctx.expect(
        "TRANSIENT-ACK-2",
        ack.cmd === "ack" && ack.i === i,
        "a transient direct with i was not acknowledged",
        { expected: `ack with i=${i}`, actual: describeFrame(ack) },
      );
      const got = await delivered(ctx, "TRANSIENT-DELIVER-1", b.conn, String(frame.msg), bob);
      ctx.expectEqual(
        "TRANSIENT-ACK-2",
        { uid: ack.uid, t: ack.t },
        { uid: got.id, t: got.timestamp },
        "the ack's uid and t against the delivery's id and timestamp",
      );
      expectMessageId(ctx, "TRANSIENT-ACK-2", ack.uid, "the uid of the ack");
      expectServerTime(ctx, "TRANSIENT-ACK-2", ack.t, "the t of the ack");
      // Also to a recipient that is offline: nothing is delivered, the ack comes all the same.
      await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [ctx.peer("ghost")], { transient: true }),
      );
    },
  }),
  defineCase({
    name: "transient/perm/same-target-checks",
    requirements: ["TRANSIENT-PERM-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const refused: string[] = [];
      // Both targets, neither, only the sender: the transient direct gets the persistent
      // one's error.
      for (const transient of [false, true]) {
        const flag = transient ? { transient: true } : {};
        const both = dm(ctx, alice, [bob], { ...flag, roomId: ctx.peer("room") });
        const neither = dm(ctx, alice, [], flag);
        delete neither.toPeerIds;
        const req = transient ? "TRANSIENT-PERM-1" : "DIRECT-TARGET-1";
        await expectInvalidRefused(
          ctx,
          req,
          a.conn,
          both,
          `a ${transient ? "transient" : "persistent"} direct with both targets`,
        );
        await expectInvalidRefused(
          ctx,
          req,
          a.conn,
          neither,
          `a ${transient ? "transient" : "persistent"} direct with no target`,
        );
        await refuse(
          ctx,
          transient ? "TRANSIENT-PERM-1" : "DIRECT-SELF-2",
          a.conn,
          dm(ctx, alice, [alice], flag),
          4401,
        );
        refused.push(String(both.msg));
      }
      await sentinel(ctx, "DIRECT-DELIVER-1", a.conn, alice, [bob], [[b.conn, bob]]);
      for (const msg of refused) {
        await ctx.expectNone(
          "TRANSIENT-PERM-1",
          b.conn,
          isDelivery(msg),
          "a delivery of a refused direct",
          0,
        );
      }
    },
  }),
  defineCase({
    name: "transient/perm/signed-unwatched-rejected",
    requirements: ["TRANSIENT-PERM-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { app: "signed", watch: [bob] });
      const b = await ctx.open(bob, { app: "signed" });
      const t = dm(ctx, alice, [bob, carol], { transient: true }, "signed");
      await refuse(ctx, "TRANSIENT-PERM-1", a.conn, t, 4401);
      await refuse(
        ctx,
        "TRANSIENT-PERM-1",
        a.conn,
        dm(ctx, alice, [carol], { transient: true }, "signed"),
        4401,
      );
      // The control: to a watched peer, it goes through; and comes after the refused one.
      await sentinel(ctx, "DIRECT-DELIVER-1", a.conn, alice, [bob], [[b.conn, bob]], "signed");
      await ctx.expectNone(
        "TRANSIENT-PERM-1",
        b.conn,
        isDelivery(String(t.msg)),
        "a delivery of a refused transient direct",
        0,
      );
    },
  }),
  defineCase({
    name: "transient/perm/group-non-member-rejected",
    requirements: ["TRANSIENT-PERM-1"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const joined = await ctx.request("ROOM-CREATE-1", b.conn, {
        cmd: "room",
        op: "join",
        appId: ctx.appId(),
        peerId: bob,
      });
      ctx.expect(
        "ROOM-CREATE-1",
        joined.cmd === "room" && joined.op === "joined" && typeof joined.roomId === "string",
        "the group was not created",
        { actual: describeFrame(joined) },
      );
      const roomId = String(joined.roomId);
      // Alice is not a member: the persistent and the transient group direct get the same
      // refusal (ROOM-MSG-1).
      await refuse(ctx, "ROOM-MSG-1", a.conn, roomDm(ctx, alice, roomId), 4401);
      const t = roomDm(ctx, alice, roomId, { transient: true });
      await refuse(ctx, "TRANSIENT-PERM-1", a.conn, t, 4401);
      // The control for bob: a peer message from alice, after the refused ones.
      await sentinel(ctx, "DIRECT-DELIVER-1", a.conn, alice, [bob], [[b.conn, bob]]);
      await ctx.expectNone(
        "TRANSIENT-PERM-1",
        b.conn,
        isDelivery(String(t.msg)),
        "a delivery of a refused transient group direct",
        0,
      );
    },
  }),

  // ---------------------------------------------------------------- 3.5 the client ack
  defineCase({
    name: "ack/remove/any-session-removes",
    requirements: ["ACK-REMOVE-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const m1 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const m2 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const b1 = await openBurst(ctx, bob);
      const b2 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "OFFLINE-OPEN-1",
        idSet(b1.burst),
        idSet([m1, m2]),
        "the pending messages of bob",
      );
      // One device acknowledges m1: gone for every session of bob.
      clientAck(ctx, b2.conn, bob, [m1.uid]);
      await ctx.roundTrip(b2.conn);
      // Read in a new session, so that the check does not rest on re-opens (OFFLINE-OPEN-1).
      const b3 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "ACK-REMOVE-1",
        idSet(b3.burst),
        [m2.uid],
        "the pending messages of bob after another session acknowledged one",
      );
      // The last one, acknowledged with i: nothing left.
      clientAck(ctx, b3.conn, bob, [m2.uid], b3.conn.nextSerial());
      await ctx.roundTrip(b3.conn);
      const b4 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "ACK-REMOVE-1",
        idSet(b4.burst),
        [],
        "the pending messages of bob after both were acknowledged",
      );
    },
  }),
  defineCase({
    name: "ack/ignore/unknown-and-not-pending",
    requirements: ["ACK-IGNORE-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const forBob = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const forCarol = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [carol]));
      const t = await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [bob], { transient: true }),
      );
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, forBob.msg, bob);
      await delivered(ctx, "TRANSIENT-DELIVER-1", b.conn, t.msg, bob);
      const unknown = [`no-such-${ctx.nonce()}`.slice(0, 64), "x".repeat(64)];
      // Unknown ids, a transient id, an id pending for carol: no error, with or without i.
      await ackQuietly(ctx, "ACK-IGNORE-1", b.conn, bob, [...unknown, t.uid, forCarol.uid]);
      clientAck(ctx, b.conn, bob, [forCarol.uid]);
      // The sender's ack of its own message does nothing either.
      await ackQuietly(ctx, "ACK-IGNORE-1", a.conn, alice, [forCarol.uid, forBob.uid]);
      await ctx.roundTrip(b.conn);
      await ctx.expectNone(
        "ACK-IGNORE-1",
        b.conn,
        (f) => f.cmd === "error",
        "an error answering an ack",
        0,
      );
      // Still pending: for carol (acked by bob and alice), for bob (acked by alice).
      const c = await openBurst(ctx, carol);
      ctx.expectEqual(
        "ACK-IGNORE-1",
        idSet(c.burst),
        [forCarol.uid],
        "the pending messages of carol, acknowledged by other peers",
      );
      const b2 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "ACK-IGNORE-1",
        idSet(b2.burst),
        [forBob.uid],
        "the pending messages of bob, acknowledged by its sender",
      );
      // Acknowledged, then acknowledged again (twice in one frame, then once more).
      await ackQuietly(ctx, "ACK-IGNORE-1", b2.conn, bob, [forBob.uid, forBob.uid]);
      await ackQuietly(ctx, "ACK-IGNORE-1", b2.conn, bob, [forBob.uid]);
    },
  }),
  defineCase({
    name: "ack/ignore/no-receipt-when-not-pending",
    requirements: ["ACK-IGNORE-1"],
    features: ["receipts"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const c = await ctx.open(carol);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [carol], { r: true }));
      const t = await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [carol], { transient: true, r: true }),
      );
      await delivered(ctx, "DIRECT-DELIVER-1", c.conn, m.msg, carol);
      await noReceiptYet(ctx, a.conn);
      // Not pending for bob, nor for alice (its sender): ignored, no receipt.
      await ackQuietly(ctx, "ACK-IGNORE-1", b.conn, bob, [m.uid]);
      await ackQuietly(ctx, "ACK-IGNORE-1", a.conn, alice, [m.uid]);
      // A transient id, acknowledged by its recipient: no receipt either.
      await ackQuietly(ctx, "ACK-IGNORE-1", c.conn, carol, [t.uid]);
      await ctx.expectNone(
        "ACK-IGNORE-1",
        a.conn,
        (f) => f.cmd === "rcp",
        "a receipt for an ack of an id not pending for the peer",
        QUIET_MS,
      );
      // The control: carol's own ack gets the receipt.
      clientAck(ctx, c.conn, carol, [m.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a.conn, alice, m.uid);
    },
  }),

  // ---------------------------------------------------------------- 3.7 the offline store
  defineCase({
    name: "offline/open/delivers-pending-flagged",
    requirements: ["OFFLINE-OPEN-1", "OFFLINE-PENDING-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const dave = ctx.peer("dave");
      const a = await ctx.open(alice);
      const d = await ctx.open(dave);
      const m1 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const m2 = await accept(ctx, "ACK-REPLY-1", d.conn, dm(ctx, dave, [bob, carol]));
      const sent = new Map([
        [m1.uid, { m: m1, from: alice }],
        [m2.uid, { m: m2, from: dave }],
      ]);
      // `requirement`: OFFLINE-OPEN-1 at each open of a session, OFFLINE-PENDING-1 for a
      // later session once they were delivered (pending until acknowledged).
      const check = (burst: Frame[], what: string, requirement: string) => {
        ctx.expectEqual(
          requirement,
          idSet(burst),
          idSet([m1, m2]),
          `the pending messages of bob, ${what}`,
        );
        for (const f of burst) {
          const s = sent.get(String(f.id));
          // [OFFLINE-OPEN-1] With offline: true (burstAfter keeps only those; a delivery
          // without it is missing from the set above) and the message's fields.
          ctx.expectEqual(
            "OFFLINE-OPEN-1",
            {
              msg: f.msg,
              fromPeerId: f.fromPeerId,
              peerId: f.peerId,
              timestamp: f.timestamp,
              offline: f.offline,
            },
            { msg: s?.m.msg, fromPeerId: s?.from, peerId: bob, timestamp: s?.m.t, offline: true },
            `an offline delivery, ${what}`,
          );
        }
      };
      const b1 = await openBurst(ctx, bob);
      check(b1.burst, "at the first open", "OFFLINE-OPEN-1");
      const b2 = await openBurst(ctx, bob);
      check(b2.burst, "in a second session, after a first delivery", "OFFLINE-PENDING-1");
      const again = await burstAfter(
        ctx,
        b1.conn,
        (await ctx.open(bob, { on: b1.conn })).opened,
        bob,
      );
      check(again, "at a re-open", "OFFLINE-OPEN-1");
      const c = await openBurst(ctx, carol);
      ctx.expectEqual("OFFLINE-OPEN-1", idSet(c.burst), [m2.uid], "the pending messages of carol");
    },
  }),
  defineCase({
    name: "offline/burst/nothing-between",
    requirements: ["OFFLINE-BURST-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const dave = ctx.peer("dave");
      const a = await ctx.open(alice);
      const d = await ctx.open(dave);
      const pending: Accepted[] = [];
      for (let n = 0; n < 4; n++)
        pending.push(await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob])));
      // Carol's session shares the connection; dave sends to both while bob's session opens,
      // and the client pipelines a keepalive and a query behind the open.
      const x = await ctx.open(carol);
      const pump = Promise.all(
        Array.from({ length: 16 }, (_, n) =>
          accept(ctx, "ACK-REPLY-1", d.conn, dm(ctx, dave, n % 2 === 0 ? [carol] : [bob, carol])),
        ),
      );
      // Awaited below; until then a failure of it must not be an unhandled rejection.
      pump.catch(() => undefined);
      const i = x.conn.nextSerial();
      x.conn.send({ cmd: "session", op: "open", appId: ctx.appId(), peerId: bob, i });
      x.conn.send({});
      x.conn.send({
        cmd: "session",
        op: "query",
        appId: ctx.appId(),
        peerId: bob,
        sessionPeerIds: [alice],
        i: x.conn.nextSerial(),
      });
      const opened = await ctx.waitFor(
        "SESSION-OPEN-2",
        x.conn,
        (f) => f.i === i && f.cmd === "session",
        "the session/opened of bob",
      );
      ctx.expect("SESSION-OPEN-2", opened.op === "opened", "bob's session did not open", {
        actual: describeFrame(opened),
      });
      await ctx.waitFor(
        "KEEPALIVE-REPLY-1",
        x.conn,
        (f) => f.cmd === undefined,
        "the {} answering the pipelined keepalive",
      );
      await pump;
      // Every delivery of the pump has come to carol by now: the last ack was before them
      // only if the server is slow, so wait for a keepalive too.
      await ctx.roundTrip(x.conn);
      const frames = x.conn.frames;
      const start = frames.indexOf(opened) + 1;
      const isBurst = (f: Frame | undefined) =>
        f !== undefined && f.cmd === "direct" && f.peerId === bob && f.offline === true;
      let end = start;
      while (isBurst(frames[end])) end++;
      const burst = frames.slice(start, end);
      // [OFFLINE-OPEN-1] The messages pending before the open are in the burst.
      const ids = new Set(burst.map((f) => String(f.id)));
      ctx.expect(
        "OFFLINE-OPEN-1",
        pending.every((m) => ids.has(m.uid)),
        "a pending message is missing from the burst",
        {
          expected: idSet(pending).join(", "),
          actual: [...ids].join(", "),
        },
      );
      // [OFFLINE-BURST-1] Nothing after the first other frame is a delivery of the burst.
      const late = frames.slice(end).filter((f) => isBurst(f));
      ctx.expect(
        "OFFLINE-BURST-1",
        late.length === 0,
        "another frame came between the session/opened reply and the last delivery of its burst",
        {
          expected: "session/opened, then every offline delivery of bob, then anything else",
          actual: frames
            .slice(start - 1)
            .map((f) => describeFrame(f) + (f.offline === true ? " offline" : ""))
            .join(", ")
            .slice(0, 1500),
        },
      );
    },
  }),
  defineCase({
    name: "offline/order/oldest-first",
    requirements: ["OFFLINE-ORDER-1"],
    features: ["offline"],
    async run(ctx) {
      const bob = ctx.peer("bob");
      const per = Math.min(8, Math.floor(ctx.limit("offlineCount") / 3));
      if (per < 2) throw new NotApplicable("the announced offlineCount is too small for this case");
      // Three senders at once, pipelined: many equal timestamps, ids from three sessions.
      const senders = await Promise.all(
        ["alice", "carol", "dave"].map(async (name) => ({
          peer: ctx.peer(name),
          ...(await ctx.open(ctx.peer(name))),
        })),
      );
      const sent = (
        await Promise.all(
          senders.map((s) =>
            Promise.all(
              Array.from({ length: per }, () =>
                accept(ctx, "ACK-REPLY-1", s.conn, dm(ctx, s.peer, [bob])),
              ),
            ),
          ),
        )
      ).flat();
      const b = await openBurst(ctx, bob);
      ctx.expectEqual(
        "OFFLINE-ORDER-1",
        b.burst.map((f) => f.id),
        [...sent].sort(byTimeThenId).map((m) => m.uid),
        "the order of the burst (by the acks' t, then uid)",
      );
    },
  }),
  defineCase({
    name: "offline/scope/only-opening-session",
    requirements: ["OFFLINE-SCOPE-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]));
      const pendingOf = (peer: string) => (f: Frame) =>
        f.cmd === "direct" && f.id === m.uid && f.peerId === peer && f.offline === true;
      const b1 = await openBurst(ctx, bob);
      ctx.expectEqual("OFFLINE-OPEN-1", idSet(b1.burst), [m.uid], "the pending messages of bob");
      // Carol and then bob on one connection: bob's open delivers to bob's session only.
      const x = await openBurst(ctx, carol);
      const xb = await burstAfter(ctx, x.conn, (await ctx.open(bob, { on: x.conn })).opened, bob);
      ctx.expectEqual(
        "OFFLINE-OPEN-1",
        idSet(xb),
        [m.uid],
        "the pending messages of bob on carol's connection",
      );
      // A re-open of b1: b1 only.
      const reopened = await burstAfter(
        ctx,
        b1.conn,
        (await ctx.open(bob, { on: b1.conn })).opened,
        bob,
      );
      ctx.expectEqual(
        "OFFLINE-OPEN-1",
        idSet(reopened),
        [m.uid],
        "the pending messages of bob at a re-open",
      );
      await sentinel(
        ctx,
        "DIRECT-DELIVER-1",
        a.conn,
        alice,
        [bob, carol],
        [
          [b1.conn, bob],
          [x.conn, bob],
          [x.conn, carol],
        ],
      );
      ctx.expectEqual(
        "OFFLINE-SCOPE-1",
        count(b1.conn, pendingOf(bob)),
        2,
        `offline deliveries on ${b1.conn.label}, which bob opened twice`,
      );
      ctx.expectEqual(
        "OFFLINE-SCOPE-1",
        count(x.conn, pendingOf(bob)),
        1,
        `offline deliveries to bob on ${x.conn.label}, opened once`,
      );
      ctx.expectEqual(
        "OFFLINE-SCOPE-1",
        count(x.conn, pendingOf(carol)),
        1,
        `offline deliveries to carol on ${x.conn.label}, opened once`,
      );
    },
  }),
  defineCase({
    name: "offline/live/stays-pending-after-live-delivery",
    requirements: ["OFFLINE-LIVE-1"],
    features: ["offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const m1 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const live = await delivered(ctx, "DIRECT-DELIVER-1", b1.conn, m1.msg, bob);
      ctx.expect(
        "DIRECT-DELIVER-2",
        live.offline !== true,
        "a live delivery carries offline: true",
        { actual: JSON.stringify(live) },
      );
      // The device is lost before it acknowledges: the TCP connection drops.
      await b1.conn.drop();
      const b2 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "OFFLINE-LIVE-1",
        idSet(b2.burst),
        [m1.uid],
        "the pending messages of bob, delivered live and not acknowledged",
      );
      // Delivered live to this session too, and to a session closed cleanly: both still
      // pending for the next session.
      const b3 = await ctx.open(bob);
      const m2 = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      await delivered(ctx, "DIRECT-DELIVER-1", b2.conn, m2.msg, bob);
      await delivered(ctx, "DIRECT-DELIVER-1", b3.conn, m2.msg, bob);
      await b3.conn.close();
      const b4 = await openBurst(ctx, bob);
      ctx.expectEqual(
        "OFFLINE-LIVE-1",
        idSet(b4.burst),
        idSet([m1, m2]),
        "the pending messages of bob, both delivered live and not acknowledged",
      );
    },
  }),
  defineCase({
    name: "offline/limit/evicts-oldest-at-limit",
    requirements: ["OFFLINE-LIMIT-1"],
    features: ["offline"],
    needs: ["short"],
    async run(ctx) {
      const limit = ctx.limit("offlineCount", true);
      if (limit > 200)
        throw new NotApplicable(
          `the short server's offlineCount ${limit} is too large for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { short: true });
      // The first one is also for carol: bob's limit must not evict it for her.
      const sent = [await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob, carol]))];
      for (let n = 0; n < limit; n++)
        sent.push(await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob])));
      // limit + 1 accepted: the oldest (by t, then id) went.
      const kept = [...sent].sort(byTimeThenId).slice(1);
      const b = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        idSet(b.burst),
        idSet(kept),
        `the pending messages of bob after ${limit + 1} messages (limit ${limit})`,
      );
      const c = await openBurst(ctx, carol, { short: true });
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        idSet(c.burst),
        [sent[0]?.uid],
        "the pending messages of carol, who got one message",
      );
      // An acknowledged one makes room: one more evicts nothing, the next one the oldest.
      const [gone, ...rest] = kept;
      if (gone === undefined)
        throw new NotApplicable("an offlineCount of 0 leaves nothing pending");
      clientAck(ctx, b.conn, bob, [gone.uid]);
      await ctx.roundTrip(b.conn);
      const x = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const b2 = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        idSet(b2.burst),
        idSet([...rest, x]),
        "the pending messages of bob, at the limit after an acknowledgement",
      );
      const y = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const b3 = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        idSet(b3.burst),
        idSet([...rest, x, y].sort(byTimeThenId).slice(1)),
        "the pending messages of bob, over the limit again",
      );
    },
  }),
  defineCase({
    name: "offline/limit/evicts-at-announced-limit",
    requirements: ["OFFLINE-LIMIT-1"],
    features: ["offline"],
    async run(ctx) {
      const limit = ctx.limit("offlineCount");
      if (limit > 500)
        throw new NotApplicable(
          `the announced offlineCount ${limit} is too large for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const sent: Accepted[] = [];
      for (let n = 0; n <= limit; n++)
        sent.push(await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob])));
      const b = await openBurst(ctx, bob);
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        idSet(b.burst),
        idSet([...sent].sort(byTimeThenId).slice(1)),
        `the pending messages of bob after ${limit + 1} messages (announced limit ${limit})`,
      );
    },
  }),
  defineCase({
    name: "offline/limit/evicted-ack-ignored",
    requirements: ["ACK-IGNORE-1"],
    features: ["offline", "receipts"],
    needs: ["short"],
    async run(ctx) {
      const limit = ctx.limit("offlineCount", true);
      if (limit > 200)
        throw new NotApplicable(
          `the short server's offlineCount ${limit} is too large for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const sent: Accepted[] = [];
      for (let n = 0; n <= limit; n++)
        sent.push(await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true })));
      const [evicted, kept] = [...sent].sort(byTimeThenId);
      if (evicted === undefined || kept === undefined) {
        throw new NotApplicable("an offlineCount of 0 leaves nothing pending");
      }
      const b = await openBurst(ctx, bob, { short: true });
      await noReceiptYet(ctx, a.conn);
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        b.burst.some((f) => f.id === evicted.uid),
        false,
        "the evicted message in bob's burst",
      );
      // The evicted id: ignored, no error, no receipt; a kept one: the receipt (the control).
      await ackQuietly(ctx, "ACK-IGNORE-1", b.conn, bob, [evicted.uid]);
      clientAck(ctx, b.conn, bob, [kept.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a.conn, alice, kept.uid);
      await ctx.expectNone(
        "ACK-IGNORE-1",
        a.conn,
        (f) => f.cmd === "rcp" && f.id === evicted.uid,
        "a receipt for an evicted message",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "offline/age/expired-not-delivered",
    requirements: ["OFFLINE-AGE-1"],
    features: ["offline"],
    needs: ["short"],
    async run(ctx) {
      const age = ctx.limit("offlineAgeMs", true);
      if (age > 10_000)
        throw new NotApplicable(
          `the short server's offlineAgeMs ${age} is too long for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const old = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      // The control: pending while young.
      const b1 = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-PENDING-1",
        idSet(b1.burst),
        [old.uid],
        "the pending messages of bob before the age limit",
      );
      // Idle connections end at the short read timeout: new ones after the wait.
      await Promise.all([a.conn.close(), b1.conn.close()]);
      await ctx.sleep(age + 300);
      const a2 = await ctx.open(alice, { short: true });
      const fresh = await accept(ctx, "ACK-REPLY-1", a2.conn, dm(ctx, alice, [bob]));
      const b2 = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-AGE-1",
        idSet(b2.burst),
        [fresh.uid],
        `the pending messages of bob, one of them older than ${age} ms`,
      );
    },
  }),
  defineCase({
    name: "offline/age/expired-ack-ignored",
    requirements: ["ACK-IGNORE-1"],
    features: ["offline", "receipts"],
    needs: ["short"],
    async run(ctx) {
      const age = ctx.limit("offlineAgeMs", true);
      if (age > 10_000)
        throw new NotApplicable(
          `the short server's offlineAgeMs ${age} is too long for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const old = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true }));
      await a.conn.close();
      await ctx.sleep(age + 300);
      const a2 = await ctx.open(alice, { short: true });
      const fresh = await accept(ctx, "ACK-REPLY-1", a2.conn, dm(ctx, alice, [bob], { r: true }));
      const b = await openBurst(ctx, bob, { short: true });
      await noReceiptYet(ctx, a2.conn);
      // The expired id with the fresh one, in one ack: a receipt for the fresh one only.
      await ackQuietly(ctx, "ACK-IGNORE-1", b.conn, bob, [old.uid, fresh.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a2.conn, alice, fresh.uid);
      await ctx.expectNone(
        "ACK-IGNORE-1",
        a2.conn,
        (f) => f.cmd === "rcp" && f.id === old.uid,
        "a receipt for a message older than the age limit",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "offline/age/ack-after-expiry-while-open-ignored",
    requirements: ["ACK-IGNORE-1"],
    features: ["offline", "receipts"],
    needs: ["short"],
    async run(ctx) {
      // The order the case above cannot reach: bob is online, takes a message live and
      // does not acknowledge it until it is older than the age limit. That ack must be
      // ignored, without a receipt [ACK-IGNORE-1]: a server that checks the age only when
      // it reads the offline store still sends one.
      const age = ctx.limit("offlineAgeMs", true);
      if (age > 10_000)
        throw new NotApplicable(
          `the short server's offlineAgeMs ${age} is too long for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const b = await ctx.open(bob, { short: true });
      const old = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true }));
      await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b.conn,
        (f) => f.cmd === "direct" && f.id === old.uid,
        `the live delivery of ${old.uid}`,
      );
      // Both sessions stay open through the wait: keepalives keep them inside the short
      // server's read timeout, which is as short as the age (TIMEOUT-READ-1).
      const until = performance.now() + age + 300;
      while (performance.now() < until) {
        await ctx.sleep(Math.min(400, Math.max(0, until - performance.now())));
        await ctx.roundTrip(a.conn);
        await ctx.roundTrip(b.conn);
      }
      const fresh = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true }));
      await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b.conn,
        (f) => f.cmd === "direct" && f.id === fresh.uid,
        `the live delivery of ${fresh.uid}`,
      );
      await noReceiptYet(ctx, a.conn);
      // The expired id with the fresh one, in one ack: a receipt for the fresh one only.
      await ackQuietly(ctx, "ACK-IGNORE-1", b.conn, bob, [old.uid, fresh.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a.conn, alice, fresh.uid);
      await ctx.expectNone(
        "ACK-IGNORE-1",
        a.conn,
        (f) => f.cmd === "rcp" && f.id === old.uid,
        "a receipt for a message acknowledged after it grew older than the age limit",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "offline/history/kept-after-eviction",
    requirements: ["OFFLINE-HISTORY-1"],
    features: ["offline", "history"],
    needs: ["short"],
    async run(ctx) {
      const limit = ctx.limit("offlineCount", true);
      if (limit > 90)
        throw new NotApplicable(
          `the short server's offlineCount ${limit} is too large for one history page`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const sent: Accepted[] = [];
      for (let n = 0; n <= limit; n++)
        sent.push(await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob])));
      const [evicted] = [...sent].sort(byTimeThenId);
      const b = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-LIMIT-1",
        b.burst.length,
        limit,
        "the number of pending messages of bob",
      );
      const items = await history(ctx, a.conn, alice, [alice, bob]);
      ctx.expectEqual(
        "OFFLINE-HISTORY-1",
        idSet(items.map((x) => ({ id: x["msg-id"] }))),
        idSet(sent),
        "the history of alice and bob, after an eviction",
      );
      ctx.note(`evicted: ${evicted?.uid}`);
    },
  }),
  defineCase({
    name: "offline/history/kept-after-expiry",
    requirements: ["OFFLINE-HISTORY-1"],
    features: ["offline", "history"],
    needs: ["short"],
    async run(ctx) {
      const age = ctx.limit("offlineAgeMs", true);
      if (age > 10_000)
        throw new NotApplicable(
          `the short server's offlineAgeMs ${age} is too long for a quick case`,
        );
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { short: true });
      const old = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      await a.conn.close();
      await ctx.sleep(age + 300);
      // Bob's open is when a server may drop the expired entry: history keeps the message.
      const b = await openBurst(ctx, bob, { short: true });
      ctx.expectEqual(
        "OFFLINE-AGE-1",
        idSet(b.burst),
        [],
        "the pending messages of bob, all older than the age limit",
      );
      const items = await history(ctx, b.conn, bob, [alice, bob]);
      ctx.expectEqual(
        "OFFLINE-HISTORY-1",
        items.map((x) => x["msg-id"]),
        [old.uid],
        "the history of alice and bob, after the message expired",
      );
    },
  }),

  // ---------------------------------------------------------------- 3.9 receipts
  defineCase({
    name: "receipt/send/to-every-sender-session",
    requirements: ["RECEIPT-SEND-1", "RECEIPT-REQUEST-1"],
    features: ["receipts"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a1 = await ctx.open(alice);
      const a2 = await ctx.open(alice);
      // A third session of alice on a connection with another peer's session.
      const shared = await ctx.open(ctx.peer("dave"));
      await ctx.open(alice, { on: shared.conn });
      const b = await ctx.open(bob);
      const m = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
      // A gap, so that the time of the acknowledgement differs from the acceptance time.
      await ctx.sleep(100);
      for (const conn of [a1.conn, a2.conn, shared.conn]) await noReceiptYet(ctx, conn);
      clientAck(ctx, b.conn, bob, [m.uid]);
      for (const conn of [a1.conn, a2.conn, shared.conn]) {
        const rcp = await receiptOf(ctx, "RECEIPT-SEND-1", conn, alice, m.uid);
        expectServerTime(ctx, "RECEIPT-SEND-1", rcp.t, "the t of the rcp");
        ctx.expect(
          "RECEIPT-SEND-1",
          typeof rcp.t === "number" && rcp.t - m.t >= 50,
          "the t of the rcp is not the time of the acknowledgement",
          {
            expected: `at least ${m.t + 50} (acknowledged 100 ms after acceptance at ${m.t})`,
            actual: String(rcp.t),
          },
        );
      }
    },
  }),
  defineCase({
    name: "receipt/request/one-recipient-after-dedup",
    requirements: ["RECEIPT-REQUEST-1"],
    features: ["receipts"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      // [bob, bob] and [alice, bob] have one recipient after DIRECT-TARGET-2 and DIRECT-SELF-1.
      for (const to of [
        [bob, bob],
        [alice, bob, alice],
      ]) {
        const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, to, { r: true }));
        await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
        clientAck(ctx, b.conn, bob, [m.uid]);
        await receiptOf(ctx, "RECEIPT-REQUEST-1", a.conn, alice, m.uid);
      }
    },
  }),
  defineCase({
    name: "receipt/send/after-offline-delivery",
    requirements: ["RECEIPT-SEND-1"],
    features: ["receipts", "offline"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const m = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true }));
      const b = await openBurst(ctx, bob);
      ctx.expectEqual("OFFLINE-OPEN-1", idSet(b.burst), [m.uid], "the pending messages of bob");
      clientAck(ctx, b.conn, bob, [m.uid]);
      const rcp = await receiptOf(ctx, "RECEIPT-SEND-1", a.conn, alice, m.uid);
      expectServerTime(ctx, "RECEIPT-SEND-1", rcp.t, "the t of the rcp");
    },
  }),
  defineCase({
    name: "receipt/send/once",
    requirements: ["RECEIPT-ONCE-1"],
    features: ["receipts"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a1 = await ctx.open(alice);
      const a2 = await ctx.open(alice);
      const b1 = await ctx.open(bob);
      const b2 = await ctx.open(bob);
      const m = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b1.conn, m.msg, bob);
      await delivered(ctx, "DIRECT-DELIVER-1", b2.conn, m.msg, bob);
      // Both devices acknowledge, one of them twice and with the id twice in one frame.
      clientAck(ctx, b1.conn, bob, [m.uid, m.uid]);
      for (const conn of [a1.conn, a2.conn])
        await receiptOf(ctx, "RECEIPT-SEND-1", conn, alice, m.uid);
      clientAck(ctx, b2.conn, bob, [m.uid]);
      clientAck(ctx, b1.conn, bob, [m.uid]);
      await ctx.roundTrip(b2.conn);
      await ctx.roundTrip(b1.conn);
      // The sentinel: a second message's receipt, after those acknowledgements.
      const s = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b1.conn, s.msg, bob);
      clientAck(ctx, b1.conn, bob, [s.uid]);
      for (const conn of [a1.conn, a2.conn]) {
        await receiptOf(ctx, "RECEIPT-SEND-1", conn, alice, s.uid);
        ctx.expectEqual(
          "RECEIPT-ONCE-1",
          count(conn, (f) => f.cmd === "rcp" && f.id === m.uid),
          1,
          `receipts of one message on ${conn.label}`,
        );
      }
    },
  }),
  defineCase({
    name: "receipt/ignore/not-requested-or-not-one-recipient",
    requirements: ["RECEIPT-IGNORE-1"],
    features: ["receipts"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const c = await ctx.open(carol);
      const plain = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob]));
      const no = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: false }));
      const t = await accept(
        ctx,
        "TRANSIENT-ACK-2",
        a.conn,
        dm(ctx, alice, [bob], { transient: true, r: true }),
      );
      const multi = await accept(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        dm(ctx, alice, [bob, carol], { r: true }),
      );
      for (const m of [plain, no, t, multi])
        await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
      await delivered(ctx, "DIRECT-DELIVER-1", c.conn, multi.msg, carol);
      clientAck(ctx, b.conn, bob, [plain.uid, no.uid, t.uid, multi.uid]);
      clientAck(ctx, c.conn, carol, [multi.uid]);
      await ctx.roundTrip(b.conn);
      await ctx.roundTrip(c.conn);
      // The control, acknowledged after the others: its receipt comes.
      const s = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, s.msg, bob);
      clientAck(ctx, b.conn, bob, [s.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a.conn, alice, s.uid);
      const ignored = new Set([plain.uid, no.uid, t.uid, multi.uid]);
      await ctx.expectNone(
        "RECEIPT-IGNORE-1",
        a.conn,
        (f) => f.cmd === "rcp" && ignored.has(String(f.id)),
        "a receipt for a message without a receipt request",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "receipt/ignore/group-message",
    requirements: ["RECEIPT-IGNORE-1"],
    features: ["receipts", "groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const created = await ctx.request("ROOM-CREATE-1", a.conn, {
        cmd: "room",
        op: "join",
        appId: ctx.appId(),
        peerId: alice,
      });
      ctx.expect(
        "ROOM-CREATE-1",
        created.cmd === "room" && created.op === "joined" && typeof created.roomId === "string",
        "the group was not created",
        { actual: describeFrame(created) },
      );
      const roomId = String(created.roomId);
      const joined = await ctx.request("ROOM-JOIN-1", b.conn, {
        cmd: "room",
        op: "join",
        appId: ctx.appId(),
        peerId: bob,
        roomId,
      });
      ctx.expect(
        "ROOM-JOIN-1",
        joined.cmd === "room" && joined.op === "joined",
        "bob did not join the group",
        { actual: describeFrame(joined) },
      );
      const g = await accept(ctx, "ACK-REPLY-1", a.conn, roomDm(ctx, alice, roomId, { r: true }));
      await delivered(ctx, "ROOM-MSG-2", b.conn, g.msg, bob);
      clientAck(ctx, b.conn, bob, [g.uid]);
      await ctx.roundTrip(b.conn);
      const s = await accept(ctx, "ACK-REPLY-1", a.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, s.msg, bob);
      clientAck(ctx, b.conn, bob, [s.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a.conn, alice, s.uid);
      await ctx.expectNone(
        "RECEIPT-IGNORE-1",
        a.conn,
        (f) => f.cmd === "rcp" && f.id === g.uid,
        "a receipt for a group message",
        AFTER_SENTINEL_MS,
      );
    },
  }),
  defineCase({
    name: "receipt/store/not-kept-for-later-session",
    requirements: ["RECEIPT-STORE-1"],
    features: ["receipts"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const b = await ctx.open(bob);
      const a1 = await ctx.open(alice);
      const m = await accept(ctx, "ACK-REPLY-1", a1.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, m.msg, bob);
      // Alice goes away; bob acknowledges while no session of hers is open.
      await a1.conn.close();
      clientAck(ctx, b.conn, bob, [m.uid]);
      await ctx.roundTrip(b.conn);
      const a2 = await ctx.open(alice);
      // The sentinel: a receipt that a2 does get, for an acknowledgement after its open.
      const s = await accept(ctx, "ACK-REPLY-1", a2.conn, dm(ctx, alice, [bob], { r: true }));
      await delivered(ctx, "DIRECT-DELIVER-1", b.conn, s.msg, bob);
      clientAck(ctx, b.conn, bob, [s.uid]);
      await receiptOf(ctx, "RECEIPT-SEND-1", a2.conn, alice, s.uid);
      await ctx.expectNone(
        "RECEIPT-STORE-1",
        a2.conn,
        (f) => f.cmd === "rcp" && f.id === m.uid,
        "a receipt kept for a session that opened after the acknowledgement",
        AFTER_SENTINEL_MS,
      );
    },
  }),
];
