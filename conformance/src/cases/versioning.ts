/**
 * Cases of chapter 09, versioning: the subprotocol negotiation, tolerant receivers (unknown
 * fields), the frames v1 never sends (`ackreq`, `room/reject`), what the legacy client
 * `lean-cloud-chat@1.0.4` can rely on, and that a v1 server sends only what v1 defines.
 *
 * The legacy commands are the shapes pinned in `schemas/fixtures/legacy/c2s/`, with the
 * kit's own peers, app and signatures: a conformance run cannot use the fixtures' `alice`
 * of `app1`.
 * @module
 */
import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { CODE_NAMES, conversationId, type SuperPeerSuffix, validate } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { CaseContext } from "../context.js";
import { NotApplicable } from "../errors.js";
import {
  command,
  expectSuccess,
  type Frame,
  isDelivery,
  isPresence,
  keepaliveSentinel,
  nameOf,
  replyOf,
  requestAsIs,
} from "./support.js";

/** The subprotocol of v1 (VERSION-SUBPROTO-1). */
const V1 = "confab.v1";

/** Fails `req` unless every frame `conn` received is valid against the v1 s2c schemas. */
function expectAllV1(ctx: CaseContext, req: string, conn: Connection): void {
  for (const f of conn.frames) {
    const result = validate("s2c", f);
    ctx.expect(req, result.ok, `a frame is not a v1 frame: ${describeFrame(f)}`, {
      expected: "a frame of the v1 s2c schemas",
      actual: JSON.stringify(f).slice(0, 300),
    });
  }
}

/**
 * A short v1 exchange on `conn` (a session, a legacy and a modern command, a delivery, a
 * failure, a keepalive), each answer checked as v1 under `req`.
 */
async function speaksV1(ctx: CaseContext, req: string, conn: Connection): Promise<void> {
  const app = ctx.appId();
  const alice = ctx.peer("alice");
  const bob = ctx.peer("bob");
  const b = await ctx.open(bob);
  const opened = await ctx.request(
    req,
    conn,
    command(app, alice, "session/open", { sessionPeerIds: [bob] }),
  );
  expectSuccess(ctx, req, opened, "session/opened", "session/open");
  const ack = await ctx.request(
    req,
    conn,
    command(app, alice, "direct", { msg: "v1?", toPeerIds: [bob] }),
  );
  expectSuccess(ctx, req, ack, "ack", "direct");
  await ctx.waitFor(req, b.conn, isDelivery("v1?"), "the delivery to bob");
  conn.send(command(app, alice, "session/query", { sessionPeerIds: [bob] }));
  const legacy = await ctx.waitFor(
    req,
    conn,
    (f) => f.i === undefined && (f.cmd === "error" || nameOf(f) === "session/query-result"),
    "the answer to session/query without i",
  );
  expectSuccess(ctx, req, legacy, "session/query-result", "session/query without i");
  const failed = await requestAsIs(
    ctx,
    req,
    conn,
    command(app, alice, "nope", { i: 90 }),
    90,
    "cmd is unknown",
  );
  ctx.expectError(req, failed, ctx.expectedCode(command(app, alice, "nope", { i: 90 })));
  await keepaliveSentinel(ctx, req, conn);
  expectAllV1(ctx, req, conn);
}

/** What a server answered to a handshake: its HTTP status and the subprotocol it selected. */
interface Handshake {
  readonly status: number;
  readonly protocol: string | undefined;
}

/**
 * Sends a WebSocket handshake offering `protocols` and reads the answer, without the `ws`
 * client: that client fails a connection whose server selects none of the offered
 * subprotocols, which RFC 6455 and VERSION-SUBPROTO-3 allow the server to do.
 */
