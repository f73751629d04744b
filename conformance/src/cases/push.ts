/**
 * Cases of chapter 03, section 3.10: the push hook. The kit provisions the push app of a
 * target it starts (embedded or `--server-command`) with a hook whose URL is the kit's own
 * receiver on loopback (push-receiver.ts), and with a master key it knows; a notice is then
 * an HTTP request the case can read byte for byte and answer as it likes: 200, a status
 * that calls for a retry, a reset connection, or no answer at all.
 *
 * Every notice a case takes is checked whole: a `POST` to the hook's URL (OFFLINE-PUSH-2),
 * signed with the app's master key over `timestamp:body` by the protocol package's
 * `pushSignature` (OFFLINE-PUSH-8), a `push-notice` body naming the message as its `ack`
 * did (OFFLINE-PUSH-6), never the sender or an online recipient (OFFLINE-PUSH-5), never the
 * text (OFFLINE-PUSH-7: the kit's push app does not ask for it).
 *
 * The receiver is shared by the whole run, so a case finds its notices by their content
 * (its own fresh peer ids, its message ids), and every answer rule it sets names only its
 * own peers and ends with the case. "MUST NOT notify" checks follow a positive control: a
 * persistent message to the same offline peer, sent after the message under test, whose
 * notice must come; the check then waits a little longer for any notice it forbids.
 * @module
 */
import {
  httpValidators,
  PUSH_CONTENT_TYPE,
  PUSH_SIGNATURE_HEADER,
  PUSH_TIMESTAMP_HEADER,
  pushSignature,
} from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import { type CaseContext, SoftFault } from "../context.js";
import { NotApplicable } from "../errors.js";
import {
  describePushRequest,
  type PushAnswer,
  type PushReceiver,
  type PushRequest,
} from "../push-receiver.js";

/** A frame as the kit sees it. */
type Frame = Record<string, unknown>;

/** A predicate on the receiver's requests. */
type Match = (r: PushRequest) => boolean;

/** The push app of the instance a case uses, and the receiver its hook points at. */
interface Push {
  readonly receiver: PushReceiver;
  readonly appId: string;
  readonly masterKey: string;
  /** The path of the hook's URL on the receiver: `/main` or `/short` (target.ts). */
  readonly path: string;
  /** Whether the case uses the shortened-limits instance. */
  readonly short: boolean;
}

/** A message the server accepted, as its `ack` tells it (ACK-REPLY-1). */
interface Accepted {
  readonly uid: string;
  readonly t: number;
  readonly msg: string;
}

/** What a notice must say of a message [OFFLINE-PUSH-6]. */
interface Expected {
  readonly message: Accepted;
  readonly from: string;
  /** The recipients without an open session when the message was accepted. */
  readonly offline: readonly string[];
  /** Recipients that had an open session: never named [OFFLINE-PUSH-5]. */
  readonly online?: readonly string[];
  /** The group of a group message. */
  readonly roomId?: string;
}

/** How long a case waits for a notice, ms: the hook is asynchronous, and shared by the run. */
const NOTICE_WAIT_MS = 10_000;

/** How long a "MUST NOT notify" check waits after its control's notice came, ms. */
const AFTER_CONTROL_MS = 500;

/** How long the kit waits, after a notice, for a second POST of it that it did not ask for, ms. */
const DUPLICATE_QUIET_MS = 500;

/**
 * How far `X-Confab-Timestamp` may lag behind the kit's clock at the receipt of the POST,
 * seconds: the target runs on this machine, so only the time the POST took and the kit's
 * own load separate them [OFFLINE-PUSH-8].
 */
const TIMESTAMP_LAG_S = 5;

/**
 * How far two attempts' timestamps may differ from the time between their receipts, s:
 * each attempt carries the time at which it is sent, not the first attempt's.
 */
const TIMESTAMP_DRIFT_S = 1.5;

/** How long a retry case waits for a retry, ms (the spec fixes no wait; the reference's first is 0.5 to 1 s). */
const RETRY_WAIT_MS = 10_000;

/**
 * The notice bound of the reference server, per app (spec 03, 3.10: "holds at most 1000
 * notices per app"). The spec fixes no value and servers announce none, so OFFLINE-PUSH-10
 * is graded against the reference server only, the one target whose bound the kit knows.
 */
const REFERENCE_NOTICE_BOUND = 1000;

/** The requirements {@link expectNotice} grades on every notice it checks. */
const NOTICE_CHECKS = [
  "OFFLINE-PUSH-2",
  "OFFLINE-PUSH-5",
  "OFFLINE-PUSH-6",
  "OFFLINE-PUSH-7",
  "OFFLINE-PUSH-8",
] as const;

/** A case's requirement list: its own first, then those every notice check grades. */
function graded(...own: string[]): string[] {
  return [...new Set([...own, ...NOTICE_CHECKS])];
}

/**
 * The push app and the receiver of the target, on the main or the shortened instance; not
 * applicable when the kit does not receive the target's notices.
 */
function pushOf(ctx: CaseContext, short = false): Push {
  const receiver = ctx.target.push;
  const app = ctx.target.apps.push;
  if (receiver === undefined || app === undefined) {
    throw new NotApplicable(
      "the kit receives push notices only from a server it starts and provisions (the embedded server or --server-command without --app-id): a --url target's hook does not point at the kit",
    );
  }
  if (short) ctx.endpoint(true); // not applicable without the shortened instance
  return {
    receiver,
    appId: app.appId,
    masterKey: app.masterKey,
    path: short ? "/short" : "/main",
    short,
  };
}

/** The body of a request, when it is a JSON object. */
function body(r: PushRequest): Frame | undefined {
  const j = r.json;
  return typeof j === "object" && j !== null && !Array.isArray(j) ? (j as Frame) : undefined;
}

/** The notices (of either instance) for the message `uid`. */
function forMessage(uid: string): Match {
  return (r) => body(r)?.id === uid;
}

