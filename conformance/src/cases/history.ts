/**
 * Cases of chapter 05, history: conversation ids (5.1), what a history item holds (5.2),
 * order, cursors, page sizes and the byte bound of a page (5.3), the socket `logs` command
 * and who may use it (5.4), and the REST endpoint `GET /1.1/rtm/messages/logs` (5.5): its
 * app, master key, parameters, filters and rate.
 *
 * History is read back over the wire only. A case sends its own messages between fresh
 * peers, learns each message's id and acceptance time from its `ack` (ACK-REPLY-1), and
 * compares what the server returns with what those acks imply: the order and the pages
 * are computed by the kit from the acks, never taken from the server. Queries that span
 * the whole app (REST-ALL-1) see the messages of concurrent cases too, so they are bounded
 * by the case's own timestamps and look for the case's own messages only.
 *
 * The REST cases use the open app, which a kit-started server serves without a master key;
 * against a `--url` target whose open app has a key the kit does not know they are not
 * applicable (REST-AUTH-2 says nothing about such an app).
 * @module
 */
import { createHash } from "node:crypto";
import { httpValidators, LOGS_MAX_PAGE_BYTES } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { CaseContext, HttpAnswer } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";
import {
  APP_HEADER,
  expectHttpError,
  expectInvalidRefused,
  type Frame,
  KEY_HEADER,
} from "./support.js";

// ---- helpers ---------------------------------------------------------------------------

/** One history item (schemas: `LogItem`). */
interface Item {
  readonly timestamp: number;
  readonly "conv-id": string;
  readonly data: string;
  readonly from: string;
  readonly "msg-id": string;
  readonly "is-conv": boolean;
  readonly "is-room": boolean;
  readonly to: string;
}

/** A peer of a case with its open session. */
interface Peer {
  readonly id: string;
  readonly conn: Connection;
  /** Whether the session is on the shortened-limits server. */
  readonly short: boolean;
}

/** What the kit knows of a message it sent, from its frame and its `ack`. */
interface Sent {
  /** The message id, the `uid` of the ack. */
  readonly id: string;
  /** The acceptance time, the `t` of the ack. */
  readonly t: number;
  readonly from: string;
  readonly msg: string;
  /** The conversation id the kit expects (CONVID-PEER-1, CONVID-ROOM-1). */
  readonly cid: string;
}

/** Where a message goes: peers or a group. */
type Target = { readonly toPeerIds: readonly string[] } | { readonly roomId: string };

/** The REST history path. */
const LOGS_PATH = "/1.1/rtm/messages/logs";

/** The lowercase hex MD5 of the UTF-8 bytes of `text`. */
function md5(text: string): string {
  return createHash("md5").update(text, "utf8").digest("hex");
}

/**
 * The conversation id of a peer message, computed by the kit as CONVID-PEER-1 says: the
 * distinct participants, sorted by UTF-16 code units (JavaScript's default sort), joined
 * with `:`, MD5 in lowercase hex.
 */
function cidOf(participants: readonly string[]): string {
  return md5([...new Set(participants)].sort().join(":"));
}

// Table 3 of the spec, recomputed: a kit whose conversation ids are wrong would grade
// servers against its own mistake, so it refuses to run (a harness error, not a fault).
for (const [peers, cid] of [
  [["u1234", "u0988"], "bcd26a54e98687390b0abb4d83683d4b"],
  [["carol", "alice", "bob"], "b4885080cef7b663d07dd787a772979f"],
  [["bob", "alice", "bob"], "ed9880ad9bae7f2bd9f978cf6c279fc8"],
  [["alice", "Zoe"], "3536eb02a077300cdf0d684e60b36d66"],
  [["😀", "Ａ"], "8994209978510315589956b62ea5cec2"],
] as const) {
  if (cidOf(peers) !== cid)
    throw new HarnessError(`the kit's conversation id of ${peers.join(" ")} is not ${cid}`);
}

/** The UTF-8 bytes of `text`. */
function bytes(text: string): Buffer {
  return Buffer.from(text, "utf8");
}

/** A message's place in history: its timestamp and id. */
interface Key {
  readonly t: number;
  readonly id: string;
}

/** The key of an item. */
function keyOf(item: Item): Key {
  return { t: item.timestamp, id: item["msg-id"] };
}

/**
 * History order (LOGS-ORDER-1): newest first by timestamp, then by `msg-id` compared as
 * byte strings, descending. Negative when `a` comes before `b`.
 */
function historyOrder(a: Key, b: Key): number {
  return b.t - a.t || Buffer.compare(bytes(b.id), bytes(a.id));
}

/** Whether `k` is before the cursor (LOGS-CURSOR-1, LOGS-CURSOR-2); no cursor: always. */
function beforeCursor(k: Key, maxTs: number | undefined, msgid: string | undefined): boolean {
  if (maxTs === undefined) return true;
  if (msgid === undefined) return k.t < maxTs;
  return k.t < maxTs || (k.t === maxTs && Buffer.compare(bytes(k.id), bytes(msgid)) < 0);
}

/**
 * The page the spec defines for a query over `sent`, computed by the kit: the items before
 * the cursor, in history order, the first `limit` of them (100 without one, LOGS-LIMIT-1).
 * The byte bound never ends the pages of these cases, except where a case says so.
 */
function expectedPage(
  sent: readonly Sent[],
  q: { max_ts?: number; msgid?: string; limit?: number } = {},
): string[] {
  return sent
    .filter((m) => beforeCursor(m, q.max_ts, q.msgid))
    .sort(historyOrder)
    .slice(0, q.limit ?? 100)
    .map((m) => m.id);
}

/** The ids of items, in their order. */
function idsOf(items: readonly Item[]): string[] {
  return items.map((i) => i["msg-id"]);
}

/**
 * Checks under `requirement` that the ids of a page are `expected`, in order; the failure
 * names the first position where they differ, and the counts.
 */
function expectIds(
  ctx: CaseContext,
  requirement: string,
  got: readonly string[],
  expected: readonly string[],
  what: string,
): void {
  if (JSON.stringify(got) === JSON.stringify(expected)) return;
  const k = expected.findIndex((id, j) => got[j] !== id);
  const at = k === -1 ? expected.length : k;
  const missing = expected.filter((id) => !got.includes(id)).length;
  const extra = got.filter((id) => !expected.includes(id)).length;
  ctx.fault(
    requirement,
    `${what}: ${got.length} items where ${expected.length} were expected (${missing} missing, ${extra} not expected), first difference at position ${at}: ${JSON.stringify(got[at] ?? null)} for ${JSON.stringify(expected[at] ?? null)}`,
    { expected: JSON.stringify(expected), actual: JSON.stringify(got) },
  );
}

/** Opens a session for a fresh peer of the case (graded SESSION-OPEN-2 by the context). */
async function openPeer(ctx: CaseContext, name: string, short = false): Promise<Peer> {
  const id = ctx.peer(name);
  const { conn } = await ctx.open(id, { short });
  return { id, conn, short };
}

/** Opens sessions for several fresh peers at once. */
function openPeers(ctx: CaseContext, names: readonly string[], short = false): Promise<Peer[]> {
  return Promise.all(names.map((n) => openPeer(ctx, n, short)));
}

/** The `direct` frame that sends `msg` from `from` to `target`. */
function directFrame(ctx: CaseContext, from: Peer, target: Target, msg: string): Frame {
  return { cmd: "direct", appId: ctx.appId(), peerId: from.id, msg, ...target };
}

/** The conversation id the kit expects for a message from `from` to `target`. */
function expectedCid(from: Peer, target: Target): string {
  return "roomId" in target ? target.roomId : cidOf([from.id, ...target.toPeerIds]);
}

/**
 * Sends a persistent message and waits for its `ack`: what every history case builds on,
 * so a server that does not acknowledge it fails ACK-REPLY-1, not the case's requirement.
 */
async function send(ctx: CaseContext, from: Peer, target: Target, msg: string): Promise<Sent> {
  const ack = await ctx.request("ACK-REPLY-1", from.conn, directFrame(ctx, from, target, msg));
  ctx.expect(
    "ACK-REPLY-1",
    ack.cmd === "ack" && typeof ack.uid === "string" && typeof ack.t === "number",
    "the server did not acknowledge a persistent direct",
    { expected: "ack with uid and t", actual: JSON.stringify(ack).slice(0, 300) },
  );
  return {
    id: ack.uid as string,
    t: ack.t as number,
    from: from.id,
    msg,
    cid: expectedCid(from, target),
  };
}

/**
 * Sends many messages from one session, pipelined in chunks that stay well inside the
 * frame rate the server announces (FLOOD-RATE-1), in order: one session's messages are
 * accepted in the order sent.
 */
async function sendMany(
  ctx: CaseContext,
  from: Peer,
  target: Target,
  msgs: readonly string[],
): Promise<Sent[]> {
  const limits = ctx.limits(from.short);
  const rate = limits.framesPerSecond;
  const burst = limits.frameBurst;
  const chunk = Math.max(1, Math.min(40, burst === undefined ? 40 : Math.floor(burst / 4)));
  const out: Sent[] = [];
  for (let k = 0; k < msgs.length; k += chunk) {
    const started = Date.now();
    const part = msgs.slice(k, k + chunk);
    out.push(...(await Promise.all(part.map((m) => send(ctx, from, target, m)))));
    if (rate !== undefined && rate > 0) {
      const wait = (part.length / (rate / 2)) * 1000 - (Date.now() - started);
      if (wait > 0) await ctx.sleep(wait);
    }
  }
  return out;
}

/** Creates a group with `owner` as its only member and returns its id. */
async function createGroup(ctx: CaseContext, owner: Peer): Promise<string> {
  const joined = await ctx.request("ROOM-CREATE-1", owner.conn, {
    cmd: "room",
    op: "join",
    appId: ctx.appId(),
    peerId: owner.id,
  });
  ctx.expect(
    "ROOM-CREATE-1",
    joined.cmd === "room" && joined.op === "joined" && typeof joined.roomId === "string",
    "the server did not create a group",
    { expected: "room/joined", actual: describeFrame(joined) },
  );
  return joined.roomId as string;
}

/** A membership command of `actor` on group `roomId` that must succeed with `reply`. */
async function membership(
  ctx: CaseContext,
  requirement: string,
  actor: Peer,
  op: "join" | "invite" | "kick" | "leave",
  roomId: string,
  roomPeerIds?: readonly string[],
): Promise<void> {
  const replies = { join: "joined", invite: "invited", kick: "kicked", leave: "left" } as const;
  const reply = await ctx.request(requirement, actor.conn, {
    cmd: "room",
    op,
    appId: ctx.appId(),
    peerId: actor.id,
    roomId,
    ...(roomPeerIds !== undefined && { roomPeerIds: [...roomPeerIds] }),
  });
  ctx.expect(requirement, reply.cmd === "room" && reply.op === replies[op], `room/${op} failed`, {
    expected: `room/${replies[op]}`,
    actual: describeFrame(reply),
  });
}

