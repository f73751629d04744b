/**
 * Cases of chapter 06, signatures: the HMAC-SHA1 algorithm and its exact comparison (6.1),
 * which commands an app that enforces signatures refuses unsigned and which it never asks
 * to be signed, and that an app that does not enforce them ignores `s`, `t` and `n` (6.2),
 * the signed strings of sessions, super peers and groups (6.3, 6.4), and the time window
 * and single-use nonces (6.5).
 *
 * The kit signs as the app's signing service does, with the signed app's master key (spec
 * 10, Table 11). It builds every signed string by hand here, from the command's fields and
 * the rules of the chapter, and computes the HMAC with `node:crypto`, checked against the
 * vectors of Tables 4 and 5 when the module loads: a case about a signed string must not
 * trust a library's idea of that string. A correctly signed command that the server refuses
 * fails SIG-ALG-1 (the server did not compute the signature the spec defines), so no case
 * passes by refusing everything.
 *
 * Every attempt that may fail is a `session/open` with `i` on a fresh connection, or a
 * command on a session that is already open: a failed open with `i` keeps its connection
 * (SESSION-OPEN-5), but a case about signatures should not depend on that.
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { CaseContext } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";
import { expectCode, expectSuccess, type Frame, requestInvalid } from "./support.js";

// ---- helpers ---------------------------------------------------------------------------

/** The signature fields of a command (a type, not an interface, so that it is a {@link Frame}). */
type Sig = {
  readonly s: string;
  readonly t: number;
  readonly n: string;
};

/** A super-peer suffix (SIG-SP-1, SIG-SP-2). */
type Suffix = "sp" | "su";

/** A group action (SIG-GROUP-1). */
type Action = "join" | "invite" | "kick";

/** The lowercase hex HMAC-SHA1 of the UTF-8 bytes of `text`, keyed with the UTF-8 bytes of `key` (SIG-ALG-1). */
function hmacSha1(key: string, text: string | Buffer): string {
  return createHmac("sha1", Buffer.from(key, "utf8"))
    .update(typeof text === "string" ? Buffer.from(text, "utf8") : text)
    .digest("hex");
}

/** The distinct ids, sorted by UTF-16 code units (JavaScript's default sort), joined with `:`. */
function idList(ids: readonly string[]): string {
  return [...new Set(ids)].sort().join(":");
}

/** The signed string of a `session/open` or `session/add` (SIG-SESSION-1), with a super-peer suffix. */
function sessionString(
  app: string,
  peer: string,
  watch: readonly string[],
  t: number,
  n: string,
  suffix?: Suffix,
): string {
  return `${app}:${peer}:${idList(watch)}:${t}:${n}${suffix === undefined ? "" : `:${suffix}`}`;
}

/** The signed string of a `room/join`, `room/invite` or `room/kick` (SIG-GROUP-1). */
function groupString(
  app: string,
  peer: string,
  roomId: string | undefined,
  peers: readonly string[],
  t: number,
  n: string,
  action: Action,
): string {
  return `${app}:${peer}:${roomId ?? ""}:${idList(peers)}:${t}:${n}:${action}`;
}

// Tables 4 and 5 of the spec, recomputed: a kit that signs wrongly would grade servers
// against its own mistake, so it refuses to run (a harness error, not a fault).
for (const [text, expected] of [
  [
    sessionString("app1", "alice", ["carol", "bob"], 1417334400, "n0nce"),
    "31f6a8f72209bcea2762f6e9344eb8c8f7c1ac9e",
  ],
  [
    sessionString("app1", "alice", [], 1417334400, "n0nce"),
    "e9ceb17f10c1fa3c348000863f7e6332aa2c897d",
  ],
  [
    sessionString("app1", "alice", ["carol", "bob"], 1417334400, "n0nce", "sp"),
    "61c0deb1f07becae78195d20ce9b0069c57fc088",
  ],
  [
    sessionString("app1", "alice", ["carol", "bob"], 1417334400, "n0nce", "su"),
    "21230caff57764f88df9150d8ddacf201a517ba9",
  ],
  [
    sessionString("app1", "alice", ["😀", "bob", "Ａ", "bob"], 1417334400, "n0nce"),
    "688408b8876fff219adc31f22c26cf111ede9aa5",
  ],
  [
    groupString("app1", "alice", "g1", ["carol", "bob"], 1417334400, "n0nce", "invite"),
    "6ca832cbc9b3d7e358b962d652526e2d57e8b45c",
  ],
  [
    groupString("app1", "alice", undefined, [], 1417334400, "n0nce", "join"),
    "5529070bf3eb8d624a3790296b697bed9c921d41",
  ],
  [
    groupString("app1", "alice", "g1", ["dave"], 1417334400, "n0nce", "kick"),
    "4785cc5580e2ddd90aa024a5394545ee6093f6d6",
  ],
] as const) {
  if (hmacSha1("masterkey", text) !== expected)
    throw new HarnessError(`the kit's signature of ${text} is not ${expected}`);
}

/** The signed app and its master key (not applicable without one). */
function signedApp(ctx: CaseContext): { app: string; key: string } {
  return { app: ctx.appId("signed"), key: ctx.masterKey };
}

/** Signs `text` with the signed app's key, for time `t` and nonce `n`. */
function signed(ctx: CaseContext, text: string, t: number, n: string): Sig {
  return { s: hmacSha1(ctx.masterKey, text), t, n };
}

/** A correct session signature (SIG-SESSION-1). */
function sessionSig(
  ctx: CaseContext,
  peer: string,
  watch: readonly string[],
  opts: { suffix?: Suffix; t?: number; n?: string } = {},
): Sig {
  const t = opts.t ?? ctx.nowSeconds();
  const n = opts.n ?? ctx.nonce();
  return signed(ctx, sessionString(ctx.appId("signed"), peer, watch, t, n, opts.suffix), t, n);
}

