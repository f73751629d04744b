/**
 * The helpers that several chapter files of the cases share: how the kit names and builds
 * frames, sends a frame and takes the answer that carries its `i`, expects a success reply
 * or an error code, uses a keepalive as a sentinel, and reads an HTTP answer.
 *
 * What the kit's core already offers is not repeated here: the expected code of an invalid
 * frame (`ctx.expectedCode`, the unpaired-surrogate rule included), the raw text of a frame
 * (`conn.rawOf`), a connection recorded from before its handshake (`ctx.connect`), a flush
 * barrier of transient messages (`ctx.flush`) and a keepalive round trip that blames
 * KEEPALIVE-REPLY-1 (`ctx.roundTrip`). The keepalive helpers below are the variants whose
 * failure names the requirement of the case instead, so that a case grades what it tests.
 *
 * A helper that one chapter file uses stays in that file.
 * @module
 */
import { CODE_NAMES, httpValidators, type MessageEntry, REGISTRY } from "@confab/protocol";
import { type Connection, DEFAULT_WAIT_MS, describeFrame, WaitTimeout } from "../connection.js";
import type { AppRole, CaseContext, HttpAnswer } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";

// ---------------------------------------------------------------------------------------
// Frames: names, predicates, builders
// ---------------------------------------------------------------------------------------

/**
 * A frame as the kit builds and reads it: a plain object, since the server's frames are
 * validated on the wire (VERSION-COMPAT-1) and the kit's own before they are sent.
 */
export type Frame = Record<string, unknown>;

/** Whether `frame` is the keepalive `{}`, or the `{}` that answers one (KEEPALIVE-REPLY-1). */
export const isKeepalive = (frame: Frame): boolean => Object.keys(frame).length === 0;

/** Whether `frame` is an `error` frame (spec 08, 8.2). */
export const isError = (frame: Frame): boolean => frame.cmd === "error";

/**
 * A predicate: a delivered `direct` with text `msg`, for the session of `peerId` when given:
 * one connection may carry sessions of several peers, and each delivery names its session
 * (DIRECT-DELIVER-1, FRAME-PEERID-1).
 */
export function isDelivery(msg: string, peerId?: string): (f: Frame) => boolean {
  return (f) =>
    f.cmd === "direct" && f.msg === msg && (peerId === undefined || f.peerId === peerId);
}

/** A predicate: a `presence` frame that names `peer`, with `status` when given (PRESENCE-ON-1). */
export function isPresence(peer: string, status?: "on" | "off"): (f: Frame) => boolean {
  return (f) =>
    f.cmd === "presence" &&
    Array.isArray(f.sessionPeerIds) &&
    f.sessionPeerIds.includes(peer) &&
    (status === undefined || f.status === status);
}

/** `cmd/op`, `cmd`, or `keepalive`: the registry's name of a frame, as Table 1 writes it. */
export function nameOf(f: Frame): string {
  if (f.cmd === undefined) return "keepalive";
  return f.op === undefined ? String(f.cmd) : `${String(f.cmd)}/${String(f.op)}`;
}

/**
 * Table 1: the success reply of each c2s command, by command name, from the registry the
 * schemas derive from, so that no case writes the table again.
 */
export const SUCCESS_REPLIES: ReadonlyMap<string, string> = new Map(
  (REGISTRY as readonly MessageEntry[]).flatMap((e) =>
    e.direction === "c2s" && e.reply !== undefined ? [[e.name, e.reply.name] as const] : [],
  ),
);

/** The success reply of the command `name` in Table 1; a name it does not list is the kit's bug. */
export function replyOf(name: string): string {
  const reply = SUCCESS_REPLIES.get(name);
  if (reply === undefined) throw new HarnessError(`Table 1 gives ${name} no success reply`);
  return reply;
}

/** A code with its name in Table 7, for messages: `4114 UNPARSEABLE_RAW_MESSAGE`. */
export function codeName(code: number): string {
  return `${code} ${CODE_NAMES.get(code) ?? "(not in Table 7)"}`;
}

/**
 * A short description of a frame for a failure's `actual`: its name, `i` and code, a
 * message's id and text, and the `detail` of an error (ERROR-FRAME-4) when it has one.
 */