/** The notices that name one of `peers`, as sender or as offline recipient. */
function naming(peers: readonly string[]): Match {
  return (r) => {
    const n = body(r);
    if (n === undefined) return false;
    const named = Array.isArray(n.offlinePeerIds) ? n.offlinePeerIds : [];
    return peers.includes(String(n.fromPeerId)) || named.some((p) => peers.includes(String(p)));
  };
}

/** The requests of this case already shown in its exchange. */
const LOGGED = new WeakMap<CaseContext, Set<number>>();

/** Shows `requests` in the case's exchange, once each, on a lane of their own. */
function log(ctx: CaseContext, ...requests: readonly PushRequest[]): void {
  const seen = LOGGED.get(ctx) ?? new Set<number>();
  LOGGED.set(ctx, seen);
  for (const r of requests) {
    if (seen.has(r.seq)) continue;
    seen.add(r.seq);
    ctx.recorder.add({
      conn: "push",
      kind: "recv",
      text: `${describePushRequest(r)} [${PUSH_TIMESTAMP_HEADER}: ${r.headers[PUSH_TIMESTAMP_HEADER.toLowerCase()] ?? "-"}] → ${String(r.answer ?? "?")}`,
      ...(typeof r.answer === "number" && { code: r.answer }),
    });
  }
}

/**
 * Answers the requests matching `match` with `answer` (the first `times` of them) until the
 * case ends, or the returned function is called; then releases any it still holds, with 200.
 */
function answer(
  ctx: CaseContext,
  push: Push,
  match: Match,
  reply: PushAnswer,
  times?: number,
): () => void {
  const remove = push.receiver.answer({
    match,
    answer: reply,
    ...(times !== undefined && { times }),
  });
  const end = () => {
    remove();
    push.receiver.release(match);
  };
  if (ctx.signal.aborted) end();
  else ctx.signal.addEventListener("abort", end, { once: true });
  ctx.note(
    `the receiver answers ${typeof reply === "object" ? reply.status : reply} to ${times === undefined ? "every" : `the first ${times}`} matching notice${times === 1 ? "" : "s"}`,
  );
  return end;
}

/**
 * Waits under `requirement` for a request matching `match` after seq `after` (default:
 * any), and shows it in the exchange.
 */
async function waitNotice(
  ctx: CaseContext,
  push: Push,
  requirement: string,
  match: Match,
  what: string,
  options: { after?: number; ms?: number } = {},
): Promise<PushRequest> {
  const r = await ctx.check(
    requirement,
    () =>
      push.receiver.waitFor(match, options.ms ?? NOTICE_WAIT_MS, {
        what,
        signal: ctx.signal,
        ...(options.after !== undefined && { after: options.after }),
      }),
    { expected: what },
  );
  log(ctx, r);
  return r;
}

/** Opens a session of `peerId` in the push app (a new connection unless `on`). */
async function open(
  ctx: CaseContext,
  push: Push,
  peerId: string,
  on?: Connection,
): Promise<Connection> {
  const { conn } = await ctx.open(peerId, {
    extra: { appId: push.appId },
    short: push.short,
    ...(on !== undefined && { on }),
  });
  return conn;
}

/**
 * Ends the session of `peerId` on `conn` with `session/close` and waits for
 * `session/closed`: from then on the peer has no open session there (SESSION-CLOSE-1).
 */
async function closeSession(
  ctx: CaseContext,
  push: Push,
  conn: Connection,
  peerId: string,
): Promise<void> {
  const reply = await ctx.request("SESSION-CLOSE-1", conn, {
    cmd: "session",
    op: "close",
    appId: push.appId,
    peerId,
  });
  ctx.expect(
    "SESSION-CLOSE-1",
    reply.cmd === "session" && reply.op === "closed",
    "session/close was not answered with session/closed",
    { expected: "session/closed", actual: describeFrame(reply) },
  );
}

/** A c2s `direct` of the push app from `from` to `to` (or to the group `roomId`), with a unique text. */
function dm(
  ctx: CaseContext,
  push: Push,
  from: string,
  to: readonly string[] | { readonly roomId: string },
  extra: Frame = {},
): Frame {
  return {
    cmd: "direct",
    appId: push.appId,
    peerId: from,
    msg: `push ${ctx.nonce()}`,
    ...(Array.isArray(to) ? { toPeerIds: [...to] } : { roomId: (to as { roomId: string }).roomId }),
    ...extra,
  };
}

/** Sends `frame` with a fresh `i` and checks under `requirement` that an `ack` answers it. */
async function send(
  ctx: CaseContext,
  conn: Connection,
  frame: Frame,
  requirement = "ACK-REPLY-1",
): Promise<Accepted> {
  const ack = await ctx.request(requirement, conn, frame);
  ctx.expect(
    requirement,
    ack.cmd === "ack" && typeof ack.uid === "string" && typeof ack.t === "number",
    "the direct was not acknowledged",
    { expected: "an ack with uid and t", actual: describeFrame(ack) },
  );
  return { uid: ack.uid as string, t: ack.t as number, msg: String(frame.msg) };
}

/** Creates a group of `owner` in the push app and invites `peers`; returns its id. */
async function group(
  ctx: CaseContext,
  push: Push,
  conn: Connection,
  owner: string,
  peers: readonly string[],
): Promise<string> {
  const joined = await ctx.request("ROOM-CREATE-1", conn, {
    cmd: "room",
    op: "join",
    appId: push.appId,
    peerId: owner,
  });
  ctx.expect(
    "ROOM-CREATE-1",
    joined.cmd === "room" && joined.op === "joined" && typeof joined.roomId === "string",
    "the group was not created",
    { expected: "room/joined with roomId", actual: describeFrame(joined) },
  );
  const roomId = String(joined.roomId);
  const invited = await ctx.request("ROOM-INVITE-1", conn, {
    cmd: "room",
    op: "invite",
    appId: push.appId,
    peerId: owner,
    roomId,
    roomPeerIds: [...peers],
  });
  ctx.expect(
    "ROOM-INVITE-1",
    invited.cmd === "room" && invited.op === "invited",
    "the invitation was not answered with room/invited",
    { expected: "room/invited", actual: describeFrame(invited) },
  );
  return roomId;
}