/** A correct group signature (SIG-GROUP-1). */
function groupSig(
  ctx: CaseContext,
  peer: string,
  action: Action,
  roomId: string | undefined,
  peers: readonly string[] = [],
  opts: { t?: number; n?: string } = {},
): Sig {
  const t = opts.t ?? ctx.nowSeconds();
  const n = opts.n ?? ctx.nonce();
  return signed(ctx, groupString(ctx.appId("signed"), peer, roomId, peers, t, n, action), t, n);
}

/** A `session/open` of the signed app. */
function openFrame(ctx: CaseContext, peer: string, fields: Frame = {}): Frame {
  return { cmd: "session", op: "open", appId: ctx.appId("signed"), peerId: peer, ...fields };
}

/** A command of the signed app on `peer`'s session. */
function command(
  ctx: CaseContext,
  peer: string,
  cmd: string,
  op: string | undefined,
  fields: Frame = {},
): Frame {
  return {
    cmd,
    ...(op !== undefined && { op }),
    appId: ctx.appId("signed"),
    peerId: peer,
    ...fields,
  };
}

/** A peer of the signed app with its open session. */
interface Peer {
  readonly id: string;
  readonly conn: Connection;
}

/**
 * Opens a correctly signed session of the signed app on a new connection. A refusal fails
 * SIG-ALG-1: the kit's signature is the one the spec defines.
 */
async function signedPeer(
  ctx: CaseContext,
  name: string,
  watch: readonly string[] = [],
  extra: Frame = {},
  suffix?: Suffix,
): Promise<Peer> {
  const id = ctx.peer(name);
  const conn = await ctx.connect();
  const frame = openFrame(ctx, id, {
    ...(watch.length > 0 && { sessionPeerIds: [...watch] }),
    ...extra,
    ...sessionSig(ctx, id, watch, suffix === undefined ? {} : { suffix }),
  });
  expectSuccess(
    ctx,
    "SIG-ALG-1",
    await ctx.request("SIG-ALG-1", conn, frame),
    "session/opened",
    `a correctly signed session/open of ${id}`,
  );
  return { id, conn };
}

/** Checks that `reply` refuses the signature of a command described by `what` with 4102. */
function refused(ctx: CaseContext, requirement: string, reply: Frame, what: string): void {
  expectCode(ctx, requirement, reply, 4102, what);
}

/** Sends a `session/open` on a fresh connection and returns its answer. */
async function tryOpen(ctx: CaseContext, requirement: string, frame: Frame): Promise<Frame> {
  return ctx.request(requirement, await ctx.connect(), frame);
}

/** The partial signatures of SIG-ENFORCE-1: none, and each incomplete subset of a valid one. */
function partials(sig: Sig): [string, Frame][] {
  return [
    ["no s, t or n", {}],
    ["s only", { s: sig.s }],
    ["s and t", { s: sig.s, t: sig.t }],
    ["t and n", { t: sig.t, n: sig.n }],
    ["s and n", { s: sig.s, n: sig.n }],
  ];
}

/** Creates a group of the signed app with a correct signature and returns its id. */
async function signedGroup(ctx: CaseContext, owner: Peer): Promise<string> {
  const reply = await ctx.request(
    "SIG-ALG-1",
    owner.conn,
    command(ctx, owner.id, "room", "join", groupSig(ctx, owner.id, "join", undefined)),
  );
  expectSuccess(
    ctx,
    "SIG-ALG-1",
    reply,
    "room/joined",
    "a correctly signed room/join that creates a group",
  );
  return reply.roomId as string;
}

// ---- the cases -------------------------------------------------------------------------