export function summary(frame: Frame | undefined): string {
  if (frame === undefined) return "nothing";
  const detail = typeof frame.detail === "string" ? `: ${frame.detail.slice(0, 200)}` : "";
  const message =
    frame.cmd === "direct"
      ? ` id=${JSON.stringify(frame.id)} msg=${JSON.stringify(String(frame.msg).slice(0, 40))}`
      : "";
  return `${describeFrame(frame)}${message}${detail}`;
}

/**
 * A command frame of `peerId` in app `appId`, `name` being `cmd` or `cmd/op` as Table 1
 * writes it; the app id is given as is, so that a case can name an app that does not exist.
 */
export function command(
  appId: string,
  peerId: string,
  name: string,
  fields: Readonly<Record<string, unknown>> = {},
): Frame {
  const [cmd, op] = name.split("/");
  return { cmd, ...(op !== undefined && { op }), appId, peerId, ...fields };
}

/**
 * A command of `peerId` in the app of `role` (Table 11), with `fields`: every command names
 * its app and its peer (SESSION-APP-1).
 */
export function peerCommand(
  ctx: CaseContext,
  peerId: string,
  fields: Frame,
  role: AppRole = "open",
): Frame {
  return { appId: ctx.appId(role), peerId, ...fields };
}

/** A persistent `direct` of `from` to the peers `to` in the open app, with `extra` fields. */
export function direct(
  ctx: CaseContext,
  from: string,
  to: readonly string[],
  msg: string,
  extra: Frame = {},
): Frame {
  return peerCommand(ctx, from, { cmd: "direct", msg, toPeerIds: [...to], ...extra });
}

/** `n` distinct fresh peer ids, `<case prefix>-<tag>-<k>`: isolated from other cases and runs. */
export function peerIds(ctx: CaseContext, tag: string, n: number): string[] {
  const base = ctx.peer(tag);
  return Array.from({ length: n }, (_, k) => `${base}-${k}`);
}

/** `n` items cycling over `ids`: an id array with duplicates (LIMIT-DUP-1). */
export function cycle(ids: readonly string[], n: number): string[] {
  return Array.from({ length: n }, (_, k) => ids[k % ids.length] as string);
}

/**
 * An origin other than the one the origin-restricted app allows (FRAME-ORIGIN-2), under the
 * reserved `.test` domain so that it can name no real site; not applicable when the target
 * has no such app (spec 10, Table 11).
 */
export function disallowedOrigin(ctx: CaseContext): string {
  const allowed = ctx.target.apps.origin?.origin;
  if (allowed === undefined)
    throw new NotApplicable(
      "the target has no app that allows one origin only (spec 10, Table 11)",
    );
  return allowed === "https://not-allowed.confab.test"
    ? "https://other.confab.test"
    : "https://not-allowed.confab.test";
}

// ---------------------------------------------------------------------------------------
// Requests: a frame sent, the answer that carries its i taken
// ---------------------------------------------------------------------------------------

/**
 * Sends `frame` (a frame the kit's schemas refuse, sent unchecked) or `text` (sent as is:
 * duplicate names, number spellings that JSON.stringify cannot write) and takes, under
 * `requirement`, the frame that carries `i`, the serial the frame or text holds
 * [SERIAL-REPLY-1].
 */
export async function requestAsIs(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame | string,
  i: number,
  why: string,
): Promise<Frame> {
  if (typeof frame === "string") conn.sendText(frame, why);
  else conn.sendInvalid(frame, why);
  return ctx.waitFor(
    requirement,
    conn,
    (f) => f.i === i,
    `the answer (i=${i}) to a frame where ${why}`,
  );
}

/**
 * Sends `frame`, which the schemas refuse (the kit does not check it), with a fresh `i`, and
 * takes its answer, the first frame with that `i`; none fails `requirement`, whatever came
 * instead. ({@link askInvalid} blames an error frame that lost the `i` on ERROR-FRAME-2.)
 */
export function requestInvalid(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  why: string,
): Promise<Frame> {
  const i = conn.nextSerial();
  return requestAsIs(ctx, requirement, conn, { ...frame, i }, i, why);
}

/**
 * Sends `frame` with a fresh `i` (checked against the c2s schemas when `valid`) and takes
 * the first frame with that `i`. When none comes but an error frame without `i` does, the
 * fault is ERROR-FRAME-2's, not `requirement`'s: the server answered, and lost the `i`.
 */
