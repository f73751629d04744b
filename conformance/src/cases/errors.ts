/**
 * Cases of chapter 08, errors: the codes and their forms (8.1), the `error` frame (8.2),
 * closing (8.3), which check wins (8.4, ERROR-ORDER-1 to ERROR-ORDER-12, the flood step
 * included) and the rule that a failed command changes nothing (ERROR-NOEFFECT-1).
 *
 * The expected code of an invalid frame, the unpaired-surrogate rule included
 * (LIMIT-TEXT-1), is `ctx.expectedCode`; the requests that expect a refusal, the keepalive
 * used as a sentinel and the check of an error frame followed by a close (ERROR-CLOSE-4),
 * which the limits cases use too, are in `support.ts`.
 *
 * Not covered here, and why: ERROR-INTERNAL-1 and ERROR-RESYNC-1 need storage that refuses
 * writes (spec 10.3, Table 12), which a kit cannot cause over the wire; ERROR-KICK-1 and
 * ERROR-APP-1 are MAYs whose trigger (an operator's kick, an app's policy) the protocol
 * gives a client no way to cause; ERROR-BUFFER-1 is a MAY whose bound the server neither
 * states nor announces (the reference server's: 4 MiB unread for 30 s, or 64 MiB), so a
 * quick case could not tell a server that never closes from one not yet at its bound.
 * @module
 */
import {
  CODE_NAMES,
  commandErrors,
  conversationId,
  ERRORS,
  MAX_ERROR_DETAIL,
  MAX_ROOM_MEMBERS,
  MAX_SERIAL,
} from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { CaseContext } from "../context.js";
import { NotApplicable } from "../errors.js";
import {
  askInvalid,
  codeName,
  createGroup,
  cycle,
  direct,
  disallowedOrigin,
  expectCode,
  expectErrorThenClose,
  expectReply,
  expectServing,
  type Frame,
  framesUntilKeepalive,
  isDelivery,
  isError,
  isKeepalive,
  peerCommand,
  peerIds,
  refuseInvalid,
  refuseValid,
  summary,
} from "./support.js";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/** A group `direct` of `from` to the group `roomId`. */
function groupDirect(ctx: CaseContext, from: string, roomId: string, msg: string): Frame {
  return peerCommand(ctx, from, { cmd: "direct", msg, roomId });
}

/** A group id that names no group: fresh, so that no case or run can have made it. */
function unknownGroup(ctx: CaseContext): string {
  return ctx.peer("no-such-group");
}

/**
 * Frames `conn` receives between now and the `{}` of a keepalive sent after `act` has run
 * and its awaited answers have come (`act` waits for those itself).
 */
async function framesDuring(
  ctx: CaseContext,
  requirement: string,
  conn: Connection,
  act: () => Promise<void> | void,
): Promise<Frame[]> {
  const from = conn.frames.length;
  await act();
  return framesUntilKeepalive(ctx, requirement, conn, from);
}

/** The error frames a list holds. */
const errorsIn = (frames: readonly Frame[]) => frames.filter(isError);

/** Whether `code` is one that protocol v1 never sends (ERROR-UNUSED-1). */
const isUnused = (code: unknown) =>
  code === 4111 || (typeof code === "number" && code >= 4300 && code <= 4399);

// ---------------------------------------------------------------------------------------
// Cases
// ---------------------------------------------------------------------------------------

/** A `msg` of 5121 bytes, one over LIMIT-MSG-2. */
const OVER_MSG = "x".repeat(5121);

/** The serials of the flood's frames start above this, clear of the kit's own. */
const SERIAL_BASE = 1_000_000;