/** The signatures cases. */
export const CASES: readonly ServerCase[] = [
  // ---- 6.1 algorithm ----

  defineCase({
    name: "sig/alg/hmac-sha1-of-utf8",
    requirements: ["SIG-ALG-1"],
    async run(ctx) {
      const { app, key } = signedApp(ctx);
      // A peer id and watch list outside ASCII: the string is hashed as UTF-8 bytes.
      const alice = ctx.peer("é中😀");
      const watch = [ctx.peer("bob"), ctx.peer("ü")];
      const others: [string, (text: string) => string][] = [
        ["HMAC-SHA256", (x) => createHmac("sha256", key).update(x, "utf8").digest("hex")],
        ["HMAC-MD5", (x) => createHmac("md5", key).update(x, "utf8").digest("hex")],
        ["SHA-1 without the key", (x) => createHash("sha1").update(x, "utf8").digest("hex")],
        [
          "SHA-1 of the key and the string",
          (x) =>
            createHash("sha1")
              .update(key + x, "utf8")
              .digest("hex"),
        ],
        ["HMAC-SHA1 of the UTF-16 bytes", (x) => hmacSha1(key, Buffer.from(x, "utf16le"))],
        ["HMAC-SHA1 of the Latin-1 bytes", (x) => hmacSha1(key, Buffer.from(x, "latin1"))],
      ];
      // [SIG-ALG-1] other algorithms and encodings of the same string do not verify...
      for (const [what, digest] of others) {
        const t = ctx.nowSeconds();
        const n = ctx.nonce();
        const s = digest(sessionString(app, alice, watch, t, n));
        const reply = await tryOpen(
          ctx,
          "SIG-ALG-1",
          openFrame(ctx, alice, { sessionPeerIds: watch, s, t, n }),
        );
        refused(ctx, "SIG-ALG-1", reply, `a session/open signed with ${what}`);
      }
      // ...HMAC-SHA1 of the UTF-8 bytes does, for every signed command.
      const conn = await ctx.connect();
      const open = openFrame(ctx, alice, {
        sessionPeerIds: watch,
        ...sessionSig(ctx, alice, watch),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", conn, open),
        "session/opened",
        "a session/open signed with HMAC-SHA1",
      );
      const more = [ctx.peer("carol-ñ")];
      const add = command(ctx, alice, "session", "add", {
        sessionPeerIds: more,
        ...sessionSig(ctx, alice, more),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", conn, add),
        "session/added",
        "a session/add signed with HMAC-SHA1",
      );
      if (ctx.target.features.groups !== true) {
        ctx.note("groups not in force: the group commands not signed");
        return;
      }
      const create = command(ctx, alice, "room", "join", groupSig(ctx, alice, "join", undefined));
      const joined = await ctx.request("SIG-ALG-1", conn, create);
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        joined,
        "room/joined",
        "a room/join (create) signed with HMAC-SHA1",
      );
      const roomId = joined.roomId as string;
      const invite = command(ctx, alice, "room", "invite", {
        roomId,
        roomPeerIds: more,
        ...groupSig(ctx, alice, "invite", roomId, more),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", conn, invite),
        "room/invited",
        "a room/invite signed with HMAC-SHA1",
      );
      const kick = command(ctx, alice, "room", "kick", {
        roomId,
        roomPeerIds: more,
        ...groupSig(ctx, alice, "kick", roomId, more),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", conn, kick),
        "room/kicked",
        "a room/kick signed with HMAC-SHA1",
      );
      const bob = await signedPeer(ctx, "bob");
      const join = command(ctx, bob.id, "room", "join", {
        roomId,
        ...groupSig(ctx, bob.id, "join", roomId),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", bob.conn, join),
        "room/joined",
        "a room/join of an existing group signed with HMAC-SHA1",
      );
    },
  }),

  defineCase({
    name: "sig/alg/exact-lowercase-hex",
    requirements: ["SIG-ALG-2"],
    async run(ctx) {
      signedApp(ctx);
      const alice = await signedPeer(ctx, "alice");
      const watch = [ctx.peer("bob")];
      const flip = (ch: string) => (ch === "0" ? "1" : "0");
      const variants: [string, (s: string) => string][] = [
        ["in upper case", (s) => s.toUpperCase()],
        ["with a leading space", (s) => ` ${s}`],
        ["with a trailing space", (s) => `${s} `],
        ["cut to 39 digits", (s) => s.slice(0, 39)],
        ["with a 41st digit", (s) => `${s}0`],
        ["with 0x before it", (s) => `0x${s}`],
        ["in base64", (s) => Buffer.from(s, "hex").toString("base64")],
        ["with its first digit changed", (s) => `${flip(s.slice(0, 1))}${s.slice(1)}`],
        ["with its last digit changed", (s) => `${s.slice(0, 39)}${flip(s.slice(39))}`],
      ];
      // [SIG-ALG-2] only s exactly equal to the expected 40 lowercase digits is accepted.
      for (const [what, change] of variants) {
        const sig = sessionSig(ctx, alice.id, watch);
        const s = change(sig.s);
        if (s === sig.s) continue; // upper case of a signature without letters: no variant
        const reply = await ctx.request(
          "SIG-ALG-2",
          alice.conn,
          command(ctx, alice.id, "session", "add", { sessionPeerIds: watch, ...sig, s }),
        );
        refused(ctx, "SIG-ALG-2", reply, `a session/add whose signature is the right one ${what}`);
      }
      const exact = command(ctx, alice.id, "session", "add", {
        sessionPeerIds: watch,
        ...sessionSig(ctx, alice.id, watch),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", alice.conn, exact),
        "session/added",
        "a session/add with the exact signature",
      );
    },
  }),

  // ---- 6.2 enforcement ----

  defineCase({
    name: "sig/enforce/session-commands-unsigned",
    requirements: ["SIG-ENFORCE-1"],
    async run(ctx) {
      signedApp(ctx);
      const alice = ctx.peer("alice");
      const watch = [ctx.peer("bob")];
      // [SIG-ENFORCE-1] a session/open without a valid signature: 4102, for no signature
      // and for every incomplete one.
      for (const [what, fields] of partials(sessionSig(ctx, alice, watch))) {
        const reply = await tryOpen(
          ctx,
          "SIG-ENFORCE-1",
          openFrame(ctx, alice, { sessionPeerIds: watch, ...fields }),
        );
        refused(ctx, "SIG-ENFORCE-1", reply, `a session/open with ${what}`);
      }
      const peer = await signedPeer(ctx, "alice", watch);
      const more = [ctx.peer("carol")];
      for (const [what, fields] of partials(sessionSig(ctx, alice, more))) {
        const reply = await ctx.request(
          "SIG-ENFORCE-1",
          peer.conn,
          command(ctx, alice, "session", "add", { sessionPeerIds: more, ...fields }),
        );
        refused(ctx, "SIG-ENFORCE-1", reply, `a session/add with ${what}`);
      }
      // The positive control: signed, the same add is accepted.
      const add = command(ctx, alice, "session", "add", {
        sessionPeerIds: more,
        ...sessionSig(ctx, alice, more),
      });
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", peer.conn, add),
        "session/added",
        "a signed session/add",
      );
    },
  }),

  defineCase({
    name: "sig/enforce/group-commands-unsigned",
    requirements: ["SIG-ENFORCE-1"],
    features: ["groups"],
    async run(ctx) {
      signedApp(ctx);
      const alice = await signedPeer(ctx, "alice");
      const bob = await signedPeer(ctx, "bob");
      const carol = [ctx.peer("carol")];
      // [SIG-ENFORCE-1] room/join (creating and joining), room/invite and room/kick without
      // a valid signature: 4102; each then signed is accepted, so the refusals are about
      // the signature.
      const steps: [
        Peer,
        "join" | "invite" | "kick",
        (roomId: string | undefined) => Frame,
        (roomId: string | undefined) => Sig,
        string,
      ][] = [
        [
          alice,
          "join",
          () => ({}),
          () => groupSig(ctx, alice.id, "join", undefined),
          "room/joined",
        ],
        [
          bob,
          "join",
          (roomId) => ({ roomId }),
          (roomId) => groupSig(ctx, bob.id, "join", roomId),
          "room/joined",
        ],
        [
          alice,
          "invite",
          (roomId) => ({ roomId, roomPeerIds: carol }),
          (roomId) => groupSig(ctx, alice.id, "invite", roomId, carol),
          "room/invited",
        ],
        [
          alice,
          "kick",
          (roomId) => ({ roomId, roomPeerIds: carol }),
          (roomId) => groupSig(ctx, alice.id, "kick", roomId, carol),
          "room/kicked",
        ],
      ];
      let roomId: string | undefined;
      for (const [peer, op, fields, sig, reply] of steps) {
        const what = op === "join" && roomId === undefined ? "room/join (create)" : `room/${op}`;
        for (const [how, partial] of partials(sig(roomId))) {
          const answer = await ctx.request(
            "SIG-ENFORCE-1",
            peer.conn,
            command(ctx, peer.id, "room", op, { ...fields(roomId), ...partial }),
          );
          refused(ctx, "SIG-ENFORCE-1", answer, `a ${what} with ${how}`);
        }
        const ok = await ctx.request(
          "SIG-ALG-1",
          peer.conn,
          command(ctx, peer.id, "room", op, { ...fields(roomId), ...sig(roomId) }),
        );
        expectSuccess(ctx, "SIG-ALG-1", ok, reply, `a signed ${what}`);
        roomId ??= ok.roomId as string;
      }
    },
  }),

  defineCase({
    name: "sig/enforce/unsigned-commands-allowed",
    requirements: ["SIG-ENFORCE-2"],
    async run(ctx) {
      signedApp(ctx);
      const bob = await signedPeer(ctx, "bob");
      const alice = await signedPeer(ctx, "alice", [bob.id]);
      const receipts = ctx.target.features.receipts === true;
      const ok = async (peer: Peer, frame: Frame, name: string) =>
        expectSuccess(
          ctx,
          "SIG-ENFORCE-2",
          await ctx.request("SIG-ENFORCE-2", peer.conn, frame),
          name,
          `an unsigned ${describeFrame(frame)}`,
        );
      // [SIG-ENFORCE-2] none of these is signed, and each succeeds. The direct goes to a
      // watched peer, as DIRECT-PERM-2 asks in an app that enforces signatures.
      const send = command(ctx, alice.id, "direct", undefined, {
        msg: "unsigned",
        toPeerIds: [bob.id],
        ...(receipts && { r: true }),
      });
      const ack = await ctx.request("SIG-ENFORCE-2", alice.conn, send);
      expectSuccess(ctx, "SIG-ENFORCE-2", ack, "ack", "an unsigned direct");
      const delivery = await ctx.waitFor(
        "DIRECT-DELIVER-1",
        bob.conn,
        (f) => f.cmd === "direct" && f.id === ack.uid,
        "the delivery of the unsigned direct",
      );
      // The client ack: no success reply (SERIAL-ACK-1), but an error with its i if it
      // failed (SERIAL-ACK-3); the query after it is the sentinel, the receipt the proof.
      const ackI = bob.conn.nextSerial();
      bob.conn.send(command(ctx, bob.id, "ack", undefined, { ids: [delivery.id], i: ackI }));
      await ok(
        bob,
        command(ctx, bob.id, "session", "query", { sessionPeerIds: [alice.id] }),
        "session/query-result",
      );
      await ctx.expectNone(
        "SIG-ENFORCE-2",
        bob.conn,
        (f) => f.i === ackI,
        "an answer to the unsigned client ack",
        0,
      );
      if (receipts)
        await ctx.waitFor(
          "SIG-ENFORCE-2",
          alice.conn,
          (f) => f.cmd === "rcp" && f.id === ack.uid,
          "the receipt of the unsigned client ack",
        );
      if (ctx.target.features.history === true) {
        const cid = createHash("md5")
          .update(idList([alice.id, bob.id]), "utf8")
          .digest("hex");
        await ok(alice, command(ctx, alice.id, "logs", undefined, { cid }), "logs/result");
      }
      await ok(
        alice,
        command(ctx, alice.id, "session", "query", { sessionPeerIds: [bob.id] }),
        "session/query-result",
      );
      await ok(
        alice,
        command(ctx, alice.id, "session", "remove", { sessionPeerIds: [bob.id] }),
        "session/removed",
      );
      if (ctx.target.features.groups === true) {
        const roomId = await signedGroup(ctx, alice);
        await ok(alice, command(ctx, alice.id, "room", "leave", { roomId }), "room/left");
      } else ctx.note("groups not in force: room/leave not checked");
      await ok(alice, command(ctx, alice.id, "session", "close"), "session/closed");
    },
  }),

  defineCase({
    name: "sig/enforce/ignored-when-not-enforced",
    requirements: ["SIG-ENFORCE-3"],
    async run(ctx) {
      const t = ctx.nowSeconds();
      // Fields that are wrong, malformed, of the wrong type, and repeated: an app that does
      // not enforce signatures neither checks them against the schema nor verifies them.
      const junk: [string, Frame][] = [
        ["a wrong signature", { s: "deadbeef", t, n: "n0nce" }],
        ["the same nonce again", { s: "deadbeef", t, n: "n0nce" }],
        ["s a number, t a string, n with a colon", { s: 5, t: "soon", n: "a:b" }],
        ["empty s and n, negative t", { s: "", t: -1, n: "" }],
        ["s null, t a fraction, n of 100 characters", { s: null, t: 1.5, n: "x".repeat(100) }],
        ["s an unpaired surrogate, n a control character", { s: "\ud800", t: 0, n: "\u0001" }],
        ["an expired t", { s: "0".repeat(40), t: t - 10_000, n: "n1" }],
      ];
      const app = ctx.appId();
      const bob = ctx.peer("bob");
      for (const [k, [what, fields]] of junk.entries()) {
        const peer = ctx.peer(`alice${k}`);
        const conn = await ctx.connect();
        const frame = (cmd: string, op: string, more: Frame = {}) => ({
          cmd,
          op,
          appId: app,
          peerId: peer,
          ...more,
          ...fields,
        });
        // [SIG-ENFORCE-3] every signed command succeeds as if the fields were absent.
        const attempts: [Frame, string][] = [
          [frame("session", "open"), "session/opened"],
          [frame("session", "add", { sessionPeerIds: [bob] }), "session/added"],
        ];
        for (const [f, name] of attempts) {
          expectSuccess(
            ctx,
            "SIG-ENFORCE-3",
            await requestInvalid(ctx, "SIG-ENFORCE-3", conn, f, what),
            name,
            `a ${describeFrame(f)} with ${what}`,
          );
        }
        if (ctx.target.features.groups !== true) {
          if (k === 0) ctx.note("groups not in force: room/join, invite and kick not checked");
          continue;
        }
        const joined = await requestInvalid(
          ctx,
          "SIG-ENFORCE-3",
          conn,
          frame("room", "join"),
          what,
        );
        expectSuccess(ctx, "SIG-ENFORCE-3", joined, "room/joined", `a room/join with ${what}`);
        const roomId = joined.roomId as string;
        for (const [op, name] of [
          ["invite", "room/invited"],
          ["kick", "room/kicked"],
        ] as const) {
          const f = frame("room", op, { roomId, roomPeerIds: [bob] });
          expectSuccess(
            ctx,
            "SIG-ENFORCE-3",
            await requestInvalid(ctx, "SIG-ENFORCE-3", conn, f, what),
            name,
            `a room/${op} with ${what}`,
          );
        }
      }
    },
  }),

  // ---- 6.3 session and watch ----

  defineCase({
    name: "sig/session/signed-string",
    requirements: ["SIG-SESSION-1"],
    async run(ctx) {
      const { app } = signedApp(ctx);
      const alice = ctx.peer("alice");
      // U+1F600 (surrogates from U+D83D) sorts before U+FF21 by code units, after it by
      // code points; "b" is given twice.
      const [b, smile, wide] = [ctx.peer("b"), ctx.peer("😀"), ctx.peer("Ａ")];
      const watch = [wide, smile, b, b];
      const t = ctx.nowSeconds();
      const strings: [string, (n: string) => string][] = [
        ["the ids by code point", (n) => `${app}:${alice}:${[b, wide, smile].join(":")}:${t}:${n}`],
        ["the ids as sent, duplicates kept", (n) => `${app}:${alice}:${watch.join(":")}:${t}:${n}`],
        [
          "the ids sorted, duplicates kept",
          (n) => `${app}:${alice}:${[b, b, smile, wide].join(":")}:${t}:${n}`,
        ],
        ["another peer's id", (n) => sessionString(app, ctx.peer("mallory"), watch, t, n)],
        ["another app's id", (n) => sessionString(ctx.appId(), alice, watch, t, n)],
        ["t with a leading zero", (n) => `${app}:${alice}:${idList(watch)}:0${t}:${n}`],
        ["a trailing colon", (n) => `${sessionString(app, alice, watch, t, n)}:`],
      ];
      // [SIG-SESSION-1] any other string does not verify...
      for (const [what, text] of strings) {
        const n = ctx.nonce();
        const reply = await tryOpen(
          ctx,
          "SIG-SESSION-1",
          openFrame(ctx, alice, { sessionPeerIds: watch, ...signed(ctx, text(n), t, n) }),
        );
        refused(ctx, "SIG-SESSION-1", reply, `a session/open signed over ${what}`);
      }
      // ...the distinct ids sorted by code units, t in decimal, n, joined with ':' does.
      const opens: [string, Frame][] = [
        [
          `watching ${idList(watch)}`,
          { sessionPeerIds: watch, ...sessionSig(ctx, alice, watch, { t }) },
        ],
        ["without sessionPeerIds", { ...sessionSig(ctx, alice, [], { t }) }],
        [
          "with an empty sessionPeerIds",
          { sessionPeerIds: [], ...sessionSig(ctx, alice, [], { t }) },
        ],
        [
          "watching upper and lower case ids",
          {
            sessionPeerIds: [ctx.peer("alice"), ctx.peer("Zed"), ctx.peer("Bob")],
            ...sessionSig(ctx, alice, [ctx.peer("alice"), ctx.peer("Zed"), ctx.peer("Bob")], { t }),
          },
        ],
      ];
      for (const [what, fields] of opens) {
        expectSuccess(
          ctx,
          "SIG-SESSION-1",
          await tryOpen(ctx, "SIG-SESSION-1", openFrame(ctx, alice, fields)),
          "session/opened",
          `a session/open ${what}, signed as 6.3 says`,
        );
      }
      // session/add signs the ids of the command, not the whole watch set.
      const peer = await signedPeer(ctx, "alice", [ctx.peer("x")]);
      const [a, c, d] = [ctx.peer("a"), ctx.peer("c"), ctx.peer("d")];
      const add = (ids: string[], signedIds: string[]) =>
        command(ctx, alice, "session", "add", {
          sessionPeerIds: ids,
          ...sessionSig(ctx, alice, signedIds),
        });
      expectSuccess(
        ctx,
        "SIG-SESSION-1",
        await ctx.request("SIG-SESSION-1", peer.conn, add([c, a], [c, a])),
        "session/added",
        "a session/add signed over its own ids",
      );
      refused(
        ctx,
        "SIG-SESSION-1",
        await ctx.request("SIG-SESSION-1", peer.conn, add([d], [ctx.peer("x"), a, c, d])),
        "a session/add signed over the whole watch set",
      );
      expectSuccess(
        ctx,
        "SIG-SESSION-1",
        await ctx.request("SIG-SESSION-1", peer.conn, add([d], [d])),
        "session/added",
        "a session/add signed over its own id",
      );
    },
  }),

  // ---- super peers ----

  defineCase({
    name: "sig/sp/canonical-suffix",
    requirements: ["SIG-SP-1", "SIG-SESSION-1"],
    features: ["super-peer"],
    async run(ctx) {
      signedApp(ctx);
      const bot = ctx.peer("bot");
      const watch = [ctx.peer("x"), ctx.peer("y")];
      // [SIG-SP-1] sp: true verifies against the string followed by :sp.
      for (const w of [watch, []]) {
        const frame = openFrame(ctx, bot, {
          sp: true,
          ...(w.length > 0 && { sessionPeerIds: w }),
          ...sessionSig(ctx, bot, w, { suffix: "sp" }),
        });
        expectSuccess(
          ctx,
          "SIG-SP-1",
          await tryOpen(ctx, "SIG-SP-1", frame),
          "session/opened",
          `a super-peer open watching ${w.length} peers signed with :sp`,
        );
      }
      // [SIG-SESSION-1] and without sp: true the string has no suffix: :sp does not verify.
      for (const sp of [undefined, false]) {
        const frame = openFrame(ctx, bot, {
          sessionPeerIds: watch,
          ...(sp !== undefined && { sp }),
          ...sessionSig(ctx, bot, watch, { suffix: "sp" }),
        });
        refused(
          ctx,
          "SIG-SESSION-1",
          await tryOpen(ctx, "SIG-SESSION-1", frame),
          `a session/open with sp ${String(sp)} signed with :sp`,
        );
      }
    },
  }),

  defineCase({
    name: "sig/sp/documented-suffix",
    requirements: ["SIG-SP-2", "SIG-SESSION-1"],
    features: ["super-peer"],
    async run(ctx) {
      signedApp(ctx);
      const bot = ctx.peer("bot");
      const watch = [ctx.peer("x")];
      // [SIG-SP-2] sp: true also verifies against the string followed by :su.
      for (const w of [watch, []]) {
        const frame = openFrame(ctx, bot, {
          sp: true,
          ...(w.length > 0 && { sessionPeerIds: w }),
          ...sessionSig(ctx, bot, w, { suffix: "su" }),
        });
        expectSuccess(
          ctx,
          "SIG-SP-2",
          await tryOpen(ctx, "SIG-SP-2", frame),
          "session/opened",
          `a super-peer open watching ${w.length} peers signed with :su`,
        );
      }
      // [SIG-SESSION-1] a plain open signed with :su does not verify.
      const plain = openFrame(ctx, bot, {
        sessionPeerIds: watch,
        ...sessionSig(ctx, bot, watch, { suffix: "su" }),
      });
      refused(
        ctx,
        "SIG-SESSION-1",
        await tryOpen(ctx, "SIG-SESSION-1", plain),
        "a session/open without sp signed with :su",
      );
    },
  }),

  defineCase({
    name: "sig/sp/plain-signature-refused",
    requirements: ["SIG-SP-5", "SIG-SP-1"],
    features: ["super-peer"],
    async run(ctx) {
      signedApp(ctx);
      const bot = ctx.peer("bot");
      const watch = [ctx.peer("x")];
      // [SIG-SP-5] a plain signature does not make a super peer: 4102.
      for (const w of [watch, []]) {
        const frame = openFrame(ctx, bot, {
          sp: true,
          ...(w.length > 0 && { sessionPeerIds: w }),
          ...sessionSig(ctx, bot, w),
        });
        refused(
          ctx,
          "SIG-SP-5",
          await tryOpen(ctx, "SIG-SP-5", frame),
          `a super-peer open watching ${w.length} peers with a plain signature`,
        );
      }
      // The positive control: the same open signed with :sp is accepted (SIG-SP-1).
      const sp = openFrame(ctx, bot, {
        sp: true,
        sessionPeerIds: watch,
        ...sessionSig(ctx, bot, watch, { suffix: "sp" }),
      });
      expectSuccess(
        ctx,
        "SIG-SP-1",
        await tryOpen(ctx, "SIG-SP-1", sp),
        "session/opened",
        "the same super-peer open signed with :sp",
      );
    },
  }),

  defineCase({
    name: "sig/sp/add-without-suffix",
    requirements: ["SIG-SP-4"],
    features: ["super-peer"],
    async run(ctx) {
      signedApp(ctx);
      const bot = await signedPeer(ctx, "bot", [], { sp: true }, "sp");
      const more = [ctx.peer("x")];
      // [SIG-SP-4] a super peer's session/add is signed without suffix.
      for (const suffix of ["sp", "su"] as const) {
        const add = command(ctx, bot.id, "session", "add", {
          sessionPeerIds: more,
          ...sessionSig(ctx, bot.id, more, { suffix }),
        });
        refused(
          ctx,
          "SIG-SP-4",
          await ctx.request("SIG-SP-4", bot.conn, add),
          `a super peer's session/add signed with :${suffix}`,
        );
      }
      const add = command(ctx, bot.id, "session", "add", {
        sessionPeerIds: more,
        ...sessionSig(ctx, bot.id, more),
      });
      expectSuccess(
        ctx,
        "SIG-SP-4",
        await ctx.request("SIG-SP-4", bot.conn, add),
        "session/added",
        "a super peer's session/add signed without suffix",
      );
    },
  }),

  // ---- 6.4 groups ----

  defineCase({
    name: "sig/group/signed-string",
    requirements: ["SIG-GROUP-1"],
    features: ["groups"],
    async run(ctx) {
      const { app } = signedApp(ctx);
      const alice = await signedPeer(ctx, "alice");
      const bob = await signedPeer(ctx, "bob");
      const t = ctx.nowSeconds();
      /** Sends room/`op` of `peer` signed over `text(n)`; returns the answer. */
      const room = async (peer: Peer, op: Action, fields: Frame, text: (n: string) => string) => {
        const n = ctx.nonce();
        return ctx.request(
          "SIG-GROUP-1",
          peer.conn,
          command(ctx, peer.id, "room", op, { ...fields, ...signed(ctx, text(n), t, n) }),
        );
      };
      const expectRefused = async (
        peer: Peer,
        op: Action,
        fields: Frame,
        text: (n: string) => string,
        what: string,
      ) => refused(ctx, "SIG-GROUP-1", await room(peer, op, fields, text), what);
      // [SIG-GROUP-1] creating: an empty group id and an empty peer list, action join.
      await expectRefused(
        alice,
        "join",
        {},
        (n) => groupString(app, alice.id, undefined, [], t, n, "invite"),
        "a create signed with the action invite",
      );
      await expectRefused(
        alice,
        "join",
        {},
        (n) => `${app}:${alice.id}::${t}:${n}:join`,
        "a create signed without the empty peer list",
      );
      const created = await room(alice, "join", {}, (n) =>
        groupString(app, alice.id, undefined, [], t, n, "join"),
      );
      expectSuccess(
        ctx,
        "SIG-GROUP-1",
        created,
        "room/joined",
        "a create signed over app:peer:::t:n:join",
      );
      const g = created.roomId as string;
      // Joining an existing group: its id, an empty peer list.
      await expectRefused(
        bob,
        "join",
        { roomId: g },
        (n) => groupString(app, bob.id, undefined, [], t, n, "join"),
        "a join signed with an empty group id",
      );
      await expectRefused(
        bob,
        "join",
        { roomId: g },
        (n) => groupString(app, bob.id, g, [bob.id], t, n, "join"),
        "a join signed with the joiner in the peer list",
      );
      expectSuccess(
        ctx,
        "SIG-GROUP-1",
        await room(bob, "join", { roomId: g }, (n) =>
          groupString(app, bob.id, g, [], t, n, "join"),
        ),
        "room/joined",
        "a join signed over app:peer:group::t:n:join",
      );
      // Inviting: the distinct ids sorted by UTF-16 code units.
      const [b, z, smile, wide] = [ctx.peer("b"), ctx.peer("z"), ctx.peer("😀"), ctx.peer("Ａ")];
      const ids = [z, wide, b, smile, z];
      const invite = { roomId: g, roomPeerIds: ids };
      const tail = (n: string) => `${t}:${n}:invite`;
      await expectRefused(
        alice,
        "invite",
        invite,
        (n) => `${app}:${alice.id}:${g}:${ids.join(":")}:${tail(n)}`,
        "an invite signed over the ids as sent",
      );
      await expectRefused(
        alice,
        "invite",
        invite,
        (n) => `${app}:${alice.id}:${g}:${[b, wide, smile, z].join(":")}:${tail(n)}`,
        "an invite signed over the ids by code point",
      );
      await expectRefused(
        alice,
        "invite",
        invite,
        (n) => `${app}:${alice.id}:${g}:${[b, smile, wide, z, z].join(":")}:${tail(n)}`,
        "an invite signed with a duplicate kept",
      );
      expectSuccess(
        ctx,
        "SIG-GROUP-1",
        await room(alice, "invite", invite, (n) =>
          groupString(app, alice.id, g, ids, t, n, "invite"),
        ),
        "room/invited",
        `an invite signed over ${idList(ids)}`,
      );
      // Kicking: the action is part of the string, and so is the group id.
      const kick = { roomId: g, roomPeerIds: [z] };
      for (const action of ["invite", "join"] as const) {
        await expectRefused(
          alice,
          "kick",
          kick,
          (n) => groupString(app, alice.id, g, [z], t, n, action),
          `a kick signed with the action ${action}`,
        );
      }
      await expectRefused(
        alice,
        "kick",
        kick,
        (n) => groupString(app, alice.id, undefined, [z], t, n, "kick"),
        "a kick signed without the group id",
      );
      expectSuccess(
        ctx,
        "SIG-GROUP-1",
        await room(alice, "kick", kick, (n) => groupString(app, alice.id, g, [z], t, n, "kick")),
        "room/kicked",
        "a kick signed over app:peer:group:ids:t:n:kick",
      );
    },
  }),

  // ---- 6.5 replay protection ----

  defineCase({
    name: "sig/time/window-300-seconds",
    requirements: ["SIG-TIME-1"],
    timeoutMs: 20_000,
    async run(ctx) {
      signedApp(ctx);
      // The server's clock, from the t of an ack (ACK-REPLY-1): the window is the server's,
      // and the kit's clock need not agree with it to the second.
      const [sender, receiver] = [ctx.peer("clock"), ctx.peer("clock-to")];
      const { conn } = await ctx.open(sender);
      const serverMs = async (): Promise<number> => {
        const ack = await ctx.request("ACK-REPLY-1", conn, {
          cmd: "direct",
          appId: ctx.appId(),
          peerId: sender,
          msg: "what time is it",
          toPeerIds: [receiver],
        });
        ctx.expect(
          "ACK-REPLY-1",
          ack.cmd === "ack" && typeof ack.t === "number",
          "the direct was not acknowledged",
          {
            actual: describeFrame(ack),
          },
        );
        return ack.t as number;
      };
      const before = Date.now();
      const t0 = await serverMs();
      const after = Date.now();
      const offset = t0 - (before + after) / 2;
      ctx.note(
        `server clock = kit clock ${offset >= 0 ? "+" : ""}${Math.round(offset)} ms, to within ${Math.ceil((after - before) / 2)} ms`,
      );
      const attempts: [string, (s: number) => number, boolean][] = [
        ["300 s behind", (s) => s - 300, true],
        ["300 s ahead", (s) => s + 300, true],
        ["301 s behind", (s) => s - 301, false],
        ["301 s ahead", (s) => s + 301, false],
        ["in milliseconds", (s) => s * 1000, false],
        ["0", () => 0, false],
      ];
      for (let round = 0; round < 3; round++) {
        const conns = await Promise.all(attempts.map(() => ctx.connect()));
        // Sent when the server's clock is 550 to 800 ms into a second: a server that rounds
        // the time instead of taking its floor reads the next second there, and refuses the
        // t that is 300 s behind.
        const phase = () => (((Date.now() + offset) % 1000) + 1000) % 1000;
        while (phase() < 550 || phase() > 800)
          await ctx.sleep(Math.max(1, (1550 - phase()) % 1000));
        const s = Math.floor((Date.now() + offset) / 1000);
        const replies = await Promise.all(
          attempts.map(([what, at], k) => {
            const peer = ctx.peer(`alice${round}-${k}`);
            const frame = openFrame(ctx, peer, { ...sessionSig(ctx, peer, [], { t: at(s) }) });
            ctx.note(`t ${what}: ${at(s)}`);
            return ctx.request("SIG-TIME-1", conns[k] as Connection, frame);
          }),
        );
        // Every open was handled before this ack (its reply came first): if the server's
        // clock is still in second s, so was it for every open. If not, the attempt says
        // nothing about the bounds, and the kit tries again.
        const done = await serverMs();
        if (Math.floor(done / 1000) !== s) {
          ctx.note(
            `the server's clock left second ${s} before the opens were answered (${done}): trying again`,
          );
          continue;
        }
        // [SIG-TIME-1] |t - floor(ms / 1000)| <= 300 is accepted, both bounds included; more
        // than 300 is refused with 4102.
        for (const [k, [what, , ok]] of attempts.entries()) {
          const reply = replies[k] as Frame;
          if (ok)
            expectSuccess(
              ctx,
              "SIG-TIME-1",
              reply,
              "session/opened",
              `a session/open signed for a t ${what} of the server's clock`,
            );
          else refused(ctx, "SIG-TIME-1", reply, `a session/open signed for a t ${what}`);
        }
        return;
      }
      throw new NotApplicable(
        "three times the server took past the end of a second to answer six session/open",
      );
    },
  }),

  defineCase({
    name: "sig/nonce/replay-refused",
    requirements: ["SIG-NONCE-2"],
    async run(ctx) {
      signedApp(ctx);
      const alice = ctx.peer("alice");
      const n = ctx.nonce();
      const first = openFrame(ctx, alice, sessionSig(ctx, alice, [], { n }));
      const conn = await ctx.connect();
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await ctx.request("SIG-ALG-1", conn, first),
        "session/opened",
        "a signed session/open",
      );
      // [SIG-NONCE-2] the verified nonce again: the same command replayed, another peer's
      // own signature, and another signed command, all 4102.
      refused(
        ctx,
        "SIG-NONCE-2",
        await tryOpen(ctx, "SIG-NONCE-2", first),
        "the same session/open replayed",
      );
      const bob = ctx.peer("bob");
      refused(
        ctx,
        "SIG-NONCE-2",
        await tryOpen(ctx, "SIG-NONCE-2", openFrame(ctx, bob, sessionSig(ctx, bob, [], { n }))),
        "another peer's session/open with the nonce",
      );
      const more = [ctx.peer("x")];
      const add = command(ctx, alice, "session", "add", {
        sessionPeerIds: more,
        ...sessionSig(ctx, alice, more, { n }),
      });
      refused(
        ctx,
        "SIG-NONCE-2",
        await ctx.request("SIG-NONCE-2", conn, add),
        "a session/add with the nonce of the open",
      );
      if (ctx.target.features.groups !== true) {
        ctx.note("groups not in force: a nonce burnt by a command that then failed not checked");
        return;
      }
      const join = command(
        ctx,
        alice,
        "room",
        "join",
        groupSig(ctx, alice, "join", undefined, [], { n }),
      );
      refused(
        ctx,
        "SIG-NONCE-2",
        await ctx.request("SIG-NONCE-2", conn, join),
        "a room/join with the nonce of the open",
      );
      // A nonce stays used whatever the outcome: a join of a group that does not exist is
      // refused with 4404 after its signature verified (step 8 before step 9 of
      // ERROR-ORDER-1), and its nonce is then taken.
      const burnt = ctx.nonce();
      const missing = ctx.peer("no-such-group");
      const failed = await ctx.request(
        "SIG-NONCE-2",
        conn,
        command(ctx, alice, "room", "join", {
          roomId: missing,
          ...groupSig(ctx, alice, "join", missing, [], { n: burnt }),
        }),
      );
      ctx.expect(
        "SIG-ALG-1",
        !(failed.cmd === "error" && failed.code === 4102),
        "a correctly signed room/join was refused for its signature",
        {
          expected: "error 4404 (after the signature verified)",
          actual: JSON.stringify(failed).slice(0, 300),
        },
      );
      ctx.expect(
        "ROOM-UNKNOWN-1",
        failed.cmd === "error",
        "a room/join of a group that does not exist succeeded",
        {
          expected: "error 4404",
          actual: JSON.stringify(failed).slice(0, 300),
        },
      );
      const carol = ctx.peer("carol");
      refused(
        ctx,
        "SIG-NONCE-2",
        await tryOpen(
          ctx,
          "SIG-NONCE-2",
          openFrame(ctx, carol, sessionSig(ctx, carol, [], { n: burnt })),
        ),
        "a session/open with the nonce of a verified command that failed",
      );
      // The positive control: a fresh nonce is accepted.
      expectSuccess(
        ctx,
        "SIG-ALG-1",
        await tryOpen(ctx, "SIG-ALG-1", openFrame(ctx, carol, sessionSig(ctx, carol, []))),
        "session/opened",
        "a session/open with a fresh nonce",
      );
    },
  }),

  defineCase({
    name: "sig/nonce/failed-signature-takes-nothing",
    requirements: ["SIG-NONCE-3"],
    async run(ctx) {
      const { app } = signedApp(ctx);
      const alice = ctx.peer("alice");
      const watch = [ctx.peer("bob")];
      const n = ctx.nonce();
      const t = ctx.nowSeconds();
      const good = sessionSig(ctx, alice, watch, { n, t });
      const failing: [string, Sig][] = [
        [
          "a signature in upper case",
          { ...good, s: good.s.toUpperCase() === good.s ? `${good.s}0` : good.s.toUpperCase() },
        ],
        ["a signature for another t", { ...good, t: t + 1 }],
        ["an expired t", sessionSig(ctx, alice, watch, { n, t: t - 1000 })],
        [
          "another key",
          { s: hmacSha1(`${ctx.masterKey}x`, sessionString(app, alice, watch, t, n)), t, n },
        ],
        ["another peer's signature", sessionSig(ctx, ctx.peer("mallory"), watch, { n, t })],
      ];
      for (const [what, sig] of failing) {
        refused(
          ctx,
          "SIG-NONCE-3",
          await tryOpen(
            ctx,
            "SIG-NONCE-3",
            openFrame(ctx, alice, { sessionPeerIds: watch, ...sig }),
          ),
          `a session/open with ${what}`,
        );
      }
      // [SIG-NONCE-3] the nonce appeared only in signatures that failed: still fresh.
      const open = openFrame(ctx, alice, { sessionPeerIds: watch, ...good });
      expectSuccess(
        ctx,
        "SIG-NONCE-3",
        await tryOpen(ctx, "SIG-NONCE-3", open),
        "session/opened",
        "a valid session/open with a nonce that only failed signatures carried",
      );
    },
  }),
];