async function ask(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  what: string,
  valid: boolean,
  ms?: number,
): Promise<Frame> {
  const i = conn.nextSerial();
  const from = conn.frames.length;
  if (valid) conn.send({ ...frame, i });
  else conn.sendInvalid({ ...frame, i }, what);
  try {
    return await conn.waitFor((f) => f.i === i, ms, `the answer to ${what} (i=${i})`);
  } catch (err) {
    if (!(err instanceof WaitTimeout)) throw err;
    // An error frame came, without the command's i: that is ERROR-FRAME-2's failure.
    const stray = conn.frames.slice(from).find((f) => isError(f) && f.i === undefined);
    if (stray !== undefined) {
      return ctx.fault("ERROR-FRAME-2", `the error frame answering ${what} does not carry its i`, {
        expected: `i=${i}`,
        actual: summary(stray),
      });
    }
    return ctx.check(requirement, () => Promise.reject(err), { expected: `the answer to ${what}` });
  }
}

/**
 * Sends a frame the schemas refuse (or any frame, as is) with a fresh valid `i` and takes
 * its answer under `requirement`; an error frame that lost the `i` fails ERROR-FRAME-2
 * instead ({@link ask}).
 */
export function askInvalid(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  what: string,
  ms?: number,
): Promise<Frame> {
  return ask(ctx, requirement, conn, frame, what, false, ms);
}

// ---------------------------------------------------------------------------------------
// Answers: success replies and error codes
// ---------------------------------------------------------------------------------------

/** Fails `requirement` unless `frame` is the success reply `name` (`cmd/op`, Table 1). */
export function expectSuccess(
  ctx: CaseContext,
  requirement: string,
  frame: Frame,
  name: string,
  what: string,
): void {
  ctx.expect(
    requirement,
    nameOf(frame) === name,
    `${what} was answered with ${describeFrame(frame)}`,
    {
      expected: name,
      actual: JSON.stringify(frame).slice(0, 300),
    },
  );
}

/**
 * Sends `frame` with `i` and checks under `requirement` that its answer is the success
 * reply `cmd`/`op`; returns it.
 */
export async function expectReply(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  cmd: string,
  op?: string,
): Promise<Frame> {
  const answer = await ctx.request(requirement, conn, frame);
  const name = op === undefined ? cmd : `${cmd}/${op}`;
  ctx.expect(
    requirement,
    answer.cmd === cmd && answer.op === op,
    `${describeFrame(frame)} was not answered with ${name}`,
    {
      expected: name,
      actual: summary(answer),
    },
  );
  return answer;
}

/** Checks under `requirement` that `answer` is an `error` frame with `code`. */
export function expectCode(
  ctx: CaseContext,
  requirement: string,
  answer: Frame,
  code: number,
  what = "the command",
): void {
  ctx.expect(
    requirement,
    isError(answer) && answer.code === code,
    `${what} was not answered with error ${codeName(code)}`,
    {
      expected: `error ${codeName(code)}`,
      actual: summary(answer),
    },
  );
}

/**
 * Sends `frame`, which the schemas refuse, with `i`, and checks under `requirement` that
 * the answer is error `code` (by default the code the schemas give it, FRAME-SCHEMA-4); an
 * error frame that lost the `i` fails ERROR-FRAME-2 ({@link askInvalid}).
 */
export async function refuseInvalid(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  what: string,
  code: number = ctx.expectedCode(frame),
): Promise<Frame> {
  const answer = await askInvalid(ctx, requirement, conn, frame, what);
  expectCode(ctx, requirement, answer, code, what);
  return answer;
}

/**
 * Sends `frame`, which the schemas accept, with `i`, and checks under `requirement` that
 * the answer is error `code` (a rule of the command itself, which no schema states); an
 * error frame that lost the `i` fails ERROR-FRAME-2.
 */
export async function refuseValid(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  code: number,
  what: string,
): Promise<Frame> {
  const answer = await ask(ctx, requirement, conn, frame, what, true);
  expectCode(ctx, requirement, answer, code, what);
  return answer;
}

/**
 * Sends a frame the schemas refuse, with a fresh `i`, and checks under `requirement` that
 * the `error` the schemas give it answers it [FRAME-SCHEMA-4], with that `i`
 * (ERROR-FRAME-2); no answer with the `i` fails `requirement`. Returns the code.
 */