async function probeHandshake(
  ctx: CaseContext,
  req: string,
  protocols: readonly string[],
): Promise<Handshake> {
  const url = new URL(ctx.target.wsUrl);
  const secure = url.protocol === "wss:";
  const answer = await new Promise<Handshake | Error>((resolve) => {
    const r = (secure ? httpsRequest : httpRequest)({
      host: url.hostname.replace(/^\[(.*)\]$/, "$1"),
      port: url.port === "" ? (secure ? 443 : 80) : Number(url.port),
      path: `${url.pathname}${url.search}`,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        "Sec-WebSocket-Protocol": protocols.join(", "),
      },
      timeout: 3_000,
    });
    r.on("upgrade", (res, socket) => {
      socket.destroy();
      const selected = res.headers["sec-websocket-protocol"];
      resolve({
        status: res.statusCode ?? 101,
        protocol: Array.isArray(selected) ? selected.join(", ") : selected,
      });
    });
    r.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, protocol: undefined });
    });
    r.on("timeout", () => r.destroy(new Error("no answer within 3 s")));
    r.on("error", (err) => resolve(err));
    r.end();
  });
  if (answer instanceof Error)
    return ctx.fault(req, `the handshake offering ${protocols.join(", ")} failed`, {
      actual: answer.message,
    });
  ctx.note(
    `a handshake offering ${protocols.join(", ")}: HTTP ${answer.status}, subprotocol ${answer.protocol ?? "(none)"}`,
  );
  return answer;
}

/**
 * Connects offering `protocols` when the server, probed first, accepts without selecting
 * one: the offer goes in the header, so that the `ws` client accepts the answer.
 */
function connectUnselected(ctx: CaseContext, protocols: readonly string[]): Promise<Connection> {
  return ctx.connect({ ws: { headers: { "Sec-WebSocket-Protocol": protocols.join(", ") } } });
}

/** Fails VERSION-SUBPROTO-3 (a MAY: a warning) unless a refused handshake got HTTP 400. */
function expectRefusedWith400(
  ctx: CaseContext,
  answer: Handshake,
  protocols: readonly string[],
): void {
  ctx.expect(
    "VERSION-SUBPROTO-3",
    answer.status === 400,
    `a handshake offering only ${protocols.join(", ")} was refused with HTTP ${answer.status}`,
    {
      expected: "HTTP 400, or acceptance",
      actual: `HTTP ${answer.status}`,
    },
  );
}

/** `JSON.stringify` for messages, also of `undefined`. */
function show(value: unknown): string {
  return String(JSON.stringify(value)).slice(0, 300);
}

/**
 * A legacy command (no `i`) that awaits a reply: takes its one answer and fails
 * VERSION-LEGACY-1 if it is error 4114, or if the connection closes instead (SESSION-OPEN-4
 * closes with the code of a failed open).
 */
async function legacyRequest(ctx: CaseContext, conn: Connection, frame: Frame): Promise<Frame> {
  const reply = replyOf(nameOf(frame));
  conn.send(frame);
  const answer = await ctx.waitFor(
    "VERSION-LEGACY-1",
    conn,
    (f) => f.i === undefined && (nameOf(f) === reply || f.cmd === "error"),
    `the answer to the legacy ${nameOf(frame)} (${reply})`,
  );
  ctx.expect(
    "VERSION-LEGACY-1",
    !(answer.cmd === "error" && answer.code === 4114),
    `the legacy ${nameOf(frame)} was answered with error 4114`,
    {
      expected: reply,
      actual: JSON.stringify(answer).slice(0, 300),
    },
  );
  if (answer.cmd === "error")
    ctx.note(`the legacy ${nameOf(frame)} failed with ${String(answer.code)} (not graded here)`);
  return answer;
}

/**
 * A legacy command that awaits no reply: nothing answers it without `i`, so the same frame
 * is also sent with `i`, and an error 4114 answering that is a refusal of the legacy shape.
 */
async function legacySilent(
  ctx: CaseContext,
  conn: Connection,
  frame: Frame,
  withI: boolean,
): Promise<void> {
  conn.send(frame);
  if (!withI) return;
  const i = conn.nextSerial() + 5000;
  conn.send({ ...frame, i });
  // The reply to a later command with i, then a short pause: an error with i comes by then.
  await ctx.request(
    "VERSION-LEGACY-1",
    conn,
    command(String(frame.appId), String(frame.peerId), "session/query", { sessionPeerIds: [] }),
  );
  const all = [...conn.untaken(), ...(await conn.settle(150, 1_000))];
  const refused = all.find((f) => f.i === i && f.cmd === "error" && f.code === 4114);
  ctx.expect(
    "VERSION-LEGACY-1",
    refused === undefined,
    `the legacy ${nameOf(frame)} shape was refused with 4114`,
    {
      expected: "no error 4114",
      actual: show(refused),
    },
  );
}