/** The `X-Confab-Timestamp` of a request, as a number, when it is Unix seconds in decimal. */
function timestampOf(r: PushRequest): number | undefined {
  const v = r.headers[PUSH_TIMESTAMP_HEADER.toLowerCase()];
  return v !== undefined && /^\d{1,12}$/.test(v) ? Number(v) : undefined;
}

/**
 * Checks the two headers of an attempt [OFFLINE-PUSH-8]: `X-Confab-Timestamp` the Unix
 * time in seconds, near the kit's clock when the POST came, and `X-Confab-Signature` the
 * HMAC-SHA1 of `timestamp:body` over the exact bytes received, keyed with the app's master
 * key, in 40 lowercase hex digits, computed by the protocol package's `pushSignature`.
 */
function expectSigned(ctx: CaseContext, push: Push, r: PushRequest): void {
  const raw = r.headers[PUSH_TIMESTAMP_HEADER.toLowerCase()];
  const ts = timestampOf(r);
  const nowS = Math.floor(r.receivedAt / 1000);
  ctx.expect(
    "OFFLINE-PUSH-8",
    ts !== undefined,
    `the notice has no ${PUSH_TIMESTAMP_HEADER} in Unix seconds`,
    { expected: `${PUSH_TIMESTAMP_HEADER}: decimal Unix seconds`, actual: String(raw) },
  );
  ctx.expect(
    "OFFLINE-PUSH-8",
    (ts as number) >= nowS - TIMESTAMP_LAG_S && (ts as number) <= nowS + 1,
    `${PUSH_TIMESTAMP_HEADER} is not the time at which the POST was sent`,
    {
      expected: `about ${nowS} (the kit's clock at receipt, within ${TIMESTAMP_LAG_S} s)`,
      actual: String(raw),
    },
  );
  const sig = r.headers[PUSH_SIGNATURE_HEADER.toLowerCase()];
  ctx.expect(
    "OFFLINE-PUSH-8",
    sig !== undefined && /^[0-9a-f]{40}$/.test(sig),
    `${PUSH_SIGNATURE_HEADER} is not 40 lowercase hexadecimal digits`,
    { expected: "40 lowercase hex digits", actual: String(sig) },
  );
  const expected = pushSignature(push.masterKey, ts as number, r.body);
  ctx.expect(
    "OFFLINE-PUSH-8",
    sig === expected,
    `${PUSH_SIGNATURE_HEADER} is not the HMAC-SHA1 of "timestamp:body" with the app's master key`,
    { expected, actual: `${String(sig)} over ${ts}:${r.text.slice(0, 200)}` },
  );
}