export async function expectInvalidRefused(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  frame: Frame,
  why: string,
): Promise<number> {
  const sent = { ...frame, i: conn.nextSerial() };
  const code = ctx.expectedCode(sent);
  conn.sendInvalid(sent, why);
  const reply = await ctx.waitFor(requirement, conn, (f) => f.i === sent.i, `the answer to ${why}`);
  ctx.expectError(requirement, reply, code, sent.i);
  return code;
}

/** Options of {@link expectErrorThenClose}. */
export interface CloseExpectation {
  /** The `i` the error frame must carry (a command with `i` caused the close). */
  readonly i?: number;
  /** The `peerId` the error frame must carry. */
  readonly peerId?: string;
  /** No parsed command caused the close: the frame carries neither `i` nor `peerId`. */
  readonly noCommand?: boolean;
  /** The requirement of the close itself; default ERROR-CLOSE-1. */
  readonly closeRequirement?: string;
  /** How long to wait for the close, ms. */
  readonly ms?: number;
}

/**
 * Waits for the server to close `conn` with `code` (ERROR-CLOSE-1, or the requirement
 * given), checks that the last frame before the close is an `error` frame with the same
 * code, with the `i` and `peerId` asked for (ERROR-CLOSE-4), and that the close reason is
 * the code's name (ERROR-CLOSE-3, a SHOULD: a warning only). Returns that error frame.
 */
export async function expectErrorThenClose(
  ctx: CaseContext,
  conn: Connection,
  code: number,
  options: CloseExpectation = {},
): Promise<Frame> {
  await ctx.expectClose(options.closeRequirement ?? "ERROR-CLOSE-1", conn, code, options.ms);
  const last = conn.frames.at(-1);
  ctx.expect(
    "ERROR-CLOSE-4",
    last !== undefined && isError(last) && last.code === code,
    `the close with ${code} did not come just after an error frame with that code`,
    {
      expected: `error ${codeName(code)}, then the close`,
      actual: last === undefined ? "no frame before the close" : summary(last),
    },
  );
  const frame = last as Frame;
  if (options.i !== undefined) {
    ctx.expect(
      "ERROR-CLOSE-4",
      frame.i === options.i,
      "the error frame before the close does not carry the command's i",
      {
        expected: `i=${options.i}`,
        actual: `i=${JSON.stringify(frame.i)}`,
      },
    );
  }
  if (options.peerId !== undefined) {
    ctx.expect(
      "ERROR-CLOSE-4",
      frame.peerId === options.peerId,
      "the error frame before the close does not carry the command's peerId",
      {
        expected: `peerId=${options.peerId}`,
        actual: `peerId=${JSON.stringify(frame.peerId)}`,
      },
    );
  }
  if (options.noCommand === true) {
    // 8.3: a close that no parsed command caused is preceded by a frame without i and peerId.
    ctx.expect(
      "ERROR-CLOSE-4",
      frame.i === undefined && frame.peerId === undefined,
      "the error frame of a close that no command caused carries i or peerId",
      {
        expected: "no i, no peerId",
        actual: summary(frame),
      },
    );
  }
  await ctx.soft(() => {
    const reason = conn.closeInfo?.reason ?? "";
    ctx.expect(
      "ERROR-CLOSE-3",
      reason === CODE_NAMES.get(code),
      "the close reason is not the code's name",
      {
        expected: String(CODE_NAMES.get(code)),
        actual: JSON.stringify(reason),
      },
    );
  });
  return frame;
}

/**
 * A fresh group of the app of `role`, created by `peerId` on `conn` (ROOM-CREATE-1), signed
 * as the app's signing service would sign it when the app enforces signatures (SIG-GROUP-1).
 */
export async function createGroup(
  ctx: CaseContext,
  conn: Connection,
  peerId: string,
  role: AppRole = "open",
): Promise<string> {
  const fields: Frame = { cmd: "room", op: "join" };
  if (role === "signed")
    Object.assign(fields, ctx.groupSignature({ peerId, action: "join", roomId: undefined }));
  const joined = await expectReply(
    ctx,
    "ROOM-CREATE-1",
    conn,
    peerCommand(ctx, peerId, fields, role),
    "room",
    "joined",
  );
  const roomId = joined.roomId;
  if (typeof roomId !== "string")
    throw new HarnessError(`room/joined carries no roomId: ${JSON.stringify(joined)}`);
  return roomId;
}