/** The cases of chapter 08. */
export const CASES: readonly ServerCase[] = [
  // 8.1 Codes ----------------------------------------------------------------------------

  defineCase({
    name: "error/codes/frame-code-closes-only-after-failed-legacy-open",
    requirements: ["ERROR-CODES-1", "SESSION-OPEN-4", "ERROR-CLOSE-5"],
    async run(ctx) {
      const bad = { cmd: "session", op: "open", appId: ctx.appId(), peerId: "a:b" };
      const code = ctx.expectedCode(bad);
      // With i on a connection without a session: an error frame, and the connection
      // serves on [ERROR-CODES-1: the frame form; SESSION-OPEN-5].
      const c1 = await ctx.connect();
      await refuseInvalid(
        ctx,
        "ERROR-CODES-1",
        c1,
        bad,
        "a session/open with an invalid peerId, with i",
      );
      await expectServing(ctx, "ERROR-CODES-1", c1);
      await ctx.open(ctx.peer("alice"), { on: c1 });
      // Without i on a connection without a session: the error frame, then the close with
      // the same code [SESSION-OPEN-4], the frame sent once as the command's reply
      // [ERROR-CLOSE-5].
      const c2 = await ctx.connect();
      c2.sendInvalid(
        bad,
        "a session/open with an invalid peerId, without i, on a fresh connection",
      );
      await ctx.expectClose("SESSION-OPEN-4", c2, code);
      const errors = errorsIn(c2.frames);
      ctx.expect(
        "SESSION-OPEN-4",
        errors[0]?.code === code,
        "no error frame with the close's code came before the close",
        {
          expected: `error ${codeName(code)}, then close ${code}`,
          actual: c2.frames.map(summary).join(", ") || "nothing",
        },
      );
      ctx.expectEqual(
        "ERROR-CLOSE-5",
        c2.frames.length,
        1,
        "frames in answer to the failed legacy open (its error frame only)",
      );
      // Without i on a connection that holds a session: the frame only, and no close: the
      // exception of SESSION-OPEN-4 is the only one [ERROR-CODES-1].
      const { conn: c3 } = await ctx.open(ctx.peer("carol"));
      c3.sendInvalid(
        bad,
        "a session/open with an invalid peerId, without i, on a connection with a session",
      );
      const e3 = await ctx.waitFor(
        "ERROR-CODES-1",
        c3,
        isError,
        "the error frame of the failed legacy open",
      );
      expectCode(
        ctx,
        "ERROR-CODES-1",
        e3,
        code,
        "the failed legacy open on a connection with a session",
      );
      await expectServing(ctx, "ERROR-CODES-1", c3);
      // A command-level failure of another command, without i: an error frame, no close.
      c3.sendInvalid(
        direct(ctx, ctx.peer("carol"), ["a:b"], "m"),
        "a direct to an invalid peer id, without i",
      );
      const e4 = await ctx.waitFor(
        "ERROR-CODES-1",
        c3,
        isError,
        "the error frame of the invalid direct",
      );
      expectCode(
        ctx,
        "ERROR-CODES-1",
        e4,
        ctx.expectedCode(direct(ctx, "x", ["a:b"], "m")),
        "the invalid direct",
      );
      await expectServing(ctx, "ERROR-CODES-1", c3);
    },
  }),

  defineCase({
    name: "error/unused/no-session-conflict-nor-v2-codes",
    requirements: ["ERROR-UNUSED-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      // The historical 4111 SESSION_CONFLICT ended a session when the peer logged in
      // elsewhere; v1 lets a peer hold sessions on several connections [ERROR-UNUSED-1].
      const a1 = await ctx.open(alice);
      const a2 = await ctx.open(alice);
      await ctx.open(alice, { on: a1.conn }); // a re-open on the first connection
      const b = await ctx.open(bob);
      await expectReply(
        ctx,
        "ERROR-UNUSED-1",
        b.conn,
        direct(ctx, bob, [alice], "to both devices"),
        "ack",
      );
      for (const a of [a1, a2]) {
        await ctx.waitFor(
          "ERROR-UNUSED-1",
          a.conn,
          isDelivery("to both devices"),
          "the delivery to each of alice's sessions (no session conflict)",
        );
      }
      // The conversations of protocol v2, whose codes were 4300 to 4399, are unknown commands.
      for (const f of [
        peerCommand(ctx, bob, { cmd: "conv", op: "start", toPeerIds: [alice] }),
        peerCommand(ctx, bob, { cmd: "conversation", op: "add", cid: "c1" }),
        peerCommand(ctx, bob, { cmd: "room", op: "conv", roomId: "r1" }),
      ]) {
        const answer = await askInvalid(
          ctx,
          "ERROR-UNUSED-1",
          b.conn,
          f,
          `a ${describeFrame(f)} of protocol v2`,
        );
        ctx.expect(
          "ERROR-UNUSED-1",
          isError(answer) && !isUnused(answer.code),
          "an unknown v2 command was answered with a code v1 never sends",
          {
            expected: "an error frame with a code of Table 7",
            actual: summary(answer),
          },
        );
      }
      await expectServing(ctx, "ERROR-UNUSED-1", a1.conn);
      await expectServing(ctx, "ERROR-UNUSED-1", a2.conn);
      for (const c of [a1.conn, a2.conn, b.conn]) {
        const used = c.frames.filter((f) => isUnused(f.code)).map(summary);
        const close = c.closeInfo?.code;
        ctx.expect(
          "ERROR-UNUSED-1",
          used.length === 0 && !isUnused(close),
          "the server sent 4111 or a code from 4300 to 4399",
          {
            expected: "none",
            actual: [...used, ...(isUnused(close) ? [`close ${close}`] : [])].join(", "),
          },
        );
      }
    },
  }),

  // 8.2 The error frame ------------------------------------------------------------------

  defineCase({
    name: "error/frame/reason-is-the-code-name",
    requirements: ["ERROR-FRAME-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      let checked = 0;
      // Another requirement grades whether each provocation is refused; this one grades
      // the reason of every error frame that comes.
      const checkReason = (f: Frame, what: string) => {
        if (!isError(f)) return;
        checked++;
        const name = CODE_NAMES.get(Number(f.code));
        ctx.expect(
          "ERROR-FRAME-1",
          name !== undefined && f.reason === name,
          `${what}: the reason is not the name Table 7 gives the code`,
          {
            expected: `reason ${JSON.stringify(name ?? "(a code of Table 7)")} for code ${f.code}`,
            actual: `reason ${JSON.stringify(f.reason)}`,
          },
        );
      };
      const invalid: [Frame, string][] = [
        [direct(ctx, alice, ["a:b"], "m"), "a direct to an invalid peer id (4114)"],
        [direct(ctx, alice, [ctx.peer("bob")], OVER_MSG), "a direct over 5120 bytes (4109)"],
        [
          peerCommand(ctx, alice, {
            cmd: "session",
            op: "query",
            sessionPeerIds: peerIds(ctx, "q", 501),
          }),
          "a query of 501 peers (4120)",
        ],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "open", peerId: ":" }),
          "a session/open with an invalid peerId (4103)",
        ],
      ];
      for (const [f, what] of invalid)
        checkReason(await askInvalid(ctx, "ERROR-FRAME-1", conn, f, what), what);
      const valid: [Frame, string][] = [
        [
          peerCommand(ctx, ctx.peer("zed"), { cmd: "session", op: "query", sessionPeerIds: [] }),
          "a command for a peer without a session (4105)",
        ],
        [
          {
            ...peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [] }),
            appId: `${ctx.appId()}-other`,
          },
          "a command of another app (4100)",
        ],
        [direct(ctx, alice, [alice], "to myself"), "a direct to oneself only (4401)"],
      ];
      if (ctx.target.features.groups === true) {
        valid.push([
          peerCommand(ctx, alice, { cmd: "room", op: "leave", roomId: unknownGroup(ctx) }),
          "a room/leave of no group (4404)",
        ]);
      }
      for (const [f, what] of valid) checkReason(await ctx.request("ERROR-FRAME-1", conn, f), what);
      if (ctx.target.apps.signed !== undefined) {
        const s = await ctx.connect();
        const unsigned = peerCommand(
          ctx,
          ctx.peer("sig"),
          { cmd: "session", op: "open" },
          "signed",
        );
        checkReason(
          await ctx.request("ERROR-FRAME-1", s, unsigned),
          "an unsigned session/open of an app that enforces signatures (4102)",
        );
      }
      // The frames before closes carry the reason too.
      const raw = await ctx.connect();
      raw.sendText("{not json", "a text frame that is not JSON (close 4114)");
      await ctx.expectClose("ERROR-CLOSE-1", raw, ERRORS.UNPARSEABLE_RAW_MESSAGE.code);
      const rawError = raw.frames.find(isError);
      if (rawError !== undefined)
        checkReason(rawError, "the error frame before the close of a frame that is not JSON");
      // Every error frame the case received, whatever it answered.
      for (const c of [conn, raw])
        for (const f of errorsIn(c.frames)) checkReason(f, `the error ${summary(f)}`);
      if (checked === 0)
        throw new NotApplicable(
          "the server answered none of the provocations with an error frame, so no reason could be checked",
        );
    },
  }),

  defineCase({
    name: "error/frame/carries-the-valid-i",
    requirements: ["ERROR-FRAME-2", "SERIAL-INVALID-1"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      const zed = ctx.peer("zed");
      const query = peerCommand(ctx, zed, { cmd: "session", op: "query", sessionPeerIds: [] });
      // Valid serials, the bounds included, come back in the error frame [ERROR-FRAME-2].
      for (const i of [0, 1, 65_535, MAX_SERIAL]) {
        conn.send({ ...query, i });
        const answer = await ctx.waitFor(
          "ERROR-FRAME-2",
          conn,
          (f) => isError(f) && f.i === i,
          `the error frame of a command of a peer without a session, with i=${i}`,
        );
        ctx.expectError("ERROR-FRAME-2", answer, ERRORS.SESSION_REQUIRED.code, i);
      }
      const bad = direct(ctx, ctx.peer("alice"), ["a:b"], "m");
      conn.sendInvalid({ ...bad, i: MAX_SERIAL - 1 }, "a direct to an invalid peer id");
      const schemaError = await ctx.waitFor(
        "ERROR-FRAME-2",
        conn,
        (f) => f.i === MAX_SERIAL - 1,
        "the error frame of a schema failure, with its i",
      );
      ctx.expectError("ERROR-FRAME-2", schemaError, ctx.expectedCode(bad), MAX_SERIAL - 1);
      // An i that is not a serial gets 4114 without i [SERIAL-INVALID-1].
      for (const i of [-1, MAX_SERIAL + 1, 1.5, "7", null, true]) {
        const frame = { ...query, i };
        conn.sendInvalid(frame, `a command with the invalid i ${JSON.stringify(i)}`);
        const answer = await ctx.waitFor(
          "SERIAL-INVALID-1",
          conn,
          isError,
          `the error frame of a command with i=${JSON.stringify(i)}`,
        );
        expectCode(
          ctx,
          "SERIAL-INVALID-1",
          answer,
          ctx.expectedCode(frame),
          `a command with i=${JSON.stringify(i)}`,
        );
        ctx.expect(
          "SERIAL-INVALID-1",
          !("i" in answer),
          `the error frame of a command with the invalid i ${JSON.stringify(i)} carries an i`,
          {
            expected: "no i",
            actual: summary(answer),
          },
        );
      }
    },
  }),

  defineCase({
    name: "error/frame/carries-the-valid-peer-id",
    requirements: ["ERROR-FRAME-3"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const zed = ctx.peer("zed");
      // 64 code points of four bytes each: a valid peer id [LIMIT-ID-1].
      const wide = [...zed].length <= 64 ? zed + "😀".repeat(64 - [...zed].length) : zed;
      for (const peerId of [zed, wide]) {
        const answer = await ctx.request(
          "ERROR-FRAME-3",
          conn,
          peerCommand(ctx, peerId, { cmd: "session", op: "query", sessionPeerIds: [] }),
        );
        ctx.expect(
          "ERROR-FRAME-3",
          isError(answer) && answer.peerId === peerId,
          "the error frame does not carry the command's peerId",
          {
            expected: `an error frame with peerId ${peerId}`,
            actual: summary(answer),
          },
        );
      }
      for (const [f, what] of [
        [direct(ctx, alice, ["a:b"], "m"), "a direct to an invalid peer id"],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "open", sessionPeerIds: [5] }),
          "a re-open with an invalid watch list",
        ],
        [peerCommand(ctx, alice, { cmd: "ack", ids: [] }), "an ack without ids"],
      ] as [Frame, string][]) {
        const answer = await askInvalid(ctx, "ERROR-FRAME-3", conn, f, what);
        ctx.expect(
          "ERROR-FRAME-3",
          isError(answer) && answer.peerId === alice,
          `the error frame of ${what} does not carry the command's peerId`,
          {
            expected: `an error frame with peerId ${alice}`,
            actual: summary(answer),
          },
        );
      }
    },
  }),

  defineCase({
    name: "error/frame/detail-names-pointer-and-keyword",
    requirements: ["ERROR-FRAME-4"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const frames: [Frame, string][] = [
        [direct(ctx, alice, [bob, "a:b"], "m"), "a direct whose second recipient has a ':'"],
        [direct(ctx, alice, ["x".repeat(65)], "m"), "a direct to a peer id of 65 characters"],
        [
          peerCommand(ctx, alice, { cmd: "direct", msg: 1, toPeerIds: [bob] }),
          "a direct whose msg is a number",
        ],
        [peerCommand(ctx, alice, { cmd: "ack", ids: [] }), "an ack without ids"],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: "bob" }),
          "a session/add whose sessionPeerIds is a string",
        ],
        [direct(ctx, alice, [bob], "ab\ud800"), "a direct whose msg holds an unpaired surrogate"],
      ];
      for (const [frame, what] of frames) {
        const answer = await refuseInvalid(ctx, "ERROR-FRAME-4", conn, frame, what);
        const detail = typeof answer.detail === "string" ? answer.detail : "";
        const failed = commandErrors(frame).filter((f) => f.code === ERRORS.INVALID_FRAME.code);
        ctx.expect(
          "ERROR-FRAME-4",
          failed.some((f) => detail.includes(f.path) && detail.includes(f.rule)),
          `the detail of the error for ${what} does not name a failed field and its rule`,
          {
            expected: `a detail naming one of ${failed.map((f) => `${f.path} (${f.rule})`).join(", ")}`,
            actual: JSON.stringify(answer.detail),
          },
        );
      }
    },
  }),

  defineCase({
    name: "error/frame/detail-at-most-1024-code-units",
    requirements: ["ERROR-FRAME-5"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      // 500 ids, each with a control character and 65 code points: 1000 failed rules.
      const bad = Array.from(
        { length: 500 },
        (_, k) => `bad\u0001${"x".repeat(60)}${String(k).padStart(3, "0")}`,
      );
      const frames: [Frame, string][] = [
        [direct(ctx, alice, bad, "m"), "a direct to 500 invalid peer ids"],
        [
          peerCommand(ctx, alice, { cmd: "ack", ids: bad.map((id) => id.replace("\u0001", "é")) }),
          "an ack of 500 ids of 65 code points",
        ],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: bad }),
          "a query of 500 invalid peer ids",
        ],
      ];
      for (const [frame, what] of frames) {
        const answer = await refuseInvalid(ctx, "ERROR-FRAME-5", conn, frame, what);
        const detail = typeof answer.detail === "string" ? answer.detail : "";
        ctx.expect(
          "ERROR-FRAME-5",
          detail.length <= MAX_ERROR_DETAIL,
          `the detail of the error for ${what} is longer than 1024 UTF-16 code units`,
          {
            expected: `at most ${MAX_ERROR_DETAIL} code units`,
            actual: `${detail.length} code units`,
          },
        );
        // SHOULD: name the first few failures (and count the rest).
        await ctx.soft(() => {
          const named = commandErrors(frame).some((f) => f.path !== "" && detail.includes(f.path));
          ctx.expect(
            "ERROR-FRAME-5",
            named,
            `the detail of the error for ${what} names none of the failures`,
            {
              expected: "the first few failures named, the rest counted",
              actual: JSON.stringify(detail.slice(0, 200)),
            },
          );
        });
      }
      await expectServing(ctx, "ERROR-FRAME-5", conn);
    },
  }),

  // 8.3 Closing --------------------------------------------------------------------------

  defineCase({
    name: "error/close/non-json-text-after-error-frame",
    requirements: ["ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-3"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      conn.sendText('{"cmd":"direct",', "a text frame that is not JSON");
      await expectErrorThenClose(ctx, conn, ERRORS.UNPARSEABLE_RAW_MESSAGE.code, {
        noCommand: true,
      });
    },
  }),

  defineCase({
    name: "error/close/binary-message-after-error-frame",
    requirements: ["ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-3"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      conn.sendBinary(
        new TextEncoder().encode('{"cmd":"session","op":"query"}'),
        "a binary message",
      );
      await expectErrorThenClose(ctx, conn, ERRORS.UNPARSEABLE_RAW_MESSAGE.code, {
        noCommand: true,
      });
    },
  }),

  defineCase({
    name: "error/close/json-not-an-object-after-error-frame",
    requirements: ["ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-3"],
    async run(ctx) {
      for (const text of ['[{"cmd":"session"}]', '"text"', "42", "null"]) {
        const { conn } = await ctx.open(ctx.peer(`p${text.length}`));
        conn.sendText(text, "JSON that is not an object");
        await expectErrorThenClose(ctx, conn, ERRORS.UNPARSEABLE_RAW_MESSAGE.code, {
          noCommand: true,
        });
      }
    },
  }),

  defineCase({
    name: "error/close/frame-over-65536-bytes-after-error-frame",
    requirements: ["ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-3"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      const text = JSON.stringify({ pad: "x".repeat(65_537) });
      conn.sendText(text, `a text frame of ${text.length} bytes`);
      await expectErrorThenClose(ctx, conn, ERRORS.FRAME_TOO_LONG.code);
    },
  }),

  ...(["unknown", "disabled"] as const).map((role) =>
    defineCase({
      name: `error/close/${role}-app-first-command-after-error-frame`,
      requirements: ["ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-5", "ERROR-CLOSE-3"],
      async run(ctx) {
        const alice = ctx.peer("alice");
        const conn = await ctx.connect();
        const i = conn.nextSerial();
        conn.send({ cmd: "session", op: "open", appId: ctx.appId(role), peerId: alice, i });
        // The frame carries the command's i and peerId [ERROR-CLOSE-4] and is its only reply:
        // no session/opened, nothing else [ERROR-CLOSE-5].
        await expectErrorThenClose(ctx, conn, ERRORS.APP_NOT_AVAILABLE.code, { i, peerId: alice });
        ctx.expectEqual(
          "ERROR-CLOSE-5",
          conn.frames.length,
          1,
          "frames in answer to the refused first command (its error frame only)",
        );
      },
    }),
  ),

  defineCase({
    name: "error/close/disallowed-origin-after-error-frame",
    requirements: ["ERROR-CLOSE-1", "ERROR-CLOSE-4", "ERROR-CLOSE-5", "ERROR-CLOSE-3"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const conn = await ctx.connect({ origin: disallowedOrigin(ctx) });
      const i = conn.nextSerial();
      conn.send({ cmd: "session", op: "open", appId: ctx.appId("origin"), peerId: alice, i });
      await expectErrorThenClose(ctx, conn, ERRORS.INVALID_ORIGIN.code, { i, peerId: alice });
      ctx.expectEqual(
        "ERROR-CLOSE-5",
        conn.frames.length,
        1,
        "frames in answer to the first command of a disallowed origin (its error frame only)",
      );
    },
  }),

  defineCase({
    name: "error/survive/connection-and-sessions-outlive-error-frames",
    requirements: ["ERROR-SURVIVE-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const carol = ctx.peer("carol");
      const bob = ctx.peer("bob");
      const sentinel = ctx.peer("sentinel");
      const w = await ctx.open(ctx.peer("watcher"), { watch: [alice, carol, sentinel] });
      const { conn } = await ctx.open(alice);
      await ctx.open(carol, { on: conn });
      const b = await ctx.open(bob);
      const invalid: [Frame, string][] = [
        [direct(ctx, alice, ["a:b"], "m"), "a direct to an invalid peer id"],
        [direct(ctx, alice, [bob], OVER_MSG), "a direct over 5120 bytes"],
        [
          peerCommand(ctx, carol, {
            cmd: "session",
            op: "query",
            sessionPeerIds: peerIds(ctx, "q", 501),
          }),
          "a query of 501 peers",
        ],
        [
          peerCommand(ctx, alice, { cmd: "session", op: "open", sessionPeerIds: [5] }),
          "a failed re-open of alice",
        ],
        [peerCommand(ctx, carol, { cmd: "ack", ids: [""] }), "an ack of an empty id"],
      ];
      for (const [f, what] of invalid) await refuseInvalid(ctx, "ERROR-SURVIVE-1", conn, f, what);
      const valid: [Frame, number, string][] = [
        [
          peerCommand(ctx, ctx.peer("zed"), { cmd: "session", op: "query", sessionPeerIds: [] }),
          ERRORS.SESSION_REQUIRED.code,
          "a command of a peer without a session",
        ],
        [
          {
            ...peerCommand(ctx, alice, { cmd: "session", op: "query", sessionPeerIds: [] }),
            appId: `${ctx.appId()}-other`,
          },
          ERRORS.APP_MISMATCH.code,
          "a command of another app",
        ],
        [
          direct(ctx, carol, [carol], "to myself"),
          ERRORS.INVALID_MESSAGING_TARGET.code,
          "a direct to oneself only",
        ],
      ];
      if (ctx.target.features.groups === true) {
        valid.push([
          groupDirect(ctx, alice, unknownGroup(ctx), "m"),
          ERRORS.ROOM_NOT_FOUND.code,
          "a direct to no group",
        ]);
      }
      for (const [f, code, what] of valid)
        await refuseValid(ctx, "ERROR-SURVIVE-1", conn, f, code, what);
      // Both sessions still receive, and still answer.
      await expectReply(
        ctx,
        "ERROR-SURVIVE-1",
        b.conn,
        direct(ctx, bob, [alice, carol], "still here"),
        "ack",
      );
      for (const peer of [alice, carol]) {
        await ctx.waitFor(
          "ERROR-SURVIVE-1",
          conn,
          isDelivery("still here", peer),
          `the delivery to ${peer === alice ? "alice" : "carol"} after the errors`,
        );
        await expectReply(
          ctx,
          "ERROR-SURVIVE-1",
          conn,
          peerCommand(ctx, peer, { cmd: "session", op: "query", sessionPeerIds: [] }),
          "session",
          "query-result",
        );
      }
      // No watcher heard either session end: a sentinel peer's on and off come through first.
      const s = await ctx.open(sentinel);
      await s.conn.close();
      await ctx.waitFor(
        "ERROR-SURVIVE-1",
        w.conn,
        (f) =>
          f.cmd === "presence" &&
          f.status === "off" &&
          JSON.stringify(f.sessionPeerIds) === JSON.stringify([sentinel]),
        "the sentinel's presence off",
      );
      const ended = w.conn.frames.filter(
        (f) =>
          f.cmd === "presence" &&
          f.status === "off" &&
          Array.isArray(f.sessionPeerIds) &&
          (f.sessionPeerIds.includes(alice) || f.sessionPeerIds.includes(carol)),
      );
      ctx.expect(
        "ERROR-SURVIVE-1",
        ended.length === 0,
        "a session ended after an error frame: its watcher got presence off",
        {
          expected: "no presence off for alice or carol",
          actual: ended.map((f) => JSON.stringify(f)).join(", "),
        },
      );
    },
  }),

  // 8.4 Which check wins -----------------------------------------------------------------

  defineCase({
    name: "error/order/one-answer-for-many-failures",
    requirements: ["ERROR-ORDER-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const zed = ctx.peer("zed");
      const { conn } = await ctx.open(alice);
      const many = peerIds(ctx, "r", 501);
      // Each fails several steps; the first step's code answers, alone.
      const withI: [Frame, string][] = [
        [
          direct(ctx, zed, many, OVER_MSG),
          "a direct of a peer without a session, over 5120 bytes, to 501 peers (step 6: 4109)",
        ],
        [
          direct(ctx, zed, many, "m"),
          "a direct of a peer without a session to 501 peers (step 6: 4120)",
        ],
        [
          { ...direct(ctx, alice, ["a:b", ...many.slice(0, 500)], OVER_MSG), appId: "my app" },
          "a direct of a malformed app id, invalid peer, size and count (step 3: 4100)",
        ],
      ];
      for (const [frame, what] of withI) {
        const code = ctx.expectedCode(frame);
        let i = 0;
        const frames = await framesDuring(ctx, "ERROR-ORDER-1", conn, async () => {
          const answer = await askInvalid(ctx, "ERROR-ORDER-1", conn, frame, what);
          i = Number(answer.i);
          expectCode(ctx, "ERROR-ORDER-1", answer, code, what);
        });
        const answers = frames.filter((f) => f.i === i || isError(f));
        ctx.expectEqual(
          "ERROR-ORDER-1",
          answers.map(summary),
          [summary(answers[0] as Frame)],
          `frames answering ${what}`,
        );
      }
      // Without a valid i: the schema's 4114 (step 5) answers, once, before the size,
      // count and session steps.
      const noI = { ...direct(ctx, zed, many, OVER_MSG), i: 1.5 };
      const frames = await framesDuring(ctx, "ERROR-ORDER-1", conn, async () => {
        conn.sendInvalid(
          noI,
          "a direct with i 1.5, over 5120 bytes, to 501 peers, of a peer without a session",
        );
        await ctx.waitFor(
          "ERROR-ORDER-1",
          conn,
          isError,
          "the error frame of the direct with i 1.5",
        );
      });
      ctx.expectEqual(
        "ERROR-ORDER-1",
        errorsIn(frames).map((f) => f.code),
        [ctx.expectedCode(noI)],
        "the codes answering the direct with i 1.5",
      );
    },
  }),

  defineCase({
    name: "error/order/binary-then-size-then-json",
    requirements: ["ERROR-ORDER-3"],
    async run(ctx) {
      // Over 65536 bytes and not JSON: the size first, 4109.
      const big = await ctx.connect();
      big.sendText(`{"cmd":${"x".repeat(70_000)}`, "a text frame of 70 kB that is not JSON");
      await ctx.expectClose("ERROR-ORDER-3", big, ERRORS.FRAME_TOO_LONG.code);
      // Over 65536 bytes and JSON but not an object: the size first, 4109.
      const array = await ctx.connect();
      array.sendText(`[${"1,".repeat(40_000)}1]`, "a JSON array of 80 kB");
      await ctx.expectClose("ERROR-ORDER-3", array, ERRORS.FRAME_TOO_LONG.code);
      // Binary and over 65536 bytes: binary first, 4114.
      const bin = await ctx.connect();
      bin.sendBinary(new Uint8Array(70_000).fill(0x20), "a binary message of 70 kB");
      await ctx.expectClose("ERROR-ORDER-3", bin, ERRORS.UNPARSEABLE_RAW_MESSAGE.code);
    },
  }),

  defineCase({
    name: "error/order/keepalive-checks-nothing-else",
    requirements: ["ERROR-ORDER-4"],
    async run(ctx) {
      // As the first frame: no app check (4100), no peer check, no serial check.
      const conn = await ctx.connect();
      conn.sendInvalid(
        {
          appId: "not served",
          peerId: ":",
          i: -1,
          msg: OVER_MSG,
          s: 1,
          sessionPeerIds: peerIds(ctx, "k", 501),
        },
        "an object without cmd full of invalid members",
      );
      const answer = await ctx.waitFor(
        "ERROR-ORDER-4",
        conn,
        () => true,
        "the answer to an object without cmd",
      );
      ctx.expect(
        "ERROR-ORDER-4",
        isKeepalive(answer),
        "an object without cmd was not answered as a keepalive",
        { expected: "{}", actual: summary(answer) },
      );
      // It bound nothing: a session of the app opens on the connection afterwards.
      const alice = ctx.peer("alice");
      await ctx.open(alice, { on: conn });
      conn.sendInvalid(
        { appId: `${ctx.appId()}-other`, peerId: ctx.peer("zed"), i: 7 },
        "an object without cmd naming another app and a peer without a session",
      );
      const again = await ctx.waitFor(
        "ERROR-ORDER-4",
        conn,
        () => true,
        "the answer to a second object without cmd",
      );
      ctx.expect(
        "ERROR-ORDER-4",
        isKeepalive(again),
        "an object without cmd on a bound connection was not answered as a keepalive",
        { expected: "{}", actual: summary(again) },
      );
      await expectServing(ctx, "ERROR-ORDER-4", conn);
    },
  }),

  defineCase({
    name: "error/order/app-and-origin-before-the-command",
    requirements: ["ERROR-ORDER-5"],
    async run(ctx) {
      const code = ERRORS.APP_NOT_AVAILABLE.code;
      // An unknown command of a malformed app id, with an invalid peerId: 4100.
      const a = await ctx.connect();
      a.sendInvalid(
        { cmd: "nope", appId: "my app", peerId: ":", i: 1 },
        "an unknown command of a malformed app id",
      );
      await ctx.expectClose("ERROR-ORDER-5", a, code);
      // A session/open of a malformed app id with an empty peerId: 4100, not 4103.
      const b = await ctx.connect();
      b.sendInvalid(
        { cmd: "session", op: "open", appId: "my app", peerId: "", i: 1 },
        "a session/open of a malformed app id with an empty peerId",
      );
      await ctx.expectClose("ERROR-ORDER-5", b, code);
      if (ctx.target.apps.unknown !== undefined) {
        const c = await ctx.connect();
        c.sendInvalid(
          { cmd: "session", op: "open", appId: ctx.appId("unknown"), peerId: "", i: 1 },
          "a session/open of an app not served with an empty peerId",
        );
        await ctx.expectClose("ERROR-ORDER-5", c, code);
      }
      if (ctx.target.apps.origin !== undefined) {
        // The origin, checked at binding, before the schema: 4110 for a broken open.
        const o = await ctx.connect({ origin: disallowedOrigin(ctx) });
        o.sendInvalid(
          {
            cmd: "session",
            op: "open",
            appId: ctx.appId("origin"),
            peerId: "",
            sessionPeerIds: 7,
            i: 1,
          },
          "a broken session/open from a disallowed origin",
        );
        await ctx.expectClose("ERROR-ORDER-5", o, ERRORS.INVALID_ORIGIN.code);
        // The app before the origin.
        if (ctx.target.apps.unknown !== undefined) {
          const u = await ctx.connect({ origin: disallowedOrigin(ctx) });
          u.send({
            cmd: "session",
            op: "open",
            appId: ctx.appId("unknown"),
            peerId: ctx.peer("u"),
            i: 1,
          });
          await ctx.expectClose("ERROR-ORDER-5", u, code);
        }
      }
      // On a bound connection, another app id before a broken schema: error 4100.
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-5",
        conn,
        {
          cmd: "session",
          op: "query",
          appId: `${ctx.appId()}-other`,
          peerId: "a:b",
          sessionPeerIds: [5],
        },
        "a broken query naming another app",
        code,
      );
      await expectServing(ctx, "ERROR-ORDER-5", conn);
    },
  }),

  defineCase({
    name: "error/order/login-peer-before-the-schema",
    requirements: ["ERROR-ORDER-6"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      const open = (fields: Frame): Frame => ({
        cmd: "session",
        op: "open",
        appId: ctx.appId(),
        ...fields,
      });
      const broken = { sp: "yes", echo: 3, sessionPeerIds: [...peerIds(ctx, "w", 500), 7] };
      for (const peerId of [":", "", "x".repeat(65), 42, "a\u0000", "\ud800"]) {
        const frame = open({ peerId, ...broken });
        await refuseInvalid(
          ctx,
          "ERROR-ORDER-6",
          conn,
          frame,
          `a broken session/open whose peerId is ${JSON.stringify(peerId)}`,
        );
      }
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-6",
        conn,
        open(broken),
        "a broken session/open without peerId",
      );
      await expectServing(ctx, "ERROR-ORDER-6", conn);
    },
  }),

  defineCase({
    name: "error/order/schema-serial-strings-before-sizes",
    requirements: ["ERROR-ORDER-7"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const many = peerIds(ctx, "r", 500);
      const frames: [Frame, string][] = [
        [
          direct(ctx, alice, ["a:b", ...many], OVER_MSG),
          "a direct over 5120 bytes to 501 peers, one invalid",
        ],
        [
          direct(ctx, alice, [bob], `${OVER_MSG}\ud800`),
          "a direct over 5120 bytes with an unpaired surrogate",
        ],
        [
          direct(ctx, alice, [...many, "\udc00"], "m"),
          "a direct to 501 peers, one an unpaired surrogate",
        ],
        [
          direct(ctx, alice, [bob], OVER_MSG, { transient: "yes" }),
          "a direct over 5120 bytes with a transient that is not a boolean",
        ],
      ];
      for (const [frame, what] of frames)
        await refuseInvalid(ctx, "ERROR-ORDER-7", conn, frame, what);
      // An invalid i is checked at step 5 too: 4114, before the size of msg.
      const badSerial = { ...direct(ctx, alice, [bob], OVER_MSG), i: -5 };
      conn.sendInvalid(badSerial, "a direct over 5120 bytes with the invalid i -5");
      const answer = await ctx.waitFor(
        "ERROR-ORDER-7",
        conn,
        isError,
        "the error frame of the direct with i -5",
      );
      expectCode(
        ctx,
        "ERROR-ORDER-7",
        answer,
        ctx.expectedCode(badSerial),
        "a direct over 5120 bytes with the invalid i -5",
      );
    },
  }),

  defineCase({
    name: "error/order/sizes-before-the-session",
    requirements: ["ERROR-ORDER-8"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const zed = ctx.peer("zed");
      const { conn } = await ctx.open(alice);
      const many = peerIds(ctx, "r", 501);
      // The size of msg before the item counts.
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-8",
        conn,
        direct(ctx, alice, many, "é".repeat(2561)),
        "a direct of 5122 bytes to 501 peers",
      );
      // Both before the session of peerId (step 7).
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-8",
        conn,
        direct(ctx, zed, many, "m"),
        "a direct of a peer without a session to 501 peers",
      );
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-8",
        conn,
        direct(ctx, zed, [alice], OVER_MSG),
        "a direct of a peer without a session, over 5120 bytes",
      );
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-8",
        conn,
        peerCommand(ctx, zed, { cmd: "ack", ids: peerIds(ctx, "m", 501) }),
        "an ack of 501 ids of a peer without a session",
      );
    },
  }),

  defineCase({
    name: "error/order/session-before-the-signature",
    requirements: ["ERROR-ORDER-9"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const zed = ctx.peer("zed");
      const { conn } = await ctx.open(alice, { app: "signed" });
      // Unsigned, in an app that enforces signatures, for a peer without a session: 4105.
      await refuseValid(
        ctx,
        "ERROR-ORDER-9",
        conn,
        peerCommand(ctx, zed, { cmd: "session", op: "add", sessionPeerIds: [alice] }, "signed"),
        ERRORS.SESSION_REQUIRED.code,
        "an unsigned session/add of a peer without a session",
      );
      // And after the schema (step 5): a broken one gets 4114.
      await refuseInvalid(
        ctx,
        "ERROR-ORDER-9",
        conn,
        peerCommand(ctx, zed, { cmd: "session", op: "add", sessionPeerIds: [5] }, "signed"),
        "a broken session/add of a peer without a session",
      );
      // Signed correctly, the same add of alice's own session succeeds: the rule is real.
      const sig = ctx.sessionSignature({ peerId: alice, watchPeerIds: [zed] });
      await expectReply(
        ctx,
        "ERROR-ORDER-9",
        conn,
        peerCommand(
          ctx,
          alice,
          { cmd: "session", op: "add", sessionPeerIds: [zed], ...sig },
          "signed",
        ),
        "session",
        "added",
      );
    },
  }),

  defineCase({
    name: "error/order/signature-before-the-group-rules",
    requirements: ["ERROR-ORDER-10"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const roomId = unknownGroup(ctx);
      const { conn } = await ctx.open(alice, { app: "signed" });
      const invite = peerCommand(
        ctx,
        alice,
        { cmd: "room", op: "invite", roomId, roomPeerIds: [bob] },
        "signed",
      );
      await refuseValid(
        ctx,
        "ERROR-ORDER-10",
        conn,
        invite,
        ERRORS.SIGNATURE_FAILED.code,
        "an unsigned room/invite of no group",
      );
      const sig = ctx.groupSignature({
        peerId: alice,
        action: "invite",
        roomId,
        roomPeerIds: [bob],
      });
      await refuseValid(
        ctx,
        "ERROR-ORDER-10",
        conn,
        { ...invite, ...sig },
        ERRORS.ROOM_NOT_FOUND.code,
        "a signed room/invite of no group",
      );
    },
  }),

  defineCase({
    name: "error/order/watch-size-after-the-signature",
    requirements: ["ERROR-ORDER-11", "ERROR-ORDER-10"],
    async run(ctx) {
      const perSession = ctx.limit("watchPerSession");
      if (perSession > 20_000)
        throw new NotApplicable(
          `a watch set of ${perSession} peers is more than this case fills (20000)`,
        );
      const alice = ctx.peer("alice");
      const watch = peerIds(ctx, "w", perSession);
      const { conn } = await ctx.open(alice, { app: "signed", watch: watch.slice(0, 500) });
      for (let k = 500; k < perSession; k += 500) {
        const ids = watch.slice(k, k + 500);
        const sig = ctx.sessionSignature({ peerId: alice, watchPeerIds: ids });
        await expectReply(
          ctx,
          "WATCH-ADD-2",
          conn,
          peerCommand(
            ctx,
            alice,
            { cmd: "session", op: "add", sessionPeerIds: ids, ...sig },
            "signed",
          ),
          "session",
          "added",
        );
      }
      const extra = [ctx.peer("one-more")];
      // Over the watch limit and unsigned: the signature (step 8) answers first.
      await refuseValid(
        ctx,
        "ERROR-ORDER-10",
        conn,
        peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: extra }, "signed"),
        ERRORS.SIGNATURE_FAILED.code,
        "an unsigned session/add over the watch limit",
      );
      // Signed, the size of the watch set (step 9) answers.
      const sig = ctx.sessionSignature({ peerId: alice, watchPeerIds: extra });
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        conn,
        peerCommand(
          ctx,
          alice,
          { cmd: "session", op: "add", sessionPeerIds: extra, ...sig },
          "signed",
        ),
        ERRORS.LIMIT_EXCEEDED.code,
        "a signed session/add over the watch limit",
      );
    },
  }),

  defineCase({
    name: "error/order/group-rules-unknown-then-member-then-full",
    requirements: ["ERROR-ORDER-11"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const roomId = await createGroup(ctx, a.conn, alice);
      const none = unknownGroup(ctx);
      const dave = ctx.peer("dave");
      const invite = (from: string, room: string, ids: string[]) =>
        peerCommand(ctx, from, { cmd: "room", op: "invite", roomId: room, roomPeerIds: ids });
      // No group: 4404 before the membership of 4401.
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        b.conn,
        invite(bob, none, [dave]),
        ERRORS.ROOM_NOT_FOUND.code,
        "a room/invite of no group by a non-member",
      );
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        b.conn,
        groupDirect(ctx, bob, none, "m"),
        ERRORS.ROOM_NOT_FOUND.code,
        "a group direct to no group",
      );
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        b.conn,
        groupDirect(ctx, bob, roomId, "m"),
        ERRORS.INVALID_MESSAGING_TARGET.code,
        "a group direct by a non-member",
      );
      // A group the caller is not a member of: 4401.
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        b.conn,
        invite(bob, roomId, [dave]),
        ERRORS.INVALID_MESSAGING_TARGET.code,
        "a room/invite by a non-member",
      );
      // Fill the group: a full group, a non-member: 4401 before the 4403 of the member limit.
      const members = peerIds(ctx, "m", MAX_ROOM_MEMBERS - 1);
      await expectReply(
        ctx,
        "ROOM-INVITE-1",
        a.conn,
        invite(alice, roomId, members),
        "room",
        "invited",
      );
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        b.conn,
        invite(bob, roomId, [dave]),
        ERRORS.INVALID_MESSAGING_TARGET.code,
        "a room/invite into a full group by a non-member",
      );
      await refuseValid(
        ctx,
        "ERROR-ORDER-11",
        a.conn,
        invite(alice, roomId, [dave]),
        ERRORS.ROOM_FULL.code,
        "a room/invite into a full group by a member",
      );
    },
  }),

  defineCase({
    name: "error/order/schema-code-precedence",
    requirements: ["ERROR-ORDER-12"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const many = peerIds(ctx, "r", 501);
      const open = (fields: Frame): Frame => ({
        cmd: "session",
        op: "open",
        appId: ctx.appId(),
        ...fields,
      });
      const frames: [Frame, string][] = [
        [
          open({ appId: "my app", peerId: "a:b", sessionPeerIds: [7, ...many] }),
          "a session/open failing the rules of 4100, 4103, 4114 and 4120",
        ],
        [
          open({ peerId: "a:b", sessionPeerIds: [7, ...many] }),
          "a session/open failing the rules of 4103, 4114 and 4120",
        ],
        [
          open({ peerId: ctx.peer("carol"), sessionPeerIds: [7, ...many] }),
          "a session/open failing the rules of 4114 and 4120",
        ],
        [
          direct(ctx, alice, many, "😀".repeat(1281)),
          "a direct failing the rules of 4109 and 4120",
        ],
        [direct(ctx, alice, ["a:b", ...many], "m"), "a direct failing the rules of 4114 and 4120"],
        [
          direct(ctx, alice, ["a:b"], "😀".repeat(1281)),
          "a direct failing the rules of 4114 and 4109",
        ],
        [
          peerCommand(ctx, alice, { cmd: "ack", ids: ["", ...many] }),
          "an ack failing the rules of 4114 and 4120",
        ],
      ];
      for (const [frame, what] of frames)
        await refuseInvalid(ctx, "ERROR-ORDER-12", conn, frame, what);
      await expectServing(ctx, "ERROR-ORDER-12", conn);
    },
  }),

  // ERROR-ORDER-2: the flood step, before everything ---------------------------------------

  defineCase({
    name: "flood/rate/counts-every-message-before-reading-it",
    requirements: ["ERROR-ORDER-2", "ERROR-CLOSE-1", "ERROR-CLOSE-4"],
    timeoutMs: 20_000,
    async run(ctx) {
      const limits = ctx.limits();
      const rate = limits.framesPerSecond;
      const burst = limits.frameBurst;
      if (rate === undefined || burst === undefined) {
        throw new NotApplicable(
          "the server announces no frame rate limit (framesPerSecond, frameBurst): FLOOD-RATE-1 lets it have none",
        );
      }
      const total = burst + 2 * rate + 200;
      if (total > 30_000)
        throw new NotApplicable(
          `a burst of ${burst} frames and ${rate} a second take more than 30000 frames to exceed`,
        );
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      // Keepalives and commands that fail their schema: frames that a server which counts
      // only the commands it carries out, or counts after parsing, would not count alike.
      ctx.note(
        `sends ${total} frames at once, keepalives and unknown commands alternating (numbered by i)`,
      );
      for (let k = 1; k <= total && conn.isOpen; k++) {
        conn.ws.send(
          k % 2 === 0
            ? "{}"
            : JSON.stringify({
                cmd: "nope",
                appId: ctx.appId(),
                peerId: alice,
                i: SERIAL_BASE + k,
              }),
        );
        if (k % 500 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      const code = ERRORS.MESSAGE_SENT_QUOTA_EXCEEDED.code;
      await expectErrorThenClose(ctx, conn, code, {
        closeRequirement: "ERROR-ORDER-2",
        ms: 10_000,
      });
      // The frame over the limit is not read: nothing answers it after the 4116, and the
      // frames before it were each answered.
      const at = conn.frames.findIndex((f) => isError(f) && f.code === code);
      const after = conn.frames.slice(at + 1);
      ctx.expect(
        "ERROR-ORDER-2",
        after.length === 0,
        "the server answered frames after the one over the rate limit",
        {
          expected: "nothing after the error frame 4116",
          actual: after.slice(0, 5).map(summary).join(", "),
        },
      );
      // Replies to commands with i may come in any order (SERIAL-ORDER-2): compared as a set.
      const serials = conn.frames
        .slice(0, at)
        .filter((f) => isError(f) && typeof f.i === "number" && f.i > SERIAL_BASE)
        .map((f) => Number(f.i) - SERIAL_BASE)
        .sort((x, y) => x - y);
      ctx.expect(
        "ERROR-ORDER-2",
        serials.every((s, k) => s === 2 * k + 1),
        "the frames before the one over the limit were not each answered",
        {
          expected: "errors for the frames 1, 3, 5, … up to the one over the limit",
          actual: serials.slice(0, 10).join(", "),
        },
      );
    },
  }),

  // ERROR-NOEFFECT-1 ----------------------------------------------------------------------

  defineCase({
    name: "error/noeffect/refused-direct-stores-and-delivers-nothing",
    requirements: ["ERROR-NOEFFECT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { echo: true });
      const echo = await ctx.open(alice, { echo: true });
      const b = await ctx.open(bob);
      // Recipients live (bob) and offline (carol), one invalid: the direct fails whole.
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        direct(ctx, alice, [bob, carol, "a:b"], "refused"),
        "a direct to bob, carol and an invalid peer id",
      );
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        direct(ctx, alice, [bob, carol], OVER_MSG.replace("x", "refused")),
        "a direct to bob and carol over 5120 bytes",
      );
      // Sentinels, sent after: they arrive, the refused ones did not.
      await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        direct(ctx, alice, [bob, carol], "sentinel"),
        "ack",
      );
      await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b.conn,
        isDelivery("sentinel"),
        "the sentinel's delivery to bob",
      );
      await ctx.waitFor("ECHO-OTHER-2", echo.conn, isDelivery("sentinel"), "the sentinel's echo");
      const refused = (f: Frame) =>
        f.cmd === "direct" && typeof f.msg === "string" && f.msg.includes("refused");
      for (const [c, who] of [
        [b.conn, "bob"],
        [echo.conn, "alice's other session"],
      ] as const) {
        ctx.expect(
          "ERROR-NOEFFECT-1",
          !c.frames.some(refused),
          `a refused direct was delivered to ${who}`,
          {
            expected: "only the sentinel",
            actual: c.frames.filter(refused).map(summary).join(", "),
          },
        );
      }
      // carol's offline store holds the sentinel only.
      const c = await ctx.open(carol);
      await expectServing(ctx, "OFFLINE-OPEN-1", c.conn);
      const burst = c.conn.frames.filter((f) => f.cmd === "direct");
      ctx.expect(
        "OFFLINE-OPEN-1",
        burst.some((f) => f.msg === "sentinel"),
        "carol's offline store did not deliver the sentinel",
        { actual: burst.map(summary).join(", ") || "nothing" },
      );
      ctx.expect(
        "ERROR-NOEFFECT-1",
        !burst.some(refused),
        "a refused direct was stored for carol",
        {
          expected: "only the sentinel",
          actual: burst.filter(refused).map(summary).join(", "),
        },
      );
      // History holds the sentinel only.
      if (ctx.target.features.history === true) {
        const page = await ctx.request(
          "LOGS-SOCKET-1",
          a.conn,
          peerCommand(ctx, alice, { cmd: "logs", cid: conversationId([alice, bob, carol]) }),
        );
        const items = Array.isArray(page.logs) ? (page.logs as Frame[]) : [];
        ctx.expect(
          "ERROR-NOEFFECT-1",
          !items.some((x) => typeof x.data === "string" && x.data.includes("refused")),
          "a refused direct is in history",
          {
            expected: "only the sentinel",
            actual: items.map((x) => JSON.stringify(x.data).slice(0, 40)).join(", "),
          },
        );
      }
    },
  }),

  defineCase({
    name: "error/noeffect/refused-session-add-keeps-the-watch-set",
    requirements: ["ERROR-NOEFFECT-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const xavier = ctx.peer("xavier");
      const yann = ctx.peer("yann");
      const zoe = ctx.peer("zoe");
      const a = await ctx.open(alice, { watch: [zoe] });
      // Refused adds: an invalid item, 501 items, a number.
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "add", sessionPeerIds: [xavier, "a:b"] }),
        "a session/add of xavier and an invalid peer id",
      );
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        peerCommand(ctx, alice, {
          cmd: "session",
          op: "add",
          sessionPeerIds: cycle([yann, xavier], 501),
        }),
        "a session/add of 501 items",
      );
      // A refused re-open does not replace the watch set either.
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "session", op: "open", sessionPeerIds: [xavier, 5] }),
        "a re-open of alice with a broken watch list",
      );
      // xavier and yann come online, then zoe: alice hears of zoe only.
      await ctx.open(xavier);
      await ctx.open(yann);
      await ctx.open(zoe);
      await ctx.waitFor(
        "PRESENCE-ON-2",
        a.conn,
        (f) =>
          f.cmd === "presence" &&
          f.status === "on" &&
          JSON.stringify(f.sessionPeerIds) === JSON.stringify([zoe]),
        "the presence on of zoe, whom alice watches",
      );
      await ctx.expectNone(
        "ERROR-NOEFFECT-1",
        a.conn,
        (f) =>
          f.cmd === "presence" &&
          Array.isArray(f.sessionPeerIds) &&
          f.sessionPeerIds.some((p) => p === xavier || p === yann),
        "a presence frame about a peer only a refused command named",
        300,
      );
      const watched = a.conn.frames.filter(
        (f) =>
          f.cmd === "presence" &&
          Array.isArray(f.sessionPeerIds) &&
          f.sessionPeerIds.some((p) => p === xavier || p === yann),
      );
      ctx.expect(
        "ERROR-NOEFFECT-1",
        watched.length === 0,
        "a refused command changed the watch set",
        { expected: "no presence of xavier or yann", actual: watched.map(summary).join(", ") },
      );
    },
  }),

  defineCase({
    name: "error/noeffect/refused-membership-commands-change-nothing",
    requirements: ["ERROR-NOEFFECT-1"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      const c = await ctx.open(carol);
      const roomId = await createGroup(ctx, a.conn, alice);
      await expectReply(
        ctx,
        "ROOM-INVITE-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "room", op: "invite", roomId, roomPeerIds: [bob] }),
        "room",
        "invited",
      );
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "room", op: "invite", roomId, roomPeerIds: [carol, "a:b"] }),
        "a room/invite of carol and an invalid peer id",
      );
      // Refused kicks of bob leave him in: a schema failure, and one of the command's own
      // rules (a kick by carol, who is no member: 4401).
      await refuseInvalid(
        ctx,
        "ERROR-NOEFFECT-1",
        a.conn,
        peerCommand(ctx, alice, {
          cmd: "room",
          op: "kick",
          roomId,
          roomPeerIds: cycle([bob], 501),
        }),
        "a room/kick of bob in 501 items",
      );
      await refuseValid(
        ctx,
        "ERROR-NOEFFECT-1",
        c.conn,
        peerCommand(ctx, carol, { cmd: "room", op: "kick", roomId, roomPeerIds: [bob] }),
        ERRORS.INVALID_MESSAGING_TARGET.code,
        "a room/kick of bob by a non-member",
      );
      // A refused invite by a non-member adds nobody: carol invites herself.
      await refuseValid(
        ctx,
        "ERROR-NOEFFECT-1",
        c.conn,
        peerCommand(ctx, carol, { cmd: "room", op: "invite", roomId, roomPeerIds: [carol] }),
        ERRORS.INVALID_MESSAGING_TARGET.code,
        "a room/invite by a non-member",
      );
      // A group message reaches bob (still a member) and not carol (never added).
      await expectReply(
        ctx,
        "ACK-REPLY-1",
        a.conn,
        peerCommand(ctx, alice, { cmd: "direct", msg: "to the group", roomId }),
        "ack",
      );
      await ctx.waitFor(
        "ERROR-NOEFFECT-1",
        b.conn,
        (f) => f.cmd === "direct" && f.roomId === roomId && f.msg === "to the group",
        "the group message to bob, whom a refused kick named",
      );
      await ctx.expectNone(
        "ERROR-NOEFFECT-1",
        c.conn,
        (f) => f.roomId === roomId,
        "a frame of the group to carol, whom only a refused invite named",
        300,
      );
    },
  }),

  defineCase({
    name: "error/noeffect/verified-nonce-stays-used",
    requirements: ["ERROR-NOEFFECT-1"],
    features: ["groups"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice, { app: "signed" });
      const n = ctx.nonce();
      const none = unknownGroup(ctx);
      // Its signature verifies, then the command fails on its own rule (4404).
      const failing = peerCommand(
        ctx,
        alice,
        {
          cmd: "room",
          op: "join",
          roomId: none,
          ...ctx.groupSignature({ peerId: alice, action: "join", roomId: none, n }),
        },
        "signed",
      );
      await refuseValid(
        ctx,
        "ROOM-UNKNOWN-1",
        conn,
        failing,
        ERRORS.ROOM_NOT_FOUND.code,
        "a signed room/join of no group",
      );
      // The nonce stays used: a valid join that reuses it is a replay.
      const replay = peerCommand(
        ctx,
        alice,
        {
          cmd: "room",
          op: "join",
          ...ctx.groupSignature({ peerId: alice, action: "join", roomId: undefined, n }),
        },
        "signed",
      );
      await refuseValid(
        ctx,
        "ERROR-NOEFFECT-1",
        conn,
        replay,
        ERRORS.SIGNATURE_FAILED.code,
        "a room/join that reuses the nonce of a failed but verified command",
      );
      // With a fresh nonce the same join succeeds: the refusal was the nonce's.
      await createGroup(ctx, conn, alice, "signed");
    },
  }),
];