/** Fails `req` if any frame received on `conns` has the name `name`. */
async function expectNeverSent(
  ctx: CaseContext,
  req: string,
  conns: readonly Connection[],
  name: string,
): Promise<void> {
  for (const conn of conns) await keepaliveSentinel(ctx, req, conn, "the {} sentinel");
  await Promise.all(conns.map((c) => c.settle(200, 1_000)));
  for (const conn of conns) {
    const sent = conn.frames.find((f) => nameOf(f) === name);
    ctx.expect(req, sent === undefined, `the server sent ${name} on ${conn.label}`, {
      expected: `no ${name} in protocol v1`,
      actual: show(sent),
    });
  }
}

/** The versioning cases. */
export const CASES: readonly ServerCase[] = [
  defineCase({
    name: "version/subprotocol/selects-confab-v1",
    requirements: ["VERSION-SUBPROTO-1"],
    async run(ctx) {
      // Alone, and after a name the server does not know.
      for (const protocols of [[V1], ["x-confab-kit-unknown", V1]]) {
        const answer = await probeHandshake(ctx, "VERSION-SUBPROTO-1", protocols);
        ctx.expect(
          "VERSION-SUBPROTO-1",
          answer.status === 101 && answer.protocol === V1,
          `offered ${protocols.join(", ")}, the server did not select ${V1}`,
          {
            expected: `HTTP 101, Sec-WebSocket-Protocol: ${V1}`,
            actual: `HTTP ${answer.status}, Sec-WebSocket-Protocol: ${answer.protocol ?? "(none)"}`,
          },
        );
        const conn = await ctx.connect({ protocols });
        ctx.expectEqual("VERSION-SUBPROTO-1", conn.ws.protocol, V1, "the selected subprotocol");
        const opened = await ctx.request(
          "VERSION-SUBPROTO-1",
          conn,
          command(ctx.appId(), ctx.peer(`p${protocols.length}`), "session/open"),
        );
        expectSuccess(ctx, "VERSION-SUBPROTO-1", opened, "session/opened", `session/open on ${V1}`);
      }
    },
  }),
  defineCase({
    name: "version/subprotocol/none-speaks-v1",
    requirements: ["VERSION-SUBPROTO-2"],
    async run(ctx) {
      const conn = await ctx.connect();
      ctx.expect(
        "VERSION-SUBPROTO-2",
        conn.ws.protocol === "",
        "a subprotocol was selected though none was offered",
        { actual: conn.ws.protocol },
      );
      await speaksV1(ctx, "VERSION-SUBPROTO-2", conn);
    },
  }),
  defineCase({
    name: "version/subprotocol/unsupported-offer",
    requirements: ["VERSION-SUBPROTO-3", "VERSION-NEXT-1"],
    async run(ctx) {
      const offer = ["x-confab-kit-unknown"];
      const answer = await probeHandshake(ctx, "VERSION-NEXT-1", offer);
      if (answer.status !== 101) {
        // Refusing is allowed, with HTTP 400 only (graded, a MAY: a warning otherwise).
        expectRefusedWith400(ctx, answer, offer);
        return;
      }
      if (answer.protocol !== undefined) {
        throw new NotApplicable(
          `the server selected ${answer.protocol}, a subprotocol it claims to support`,
        );
      }
      // Accepted without a subprotocol: it speaks v1 (VERSION-NEXT-1).
      await speaksV1(ctx, "VERSION-NEXT-1", await connectUnselected(ctx, offer));
    },
  }),
  defineCase({
    name: "version/next/unselected-version-speaks-v1",
    requirements: ["VERSION-NEXT-1"],
    async run(ctx) {
      // A later version offered alone: a server that does not select it speaks v1.
      const offer = ["confab.v2"];
      const answer = await probeHandshake(ctx, "VERSION-NEXT-1", offer);
      if (answer.status !== 101) {
        expectRefusedWith400(ctx, answer, offer);
        throw new NotApplicable(
          `the server refused a handshake offering only confab.v2 (HTTP ${answer.status}, VERSION-SUBPROTO-3)`,
        );
      }
      if (answer.protocol === "confab.v2")
        throw new NotApplicable(
          "the server selected confab.v2: it speaks that version on such a connection",
        );
      await speaksV1(ctx, "VERSION-NEXT-1", await connectUnselected(ctx, offer));
    },
  }),
  defineCase({
    name: "version/unknown-fields/ignored",
    requirements: ["VERSION-UNKNOWN-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const b = await ctx.open(bob);
      const conn = await ctx.connect();
      // Whatever they hold: nesting, wrong types for names other commands define, unpaired
      // surrogates (in values and names), and a string far over msg's limit.
      const extra = {
        future: { nested: [1, "x", null] },
        version: 2,
        note: "\udfff",
        "x-\ud800": 1,
        big: "x".repeat(20_000),
      };
      const steps: [Frame, string | undefined][] = [
        [command(app, alice, "session/open", { ...extra, roomId: "not:an:id" }), "session/opened"],
        [
          command(app, alice, "session/add", { ...extra, sessionPeerIds: [bob], msg: 5 }),
          "session/added",
        ],
        [
          command(app, alice, "session/query", {
            ...extra,
            sessionPeerIds: [bob],
            s: 5,
            t: "x",
            n: "a:b",
          }),
          "session/query-result",
        ],
        [
          command(app, alice, "direct", {
            ...extra,
            msg: "x",
            toPeerIds: [bob],
            sp: "yes",
            echo: 7,
            offline: "maybe",
            id: [],
          }),
          "ack",
        ],
        [
          command(app, alice, "ack", { ...extra, ids: ["x"], transient: "maybe", r: {} }),
          undefined,
        ],
        [
          command(app, alice, "session/remove", { ...extra, sessionPeerIds: [bob], ids: "none" }),
          "session/removed",
        ],
      ];
      if (ctx.target.features.groups === true) {
        steps.push([
          command(app, alice, "room/join", { ...extra, roomPeerIds: "junk", toPeerIds: 3 }),
          "room/joined",
        ]);
      }
      for (const [k, [frame, reply]] of steps.entries()) {
        const i = 10 + k;
        // As text: JSON.stringify escapes the unpaired surrogates as \udfff.
        conn.sendText(
          JSON.stringify({ ...frame, i }),
          `${nameOf(frame)} with fields it does not define`,
        );
        if (reply === undefined) continue;
        const answer = await ctx.waitFor(
          "VERSION-UNKNOWN-1",
          conn,
          (f) => f.i === i,
          `the answer to ${nameOf(frame)} with unknown fields`,
        );
        expectSuccess(
          ctx,
          "VERSION-UNKNOWN-1",
          answer,
          reply,
          `${nameOf(frame)} with unknown fields`,
        );
      }
      await ctx.waitFor(
        "VERSION-UNKNOWN-1",
        b.conn,
        isDelivery("x"),
        "the delivery of the direct with unknown fields",
      );
      // The ack (no reply even with i) must not have been refused either.
      await keepaliveSentinel(ctx, "VERSION-UNKNOWN-1", conn, "the {} sentinel");
      const errors = [...conn.untaken(), ...(await conn.settle(150, 1_000))].filter(
        (f) => f.cmd === "error",
      );
      ctx.expect(
        "VERSION-UNKNOWN-1",
        errors.length === 0,
        "a command with unknown fields was refused",
        { actual: errors.map((f) => JSON.stringify(f).slice(0, 200)).join(", ") },
      );
    },
  }),
  defineCase({
    name: "version/unknown-fields/ignored-in-signed-commands",
    requirements: ["VERSION-UNKNOWN-1"],
    async run(ctx) {
      const appId = ctx.appId("signed");
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const conn = await ctx.connect();
      // The signature covers the defined fields only; an unknown one changes nothing.
      const extra = { future: { sig: "not this one" }, x: "\ud800", nonce: 5 };
      const opened = await ctx.request(
        "VERSION-UNKNOWN-1",
        conn,
        command(appId, alice, "session/open", {
          ...extra,
          sessionPeerIds: [bob],
          ...ctx.sessionSignature({ peerId: alice, watchPeerIds: [bob] }),
        }),
      );
      expectSuccess(
        ctx,
        "VERSION-UNKNOWN-1",
        opened,
        "session/opened",
        "a signed session/open with unknown fields",
      );
      const carol = ctx.peer("carol");
      const added = await ctx.request(
        "VERSION-UNKNOWN-1",
        conn,
        command(appId, alice, "session/add", {
          ...extra,
          sessionPeerIds: [carol],
          ...ctx.sessionSignature({ peerId: alice, watchPeerIds: [carol] }),
        }),
      );
      expectSuccess(
        ctx,
        "VERSION-UNKNOWN-1",
        added,
        "session/added",
        "a signed session/add with unknown fields",
      );
      if (ctx.target.features.groups === true) {
        const joined = await ctx.request(
          "VERSION-UNKNOWN-1",
          conn,
          command(appId, alice, "room/join", {
            ...extra,
            ...ctx.groupSignature({ peerId: alice, action: "join", roomId: undefined }),
          }),
        );
        expectSuccess(
          ctx,
          "VERSION-UNKNOWN-1",
          joined,
          "room/joined",
          "a signed room/join with unknown fields",
        );
      }
    },
  }),
  defineCase({
    name: "version/ackreq/never-sent",
    requirements: ["VERSION-ACKREQ-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { watch: [bob] });
      const a2 = await ctx.open(alice);
      const b = await ctx.open(bob, { watch: [alice] });
      // Where a historical server would ask for acks: live, offline and transient
      // deliveries, with receipts requested, and the acks that answer them.
      await ctx.request(
        "ACK-REPLY-1",
        a.conn,
        command(app, alice, "direct", {
          msg: "live",
          toPeerIds: [bob],
          ...(ctx.target.features.receipts === true && { r: true }),
        }),
      );
      await ctx.request(
        "ACK-REPLY-1",
        a.conn,
        command(app, alice, "direct", { msg: "stored", toPeerIds: [carol] }),
      );
      a.conn.send(
        command(app, alice, "direct", { msg: "typing", toPeerIds: [bob], transient: true }),
      );
      const live = await ctx.waitFor(
        "VERSION-ACKREQ-1",
        b.conn,
        isDelivery("live"),
        "the live delivery to bob",
      );
      await ctx.waitFor(
        "VERSION-ACKREQ-1",
        b.conn,
        isDelivery("typing"),
        "the transient delivery to bob",
      );
      b.conn.send(command(app, bob, "ack", { ids: [live.id] }));
      const c = await ctx.open(carol);
      const stored = await ctx.waitFor(
        "VERSION-ACKREQ-1",
        c.conn,
        isDelivery("stored"),
        "the offline delivery to carol",
      );
      c.conn.send(command(app, carol, "ack", { ids: [stored.id] }));
      await expectNeverSent(ctx, "VERSION-ACKREQ-1", [a.conn, a2.conn, b.conn, c.conn], "ackreq");
    },
  }),
  defineCase({
    name: "version/room-reject/never-sent",
    requirements: ["VERSION-REJECT-1"],
    features: ["groups"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const a = await ctx.open(alice);
      const a2 = await ctx.open(alice);
      const conns = [a.conn, a2.conn];
      // Joins that are refused: v1 reports them with an error frame, never room/reject.
      const unknown = await ctx.request(
        "VERSION-REJECT-1",
        a.conn,
        command(app, alice, "room/join", {
          roomId: `none-${ctx.nonce()}`.replaceAll(/[^A-Za-z0-9_-]/g, ""),
        }),
      );
      ctx.expect(
        "VERSION-REJECT-1",
        unknown.cmd === "error",
        "a join of a group that does not exist was not refused with an error frame",
        { actual: describeFrame(unknown) },
      );
      const open = command(app, alice, "room/join", { transient: true, i: 77 });
      const refused = await requestAsIs(
        ctx,
        "VERSION-REJECT-1",
        a.conn,
        open,
        77,
        "an open group (transient: true) is not part of v1",
      );
      ctx.expect(
        "VERSION-REJECT-1",
        refused.cmd === "error",
        "a join with transient: true was not refused with an error frame",
        { actual: describeFrame(refused) },
      );
      if (ctx.target.apps.signed !== undefined) {
        const signedApp = ctx.appId("signed");
        const s = await ctx.open(alice, { app: "signed" });
        conns.push(s.conn);
        const bad = {
          ...ctx.groupSignature({ peerId: alice, action: "join", roomId: undefined }),
          s: "0".repeat(40),
        };
        const r = await ctx.request(
          "VERSION-REJECT-1",
          s.conn,
          command(signedApp, alice, "room/join", bad),
        );
        ctx.expect(
          "VERSION-REJECT-1",
          r.cmd === "error",
          "a join with a wrong signature was not refused with an error frame",
          { actual: describeFrame(r) },
        );
      }
      await expectNeverSent(ctx, "VERSION-REJECT-1", conns, "room/reject");
    },
  }),
  defineCase({
    name: "version/legacy/session-and-direct-commands",
    requirements: ["VERSION-LEGACY-1"],
    async run(ctx) {
      const app = ctx.appId();
      const [alice, bob, carol] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("carol")];
      const a = await ctx.connect();
      const b = await ctx.connect();
      // The fixtures' frames, no i, no subprotocol, on the app that does not sign.
      await legacyRequest(ctx, b, command(app, bob, "session/open", { sessionPeerIds: [] }));
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "session/open", { sessionPeerIds: [bob, carol] }),
      );
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "session/add", {
          sessionPeerIds: [ctx.peer("dave"), ctx.peer("erin")],
        }),
      );
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "session/query", {
          sessionPeerIds: [ctx.peer("frank"), ctx.peer("grace")],
        }),
      );
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "direct", { msg: "hello bob", toPeerIds: [bob] }),
      );
      const got = await ctx.waitFor(
        "VERSION-LEGACY-1",
        b,
        isDelivery("hello bob"),
        "the delivery to bob",
      );
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "direct", { msg: "hello all", toPeerIds: [bob, carol] }),
      );
      // The silent ones: what they did shows they were taken (a delivery, a presence).
      await legacySilent(
        ctx,
        a,
        command(app, alice, "direct", { msg: "typing", toPeerIds: [bob], transient: true }),
        false,
      );
      const typing = await ctx.waitFor(
        "VERSION-LEGACY-1",
        b,
        isDelivery("typing"),
        "the transient delivery to bob",
      );
      await legacySilent(ctx, b, command(app, bob, "ack", { ids: [got.id] }), true);
      await legacySilent(ctx, b, command(app, bob, "ack", { ids: [typing.id ?? "m102"] }), true);
      await keepaliveSentinel(ctx, "VERSION-LEGACY-1", a, "the {} answering the legacy keepalive");
      await legacySilent(ctx, b, command(app, bob, "session/close"), false);
      await ctx.waitFor(
        "VERSION-LEGACY-1",
        a,
        isPresence(bob, "off"),
        "bob's presence off after his legacy session/close",
      );
      await legacySilent(
        ctx,
        a,
        command(app, alice, "session/remove", { sessionPeerIds: [bob] }),
        false,
      );
      // Its {} comes after the remove took effect (SERIAL-ORDER-1): only then may bob return.
      await keepaliveSentinel(ctx, "VERSION-LEGACY-1", a, "the {} after the legacy session/remove");
      // alice no longer watches bob: bob back gives no presence, carol (still watched) does.
      await ctx.open(bob, { on: b });
      await ctx.open(carol);
      await ctx.waitFor(
        "VERSION-LEGACY-1",
        a,
        isPresence(carol, "on"),
        "carol's presence on (alice still watches her)",
      );
      await ctx.expectNone(
        "VERSION-LEGACY-1",
        a,
        isPresence(bob, "on"),
        "bob's presence after alice's legacy session/remove of him",
        200,
      );
      await legacySilent(ctx, a, command(app, alice, "session/close"), false);
      await keepaliveSentinel(ctx, "VERSION-LEGACY-1", a, "the {} after the legacy session/close");
    },
  }),
  defineCase({
    name: "version/legacy/group-commands",
    requirements: ["VERSION-LEGACY-1"],
    features: ["groups"],
    async run(ctx) {
      const app = ctx.appId();
      const [alice, bob, carol, dave] = [
        ctx.peer("alice"),
        ctx.peer("bob"),
        ctx.peer("carol"),
        ctx.peer("dave"),
      ];
      const a = await ctx.connect();
      await legacyRequest(ctx, a, command(app, alice, "session/open", { sessionPeerIds: [] }));
      const b = await ctx.open(bob);
      await ctx.open(carol);
      const d = await ctx.open(dave);
      const joined = await legacyRequest(ctx, a, command(app, alice, "room/join"));
      const roomId = joined.roomId;
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "room/invite", { roomId, roomPeerIds: [bob, carol] }),
      );
      await legacyRequest(ctx, a, command(app, alice, "direct", { msg: "hello team", roomId }));
      await ctx.waitFor(
        "VERSION-LEGACY-1",
        b.conn,
        isDelivery("hello team"),
        "the group message at bob",
      );
      await legacySilent(
        ctx,
        a,
        command(app, alice, "direct", { msg: "typing", roomId, transient: true }),
        false,
      );
      await ctx.waitFor(
        "VERSION-LEGACY-1",
        b.conn,
        isDelivery("typing"),
        "the transient group message at bob",
      );
      await legacyRequest(ctx, a, command(app, alice, "room/kick", { roomId, roomPeerIds: [bob] }));
      await legacyRequest(ctx, d.conn, command(app, dave, "room/join", { roomId }));
      await legacyRequest(ctx, d.conn, command(app, dave, "room/leave", { roomId }));
    },
  }),
  defineCase({
    name: "version/legacy/signed-commands",
    requirements: ["VERSION-LEGACY-1"],
    async run(ctx) {
      const app = ctx.appId("signed");
      const [alice, bob, carol] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("carol")];
      const a = await ctx.connect();
      const b = await ctx.connect();
      const watch = [carol, bob];
      await legacyRequest(
        ctx,
        b,
        command(app, bob, "session/open", {
          sessionPeerIds: [],
          ...ctx.sessionSignature({ peerId: bob }),
        }),
      );
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "session/open", {
          sessionPeerIds: watch,
          ...ctx.sessionSignature({ peerId: alice, watchPeerIds: watch }),
        }),
      );
      const more = [ctx.peer("dave"), ctx.peer("erin")];
      await legacyRequest(
        ctx,
        a,
        command(app, alice, "session/add", {
          sessionPeerIds: more,
          ...ctx.sessionSignature({ peerId: alice, watchPeerIds: more }),
        }),
      );
      if (ctx.target.features["super-peer"] === true) {
        const frank = ctx.peer("frank");
        const suffix: SuperPeerSuffix = "sp";
        await legacyRequest(
          ctx,
          await ctx.connect(),
          command(app, frank, "session/open", {
            sessionPeerIds: [],
            sp: true,
            ...ctx.sessionSignature({ peerId: frank, superPeer: suffix }),
          }),
        );
      }
      if (ctx.target.features.groups === true) {
        const joined = await legacyRequest(
          ctx,
          a,
          command(app, alice, "room/join", {
            ...ctx.groupSignature({ peerId: alice, action: "join", roomId: undefined }),
          }),
        );
        const roomId = typeof joined.roomId === "string" ? joined.roomId : undefined;
        const invited = [carol, bob];
        await legacyRequest(
          ctx,
          a,
          command(app, alice, "room/invite", {
            roomId,
            roomPeerIds: invited,
            ...ctx.groupSignature({
              peerId: alice,
              action: "invite",
              roomId,
              roomPeerIds: invited,
            }),
          }),
        );
        await legacyRequest(
          ctx,
          a,
          command(app, alice, "room/kick", {
            roomId,
            roomPeerIds: [bob],
            ...ctx.groupSignature({ peerId: alice, action: "kick", roomId, roomPeerIds: [bob] }),
          }),
        );
        // bob's unsolicited room/joined and room/kicked events come first: drained.
        await b.settle(200, 1_000);
        await legacyRequest(
          ctx,
          b,
          command(app, bob, "room/join", {
            roomId,
            ...ctx.groupSignature({ peerId: bob, action: "join", roomId }),
          }),
        );
      }
    },
  }),
  defineCase({
    name: "version/compat/only-v1-frames",
    requirements: ["VERSION-COMPAT-1"],
    async run(ctx) {
      const app = ctx.appId();
      const [alice, bob, carol] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("carol")];
      const a = await ctx.open(alice, { watch: [bob, carol] });
      const b = await ctx.open(bob, { watch: [alice] });
      // Replies, events and failures of many kinds, each checked against the v1 schemas
      // (the kit checks every frame; here also that each error code is one of Table 7).
      // A receipt needs exactly one recipient (RECEIPT-REQUEST-1).
      await ctx.request(
        "VERSION-COMPAT-1",
        a.conn,
        command(app, alice, "direct", {
          msg: "hi",
          toPeerIds: [bob],
          ...(ctx.target.features.receipts === true && { r: true }),
        }),
      );
      await ctx.request(
        "VERSION-COMPAT-1",
        a.conn,
        command(app, alice, "direct", { msg: "to both", toPeerIds: [bob, carol] }),
      );
      const got = await ctx.waitFor(
        "VERSION-COMPAT-1",
        b.conn,
        isDelivery("hi"),
        "the delivery to bob",
      );
      b.conn.send(command(app, bob, "ack", { ids: [got.id] }));
      if (ctx.target.features.receipts === true)
        await ctx.waitFor("VERSION-COMPAT-1", a.conn, (f) => f.cmd === "rcp", "bob's receipt");
      const c = await ctx.open(carol);
      await ctx.waitFor(
        "VERSION-COMPAT-1",
        c.conn,
        (f) => f.cmd === "direct" && f.offline === true,
        "carol's offline delivery",
      );
      for (const frame of [
        command(app, alice, "session/query", { sessionPeerIds: [bob, carol] }),
        command(app, alice, "session/add", { sessionPeerIds: [ctx.peer("dave")] }),
        command(app, alice, "session/remove", { sessionPeerIds: [ctx.peer("dave")] }),
        command(app, ctx.peer("nobody"), "session/query", { sessionPeerIds: [] }),
        command(app, alice, "direct", { msg: "me", toPeerIds: [alice] }),
      ]) {
        await ctx.request("VERSION-COMPAT-1", a.conn, frame);
      }
      for (const [i, frame] of [
        [61, command(app, alice, "direct", { msg: "x".repeat(5121), toPeerIds: [bob], i: 61 })],
        [62, command(app, alice, "session/query", { sessionPeerIds: ["a:b"], i: 62 })],
        [
          63,
          command(app, alice, "ack", {
            ids: Array.from({ length: 501 }, (_, k) => `m${k}`),
            i: 63,
          }),
        ],
        [64, { cmd: "session", op: "open", appId: app, peerId: "", i: 64 }],
      ] as const) {
        await requestAsIs(ctx, "VERSION-COMPAT-1", a.conn, frame, i, "an invalid command");
      }
      if (ctx.target.features.groups === true) {
        const joined = await ctx.request(
          "VERSION-COMPAT-1",
          a.conn,
          command(app, alice, "room/join"),
        );
        const roomId = joined.roomId;
        await ctx.request(
          "VERSION-COMPAT-1",
          a.conn,
          command(app, alice, "room/invite", { roomId, roomPeerIds: [bob] }),
        );
        await ctx.waitFor(
          "VERSION-COMPAT-1",
          b.conn,
          (f) => nameOf(f) === "room/joined",
          "bob's room/joined event",
        );
        await ctx.request(
          "VERSION-COMPAT-1",
          a.conn,
          command(app, alice, "direct", { msg: "team", roomId }),
        );
        await ctx.request("VERSION-COMPAT-1", b.conn, command(app, bob, "room/leave", { roomId }));
        await ctx.waitFor(
          "VERSION-COMPAT-1",
          a.conn,
          (f) => nameOf(f) === "room/members-left",
          "the members-left event",
        );
      }
      if (ctx.target.features.history === true) {
        await ctx.request(
          "VERSION-COMPAT-1",
          a.conn,
          command(app, alice, "logs", { cid: conversationId([alice, bob]), limit: 5 }),
        );
      }
      if (ctx.target.features["room-list"] === true)
        await ctx.request("VERSION-COMPAT-1", a.conn, command(app, alice, "room/list"));
      await ctx.request("VERSION-COMPAT-1", b.conn, command(app, bob, "session/close"));
      await ctx.waitFor("VERSION-COMPAT-1", a.conn, isPresence(bob, "off"), "bob's presence off");
      const conns = [a.conn, b.conn, c.conn];
      for (const conn of conns)
        await keepaliveSentinel(ctx, "VERSION-COMPAT-1", conn, "the {} sentinel");
      await Promise.all(conns.map((conn) => conn.settle(150, 1_000)));
      for (const conn of conns) {
        expectAllV1(ctx, "VERSION-COMPAT-1", conn);
        for (const f of conn.frames.filter((x) => x.cmd === "error")) {
          ctx.expect(
            "VERSION-COMPAT-1",
            CODE_NAMES.has(f.code as number),
            `error code ${String(f.code)} is not one of Table 7`,
            { actual: JSON.stringify(f).slice(0, 300) },
          );
        }
      }
    },
  }),
];