/** The media type of a `Content-Type` value, lowercased, without parameters. */
function mediaType(value: string | undefined): string {
  return (value ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * Checks one notice, its first attempt or any other, against what the case knows of its
 * message: method and URL (OFFLINE-PUSH-2), headers (OFFLINE-PUSH-8), who it must not name
 * (OFFLINE-PUSH-5), its body (OFFLINE-PUSH-6) and the absence of the text (OFFLINE-PUSH-7).
 */
function expectNotice(ctx: CaseContext, push: Push, r: PushRequest, exp: Expected): void {
  ctx.expect("OFFLINE-PUSH-2", r.method === "POST", `the notice is an HTTP ${r.method}`, {
    expected: "POST",
    actual: r.method,
  });
  const path = r.path.split("?")[0];
  ctx.expect("OFFLINE-PUSH-2", path === push.path, "the notice did not go to the hook's URL", {
    expected: push.receiver.urlFor(push.path),
    actual: push.receiver.urlFor(r.path),
  });
  expectSigned(ctx, push, r);
  const ct = r.headers["content-type"];
  ctx.expect(
    "OFFLINE-PUSH-6",
    mediaType(ct) === PUSH_CONTENT_TYPE,
    `the notice's Content-Type is not ${PUSH_CONTENT_TYPE}`,
    { expected: PUSH_CONTENT_TYPE, actual: String(ct) },
  );
  const n = body(r);
  if (n === undefined) {
    ctx.fault("OFFLINE-PUSH-6", "the notice's body is not one JSON object", {
      actual: r.text.slice(0, 300),
    });
  }
  const named = Array.isArray(n.offlinePeerIds) ? n.offlinePeerIds.map(String) : [];
  for (const p of [exp.from, ...(exp.online ?? [])]) {
    ctx.expect(
      "OFFLINE-PUSH-5",
      !named.includes(p),
      p === exp.from
        ? `the notice names the sender ${p} among the offline recipients`
        : `the notice names ${p}, which had an open session when the message was accepted`,
      { expected: `offlinePeerIds without ${p}`, actual: JSON.stringify(n.offlinePeerIds) },
    );
  }
  const checked = httpValidators["push-notice"]?.(n);
  ctx.expect(
    "OFFLINE-PUSH-6",
    checked?.ok === true,
    "the notice does not validate against the push-notice schema",
    {
      expected: "a push-notice body",
      actual: `${checked?.ok === false ? JSON.stringify(checked.errors).slice(0, 300) : ""} in ${r.text.slice(0, 300)}`,
    },
  );
  ctx.expectEqual("OFFLINE-PUSH-6", n.appId, push.appId, "the notice's appId");
  ctx.expectEqual("OFFLINE-PUSH-6", n.id, exp.message.uid, "the notice's id (the ack's uid)");
  ctx.expectEqual("OFFLINE-PUSH-6", n.fromPeerId, exp.from, "the notice's fromPeerId");
  ctx.expectEqual(
    "OFFLINE-PUSH-6",
    n.timestamp,
    exp.message.t,
    "the notice's timestamp (the ack's t)",
  );
  ctx.expect(
    "OFFLINE-PUSH-6",
    new Set(named).size === named.length,
    "the notice names a recipient more than once",
    { expected: "each offline recipient once", actual: JSON.stringify(n.offlinePeerIds) },
  );
  ctx.expectEqual(
    "OFFLINE-PUSH-6",
    [...named].sort(),
    [...new Set(exp.offline)].sort(),
    "the notice's offlinePeerIds (sorted)",
  );
  if (exp.roomId !== undefined)
    ctx.expectEqual("OFFLINE-PUSH-6", n.roomId, exp.roomId, "the notice's roomId");
  // [OFFLINE-PUSH-7] The kit's push app does not ask for the text: neither `msg` nor the
  // text under any other name.
  ctx.expect(
    "OFFLINE-PUSH-7",
    !("msg" in n) && !r.text.includes(exp.message.msg),
    "the notice carries the message text, which the app's configuration does not ask for",
    { expected: "no msg", actual: r.text.slice(0, 300) },
  );
}

/**
 * Waits for the notice of `exp.message`, checks it, then checks under OFFLINE-PUSH-2 that
 * no second notice of it comes: the receiver answered 200, so a second POST is a second
 * notice, not a retry.
 */
async function expectOneNotice(ctx: CaseContext, push: Push, exp: Expected): Promise<PushRequest> {
  const r = await waitNotice(
    ctx,
    push,
    "OFFLINE-PUSH-2",
    forMessage(exp.message.uid),
    `a notice for message ${exp.message.uid}`,
  );
  expectNotice(ctx, push, r, exp);
  const all = await push.receiver.settle(
    forMessage(exp.message.uid),
    DUPLICATE_QUIET_MS,
    DUPLICATE_QUIET_MS * 4,
    { signal: ctx.signal },
  );
  log(ctx, ...all);
  ctx.expect(
    "OFFLINE-PUSH-2",
    all.length === 1,
    `${all.length} POSTs for one message, each answered 200: one notice per message`,
    { expected: "one notice", actual: all.map(describePushRequest).join(" | ") },
  );
  return r;
}

/**
 * Checks under `requirement` that no request matching `forbidden` came by now and none comes
 * within {@link AFTER_CONTROL_MS}: called once the control's notice came.
 */
async function expectNoNotice(
  ctx: CaseContext,
  push: Push,
  requirement: string,
  forbidden: Match,
  what: string,
): Promise<void> {
  await ctx.sleep(AFTER_CONTROL_MS);
  const came = push.receiver.matching(forbidden);
  log(ctx, ...came);
  ctx.expect(requirement, came.length === 0, `the server sent ${what}`, {
    expected: `no ${what}`,
    actual: came.map(describePushRequest).join(" | "),
  });
}

/**
 * The attempts of one notice after `first`, up to `count` in all, each within
 * {@link RETRY_WAIT_MS} of the one before; under OFFLINE-PUSH-9 (a SHOULD: a missing retry
 * is a warning, and ends the check).
 */
async function attempts(
  ctx: CaseContext,
  push: Push,
  uid: string,
  first: PushRequest,
  count: number,
  why: string,
  waitMs = RETRY_WAIT_MS,
): Promise<PushRequest[]> {
  const all = [first];
  while (all.length < count) {
    const last = all[all.length - 1] as PushRequest;
    all.push(
      await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-9",
        forMessage(uid),
        `attempt ${all.length + 1} of the notice of ${uid}, after ${why}`,
        { after: last.seq, ms: waitMs },
      ),
    );
  }
  return all;
}

/**
 * Checks every attempt of one notice: the same body, byte for byte (OFFLINE-PUSH-12), and
 * each with its own time and a valid signature (OFFLINE-PUSH-8).
 */
function expectSameNotice(ctx: CaseContext, push: Push, all: readonly PushRequest[]): void {
  const first = all[0] as PushRequest;
  for (const [k, r] of all.entries()) {
    expectSigned(ctx, push, r);
    ctx.expect(
      "OFFLINE-PUSH-12",
      r.body.equals(first.body),
      `attempt ${k + 1} of the notice has another body than attempt 1`,
      { expected: first.text.slice(0, 300), actual: r.text.slice(0, 300) },
    );
    const drift = ((timestampOf(r) ?? 0) - (timestampOf(first) ?? 0)) * 1000;
    const elapsed = r.receivedAt - first.receivedAt;
    ctx.expect(
      "OFFLINE-PUSH-8",
      Math.abs(drift - elapsed) <= TIMESTAMP_DRIFT_S * 1000,
      `attempt ${k + 1} does not carry the time at which it was sent in ${PUSH_TIMESTAMP_HEADER}`,
      {
        expected: `about ${(timestampOf(first) ?? 0) + Math.round(elapsed / 1000)} (${elapsed} ms after attempt 1)`,
        actual: String(timestampOf(r)),
      },
    );
  }
}

/** The mean of `xs`. */
function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}