/** A socket history query. */
interface LogsQuery {
  readonly cid: string;
  readonly max_ts?: number;
  readonly msgid?: string;
  readonly limit?: number;
}

/** Sends `logs` for `peer` and returns the answer, whatever it is. */
function logsAnswer(
  ctx: CaseContext,
  requirement: string,
  peer: Peer,
  q: LogsQuery,
): Promise<Frame> {
  return ctx.request(requirement, peer.conn, {
    cmd: "logs",
    appId: ctx.appId(),
    peerId: peer.id,
    ...q,
  });
}

/**
 * Sends `logs` and checks under `requirement` that it is answered with `logs/result`
 * (LOGS-SOCKET-1); `what` names the conversation for the failure's message.
 */
async function logsPage(
  ctx: CaseContext,
  requirement: string,
  peer: Peer,
  q: LogsQuery,
  what = `conversation ${q.cid}`,
): Promise<{ items: Item[]; more: unknown; frame: Frame }> {
  const reply = await logsAnswer(ctx, requirement, peer, q);
  ctx.expect(
    requirement,
    reply.cmd === "logs" && reply.op === "result" && Array.isArray(reply.logs),
    `the history of ${what} was answered with ${describeFrame(reply)}`,
    { expected: "logs/result", actual: JSON.stringify(reply).slice(0, 300) },
  );
  return { items: reply.logs as Item[], more: reply.more, frame: reply };
}

/** Checks that `reply` refuses a `logs` command with 4401 (LOGS-AUTH-3). */
function expectRefused(ctx: CaseContext, requirement: string, reply: Frame, why: string): void {
  ctx.expect(requirement, reply.cmd === "error" && reply.code === 4401, why, {
    expected: "error 4401",
    actual: JSON.stringify(reply).slice(0, 300),
  });
}

/** How a REST request names its app and key. */
interface RestAuth {
  /** The app id for the `X-AVOSCloud-Application-Id` header; `null`: no header. Default: the open app. */
  readonly header?: string | null;
  /** The `X-AVOSCloud-Master-Key` header. */
  readonly key?: string;
  /** Use the shortened-limits server. */
  readonly short?: boolean;
  /** Return an HTTP 429 as it is, instead of waiting and asking again. */
  readonly noRetry?: boolean;
}

/**
 * A REST history request. `query` is either pairs (encoded by `URLSearchParams`, so a
 * value may hold any character) or a query string sent as is.
 */
async function rest(
  ctx: CaseContext,
  requirement: string,
  query: readonly (readonly [string, string])[] | string,
  auth: RestAuth = {},
): Promise<HttpAnswer> {
  const qs =
    typeof query === "string"
      ? query
      : new URLSearchParams(query.map(([k, v]) => [k, v] as [string, string])).toString();
  const header = auth.header === undefined ? ctx.appId() : auth.header;
  const headers: Record<string, string> = {};
  if (header !== null) headers[APP_HEADER] = header;
  if (auth.key !== undefined) headers[KEY_HEADER] = auth.key;
  const path = `${LOGS_PATH}${qs === "" ? "" : `?${qs}`}`;
  for (let attempt = 0; ; attempt++) {
    const a = await ctx.http(requirement, path, {
      headers,
      ...(auth.short === true && { short: true }),
    });
    if (a.status !== 429 || auth.noRetry === true || attempt >= 4) return a;
    // The history rate is per client address (LIMIT-LOGS-RATE-1), and every case of the
    // run shares the kit's address: a 429 here is another case's doing, and the kit waits
    // as a client does (LIMIT-LOGS-RATE-3) before it asks again.
    const retry = Number(a.headers.get("retry-after"));
    const waitS = Number.isFinite(retry) && retry > 0 ? Math.min(retry, 5) : 1;
    ctx.note(
      `HTTP 429 (the address's history rate, shared with other cases): asking again in ${waitS} s`,
    );
    await ctx.sleep(waitS * 1000);
  }
}

/** A short account of an answer for a failure. */
function answerText(a: HttpAnswer): string {
  return `HTTP ${a.status} ${a.text.slice(0, 200)}`;
}

/**
 * Checks under `requirement` that a REST request of the open app was served: HTTP 200 with
 * a body that is an array of history items (REST-OK-1). A 401 of a `--url` target means
 * its open app has a master key the kit was not given: not applicable.
 */
function expectServed(ctx: CaseContext, requirement: string, a: HttpAnswer, what: string): Item[] {
  if (a.status === 401 && ctx.target.kind === "url") {
    throw new NotApplicable(
      "the open app of the target has a master key the kit was not given (REST-AUTH-1)",
    );
  }
  ctx.expect(requirement, a.status === 200, `the REST history request for ${what} was not served`, {
    expected: "HTTP 200",
    actual: answerText(a),
  });
  const checked = httpValidators["logs-response"]?.(a.json);
  ctx.expect(
    "REST-OK-1",
    checked?.ok === true,
    "the REST history response is not a JSON array of history items",
    {
      expected: "a body valid against RestLogsResponse",
      actual: a.text.slice(0, 300),
    },
  );
  return a.json as Item[];
}

/** A served REST page of the open app, with its answer. */
async function restPage(
  ctx: CaseContext,
  requirement: string,
  query: readonly (readonly [string, string])[] | string,
  what: string,
  auth: RestAuth = {},
): Promise<{ items: Item[]; answer: HttpAnswer }> {
  const answer = await rest(ctx, requirement, query, auth);
  return { items: expectServed(ctx, requirement, answer, what), answer };
}

/** Skips whitespace in JSON text. */
function skipWs(text: string, pos: number): number {
  let k = pos;
  while (k < text.length && " \t\r\n".includes(text[k] as string)) k++;
  return k;
}

/** The end (exclusive) of the JSON string that starts at `pos`. */
function stringEnd(text: string, pos: number): number {
  for (let k = pos + 1; k < text.length; k++) {
    if (text[k] === "\\") k++;
    else if (text[k] === '"') return k + 1;
  }
  throw new HarnessError("an unterminated JSON string in a frame that parsed");
}

/** The end (exclusive) of the JSON value that starts at `pos`. */
function valueEnd(text: string, pos: number): number {
  const c = text[pos];
  if (c === '"') return stringEnd(text, pos);
  if (c === "{" || c === "[") {
    let depth = 0;
    for (let k = pos; k < text.length; k++) {
      const ch = text[k];
      if (ch === '"') k = stringEnd(text, k) - 1;
      else if (ch === "{" || ch === "[") depth++;
      else if (ch === "}" || ch === "]") {
        depth--;
        if (depth === 0) return k + 1;
      }
    }
    throw new HarnessError("an unterminated JSON value in a frame that parsed");
  }
  let k = pos;
  while (k < text.length && !",}] \t\r\n".includes(text[k] as string)) k++;
  return k;
}

/** The raw text of member `key` of the JSON object `text`, exactly as the server sent it. */
function memberText(text: string, key: string): string | undefined {
  let k = skipWs(text, 0);
  if (text[k] !== "{") return undefined;
  k = skipWs(text, k + 1);
  while (k < text.length && text[k] === '"') {
    const keyEnd = stringEnd(text, k);
    const name = JSON.parse(text.slice(k, keyEnd)) as string;
    k = skipWs(text, skipWs(text, keyEnd) + 1); // past the ':'
    const end = valueEnd(text, k);
    if (name === key) return text.slice(k, end);
    k = skipWs(text, end);
    if (text[k] === ",") k = skipWs(text, k + 1);
  }
  return undefined;
}

/** The raw texts of the elements of the JSON array `text`. */
function elementTexts(text: string): string[] {
  const out: string[] = [];
  let k = skipWs(text, skipWs(text, 0) + 1); // past the '['
  while (k < text.length && text[k] !== "]") {
    const end = valueEnd(text, k);
    out.push(text.slice(k, end));
    k = skipWs(text, end);
    if (text[k] === ",") k = skipWs(text, k + 1);
  }
  return out;
}

