/**
 * Cases of chapter 04, groups: group ids and lifetime (4.1), the membership commands
 * (4.2), who is told what (4.3, Table 2), group messages (4.4), the membership queries over
 * the socket (4.5, 4.6) and over REST (4.7).
 *
 * Every case works over the wire only, with fresh peers and groups it makes itself. A
 * "nothing else" check is never vacuous: the case first sends a sentinel message to the
 * sessions it watches and waits for it, so a server that delivers nothing cannot pass it.
 * ROOM-DURABLE-1 needs a crash of the server and is left to the durability cases.
 * @module
 */
import { ERRORS, httpValidators } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import type { Connection } from "../connection.js";
import type { AppRole, CaseContext, HttpAnswer } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";
import {
  APP_HEADER,
  expectCode,
  expectHttpError,
  expectInvalidRefused,
  type Frame,
  isDelivery,
  KEY_HEADER,
  mediaType,
} from "./support.js";

/** One session of a case: its peer, its connection and the app it speaks for. */
interface Member {
  readonly peerId: string;
  readonly conn: Connection;
  readonly role: AppRole;
}

/** The members of a group at most (ROOM-LIMIT-1; Table 9: fixed, `roomMembers`). */
const ROOM_MEMBER_LIMIT = 500;

/** The codes of the group rules (spec 08, Table 7), from the error registry. */
const NOT_FOUND = ERRORS.ROOM_NOT_FOUND.code; // 4404, ROOM-UNKNOWN-1
const NOT_MEMBER = ERRORS.INVALID_MESSAGING_TARGET.code; // 4401, ROOM-MEMBER-1
const FULL = ERRORS.ROOM_FULL.code; // 4403, ROOM-LIMIT-1

/** How long a "nothing else" check listens after its sentinel arrived, ms. */
const QUIET_MS = 150;

/**
 * Ids in ascending UTF-16 code unit order, which is byte order for ASCII group ids. A value
 * that is no array (a server's bug) stays visible, so that it compares unequal to any list.
 */