/** The push-hook cases. */
export const CASES: readonly ServerCase[] = [
  // ---------------------------------------------------------------- when a notice is sent
  defineCase({
    name: "push/direct/notice-for-offline-peer",
    requirements: graded("OFFLINE-PUSH-2", "OFFLINE-PUSH-6"),
    features: ["push-hook"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob"); // never connected: no open session
      const a = await open(ctx, push, alice);
      const m = await send(ctx, a, dm(ctx, push, alice, [bob]));
      await expectOneNotice(ctx, push, { message: m, from: alice, offline: [bob] });
    },
  }),
  defineCase({
    name: "push/direct/names-every-offline-recipient-once",
    requirements: graded("OFFLINE-PUSH-6", "OFFLINE-PUSH-2", "OFFLINE-PUSH-5"),
    features: ["push-hook"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, carol, dave, erin] = ["alice", "bob", "carol", "dave", "erin"].map((p) =>
        ctx.peer(p),
      ) as [string, string, string, string, string];
      const a = await open(ctx, push, alice);
      const c = await open(ctx, push, carol); // online: gets the message live
      const d = await open(ctx, push, dave);
      await closeSession(ctx, push, d, dave); // was online, is not any more
      // bob twice (DIRECT-TARGET-2), the sender too (DIRECT-SELF-1).
      const m = await send(ctx, a, dm(ctx, push, alice, [bob, carol, bob, dave, erin, alice]));
      await ctx.waitFor(
        "DIRECT-DELIVER-1",
        c,
        (f) => f.cmd === "direct" && f.id === m.uid,
        `the live delivery of ${m.uid} to carol`,
      );
      await expectOneNotice(ctx, push, {
        message: m,
        from: alice,
        offline: [bob, dave, erin],
        online: [carol],
      });
    },
  }),
  defineCase({
    name: "push/room/notice-names-offline-members",
    requirements: graded("OFFLINE-PUSH-2", "OFFLINE-PUSH-6", "OFFLINE-PUSH-5"),
    features: ["push-hook", "groups"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((p) =>
        ctx.peer(p),
      ) as [string, string, string, string];
      const a = await open(ctx, push, alice);
      const c = await open(ctx, push, carol);
      const roomId = await group(ctx, push, a, alice, [bob, carol, dave]);
      const m = await send(ctx, a, dm(ctx, push, alice, { roomId }));
      await ctx.waitFor(
        "ROOM-MSG-2",
        c,
        (f) => f.cmd === "direct" && f.id === m.uid,
        `the live delivery of ${m.uid} to carol`,
      );
      await expectOneNotice(ctx, push, {
        message: m,
        from: alice,
        offline: [bob, dave],
        online: [carol],
        roomId,
      });
    },
  }),
  defineCase({
    name: "push/direct/sender-devices-and-online-peers-not-named",
    requirements: graded("OFFLINE-PUSH-5"),
    features: ["push-hook"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, carol] = ["alice", "bob", "carol"].map((p) => ctx.peer(p)) as [
        string,
        string,
        string,
      ];
      const a = await open(ctx, push, alice);
      await open(ctx, push, alice); // a second device of the sender
      const b = await open(ctx, push, bob);
      // Bob has two sessions; one ends, the other keeps him online (PRESENCE-ONLINE-1).
      const b2 = await open(ctx, push, bob);
      await closeSession(ctx, push, b2, bob);
      const m = await send(ctx, a, dm(ctx, push, alice, [alice, bob, carol]));
      await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b,
        (f) => f.cmd === "direct" && f.id === m.uid,
        `the live delivery of ${m.uid} to bob`,
      );
      await expectOneNotice(ctx, push, {
        message: m,
        from: alice,
        offline: [carol],
        online: [bob],
      });
    },
  }),
  defineCase({
    name: "push/direct/none-when-every-recipient-online",
    requirements: ["OFFLINE-PUSH-5", "OFFLINE-PUSH-6", "OFFLINE-PUSH-2", "OFFLINE-PUSH-8"],
    features: ["push-hook"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, carol, zed] = ["alice", "bob", "carol", "zed"].map((p) => ctx.peer(p)) as [
        string,
        string,
        string,
        string,
      ];
      const a = await open(ctx, push, alice);
      await open(ctx, push, bob);
      await open(ctx, push, carol);
      const m = await send(ctx, a, dm(ctx, push, alice, [bob, carol]));
      // The control: a message to an offline peer, sent after it.
      const control = await send(ctx, a, dm(ctx, push, alice, [zed]));
      const r = await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-2",
        forMessage(control.uid),
        `the notice of the control message ${control.uid} to the offline ${zed}`,
      );
      expectSigned(ctx, push, r);
      // A notice for m could only name an online recipient (OFFLINE-PUSH-5), or nobody,
      // which the schema refuses (OFFLINE-PUSH-6: offlinePeerIds has one id at least).
      await expectNoNotice(
        ctx,
        push,
        "OFFLINE-PUSH-5",
        (x) => forMessage(m.uid)(x) || naming([bob, carol])(x),
        `a notice for ${m.uid}, whose recipients all had an open session`,
      );
    },
  }),
  defineCase({
    name: "push/transient/no-notice",
    requirements: ["OFFLINE-PUSH-3", "OFFLINE-PUSH-2", "OFFLINE-PUSH-8"],
    features: ["push-hook", "groups"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob] = ["alice", "bob"].map((p) => ctx.peer(p)) as [string, string];
      const a = await open(ctx, push, alice);
      const roomId = await group(ctx, push, a, alice, [bob]);
      const t1 = await send(
        ctx,
        a,
        dm(ctx, push, alice, [bob], { transient: true }),
        "TRANSIENT-ACK-2",
      );
      const t2 = await send(
        ctx,
        a,
        dm(ctx, push, alice, { roomId }, { transient: true }),
        "TRANSIENT-ACK-2",
      );
      const control = await send(ctx, a, dm(ctx, push, alice, [bob]));
      const r = await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-2",
        forMessage(control.uid),
        `the notice of the persistent control message ${control.uid}, sent after the transient ones`,
      );
      expectSigned(ctx, push, r);
      await expectNoNotice(
        ctx,
        push,
        "OFFLINE-PUSH-3",
        (x) => naming([alice, bob])(x) && body(x)?.id !== control.uid,
        `a notice for a transient message (${t1.uid}, ${t2.uid} in the group)`,
      );
    },
  }),
  defineCase({
    name: "push/reject/no-notice-for-refused-message",
    requirements: ["OFFLINE-PUSH-4", "OFFLINE-PUSH-2", "OFFLINE-PUSH-8"],
    features: ["push-hook", "groups"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, zed] = ["alice", "bob", "zed"].map((p) => ctx.peer(p)) as [
        string,
        string,
        string,
      ];
      const a = await open(ctx, push, alice);
      const z = await open(ctx, push, zed);
      // Zed's group, with the offline bob in it; alice is no member (ROOM-MSG-1).
      const roomId = await group(ctx, push, z, zed, [bob]);
      // Frames the schemas refuse, with the code they give them [FRAME-SCHEMA-4].
      const invalid: [Frame, string, string][] = [
        [dm(ctx, push, alice, [bob], { roomId }), "DIRECT-TARGET-1", "toPeerIds and roomId"],
      ];
      const msgBytes = ctx.limits().msgBytes;
      if (msgBytes !== undefined)
        invalid.push([
          dm(ctx, push, alice, [bob], { msg: "x".repeat(msgBytes + 1) }),
          "LIMIT-MSG-2",
          "a msg over the limit",
        ]);
      for (const [frame, requirement, why] of invalid) {
        const sent = { ...frame, i: a.nextSerial() };
        const code = ctx.expectedCode(sent);
        a.sendInvalid(sent, why);
        const reply = await ctx.waitFor(
          requirement,
          a,
          (f) => f.i === sent.i,
          `the answer to ${why}`,
        );
        ctx.expectError(requirement, reply, code, sent.i);
      }
      // Valid frames the server refuses: a non-member's group message, a direct to oneself.
      for (const [frame, requirement] of [
        [dm(ctx, push, alice, { roomId }), "ROOM-MSG-1"],
        [dm(ctx, push, alice, [alice]), "DIRECT-SELF-2"],
      ] as const) {
        const i = a.nextSerial();
        const reply = await ctx.request(requirement, a, { ...frame, i });
        ctx.expectError(requirement, reply, 4401, i);
      }
      const control = await send(ctx, a, dm(ctx, push, alice, [bob]));
      const r = await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-2",
        forMessage(control.uid),
        `the notice of the control message ${control.uid}, sent after the refused ones`,
      );
      expectSigned(ctx, push, r);
      await expectNoNotice(
        ctx,
        push,
        "OFFLINE-PUSH-4",
        (x) => naming([alice, bob])(x) && body(x)?.id !== control.uid,
        "a notice for a message it answered with an error",
      );
    },
  }),
  defineCase({
    name: "push/commit/pending-before-notice",
    requirements: graded("OFFLINE-PUSH-4"),
    features: ["push-hook"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob] = ["alice", "bob"].map((p) => ctx.peer(p)) as [string, string];
      // The receiver holds the notice unanswered: a server that commits only once the hook
      // answered has not committed when bob opens.
      answer(ctx, push, naming([bob]), "hang");
      const a = await open(ctx, push, alice);
      const m = await send(ctx, a, dm(ctx, push, alice, [bob]));
      const r = await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-2",
        forMessage(m.uid),
        `a notice for message ${m.uid}`,
      );
      expectNotice(ctx, push, r, { message: m, from: alice, offline: [bob] });
      // [OFFLINE-PUSH-4] The receiver heard of the message: the message and bob's pending
      // entry are committed, so bob's next session gets it from the offline store.
      const b = await open(ctx, push, bob);
      await ctx.waitFor(
        "OFFLINE-PUSH-4",
        b,
        (f) => f.cmd === "direct" && f.id === m.uid,
        `the pending message ${m.uid}, of which the hook was told, in bob's offline burst`,
      );
    },
  }),
  defineCase({
    name: "push/text/not-in-notice",
    requirements: graded("OFFLINE-PUSH-7"),
    features: ["push-hook", "groups"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob] = ["alice", "bob"].map((p) => ctx.peer(p)) as [string, string];
      const a = await open(ctx, push, alice);
      const roomId = await group(ctx, push, a, alice, [bob]);
      // The kit's push app does not ask for the text (target.ts: pushIncludeText false).
      const m1 = await send(ctx, a, dm(ctx, push, alice, [bob], { msg: `secret ${ctx.nonce()}` }));
      const m2 = await send(
        ctx,
        a,
        dm(ctx, push, alice, { roomId }, { msg: `secret ${ctx.nonce()}` }),
      );
      await expectOneNotice(ctx, push, { message: m1, from: alice, offline: [bob] });
      await expectOneNotice(ctx, push, { message: m2, from: alice, offline: [bob], roomId });
    },
  }),
  defineCase({
    name: "push/signature/timestamp-and-hmac",
    requirements: graded("OFFLINE-PUSH-8"),
    features: ["push-hook"],
    timeoutMs: 30_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, carol] = ["alice", "bob", "carol"].map((p) => ctx.peer(p)) as [
        string,
        string,
        string,
      ];
      const a = await open(ctx, push, alice);
      const roomId = await group(ctx, push, a, alice, [bob, carol]);
      // Two bodies, a peer message's and a group message's (with roomId); expectOneNotice
      // checks both headers of each against the protocol package's pushSignature.
      const m1 = await send(ctx, a, dm(ctx, push, alice, [bob, carol]));
      const m2 = await send(ctx, a, dm(ctx, push, alice, { roomId }));
      await expectOneNotice(ctx, push, { message: m1, from: alice, offline: [bob, carol] });
      await expectOneNotice(ctx, push, {
        message: m2,
        from: alice,
        offline: [bob, carol],
        roomId,
      });
    },
  }),

  // ---------------------------------------------------------------- retries
  defineCase({
    name: "push/retry/retryable-failures",
    requirements: ["OFFLINE-PUSH-9", "OFFLINE-PUSH-12", "OFFLINE-PUSH-8"],
    features: ["push-hook"],
    timeoutMs: 40_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const alice = ctx.peer("alice");
      const a = await open(ctx, push, alice);
      // One offline peer per failure: its notice's first attempt gets that failure.
      const failures: [string, PushAnswer][] = [
        ["status 500", 500],
        ["status 503", 503],
        ["status 408", 408],
        ["status 429", 429],
        ["a reset connection (a network error)", "reset"],
      ];
      const sent: [Accepted, string, string][] = [];
      for (const [k, [why, reply]] of failures.entries()) {
        const peer = ctx.peer(`off${k}`);
        answer(ctx, push, naming([peer]), reply, 1);
        sent.push([await send(ctx, a, dm(ctx, push, alice, [peer])), peer, why]);
      }
      const firsts: [Accepted, PushRequest, string][] = [];
      for (const [m, peer, why] of sent) {
        const first = await waitNotice(
          ctx,
          push,
          "OFFLINE-PUSH-2",
          forMessage(m.uid),
          `the notice of ${m.uid}`,
        );
        expectNotice(ctx, push, first, { message: m, from: alice, offline: [peer] });
        firsts.push([m, first, why]);
      }
      // The retries are awaited together, so that a server that never retries costs one
      // bound, not one per failure.
      await Promise.all(
        firsts.map(([m, first, why]) =>
          ctx.soft(async () => {
            const all = await attempts(ctx, push, m.uid, first, 2, `the first got ${why}`);
            expectSameNotice(ctx, push, all);
          }),
        ),
      );
    },
  }),
  defineCase({
    name: "push/retry/after-timeout",
    requirements: ["OFFLINE-PUSH-9", "OFFLINE-PUSH-12", "OFFLINE-PUSH-8"],
    features: ["push-hook"],
    timeoutMs: 40_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob] = ["alice", "bob"].map((p) => ctx.peer(p)) as [string, string];
      answer(ctx, push, naming([bob]), "hang", 1);
      const a = await open(ctx, push, alice);
      const m = await send(ctx, a, dm(ctx, push, alice, [bob]));
      const first = await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-2",
        forMessage(m.uid),
        `the notice of ${m.uid}`,
      );
      expectNotice(ctx, push, first, { message: m, from: alice, offline: [bob] });
      // The server's own attempt timeout is its choice; the kit waits 25 s for the retry.
      const all = await attempts(
        ctx,
        push,
        m.uid,
        first,
        2,
        "the first was never answered (a timeout)",
        25_000,
      );
      expectSameNotice(ctx, push, all);
    },
  }),
  defineCase({
    name: "push/retry/backoff-grows-with-jitter",
    requirements: ["OFFLINE-PUSH-9", "OFFLINE-PUSH-12", "OFFLINE-PUSH-8"],
    features: ["push-hook"],
    timeoutMs: 60_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const alice = ctx.peer("alice");
      const a = await open(ctx, push, alice);
      // Six notices failing together, three times each (status 500), then answered 200.
      const sent: [Accepted, string][] = [];
      for (let k = 0; k < 6; k++) {
        const peer = ctx.peer(`off${k}`);
        answer(ctx, push, naming([peer]), 500, 3);
        sent.push([await send(ctx, a, dm(ctx, push, alice, [peer])), peer]);
      }
      const gaps: number[][] = [[], [], []];
      for (const [m, peer] of sent) {
        const first = await waitNotice(
          ctx,
          push,
          "OFFLINE-PUSH-2",
          forMessage(m.uid),
          `the notice of ${m.uid}`,
        );
        expectNotice(ctx, push, first, { message: m, from: alice, offline: [peer] });
        const all = await attempts(ctx, push, m.uid, first, 4, "status 500", 20_000);
        expectSameNotice(ctx, push, all);
        for (let k = 0; k < 3; k++) {
          const failed = all[k] as PushRequest;
          const next = all[k + 1] as PushRequest;
          (gaps[k] as number[]).push(next.receivedAt - (failed.endedAt ?? failed.receivedAt));
        }
      }
      const [g1, g2, g3] = gaps as [number[], number[], number[]];
      ctx.note(`waits before retries 1, 2, 3 (ms): ${JSON.stringify(gaps)}`);
      // [OFFLINE-PUSH-9] Growing waits: the third is well over the first, on average over
      // the six notices (any jitter averages out; doubling makes it four times the first).
      ctx.expect(
        "OFFLINE-PUSH-9",
        mean(g3) >= 1.5 * mean(g1) && mean(g3) > mean(g2) && mean(g2) > mean(g1),
        "the waits before the retries do not grow",
        {
          expected: "mean waits growing, the third at least 1.5 times the first",
          actual: `means ${Math.round(mean(g1))}, ${Math.round(mean(g2))}, ${Math.round(mean(g3))} ms`,
        },
      );
      // [OFFLINE-PUSH-9] Random jitter: six notices that failed together do not all wait
      // the same (to 50 ms, more than the kit's own scheduling noise) before any retry.
      const spread = (xs: readonly number[]) => Math.max(...xs) - Math.min(...xs);
      ctx.expect(
        "OFFLINE-PUSH-9",
        gaps.some((g) => spread(g) > 50),
        "notices that failed together wait the same before their retries: no jitter",
        {
          expected: "waits that differ by more than 50 ms",
          actual: JSON.stringify(gaps),
        },
      );
    },
  }),
  defineCase({
    name: "push/retry/attempts-bounded",
    requirements: ["OFFLINE-PUSH-9", "OFFLINE-PUSH-12", "OFFLINE-PUSH-8"],
    features: ["push-hook"],
    timeoutMs: 300_000,
    async run(ctx) {
      if (ctx.profile === "quick") {
        throw new NotApplicable(
          "waits minutes for the attempts of a failing notice to stop: a thorough run only",
        );
      }
      const push = pushOf(ctx);
      const [alice, bob] = ["alice", "bob"].map((p) => ctx.peer(p)) as [string, string];
      answer(ctx, push, naming([bob]), 503);
      const a = await open(ctx, push, alice);
      const m = await send(ctx, a, dm(ctx, push, alice, [bob]));
      await waitNotice(ctx, push, "OFFLINE-PUSH-2", forMessage(m.uid), `the notice of ${m.uid}`);
      // Stopped: no attempt for 65 s, more than the 60 s of the reference's longest wait.
      const all = await push.receiver.settle(forMessage(m.uid), 65_000, 240_000, {
        signal: ctx.signal,
      });
      log(ctx, ...all);
      expectSameNotice(ctx, push, all);
      ctx.expect(
        "OFFLINE-PUSH-9",
        all.length >= 2,
        "the notice was never retried after status 503",
        { expected: "retries", actual: "one attempt" },
      );
      const last = all[all.length - 1] as PushRequest;
      ctx.expect(
        "OFFLINE-PUSH-9",
        Date.now() - last.receivedAt >= 65_000,
        `the server still retries a notice that always fails, after ${all.length} attempts over ${Math.round((last.receivedAt - (all[0] as PushRequest).receivedAt) / 1000)} s`,
        { expected: "a bounded number of attempts", actual: `${all.length} attempts` },
      );
    },
  }),
  defineCase({
    name: "push/retry/same-body-every-attempt",
    requirements: ["OFFLINE-PUSH-12", "OFFLINE-PUSH-8"],
    features: ["push-hook", "groups"],
    timeoutMs: 40_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, bob, carol] = ["alice", "bob", "carol"].map((p) => ctx.peer(p)) as [
        string,
        string,
        string,
      ];
      const a = await open(ctx, push, alice);
      const roomId = await group(ctx, push, a, alice, [bob, carol]);
      answer(ctx, push, naming([bob]), 500, 2);
      const m = await send(ctx, a, dm(ctx, push, alice, { roomId }));
      const first = await waitNotice(
        ctx,
        push,
        "OFFLINE-PUSH-2",
        forMessage(m.uid),
        `the notice of ${m.uid}`,
      );
      expectNotice(ctx, push, first, { message: m, from: alice, offline: [bob, carol], roomId });
      const all = await attempts(ctx, push, m.uid, first, 3, "status 500").catch((err) => {
        if (err instanceof SoftFault)
          throw new NotApplicable(
            "the server did not retry (OFFLINE-PUSH-9 is a SHOULD): no second attempt to compare",
          );
        throw err;
      });
      expectSameNotice(ctx, push, all);
    },
  }),

  // ---------------------------------------------------------------- the hook never in the way
  defineCase({
    name: "push/ack/not-delayed-by-hook",
    requirements: ["OFFLINE-PUSH-11", "OFFLINE-PUSH-2", "OFFLINE-PUSH-8"],
    features: ["push-hook"],
    timeoutMs: 40_000,
    async run(ctx) {
      const push = pushOf(ctx);
      const [alice, carol] = ["alice", "carol"].map((p) => ctx.peer(p)) as [string, string];
      const a = await open(ctx, push, alice);
      const c = await open(ctx, push, carol);
      // Three offline peers whose hook never answers, fails, or drops the connection.
      const cases: [string, PushAnswer][] = [
        ["never answers", "hang"],
        ["answers 500", 500],
        ["resets the connection", "reset"],
      ];
      for (const [k, [why, reply]] of cases.entries()) {
        const peer = ctx.peer(`off${k}`);
        answer(ctx, push, naming([peer]), reply);
        const started = Date.now();
        // [OFFLINE-PUSH-11] The ack comes, as an ack, within the kit's usual bound.
        const m = await send(ctx, a, dm(ctx, push, alice, [peer, carol]), "OFFLINE-PUSH-11");
        const acked = Date.now();
        await ctx.waitFor(
          "OFFLINE-PUSH-11",
          c,
          (f) => f.cmd === "direct" && f.id === m.uid,
          `the live delivery to carol of ${m.uid}, whose hook ${why}`,
        );
        const delivered = Date.now();
        const r = await waitNotice(
          ctx,
          push,
          "OFFLINE-PUSH-2",
          forMessage(m.uid),
          `the notice of ${m.uid}`,
        );
        expectSigned(ctx, push, r);
        if (reply === "hang") {
          // The POST is still held: neither the ack nor the delivery waited for its answer
          // or for the server's own timeout.
          const ended = r.endedAt ?? Number.POSITIVE_INFINITY;
          ctx.expect(
            "OFFLINE-PUSH-11",
            acked < ended && delivered < ended,
            "the ack or the delivery came only once the server gave up on the hook",
            {
              expected: "ack and delivery while the notice's POST is unanswered",
              actual: `ack after ${acked - started} ms, delivery after ${delivered - started} ms, POST ended after ${ended - started} ms`,
            },
          );
        }
      }
    },
  }),
  defineCase({
    name: "push/bound/drops-beyond-bound",
    requirements: ["OFFLINE-PUSH-10", "OFFLINE-PUSH-2"],
    features: ["push-hook"],
    needs: ["short"],
    timeoutMs: 90_000,
    async run(ctx) {
      if (ctx.target.kind !== "embedded") {
        throw new NotApplicable(
          "the spec fixes no value for the bound and servers announce none: the kit knows the reference server's only (1000 per app, spec 03 3.10)",
        );
      }
      // On the shortened instance, whose push app no other case floods, so that the drops
      // cannot touch another case's notices.
      const push = pushOf(ctx, true);
      const bound = REFERENCE_NOTICE_BOUND;
      const [alice, bob] = ["alice", "bob"].map((p) => ctx.peer(p)) as [string, string];
      // The receiver holds every notice of the flood: the server must hold the rest.
      const stopHolding = answer(ctx, push, naming([bob]), "hang");
      const a = await open(ctx, push, alice);
      const total = bound + 200;
      const uids = new Set<string>();
      for (let k = 0; k < total; k += 100) {
        const serials: number[] = [];
        for (let j = k; j < Math.min(total, k + 100); j++) {
          const i = a.nextSerial();
          serials.push(i);
          a.send({ ...dm(ctx, push, alice, [bob]), i });
        }
        for (const i of serials) {
          const ack = await ctx.waitFor("ACK-REPLY-1", a, (f) => f.i === i, `the ack of i=${i}`);
          ctx.expect("ACK-REPLY-1", ack.cmd === "ack", "a message of the flood was not acked", {
            actual: describeFrame(ack),
          });
          uids.add(String(ack.uid));
        }
      }
      const mine: Match = (r) => uids.has(String(body(r)?.id));
      // Every notice the receiver has seen by now left the server's queue, at least once.
      const seen = new Set(push.receiver.matching(mine).map((r) => String(body(r)?.id)));
      ctx.note(
        `${total} messages acked; ${seen.size} notices reached the receiver, held unanswered`,
      );
      stopHolding(); // from now on every notice is answered 200, the held ones too
      const all = await push.receiver.settle(mine, 2_000, 40_000, { signal: ctx.signal });
      const ids = new Set(all.map((r) => String(body(r)?.id)));
      const later = [...ids].filter((id) => !seen.has(id));
      ctx.note(
        `after the release: ${ids.size} distinct notices in all, ${later.length} first seen after it`,
      );
      ctx.expect("OFFLINE-PUSH-2", ids.size > 0, "no notice came for any message of the flood", {
        expected: "notices",
        actual: "none",
      });
      // [OFFLINE-PUSH-10] A notice first seen after the release was held by the server,
      // waiting for a first attempt, at the release: no more than the bound of them.
      ctx.expect(
        "OFFLINE-PUSH-10",
        later.length <= bound,
        `the server held ${later.length} notices for the hook, more than its bound of ${bound}: it did not drop`,
        { expected: `at most ${bound} held`, actual: `${later.length} held` },
      );
    },
  }),
];