// ---------------------------------------------------------------------------------------
// Keepalives as sentinels
// ---------------------------------------------------------------------------------------

/**
 * Waits for the `{}` answering a keepalive already sent. A close meanwhile fails
 * `requirement`; no `{}` on an open connection fails KEEPALIVE-REPLY-1 unless `requirement`
 * is a keepalive requirement itself, so that a server that does not answer keepalives is
 * told so, not that it broke the requirement that the keepalive serves as a sentinel for.
 */
export async function keepaliveAnswer(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  what: string,
): Promise<void> {
  try {
    await conn.waitFor(isKeepalive, DEFAULT_WAIT_MS, what);
  } catch (err) {
    const own =
      requirement.startsWith("KEEPALIVE-") ||
      !(err instanceof WaitTimeout) ||
      err.closedWith !== undefined;
    await ctx.check(own ? requirement : "KEEPALIVE-REPLY-1", () => Promise.reject(err), {
      expected: what,
    });
  }
}

/**
 * Sends a keepalive and waits for its `{}` ({@link keepaliveAnswer}): a sentinel after which
 * every reply to a command sent before it has come (SERIAL-ORDER-1), with a close blamed on
 * `requirement`. With KEEPALIVE-REPLY-1 itself, `ctx.roundTrip` is the same check.
 */
export async function keepaliveSentinel(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  what = "the {} answering a keepalive",
): Promise<void> {
  conn.send({});
  await keepaliveAnswer(ctx, requirement, conn, what);
}

/**
 * Sends a keepalive and waits for its `{}` under `requirement`, whether the connection
 * closes or stays silent: the connection is open and still serves (ERROR-SURVIVE-1,
 * SESSION-OPEN-5), and the server has answered every command without `i` sent before it
 * (SERIAL-ORDER-1). Returns the `{}`, so that a case can cut its frames there.
 */
export function expectServing(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  why = "the connection must still serve",
): Promise<Frame> {
  conn.send({});
  return ctx.waitFor(requirement, conn, isKeepalive, `the {} answering a keepalive (${why})`);
}

/**
 * The frames `conn` received from index `from` on, up to the `{}` answering a keepalive sent
 * now ({@link expectServing} under `requirement`): every reply without `i` to a command sent
 * before the keepalive [SERIAL-ORDER-1], and every delivery of an offline burst that began
 * before it [OFFLINE-BURST-1], is among them.
 */
export async function framesUntilKeepalive(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  from: number,
): Promise<Frame[]> {
  const answer = await expectServing(ctx, requirement, conn);
  const frames = conn.frames;
  return frames.slice(from, frames.lastIndexOf(answer));
}

// ---------------------------------------------------------------------------------------
// HTTP (the router and REST)
// ---------------------------------------------------------------------------------------

/** The header naming the app of a REST request (REST-APP-1). */
export const APP_HEADER = "X-AVOSCloud-Application-Id";

/** The header carrying the app's master key (REST-AUTH-1). */
export const KEY_HEADER = "X-AVOSCloud-Master-Key";

/** The media type of an answer's `Content-Type`, lower case, without parameters. */
export function mediaType(answer: HttpAnswer): string {
  return (answer.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

/**
 * Checks under `requirement` that an HTTP answer is the error the spec gives: HTTP `status`
 * with the body `{"code": code, "error": "..."}` of the HTTP error schema (the router's and
 * REST's failures, REST-ROOMS-4, REST-APP-2); `what` names the request.
 */
export function expectHttpError(
  ctx: CaseContext,
  requirement: string,
  answer: HttpAnswer,
  status: number,
  code: number,
  what: string,
): void {
  const body = answer.json as Frame | undefined;
  ctx.expect(
    requirement,
    answer.status === status && body?.code === code && httpValidators.error?.(body).ok === true,
    `${what} was not answered with HTTP ${status} and code ${code}`,
    {
      expected: `HTTP ${status} {"code": ${code}, "error": "..."}`,
      actual: `HTTP ${answer.status} ${answer.text.slice(0, 300)}`,
    },
  );
}