/** Bytes of UTF-8 of `text`. */
function sizeOf(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

/**
 * The raw `logs` array of the `logs/result` frame `reply` received on `conn`, exactly as the
 * server wrote it: the byte bound of a page is on the JSON the server sends (LOGS-BYTES-1),
 * so the kit measures that text rather than its own re-serialization.
 */
function rawLogsOf(conn: Connection, reply: Frame): string {
  const logs = memberText(conn.rawOf(reply) ?? "", "logs");
  if (logs === undefined)
    throw new HarnessError(
      `the raw text of the logs/result with i=${String(reply.i)} was not kept`,
    );
  return logs;
}

/** A text of exactly `escaped` bytes of JSON inside its quotes: control characters and ASCII. */
function textOfJsonLength(escaped: number): string {
  const controls = Math.floor(escaped / 6);
  return "\u0001".repeat(controls) + "a".repeat(escaped - controls * 6);
}

/** The largest text: 5120 control characters, 30720 bytes of JSON (5.3). */
const WIDEST = "\u0001".repeat(5120);

/**
 * Stores a conversation of alice and bob whose newest items take exactly the byte bound of
 * a page as compact JSON, with older items after them: two small ones, sent first, and
 * `count` of the widest texts, the newest of which is cut so that it and the 33 before it
 * make a page of exactly 1047552 bytes. A server that serializes compactly ends the first
 * page after those 34 items; the grading does not rely on that, it measures the text.
 */
async function widePages(
  ctx: CaseContext,
  short = false,
): Promise<{ alice: Peer; bob: Peer; sent: Sent[]; cid: string }> {
  const [alice, bob] = (await openPeers(ctx, ["alice", "bob"], short)) as [Peer, Peer];
  const target = { toPeerIds: [bob.id] };
  const sent = await sendMany(ctx, alice, target, ["older 1", "older 2"]);
  const wide = await sendMany(
    ctx,
    alice,
    target,
    Array.from({ length: 34 }, () => WIDEST),
  );
  sent.push(...wide);
  const item = (m: Sent): Item => ({
    timestamp: m.t,
    "conv-id": m.cid,
    data: m.msg,
    from: m.from,
    "msg-id": m.id,
    "is-conv": false,
    "is-room": false,
    to: bob.id,
  });
  // The 33 newest so far, and the one to come (newest): 2 brackets, 33 commas.
  const kept = wide.slice(-33);
  const used = 2 + kept.reduce((n, m) => n + sizeOf(JSON.stringify(item(m))) + 1, 0);
  const last = wide[wide.length - 1] as Sent;
  const shell = sizeOf(JSON.stringify(item({ ...last, msg: "" })));
  const escaped = LOGS_MAX_PAGE_BYTES - used - shell;
  sent.push(
    await send(ctx, alice, target, textOfJsonLength(Math.max(0, Math.min(30_720, escaped)))),
  );
  return { alice, bob, sent, cid: cidOf([alice.id, bob.id]) };
}

// ---- the cases -------------------------------------------------------------------------

/** The history cases. */
export const CASES: readonly ServerCase[] = [
  // ---- 5.1 conversation ids ----

  defineCase({
    name: "history/convid/one-to-one-either-side",
    requirements: ["CONVID-PEER-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      // [CONVID-PEER-1] a one-to-one chat has one conversation id whichever side sends.
      const a = await send(ctx, alice, { toPeerIds: [bob.id] }, "from alice");
      const b = await send(ctx, bob, { toPeerIds: [alice.id] }, "from bob");
      const cid = cidOf([alice.id, bob.id]);
      const what = `md5("${[alice.id, bob.id].sort().join(":")}") = ${cid}`;
      const page = await logsPage(ctx, "CONVID-PEER-1", alice, { cid }, what);
      for (const m of [a, b]) {
        const item = page.items.find((i) => i["msg-id"] === m.id);
        ctx.expect(
          "CONVID-PEER-1",
          item !== undefined,
          `the message from ${m.from} is not in ${what}`,
          {
            expected: m.id,
            actual: JSON.stringify(idsOf(page.items)),
          },
        );
        ctx.expectEqual(
          "CONVID-PEER-1",
          item?.["conv-id"],
          cid,
          `the conv-id of the message from ${m.from}`,
        );
      }
    },
  }),

  defineCase({
    name: "history/convid/distinct-sorted-participants",
    requirements: ["CONVID-PEER-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      // [CONVID-PEER-1] Table 3 vector 2: three participants as sent in any order.
      const three = await send(ctx, alice, { toPeerIds: [carol.id, bob.id] }, "to two");
      // Vector 3: duplicates collapse, and the sender named as a recipient is the sender
      // (DIRECT-SELF-1): the conversation of alice and bob.
      const two = await send(ctx, alice, { toPeerIds: [bob.id, alice.id, bob.id] }, "to bob twice");
      for (const [m, peers] of [
        [three, [alice.id, bob.id, carol.id]],
        [two, [alice.id, bob.id]],
      ] as const) {
        const cid = cidOf(peers);
        const what = `md5("${[...peers].sort().join(":")}") = ${cid}`;
        const page = await logsPage(ctx, "CONVID-PEER-1", alice, { cid }, what);
        const item = page.items.find((i) => i["msg-id"] === m.id);
        ctx.expect(
          "CONVID-PEER-1",
          item?.["conv-id"] === cid,
          `the message "${m.msg}" is not in ${what}`,
          {
            expected: `${m.id} with conv-id ${cid}`,
            actual: JSON.stringify(page.items.map((i) => [i["msg-id"], i["conv-id"]])),
          },
        );
      }
    },
  }),

  defineCase({
    name: "history/convid/utf16-code-unit-order",
    requirements: ["CONVID-PEER-1"],
    features: ["history"],
    async run(ctx) {
      // [CONVID-PEER-1] Table 3 vectors 4 and 5: upper case sorts before lower case, and
      // U+1F600 (surrogates from U+D83D) before U+FF21, where code point order would not.
      const pairs = [
        ["alice", "Zoe"],
        ["Ａ", "😀"],
      ] as const;
      for (const [x, y] of pairs) {
        const [px, py] = (await openPeers(ctx, [x, y])) as [Peer, Peer];
        const byCodePoint = [px.id, py.id].sort((a, b) => {
          const ca = [...a].map((ch) => ch.codePointAt(0) as number);
          const cb = [...b].map((ch) => ch.codePointAt(0) as number);
          for (let k = 0; k < Math.min(ca.length, cb.length); k++) {
            if (ca[k] !== cb[k]) return (ca[k] as number) - (cb[k] as number);
          }
          return ca.length - cb.length;
        });
        const m = await send(ctx, px, { toPeerIds: [py.id] }, `${x} to ${y}`);
        const cid = cidOf([px.id, py.id]);
        const sorted = [px.id, py.id].sort();
        ctx.note(`code unit order ${sorted.join(":")}; code point order ${byCodePoint.join(":")}`);
        const what = `md5("${sorted.join(":")}") = ${cid}`;
        const page = await logsPage(ctx, "CONVID-PEER-1", px, { cid }, what);
        ctx.expect(
          "CONVID-PEER-1",
          page.items.some((i) => i["msg-id"] === m.id && i["conv-id"] === cid),
          `the message is not in ${what}`,
          {
            expected: `${m.id} with conv-id ${cid}`,
            actual: JSON.stringify(page.items.map((i) => [i["msg-id"], i["conv-id"]])),
          },
        );
      }
    },
  }),

  defineCase({
    name: "history/convid/group-id",
    requirements: ["CONVID-ROOM-1"],
    features: ["history", "groups"],
    async run(ctx) {
      const [alice] = (await openPeers(ctx, ["alice"])) as [Peer];
      const roomId = await createGroup(ctx, alice);
      const m = await send(ctx, alice, { roomId }, "to the group");
      // [CONVID-ROOM-1] the group's id is the conversation id of its messages.
      const page = await logsPage(ctx, "CONVID-ROOM-1", alice, { cid: roomId }, `group ${roomId}`);
      const item = page.items.find((i) => i["msg-id"] === m.id);
      ctx.expect(
        "CONVID-ROOM-1",
        item !== undefined,
        "the group message is not in the history of the group id",
        {
          expected: m.id,
          actual: JSON.stringify(idsOf(page.items)),
        },
      );
      ctx.expectEqual(
        "CONVID-ROOM-1",
        item?.["conv-id"],
        roomId,
        "the conv-id of the group message",
      );
    },
  }),

  // ---- 5.2 what history holds ----

  defineCase({
    name: "logs/store/visible-at-ack",
    requirements: ["LOGS-STORE-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-STORE-1] each query goes out the moment the ack came, on the sender's and on
      // the recipient's connection: a server that stores after it acknowledges fails.
      for (let k = 1; k <= 5; k++) {
        const m = await send(ctx, alice, { toPeerIds: [bob.id] }, `message ${k}`);
        const [own, other] = await Promise.all([
          logsPage(ctx, "LOGS-STORE-1", alice, { cid }),
          logsPage(ctx, "LOGS-STORE-1", bob, { cid }),
        ]);
        for (const [who, page] of [
          ["the sender", own],
          ["the recipient", other],
        ] as const) {
          ctx.expect(
            "LOGS-STORE-1",
            page.items.some((i) => i["msg-id"] === m.id),
            `message ${k} was not in the history ${who} asked for right after its ack`,
            {
              expected: m.id,
              actual: JSON.stringify(idsOf(page.items)),
            },
          );
        }
      }
    },
  }),

  defineCase({
    name: "logs/item/fields",
    requirements: ["LOGS-ITEM-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      // [LOGS-ITEM-1] text that a careless store or serializer changes: quotes, backslash,
      // control characters, non-BMP, markup, and the empty text.
      const tricky = 'q"uote \\ back\tslash\u0001\n😀 中文 é </script> \u2028';
      const sent = [
        await send(ctx, alice, { toPeerIds: [bob.id] }, tricky),
        await send(ctx, bob, { toPeerIds: [alice.id] }, ""),
        await send(ctx, alice, { toPeerIds: [bob.id, carol.id] }, "to two"),
      ];
      for (const m of sent) {
        const page = await logsPage(ctx, "LOGS-ITEM-1", alice, { cid: m.cid });
        const item = page.items.find((i) => i["msg-id"] === m.id);
        ctx.expect(
          "LOGS-ITEM-1",
          item !== undefined,
          "a message is not in history under its msg-id",
          {
            expected: m.id,
            actual: JSON.stringify(idsOf(page.items)),
          },
        );
        const got = item as Item;
        ctx.expectEqual(
          "LOGS-ITEM-1",
          got.timestamp,
          m.t,
          "timestamp against the ack's t (the acceptance time)",
        );
        ctx.expectEqual("LOGS-ITEM-1", got.from, m.from, "from against the sender");
        ctx.expectEqual("LOGS-ITEM-1", got.data, m.msg, "data against the msg sent");
        ctx.expectEqual(
          "LOGS-ITEM-1",
          got["conv-id"],
          m.cid,
          "conv-id against the conversation id",
        );
      }
    },
  }),

  defineCase({
    name: "logs/item/is-room",
    requirements: ["LOGS-ITEM-2"],
    features: ["history", "groups"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      const roomId = await createGroup(ctx, alice);
      const cases: [Sent, boolean][] = [
        [await send(ctx, alice, { roomId }, "group"), true],
        [await send(ctx, alice, { toPeerIds: [bob.id] }, "one"), false],
        [await send(ctx, alice, { toPeerIds: [bob.id, carol.id] }, "two"), false],
      ];
      for (const [m, isRoom] of cases) {
        const page = await logsPage(ctx, "LOGS-ITEM-2", alice, { cid: m.cid });
        const item = page.items.find((i) => i["msg-id"] === m.id);
        // [LOGS-ITEM-2] true for a group message, false for messages to peers.
        ctx.expectEqual(
          "LOGS-ITEM-2",
          item?.["is-room"],
          isRoom,
          `is-room of the message "${m.msg}"`,
        );
      }
    },
  }),

  defineCase({
    name: "logs/item/is-conv",
    requirements: ["LOGS-ITEM-3"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      // [LOGS-ITEM-3] true only with more than one recipient: a duplicate or the sender
      // itself in toPeerIds is no second recipient (DIRECT-TARGET-2, DIRECT-SELF-1).
      const cases: [Sent, boolean][] = [
        [await send(ctx, alice, { toPeerIds: [bob.id] }, "one"), false],
        [await send(ctx, alice, { toPeerIds: [bob.id, bob.id] }, "one, twice"), false],
        [await send(ctx, alice, { toPeerIds: [bob.id, alice.id] }, "one and self"), false],
        [await send(ctx, alice, { toPeerIds: [bob.id, carol.id] }, "two"), true],
      ];
      if (ctx.target.features.groups === true) {
        const roomId = await createGroup(ctx, alice);
        await membership(ctx, "ROOM-INVITE-1", alice, "invite", roomId, [bob.id, carol.id]);
        cases.push([await send(ctx, alice, { roomId }, "group of three"), false]);
      } else ctx.note("groups not in force: no group message checked");
      for (const [m, isConv] of cases) {
        const page = await logsPage(ctx, "LOGS-ITEM-3", alice, { cid: m.cid });
        const item = page.items.find((i) => i["msg-id"] === m.id);
        ctx.expectEqual(
          "LOGS-ITEM-3",
          item?.["is-conv"],
          isConv,
          `is-conv of the message "${m.msg}"`,
        );
      }
    },
  }),

  defineCase({
    name: "logs/item/to",
    requirements: ["LOGS-ITEM-4"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      const cid3 = cidOf([alice.id, bob.id, carol.id]);
      // [LOGS-ITEM-4] the recipient for one recipient (however it was named), the
      // conversation id for several, the group id for a group message.
      const cases: [Sent, string][] = [
        [await send(ctx, alice, { toPeerIds: [bob.id] }, "one"), bob.id],
        [await send(ctx, bob, { toPeerIds: [alice.id] }, "one back"), alice.id],
        [
          await send(ctx, alice, { toPeerIds: [bob.id, bob.id, alice.id] }, "one, twice and self"),
          bob.id,
        ],
        [await send(ctx, alice, { toPeerIds: [carol.id, bob.id] }, "two"), cid3],
      ];
      if (ctx.target.features.groups === true) {
        const roomId = await createGroup(ctx, alice);
        cases.push([await send(ctx, alice, { roomId }, "group"), roomId]);
      } else ctx.note("groups not in force: no group message checked");
      for (const [m, to] of cases) {
        const page = await logsPage(ctx, "LOGS-ITEM-4", alice, { cid: m.cid });
        const item = page.items.find((i) => i["msg-id"] === m.id);
        ctx.expectEqual("LOGS-ITEM-4", item?.to, to, `to of the message "${m.msg}"`);
      }
    },
  }),

  // ---- 5.3 order and paging ----

  defineCase({
    name: "logs/order/newest-first",
    requirements: ["LOGS-ORDER-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      // Both sides send at once, pipelined, so that many messages share a millisecond and
      // the order by msg-id is exercised, not only the order by timestamp.
      const msgs = (who: string) => Array.from({ length: 20 }, (_, k) => `${who} ${k}`);
      const [a, b] = await Promise.all([
        sendMany(ctx, alice, { toPeerIds: [bob.id] }, msgs("alice")),
        sendMany(ctx, bob, { toPeerIds: [alice.id] }, msgs("bob")),
      ]);
      const sent = [...a, ...b];
      const ties = sent.length - new Set(sent.map((m) => m.t)).size;
      ctx.note(`${ties} of ${sent.length} messages share a timestamp with another`);
      const page = await logsPage(ctx, "LOGS-ORDER-1", alice, {
        cid: cidOf([alice.id, bob.id]),
        limit: 1000,
      });
      // [LOGS-ORDER-1] every neighbour pair descends by (timestamp, msg-id as bytes).
      for (let k = 1; k < page.items.length; k++) {
        const prev = page.items[k - 1] as Item;
        const next = page.items[k] as Item;
        ctx.expect(
          "LOGS-ORDER-1",
          historyOrder(keyOf(prev), keyOf(next)) < 0,
          `items ${k - 1} and ${k} are out of order`,
          {
            expected: "descending timestamp, then descending msg-id as bytes",
            actual: `${prev.timestamp} ${prev["msg-id"]} before ${next.timestamp} ${next["msg-id"]}`,
          },
        );
      }
      // And it is the order of the kit's own acks, so a page that leaves items out or
      // makes timestamps up does not pass by being sorted.
      expectIds(
        ctx,
        "LOGS-ORDER-1",
        idsOf(page.items),
        expectedPage(sent, { limit: 1000 }),
        "the ids of the page in history order",
      );
    },
  }),

  defineCase({
    name: "logs/cursor/before-timestamp-and-id",
    requirements: ["LOGS-CURSOR-1", "LOGS-PAGE-2"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const msgs = (who: string) => Array.from({ length: 15 }, (_, k) => `${who} ${k}`);
      const [a, b] = await Promise.all([
        sendMany(ctx, alice, { toPeerIds: [bob.id] }, msgs("alice")),
        sendMany(ctx, bob, { toPeerIds: [alice.id] }, msgs("bob")),
      ]);
      const sent = [...a, ...b].sort(historyOrder);
      const cid = cidOf([alice.id, bob.id]);
      // Cursors at the newest, inside and at the oldest item, and inside a run of equal
      // timestamps when there is one: there the msg-id decides (LOGS-CURSOR-1).
      const pivots = new Set([0, 7, 18, sent.length - 1]);
      const tie = sent.findIndex((m, k) => k + 1 < sent.length && (sent[k + 1] as Sent).t === m.t);
      if (tie >= 0) pivots.add(tie);
      else
        ctx.note(
          "no two messages share a timestamp: the msgid half of the cursor is checked at distinct timestamps only",
        );
      for (const k of pivots) {
        const pivot = sent[k] as Sent;
        const q = { cid, max_ts: pivot.t, msgid: pivot.id, limit: 1000 };
        const page = await logsPage(ctx, "LOGS-CURSOR-1", alice, q);
        for (const item of page.items) {
          // [LOGS-CURSOR-1] strictly before the cursor: the cursor's own item is not repeated.
          ctx.expect(
            "LOGS-CURSOR-1",
            beforeCursor(keyOf(item), pivot.t, pivot.id),
            "an item at or after the cursor was returned",
            {
              expected: `timestamp < ${pivot.t}, or = with msg-id < ${pivot.id}`,
              actual: `${item.timestamp} ${item["msg-id"]}`,
            },
          );
        }
        // [LOGS-PAGE-2] and every stored item before it, in order. An item missing with the
        // cursor's own timestamp is a tie the cursor skipped [LOGS-CURSOR-1].
        const want = expectedPage(sent, q);
        const got = new Set(idsOf(page.items));
        const skippedTie = sent.some(
          (m) => m.t === pivot.t && want.includes(m.id) && !got.has(m.id),
        );
        expectIds(
          ctx,
          skippedTie ? "LOGS-CURSOR-1" : "LOGS-PAGE-2",
          idsOf(page.items),
          want,
          `the page before item ${k}`,
        );
      }
    },
  }),

  defineCase({
    name: "logs/cursor/before-timestamp",
    requirements: ["LOGS-CURSOR-2", "LOGS-PAGE-2"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const msgs = (who: string) => Array.from({ length: 15 }, (_, k) => `${who} ${k}`);
      const [a, b] = await Promise.all([
        sendMany(ctx, alice, { toPeerIds: [bob.id] }, msgs("alice")),
        sendMany(ctx, bob, { toPeerIds: [alice.id] }, msgs("bob")),
      ]);
      const sent = [...a, ...b].sort(historyOrder);
      const cid = cidOf([alice.id, bob.id]);
      // A max_ts equal to a run of equal timestamps excludes the whole run (LOGS-CURSOR-2).
      const pivots = new Set([
        sent[0]?.t,
        sent[10]?.t,
        sent[sent.length - 1]?.t,
        (sent[sent.length - 1]?.t ?? 0) + 1,
      ]);
      const tie = sent.find((m, k) => k + 1 < sent.length && (sent[k + 1] as Sent).t === m.t);
      if (tie !== undefined) pivots.add(tie.t);
      for (const maxTs of pivots) {
        if (maxTs === undefined) continue;
        const q = { cid, max_ts: maxTs, limit: 1000 };
        const page = await logsPage(ctx, "LOGS-CURSOR-2", alice, q);
        for (const item of page.items) {
          ctx.expect(
            "LOGS-CURSOR-2",
            item.timestamp < maxTs,
            "an item not older than max_ts was returned",
            {
              expected: `timestamp < ${maxTs}`,
              actual: `${item.timestamp} ${item["msg-id"]}`,
            },
          );
        }
        expectIds(
          ctx,
          "LOGS-PAGE-2",
          idsOf(page.items),
          expectedPage(sent, q),
          `the page before ${maxTs}`,
        );
      }
    },
  }),

  defineCase({
    name: "logs/cursor/msgid-needs-max-ts",
    requirements: ["LOGS-CURSOR-3"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const m = await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-CURSOR-3] msgid without max_ts is invalid (4114 by the schemas), on a
      // conversation the caller may read, so nothing but the cursor is wrong.
      await expectInvalidRefused(
        ctx,
        "LOGS-CURSOR-3",
        alice.conn,
        { cmd: "logs", appId: ctx.appId(), peerId: alice.id, cid, msgid: m.id },
        "msgid without max_ts",
      );
      // The same cursor with max_ts is served: the refusal is about the missing max_ts.
      await logsPage(ctx, "LOGS-CURSOR-3", alice, { cid, max_ts: m.t + 1, msgid: m.id });
    },
  }),

  defineCase({
    name: "logs/page/first-limit-items",
    requirements: ["LOGS-PAGE-2"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const sent = await sendMany(
        ctx,
        alice,
        { toPeerIds: [bob.id] },
        Array.from({ length: 12 }, (_, k) => `m${k}`),
      );
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-PAGE-2] the first limit items, or all when fewer match.
      for (const limit of [1, 5, 12, 50]) {
        const page = await logsPage(ctx, "LOGS-PAGE-2", bob, { cid, limit });
        expectIds(
          ctx,
          "LOGS-PAGE-2",
          idsOf(page.items),
          expectedPage(sent, { limit }),
          `the page of limit ${limit}`,
        );
      }
      // Paging by the cursor of each page's last item reaches every item once.
      const seen: string[] = [];
      let q: LogsQuery = { cid, limit: 5 };
      for (let pages = 0; pages < 5; pages++) {
        const page = await logsPage(ctx, "LOGS-PAGE-2", bob, q);
        seen.push(...idsOf(page.items));
        const last = page.items[page.items.length - 1];
        if (page.items.length < 5 || last === undefined) break;
        q = { cid, limit: 5, max_ts: last.timestamp, msgid: last["msg-id"] };
      }
      expectIds(ctx, "LOGS-PAGE-2", seen, expectedPage(sent), "every item, paging five at a time");
    },
  }),

  defineCase({
    name: "logs/limit/default-100",
    requirements: ["LOGS-LIMIT-1"],
    features: ["history"],
    timeoutMs: 30_000,
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const sent = await sendMany(
        ctx,
        alice,
        { toPeerIds: [bob.id] },
        Array.from({ length: 105 }, (_, k) => `m${k}`),
      );
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-LIMIT-1] no limit: the newest 100 of 105.
      const page = await logsPage(ctx, "LOGS-LIMIT-1", alice, { cid });
      expectIds(
        ctx,
        "LOGS-LIMIT-1",
        idsOf(page.items),
        expectedPage(sent, { limit: 100 }),
        "the page of a logs without limit",
      );
      if (ctx.target.features["rest-history"] === true) {
        const r = await restPage(
          ctx,
          "LOGS-LIMIT-1",
          [["convid", cid]],
          "a conversation without limit",
        );
        expectIds(
          ctx,
          "LOGS-LIMIT-1",
          idsOf(r.items),
          expectedPage(sent, { limit: 100 }),
          "the REST page without limit",
        );
      } else ctx.note("rest-history not in force: the REST default not checked");
    },
  }),

  defineCase({
    name: "logs/limit/out-of-range",
    requirements: ["LOGS-LIMIT-2"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-LIMIT-2] not an integer from 1 to 1000: invalid, the code from the schemas.
      for (const limit of [0, 1001, -1, 2.5, "10", null, true, 1e9]) {
        await expectInvalidRefused(
          ctx,
          "LOGS-LIMIT-2",
          alice.conn,
          { cmd: "logs", appId: ctx.appId(), peerId: alice.id, cid, limit },
          `limit ${JSON.stringify(limit)}`,
        );
      }
      // The bounds themselves are served.
      for (const limit of [1, 1000])
        await logsPage(ctx, "LOGS-LIMIT-2", alice, { cid, limit }, `limit ${limit}`);
    },
  }),

  defineCase({
    name: "logs/bytes/page-ends-at-bound",
    requirements: ["LOGS-BYTES-1", "LOGS-MORE-1", "LOGS-PAGE-2"],
    features: ["history"],
    timeoutMs: 30_000,
    async run(ctx) {
      const { alice, sent, cid } = await widePages(ctx);
      const order = expectedPage(sent, { limit: 1000 });
      const first = await logsPage(
        ctx,
        "LOGS-BYTES-1",
        alice,
        { cid, limit: 1000 },
        "a conversation over 1 MiB",
      );
      const firstBytes = sizeOf(rawLogsOf(alice.conn, first.frame));
      ctx.note(`first page: ${first.items.length} items, ${firstBytes} bytes of JSON`);
      // [LOGS-BYTES-1] the page, as the server wrote it, is within the bound...
      ctx.expect(
        "LOGS-BYTES-1",
        firstBytes <= LOGS_MAX_PAGE_BYTES,
        "the page takes more than 1047552 bytes of JSON",
        {
          expected: `at most ${LOGS_MAX_PAGE_BYTES} bytes`,
          actual: `${firstBytes} bytes in ${first.items.length} items`,
        },
      );
      ctx.expect("LOGS-BYTES-1", first.items.length > 0, "the page is empty while items match", {
        actual: "[]",
      });
      // [LOGS-MORE-1] ...the bound ended it (older items match): more: true.
      ctx.expect(
        "LOGS-MORE-1",
        first.more === true,
        "a page that the byte bound ended has no more: true",
        {
          expected: "more: true",
          actual: `more: ${JSON.stringify(first.more)}, ${first.items.length} of ${sent.length} items`,
        },
      );
      // [LOGS-PAGE-2] the page is the start of the history order.
      expectIds(
        ctx,
        "LOGS-PAGE-2",
        idsOf(first.items),
        order.slice(0, first.items.length),
        "the ids of the first page",
      );
      const last = first.items[first.items.length - 1] as Item;
      const rest2 = await logsPage(
        ctx,
        "LOGS-BYTES-1",
        alice,
        { cid, limit: 1000, max_ts: last.timestamp, msgid: last["msg-id"] },
        "the next page",
      );
      const next = elementTexts(rawLogsOf(alice.conn, rest2.frame))[0];
      // [LOGS-BYTES-1] ...and the page ended before the first item that would not fit:
      // the next item, with a comma, would have taken it over the bound.
      if (next !== undefined) {
        ctx.expect(
          "LOGS-BYTES-1",
          firstBytes + 1 + sizeOf(next) > LOGS_MAX_PAGE_BYTES,
          "the page ended before an item that would have fit",
          {
            expected: `${firstBytes} + 1 + ${sizeOf(next)} > ${LOGS_MAX_PAGE_BYTES}`,
            actual: `${firstBytes + 1 + sizeOf(next)} bytes with the next item`,
          },
        );
      }
      expectIds(
        ctx,
        "LOGS-PAGE-2",
        idsOf(rest2.items),
        order.slice(first.items.length),
        "the ids of the page after it",
      );
      // [LOGS-MORE-1] only if: the last page and a page that its limit ended have no more: true.
      ctx.expect("LOGS-MORE-1", rest2.more !== true, "the last page carries more: true", {
        actual: `more: ${JSON.stringify(rest2.more)}`,
      });
      const small = await logsPage(ctx, "LOGS-MORE-1", alice, { cid, limit: 3 });
      ctx.expect(
        "LOGS-MORE-1",
        small.more !== true,
        "a page that its limit ended carries more: true",
        { actual: `more: ${JSON.stringify(small.more)}` },
      );
    },
  }),

  defineCase({
    name: "logs/more/absent-below-bound",
    requirements: ["LOGS-MORE-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      await sendMany(ctx, alice, { toPeerIds: [bob.id] }, ["a", "b", "c", "d"]);
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-MORE-1] a page the byte bound did not end: full (limit 2) or last (limit 10).
      for (const limit of [2, 4, 10]) {
        const page = await logsPage(ctx, "LOGS-MORE-1", alice, { cid, limit });
        ctx.expect(
          "LOGS-MORE-1",
          page.more !== true,
          `the page of limit ${limit} carries more: true`,
          {
            expected: "no more: true",
            actual: JSON.stringify(page.frame).slice(0, 300),
          },
        );
      }
    },
  }),

  // ---- 5.4 the socket logs command ----

  defineCase({
    name: "logs/socket/result-holds-page",
    requirements: ["LOGS-SOCKET-1", "FRAME-PEERID-1"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const sent = [
        ...(await sendMany(ctx, alice, { toPeerIds: [bob.id] }, ["one", "two"])),
        ...(await sendMany(ctx, bob, { toPeerIds: [alice.id] }, ["three"])),
      ];
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-SOCKET-1] logs/result, answering the command's i, holding the page.
      const page = await logsPage(ctx, "LOGS-SOCKET-1", bob, { cid });
      // [FRAME-PEERID-1] the reply is for the session that asked.
      ctx.expectEqual("FRAME-PEERID-1", page.frame.peerId, bob.id, "the peerId of logs/result");
      expectIds(ctx, "LOGS-SOCKET-1", idsOf(page.items), expectedPage(sent), "the ids of the page");
    },
  }),

  defineCase({
    name: "logs/auth/group-members-only",
    requirements: ["LOGS-AUTH-1", "LOGS-AUTH-3", "LOGS-SOCKET-1"],
    features: ["history", "groups"],
    async run(ctx) {
      const [alice, bob, carol, dave] = (await openPeers(ctx, [
        "alice",
        "bob",
        "carol",
        "dave",
      ])) as [Peer, Peer, Peer, Peer];
      const roomId = await createGroup(ctx, alice);
      // [LOGS-AUTH-1] a member may read a group's history, even before any message.
      const empty = await logsPage(
        ctx,
        "LOGS-AUTH-1",
        alice,
        { cid: roomId },
        "a group the caller just created",
      );
      expectIds(
        ctx,
        "LOGS-SOCKET-1",
        idsOf(empty.items),
        [],
        "the history of a group without messages",
      );
      const m = await send(ctx, alice, { roomId }, "to the group");
      // [LOGS-AUTH-1] [LOGS-AUTH-3] a peer that never was a member: 4401.
      expectRefused(
        ctx,
        "LOGS-AUTH-3",
        await logsAnswer(ctx, "LOGS-AUTH-1", carol, { cid: roomId }),
        "a non-member read the group's history",
      );
      // Invited: a member now, reading the messages from before it joined too.
      await membership(ctx, "ROOM-INVITE-1", alice, "invite", roomId, [bob.id, dave.id]);
      const page = await logsPage(
        ctx,
        "LOGS-AUTH-1",
        bob,
        { cid: roomId },
        "a group the caller was invited to",
      );
      expectIds(
        ctx,
        "LOGS-SOCKET-1",
        idsOf(page.items),
        [m.id],
        "the group's history as an invited member reads it",
      );
      // Membership "at that moment": after leaving, and after being kicked, 4401.
      await membership(ctx, "ROOM-LEAVE-1", bob, "leave", roomId);
      expectRefused(
        ctx,
        "LOGS-AUTH-1",
        await logsAnswer(ctx, "LOGS-AUTH-1", bob, { cid: roomId }),
        "a peer that left read the group's history",
      );
      await membership(ctx, "ROOM-KICK-1", alice, "kick", roomId, [dave.id]);
      expectRefused(
        ctx,
        "LOGS-AUTH-1",
        await logsAnswer(ctx, "LOGS-AUTH-1", dave, { cid: roomId }),
        "a kicked peer read the group's history",
      );
      // And a peer that joins may read it from then on.
      await membership(ctx, "ROOM-JOIN-1", carol, "join", roomId);
      await logsPage(ctx, "LOGS-AUTH-1", carol, { cid: roomId }, "a group the caller joined");
    },
  }),

  defineCase({
    name: "logs/auth/peer-participants-only",
    requirements: ["LOGS-AUTH-2", "LOGS-AUTH-3"],
    features: ["history"],
    async run(ctx) {
      const [alice, bob, carol, dave] = (await openPeers(ctx, [
        "alice",
        "bob",
        "carol",
        "dave",
      ])) as [Peer, Peer, Peer, Peer];
      const one = await send(ctx, alice, { toPeerIds: [bob.id] }, "to bob");
      const two = await send(ctx, alice, { toPeerIds: [bob.id, carol.id] }, "to bob and carol");
      // [LOGS-AUTH-2] the sender and every recipient may read; a recipient need not have sent.
      for (const [who, m] of [
        [alice, one],
        [bob, one],
        [alice, two],
        [bob, two],
        [carol, two],
      ] as const) {
        await logsPage(
          ctx,
          "LOGS-AUTH-2",
          who,
          { cid: m.cid },
          `a conversation ${who.id} is a participant of`,
        );
      }
      // [LOGS-AUTH-3] a peer that neither sent nor received a message of it: 4401, also
      // when it shares another conversation with the participants.
      for (const [who, m] of [
        [carol, one],
        [dave, one],
        [dave, two],
      ] as const) {
        const answer = await logsAnswer(ctx, "LOGS-AUTH-2", who, { cid: m.cid });
        // A page is an allowed query that LOGS-AUTH-2 forbids; a refusal other than 4401
        // breaks LOGS-AUTH-3.
        ctx.expect(
          "LOGS-AUTH-2",
          answer.cmd !== "logs",
          `${who.id} read a conversation it takes no part in`,
          {
            expected: "error 4401",
            actual: JSON.stringify(answer).slice(0, 300),
          },
        );
        expectRefused(
          ctx,
          "LOGS-AUTH-3",
          answer,
          `${who.id} was refused a conversation it takes no part in, but not with 4401`,
        );
      }
    },
  }),

  defineCase({
    name: "logs/auth/unknown-conversation",
    requirements: ["LOGS-AUTH-4", "LOGS-AUTH-3"],
    features: ["history"],
    async run(ctx) {
      const [alice, zed] = (await openPeers(ctx, ["alice", "zed"])) as [Peer, Peer];
      const cid = cidOf([alice.id, zed.id]);
      // [LOGS-AUTH-4] nothing ever stored under these ids, and no group is named: 4401, not
      // an empty page. Among them the caller's own conversation with zed, before any message.
      for (const unknown of [cid, md5(ctx.nonce()), `${ctx.peer("no-group")}`]) {
        expectRefused(
          ctx,
          "LOGS-AUTH-4",
          await logsAnswer(ctx, "LOGS-AUTH-4", alice, { cid: unknown }),
          `logs for ${unknown}, where nothing was stored`,
        );
      }
      // The positive control: once a message is stored, the same query is served.
      const m = await send(ctx, alice, { toPeerIds: [zed.id] }, "now there is one");
      const page = await logsPage(
        ctx,
        "LOGS-AUTH-4",
        alice,
        { cid },
        "the conversation after its first message",
      );
      expectIds(
        ctx,
        "LOGS-AUTH-4",
        idsOf(page.items),
        [m.id],
        "the conversation after its first message",
      );
    },
  }),

  // ---- 5.5 REST ----

  defineCase({
    name: "rest/app/header-or-parameter",
    requirements: ["REST-APP-1"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const m = await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const cid = cidOf([alice.id, bob.id]);
      const open = ctx.appId();
      const found = (items: Item[], how: string) =>
        ctx.expect(
          "REST-APP-1",
          items.some((i) => i["msg-id"] === m.id),
          `the open app's message is not in the answer ${how}`,
          {
            expected: m.id,
            actual: JSON.stringify(idsOf(items)),
          },
        );
      // [REST-APP-1] the header names the app...
      found(
        (await restPage(ctx, "REST-APP-1", [["convid", cid]], "the app of the header")).items,
        "to the header",
      );
      // ...or, without the header, the appId parameter...
      const byParam = await restPage(
        ctx,
        "REST-APP-1",
        [
          ["convid", cid],
          ["appId", open],
        ],
        "the app of the parameter",
        { header: null },
      );
      found(byParam.items, "to the appId parameter");
      // ...and the header wins over the parameter, both ways.
      const other = ctx.target.apps.unknown ?? ctx.target.apps.signed?.appId;
      if (other === undefined) {
        ctx.note("the target has no second app: the precedence of the header not checked");
        return;
      }
      const headerWins = await restPage(
        ctx,
        "REST-APP-1",
        [
          ["convid", cid],
          ["appId", other],
        ],
        "the app of the header over another app's parameter",
      );
      found(headerWins.items, "to the header, with another app in the parameter");
      const otherHeader = await rest(
        ctx,
        "REST-APP-1",
        [
          ["convid", cid],
          ["appId", open],
        ],
        { header: other },
      );
      ctx.expect(
        "REST-APP-1",
        otherHeader.status !== 200,
        "the appId parameter was taken over the header",
        {
          expected: `the app of the header (${other}): HTTP 404 or 401`,
          actual: answerText(otherHeader),
        },
      );
    },
  }),

  defineCase({
    name: "rest/app/not-served",
    requirements: ["REST-APP-2"],
    features: ["rest-history"],
    async run(ctx) {
      const q: [string, string][] = [["convid", md5(ctx.nonce())]];
      // The positive control: the endpoint serves the open app, so a 404 below is an answer
      // about the app and not a missing endpoint.
      await restPage(ctx, "REST-APP-2", q, "the open app");
      const cases: [string, RestAuth, [string, string][]][] = [
        ["no app at all", { header: null }, q],
        ["a malformed app id in the header", { header: "bad app!" }, q],
        ["a malformed app id in the parameter", { header: null }, [...q, ["appId", "a:b"]]],
        ["an app id of 65 characters", { header: "a".repeat(65) }, q],
      ];
      const { unknown, disabled } = ctx.target.apps;
      if (unknown !== undefined)
        cases.push(["an app the server does not serve", { header: unknown }, q]);
      if (disabled !== undefined) cases.push(["a disabled app", { header: disabled }, q]);
      if (disabled !== undefined)
        cases.push([
          "a disabled app in the parameter",
          { header: null },
          [...q, ["appId", disabled]],
        ]);
      for (const [what, auth, query] of cases) {
        // [REST-APP-2] HTTP 404 with {"code": 4100, "error": ...}.
        expectHttpError(
          ctx,
          "REST-APP-2",
          await rest(ctx, "REST-APP-2", query, auth),
          404,
          4100,
          `a request naming ${what}`,
        );
      }
    },
  }),

  defineCase({
    name: "rest/app/repeated-app-id",
    requirements: ["REST-APP-3"],
    features: ["rest-history"],
    async run(ctx) {
      const open = ctx.appId();
      const q: [string, string] = ["convid", md5(ctx.nonce())];
      await restPage(
        ctx,
        "REST-APP-3",
        [q, ["appId", open]],
        "the open app in one appId parameter",
        { header: null },
      );
      // [REST-APP-3] a repeated appId names no app, even with equal values.
      for (const second of [open, "other-app"]) {
        const a = await rest(ctx, "REST-APP-3", [q, ["appId", open], ["appId", second]], {
          header: null,
        });
        expectHttpError(ctx, "REST-APP-3", a, 404, 4100, `appId given twice (${open}, ${second})`);
      }
      // With the header, the parameters do not name the app (REST-APP-1).
      await restPage(
        ctx,
        "REST-APP-3",
        [q, ["appId", open], ["appId", open]],
        "the header's app with appId repeated",
      );
    },
  }),

  defineCase({
    name: "rest/auth/master-key-required",
    requirements: ["REST-AUTH-1"],
    features: ["rest-history"],
    async run(ctx) {
      const app = ctx.appId("signed");
      const key = ctx.masterKey;
      const q: [string, string][] = [["convid", md5(ctx.nonce())]];
      // [REST-AUTH-1] an app with a master key: 401 {"code": 4102} without that exact key.
      const wrong: [string, RestAuth][] = [
        ["no key", { header: app }],
        ["a wrong key", { header: app, key: `${key}x` }],
        [
          "the key in upper case",
          { header: app, key: key.toUpperCase() === key ? `X${key}` : key.toUpperCase() },
        ],
        ["no key, the app in the parameter", { header: null }],
      ];
      for (const [what, auth] of wrong) {
        const query = auth.header === null ? [...q, ["appId", app] as [string, string]] : q;
        expectHttpError(
          ctx,
          "REST-AUTH-1",
          await rest(ctx, "REST-AUTH-1", query, auth),
          401,
          4102,
          `a request with ${what}`,
        );
      }
      // The positive control: with the key, it is served.
      for (const auth of [
        { header: app, key },
        { header: null, key },
      ]) {
        const query = auth.header === null ? [...q, ["appId", app] as [string, string]] : q;
        const a = await rest(ctx, "REST-AUTH-1", query, auth);
        ctx.expect(
          "REST-AUTH-1",
          a.status === 200,
          "a request with the master key was not served",
          { expected: "HTTP 200", actual: answerText(a) },
        );
      }
    },
  }),

  defineCase({
    name: "rest/auth/no-key-app-served",
    requirements: ["REST-AUTH-2"],
    features: ["rest-history"],
    async run(ctx) {
      // Only a kit-provisioned server is known to serve its open app without a master key.
      if (ctx.target.kind === "url")
        throw new NotApplicable(
          "whether the target's open app has a master key is not known to the kit",
        );
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const m = await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const cid = cidOf([alice.id, bob.id]);
      // [REST-AUTH-2] authorized whatever X-AVOSCloud-Master-Key holds.
      for (const key of [undefined, "anything", ctx.target.apps.signed?.masterKey ?? "another"]) {
        const a = await rest(
          ctx,
          "REST-AUTH-2",
          [["convid", cid]],
          key === undefined ? {} : { key },
        );
        ctx.expect(
          "REST-AUTH-2",
          a.status === 200,
          `the app without a master key was refused with key ${JSON.stringify(key)}`,
          {
            expected: "HTTP 200",
            actual: answerText(a),
          },
        );
        ctx.expect(
          "REST-AUTH-2",
          (a.json as Item[]).some((i) => i["msg-id"] === m.id),
          "the message is not in the answer",
          {
            expected: m.id,
            actual: a.text.slice(0, 200),
          },
        );
      }
    },
  }),

  defineCase({
    name: "rest/order/app-then-key-then-params",
    requirements: ["REST-ORDER-1"],
    features: ["rest-history"],
    async run(ctx) {
      const signed = ctx.appId("signed");
      const key = ctx.masterKey;
      const bad: [string, string][] = [
        ["convid", md5(ctx.nonce())],
        ["from", ctx.peer("alice")],
        ["limit", "0"],
      ];
      // [REST-ORDER-1] the app first: a malformed or unserved app with bad parameters, 404.
      expectHttpError(
        ctx,
        "REST-ORDER-1",
        await rest(ctx, "REST-ORDER-1", bad, { header: "bad app!" }),
        404,
        4100,
        "a malformed app with bad parameters",
      );
      expectHttpError(
        ctx,
        "REST-ORDER-1",
        await rest(ctx, "REST-ORDER-1", bad, { header: null }),
        404,
        4100,
        "no app with bad parameters",
      );
      // Then the key: the signed app without its key and with bad parameters, 401.
      expectHttpError(
        ctx,
        "REST-ORDER-1",
        await rest(ctx, "REST-ORDER-1", bad, { header: signed }),
        401,
        4102,
        "no master key with bad parameters",
      );
      expectHttpError(
        ctx,
        "REST-ORDER-1",
        await rest(ctx, "REST-ORDER-1", bad, { header: signed, key: `${key}x` }),
        401,
        4102,
        "a wrong master key with bad parameters",
      );
      // Then the parameters: with the key, 400.
      expectHttpError(
        ctx,
        "REST-ORDER-1",
        await rest(ctx, "REST-ORDER-1", bad, { header: signed, key }),
        400,
        4114,
        "bad parameters with the master key",
      );
    },
  }),

  defineCase({
    name: "rest/ok/json-array-page",
    requirements: ["REST-OK-1"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const sent = [
        ...(await sendMany(ctx, alice, { toPeerIds: [bob.id] }, ["one", "two"])),
        ...(await sendMany(ctx, bob, { toPeerIds: [alice.id] }, ["three", 'q"uote 😀'])),
      ];
      const cid = cidOf([alice.id, bob.id]);
      for (const limit of [undefined, 2]) {
        const query: [string, string][] = [
          ["convid", cid],
          ...(limit === undefined ? [] : [["limit", String(limit)] as [string, string]]),
        ];
        const { items, answer } = await restPage(ctx, "REST-OK-1", query, "a conversation");
        // [REST-OK-1] 200, Content-Type application/json, an array of items (checked by
        // restPage against the schemas), one page as 5.3 defines it.
        const type = (answer.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
        ctx.expectEqual(
          "REST-OK-1",
          type,
          "application/json",
          "the media type of the REST history response",
        );
        expectIds(
          ctx,
          "REST-OK-1",
          idsOf(items),
          expectedPage(sent, limit === undefined ? {} : { limit }),
          `the ids of the page${limit === undefined ? "" : ` of limit ${limit}`}`,
        );
        for (const item of items) {
          const m = sent.find((s) => s.id === item["msg-id"]);
          ctx.expect(
            "REST-OK-1",
            m !== undefined &&
              item.data === m.msg &&
              item.timestamp === m.t &&
              item.from === m.from &&
              item["conv-id"] === cid,
            "a REST item does not describe its message",
            {
              expected: JSON.stringify(m),
              actual: JSON.stringify(item),
            },
          );
        }
      }
    },
  }),

  defineCase({
    name: "rest/store/visible-at-ack",
    requirements: ["LOGS-STORE-1"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const cid = cidOf([alice.id, bob.id]);
      // [LOGS-STORE-1] the REST query goes out the moment the ack came.
      for (let k = 1; k <= 4; k++) {
        const m = await send(ctx, alice, { toPeerIds: [bob.id] }, `message ${k}`);
        const { items } = await restPage(
          ctx,
          "LOGS-STORE-1",
          [["convid", cid]],
          "a conversation right after an ack",
        );
        ctx.expect(
          "LOGS-STORE-1",
          items.some((i) => i["msg-id"] === m.id),
          `message ${k} was not in the REST history asked for right after its ack`,
          {
            expected: m.id,
            actual: JSON.stringify(idsOf(items)),
          },
        );
      }
    },
  }),

  defineCase({
    name: "rest/more/byte-bound-header",
    requirements: ["REST-MORE-1", "LOGS-BYTES-1", "LOGS-PAGE-2"],
    features: ["rest-history"],
    timeoutMs: 30_000,
    async run(ctx) {
      // Pages of 1 MiB take half the history burst of the kit's address (LIMIT-LOGS-RATE-1),
      // which every REST case shares: on the shortened-limits server when there is one,
      // where only the rate case asks for history by REST.
      const short = ctx.target.short !== undefined;
      const { sent, cid } = await widePages(ctx, short);
      const order = expectedPage(sent, { limit: 1000 });
      const more = (a: HttpAnswer) => a.headers.get("x-confab-more");
      const first = await restPage(
        ctx,
        "REST-MORE-1",
        [
          ["convid", cid],
          ["limit", "1000"],
        ],
        "a conversation over 1 MiB",
        { short },
      );
      const firstBytes = sizeOf(first.answer.text.trim());
      ctx.note(`first page: ${first.items.length} items, ${firstBytes} bytes`);
      // [LOGS-BYTES-1] the body is within the bound and not empty...
      ctx.expect(
        "LOGS-BYTES-1",
        firstBytes <= LOGS_MAX_PAGE_BYTES && first.items.length > 0,
        "the REST page is over 1047552 bytes, or empty",
        {
          expected: `1 to ${LOGS_MAX_PAGE_BYTES} bytes`,
          actual: `${firstBytes} bytes in ${first.items.length} items`,
        },
      );
      // [REST-MORE-1] ...and, ended by the bound, says so in X-Confab-More: true.
      ctx.expectEqual(
        "REST-MORE-1",
        more(first.answer),
        "true",
        "X-Confab-More of a page that the byte bound ended",
      );
      expectIds(
        ctx,
        "LOGS-PAGE-2",
        idsOf(first.items),
        order.slice(0, first.items.length),
        "the ids of the first page",
      );
      const last = first.items[first.items.length - 1] as Item;
      const next = await restPage(
        ctx,
        "REST-MORE-1",
        [
          ["convid", cid],
          ["limit", "1000"],
          ["max_ts", String(last.timestamp)],
          ["msgid", last["msg-id"]],
        ],
        "the next page",
        { short },
      );
      const following = elementTexts(next.answer.text)[0];
      if (following !== undefined) {
        // [LOGS-BYTES-1] the next item would not have fit.
        ctx.expect(
          "LOGS-BYTES-1",
          firstBytes + 1 + sizeOf(following) > LOGS_MAX_PAGE_BYTES,
          "the page ended before an item that would have fit",
          {
            expected: `${firstBytes} + 1 + ${sizeOf(following)} > ${LOGS_MAX_PAGE_BYTES}`,
            actual: `${firstBytes + 1 + sizeOf(following)} bytes with the next item`,
          },
        );
      }
      expectIds(
        ctx,
        "LOGS-PAGE-2",
        idsOf(next.items),
        order.slice(first.items.length),
        "the ids of the page after it",
      );
      // [REST-MORE-1] only if: not on the last page, nor on a page its limit ended.
      ctx.expect(
        "REST-MORE-1",
        more(next.answer) !== "true",
        "the last page carries X-Confab-More: true",
        { actual: String(more(next.answer)) },
      );
      const small = await restPage(
        ctx,
        "REST-MORE-1",
        [
          ["convid", cid],
          ["limit", "3"],
        ],
        "a page of limit 3",
        { short },
      );
      ctx.expect(
        "REST-MORE-1",
        more(small.answer) !== "true",
        "a page its limit ended carries X-Confab-More: true",
        { actual: String(more(small.answer)) },
      );
    },
  }),

  defineCase({
    name: "rest/rate/refused-with-429",
    requirements: ["REST-RATE-1", "SESSION-INFO-5"],
    features: ["rest-history"],
    needs: ["short"],
    timeoutMs: 30_000,
    async run(ctx) {
      // On the shortened-limits server: the bound is per client address, so exhausting it
      // on the main server would refuse the REST requests of concurrent cases.
      const rate = ctx.limit("historyBytesPerSecond", true);
      const burst = ctx.limit("historyBurstBytes", true);
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"], true)) as [Peer, Peer];
      await sendMany(
        ctx,
        alice,
        { toPeerIds: [bob.id] },
        Array.from({ length: 16 }, () => WIDEST),
      );
      const query: [string, string][] = [
        ["convid", cidOf([alice.id, bob.id])],
        ["limit", "1000"],
      ];
      const started = Date.now();
      let taken = 0;
      let page = 0;
      for (let k = 0; k < 200; k++) {
        const a = await rest(ctx, "REST-RATE-1", query, { short: true, noRetry: true });
        if (a.status === 200) {
          page = Math.max(page, sizeOf(a.text));
          taken += sizeOf(a.text);
          // [SESSION-INFO-5] the bound it announced must refuse by now: the burst, the rate
          // over the time taken (and a second more), and two pages of debt.
          const allowed = burst + (rate * (Date.now() - started + 1000)) / 1000 + 2 * page;
          ctx.expect(
            "SESSION-INFO-5",
            taken <= allowed,
            "the server sent more history than the bound it announces allows",
            {
              expected: `a refusal within ${Math.round(allowed)} bytes (historyBytesPerSecond ${rate}, historyBurstBytes ${burst})`,
              actual: `${taken} bytes in ${Date.now() - started} ms, all served`,
            },
          );
          continue;
        }
        // [REST-RATE-1] the refusal: HTTP 429, Retry-After, {"code": 4120, "error": ...}.
        ctx.note(`refused after ${taken} bytes in ${Date.now() - started} ms`);
        expectHttpError(ctx, "REST-RATE-1", a, 429, 4120, "a request over the history rate");
        const retry = a.headers.get("retry-after");
        ctx.expect(
          "REST-RATE-1",
          retry !== null && (/^\d+$/.test(retry.trim()) || !Number.isNaN(Date.parse(retry))),
          "the 429 has no valid Retry-After",
          {
            expected: "Retry-After: delta-seconds or an HTTP date",
            actual: String(retry),
          },
        );
        return;
      }
      throw new HarnessError("200 REST requests were neither refused nor over the announced bound");
    },
  }),

  defineCase({
    name: "rest/filter/convid",
    requirements: ["REST-CONVID-1", "LOGS-PAGE-2"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      const sent = [
        await send(ctx, alice, { toPeerIds: [bob.id] }, "alice to bob"),
        await send(ctx, bob, { toPeerIds: [alice.id] }, "bob to alice"),
        await send(ctx, alice, { toPeerIds: [carol.id] }, "alice to carol"),
        await send(ctx, alice, { toPeerIds: [bob.id, carol.id] }, "alice to both"),
      ];
      if (ctx.target.features.groups === true) {
        const roomId = await createGroup(ctx, alice);
        sent.push(await send(ctx, alice, { roomId }, "alice to the group"));
      }
      for (const cid of new Set(sent.map((m) => m.cid))) {
        const { items } = await restPage(
          ctx,
          "REST-CONVID-1",
          [["convid", cid]],
          `conversation ${cid}`,
        );
        // [REST-CONVID-1] only that conversation's messages...
        for (const item of items) {
          ctx.expect(
            "REST-CONVID-1",
            item["conv-id"] === cid,
            "an item of another conversation was returned",
            {
              expected: `conv-id ${cid}`,
              actual: JSON.stringify(item).slice(0, 300),
            },
          );
        }
        // [LOGS-PAGE-2] ...all of them.
        expectIds(
          ctx,
          "LOGS-PAGE-2",
          idsOf(items),
          expectedPage(sent.filter((m) => m.cid === cid)),
          `the page of conversation ${cid}`,
        );
      }
    },
  }),

  defineCase({
    name: "rest/filter/from-all-conversations",
    requirements: ["REST-FROM-1", "LOGS-PAGE-2"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob, carol] = (await openPeers(ctx, ["alice", "bob", "carol"])) as [
        Peer,
        Peer,
        Peer,
      ];
      const sent = [
        await send(ctx, alice, { toPeerIds: [bob.id] }, "alice to bob"),
        await send(ctx, bob, { toPeerIds: [alice.id] }, "bob to alice"),
        await send(ctx, alice, { toPeerIds: [carol.id] }, "alice to carol"),
        await send(ctx, alice, { toPeerIds: [bob.id, carol.id] }, "alice to both"),
        await send(ctx, carol, { toPeerIds: [bob.id] }, "carol to bob"),
      ];
      if (ctx.target.features.groups === true) {
        const roomId = await createGroup(ctx, alice);
        await membership(ctx, "ROOM-INVITE-1", alice, "invite", roomId, [bob.id]);
        sent.push(await send(ctx, alice, { roomId }, "alice to the group"));
        sent.push(await send(ctx, bob, { roomId }, "bob to the group"));
      }
      for (const peer of [alice, bob]) {
        const { items } = await restPage(
          ctx,
          "REST-FROM-1",
          [["from", peer.id]],
          `the messages from ${peer.id}`,
        );
        // [REST-FROM-1] that sender's messages only, from every conversation.
        for (const item of items) {
          ctx.expect(
            "REST-FROM-1",
            item.from === peer.id,
            "an item from another sender was returned",
            {
              expected: `from ${peer.id}`,
              actual: JSON.stringify(item).slice(0, 300),
            },
          );
        }
        expectIds(
          ctx,
          "REST-FROM-1",
          idsOf(items),
          expectedPage(sent.filter((m) => m.from === peer.id)),
          `the messages from ${peer.id}`,
        );
      }
    },
  }),

  defineCase({
    name: "rest/filter/whole-app",
    requirements: ["REST-ALL-1"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob, carol, dave] = (await openPeers(ctx, [
        "alice",
        "bob",
        "carol",
        "dave",
      ])) as [Peer, Peer, Peer, Peer];
      const sent = [
        await send(ctx, alice, { toPeerIds: [bob.id] }, "alice to bob"),
        await send(ctx, carol, { toPeerIds: [dave.id] }, "carol to dave"),
        await send(ctx, dave, { toPeerIds: [alice.id, bob.id] }, "dave to two"),
      ];
      if (ctx.target.features.groups === true) {
        const roomId = await createGroup(ctx, carol);
        sent.push(await send(ctx, carol, { roomId }, "carol to the group"));
      }
      // [REST-ALL-1] neither convid nor from: every conversation of the app. Other cases
      // write to the app at the same time, so the kit pages back from just after its
      // newest message to its oldest, and looks for its own messages there.
      const newest = Math.max(...sent.map((m) => m.t));
      const oldest = Math.min(...sent.map((m) => m.t));
      const wanted = new Set(sent.map((m) => m.id));
      let cursor: [string, string][] = [["max_ts", String(newest + 1)]];
      for (let pages = 0; pages < 100 && wanted.size > 0; pages++) {
        const { items } = await restPage(
          ctx,
          "REST-ALL-1",
          [...cursor, ["limit", "10"]],
          "the whole app",
        );
        for (const item of items) wanted.delete(item["msg-id"]);
        const last = items[items.length - 1];
        if (last === undefined || last.timestamp < oldest) break;
        cursor = [
          ["max_ts", String(last.timestamp)],
          ["msgid", last["msg-id"]],
        ];
      }
      ctx.expect(
        "REST-ALL-1",
        wanted.size === 0,
        "messages of the app are missing from the whole-app history",
        {
          expected: `all of ${sent.length} messages in ${new Set(sent.map((m) => m.cid)).size} conversations`,
          actual: `missing ${JSON.stringify([...wanted])}`,
        },
      );
    },
  }),

  defineCase({
    name: "rest/params/convid-and-from",
    requirements: ["REST-PARAM-1"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const cid = cidOf([alice.id, bob.id]);
      // Each alone is served...
      await restPage(ctx, "REST-PARAM-1", [["convid", cid]], "convid alone");
      await restPage(ctx, "REST-PARAM-1", [["from", alice.id]], "from alone");
      // [REST-PARAM-1] ...both together: 400 {"code": 4114}.
      expectHttpError(
        ctx,
        "REST-PARAM-1",
        await rest(ctx, "REST-PARAM-1", [
          ["convid", cid],
          ["from", alice.id],
        ]),
        400,
        4114,
        "convid with from",
      );
    },
  }),

  defineCase({
    name: "rest/params/bad-cursor-and-limit",
    requirements: ["REST-PARAM-2", "LOGS-CURSOR-3", "LOGS-LIMIT-2"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const m = await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const c: [string, string] = ["convid", cidOf([alice.id, bob.id])];
      // The positive controls: the bounds and a full cursor are served.
      for (const q of [
        [["limit", "1"]],
        [["limit", "1000"]],
        [["max_ts", "0"]],
        [
          ["max_ts", String(m.t + 1)],
          ["msgid", m.id],
        ],
      ] as [string, string][][]) {
        await restPage(ctx, "REST-PARAM-2", [c, ...q], `the query ${new URLSearchParams(q)}`);
      }
      const cases: [string, [string, string][]][] = [
        ["REST-PARAM-2", [["max_ts", "-1"]]],
        ["REST-PARAM-2", [["max_ts", "soon"]]],
        ["REST-PARAM-2", [["max_ts", "1.5"]]],
        ["LOGS-CURSOR-3", [["msgid", m.id]]],
        ["LOGS-LIMIT-2", [["limit", "0"]]],
        ["LOGS-LIMIT-2", [["limit", "1001"]]],
        ["LOGS-LIMIT-2", [["limit", "-5"]]],
        ["LOGS-LIMIT-2", [["limit", "ten"]]],
      ];
      for (const [req, q] of cases) {
        // [REST-PARAM-2] 400 {"code": 4114}: a bad max_ts, msgid without max_ts
        // (LOGS-CURSOR-3), a limit out of 1..1000 (LOGS-LIMIT-2).
        const a = await rest(ctx, req, [c, ...q]);
        expectHttpError(ctx, req, a, 400, 4114, `the query ${new URLSearchParams(q)}`);
      }
    },
  }),

  defineCase({
    name: "rest/params/ascii-decimal-integers",
    requirements: ["REST-INT-1"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const sent = await sendMany(
        ctx,
        alice,
        { toPeerIds: [bob.id] },
        Array.from({ length: 12 }, (_, k) => `m${k}`),
      );
      const c: [string, string] = ["convid", cidOf([alice.id, bob.id])];
      const pivot = [...sent].sort(historyOrder)[4] as Sent;
      // [REST-INT-1] read as decimal: 010 is ten (not eight), leading zeros change nothing,
      // and 2^53 - 1 is a valid max_ts.
      const read: [string, [string, string][], string[]][] = [
        ["limit=010", [["limit", "010"]], expectedPage(sent, { limit: 10 })],
        [
          "limit=0000000000000000000003",
          [["limit", "0000000000000000000003"]],
          expectedPage(sent, { limit: 3 }),
        ],
        [
          `max_ts=000${pivot.t}`,
          [["max_ts", `000${pivot.t}`]],
          expectedPage(sent, { max_ts: pivot.t }),
        ],
        ["max_ts=9007199254740991", [["max_ts", "9007199254740991"]], expectedPage(sent)],
      ];
      for (const [what, q, expected] of read) {
        const { items } = await restPage(ctx, "REST-INT-1", [c, ...q], what);
        expectIds(ctx, "REST-INT-1", idsOf(items), expected, `the page of ${what}`);
      }
      // Anything but ASCII digits up to 2^53 - 1 is refused, for max_ts and for limit.
      const refused = [
        "",
        "-1",
        "1e2",
        "1.0",
        "0x10",
        " 5",
        "5 ",
        "+5",
        "9007199254740992",
        "٣",
        "５",
        "1_0",
      ];
      for (const name of ["max_ts", "limit"]) {
        for (const value of refused) {
          const a = await rest(ctx, "REST-INT-1", [c, [name, value]]);
          expectHttpError(ctx, "REST-INT-1", a, 400, 4114, `${name}=${JSON.stringify(value)}`);
        }
      }
    },
  }),

  defineCase({
    name: "rest/params/repeated",
    requirements: ["REST-PARAM-3"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const m = await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const cid = cidOf([alice.id, bob.id]);
      const maxTs = String(m.t + 1);
      // Each once is served.
      await restPage(
        ctx,
        "REST-PARAM-3",
        [
          ["convid", cid],
          ["max_ts", maxTs],
          ["msgid", m.id],
          ["limit", "5"],
        ],
        "every parameter once",
      );
      await restPage(ctx, "REST-PARAM-3", [["from", alice.id]], "from once");
      // [REST-PARAM-3] twice, even with the same value: 400 {"code": 4114}.
      const cases: [string, string][][] = [
        [
          ["convid", cid],
          ["convid", cid],
        ],
        [
          ["from", alice.id],
          ["from", alice.id],
        ],
        [
          ["from", alice.id],
          ["from", bob.id],
        ],
        [
          ["convid", cid],
          ["max_ts", maxTs],
          ["max_ts", maxTs],
        ],
        [
          ["convid", cid],
          ["max_ts", maxTs],
          ["msgid", m.id],
          ["msgid", m.id],
        ],
        [
          ["convid", cid],
          ["limit", "5"],
          ["limit", "5"],
        ],
        [
          ["convid", cid],
          ["limit", "5"],
          ["limit", "6"],
        ],
      ];
      for (const q of cases) {
        expectHttpError(
          ctx,
          "REST-PARAM-3",
          await rest(ctx, "REST-PARAM-3", q),
          400,
          4114,
          `the query ${new URLSearchParams(q)}`,
        );
      }
    },
  }),

  defineCase({
    name: "rest/params/empty-value",
    requirements: ["REST-PARAM-4"],
    features: ["rest-history"],
    async run(ctx) {
      const [alice, bob] = (await openPeers(ctx, ["alice", "bob"])) as [Peer, Peer];
      const m = await send(ctx, alice, { toPeerIds: [bob.id] }, "hello");
      const c: [string, string] = ["convid", cidOf([alice.id, bob.id])];
      await restPage(ctx, "REST-PARAM-4", [c], "the conversation");
      // [REST-PARAM-4] present and empty is present and invalid, never absent: 400 for the
      // query parameters...
      const cases: [string, string][][] = [
        [["convid", ""]],
        [["from", ""]],
        [c, ["max_ts", ""]],
        [c, ["limit", ""]],
        [c, ["max_ts", String(m.t + 1)], ["msgid", ""]],
      ];
      for (const q of cases) {
        expectHttpError(
          ctx,
          "REST-PARAM-4",
          await rest(ctx, "REST-PARAM-4", q),
          400,
          4114,
          `the query ${new URLSearchParams(q)}`,
        );
      }
      // ...and 404 for an empty appId, a malformed app id (REST-APP-2).
      expectHttpError(
        ctx,
        "REST-PARAM-4",
        await rest(ctx, "REST-PARAM-4", [c, ["appId", ""]], { header: null }),
        404,
        4100,
        "appId=",
      );
    },
  }),
];