function sorted(ids: unknown): string[] {
  if (!Array.isArray(ids)) return [`(not an array: ${JSON.stringify(ids)})`];
  return ids.map(String).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A frame for the report: its JSON, cut. */
function show(frame: Frame): string {
  return JSON.stringify(frame).slice(0, 400);
}

/** Opens a session for `peerId` in the app of `role` (default the open app). */
async function session(
  ctx: CaseContext,
  peerId: string,
  options: { role?: AppRole; watch?: readonly string[]; echo?: boolean } = {},
): Promise<Member> {
  const role = options.role ?? "open";
  const { conn } = await ctx.open(peerId, {
    app: role,
    ...(options.watch !== undefined && { watch: options.watch }),
    ...(options.echo !== undefined && { echo: options.echo }),
  });
  return { peerId, conn, role };
}

/** The ops of the `room` family that a case sends. */
type RoomOp = "join" | "invite" | "kick" | "leave" | "query" | "list";

/**
 * A `room` command of `m`, signed as the app's signing service would sign it when the app
 * enforces signatures (SIG-GROUP-1: join, invite and kick; leave, query and list never).
 */
function roomFrame(
  ctx: CaseContext,
  m: Member,
  op: RoomOp,
  fields: { roomId?: string; roomPeerIds?: readonly string[]; extra?: Frame } = {},
): Frame {
  const frame: Frame = { cmd: "room", op, appId: ctx.appId(m.role), peerId: m.peerId };
  if (fields.roomId !== undefined) frame.roomId = fields.roomId;
  if (fields.roomPeerIds !== undefined) frame.roomPeerIds = [...fields.roomPeerIds];
  if (m.role === "signed" && (op === "join" || op === "invite" || op === "kick")) {
    Object.assign(
      frame,
      ctx.groupSignature({
        peerId: m.peerId,
        action: op,
        roomId: fields.roomId,
        roomPeerIds: op === "join" ? [] : (fields.roomPeerIds ?? []),
      }),
    );
  }
  return { ...frame, ...fields.extra };
}

/** Sends a `room` command with a fresh `i` and takes its answer (a reply or an error). */
function room(
  ctx: CaseContext,
  requirement: string,
  m: Member,
  op: RoomOp,
  fields: { roomId?: string; roomPeerIds?: readonly string[]; extra?: Frame } = {},
): Promise<Frame> {
  return ctx.request(requirement, m.conn, roomFrame(ctx, m, op, fields));
}

/**
 * Checks under `requirement` that `frame` is `room/<op>` and that each member of `shape`
 * has the given value (JSON equality).
 */
function expectRoom(
  ctx: CaseContext,
  requirement: string,
  frame: Frame,
  op: string,
  shape: Frame = {},
): void {
  ctx.expect(requirement, frame.cmd === "room" && frame.op === op, `expected room/${op}`, {
    expected: `room/${op}`,
    actual: show(frame),
  });
  for (const [k, v] of Object.entries(shape)) {
    ctx.expectEqual(requirement, frame[k], v, `the ${k} of room/${op}`);
  }
}

/**
 * Creates a group with `m` as its only member (ROOM-CREATE-1, which every group case rests
 * on, so a server that cannot create one fails it) and returns its id.
 */
async function createRoom(ctx: CaseContext, m: Member): Promise<string> {
  const reply = await room(ctx, "ROOM-CREATE-1", m, "join");
  expectRoom(ctx, "ROOM-CREATE-1", reply, "joined", { byPeerId: m.peerId });
  if (typeof reply.roomId !== "string") {
    return ctx.fault("ROOM-CREATE-1", "room/joined carries no roomId", { actual: show(reply) });
  }
  return reply.roomId;
}

/** `m` invites `peers` into `roomId`; checks the reply is `room/invited` of that group. */
async function invite(
  ctx: CaseContext,
  m: Member,
  roomId: string,
  peers: readonly string[],
  requirement = "ROOM-INVITE-1",
): Promise<Frame> {
  const reply = await room(ctx, requirement, m, "invite", { roomId, roomPeerIds: peers });
  expectRoom(ctx, requirement, reply, "invited", { roomId });
  return reply;
}

/** `m` kicks `peers` from `roomId`; checks the reply is `room/kicked` of that group. */
async function kick(
  ctx: CaseContext,
  m: Member,
  roomId: string,
  peers: readonly string[],
  requirement = "ROOM-KICK-1",
): Promise<Frame> {
  const reply = await room(ctx, requirement, m, "kick", { roomId, roomPeerIds: peers });
  expectRoom(ctx, requirement, reply, "kicked", { roomId });
  return reply;
}

/** `m` leaves `roomId`; checks the reply is `room/left` by `m`. */
async function leave(
  ctx: CaseContext,
  m: Member,
  roomId: string,
  requirement = "ROOM-LEAVE-1",
): Promise<Frame> {
  const reply = await room(ctx, requirement, m, "leave", { roomId });
  expectRoom(ctx, requirement, reply, "left", { roomId, byPeerId: m.peerId });
  return reply;
}

/** `m` joins the existing `roomId`; checks the reply is `room/joined` by `m`. */
async function join(
  ctx: CaseContext,
  m: Member,
  roomId: string,
  requirement = "ROOM-JOIN-1",
): Promise<Frame> {
  const reply = await room(ctx, requirement, m, "join", { roomId });
  expectRoom(ctx, requirement, reply, "joined", { roomId, byPeerId: m.peerId });
  return reply;
}

/** A group made by `owner`, with `peers` invited into it (they need no session). */
async function group(
  ctx: CaseContext,
  owner: Member,
  peers: readonly string[] = [],
): Promise<string> {
  const roomId = await createRoom(ctx, owner);
  if (peers.length > 0) await invite(ctx, owner, roomId, peers);
  return roomId;
}

/** The members of `roomId` as `m` sees them with `room/query` (ROOM-QUERY-1), sorted. */
async function membersOf(
  ctx: CaseContext,
  requirement: string,
  m: Member,
  roomId: string,
): Promise<string[]> {
  const reply = await room(ctx, requirement, m, "query", { roomId });
  expectRoom(ctx, requirement, reply, "query-result", { roomId });
  return sorted(reply.roomPeerIds);
}

/** Checks under `requirement` that `roomId` has exactly the members `expected`. */
async function expectMembers(
  ctx: CaseContext,
  requirement: string,
  viewer: Member,
  roomId: string,
  expected: readonly string[],
  what: string,
): Promise<void> {
  const got = await membersOf(ctx, requirement, viewer, roomId);
  ctx.expectEqual(requirement, got, sorted(expected), what);
}

/** A group message of `m`; returns its `ack` (ACK-REPLY-1). */
async function sendToRoom(
  ctx: CaseContext,
  m: Member,
  roomId: string,
  msg: string,
  requirement = "ACK-REPLY-1",
): Promise<Frame> {
  const ack = await ctx.request(requirement, m.conn, {
    cmd: "direct",
    appId: ctx.appId(m.role),
    peerId: m.peerId,
    msg,
    roomId,
  });
  ctx.expect(
    requirement,
    ack.cmd === "ack" && typeof ack.uid === "string",
    "the group message was not acknowledged",
    {
      expected: "ack with uid",
      actual: show(ack),
    },
  );
  return ack;
}

/** A predicate for the delivery of the group message `msg` of `roomId`. */
function deliveryOf(roomId: string, msg: string): (f: Frame) => boolean {
  return (f) => f.cmd === "direct" && f.msg === msg && f.roomId === roomId;
}

/** Waits for a membership event `room/<op>` of `roomId` on `m`'s connection, for `m`. */
function event(
  ctx: CaseContext,
  requirement: string,
  m: Member,
  op: string,
  roomId: string,
): Promise<Frame> {
  return ctx.waitFor(
    requirement,
    m.conn,
    (f) => f.cmd === "room" && f.op === op && f.roomId === roomId && f.peerId === m.peerId,
    `room/${op} of ${roomId} for ${m.peerId}`,
  );
}

/**
 * Checks that `observers` got nothing they have not taken yet, each under its own
 * requirement. Not vacuous: a fresh peer (watching them, as DIRECT-PERM-2 asks of a sender
 * in an app that enforces signatures) first sends them the transient sentinel of
 * `ctx.flush`, and the check waits until every observer has it, so the sessions are shown
 * to be served; anything untaken before it, or arriving within {@link QUIET_MS} after it,
 * is a frame the server should not have sent.
 */
async function nothingElse(
  ctx: CaseContext,
  observers: readonly { readonly m: Member; readonly requirement: string }[],
  what: string,
): Promise<void> {
  if (observers.length === 0) throw new HarnessError("nothingElse without observers");
  // ctx.flush sends in the open app: a sentinel of another app could not reach them.
  if (observers.some((o) => o.m.role !== "open"))
    throw new HarnessError("nothingElse flushes sessions of the open app only");
  const peers = [...new Set(observers.map((o) => o.m.peerId))];
  const sentinel = await session(ctx, ctx.peer(), { watch: peers });
  await ctx.flush(
    sentinel,
    observers.map((o) => o.m),
  );
  // All at once, so the quiet period costs QUIET_MS whatever the number of observers.
  await Promise.all(
    observers.map((o) =>
      ctx.expectNone(
        o.requirement,
        o.m.conn,
        () => true,
        `${what} (to ${o.m.peerId} on ${o.m.conn.label})`,
        QUIET_MS,
      ),
    ),
  );
}

/** {@link nothingElse} with one requirement for every observer. */
function nothingElseFor(
  ctx: CaseContext,
  requirement: string,
  observers: readonly Member[],
  what: string,
): Promise<void> {
  return nothingElse(
    ctx,
    observers.map((m) => ({ m, requirement })),
    what,
  );
}

// ---------------------------------------------------------------------------------------
// REST (4.7)

/** The app the REST cases use, and the headers that authorize a request for it. */
interface RestApp {
  readonly role: AppRole;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * The app whose groups the REST cases read: the signed app, whose master key the kit knows
 * (Table 11), else the open app without a key, which REST-ROOMS-8 makes authorized when it
 * has no key.
 */
function restApp(ctx: CaseContext): RestApp {
  const signed = ctx.target.apps.signed;
  if (signed !== undefined) {
    return {
      role: "signed",
      headers: { [APP_HEADER]: signed.appId, [KEY_HEADER]: signed.masterKey },
    };
  }
  return { role: "open", headers: { [APP_HEADER]: ctx.appId() } };
}

/** The path of a group's members. */
function membersPath(roomId: string, query = ""): string {
  return `/1.1/rtm/rooms/${encodeURIComponent(roomId)}/members${query}`;
}

/** The path of a peer's groups. */
function peerRoomsPath(peerId: string, query = ""): string {
  return `/1.1/rtm/peers/${encodeURIComponent(peerId)}/rooms${query}`;
}

/**
 * A GET of the REST app. With the open app (no signed app provisioned), a 401 means the
 * open app has a master key the kit was not given: not applicable, not a fault.
 */
async function restGet(
  ctx: CaseContext,
  requirement: string,
  app: RestApp,
  path: string,
  headers: Readonly<Record<string, string>> = app.headers,
): Promise<HttpAnswer> {
  const answer = await ctx.http(requirement, path, { headers: { ...headers } });
  if (app.role === "open" && answer.status === 401) {
    throw new NotApplicable(
      "the open app has a master key the kit does not know, and the target has no signed app (Table 11)",
    );
  }
  return answer;
}

/**
 * Checks under `requirement` an HTTP 200 with `Content-Type: application/json` and a body
 * that the schema `schema` of the HTTP schemas accepts; returns the body.
 */
function expectOk(
  ctx: CaseContext,
  requirement: string,
  answer: HttpAnswer,
  schema: string,
  what: string,
): Frame {
  ctx.expect(requirement, answer.status === 200, `${what}: HTTP ${answer.status}`, {
    expected: "HTTP 200",
    actual: `HTTP ${answer.status} ${answer.text.slice(0, 300)}`,
  });
  ctx.expect(
    requirement,
    mediaType(answer) === "application/json",
    `${what}: not application/json`,
    {
      expected: "Content-Type: application/json",
      actual: answer.headers.get("content-type") ?? "(none)",
    },
  );
  const validator = httpValidators[schema];
  if (validator === undefined) throw new HarnessError(`no HTTP schema ${schema}`);
  const result = validator(answer.json);
  ctx.expect(requirement, result.ok, `${what}: the body does not match the ${schema} schema`, {
    expected: schema,
    actual: `${answer.text.slice(0, 300)}${result.ok ? "" : `: ${result.errors.map((e) => `${e.path} ${e.message}`).join("; ")}`}`,
  });
  return answer.json as Frame;
}

// ---------------------------------------------------------------------------------------

/** The group cases. */
export const CASES: readonly ServerCase[] = [
  // ----- 4.1 ids and lifetime -----
  defineCase({
    name: "room/join/new-ids-fresh-and-well-formed",
    requirements: ["ROOM-ID-1", "ROOM-ID-2"],
    async run(ctx) {
      // Several peers create groups; every id is new, of [A-Za-z0-9_-]{1,64}, and never
      // shaped like a peer conversation id (32 hex digits), which would make a group's
      // conversation id collide with one of peers (CONVID-PEER-1, CONVID-ROOM-1).
      const makers = [await session(ctx, ctx.peer("alice")), await session(ctx, ctx.peer("bob"))];
      const ids: string[] = [];
      for (let k = 0; k < 24; k++) {
        const maker = makers[k % makers.length] as Member;
        ids.push(await createRoom(ctx, maker));
      }
      for (const id of ids) {
        ctx.expect(
          "ROOM-ID-1",
          /^[A-Za-z0-9_-]{1,64}$/.test(id),
          "a group id outside [A-Za-z0-9_-]{1,64}",
          {
            expected: "1 to 64 characters of [A-Za-z0-9_-]",
            actual: JSON.stringify(id),
          },
        );
        ctx.expect(
          "ROOM-ID-2",
          !/^[0-9a-f]{32}$/.test(id),
          "a group id of exactly 32 characters of [0-9a-f]",
          {
            expected: "not 32 lowercase hex digits",
            actual: id,
          },
        );
      }
      ctx.expectEqual(
        "ROOM-ID-1",
        new Set(ids).size,
        ids.length,
        "distinct ids among the new groups",
      );
    },
  }),
  defineCase({
    name: "room/leave/empty-group-kept",
    requirements: ["ROOM-EMPTY-1", "REST-ROOMS-5"],
    features: ["rest-history"],
    async run(ctx) {
      // A group whose last member left stays: its history is readable over REST and its id
      // is joinable (ROOM-EMPTY-1); its REST member list is empty, HTTP 200 (4.7).
      const app = restApp(ctx);
      const alice = await session(ctx, ctx.peer("alice"), { role: app.role });
      const roomId = await group(ctx, alice);
      const msg = `before the group emptied ${ctx.nonce()}`;
      const ack = await sendToRoom(ctx, alice, roomId, msg);
      await leave(ctx, alice, roomId);
      const logs = await restGet(
        ctx,
        "ROOM-EMPTY-1",
        app,
        `/1.1/rtm/messages/logs?convid=${encodeURIComponent(roomId)}`,
      );
      ctx.expect(
        "ROOM-EMPTY-1",
        logs.status === 200 && Array.isArray(logs.json),
        "the history of an empty group is not readable",
        {
          expected: "HTTP 200 with a JSON array",
          actual: `HTTP ${logs.status} ${logs.text.slice(0, 300)}`,
        },
      );
      const items = logs.json as Frame[];
      ctx.expect(
        "ROOM-EMPTY-1",
        items.some((it) => it["msg-id"] === ack.uid && it.data === msg),
        "the message of the empty group is not in its history",
        {
          expected: `an item with msg-id ${String(ack.uid)}`,
          actual: logs.text.slice(0, 400),
        },
      );
      if (ctx.target.features["rest-rooms"] === true) {
        const members = await restGet(ctx, "REST-ROOMS-5", app, membersPath(roomId));
        const body = expectOk(
          ctx,
          "REST-ROOMS-5",
          members,
          "room-members-response",
          "the members of an empty group",
        );
        ctx.expectEqual("REST-ROOMS-5", body.roomPeerIds, [], "the members of an empty group");
      } else ctx.note("rest-rooms not in force: the empty member list is not checked");
      const bob = await session(ctx, ctx.peer("bob"), { role: app.role });
      await join(ctx, bob, roomId, "ROOM-EMPTY-1");
    },
  }),
  defineCase({
    name: "room/unknown/answers-4404",
    requirements: ["ROOM-UNKNOWN-1"],
    async run(ctx) {
      // A valid group id that names no group: a fresh string of the kit's run prefix, which
      // no group of the app has. Every group command and a group direct get 4404.
      const alice = await session(ctx, ctx.peer("alice"));
      const nowhere = ctx.peer("no-such-group");
      for (const [op, fields] of [
        ["join", { roomId: nowhere }],
        ["invite", { roomId: nowhere, roomPeerIds: [ctx.peer("bob")] }],
        ["kick", { roomId: nowhere, roomPeerIds: [ctx.peer("bob")] }],
        ["leave", { roomId: nowhere }],
      ] as const) {
        const answer = await room(ctx, "ROOM-UNKNOWN-1", alice, op, fields);
        expectCode(ctx, "ROOM-UNKNOWN-1", answer, NOT_FOUND);
      }
      const answer = await ctx.request("ROOM-UNKNOWN-1", alice.conn, {
        cmd: "direct",
        appId: ctx.appId(),
        peerId: alice.peerId,
        msg: "to no group",
        roomId: nowhere,
      });
      expectCode(ctx, "ROOM-UNKNOWN-1", answer, NOT_FOUND);
    },
  }),

  // ----- 4.2 membership commands -----
  defineCase({
    name: "room/join/creates-group-of-caller",
    requirements: ["ROOM-CREATE-1"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const reply = await room(ctx, "ROOM-CREATE-1", alice, "join");
      expectRoom(ctx, "ROOM-CREATE-1", reply, "joined", { byPeerId: alice.peerId });
      const roomId = String(reply.roomId);
      // The caller is the only member.
      await expectMembers(
        ctx,
        "ROOM-CREATE-1",
        alice,
        roomId,
        [alice.peerId],
        "the members of a new group",
      );
      // And it is a new group: a second creation gives another id.
      const again = await createRoom(ctx, alice);
      ctx.expect(
        "ROOM-CREATE-1",
        again !== roomId,
        "a second room/join without roomId gave the same group",
        {
          expected: "a new group id",
          actual: again,
        },
      );
    },
  }),
  defineCase({
    name: "room/join/adds-non-member",
    requirements: ["ROOM-JOIN-1"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await group(ctx, alice);
      const bob = await session(ctx, ctx.peer("bob"));
      await join(ctx, bob, roomId);
      await expectMembers(
        ctx,
        "ROOM-JOIN-1",
        bob,
        roomId,
        [alice.peerId, bob.peerId],
        "the members after bob joined",
      );
    },
  }),
  defineCase({
    name: "room/join/any-peer-may-join",
    requirements: ["ROOM-JOIN-2"],
    async run(ctx) {
      // No invitation, no watch set, no relation to any member: joining is open (D8).
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await group(ctx, alice, [ctx.peer("bob")]);
      const stranger = await session(ctx, ctx.peer("stranger"));
      await join(ctx, stranger, roomId, "ROOM-JOIN-2");
    },
  }),
  defineCase({
    name: "room/join/any-peer-may-join-signed",
    requirements: ["ROOM-JOIN-2"],
    async run(ctx) {
      // In an app that enforces signatures, a valid signature is all a join needs.
      const alice = await session(ctx, ctx.peer("alice"), { role: "signed" });
      const roomId = await group(ctx, alice);
      const stranger = await session(ctx, ctx.peer("stranger"), { role: "signed" });
      await join(ctx, stranger, roomId, "ROOM-JOIN-2");
    },
  }),
  defineCase({
    name: "room/join/member-again-changes-nothing",
    requirements: ["ROOM-JOIN-3"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = ctx.peer("bob");
      const roomId = await group(ctx, alice, [bob]);
      const reply = await room(ctx, "ROOM-JOIN-3", alice, "join", { roomId });
      expectRoom(ctx, "ROOM-JOIN-3", reply, "joined", { roomId, byPeerId: alice.peerId });
      await expectMembers(
        ctx,
        "ROOM-JOIN-3",
        alice,
        roomId,
        [alice.peerId, bob],
        "the members after a member joined again",
      );
    },
  }),
  defineCase({
    name: "room/join/refuses-transient",
    requirements: ["ROOM-OPEN-1"],
    async run(ctx) {
      // Open groups are not part of v1: a create and a join with transient: true are refused.
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await group(ctx, alice);
      const bob = await session(ctx, ctx.peer("bob"));
      await expectInvalidRefused(
        ctx,
        "ROOM-OPEN-1",
        bob.conn,
        { ...roomFrame(ctx, bob, "join"), transient: true },
        "a room/join creating an open group (transient: true)",
      );
      await expectInvalidRefused(
        ctx,
        "ROOM-OPEN-1",
        bob.conn,
        { ...roomFrame(ctx, bob, "join", { roomId }), transient: true },
        "a room/join of an existing group with transient: true",
      );
    },
  }),
  defineCase({
    name: "room/member/non-member-refused",
    requirements: ["ROOM-MEMBER-1"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = ctx.peer("bob");
      const roomId = await group(ctx, alice, [bob]);
      const stranger = await session(ctx, ctx.peer("stranger"));
      for (const [op, fields] of [
        ["invite", { roomId, roomPeerIds: [ctx.peer("carol")] }],
        ["kick", { roomId, roomPeerIds: [bob] }],
        ["leave", { roomId }],
      ] as const) {
        expectCode(
          ctx,
          "ROOM-MEMBER-1",
          await room(ctx, "ROOM-MEMBER-1", stranger, op, fields),
          NOT_MEMBER,
        );
      }
      // A former member is a non-member too.
      await leave(ctx, alice, roomId);
      expectCode(
        ctx,
        "ROOM-MEMBER-1",
        await room(ctx, "ROOM-MEMBER-1", alice, "invite", {
          roomId,
          roomPeerIds: [ctx.peer("carol")],
        }),
        NOT_MEMBER,
      );
      expectCode(
        ctx,
        "ROOM-MEMBER-1",
        await room(ctx, "ROOM-MEMBER-1", alice, "leave", { roomId }),
        NOT_MEMBER,
      );
    },
  }),
  defineCase({
    name: "room/kick/refused-kick-removes-no-one",
    requirements: ["ERROR-NOEFFECT-1", "ROOM-MEMBER-1"],
    async run(ctx) {
      // A refused command changes nothing [ERROR-NOEFFECT-1]: after a stranger's kick is
      // refused with 4401, the peer it named is still a member and still gets the group's
      // messages (a server that answered 4401 but removed it anyway fails here).
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = await session(ctx, ctx.peer("bob"));
      const roomId = await group(ctx, alice, [bob.peerId]);
      const stranger = await session(ctx, ctx.peer("stranger"));
      expectCode(
        ctx,
        "ROOM-MEMBER-1",
        await room(ctx, "ROOM-MEMBER-1", stranger, "kick", { roomId, roomPeerIds: [bob.peerId] }),
        NOT_MEMBER,
      );
      const sent = await ctx.request("ROOM-MSG-2", alice.conn, {
        cmd: "direct",
        appId: ctx.appId(),
        peerId: alice.peerId,
        roomId,
        msg: "still a member",
      });
      ctx.expect("ROOM-MSG-2", sent.cmd === "ack", "a member's group message was refused", {
        actual: JSON.stringify(sent),
      });
      await ctx.waitFor(
        "ERROR-NOEFFECT-1",
        bob.conn,
        isDelivery("still a member"),
        "the group message to the member a refused kick named",
      );
    },
  }),
  defineCase({
    name: "room/perm/any-member-invites-and-kicks",
    requirements: ["ROOM-PERM-1"],
    async run(ctx) {
      // No owner role: bob, who did not create the group, invites carol and kicks alice,
      // its creator.
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = await session(ctx, ctx.peer("bob"));
      const carol = ctx.peer("carol");
      const roomId = await group(ctx, alice, [bob.peerId]);
      const invited = await invite(ctx, bob, roomId, [carol], "ROOM-PERM-1");
      ctx.expectEqual(
        "ROOM-PERM-1",
        invited.roomPeerIds,
        [carol],
        "the peers a non-creator's invite added",
      );
      const kicked = await kick(ctx, bob, roomId, [alice.peerId], "ROOM-PERM-1");
      ctx.expectEqual(
        "ROOM-PERM-1",
        kicked.roomPeerIds,
        [alice.peerId],
        "the peers a non-creator's kick removed",
      );
    },
  }),
  defineCase({
    name: "room/invite/adds-exactly-non-members",
    requirements: ["ROOM-INVITE-1"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const [bob, carol, dave] = [ctx.peer("bob"), ctx.peer("carol"), ctx.peer("dave")];
      const roomId = await group(ctx, alice, [bob]);
      // bob and alice are members already, carol is named twice (LIMIT-DUP-1).
      const reply = await invite(ctx, alice, roomId, [bob, carol, alice.peerId, dave, carol]);
      ctx.expectEqual(
        "ROOM-INVITE-1",
        sorted(reply.roomPeerIds),
        sorted([carol, dave]),
        "the peers room/invited lists",
      );
      await expectMembers(
        ctx,
        "ROOM-INVITE-1",
        alice,
        roomId,
        [alice.peerId, bob, carol, dave],
        "the members after the invite",
      );
    },
  }),
  defineCase({
    name: "room/kick/removes-exactly-members",
    requirements: ["ROOM-KICK-1"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const [bob, carol, zed] = [ctx.peer("bob"), ctx.peer("carol"), ctx.peer("zed")];
      const roomId = await group(ctx, alice, [bob, carol]);
      // zed is no member, alice is the caller: neither is removed, and no error.
      const reply = await kick(ctx, alice, roomId, [bob, zed, alice.peerId, bob]);
      ctx.expectEqual(
        "ROOM-KICK-1",
        sorted(reply.roomPeerIds),
        [bob],
        "the peers room/kicked lists",
      );
      await expectMembers(
        ctx,
        "ROOM-KICK-1",
        alice,
        roomId,
        [alice.peerId, carol],
        "the members after the kick",
      );
      // Naming only oneself changes nothing.
      const self = await kick(ctx, alice, roomId, [alice.peerId]);
      ctx.expectEqual("ROOM-KICK-1", self.roomPeerIds, [], "the peers a kick of oneself removed");
      await expectMembers(
        ctx,
        "ROOM-KICK-1",
        alice,
        roomId,
        [alice.peerId, carol],
        "the members after a kick of oneself",
      );
    },
  }),
  defineCase({
    name: "room/order/first-occurrence",
    requirements: ["ROOM-ORDER-1"],
    async run(ctx) {
      // The request's order, duplicates and non-changes left out, in replies and events;
      // peers named so that the order is neither sorted nor reversed (a sorting server fails).
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = ctx.peer("bob");
      const [zulu, mike, echo] = [ctx.peer("zulu"), ctx.peer("mike"), ctx.peer("echo")];
      const roomId = await group(ctx, alice, [bob]);
      const b = await session(ctx, bob);
      const invited = await invite(ctx, alice, roomId, [zulu, echo, bob, zulu, mike]);
      ctx.expectEqual(
        "ROOM-ORDER-1",
        invited.roomPeerIds,
        [zulu, echo, mike],
        "the roomPeerIds of room/invited",
      );
      const joined = await event(ctx, "ROOM-FANOUT-4", b, "members-joined", roomId);
      ctx.expectEqual(
        "ROOM-ORDER-1",
        joined.roomPeerIds,
        [zulu, echo, mike],
        "the roomPeerIds of room/members-joined",
      );
      const kicked = await kick(ctx, alice, roomId, [
        mike,
        ctx.peer("nobody"),
        zulu,
        mike,
        alice.peerId,
      ]);
      ctx.expectEqual(
        "ROOM-ORDER-1",
        kicked.roomPeerIds,
        [mike, zulu],
        "the roomPeerIds of room/kicked",
      );
      const left = await event(ctx, "ROOM-FANOUT-5", b, "members-left", roomId);
      ctx.expectEqual(
        "ROOM-ORDER-1",
        left.roomPeerIds,
        [mike, zulu],
        "the roomPeerIds of room/members-left",
      );
      // After a join or a leave, the list is [actor].
      const e = await session(ctx, echo);
      await leave(ctx, e, roomId);
      const gone = await event(ctx, "ROOM-FANOUT-5", b, "members-left", roomId);
      ctx.expectEqual(
        "ROOM-ORDER-1",
        gone.roomPeerIds,
        [echo],
        "the roomPeerIds of room/members-left after a leave",
      );
    },
  }),
  defineCase({
    name: "room/leave/removes-caller",
    requirements: ["ROOM-LEAVE-1"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = await session(ctx, ctx.peer("bob"));
      const roomId = await group(ctx, alice, [bob.peerId]);
      await leave(ctx, bob, roomId);
      await expectMembers(
        ctx,
        "ROOM-LEAVE-1",
        alice,
        roomId,
        [alice.peerId],
        "the members after bob left",
      );
    },
  }),
  defineCase({
    name: "room/limit/refuses-501st-member",
    requirements: ["ROOM-LIMIT-1"],
    features: ["room-query"],
    async run(ctx) {
      // 499 invitees bring the group to exactly 500: accepted. One more by invite or by join
      // is refused with 4403, and changes nothing.
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await createRoom(ctx, alice);
      const many = Array.from({ length: ROOM_MEMBER_LIMIT - 1 }, (_, k) => ctx.peer(`m${k}`));
      const reply = await invite(ctx, alice, roomId, many, "ROOM-LIMIT-1");
      ctx.expectEqual(
        "ROOM-LIMIT-1",
        sorted(reply.roomPeerIds).length,
        many.length,
        "the peers added up to 500 members",
      );
      const extra = ctx.peer("extra");
      expectCode(
        ctx,
        "ROOM-LIMIT-1",
        await room(ctx, "ROOM-LIMIT-1", alice, "invite", { roomId, roomPeerIds: [extra] }),
        FULL,
      );
      const joiner = await session(ctx, ctx.peer("joiner"));
      expectCode(
        ctx,
        "ROOM-LIMIT-1",
        await room(ctx, "ROOM-LIMIT-1", joiner, "join", { roomId }),
        FULL,
      );
      const members = await membersOf(ctx, "ROOM-LIMIT-1", alice, roomId);
      ctx.expectEqual(
        "ROOM-LIMIT-1",
        members.length,
        ROOM_MEMBER_LIMIT,
        "the member count after the refused commands",
      );
      ctx.expect(
        "ROOM-LIMIT-1",
        !members.includes(extra) && !members.includes(joiner.peerId),
        "a refused peer became a member",
        {
          expected: "neither the refused invitee nor the refused joiner",
          actual: members.filter((p) => p === extra || p === joiner.peerId).join(", "),
        },
      );
      // Naming only members of a full group adds nobody: the group stays at 500, no error.
      const again = await invite(ctx, alice, roomId, [many[0] as string], "ROOM-LIMIT-1");
      ctx.expectEqual(
        "ROOM-LIMIT-1",
        again.roomPeerIds,
        [],
        "an invite of a member into a full group",
      );
    },
  }),
  defineCase({
    name: "room/limit/overflowing-invite-fails-whole",
    requirements: ["ROOM-LIMIT-1"],
    features: ["room-query"],
    async run(ctx) {
      // 498 members; an invite of 3 would make 501: it fails as a whole, adding none of
      // them, not the two that would fit. Then an invite of 2 fits exactly.
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await createRoom(ctx, alice);
      const many = Array.from({ length: ROOM_MEMBER_LIMIT - 3 }, (_, k) => ctx.peer(`m${k}`));
      await invite(ctx, alice, roomId, many, "ROOM-LIMIT-1");
      const three = [ctx.peer("x1"), ctx.peer("x2"), ctx.peer("x3")];
      expectCode(
        ctx,
        "ROOM-LIMIT-1",
        await room(ctx, "ROOM-LIMIT-1", alice, "invite", { roomId, roomPeerIds: three }),
        FULL,
      );
      const members = await membersOf(ctx, "ROOM-LIMIT-1", alice, roomId);
      ctx.expectEqual(
        "ROOM-LIMIT-1",
        members.length,
        ROOM_MEMBER_LIMIT - 2,
        "the member count after the refused invite",
      );
      const two = await invite(ctx, alice, roomId, three.slice(0, 2), "ROOM-LIMIT-1");
      ctx.expectEqual(
        "ROOM-LIMIT-1",
        two.roomPeerIds,
        three.slice(0, 2),
        "the invite that brings the group to 500",
      );
    },
  }),

  // ----- 4.3 who is told what (Table 2) -----
  defineCase({
    name: "room/join/create-tells-only-actor-sessions",
    requirements: ["ROOM-FANOUT-1", "ROOM-FANOUT-7"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const a1 = await session(ctx, alice);
      const a2 = await session(ctx, alice);
      const watcher = await session(ctx, ctx.peer("watcher"), { watch: [alice] });
      const reply = await room(ctx, "ROOM-CREATE-1", a1, "join");
      expectRoom(ctx, "ROOM-CREATE-1", reply, "joined", { byPeerId: alice });
      const roomId = String(reply.roomId);
      const copy = await event(ctx, "ROOM-FANOUT-1", a2, "joined", roomId);
      ctx.expectEqual("ROOM-FANOUT-1", copy.byPeerId, alice, "the byPeerId of the copy");
      ctx.expect("ROOM-FANOUT-1", copy.i === undefined, "the copy carries i", {
        expected: "no i",
        actual: show(copy),
      });
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-7",
        [a1, a2, watcher],
        "a frame a group creation does not call for (Table 2)",
      );
    },
  }),
  defineCase({
    name: "room/join/existing-group-fanout",
    requirements: ["ROOM-FANOUT-1", "ROOM-FANOUT-4", "ROOM-FANOUT-7"],
    async run(ctx) {
      const [alice, bob, carol] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("carol")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const b1 = await session(ctx, bob);
      const b2 = await session(ctx, bob);
      const c1 = await session(ctx, carol);
      const c2 = await session(ctx, carol);
      const watcher = await session(ctx, ctx.peer("watcher"), { watch: [carol] });
      await join(ctx, c1, roomId);
      const copy = await event(ctx, "ROOM-FANOUT-1", c2, "joined", roomId);
      ctx.expect(
        "ROOM-FANOUT-1",
        copy.byPeerId === carol && copy.i === undefined,
        "the copy of the join's reply",
        {
          expected: `room/joined byPeerId ${carol} without i`,
          actual: show(copy),
        },
      );
      for (const m of [a1, b1, b2]) {
        const e = await event(ctx, "ROOM-FANOUT-4", m, "members-joined", roomId);
        ctx.expectEqual(
          "ROOM-FANOUT-4",
          e.roomPeerIds,
          [carol],
          "the roomPeerIds of room/members-joined",
        );
        ctx.expectEqual("ROOM-FANOUT-4", e.byPeerId, carol, "the byPeerId of room/members-joined");
      }
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-7",
        [a1, b1, b2, c1, c2, watcher],
        "a frame a join does not call for (Table 2)",
      );
    },
  }),
  defineCase({
    name: "room/invite/fanout",
    requirements: ["ROOM-FANOUT-1", "ROOM-FANOUT-2", "ROOM-FANOUT-4", "ROOM-FANOUT-7"],
    async run(ctx) {
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((n) =>
        ctx.peer(n),
      ) as [string, string, string, string];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const a2 = await session(ctx, alice);
      const b1 = await session(ctx, bob);
      const c1 = await session(ctx, carol);
      const c2 = await session(ctx, carol);
      const d1 = await session(ctx, dave);
      const watcher = await session(ctx, ctx.peer("watcher"), { watch: [alice] });
      const reply = await invite(ctx, a1, roomId, [carol, dave]);
      const copy = await event(ctx, "ROOM-FANOUT-1", a2, "invited", roomId);
      ctx.expect("ROOM-FANOUT-1", copy.i === undefined, "the copy carries i", {
        expected: "no i",
        actual: show(copy),
      });
      ctx.expectEqual(
        "ROOM-FANOUT-1",
        sorted(copy.roomPeerIds),
        sorted(reply.roomPeerIds),
        "the roomPeerIds of the copy",
      );
      for (const m of [c1, c2, d1]) {
        const e = await event(ctx, "ROOM-FANOUT-2", m, "joined", roomId);
        ctx.expectEqual(
          "ROOM-FANOUT-2",
          e.byPeerId,
          alice,
          "the byPeerId of an invitee's room/joined",
        );
      }
      const e = await event(ctx, "ROOM-FANOUT-4", b1, "members-joined", roomId);
      ctx.expectEqual(
        "ROOM-FANOUT-4",
        sorted(e.roomPeerIds),
        sorted([carol, dave]),
        "the roomPeerIds of room/members-joined",
      );
      ctx.expectEqual("ROOM-FANOUT-4", e.byPeerId, alice, "the byPeerId of room/members-joined");
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-7",
        [a1, a2, b1, c1, c2, d1, watcher],
        "a frame an invite does not call for (Table 2)",
      );
    },
  }),
  defineCase({
    name: "room/kick/fanout",
    requirements: ["ROOM-FANOUT-1", "ROOM-FANOUT-3", "ROOM-FANOUT-5", "ROOM-FANOUT-7"],
    async run(ctx) {
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((n) =>
        ctx.peer(n),
      ) as [string, string, string, string];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob, carol, dave]);
      const a2 = await session(ctx, alice);
      const b1 = await session(ctx, bob);
      const b2 = await session(ctx, bob);
      const c1 = await session(ctx, carol);
      const d1 = await session(ctx, dave);
      const watcher = await session(ctx, ctx.peer("watcher"), { watch: [alice] });
      const reply = await kick(ctx, a1, roomId, [bob, carol]);
      ctx.expectEqual(
        "ROOM-KICK-1",
        sorted(reply.roomPeerIds),
        sorted([bob, carol]),
        "the peers room/kicked lists",
      );
      const copy = await event(ctx, "ROOM-FANOUT-1", a2, "kicked", roomId);
      ctx.expect("ROOM-FANOUT-1", copy.i === undefined, "the copy carries i", {
        expected: "no i",
        actual: show(copy),
      });
      ctx.expectEqual(
        "ROOM-FANOUT-1",
        sorted(copy.roomPeerIds),
        sorted([bob, carol]),
        "the roomPeerIds of the copy",
      );
      for (const m of [b1, b2, c1]) {
        const e = await event(ctx, "ROOM-FANOUT-3", m, "left", roomId);
        ctx.expectEqual(
          "ROOM-FANOUT-3",
          e.byPeerId,
          alice,
          "the byPeerId of a kicked peer's room/left",
        );
      }
      const e = await event(ctx, "ROOM-FANOUT-5", d1, "members-left", roomId);
      ctx.expectEqual(
        "ROOM-FANOUT-5",
        sorted(e.roomPeerIds),
        sorted([bob, carol]),
        "the roomPeerIds of room/members-left",
      );
      ctx.expectEqual("ROOM-FANOUT-5", e.byPeerId, alice, "the byPeerId of room/members-left");
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-7",
        [a1, a2, b1, b2, c1, d1, watcher],
        "a frame a kick does not call for (Table 2)",
      );
    },
  }),
  defineCase({
    name: "room/leave/fanout",
    requirements: ["ROOM-FANOUT-1", "ROOM-FANOUT-5", "ROOM-FANOUT-7"],
    async run(ctx) {
      const [alice, bob, carol] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("carol")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob, carol]);
      const b1 = await session(ctx, bob);
      const b2 = await session(ctx, bob);
      const c1 = await session(ctx, carol);
      const watcher = await session(ctx, ctx.peer("watcher"), { watch: [bob] });
      await leave(ctx, b1, roomId);
      const copy = await event(ctx, "ROOM-FANOUT-1", b2, "left", roomId);
      ctx.expect(
        "ROOM-FANOUT-1",
        copy.byPeerId === bob && copy.i === undefined,
        "the copy of the leave's reply",
        {
          expected: `room/left byPeerId ${bob} without i`,
          actual: show(copy),
        },
      );
      for (const m of [a1, c1]) {
        const e = await event(ctx, "ROOM-FANOUT-5", m, "members-left", roomId);
        ctx.expectEqual(
          "ROOM-FANOUT-5",
          e.roomPeerIds,
          [bob],
          "the roomPeerIds of room/members-left",
        );
        ctx.expectEqual("ROOM-FANOUT-5", e.byPeerId, bob, "the byPeerId of room/members-left");
      }
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-7",
        [a1, b1, b2, c1, watcher],
        "a frame a leave does not call for (Table 2)",
      );
    },
  }),
  defineCase({
    name: "room/fanout/no-change-only-reply",
    requirements: ["ROOM-FANOUT-6"],
    async run(ctx) {
      // A join by a member, an invite of members only, a kick of a non-member and of the
      // caller: each gets its reply, and nobody (not even the actor's other session) gets
      // anything else.
      const [alice, bob] = [ctx.peer("alice"), ctx.peer("bob")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const a2 = await session(ctx, alice);
      const b1 = await session(ctx, bob);
      expectRoom(
        ctx,
        "ROOM-JOIN-3",
        await room(ctx, "ROOM-FANOUT-6", a1, "join", { roomId }),
        "joined",
        { roomId, byPeerId: alice },
      );
      const invited = await invite(ctx, a1, roomId, [bob, alice], "ROOM-FANOUT-6");
      ctx.expectEqual(
        "ROOM-INVITE-1",
        invited.roomPeerIds,
        [],
        "the peers an invite of members added",
      );
      const kicked = await kick(ctx, a1, roomId, [ctx.peer("nobody"), alice], "ROOM-FANOUT-6");
      ctx.expectEqual(
        "ROOM-KICK-1",
        kicked.roomPeerIds,
        [],
        "the peers a kick of a non-member and oneself removed",
      );
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-6",
        [a1, a2, b1],
        "a frame because of a membership command that changed nothing",
      );
    },
  }),
  defineCase({
    name: "room/fanout/not-to-later-sessions",
    requirements: ["ROOM-FANOUT-8"],
    async run(ctx) {
      // Events go to the sessions open at the time; they are not stored for later ones: not
      // a members-joined bob's first session saw, not the room/joined of dave's invitation.
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((n) =>
        ctx.peer(n),
      ) as [string, string, string, string];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const b1 = await session(ctx, bob);
      const c1 = await session(ctx, carol);
      await join(ctx, c1, roomId);
      await event(ctx, "ROOM-FANOUT-4", b1, "members-joined", roomId);
      await invite(ctx, a1, roomId, [dave]);
      await event(ctx, "ROOM-FANOUT-4", b1, "members-joined", roomId);
      const b2 = await session(ctx, bob);
      const d1 = await session(ctx, dave);
      await nothingElseFor(
        ctx,
        "ROOM-FANOUT-8",
        [b2, d1],
        "a membership event from before the session opened",
      );
    },
  }),

  // ----- 4.4 group messages -----
  defineCase({
    name: "room/direct/non-member-refused",
    requirements: ["ROOM-MSG-1", "DIRECT-REJECT-1"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await group(ctx, alice);
      const stranger = await session(ctx, ctx.peer("stranger"));
      const answer = await ctx.request("ROOM-MSG-1", stranger.conn, {
        cmd: "direct",
        appId: ctx.appId(),
        peerId: stranger.peerId,
        msg: "not a member",
        roomId,
      });
      expectCode(ctx, "ROOM-MSG-1", answer, NOT_MEMBER);
      await nothingElseFor(
        ctx,
        "DIRECT-REJECT-1",
        [alice],
        "the delivery of a refused group message",
      );
    },
  }),
  defineCase({
    name: "room/direct/delivers-to-members",
    requirements: ["ROOM-MSG-2", "DIRECT-ONLY-1"],
    async run(ctx) {
      // Every open session of every member but the sender, with roomId; nobody else, not a
      // non-member and not a member that was kicked before the message.
      const [alice, bob, carol, eve] = ["alice", "bob", "carol", "eve"].map((n) => ctx.peer(n)) as [
        string,
        string,
        string,
        string,
      ];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob, carol, eve]);
      await kick(ctx, a1, roomId, [eve]);
      const b1 = await session(ctx, bob);
      const b2 = await session(ctx, bob);
      const c1 = await session(ctx, carol);
      const e1 = await session(ctx, eve);
      const outsider = await session(ctx, ctx.peer("outsider"));
      const msg = `to the group ${ctx.nonce()}`;
      const ack = await sendToRoom(ctx, a1, roomId, msg);
      for (const m of [b1, b2, c1]) {
        const got = await ctx.waitFor(
          "ROOM-MSG-2",
          m.conn,
          deliveryOf(roomId, msg),
          `the group message for ${m.peerId}`,
        );
        ctx.expectEqual("ROOM-MSG-2", got.fromPeerId, alice, "the fromPeerId of the group message");
        ctx.expectEqual("ROOM-MSG-2", got.peerId, m.peerId, "the peerId of the group message");
        ctx.expectEqual(
          "ROOM-MSG-2",
          got.id,
          ack.uid,
          "the id of the group message against the ack's uid",
        );
      }
      await nothingElseFor(
        ctx,
        "DIRECT-ONLY-1",
        [e1, outsider],
        "the delivery of a group message to a non-member",
      );
    },
  }),
  defineCase({
    name: "room/direct/echoes-to-sender-sessions",
    requirements: ["ROOM-MSG-2", "ECHO-OTHER-2", "ECHO-OFF-1", "ECHO-NOTSELF-1"],
    features: ["echo"],
    async run(ctx) {
      const [alice, bob] = [ctx.peer("alice"), ctx.peer("bob")];
      const a1 = await session(ctx, alice, { echo: true });
      const roomId = await group(ctx, a1, [bob]);
      const a2 = await session(ctx, alice, { echo: true });
      const a3 = await session(ctx, alice);
      const b1 = await session(ctx, bob);
      const msg = `echoed ${ctx.nonce()}`;
      await sendToRoom(ctx, a1, roomId, msg);
      await ctx.waitFor(
        "ROOM-MSG-2",
        b1.conn,
        deliveryOf(roomId, msg),
        "the group message for bob",
      );
      const echo = await ctx.waitFor(
        "ECHO-OTHER-2",
        a2.conn,
        deliveryOf(roomId, msg),
        "the echo on the sender's other session",
      );
      ctx.expect(
        "ECHO-OTHER-2",
        echo.fromPeerId === alice && echo.peerId === alice,
        "the echo's fromPeerId and peerId",
        {
          expected: `fromPeerId and peerId ${alice}`,
          actual: show(echo),
        },
      );
      await nothingElse(
        ctx,
        [
          // The sending session asked for echo too, but never gets its own message.
          { m: a1, requirement: "ECHO-NOTSELF-1" },
          { m: a3, requirement: "ECHO-OFF-1" },
        ],
        "the group message on a session that must not get it",
      );
    },
  }),
  defineCase({
    name: "room/direct/pending-for-offline-members",
    requirements: ["ROOM-MSG-3"],
    features: ["offline"],
    async run(ctx) {
      // alice sends m1 while bob and carol are offline, then goes offline herself; dave, a
      // member, sends m2. bob and carol find both pending; alice finds m2 only (the sender's
      // own message is never pending for her).
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((n) =>
        ctx.peer(n),
      ) as [string, string, string, string];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob, carol, dave]);
      const d1 = await session(ctx, dave);
      const m1 = `first ${ctx.nonce()}`;
      const ack1 = await sendToRoom(ctx, a1, roomId, m1);
      await a1.conn.close();
      const m2 = `second ${ctx.nonce()}`;
      const ack2 = await sendToRoom(ctx, d1, roomId, m2);
      for (const peer of [bob, carol]) {
        const m = await session(ctx, peer);
        for (const [msg, ack] of [
          [m1, ack1],
          [m2, ack2],
        ] as const) {
          const got = await ctx.waitFor(
            "ROOM-MSG-3",
            m.conn,
            deliveryOf(roomId, msg),
            `the pending group message "${msg}" for ${peer}`,
          );
          ctx.expect(
            "ROOM-MSG-3",
            got.offline === true && got.id === ack.uid,
            "the pending group message",
            {
              expected: `offline: true, id ${String(ack.uid)}`,
              actual: show(got),
            },
          );
        }
      }
      const a2 = await session(ctx, alice);
      await ctx.waitFor(
        "ROOM-MSG-3",
        a2.conn,
        deliveryOf(roomId, m2),
        "dave's group message, pending for alice",
      );
      await ctx.expectNone(
        "ROOM-MSG-3",
        a2.conn,
        deliveryOf(roomId, m1),
        "the sender's own group message from the offline store",
      );
    },
  }),
  defineCase({
    name: "room/direct/pending-decided-at-acceptance",
    requirements: ["ROOM-MSG-3"],
    features: ["offline"],
    async run(ctx) {
      // erin joins between m1 and m2: m2 is pending for her, m1 is not.
      const [alice, bob, erin] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("erin")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const m1 = `before erin ${ctx.nonce()}`;
      await sendToRoom(ctx, a1, roomId, m1);
      await invite(ctx, a1, roomId, [erin]);
      const m2 = `after erin ${ctx.nonce()}`;
      await sendToRoom(ctx, a1, roomId, m2);
      const e1 = await session(ctx, erin);
      const got = await ctx.waitFor(
        "ROOM-MSG-3",
        e1.conn,
        deliveryOf(roomId, m2),
        "the group message sent after erin joined",
      );
      ctx.expectEqual(
        "ROOM-MSG-3",
        got.offline,
        true,
        "the offline flag of the pending group message",
      );
      await ctx.expectNone(
        "ROOM-MSG-3",
        e1.conn,
        deliveryOf(roomId, m1),
        "a group message sent before erin was a member",
      );
      const b1 = await session(ctx, bob);
      await ctx.waitFor(
        "ROOM-MSG-3",
        b1.conn,
        deliveryOf(roomId, m1),
        "the first group message, pending for bob",
      );
      await ctx.waitFor(
        "ROOM-MSG-3",
        b1.conn,
        deliveryOf(roomId, m2),
        "the second group message, pending for bob",
      );
    },
  }),
  defineCase({
    name: "room/direct/signed-member-needs-no-watch",
    requirements: ["ROOM-MSG-4"],
    async run(ctx) {
      // Under enforced signatures a peer-to-peer direct needs the watch set (DIRECT-PERM-2);
      // a group direct of a member does not: bob watches nobody.
      const alice = await session(ctx, ctx.peer("alice"), { role: "signed" });
      const bob = await session(ctx, ctx.peer("bob"), { role: "signed" });
      const roomId = await group(ctx, alice, [bob.peerId]);
      const msg = `signed group message ${ctx.nonce()}`;
      const ack = await ctx.request("ROOM-MSG-4", bob.conn, {
        cmd: "direct",
        appId: ctx.appId("signed"),
        peerId: bob.peerId,
        msg,
        roomId,
      });
      ctx.expect("ROOM-MSG-4", ack.cmd === "ack", "a member's group direct was refused", {
        expected: "ack",
        actual: show(ack),
      });
      await ctx.waitFor(
        "ROOM-MSG-2",
        alice.conn,
        deliveryOf(roomId, msg),
        "bob's group message for alice",
      );
    },
  }),
  defineCase({
    name: "room/direct/removed-member-keeps-pending",
    requirements: ["ROOM-MSG-5"],
    features: ["offline"],
    async run(ctx) {
      // bob, offline, is kicked with m pending; carol reads m live (without acknowledging
      // it, so it stays pending, OFFLINE-LIVE-1), leaves, and opens again. Both still get m.
      const [alice, bob, carol] = [ctx.peer("alice"), ctx.peer("bob"), ctx.peer("carol")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob, carol]);
      const c1 = await session(ctx, carol);
      const msg = `kept pending ${ctx.nonce()}`;
      const ack = await sendToRoom(ctx, a1, roomId, msg);
      await ctx.waitFor(
        "ROOM-MSG-2",
        c1.conn,
        deliveryOf(roomId, msg),
        "the group message, live for carol",
      );
      await kick(ctx, a1, roomId, [bob]);
      await leave(ctx, c1, roomId);
      await c1.conn.close();
      for (const peer of [bob, carol]) {
        const m = await session(ctx, peer);
        const got = await ctx.waitFor(
          "ROOM-MSG-5",
          m.conn,
          deliveryOf(roomId, msg),
          `the pending group message for ${peer}, no longer a member`,
        );
        ctx.expect(
          "ROOM-MSG-5",
          got.offline === true && got.id === ack.uid,
          "the pending group message",
          {
            expected: `offline: true, id ${String(ack.uid)}`,
            actual: show(got),
          },
        );
      }
    },
  }),

  // ----- 4.5 membership queries -----
  defineCase({
    name: "room/query/lists-members",
    requirements: ["ROOM-QUERY-1"],
    features: ["room-query"],
    async run(ctx) {
      const [alice, bob, carol, dave] = ["alice", "bob", "carol", "dave"].map((n) =>
        ctx.peer(n),
      ) as [string, string, string, string];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob, carol, dave]);
      await kick(ctx, a1, roomId, [dave]);
      // carol, who did not create the group, asks: every member, each once, herself included.
      const c1 = await session(ctx, carol);
      const reply = await room(ctx, "ROOM-QUERY-1", c1, "query", { roomId });
      expectRoom(ctx, "ROOM-QUERY-1", reply, "query-result", { roomId });
      ctx.expectEqual(
        "ROOM-QUERY-1",
        sorted(reply.roomPeerIds),
        sorted([alice, bob, carol]),
        "the members room/query-result lists",
      );
      // The membership when the query is handled: bob is gone once kicked.
      await kick(ctx, a1, roomId, [bob]);
      await expectMembers(
        ctx,
        "ROOM-QUERY-1",
        c1,
        roomId,
        [alice, carol],
        "the members after bob was kicked",
      );
    },
  }),
  defineCase({
    name: "room/query/unknown-and-non-member",
    requirements: ["ROOM-QUERY-2"],
    features: ["room-query"],
    async run(ctx) {
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = await session(ctx, ctx.peer("bob"));
      const roomId = await group(ctx, alice, [bob.peerId]);
      expectCode(
        ctx,
        "ROOM-QUERY-2",
        await room(ctx, "ROOM-QUERY-2", alice, "query", { roomId: ctx.peer("no-such-group") }),
        NOT_FOUND,
      );
      const stranger = await session(ctx, ctx.peer("stranger"));
      expectCode(
        ctx,
        "ROOM-QUERY-2",
        await room(ctx, "ROOM-QUERY-2", stranger, "query", { roomId }),
        NOT_MEMBER,
      );
      await leave(ctx, bob, roomId);
      expectCode(
        ctx,
        "ROOM-QUERY-2",
        await room(ctx, "ROOM-QUERY-2", bob, "query", { roomId }),
        NOT_MEMBER,
      );
    },
  }),
  defineCase({
    name: "room/query/changes-and-sends-nothing",
    requirements: ["ROOM-QUERY-3"],
    features: ["room-query"],
    async run(ctx) {
      const [alice, bob] = [ctx.peer("alice"), ctx.peer("bob")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const a2 = await session(ctx, alice);
      const b1 = await session(ctx, bob);
      const before = await membersOf(ctx, "ROOM-QUERY-1", a1, roomId);
      await nothingElseFor(ctx, "ROOM-QUERY-3", [a1, a2, b1], "a frame because of a room/query");
      await expectMembers(
        ctx,
        "ROOM-QUERY-3",
        b1,
        roomId,
        before,
        "the members after a room/query",
      );
    },
  }),

  // ----- 4.6 a peer's groups -----
  defineCase({
    name: "room/list/pages-in-byte-order",
    requirements: ["ROOM-LIST-1", "ROOM-LIST-4"],
    features: ["room-list"],
    async run(ctx) {
      // bob is in five groups (three by invitation, two of his own), left a sixth, and is
      // not in a seventh: the five, in byte order, paged by after and limit.
      const alice = await session(ctx, ctx.peer("alice"));
      const bob = await session(ctx, ctx.peer("bob"));
      const mine: string[] = [];
      for (let k = 0; k < 3; k++) mine.push(await group(ctx, alice, [bob.peerId]));
      for (let k = 0; k < 2; k++) mine.push(await createRoom(ctx, bob));
      const left = await group(ctx, alice, [bob.peerId]);
      await leave(ctx, bob, left);
      await group(ctx, alice);
      const ids = sorted(mine);
      const list = async (fields: Frame, requirement: string) => {
        const reply = await ctx.request(requirement, bob.conn, {
          ...roomFrame(ctx, bob, "list"),
          ...fields,
        });
        expectRoom(ctx, requirement, reply, "list-result");
        return reply;
      };
      const page = async (fields: Frame, roomIds: string[], more: boolean) => {
        const reply = await list(fields, "ROOM-LIST-1");
        ctx.expectEqual(
          "ROOM-LIST-1",
          reply.roomIds,
          roomIds,
          `the roomIds of room/list ${JSON.stringify(fields)}`,
        );
        ctx.expectEqual(
          "ROOM-LIST-4",
          reply.more,
          more,
          `the more of room/list ${JSON.stringify(fields)}`,
        );
      };
      const at = (k: number) => ids[k] as string;
      await page({}, ids, false);
      await page({ limit: 2 }, ids.slice(0, 2), true);
      await page({ after: at(1), limit: 2 }, ids.slice(2, 4), true);
      await page({ after: at(3), limit: 2 }, ids.slice(4), false);
      await page({ limit: 5 }, ids, false);
      await page({ limit: 4 }, ids.slice(0, 4), true);
      // after need not name a group: "!" sorts below every character of a group id.
      await page({ after: `${at(1)}!` }, ids.slice(2), false);
      await page({ after: at(4) }, [], false);
      await page({ after: "~" }, [], false);
    },
  }),
  defineCase({
    name: "room/list/default-limit-100",
    requirements: ["ROOM-LIST-2", "ROOM-LIST-4"],
    features: ["room-list"],
    timeoutMs: 30_000,
    async run(ctx) {
      // 101 groups: without limit, the first 100 and more: true.
      const bob = await session(ctx, ctx.peer("bob"));
      const mine: string[] = [];
      for (let k = 0; k < 101; k++) mine.push(await createRoom(ctx, bob));
      const ids = sorted(mine);
      const first = await room(ctx, "ROOM-LIST-2", bob, "list");
      expectRoom(ctx, "ROOM-LIST-2", first, "list-result");
      ctx.expectEqual(
        "ROOM-LIST-2",
        first.roomIds,
        ids.slice(0, 100),
        "the roomIds of room/list without limit",
      );
      ctx.expectEqual("ROOM-LIST-4", first.more, true, "the more of the first page");
      const rest = await ctx.request("ROOM-LIST-1", bob.conn, {
        ...roomFrame(ctx, bob, "list"),
        after: ids[99],
      });
      ctx.expectEqual(
        "ROOM-LIST-1",
        rest.roomIds,
        ids.slice(100),
        "the roomIds of the second page",
      );
      ctx.expectEqual("ROOM-LIST-4", rest.more, false, "the more of the last page");
    },
  }),
  defineCase({
    name: "room/list/refuses-bad-limit",
    requirements: ["ROOM-LIST-3"],
    async run(ctx) {
      const bob = await session(ctx, ctx.peer("bob"));
      for (const limit of [0, 501, -1, 2.5, "10", null]) {
        await expectInvalidRefused(
          ctx,
          "ROOM-LIST-3",
          bob.conn,
          { ...roomFrame(ctx, bob, "list"), limit },
          `a room/list with limit ${JSON.stringify(limit)}`,
        );
      }
      // The bounds themselves are valid.
      for (const limit of [1, 500]) {
        const reply = await ctx.request("ROOM-LIST-3", bob.conn, {
          ...roomFrame(ctx, bob, "list"),
          limit,
        });
        expectRoom(ctx, "ROOM-LIST-3", reply, "list-result");
      }
    },
  }),
  defineCase({
    name: "room/list/changes-and-sends-nothing",
    requirements: ["ROOM-LIST-5"],
    features: ["room-list"],
    async run(ctx) {
      const [alice, bob] = [ctx.peer("alice"), ctx.peer("bob")];
      const a1 = await session(ctx, alice);
      const roomId = await group(ctx, a1, [bob]);
      const a2 = await session(ctx, alice);
      const b1 = await session(ctx, bob);
      const reply = await room(ctx, "ROOM-LIST-1", a1, "list");
      expectRoom(ctx, "ROOM-LIST-1", reply, "list-result", { roomIds: [roomId] });
      await nothingElseFor(ctx, "ROOM-LIST-5", [a1, a2, b1], "a frame because of a room/list");
      for (const m of [a1, b1]) {
        const again = await room(ctx, "ROOM-LIST-5", m, "list");
        expectRoom(ctx, "ROOM-LIST-5", again, "list-result", { roomIds: [roomId] });
      }
    },
  }),

  // ----- 4.7 REST -----
  defineCase({
    name: "room/rest-members/lists-members",
    requirements: ["REST-ROOMS-5"],
    features: ["rest-rooms"],
    async run(ctx) {
      const app = restApp(ctx);
      const [bob, carol] = [ctx.peer("bob"), ctx.peer("carol")];
      const alice = await session(ctx, ctx.peer("alice"), { role: app.role });
      const roomId = await group(ctx, alice, [bob, carol]);
      await kick(ctx, alice, roomId, [carol]);
      const answer = await restGet(ctx, "REST-ROOMS-5", app, membersPath(roomId));
      const body = expectOk(
        ctx,
        "REST-ROOMS-5",
        answer,
        "room-members-response",
        "the members of a group",
      );
      ctx.expectEqual("REST-ROOMS-5", body.roomId, roomId, "the roomId of the members");
      ctx.expectEqual(
        "REST-ROOMS-5",
        sorted(body.roomPeerIds),
        sorted([alice.peerId, bob]),
        "the roomPeerIds of the members",
      );
    },
  }),
  defineCase({
    name: "room/rest-members/unknown-group-404",
    requirements: ["REST-ROOMS-6"],
    features: ["rest-rooms"],
    async run(ctx) {
      const app = restApp(ctx);
      const answer = await restGet(
        ctx,
        "REST-ROOMS-6",
        app,
        membersPath(ctx.peer("no-such-group")),
      );
      expectHttpError(ctx, "REST-ROOMS-6", answer, 404, NOT_FOUND, "the members of no group");
      if (app.role !== "open") {
        // A group of another app is no group of this one.
        const other = await session(ctx, ctx.peer("alice"));
        const roomId = await group(ctx, other);
        const elsewhere = await restGet(ctx, "REST-ROOMS-6", app, membersPath(roomId));
        expectHttpError(
          ctx,
          "REST-ROOMS-6",
          elsewhere,
          404,
          NOT_FOUND,
          "the members of a group of another app",
        );
      }
    },
  }),
  defineCase({
    name: "room/rest-peer-rooms/pages",
    requirements: ["REST-ROOMS-7"],
    features: ["rest-rooms"],
    async run(ctx) {
      const app = restApp(ctx);
      // A peer id that needs percent-encoding: a "/" (sent as %2F), a space, non-ASCII.
      const bob = `${ctx.peer("bob")}/é ü`;
      const alice = await session(ctx, ctx.peer("alice"), { role: app.role });
      const mine: string[] = [];
      for (let k = 0; k < 3; k++) mine.push(await group(ctx, alice, [bob]));
      await group(ctx, alice);
      const ids = sorted(mine);
      const page = async (query: string, roomIds: string[], more: boolean) => {
        const answer = await restGet(ctx, "REST-ROOMS-7", app, peerRoomsPath(bob, query));
        const body = expectOk(
          ctx,
          "REST-ROOMS-7",
          answer,
          "peer-rooms-response",
          `the groups of a peer ${query}`,
        );
        const what = `the page ${query || "(no query)"}`;
        ctx.expectEqual("REST-ROOMS-7", body.peerId, bob, `the peerId of ${what}`);
        ctx.expectEqual("REST-ROOMS-7", body.roomIds, roomIds, `the roomIds of ${what}`);
        ctx.expectEqual("REST-ROOMS-7", body.more, more, `the more of ${what}`);
      };
      await page("", ids, false);
      await page("?limit=2", ids.slice(0, 2), true);
      await page(`?limit=2&after=${encodeURIComponent(ids[1] as string)}`, ids.slice(2), false);
      // limit is read as REST-INT-1 reads history's: "02" is 2.
      await page("?limit=02", ids.slice(0, 2), true);
      // A peer in no group: HTTP 200 and an empty page, never 404.
      const nobody = ctx.peer("nobody");
      const answer = await restGet(ctx, "REST-ROOMS-7", app, peerRoomsPath(nobody));
      const body = expectOk(
        ctx,
        "REST-ROOMS-7",
        answer,
        "peer-rooms-response",
        "the groups of a peer in none",
      );
      ctx.expectEqual(
        "REST-ROOMS-7",
        [body.peerId, body.roomIds, body.more],
        [nobody, [], false],
        "peerId, roomIds and more of a peer in no group",
      );
    },
  }),
  defineCase({
    name: "room/rest/app-from-header-or-param",
    requirements: ["REST-ROOMS-1"],
    features: ["rest-rooms"],
    async run(ctx) {
      const app = restApp(ctx);
      const appId = ctx.appId(app.role);
      const key = app.headers[KEY_HEADER];
      const keyOnly: Record<string, string> = key === undefined ? {} : { [KEY_HEADER]: key };
      const alice = await session(ctx, ctx.peer("alice"), { role: app.role });
      const roomId = await group(ctx, alice);
      for (const path of [membersPath(roomId), peerRoomsPath(alice.peerId)]) {
        const schema = path.includes("/members") ? "room-members-response" : "peer-rooms-response";
        // From the appId parameter when the header is absent; the header wins over it.
        const byParam = await restGet(
          ctx,
          "REST-ROOMS-1",
          app,
          `${path}?appId=${encodeURIComponent(appId)}`,
          keyOnly,
        );
        expectOk(ctx, "REST-ROOMS-1", byParam, schema, `${path} with the app in appId`);
        const unknown = ctx.target.apps.unknown ?? `${ctx.peer("no-app")}`;
        const headerWins = await restGet(
          ctx,
          "REST-ROOMS-1",
          app,
          `${path}?appId=${encodeURIComponent(unknown)}`,
        );
        expectOk(
          ctx,
          "REST-ROOMS-1",
          headerWins,
          schema,
          `${path} with the app in the header and another in appId`,
        );
        // No app, an app it does not serve, a disabled app, appId twice: 404, 4100.
        const refused: [string, string, Record<string, string>][] = [
          ["no app", path, keyOnly],
          ["an app it does not serve (header)", path, { ...keyOnly, [APP_HEADER]: unknown }],
          [
            "an app it does not serve (appId)",
            `${path}?appId=${encodeURIComponent(unknown)}`,
            keyOnly,
          ],
          [
            "appId twice",
            `${path}?appId=${encodeURIComponent(appId)}&appId=${encodeURIComponent(appId)}`,
            keyOnly,
          ],
        ];
        const disabled = ctx.target.apps.disabled;
        if (disabled !== undefined)
          refused.push(["a disabled app", path, { ...keyOnly, [APP_HEADER]: disabled }]);
        for (const [what, p, headers] of refused) {
          const answer = await ctx.http("REST-ROOMS-1", p, { headers });
          expectHttpError(
            ctx,
            "REST-ROOMS-1",
            answer,
            404,
            ERRORS.APP_NOT_AVAILABLE.code,
            `${p} naming ${what}`,
          );
        }
      }
    },
  }),
  defineCase({
    name: "room/rest/master-key-required",
    requirements: ["REST-ROOMS-2"],
    features: ["rest-rooms"],
    async run(ctx) {
      // The signed app has a master key (SIG-ALG-1 needs one): without it, or with another,
      // 401 and 4102; with it, 200.
      const appId = ctx.appId("signed");
      const key = ctx.masterKey;
      const alice = await session(ctx, ctx.peer("alice"), { role: "signed" });
      const roomId = await group(ctx, alice);
      for (const [path, schema] of [
        [membersPath(roomId), "room-members-response"],
        [peerRoomsPath(alice.peerId), "peer-rooms-response"],
      ] as const) {
        for (const [what, headers] of [
          ["no master key", { [APP_HEADER]: appId }],
          ["a wrong master key", { [APP_HEADER]: appId, [KEY_HEADER]: `${key}x` }],
          ["an empty master key", { [APP_HEADER]: appId, [KEY_HEADER]: "" }],
        ] as const) {
          const answer = await ctx.http("REST-ROOMS-2", path, { headers });
          expectHttpError(
            ctx,
            "REST-ROOMS-2",
            answer,
            401,
            ERRORS.SIGNATURE_FAILED.code,
            `${path} with ${what}`,
          );
        }
        const ok = await ctx.http("REST-ROOMS-2", path, {
          headers: { [APP_HEADER]: appId, [KEY_HEADER]: key },
        });
        expectOk(ctx, "REST-ROOMS-2", ok, schema, `${path} with the master key`);
      }
    },
  }),
  defineCase({
    name: "room/rest/no-master-key-authorized",
    requirements: ["REST-ROOMS-8"],
    features: ["rest-rooms"],
    async run(ctx) {
      // The open app of a kit-started server has no master key (the kit writes its
      // config); of a --url target the kit cannot know, so a 401 without a key there means
      // it has one: not applicable.
      const appId = ctx.appId();
      const alice = await session(ctx, ctx.peer("alice"));
      const roomId = await group(ctx, alice, [ctx.peer("bob")]);
      const paths = [
        [membersPath(roomId), "room-members-response"],
        [peerRoomsPath(alice.peerId), "peer-rooms-response"],
      ] as const;
      const probe = await ctx.http("REST-ROOMS-8", paths[0][0], {
        headers: { [APP_HEADER]: appId },
      });
      if (probe.status === 401 && ctx.target.kind === "url") {
        throw new NotApplicable(
          "the open app answers 401 without a key: it has a master key (REST-ROOMS-2 applies)",
        );
      }
      for (const [path, schema] of paths) {
        for (const [what, extra] of [
          ["no key", {}],
          ["some key", { [KEY_HEADER]: "not-a-key" }],
          ["an empty key", { [KEY_HEADER]: "" }],
        ] as const) {
          const answer = await ctx.http("REST-ROOMS-8", path, {
            headers: { [APP_HEADER]: appId, ...extra },
          });
          expectOk(
            ctx,
            "REST-ROOMS-8",
            answer,
            schema,
            `${path} of an app without a master key, with ${what}`,
          );
        }
      }
    },
  }),
  defineCase({
    name: "room/rest/bad-parameters-400",
    requirements: ["REST-ROOMS-3"],
    features: ["rest-rooms"],
    async run(ctx) {
      const app = restApp(ctx);
      const peer = encodeURIComponent(ctx.peer("alice"));
      const long = "x".repeat(65);
      const bad = [
        "/1.1/rtm/rooms/a%3Ab/members", // ':' is in no id (LIMIT-ID-1)
        "/1.1/rtm/rooms/a%01b/members", // a control character
        `/1.1/rtm/rooms/${long}/members`, // 65 code points
        "/1.1/rtm/rooms/%E0%A4%A/members", // a broken percent-encoding
        "/1.1/rtm/rooms/%FF/members", // not UTF-8
        "/1.1/rtm/peers/a%3Ab/rooms",
        `/1.1/rtm/peers/${long}/rooms`,
        "/1.1/rtm/peers/%C3/rooms", // a truncated UTF-8 sequence
        `/1.1/rtm/peers/${peer}/rooms?limit=0`,
        `/1.1/rtm/peers/${peer}/rooms?limit=501`,
        `/1.1/rtm/peers/${peer}/rooms?limit=-1`,
        `/1.1/rtm/peers/${peer}/rooms?limit=1e2`,
        `/1.1/rtm/peers/${peer}/rooms?limit=1.0`,
        `/1.1/rtm/peers/${peer}/rooms?limit=`, // empty is present and invalid
        `/1.1/rtm/peers/${peer}/rooms?limit=2&limit=3`, // twice has no one value
        `/1.1/rtm/peers/${peer}/rooms?after=a%3Ab`,
        `/1.1/rtm/peers/${peer}/rooms?after=`,
        `/1.1/rtm/peers/${peer}/rooms?after=${long}`,
        `/1.1/rtm/peers/${peer}/rooms?after=a&after=b`,
      ];
      for (const path of bad) {
        const answer = await restGet(ctx, "REST-ROOMS-3", app, path);
        expectHttpError(ctx, "REST-ROOMS-3", answer, 400, ERRORS.INVALID_FRAME.code, path);
      }
    },
  }),
  defineCase({
    name: "room/rest/check-order",
    requirements: ["REST-ROOMS-4"],
    features: ["rest-rooms"],
    async run(ctx) {
      // app (404, 4100), then key (401, 4102), then parameters (400, 4114), then group
      // (404, 4404): each request fails several checks and must get the first.
      const appId = ctx.appId("signed");
      const key = ctx.masterKey;
      const unknown = ctx.target.apps.unknown ?? ctx.peer("no-app");
      const badId = "/1.1/rtm/rooms/a%3Ab/members";
      const noGroup = membersPath(ctx.peer("no-such-group"));
      const badLimit = `${peerRoomsPath(ctx.peer("alice"))}?limit=0`;
      const cases: [string, string, Record<string, string>, number, number][] = [
        [
          "unknown app, no key, bad id",
          badId,
          { [APP_HEADER]: unknown },
          404,
          ERRORS.APP_NOT_AVAILABLE.code,
        ],
        [
          "unknown app, no key, no group",
          noGroup,
          { [APP_HEADER]: unknown },
          404,
          ERRORS.APP_NOT_AVAILABLE.code,
        ],
        ["no key, bad id", badId, { [APP_HEADER]: appId }, 401, ERRORS.SIGNATURE_FAILED.code],
        ["no key, bad limit", badLimit, { [APP_HEADER]: appId }, 401, ERRORS.SIGNATURE_FAILED.code],
        ["no key, no group", noGroup, { [APP_HEADER]: appId }, 401, ERRORS.SIGNATURE_FAILED.code],
        [
          "key, bad id",
          badId,
          { [APP_HEADER]: appId, [KEY_HEADER]: key },
          400,
          ERRORS.INVALID_FRAME.code,
        ],
        ["key, no group", noGroup, { [APP_HEADER]: appId, [KEY_HEADER]: key }, 404, NOT_FOUND],
      ];
      for (const [what, path, headers, status, code] of cases) {
        const answer = await ctx.http("REST-ROOMS-4", path, { headers });
        expectHttpError(ctx, "REST-ROOMS-4", answer, status, code, `${what}: ${path}`);
      }
    },
  }),
];
