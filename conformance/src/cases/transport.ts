/**
 * Cases of chapter 01, transport: the router, the WebSocket connection and its origin
 * check, framing, the serial `i` and reply matching, the keepalive, the read and login
 * timeouts, and flood control.
 *
 * Every case drives the server over the wire only, with what the spec guarantees: codes of
 * invalid frames come from the schemas' annotations (`ctx.expectedCode`), limits from what
 * the server announces, and the timeouts from the shortened-limits server (spec 10.2). A
 * "MUST NOT send" is checked after a positive control (a sentinel that must come), so a
 * server that sends nothing cannot pass it.
 *
 * Not here: ERROR-SHUTDOWN-1 (needs SIGTERM: the durability cases), and the requirements of
 * clients (ROUTER-TTL-1, FRAME-SIZE-3, SERIAL-MATCH-1, …).
 * @module
 */
import { conversationId, httpValidators, isAppId, SPEC_REVISION } from "@confab/protocol";
import { defineCase, type ServerCase } from "../case.js";
import { type Connection, describeFrame } from "../connection.js";
import type { CaseContext, HttpAnswer } from "../context.js";
import { HarnessError, NotApplicable } from "../errors.js";
import {
  command,
  disallowedOrigin,
  expectSuccess,
  type Frame,
  isDelivery,
  isKeepalive,
  keepaliveAnswer,
  keepaliveSentinel,
  mediaType,
  nameOf,
  replyOf,
  requestAsIs,
  SUCCESS_REPLIES,
} from "./support.js";

/** The frame bound of FRAME-SIZE-1, fixed by the spec (Table 9 does not let it vary). */
const FRAME_BYTES = 65_536;

/** The bound above which FRAME-SIZE-2 lets the WebSocket layer close with 1009. */
const WS_LAYER_BYTES = 1_048_576;

/** The largest valid serial `i` (SERIAL-RANGE-1, SERIAL-INVALID-1). */
const MAX_SERIAL = 2_147_483_647;

/** One WebSocket message as it came, before the kit parsed it. */
interface RawMessage {
  readonly text: string;
  readonly binary: boolean;
}

/**
 * Captures every message `conn` receives from now on, binary ones and texts that are no
 * JSON object included: `conn.rawOf` has the text of a frame, but FRAME-TEXT-1 and
 * FRAME-BINARY-1 are about the messages that are not frames too.
 */
function captureRaw(conn: Connection): RawMessage[] {
  const out: RawMessage[] = [];
  conn.ws.on("message", (data: Buffer, isBinary: boolean) => {
    out.push({ text: isBinary ? "" : Buffer.from(data).toString("utf8"), binary: isBinary });
  });
  return out;
}

/** A setInterval that a case stops in `finally`. */
function every(ms: number, fn: () => void): () => void {
  const timer = setInterval(fn, ms);
  return () => clearInterval(timer);
}

/** Milliseconds since `t0` (performance clock). */
const since = (t0: number): number => Math.round(performance.now() - t0);

/** Slack for clocks and timer ticks when checking that a timeout did not fire early, ms. */
const EARLY_SLACK_MS = 50;

/** How long after its due time a timeout close may come, ms: timers tick, machines are busy. */
const LATE_SLACK_MS = 2_500;

// ---------------------------------------------------------------------------------------------
// The router (1.1)

/** The app id as a query value. */
const q = (v: string): string => encodeURIComponent(v);

/** `GET /v1/route` with `query` (starting with `?`, or empty). */
function route(ctx: CaseContext, req: string, query: string): Promise<HttpAnswer> {
  return ctx.http(req, `/v1/route${query}`);
}

/** Fails `req` unless the answer has HTTP `status`. */
function expectStatus(
  ctx: CaseContext,
  req: string,
  a: HttpAnswer,
  status: number,
  what: string,
): void {
  ctx.expect(req, a.status === status, `${what}: HTTP ${a.status}`, {
    expected: `HTTP ${status}`,
    actual: `HTTP ${a.status}: ${a.text.slice(0, 200)}`,
  });
}

/** Fails `req` unless the answer's media type is `type`. */
function expectMediaType(
  ctx: CaseContext,
  req: string,
  a: HttpAnswer,
  type: string,
  what: string,
): void {
  ctx.expect(
    req,
    mediaType(a) === type,
    `${what}: Content-Type ${a.headers.get("content-type") ?? "(none)"}`,
    {
      expected: `Content-Type: ${type}`,
      actual: `Content-Type: ${a.headers.get("content-type") ?? "(none)"}`,
    },
  );
}

/** Fails `req` unless `body` is `{"code": code, "error": ...}` (the HTTP error schema). */
function expectErrorBody(
  ctx: CaseContext,
  req: string,
  body: unknown,
  code: number,
  what: string,
): void {
  const valid = httpValidators.error?.(body).ok === true;
  const got =
    body !== null && typeof body === "object" ? (body as { code?: unknown }).code : undefined;
  ctx.expect(
    req,
    valid && got === code,
    `${what}: the body is not {"code": ${code}, "error": ...}`,
    {
      expected: `{"code": ${code}, "error": "..."}`,
      actual: body === undefined ? "(not JSON)" : JSON.stringify(body).slice(0, 300),
    },
  );
}

/** A plain JSON router failure: status, JSON media type, `{"code", "error"}` body. */
function expectJsonFailure(
  ctx: CaseContext,
  req: string,
  a: HttpAnswer,
  status: number,
  code: number,
  what: string,
): void {
  expectStatus(ctx, req, a, status, what);
  expectErrorBody(ctx, req, a.json, code, what);
  // [ROUTER-GET-2] every JSON answer of the router, failures included.
  expectMediaType(ctx, "ROUTER-GET-2", a, "application/json", what);
}

/** The JSON inside a JSONP body `cb(...)`, under `req`. */
function jsonpInner(
  ctx: CaseContext,
  req: string,
  a: HttpAnswer,
  cb: string,
  what: string,
): unknown {
  const framed = a.text.startsWith(`${cb}(`) && a.text.endsWith(")");
  ctx.expect(req, framed, `${what}: the body is not exactly ${cb}(JSON)`, {
    expected: `${cb}(<the JSON answer>)`,
    actual: a.text.slice(0, 300),
  });
  const inner = a.text.slice(cb.length + 1, -1);
  try {
    return JSON.parse(inner);
  } catch {
    return ctx.fault(req, `${what}: between ${cb}( and ) there is no JSON`, {
      actual: inner.slice(0, 300),
    });
  }
}

/** Fails `req` unless `value` is an absolute `ws://` or `wss://` URL; returns it. */
function expectWsUrl(ctx: CaseContext, req: string, value: unknown, what: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch {
    url = undefined;
  }
  ctx.expect(
    req,
    url !== undefined && (url.protocol === "ws:" || url.protocol === "wss:"),
    `${what} is not an absolute ws:// or wss:// URL`,
    {
      expected: "ws://… or wss://…",
      actual: JSON.stringify(value),
    },
  );
  return value as string;
}

/** JSON with object keys sorted, so that two equal objects compare equal whatever their order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) =>
            a < b ? -1 : a > b ? 1 : 0,
          ),
        )
      : v,
  );
}

/** The 200 answer of the router for the open app, checked under ROUTER-GET-1. */
async function routeOk(
  ctx: CaseContext,
  query = `?appId=${q(ctx.appId())}`,
): Promise<Record<string, unknown>> {
  const a = await route(ctx, "ROUTER-GET-1", query);
  expectStatus(ctx, "ROUTER-GET-1", a, 200, `GET /v1/route${query}`);
  ctx.expect(
    "ROUTER-GET-1",
    a.json !== null && typeof a.json === "object" && !Array.isArray(a.json),
    "the router's answer is not a JSON object",
    {
      actual: a.text.slice(0, 300),
    },
  );
  return a.json as Record<string, unknown>;
}

const ROUTER_CASES: readonly ServerCase[] = [
  defineCase({
    name: "router/route/answers-known-app",
    requirements: ["ROUTER-GET-1", "ROUTER-GET-2"],
    async run(ctx) {
      const query = `?appId=${q(ctx.appId())}`;
      const a = await route(ctx, "ROUTER-GET-1", query);
      expectStatus(ctx, "ROUTER-GET-1", a, 200, `GET /v1/route${query}`);
      expectMediaType(ctx, "ROUTER-GET-2", a, "application/json", "the router's answer");
      const body = a.json as Record<string, unknown> | undefined;
      ctx.expect(
        "ROUTER-GET-1",
        body !== null && typeof body === "object" && !Array.isArray(body),
        "the answer is not a JSON object",
        {
          actual: a.text.slice(0, 300),
        },
      );
      const answer = body as Record<string, unknown>;
      expectWsUrl(ctx, "ROUTER-GET-1", answer.server, "server");
      ctx.expect(
        "ROUTER-GET-1",
        Number.isInteger(answer.ttl) && (answer.ttl as number) > 0,
        "ttl is not a positive integer",
        {
          expected: "a positive integer number of seconds",
          actual: JSON.stringify(answer.ttl),
        },
      );
    },
  }),
  defineCase({
    name: "router/route/server-url-accepts-websocket",
    requirements: ["FRAME-WS-1", "ROUTER-GET-1"],
    async run(ctx) {
      const answer = await routeOk(ctx);
      // [FRAME-WS-1] every URL the router returns: server, and secondary when there is one.
      const urls = [answer.server, ...(answer.secondary === undefined ? [] : [answer.secondary])];
      for (const [k, value] of urls.entries()) {
        const url = expectWsUrl(ctx, "ROUTER-GET-1", value, k === 0 ? "server" : "secondary");
        const conn = await ctx.connect({ url });
        const peer = ctx.peer(`p${k}`);
        const opened = await ctx.request(
          "FRAME-WS-1",
          conn,
          command(ctx.appId(), peer, "session/open"),
        );
        expectSuccess(ctx, "FRAME-WS-1", opened, "session/opened", `session/open at ${url}`);
        await keepaliveSentinel(ctx, "FRAME-WS-1", conn);
      }
    },
  }),
  defineCase({
    name: "router/route/secure-gives-wss",
    requirements: ["ROUTER-SECURE-1", "ROUTER-GET-1"],
    async run(ctx) {
      const answer = await routeOk(ctx, `?appId=${q(ctx.appId())}&secure=1`);
      expectWsUrl(ctx, "ROUTER-GET-1", answer.server, "server");
      ctx.expect(
        "ROUTER-SECURE-1",
        String(answer.server).startsWith("wss://"),
        "secure=1 was answered with a URL that is not wss://",
        {
          expected: "wss://…",
          actual: JSON.stringify(answer.server),
        },
      );
    },
  }),
  defineCase({
    name: "router/route/secondary-is-ws-url",
    requirements: ["ROUTER-SECONDARY-1", "FRAME-WS-1"],
    async run(ctx) {
      const answer = await routeOk(ctx);
      if (answer.secondary === undefined) {
        throw new NotApplicable("the router adds no secondary URL (ROUTER-SECONDARY-1 is a MAY)");
      }
      const url = expectWsUrl(ctx, "ROUTER-SECONDARY-1", answer.secondary, "secondary");
      // [FRAME-WS-1] the secondary is a URL the router returns: it accepts Confab connections.
      const conn = await ctx.connect({ url });
      const opened = await ctx.request(
        "FRAME-WS-1",
        conn,
        command(ctx.appId(), ctx.peer("alice"), "session/open"),
      );
      expectSuccess(
        ctx,
        "FRAME-WS-1",
        opened,
        "session/opened",
        `session/open at the secondary ${url}`,
      );
    },
  }),
  defineCase({
    name: "router/route/announces-server-info",
    requirements: ["ROUTER-INFO-1"],
    async run(ctx) {
      // The open app, and the signed one when there is one: features.signatures tells them
      // apart, so a router that announces one object for every app is caught.
      const roles =
        ctx.target.apps.signed === undefined ? (["open"] as const) : (["open", "signed"] as const);
      for (const role of roles) {
        const appId = ctx.appId(role);
        const answer = await routeOk(ctx, `?appId=${q(appId)}`);
        const info = answer.serverInfo as Record<string, unknown> | undefined;
        ctx.expect(
          "ROUTER-INFO-1",
          info !== null && typeof info === "object",
          `the route answer for the ${role} app has no serverInfo`,
          {
            expected: "serverInfo {revision, features, limits}",
            actual: JSON.stringify(answer).slice(0, 300),
          },
        );
        const announced = info as Record<string, unknown>;
        ctx.expect(
          "ROUTER-INFO-1",
          announced.revision === SPEC_REVISION,
          "serverInfo.revision is not the revision of the spec",
          {
            expected: JSON.stringify(SPEC_REVISION),
            actual: JSON.stringify(announced.revision),
          },
        );
        const features = (announced.features ?? {}) as Record<string, unknown>;
        ctx.expect(
          "ROUTER-INFO-1",
          features.signatures === (role === "signed"),
          `serverInfo.features.signatures of the ${role} app`,
          {
            expected: String(role === "signed"),
            actual: JSON.stringify(features.signatures),
          },
        );
        // As SESSION-INFO-2 to -5 describe the app for session/opened: a new connection of
        // the app gets the same announcement.
        const { opened } = await ctx.open(ctx.peer(`${role}-peer`), { app: role });
        if (opened.serverInfo !== undefined) {
          ctx.expect(
            "ROUTER-INFO-1",
            canonical(announced) === canonical(opened.serverInfo),
            `the router's serverInfo differs from that of session/opened (${role} app)`,
            {
              expected: canonical(opened.serverInfo).slice(0, 500),
              actual: canonical(announced).slice(0, 500),
            },
          );
        } else
          ctx.note(
            "session/opened carries no serverInfo: only the revision and signatures were compared",
          );
      }
    },
  }),
  defineCase({
    name: "router/route/unknown-app-404",
    requirements: ["ROUTER-APP-1", "ROUTER-GET-2"],
    async run(ctx) {
      const query = `?appId=${q(ctx.appId("unknown"))}`;
      expectJsonFailure(
        ctx,
        "ROUTER-APP-1",
        await route(ctx, "ROUTER-APP-1", query),
        404,
        4100,
        `GET /v1/route${query} (an app not served)`,
      );
    },
  }),
  defineCase({
    name: "router/route/disabled-app-404",
    requirements: ["ROUTER-APP-1", "ROUTER-GET-2"],
    async run(ctx) {
      const query = `?appId=${q(ctx.appId("disabled"))}`;
      expectJsonFailure(
        ctx,
        "ROUTER-APP-1",
        await route(ctx, "ROUTER-APP-1", query),
        404,
        4100,
        `GET /v1/route${query} (a disabled app, SESSION-APP-7)`,
      );
    },
  }),
  defineCase({
    name: "router/route/missing-app-id-400",
    requirements: ["ROUTER-APP-2", "ROUTER-GET-2"],
    async run(ctx) {
      // Parameters the router does not define (a cache-busting `_`) change nothing.
      for (const query of ["", "?secure=1", "?_=1417334400"]) {
        expectJsonFailure(
          ctx,
          "ROUTER-APP-2",
          await route(ctx, "ROUTER-APP-2", query),
          400,
          4114,
          `GET /v1/route${query}`,
        );
      }
    },
  }),
  defineCase({
    name: "router/route/malformed-app-id-400",
    requirements: ["ROUTER-APP-3", "ROUTER-GET-2"],
    async run(ctx) {
      // LIMIT-APPID-1: 1 to 64 of [A-Za-z0-9_.-]; the empty string included.
      for (const appId of ["", "bad app", "a:b", "a".repeat(65), "été", "a/b"]) {
        if (isAppId(appId)) throw new HarnessError(`${appId} is a valid app id`);
        const query = `?appId=${q(appId)}`;
        expectJsonFailure(
          ctx,
          "ROUTER-APP-3",
          await route(ctx, "ROUTER-APP-3", query),
          400,
          4114,
          `GET /v1/route${query}`,
        );
      }
    },
  }),
  defineCase({
    name: "router/route/repeated-parameter-400",
    requirements: ["ROUTER-PARAM-1", "ROUTER-GET-2"],
    async run(ctx) {
      const app = q(ctx.appId());
      // The same value twice too: a repeated parameter has no one value.
      for (const query of [
        `?appId=${app}&appId=${app}`,
        `?appId=${app}&secure=1&secure=1`,
        `?appId=${app}&cb=f&cb=f`,
        `?appId=${app}&cb=f&cb=g`,
      ]) {
        expectJsonFailure(
          ctx,
          "ROUTER-PARAM-1",
          await route(ctx, "ROUTER-PARAM-1", query),
          400,
          4114,
          `GET /v1/route${query}`,
        );
      }
    },
  }),
  defineCase({
    name: "router/route/cors-on-every-answer",
    requirements: ["ROUTER-CORS-1"],
    async run(ctx) {
      const app = q(ctx.appId());
      const queries = [
        `?appId=${app}`,
        `?appId=${app}&secure=1`,
        "",
        "?appId=bad%20app",
        `?appId=${app}&appId=${app}`,
        `?appId=${app}&cb=f`,
        `?appId=${app}&cb=1f`,
        "?cb=f",
        ...(ctx.target.apps.unknown === undefined
          ? []
          : [`?appId=${q(ctx.target.apps.unknown)}`, `?appId=${q(ctx.target.apps.unknown)}&cb=f`]),
      ];
      for (const query of queries) {
        const a = await route(ctx, "ROUTER-CORS-1", query);
        const value = a.headers.get("access-control-allow-origin");
        ctx.expect(
          "ROUTER-CORS-1",
          value === "*",
          `GET /v1/route${query} (HTTP ${a.status}) has no Access-Control-Allow-Origin: *`,
          {
            expected: "Access-Control-Allow-Origin: *",
            actual: `Access-Control-Allow-Origin: ${value ?? "(none)"}`,
          },
        );
      }
    },
  }),
  defineCase({
    name: "router/jsonp/wraps-answer",
    requirements: ["ROUTER-JSONP-1"],
    async run(ctx) {
      const plain = await routeOk(ctx);
      // jQuery's own callback names, `$` and `.` included: the pattern allows them.
      for (const cb of ["jQuery18306_1417334400", "$.cb_1", "_f"]) {
        const query = `?appId=${q(ctx.appId())}&cb=${q(cb)}`;
        const a = await route(ctx, "ROUTER-JSONP-1", query);
        expectStatus(ctx, "ROUTER-JSONP-1", a, 200, `GET /v1/route${query}`);
        expectMediaType(
          ctx,
          "ROUTER-JSONP-1",
          a,
          "application/javascript",
          `GET /v1/route${query}`,
        );
        const inner = jsonpInner(ctx, "ROUTER-JSONP-1", a, cb, `GET /v1/route${query}`);
        ctx.expect(
          "ROUTER-JSONP-1",
          canonical(inner) === canonical(plain),
          "the JSONP body does not carry the JSON answer",
          {
            expected: canonical(plain).slice(0, 300),
            actual: canonical(inner).slice(0, 300),
          },
        );
      }
    },
  }),
  defineCase({
    name: "router/jsonp/unsafe-callback-400",
    requirements: ["ROUTER-JSONP-2"],
    async run(ctx) {
      // None matches ^[A-Za-z_$][A-Za-z0-9_$.]*$; the answer is plain JSON (not JSONP).
      for (const cb of ["alert(1);f", "1f", "a-b", "", "f g", "f()"]) {
        const query = `?appId=${q(ctx.appId())}&cb=${q(cb)}`;
        const a = await route(ctx, "ROUTER-JSONP-2", query);
        expectStatus(ctx, "ROUTER-JSONP-2", a, 400, `GET /v1/route${query}`);
        expectErrorBody(ctx, "ROUTER-JSONP-2", a.json, 4114, `GET /v1/route${query}`);
      }
    },
  }),
  defineCase({
    name: "router/jsonp/errors-keep-status",
    requirements: ["ROUTER-JSONP-3"],
    async run(ctx) {
      const app = q(ctx.appId());
      const cb = "jQuery18306_1";
      const failures: [string, number, number][] = [
        ["", 400, 4114], // ROUTER-APP-2
        ["appId=bad%20app&", 400, 4114], // ROUTER-APP-3
        [`appId=${app}&appId=${app}&`, 400, 4114], // ROUTER-PARAM-1
        [`appId=${app}&secure=1&secure=1&`, 400, 4114], // ROUTER-PARAM-1
        ...(ctx.target.apps.unknown === undefined
          ? []
          : [[`appId=${q(ctx.target.apps.unknown)}&`, 404, 4100] as [string, number, number]]), // ROUTER-APP-1
      ];
      for (const [params, status, code] of failures) {
        const query = `?${params}cb=${cb}`;
        const a = await route(ctx, "ROUTER-JSONP-3", query);
        expectStatus(ctx, "ROUTER-JSONP-3", a, status, `GET /v1/route${query}`);
        expectMediaType(
          ctx,
          "ROUTER-JSONP-3",
          a,
          "application/javascript",
          `GET /v1/route${query}`,
        );
        expectErrorBody(
          ctx,
          "ROUTER-JSONP-3",
          jsonpInner(ctx, "ROUTER-JSONP-3", a, cb, `GET /v1/route${query}`),
          code,
          `GET /v1/route${query}`,
        );
      }
    },
  }),
];

// ---------------------------------------------------------------------------------------------
// The connection (1.2)

const CONNECTION_CASES: readonly ServerCase[] = [
  defineCase({
    name: "transport/handshake/accepts-no-subprotocol",
    requirements: ["FRAME-WS-2"],
    async run(ctx) {
      const conn = await ctx.check("FRAME-WS-2", () => ctx.connect());
      ctx.expect(
        "FRAME-WS-2",
        conn.ws.protocol === "",
        "the server selected a subprotocol none was offered",
        {
          expected: "no subprotocol",
          actual: conn.ws.protocol,
        },
      );
      await keepaliveSentinel(ctx, "FRAME-WS-2", conn);
      const opened = await ctx.request(
        "FRAME-WS-2",
        conn,
        command(ctx.appId(), ctx.peer("alice"), "session/open"),
      );
      expectSuccess(
        ctx,
        "FRAME-WS-2",
        opened,
        "session/opened",
        "session/open on a connection without subprotocol",
      );
    },
  }),
  defineCase({
    name: "transport/origin/disallowed-closes-4110",
    requirements: ["FRAME-ORIGIN-2"],
    async run(ctx) {
      const appId = ctx.appId("origin");
      const allowed = ctx.target.apps.origin?.origin as string;
      const origin = disallowedOrigin(ctx);
      // Positive control: the allowed origin opens, so a server that closes every
      // connection of the app cannot pass for one that checks the origin.
      await ctx.open(ctx.peer("ok"), { app: "origin", on: await ctx.connect({ origin: allowed }) });
      // The check is at the binding (the first command), whatever that command is.
      const firsts: [string, Frame, boolean][] = [
        ["session/open with i", command(appId, ctx.peer("a"), "session/open"), true],
        ["session/open without i", command(appId, ctx.peer("b"), "session/open"), false],
        [
          "session/query with i",
          command(appId, ctx.peer("c"), "session/query", { sessionPeerIds: [] }),
          true,
        ],
      ];
      await Promise.all(
        firsts.map(async ([what, frame, withI]) => {
          const conn = await ctx.connect({ origin });
          conn.send(withI ? { ...frame, i: conn.nextSerial() } : frame);
          ctx.note(`${conn.label}: ${what} from Origin ${origin}`);
          await ctx.expectClose("FRAME-ORIGIN-2", conn, 4110);
        }),
      );
    },
  }),
  defineCase({
    name: "transport/origin/absent-origin-accepted",
    requirements: ["FRAME-ORIGIN-3"],
    async run(ctx) {
      const appId = ctx.appId("origin");
      // Node's WebSocket client sends no Origin unless told to: a native client.
      const conn = await ctx.check("FRAME-ORIGIN-3", () => ctx.connect());
      const opened = await ctx.request(
        "FRAME-ORIGIN-3",
        conn,
        command(appId, ctx.peer("native"), "session/open"),
      );
      expectSuccess(
        ctx,
        "FRAME-ORIGIN-3",
        opened,
        "session/opened",
        "session/open without an Origin header",
      );
      // Still open afterwards: not closed with 4110 either.
      await keepaliveSentinel(ctx, "FRAME-ORIGIN-3", conn);
      ctx.expect(
        "FRAME-ORIGIN-3",
        conn.closeInfo === undefined,
        "the connection without Origin was closed",
        {
          actual: JSON.stringify(conn.closeInfo),
        },
      );
    },
  }),
];

// ---------------------------------------------------------------------------------------------
// Framing (1.3)

/** A keepalive text of exactly `bytes` bytes of UTF-8, mostly two-byte characters. */
function keepaliveOfBytes(bytes: number): string {
  const pad = bytes - '{"x":""}'.length;
  const text = `{"x":"${"é".repeat(Math.floor(pad / 2))}${"a".repeat(pad % 2)}"}`;
  if (Buffer.byteLength(text) !== bytes)
    throw new HarnessError(`padding made ${Buffer.byteLength(text)} bytes, not ${bytes}`);
  return text;
}

/** Opens `n` connections, each with a session of a fresh peer when `withSession`. */
async function connections(
  ctx: CaseContext,
  n: number,
  withSession: (k: number) => boolean,
): Promise<Connection[]> {
  return Promise.all(
    Array.from({ length: n }, async (_, k) => {
      const conn = await ctx.connect();
      if (withSession(k)) await ctx.open(ctx.peer(`p${k}`), { on: conn });
      return conn;
    }),
  );
}

const FRAMING_CASES: readonly ServerCase[] = [
  defineCase({
    name: "frame/text/one-json-object-per-message",
    requirements: ["FRAME-TEXT-1", "FRAME-BINARY-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.connect();
      const b = await ctx.connect();
      const raws = [captureRaw(a), captureRaw(b)];
      // Many kinds of frames: replies, presence, a delivery, an ack, an error, keepalives.
      await ctx.open(alice, { on: a, watch: [bob] });
      await ctx.open(bob, { on: b, watch: [alice] });
      await ctx.waitFor("FRAME-TEXT-1", a, (f) => f.cmd === "presence", "the presence of bob");
      await ctx.request(
        "FRAME-TEXT-1",
        a,
        command(ctx.appId(), alice, "direct", { msg: "hi", toPeerIds: [bob] }),
      );
      await ctx.waitFor("FRAME-TEXT-1", b, (f) => f.cmd === "direct", "the delivery to bob");
      await ctx.request(
        "FRAME-TEXT-1",
        b,
        command(ctx.appId(), bob, "session/query", { sessionPeerIds: [alice] }),
      );
      await requestAsIs(
        ctx,
        "FRAME-TEXT-1",
        b,
        command(ctx.appId(), bob, "nope", { i: 77 }),
        77,
        "cmd is unknown",
      );
      await keepaliveSentinel(ctx, "FRAME-TEXT-1", a);
      await ctx.request("FRAME-TEXT-1", b, command(ctx.appId(), bob, "session/close"));
      await ctx.waitFor(
        "FRAME-TEXT-1",
        a,
        (f) => f.cmd === "presence" && f.status === "off",
        "the presence off of bob",
      );
      for (const [k, raw] of raws.entries()) {
        for (const m of raw) {
          // [FRAME-BINARY-1] no binary message; [FRAME-TEXT-1] each text is one JSON object.
          ctx.expect("FRAME-BINARY-1", !m.binary, "the server sent a binary message");
          let value: unknown;
          try {
            value = JSON.parse(m.text);
          } catch {
            value = undefined;
          }
          ctx.expect(
            "FRAME-TEXT-1",
            value !== null && typeof value === "object" && !Array.isArray(value),
            `a text message on c${k + 1} is not one JSON object`,
            {
              expected: "one JSON object",
              actual: m.text.slice(0, 300),
            },
          );
        }
      }
      ctx.expect(
        "FRAME-TEXT-1",
        raws.every((r) => r.length >= 4),
        "fewer messages came than the exchange implies",
        {
          actual: raws.map((r) => r.length).join(", "),
        },
      );
    },
  }),
  defineCase({
    name: "frame/binary/closes-4114",
    requirements: ["FRAME-BINARY-2"],
    async run(ctx) {
      // With a session, and before any command.
      const conns = await connections(ctx, 2, (k) => k === 0);
      await Promise.all(
        conns.map(async (conn) => {
          conn.sendBinary(Buffer.from('{"cmd":"session"}'), "a binary message (here holding JSON)");
          await ctx.expectClose("FRAME-BINARY-2", conn, 4114);
        }),
      );
    },
  }),
  defineCase({
    name: "frame/json/not-json-closes-4114",
    requirements: ["FRAME-JSON-1"],
    async run(ctx) {
      const texts = [
        "",
        "{",
        "{'cmd':1}",
        '{"a":1,}',
        "NaN",
        "{} {}",
        "undefined",
        "\u00a0",
        '{"cmd":"session"',
        "[1,]",
      ];
      const conns = await connections(ctx, texts.length, (k) => k % 2 === 0);
      await Promise.all(
        conns.map(async (conn, k) => {
          conn.sendText(texts[k] as string, "not a JSON text (RFC 8259)");
          await ctx.expectClose("FRAME-JSON-1", conn, 4114);
        }),
      );
    },
  }),
  defineCase({
    name: "frame/json/not-object-closes-4114",
    requirements: ["FRAME-JSON-2"],
    async run(ctx) {
      const texts = ["[]", "[{}]", "1", '"{}"', "null", "true", '[{"cmd":"session","op":"open"}]'];
      const conns = await connections(ctx, texts.length, (k) => k % 2 === 1);
      await Promise.all(
        conns.map(async (conn, k) => {
          conn.sendText(texts[k] as string, "JSON that is not an object");
          await ctx.expectClose("FRAME-JSON-2", conn, 4114);
        }),
      );
    },
  }),
  defineCase({
    name: "frame/size/over-65536-closes-4109",
    requirements: ["FRAME-SIZE-1"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      // Bytes, not characters: both frames are under 33 000 UTF-16 code units.
      conn.sendText(keepaliveOfBytes(FRAME_BYTES), `a keepalive of exactly ${FRAME_BYTES} bytes`);
      await keepaliveAnswer(
        ctx,
        "FRAME-SIZE-1",
        conn,
        `the {} answering a frame of exactly ${FRAME_BYTES} bytes (not over the limit)`,
      );
      conn.sendText(keepaliveOfBytes(FRAME_BYTES + 1), `a frame of ${FRAME_BYTES + 1} bytes`);
      await ctx.expectClose("FRAME-SIZE-1", conn, 4109);
    },
  }),
  defineCase({
    name: "frame/size/over-1mib-closes-4109-or-1009",
    requirements: ["FRAME-SIZE-1", "FRAME-SIZE-2"],
    async run(ctx) {
      const { conn } = await ctx.open(ctx.peer("alice"));
      const text = `{"x":"${"a".repeat(WS_LAYER_BYTES + 1 - 8)}"}`;
      conn.sendText(text, `a frame of ${WS_LAYER_BYTES + 1} bytes`);
      // 4109 as for any frame over 65536 bytes, or 1009 from the WebSocket layer (FRAME-SIZE-2).
      await ctx.expectClose("FRAME-SIZE-1", conn, [4109, 1009], 5_000);
    },
  }),
  defineCase({
    name: "frame/utf8/invalid-closes-4114-or-1007",
    requirements: ["FRAME-UTF8-2", "FRAME-UTF8-1"],
    async run(ctx) {
      const bad: [string, number[]][] = [
        ["a byte 0xFF", [0xff]],
        ["a lone continuation byte", [0x80]],
        ["an overlong encoding of /", [0xc0, 0xaf]],
        ["an encoded surrogate", [0xed, 0xa0, 0x80]],
        ["a truncated sequence", [0xe2, 0x82]],
      ];
      const conns = await connections(ctx, bad.length, (k) => k % 2 === 0);
      await Promise.all(
        conns.map(async (conn, k) => {
          const [what, bytes] = bad[k] as [string, number[]];
          const payload = Buffer.concat([
            Buffer.from('{"cmd":"'),
            Buffer.from(bytes),
            Buffer.from('"}'),
          ]);
          ctx.note(`${conn.label}: a text message that is not UTF-8 (${what})`);
          conn.ws.send(payload, { binary: false });
          // 4114 when the layer hands it over, or 1007 from the WebSocket layer (FRAME-UTF8-1).
          await ctx.expectClose("FRAME-UTF8-2", conn, [4114, 1007]);
        }),
      );
    },
  }),
  defineCase({
    name: "frame/json/duplicate-name-uses-last",
    requirements: ["FRAME-JSON-3"],
    async run(ctx) {
      const app = JSON.stringify(ctx.appId());
      const mallory = ctx.peer("mallory");
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const b = await ctx.open(bob);
      const conn = await ctx.connect();
      // The text is sent as is: JSON.stringify cannot write a name twice.
      const opened = await requestAsIs(
        ctx,
        "FRAME-JSON-3",
        conn,
        `{"cmd":"session","op":"open","appId":${app},"peerId":${JSON.stringify(mallory)},"peerId":${JSON.stringify(alice)},"i":1}`,
        1,
        "peerId occurs twice (mallory, then alice)",
      );
      ctx.expect(
        "FRAME-JSON-3",
        nameOf(opened) === "session/opened" && opened.peerId === alice,
        "the session did not open for the last peerId",
        {
          expected: `session/opened for ${alice}`,
          actual: JSON.stringify(opened).slice(0, 300),
        },
      );
      // The session is alice's, and only alice's.
      const asAlice = await ctx.request(
        "FRAME-JSON-3",
        conn,
        command(ctx.appId(), alice, "session/query", { sessionPeerIds: [] }),
      );
      expectSuccess(
        ctx,
        "FRAME-JSON-3",
        asAlice,
        "session/query-result",
        "session/query as the last peerId",
      );
      const asMallory = await ctx.request(
        "FRAME-JSON-3",
        conn,
        command(ctx.appId(), mallory, "session/query", { sessionPeerIds: [] }),
      );
      ctx.expectError("FRAME-JSON-3", asMallory, 4105);
      // The last i is the one the reply echoes, and the last msg the one delivered.
      const ack = await requestAsIs(
        ctx,
        "FRAME-JSON-3",
        conn,
        `{"cmd":"direct","appId":${app},"peerId":${JSON.stringify(alice)},"msg":"first","toPeerIds":[${JSON.stringify(bob)}],"msg":"last","i":2,"i":3}`,
        3,
        "msg and i occur twice",
      );
      expectSuccess(ctx, "FRAME-JSON-3", ack, "ack", "a direct whose i occurs twice");
      const got = await ctx.waitFor(
        "FRAME-JSON-3",
        b.conn,
        (f) => f.cmd === "direct",
        "the delivery to bob",
      );
      ctx.expectEqual("FRAME-JSON-3", got.msg, "last", "the delivered msg");
      await ctx.expectNone(
        "FRAME-JSON-3",
        conn,
        (f) => f.i === 2,
        "a frame with the first occurrence of i (2)",
        200,
      );
    },
  }),
  defineCase({
    name: "frame/json/duplicate-name-signature-uses-last",
    requirements: ["FRAME-JSON-3"],
    async run(ctx) {
      const appId = ctx.appId("signed");
      const app = JSON.stringify(appId);
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const conn = await ctx.connect();
      const open = (i: number, sig: { s: string; t: number; n: string }) =>
        `{"cmd":"session","op":"open","appId":${app},"peerId":${JSON.stringify(alice)},"peerId":${JSON.stringify(bob)},"s":${JSON.stringify(sig.s)},"t":${sig.t},"n":${JSON.stringify(sig.n)},"i":${i}}`;
      // Signed for alice, whose id comes first: the signature is checked for bob and fails.
      const refused = await requestAsIs(
        ctx,
        "FRAME-JSON-3",
        conn,
        open(1, ctx.sessionSignature({ peerId: alice })),
        1,
        "peerId occurs twice, signed for the first",
      );
      ctx.expectError("FRAME-JSON-3", refused, 4102);
      for (const peer of [alice, bob]) {
        const r = await ctx.request(
          "FRAME-JSON-3",
          conn,
          command(appId, peer, "session/query", { sessionPeerIds: [] }),
        );
        ctx.expectError("FRAME-JSON-3", r, 4105);
      }
      // Signed for bob, whose id comes last: bob's session opens.
      const opened = await requestAsIs(
        ctx,
        "FRAME-JSON-3",
        conn,
        open(2, ctx.sessionSignature({ peerId: bob })),
        2,
        "peerId occurs twice, signed for the last",
      );
      ctx.expect(
        "FRAME-JSON-3",
        nameOf(opened) === "session/opened" && opened.peerId === bob,
        "the session signed for the last peerId did not open",
        {
          expected: `session/opened for ${bob}`,
          actual: JSON.stringify(opened).slice(0, 300),
        },
      );
    },
  }),
  defineCase({
    name: "frame/number/integer-spellings",
    requirements: ["FRAME-NUMBER-1"],
    async run(ctx) {
      const app = JSON.stringify(ctx.appId());
      const alice = JSON.stringify(ctx.peer("alice"));
      const conn = await ctx.connect();
      const spellings: [string, number, string][] = [
        ["5.0", 5, "open"],
        ["7e0", 7, "query"],
        ["1.2E1", 12, "query"],
        ["1300e-2", 13, "query"],
        ["2147483647.0", MAX_SERIAL, "query"],
      ];
      for (const [spelled, value, op] of spellings) {
        const body = op === "open" ? "" : ',"sessionPeerIds":[]';
        const reply = await requestAsIs(
          ctx,
          "FRAME-NUMBER-1",
          conn,
          `{"cmd":"session","op":"${op}","appId":${app},"peerId":${alice}${body},"i":${spelled}}`,
          value,
          `i is spelled ${spelled}`,
        );
        expectSuccess(
          ctx,
          "FRAME-NUMBER-1",
          reply,
          replyOf(`session/${op}`),
          `a command with i spelled ${spelled}`,
        );
        // Echoed in the plain decimal form: the text, not only the parsed value.
        const texts = conn.frames.filter((f) => f.i === value).map((f) => conn.rawOf(f) ?? "");
        const plain = new RegExp(`"i"\\s*:\\s*${value}\\s*[,}]`);
        ctx.expect(
          "FRAME-NUMBER-1",
          texts.length === 1 && plain.test(texts[0] as string),
          `the reply does not echo i=${spelled} as ${value}`,
          {
            expected: `one frame with "i":${value}`,
            actual: texts.join(" | ").slice(0, 300) || "(none)",
          },
        );
      }
    },
  }),
  defineCase({
    name: "frame/number/integer-spelling-in-signature",
    requirements: ["FRAME-NUMBER-1"],
    async run(ctx) {
      const appId = ctx.appId("signed");
      const alice = ctx.peer("alice");
      const conn = await ctx.connect();
      const sig = ctx.sessionSignature({ peerId: alice });
      // t spelled with a fraction: its value is the integer that was signed.
      const text = `{"cmd":"session","op":"open","appId":${JSON.stringify(appId)},"peerId":${JSON.stringify(alice)},"s":${JSON.stringify(sig.s)},"t":${sig.t}.0,"n":${JSON.stringify(sig.n)},"i":3e0}`;
      const opened = await requestAsIs(
        ctx,
        "FRAME-NUMBER-1",
        conn,
        text,
        3,
        `t is spelled ${sig.t}.0 and i 3e0`,
      );
      expectSuccess(
        ctx,
        "FRAME-NUMBER-1",
        opened,
        "session/opened",
        "a signed session/open whose t is spelled with a fraction",
      );
    },
  }),
  defineCase({
    name: "frame/schema/unknown-command-4114",
    requirements: ["FRAME-SCHEMA-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const unknown: Frame[] = [
        { cmd: "nope" },
        { cmd: "presence" },
        { cmd: "keepalive" },
        { cmd: "error" },
        { cmd: "session", op: "opened" },
        { cmd: "session", op: "nope" },
        { cmd: "session" },
        { cmd: "room", op: "reject", roomId: "g1" },
        { cmd: "ackreq", c: 1 },
        { cmd: "logs", op: "result", cid: "c" },
        { cmd: 7 },
        { cmd: null },
      ];
      for (const [k, f] of unknown.entries()) {
        const i = 100 + k;
        const frame = { appId: ctx.appId(), peerId: alice, ...f, i };
        const reply = await requestAsIs(
          ctx,
          "FRAME-SCHEMA-1",
          conn,
          frame,
          i,
          `${JSON.stringify(f.cmd)}${f.op === undefined ? "" : `/${String(f.op)}`} is not a c2s command`,
        );
        ctx.expectError("FRAME-SCHEMA-1", reply, ctx.expectedCode(frame));
      }
      await keepaliveSentinel(ctx, "FRAME-SCHEMA-1", conn);
    },
  }),
  defineCase({
    name: "frame/schema/app-checked-before-command",
    requirements: ["FRAME-SCHEMA-3"],
    async run(ctx) {
      // A first command unknown to the spec, naming no app served: the close of SESSION-APP-2.
      const noApps = [
        "no app!",
        ...(ctx.target.apps.unknown === undefined ? [] : [ctx.target.apps.unknown]),
      ];
      await Promise.all(
        noApps.map(async (appId) => {
          const conn = await ctx.connect();
          conn.sendInvalid(
            { cmd: "nope", appId, peerId: ctx.peer("alice"), i: 1 },
            `an unknown cmd, first on the connection, naming the app ${appId}`,
          );
          await ctx.expectClose("FRAME-SCHEMA-3", conn, 4100);
        }),
      );
      // A first command unknown to the spec, naming the served app: it binds, and fails with
      // 4114 without a close; the same on a connection already bound.
      const fresh = await ctx.connect();
      const first = { cmd: "nope", appId: ctx.appId(), peerId: ctx.peer("bob"), i: 2 };
      ctx.expectError(
        "FRAME-SCHEMA-3",
        await requestAsIs(
          ctx,
          "FRAME-SCHEMA-3",
          fresh,
          first,
          2,
          "an unknown cmd, first, naming a served app",
        ),
        ctx.expectedCode(first),
        2,
      );
      await keepaliveSentinel(ctx, "FRAME-SCHEMA-3", fresh);
      const carol = ctx.peer("carol");
      const { conn } = await ctx.open(carol);
      const bound = { cmd: "nope", appId: ctx.appId(), peerId: carol, i: 3 };
      ctx.expectError(
        "FRAME-SCHEMA-3",
        await requestAsIs(
          ctx,
          "FRAME-SCHEMA-3",
          conn,
          bound,
          3,
          "an unknown cmd on a bound connection",
        ),
        ctx.expectedCode(bound),
        3,
      );
      await keepaliveSentinel(ctx, "FRAME-SCHEMA-3", conn);
    },
  }),
  defineCase({
    name: "frame/schema/invalid-command-4114",
    requirements: ["FRAME-SCHEMA-2"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const app = ctx.appId();
      const bad: [string, Frame][] = [
        ["msg is missing", command(app, alice, "direct", { toPeerIds: [bob] })],
        ["msg is a number", command(app, alice, "direct", { msg: 5, toPeerIds: [bob] })],
        ["toPeerIds is a string", command(app, alice, "direct", { msg: "x", toPeerIds: bob })],
        [
          "transient is a string",
          command(app, alice, "direct", { msg: "x", toPeerIds: [bob], transient: "yes" }),
        ],
        [
          "both toPeerIds and roomId",
          command(app, alice, "direct", { msg: "x", toPeerIds: [bob], roomId: "g1" }),
        ],
        ["a peer id with ':'", command(app, alice, "direct", { msg: "x", toPeerIds: ["a:b"] })],
        ["sessionPeerIds is missing", command(app, alice, "session/add")],
        [
          "a watch id that is a number",
          command(app, alice, "session/query", { sessionPeerIds: [1] }),
        ],
        ["an empty ack id", command(app, alice, "ack", { ids: [""] })],
        ["an empty ids", command(app, alice, "ack", { ids: [] })],
      ];
      for (const [k, [why, f]] of bad.entries()) {
        const i = 200 + k;
        const frame = { ...f, i };
        const code = ctx.expectedCode(frame);
        if (code !== 4114)
          throw new HarnessError(`the schemas give ${why} the code ${code}, not 4114`);
        ctx.expectError(
          "FRAME-SCHEMA-2",
          await requestAsIs(ctx, "FRAME-SCHEMA-2", conn, frame, i, why),
          code,
          i,
        );
      }
      await keepaliveSentinel(ctx, "FRAME-SCHEMA-2", conn);
    },
  }),
  defineCase({
    name: "frame/schema/annotated-codes",
    requirements: ["FRAME-SCHEMA-4"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const app = ctx.appId();
      const ids = (n: number) => Array.from({ length: n }, (_, k) => `${bob}-${k}`.slice(-60));
      // Each breaks one annotated rule; the code is the annotation's, derived from the schemas.
      const bad: [string, Frame][] = [
        [
          "msg over 5120 bytes in fewer characters (maxUtf8Bytes)",
          command(app, alice, "direct", { msg: "é".repeat(2561), toPeerIds: [bob] }),
        ],
        [
          "msg over 5120 characters (maxLength)",
          command(app, alice, "direct", { msg: "x".repeat(5121), toPeerIds: [bob] }),
        ],
        [
          "501 recipients (maxItems)",
          command(app, alice, "direct", { msg: "x", toPeerIds: ids(501) }),
        ],
        ["501 ack ids (maxItems)", command(app, alice, "ack", { ids: ids(501) })],
        [
          "501 watch ids (maxItems)",
          command(app, alice, "session/query", { sessionPeerIds: ids(501) }),
        ],
        ["session/open without peerId", { cmd: "session", op: "open", appId: app }],
        [
          "session/open with a numeric peerId",
          { cmd: "session", op: "open", appId: app, peerId: 5 },
        ],
        [
          "session/open with a 65-character peerId",
          { cmd: "session", op: "open", appId: app, peerId: "p".repeat(65) },
        ],
        [
          "a malformed appId on a bound connection",
          command("bad app", alice, "session/query", { sessionPeerIds: [] }),
        ],
        [
          "a command without appId",
          { cmd: "session", op: "query", peerId: alice, sessionPeerIds: [] },
        ],
      ];
      for (const [k, [why, f]] of bad.entries()) {
        const i = 300 + k;
        const frame = { ...f, i };
        const code = ctx.expectedCode(frame);
        ctx.expectError(
          "FRAME-SCHEMA-4",
          await requestAsIs(ctx, "FRAME-SCHEMA-4", conn, frame, i, why),
          code,
          i,
        );
      }
      await keepaliveSentinel(ctx, "FRAME-SCHEMA-4", conn);
    },
  }),
  defineCase({
    name: "frame/schema/unsigned-app-ignores-signature-fields",
    requirements: ["FRAME-SCHEMA-5"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const conn = await ctx.connect();
      // s, t and n malformed every way the schemas know: an app that does not enforce
      // signatures checks the command as if they were not there.
      const junk = [
        { s: 5, t: "soon", n: "" },
        { s: "", t: -1, n: "a:b" },
        { s: { x: 1 }, t: 1.5, n: 7 },
      ];
      const opened = await requestAsIs(
        ctx,
        "FRAME-SCHEMA-5",
        conn,
        { ...command(app, alice, "session/open"), ...junk[0], i: 1 },
        1,
        "s, t and n are malformed",
      );
      expectSuccess(
        ctx,
        "FRAME-SCHEMA-5",
        opened,
        "session/opened",
        "session/open with malformed s, t, n",
      );
      const added = await requestAsIs(
        ctx,
        "FRAME-SCHEMA-5",
        conn,
        {
          ...command(app, alice, "session/add", { sessionPeerIds: [ctx.peer("bob")] }),
          ...junk[1],
          i: 2,
        },
        2,
        "s, t and n are malformed",
      );
      expectSuccess(
        ctx,
        "FRAME-SCHEMA-5",
        added,
        "session/added",
        "session/add with malformed s, t, n",
      );
      if (ctx.target.features.groups === true) {
        const joined = await requestAsIs(
          ctx,
          "FRAME-SCHEMA-5",
          conn,
          { ...command(app, alice, "room/join"), ...junk[2], i: 3 },
          3,
          "s, t and n are malformed",
        );
        expectSuccess(
          ctx,
          "FRAME-SCHEMA-5",
          joined,
          "room/joined",
          "room/join with malformed s, t, n",
        );
      }
    },
  }),
  defineCase({
    name: "frame/peer-id/every-session-frame-names-its-peer",
    requirements: ["FRAME-PEERID-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.connect();
      // Two peers on one connection, both watching carol.
      await ctx.open(alice, { on: a, watch: [carol] });
      await ctx.open(bob, { on: a, watch: [carol, alice] });
      const c = await ctx.open(carol, { watch: [alice, bob] });
      const mine = (peer: string, pred: (f: Frame) => boolean, what: string) =>
        ctx.waitFor(
          "FRAME-PEERID-1",
          a,
          (f) => f.peerId === peer && pred(f),
          `${what} for ${peer} (peerId ${peer})`,
        );
      for (const peer of [alice, bob])
        await mine(peer, (f) => f.cmd === "presence" && f.status === "on", "carol's presence on");
      await ctx.request(
        "ACK-REPLY-1",
        c.conn,
        command(app, carol, "direct", { msg: "to both", toPeerIds: [alice, bob] }),
      );
      for (const peer of [alice, bob]) await mine(peer, isDelivery("to both"), "the delivery");
      const query = await ctx.request(
        "FRAME-PEERID-1",
        a,
        command(app, alice, "session/query", { sessionPeerIds: [bob] }),
      );
      ctx.expectEqual(
        "FRAME-PEERID-1",
        [nameOf(query), query.peerId],
        ["session/query-result", alice],
        "alice's session/query reply",
      );
      const added = await ctx.request(
        "FRAME-PEERID-1",
        a,
        command(app, bob, "session/add", { sessionPeerIds: [ctx.peer("dave")] }),
      );
      ctx.expectEqual(
        "FRAME-PEERID-1",
        [nameOf(added), added.peerId],
        ["session/added", bob],
        "bob's session/add reply",
      );
      const failed = await requestAsIs(
        ctx,
        "FRAME-PEERID-1",
        a,
        command(app, bob, "nope", { i: 50 }),
        50,
        "cmd is unknown",
      );
      ctx.expectEqual(
        "FRAME-PEERID-1",
        [failed.cmd, failed.peerId],
        ["error", bob],
        "the error frame of bob's failed command",
      );
      await c.conn.drop();
      for (const peer of [alice, bob])
        await mine(peer, (f) => f.cmd === "presence" && f.status === "off", "carol's presence off");
      await keepaliveSentinel(ctx, "FRAME-PEERID-1", a);
      for (const f of a.frames) {
        if (isKeepalive(f)) continue;
        ctx.expect(
          "FRAME-PEERID-1",
          f.peerId === alice || f.peerId === bob,
          `a frame for a session carries peerId ${JSON.stringify(f.peerId)}`,
          {
            expected: `${alice} or ${bob}`,
            actual: JSON.stringify(f).slice(0, 300),
          },
        );
      }
    },
  }),
];

// ---------------------------------------------------------------------------------------------
// The serial i and reply matching (1.4)

/**
 * After the last step of a case: a sentinel on each connection, then a pause, and every frame
 * that carries one of `used` and was not taken is a second answer to a command.
 */
async function expectNoSecondReply(
  ctx: CaseContext,
  req: string,
  conns: readonly Connection[],
  used: ReadonlySet<number>,
): Promise<void> {
  for (const conn of conns)
    await keepaliveSentinel(ctx, req, conn, "the {} sentinel after the last command");
  for (const conn of conns) {
    for (const f of await conn.settle(200, 1_000)) {
      ctx.expect(
        req,
        typeof f.i !== "number" || !used.has(f.i),
        `a second frame carries i=${String(f.i)}`,
        {
          expected: "exactly one frame per i",
          actual: JSON.stringify(f).slice(0, 300),
        },
      );
    }
  }
}

/** Sends `frame` with `i` (the next serial) and checks the one answer is `expect`. */
async function expectAnswerWithI(
  ctx: CaseContext,
  conn: Connection,
  frame: Frame,
  expect: string,
  used: Set<number>,
): Promise<Frame> {
  const i = conn.nextSerial() + 1000;
  used.add(i);
  const reply = await ctx.request("SERIAL-REPLY-1", conn, { ...frame, i });
  ctx.expect(
    "SERIAL-REPLY-1",
    nameOf(reply) === expect && reply.i === i,
    `${nameOf(frame)} with i=${i} was answered with ${describeFrame(reply)}`,
    {
      expected: `${expect} i=${i}`,
      actual: JSON.stringify(reply).slice(0, 300),
    },
  );
  return reply;
}

/**
 * Sends a command without `i` that awaits a reply, and takes its one answer: the first frame
 * that is its success reply or an `error`.
 */
async function legacyAnswer(
  ctx: CaseContext,
  req: string,
  conn: Connection,
  frame: Frame,
  why?: string,
): Promise<Frame> {
  const reply = replyOf(nameOf(frame));
  if (why === undefined) conn.send(frame);
  else conn.sendInvalid(frame, why);
  return ctx.waitFor(
    req,
    conn,
    (f) => f.i === undefined && (nameOf(f) === reply || f.cmd === "error"),
    `the answer to ${nameOf(frame)} without i (${reply} or error)`,
  );
}

/** The names of the replies to commands without `i`: what SERIAL-LEGACY-1 counts. */
const LEGACY_REPLY_NAMES: ReadonlySet<string> = new Set([...SUCCESS_REPLIES.values(), "error"]);

/** Fails `req` if any untaken frame of `conn` is a reply (or error) without `i`: a second answer. */
async function expectNoExtraLegacyReply(
  ctx: CaseContext,
  req: string,
  conn: Connection,
): Promise<void> {
  await keepaliveSentinel(ctx, req, conn, "the {} sentinel after the last command");
  for (const f of await conn.settle(200, 1_000)) {
    const name = nameOf(f);
    if (name === "keepalive") continue;
    ctx.expect(
      req,
      f.i !== undefined || !LEGACY_REPLY_NAMES.has(name),
      `a second answer came: ${describeFrame(f)}`,
      {
        expected: "exactly one answer per command",
        actual: JSON.stringify(f).slice(0, 300),
      },
    );
  }
}

const SERIAL_CASES: readonly ServerCase[] = [
  defineCase({
    name: "transport/serial/invalid-i-4114-without-i",
    requirements: ["SERIAL-INVALID-1", "SERIAL-REPLY-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const next = (what: string) =>
        ctx.waitFor(
          "SERIAL-INVALID-1",
          conn,
          (f) => f.cmd === "error",
          `the error answering ${what}`,
        );
      const expectNoI = (f: Frame, frame: Frame, what: string) => {
        ctx.expectError("SERIAL-INVALID-1", f, ctx.expectedCode(frame));
        ctx.expect("SERIAL-INVALID-1", !("i" in f), `the error answering ${what} carries i`, {
          actual: JSON.stringify(f).slice(0, 300),
        });
      };
      for (const i of [-1, MAX_SERIAL + 1, 1.5, "1", null, true, [], {}, 1e300]) {
        const frame = command(app, alice, "session/query", { sessionPeerIds: [], i });
        const what = `session/query with i=${JSON.stringify(i)}`;
        conn.sendInvalid(frame, `i is ${JSON.stringify(i)}`);
        expectNoI(await next(what), frame, what);
      }
      // Also for commands that get no reply without i: an invalid i is still an i.
      const silent: [string, Frame][] = [
        ["ack", command(app, alice, "ack", { ids: ["x"], i: -5 })],
        [
          "a transient direct",
          command(app, alice, "direct", { msg: "t", toPeerIds: [bob], transient: true, i: "7" }),
        ],
        [
          "session/remove",
          command(app, alice, "session/remove", { sessionPeerIds: [bob], i: 0.5 }),
        ],
      ];
      for (const [what, frame] of silent) {
        conn.sendInvalid(frame, `${what} with i=${JSON.stringify(frame.i)}`);
        expectNoI(await next(`${what} with an invalid i`), frame, `${what} with an invalid i`);
      }
      // A session/open with an invalid i on a connection without sessions fails without a close.
      const fresh = await ctx.connect();
      const open = command(app, ctx.peer("carol"), "session/open", { i: -1 });
      fresh.sendInvalid(open, "i is -1");
      const e = await ctx.waitFor(
        "SERIAL-INVALID-1",
        fresh,
        (f) => f.cmd === "error",
        "the error answering session/open with i=-1",
      );
      expectNoI(e, open, "session/open with i=-1");
      await keepaliveSentinel(
        ctx,
        "SERIAL-INVALID-1",
        fresh,
        "the {} showing the connection stayed open",
      );
      // The bounds themselves are valid serials.
      for (const i of [0, MAX_SERIAL]) {
        const r = await ctx.request(
          "SERIAL-REPLY-1",
          conn,
          command(app, alice, "session/query", { sessionPeerIds: [], i }),
        );
        ctx.expectEqual(
          "SERIAL-REPLY-1",
          [nameOf(r), r.i],
          ["session/query-result", i],
          `the reply to session/query with i=${i}`,
        );
      }
    },
  }),
  defineCase({
    name: "transport/serial/reply-carries-i",
    requirements: ["SERIAL-REPLY-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const { conn } = await ctx.open(alice);
      await ctx.open(bob);
      const used = new Set<number>();
      // Table 1, the commands of chapters 02 and 03; with i, the silent ones are answered too.
      const steps: Frame[] = [
        command(app, carol, "session/open"),
        command(app, alice, "session/add", { sessionPeerIds: [bob] }),
        command(app, alice, "session/query", { sessionPeerIds: [bob] }),
        command(app, alice, "session/remove", { sessionPeerIds: [bob] }),
        command(app, alice, "direct", { msg: "kept", toPeerIds: [bob] }),
        command(app, alice, "direct", { msg: "typing", toPeerIds: [bob], transient: true }),
        command(app, carol, "session/close"),
      ];
      for (const frame of steps)
        await expectAnswerWithI(ctx, conn, frame, replyOf(nameOf(frame)), used);
      await expectNoSecondReply(ctx, "SERIAL-REPLY-1", [conn], used);
    },
  }),
  defineCase({
    name: "transport/serial/reply-carries-i-groups",
    requirements: ["SERIAL-REPLY-1"],
    features: ["groups"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const used = new Set<number>();
      const joined = await expectAnswerWithI(
        ctx,
        conn,
        command(app, alice, "room/join"),
        "room/joined",
        used,
      );
      const roomId = joined.roomId;
      const steps: Frame[] = [
        command(app, alice, "room/invite", { roomId, roomPeerIds: [bob] }),
        ...(ctx.target.features["room-query"] === true
          ? [command(app, alice, "room/query", { roomId })]
          : []),
        ...(ctx.target.features["room-list"] === true ? [command(app, alice, "room/list")] : []),
        command(app, alice, "room/kick", { roomId, roomPeerIds: [bob] }),
        command(app, alice, "room/join", { roomId }),
        command(app, alice, "room/leave", { roomId }),
      ];
      for (const frame of steps)
        await expectAnswerWithI(ctx, conn, frame, replyOf(nameOf(frame)), used);
      await expectNoSecondReply(ctx, "SERIAL-REPLY-1", [conn], used);
    },
  }),
  defineCase({
    name: "transport/serial/reply-carries-i-history",
    requirements: ["SERIAL-REPLY-1"],
    features: ["history"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const used = new Set<number>();
      await expectAnswerWithI(
        ctx,
        conn,
        command(app, alice, "direct", { msg: "for the log", toPeerIds: [bob] }),
        "ack",
        used,
      );
      await expectAnswerWithI(
        ctx,
        conn,
        command(app, alice, "logs", { cid: conversationId([alice, bob]) }),
        "logs/result",
        used,
      );
      await expectNoSecondReply(ctx, "SERIAL-REPLY-1", [conn], used);
    },
  }),
  defineCase({
    name: "transport/serial/error-carries-i",
    requirements: ["SERIAL-REPLY-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const used = new Set<number>();
      // Failures answered with one error frame carrying i, whatever failed.
      const failing: Frame[] = [
        command(app, ctx.peer("nobody"), "session/query", { sessionPeerIds: [] }), // no session
        command(app, alice, "direct", { msg: "x", toPeerIds: [alice] }), // only oneself
        command(app, ctx.peer("nobody"), "session/close"), // no session, a silent command without i
        command(app, alice, "session/open", { peerId: "bad:id" }), // not a peer id
        ...(ctx.target.features.groups === true
          ? [
              command(app, alice, "room/leave", {
                roomId: `${ctx.peer("g")}-none`.replaceAll(/[^A-Za-z0-9_-]/g, ""),
              }),
            ]
          : []),
      ];
      for (const frame of failing) {
        const i = conn.nextSerial() + 2000;
        used.add(i);
        const f = { ...frame, i };
        const reply = await (nameOf(frame) === "session/open"
          ? requestAsIs(ctx, "SERIAL-REPLY-1", conn, f, i, "peerId is not a peer id")
          : ctx.request("SERIAL-REPLY-1", conn, f));
        ctx.expect(
          "SERIAL-REPLY-1",
          reply.cmd === "error" && reply.i === i,
          `a failing ${nameOf(frame)} with i=${i} was answered with ${describeFrame(reply)}`,
          {
            expected: `error i=${i}`,
            actual: JSON.stringify(reply).slice(0, 300),
          },
        );
      }
      await expectNoSecondReply(ctx, "SERIAL-REPLY-1", [conn], used);
    },
  }),
  defineCase({
    name: "transport/serial/legacy-one-reply",
    requirements: ["SERIAL-LEGACY-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const conn = await ctx.connect();
      // Every command of Table 1 that awaits a reply without i, in a run that succeeds.
      const steps: Frame[] = [
        command(app, alice, "session/open", { sessionPeerIds: [] }),
        command(app, alice, "session/add", { sessionPeerIds: [bob] }),
        command(app, alice, "session/query", { sessionPeerIds: [bob] }),
        command(app, alice, "direct", { msg: "hello", toPeerIds: [bob] }),
        command(app, bob, "session/open"),
      ];
      if (ctx.target.features.history === true)
        steps.push(command(app, alice, "logs", { cid: conversationId([alice, bob]) }));
      for (const frame of steps) {
        const answer = await legacyAnswer(ctx, "SERIAL-LEGACY-1", conn, frame);
        expectSuccess(
          ctx,
          "SERIAL-LEGACY-1",
          answer,
          replyOf(nameOf(frame)),
          `${nameOf(frame)} without i`,
        );
      }
      if (ctx.target.features.groups === true) {
        const joined = await legacyAnswer(
          ctx,
          "SERIAL-LEGACY-1",
          conn,
          command(app, alice, "room/join"),
        );
        expectSuccess(ctx, "SERIAL-LEGACY-1", joined, "room/joined", "room/join without i");
        const roomId = joined.roomId;
        for (const frame of [
          command(app, alice, "room/invite", { roomId, roomPeerIds: [ctx.peer("carol")] }),
          command(app, alice, "room/kick", { roomId, roomPeerIds: [ctx.peer("carol")] }),
          command(app, alice, "room/leave", { roomId }),
        ]) {
          const answer = await legacyAnswer(ctx, "SERIAL-LEGACY-1", conn, frame);
          expectSuccess(
            ctx,
            "SERIAL-LEGACY-1",
            answer,
            replyOf(nameOf(frame)),
            `${nameOf(frame)} without i`,
          );
        }
      }
      // bob's pending message comes after his session/opened: it is no reply.
      await expectNoExtraLegacyReply(ctx, "SERIAL-LEGACY-1", conn);
    },
  }),
  defineCase({
    name: "transport/serial/legacy-failure-one-error",
    requirements: ["SERIAL-LEGACY-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const failing: [Frame, string | undefined][] = [
        [command(app, alice, "direct", { msg: "x", toPeerIds: [alice] }), undefined], // only oneself
        [command(app, ctx.peer("nobody"), "session/query", { sessionPeerIds: [] }), undefined], // no session
        [command(app, alice, "session/query", { sessionPeerIds: ["x:y"] }), "a watch id with ':'"],
        [
          command(app, alice, "session/add", { sessionPeerIds: "bob" }),
          "sessionPeerIds is a string",
        ],
        ...(ctx.target.features.groups === true
          ? ([[command(app, alice, "room/leave", { roomId: "nowhere-at-all" }), undefined]] as [
              Frame,
              undefined,
            ][])
          : []),
      ];
      for (const [frame, why] of failing) {
        const answer = await legacyAnswer(ctx, "SERIAL-LEGACY-1", conn, frame, why);
        ctx.expect(
          "SERIAL-LEGACY-1",
          answer.cmd === "error",
          `a failing ${nameOf(frame)} without i was answered with ${describeFrame(answer)}`,
          {
            expected: "one error frame",
            actual: JSON.stringify(answer).slice(0, 300),
          },
        );
      }
      // An unknown command awaits a reply too (Table 1).
      conn.sendInvalid(command(app, alice, "nope"), "cmd is unknown");
      await ctx.waitFor(
        "SERIAL-LEGACY-1",
        conn,
        (f) => f.cmd === "error" && f.i === undefined,
        "the error answering an unknown cmd without i",
      );
      await expectNoExtraLegacyReply(ctx, "SERIAL-LEGACY-1", conn);
    },
  }),
  defineCase({
    name: "transport/serial/legacy-silent-commands",
    requirements: ["SERIAL-LEGACY-2"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      const b = await ctx.open(bob);
      // After each command, a keepalive: its {} comes in order after anything the command
      // got (SERIAL-ORDER-1), and nothing may come before it.
      const silently = async (frame: Frame, why?: string) => {
        if (why === undefined) conn.send(frame);
        else conn.sendInvalid(frame, why);
        await keepaliveSentinel(
          ctx,
          "SERIAL-LEGACY-2",
          conn,
          `the {} after ${nameOf(frame)} without i`,
        );
        for (const f of conn.takeAll()) {
          ctx.fault(
            "SERIAL-LEGACY-2",
            `${nameOf(frame)} without i${why === undefined ? "" : ` (${why})`} was answered`,
            {
              expected: "no frame",
              actual: JSON.stringify(f).slice(0, 300),
            },
          );
        }
      };
      // Successes. The transient message reaching bob shows the command was carried out.
      await silently(
        command(app, alice, "direct", { msg: "typing", toPeerIds: [bob], transient: true }),
      );
      await ctx.waitFor(
        "SERIAL-LEGACY-2",
        b.conn,
        isDelivery("typing"),
        "the transient message at bob (the command did run)",
      );
      await silently(command(app, alice, "ack", { ids: ["never-sent"] }));
      await silently(command(app, alice, "session/remove", { sessionPeerIds: [bob] }));
      // Failures, of every kind.
      await silently(command(app, alice, "ack", { ids: [] }), "ids is empty");
      await silently(
        command(app, alice, "session/remove", {
          sessionPeerIds: Array.from({ length: 501 }, (_, k) => `w${k}`),
        }),
        "501 watch ids",
      );
      await silently(
        command(app, alice, "direct", { msg: "x".repeat(6000), toPeerIds: [bob], transient: true }),
        "msg over 5120 bytes",
      );
      await silently(
        command(app, alice, "direct", { msg: "t", toPeerIds: [alice], transient: true }),
      );
      await silently(command("other-app-of-the-kit", alice, "ack", { ids: ["x"] }));
      await silently(command(app, alice, "session/close"));
      // alice has no session now: each fails with 4105, silently.
      await silently(command(app, alice, "ack", { ids: ["x"] }));
      await silently(command(app, alice, "session/remove", { sessionPeerIds: [bob] }));
      await silently(
        command(app, alice, "direct", { msg: "t", toPeerIds: [bob], transient: true }),
      );
      await silently(command(app, alice, "session/close"));
      await ctx.expectNone(
        "SERIAL-LEGACY-2",
        conn,
        (f) => !isKeepalive(f),
        "a late answer to a command without i",
        300,
      );
    },
  }),
  defineCase({
    name: "transport/serial/legacy-silent-close-only",
    requirements: ["SERIAL-LEGACY-2"],
    async run(ctx) {
      // A command without i that awaits no reply and closes the connection: the close only.
      const cases: [string, Frame, string | undefined][] = [
        [
          "an ack naming a malformed app",
          command("no app!", ctx.peer("a"), "ack", { ids: ["x"] }),
          undefined,
        ],
        ...(ctx.target.apps.unknown === undefined
          ? []
          : [
              [
                "an ack naming an app not served",
                command(ctx.target.apps.unknown, ctx.peer("b"), "ack", { ids: ["x"] }),
                undefined,
              ] as [string, Frame, undefined],
            ]),
        ...(ctx.target.apps.origin === undefined
          ? []
          : [
              [
                "a transient direct from an origin not allowed",
                command(ctx.target.apps.origin.appId, ctx.peer("c"), "direct", {
                  msg: "t",
                  toPeerIds: [ctx.peer("d")],
                  transient: true,
                }),
                disallowedOrigin(ctx),
              ] as [string, Frame, string],
            ]),
      ];
      await Promise.all(
        cases.map(async ([what, frame, origin]) => {
          const conn = await ctx.connect(origin === undefined ? {} : { origin });
          ctx.note(`${conn.label}: first command: ${what}`);
          conn.sendInvalid(frame, what);
          const closed = await conn.waitClose(2_000).then(
            () => true,
            () => false,
          );
          // A server that does not close (another requirement) must still send nothing.
          if (!closed) await keepaliveSentinel(ctx, "SERIAL-LEGACY-2", conn, "the {} sentinel");
          const answers = conn.frames.filter((f) => !isKeepalive(f));
          ctx.expect(
            "SERIAL-LEGACY-2",
            answers.length === 0,
            `${what}, without i, was answered with a frame`,
            {
              expected: closed ? "the close only" : "no frame",
              actual: answers.map((f) => JSON.stringify(f).slice(0, 200)).join(", "),
            },
          );
        }),
      );
    },
  }),
  defineCase({
    name: "transport/serial/ack-gets-no-success-reply",
    requirements: ["SERIAL-ACK-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice);
      const b = await ctx.open(bob);
      await ctx.request(
        "ACK-REPLY-1",
        a.conn,
        command(app, alice, "direct", { msg: "ack me", toPeerIds: [bob] }),
      );
      const got = await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b.conn,
        (f) => f.cmd === "direct",
        "the delivery to bob",
      );
      b.conn.send(command(app, bob, "ack", { ids: [got.id] }));
      b.conn.send(command(app, bob, "ack", { ids: [got.id], i: 501 }));
      b.conn.send(command(app, bob, "ack", { ids: ["never-sent"], i: 502 }));
      // Sentinel: the reply to a later command, then a pause; nothing may answer the acks.
      await ctx.request(
        "SERIAL-ACK-1",
        b.conn,
        command(app, bob, "session/query", { sessionPeerIds: [], i: 503 }),
      );
      await ctx.expectNone(
        "SERIAL-ACK-1",
        b.conn,
        (f) => f.i === 501 || f.i === 502 || f.cmd === "ack",
        "a reply to a client ack",
        300,
      );
    },
  }),
  defineCase({
    name: "transport/serial/failing-ack-with-i-gets-error",
    requirements: ["SERIAL-ACK-3"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const failing: [string, Frame | string][] = [
        ["the peer has no session", command(app, ctx.peer("nobody"), "ack", { ids: ["x"], i: 1 })],
        ["ids is empty", command(app, alice, "ack", { ids: [], i: 2 })],
        [
          "501 ids",
          command(app, alice, "ack", { ids: Array.from({ length: 501 }, (_, k) => `m${k}`), i: 3 }),
        ],
        [
          "another app than the connection's",
          command("other-app-of-the-kit", alice, "ack", { ids: ["x"], i: 4 }),
        ],
        [
          "an id with an unpaired surrogate",
          `{"cmd":"ack","appId":${JSON.stringify(app)},"peerId":${JSON.stringify(alice)},"ids":["\\ud800"],"i":5}`,
        ],
      ];
      for (const [k, [why, frame]] of failing.entries()) {
        const i = k + 1;
        const reply = await requestAsIs(ctx, "SERIAL-ACK-3", conn, frame, i, why);
        ctx.expect(
          "SERIAL-ACK-3",
          reply.cmd === "error",
          `an ack with i where ${why} was answered with ${describeFrame(reply)}`,
          {
            expected: `error i=${i}`,
            actual: JSON.stringify(reply).slice(0, 300),
          },
        );
      }
      await expectNoSecondReply(ctx, "SERIAL-ACK-3", [conn], new Set([1, 2, 3, 4, 5]));
    },
  }),
  defineCase({
    name: "transport/serial/legacy-replies-in-order",
    requirements: ["SERIAL-ORDER-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const { conn } = await ctx.open(alice);
      // All at once, without waiting: the replies and {} must come in this order.
      const burst: [Frame, string | undefined][] = [
        [{}, "keepalive"],
        [command(app, alice, "session/query", { sessionPeerIds: [bob] }), "session/query-result"],
        [{ anything: 1 }, "keepalive"],
        [command(app, alice, "direct", { msg: "x", toPeerIds: [bob] }), "ack"],
        [command(app, alice, "session/remove", { sessionPeerIds: [bob] }), undefined],
        [command(app, alice, "session/add", { sessionPeerIds: [bob] }), "session/added"],
        [command(app, alice, "session/query", { sessionPeerIds: ["x:y"] }), "error"],
        [{}, "keepalive"],
        [command(app, ctx.peer("carol"), "session/open"), "session/opened"],
        [command(app, alice, "direct", { msg: "t", toPeerIds: [bob], transient: true }), undefined],
        [command(app, alice, "nope"), "error"],
        [{}, "keepalive"],
      ];
      for (const [frame, reply] of burst) {
        if (reply === "error") conn.sendInvalid(frame, "fails its schema");
        else conn.send(frame);
      }
      const expected = burst.flatMap(([, reply]) => (reply === undefined ? [] : [reply]));
      const wanted = new Set(expected);
      const got: string[] = [];
      while (got.length < expected.length) {
        const f = await ctx.waitFor(
          "SERIAL-ORDER-1",
          conn,
          (x) => x.i === undefined && wanted.has(nameOf(x)),
          `reply ${got.length + 1} of ${expected.length}`,
        );
        got.push(nameOf(f));
      }
      ctx.expectEqual(
        "SERIAL-ORDER-1",
        got,
        expected,
        "the replies and {} in the order of their frames",
      );
    },
  }),
  defineCase({
    name: "transport/serial/i-only-on-own-reply",
    requirements: ["SERIAL-ECHO-1"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const carol = ctx.peer("carol");
      const a = await ctx.open(alice, { watch: [bob] });
      const b = await ctx.open(bob, { watch: [alice] });
      const a2 = await ctx.open(alice, { watch: [bob] });
      const c = await ctx.connect();
      // The i of each connection's own commands, session/open of ctx.open included.
      const sent = new Map<Connection, unknown[]>([
        [a.conn, [a.opened.i]],
        [b.conn, [b.opened.i]],
        [a2.conn, [a2.opened.i]],
        [c, []],
      ]);
      const presenceOf = (peer: string, status: string) => (f: Frame) =>
        f.cmd === "presence" &&
        f.status === status &&
        Array.isArray(f.sessionPeerIds) &&
        f.sessionPeerIds.includes(peer);
      const cmd = async (conn: Connection, i: number, frame: Frame) => {
        sent.get(conn)?.push(i);
        const r = await ctx.request("SERIAL-ECHO-1", conn, { ...frame, i });
        ctx.expect("SERIAL-ECHO-1", r.i === i, "the reply does not carry its command's i", {
          actual: JSON.stringify(r).slice(0, 300),
        });
      };
      // Distinctive serials, so that a copy of one on another connection shows.
      await cmd(c, 9001, command(app, carol, "session/open", { sessionPeerIds: [alice] }));
      await cmd(a.conn, 9002, command(app, alice, "session/add", { sessionPeerIds: [carol] }));
      await cmd(
        a.conn,
        9003,
        command(app, alice, "direct", { msg: "hi", toPeerIds: [bob, carol] }),
      );
      await ctx.waitFor("SERIAL-ECHO-1", b.conn, isDelivery("hi"), "the delivery to bob");
      await ctx.waitFor("SERIAL-ECHO-1", c, isDelivery("hi"), "the delivery to carol");
      if (ctx.target.features.groups === true) {
        await cmd(a.conn, 9004, command(app, alice, "room/join"));
        await ctx.waitFor(
          "SERIAL-ECHO-1",
          a2.conn,
          (f) => nameOf(f) === "room/joined",
          "the copy of room/joined at alice's other session",
        );
      }
      await cmd(c, 9005, command(app, carol, "session/close"));
      await ctx.waitFor("SERIAL-ECHO-1", a.conn, presenceOf(carol, "off"), "carol's presence off");
      await cmd(c, 9006, command(app, carol, "session/open"));
      await ctx.waitFor("SERIAL-ECHO-1", a.conn, presenceOf(carol, "on"), "carol's presence on");
      await cmd(
        b.conn,
        9007,
        command(app, bob, "direct", { msg: "yo", toPeerIds: [alice], transient: true }),
      );
      for (const conn of [a.conn, a2.conn])
        await ctx.waitFor("SERIAL-ECHO-1", conn, isDelivery("yo"), "bob's transient message");
      for (const conn of sent.keys())
        await keepaliveSentinel(ctx, "SERIAL-ECHO-1", conn, "the {} sentinel");
      await Promise.all([...sent.keys()].map((conn) => conn.settle(200, 1_000)));
      for (const [conn, mine] of sent) {
        const withI = conn.frames.filter((f) => f.i !== undefined);
        ctx.expectEqual(
          "SERIAL-ECHO-1",
          withI.map((f) => f.i),
          mine,
          `the i of the frames on ${conn.label} (only its own replies: ${withI.map(describeFrame).join(", ")})`,
        );
      }
    },
  }),
];

// ---------------------------------------------------------------------------------------------
// Keepalive (1.5)

const KEEPALIVE_CASES: readonly ServerCase[] = [
  defineCase({
    name: "transport/keepalive/object-without-cmd-is-keepalive",
    requirements: ["KEEPALIVE-DEF-1"],
    async run(ctx) {
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      const texts = [
        "{}",
        '{"op":"open"}',
        JSON.stringify({ peerId: alice, appId: "not-served-by-anyone", i: 3 }),
        '{"CMD":"session","op":"open"}',
        JSON.stringify({ sessionPeerIds: "not an array", msg: 5, toPeerIds: {} }),
        '{"x":"\\ud800","msg":"\\udfff"}',
      ];
      for (const text of texts) {
        conn.sendText(text, "an object without cmd");
        const f = await ctx.waitFor("KEEPALIVE-DEF-1", conn, () => true, `the answer to ${text}`);
        ctx.expect("KEEPALIVE-DEF-1", isKeepalive(f), `${text} was not answered as a keepalive`, {
          expected: "{}",
          actual: JSON.stringify(f).slice(0, 300),
        });
      }
      // On a fresh connection, a keepalive naming an unknown app binds nothing: the next
      // command binds the connection to its own app.
      const fresh = await ctx.connect();
      fresh.sendText(
        JSON.stringify({ appId: "no app!", peerId: "x" }),
        "an object without cmd naming a malformed app",
      );
      await ctx.waitFor("KEEPALIVE-DEF-1", fresh, isKeepalive, "the {} answering it");
      const opened = await ctx.request(
        "KEEPALIVE-DEF-1",
        fresh,
        command(ctx.appId(), ctx.peer("bob"), "session/open"),
      );
      expectSuccess(
        ctx,
        "KEEPALIVE-DEF-1",
        opened,
        "session/opened",
        "a session/open after a keepalive that named another app",
      );
    },
  }),
  defineCase({
    name: "transport/keepalive/answer-is-exactly-empty-object",
    requirements: ["KEEPALIVE-REPLY-1"],
    async run(ctx) {
      const conn = await ctx.connect();
      await ctx.open(ctx.peer("alice"), { on: conn });
      const before = conn.frames.length;
      for (const text of ["{}", '{"i":1,"peerId":"p"}', '{ "x" : [ 1 ] }']) {
        conn.sendText(text, "a keepalive");
        await ctx.waitFor("KEEPALIVE-REPLY-1", conn, isKeepalive, `the {} answering ${text}`);
      }
      const answers = conn.frames.slice(before);
      ctx.expectEqual(
        "KEEPALIVE-REPLY-1",
        answers.map((f) => conn.rawOf(f)),
        ["{}", "{}", "{}"],
        "the text of the keepalive answers",
      );
    },
  }),
  defineCase({
    name: "transport/keepalive/answered-in-every-state",
    requirements: ["KEEPALIVE-REPLY-2"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const conn = await ctx.connect();
      await keepaliveSentinel(
        ctx,
        "KEEPALIVE-REPLY-2",
        conn,
        "the {} on a connection bound to no app",
      );
      // A command of a peer without a session binds the connection (SESSION-APP-1) and
      // fails (SESSION-REQUIRED-1): bound, no session.
      await ctx.request(
        "KEEPALIVE-REPLY-2",
        conn,
        command(app, alice, "session/query", { sessionPeerIds: [] }),
      );
      await keepaliveSentinel(
        ctx,
        "KEEPALIVE-REPLY-2",
        conn,
        "the {} on a bound connection without a session",
      );
      await ctx.open(alice, { on: conn });
      await keepaliveSentinel(
        ctx,
        "KEEPALIVE-REPLY-2",
        conn,
        "the {} on a connection with a session",
      );
      await ctx.request("KEEPALIVE-REPLY-2", conn, command(app, alice, "session/close"));
      await keepaliveSentinel(
        ctx,
        "KEEPALIVE-REPLY-2",
        conn,
        "the {} after the last session closed",
      );
    },
  }),
  defineCase({
    name: "transport/keepalive/no-unsolicited-empty-object",
    requirements: ["KEEPALIVE-REPLY-3"],
    async run(ctx) {
      const app = ctx.appId();
      const alice = ctx.peer("alice");
      const bob = ctx.peer("bob");
      const a = await ctx.open(alice, { watch: [bob] });
      const b = await ctx.open(bob, { watch: [alice] });
      let keepalives = 0;
      const keepalive = async () => {
        keepalives++;
        await keepaliveSentinel(ctx, "KEEPALIVE-REPLY-3", a.conn);
      };
      // Presence, deliveries, acks, errors, replies: none of them may be {}.
      await keepalive();
      await ctx.request(
        "ACK-REPLY-1",
        a.conn,
        command(app, alice, "direct", { msg: "hi", toPeerIds: [bob] }),
      );
      const got = await ctx.waitFor(
        "DIRECT-DELIVER-1",
        b.conn,
        (f) => f.cmd === "direct",
        "the delivery to bob",
      );
      b.conn.send(command(app, bob, "ack", { ids: [got.id] }));
      await ctx.request(
        "KEEPALIVE-REPLY-3",
        b.conn,
        command(app, bob, "session/add", { sessionPeerIds: [ctx.peer("carol")] }),
      );
      await requestAsIs(
        ctx,
        "KEEPALIVE-REPLY-3",
        b.conn,
        command(app, bob, "nope", { i: 40 }),
        40,
        "cmd is unknown",
      );
      await keepalive();
      await ctx.request("KEEPALIVE-REPLY-3", b.conn, command(app, bob, "session/close"));
      await ctx.waitFor(
        "KEEPALIVE-REPLY-3",
        a.conn,
        (f) => f.cmd === "presence" && f.status === "off",
        "bob's presence off",
      );
      await keepalive();
      await Promise.all([a.conn.settle(300, 1_000), b.conn.settle(300, 1_000)]);
      const count = (conn: Connection) => conn.frames.filter(isKeepalive).length;
      ctx.expectEqual(
        "KEEPALIVE-REPLY-3",
        count(a.conn),
        keepalives,
        `the {} frames at alice, who sent ${keepalives} keepalives`,
      );
      ctx.expectEqual("KEEPALIVE-REPLY-3", count(b.conn), 0, "the {} frames at bob, who sent none");
    },
  }),
  defineCase({
    name: "transport/keepalive/ping-gets-pong",
    requirements: ["KEEPALIVE-PING-1"],
    async run(ctx) {
      const bare = await ctx.connect();
      const { conn } = await ctx.open(ctx.peer("alice"));
      for (const c of [bare, conn]) {
        for (let k = 0; k < 3; k++) {
          const payload = `${ctx.nonce()}-${k}`;
          const pong = new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 3_000);
            const onPong = (data: Buffer) => {
              if (Buffer.from(data).toString() !== payload) return;
              clearTimeout(timer);
              c.ws.off("pong", onPong);
              resolve(true);
            };
            c.ws.on("pong", onPong);
          });
          ctx.note(`${c.label}: WebSocket ping ${payload}`);
          c.ws.ping(payload);
          ctx.expect(
            "KEEPALIVE-PING-1",
            await pong,
            `no pong with the ping's payload on ${c.label} within 3 s`,
            { expected: `pong ${payload}` },
          );
        }
      }
    },
  }),
];

// ---------------------------------------------------------------------------------------------
// Timeouts (1.6)

/** Longest shortened timeout the kit waits out, ms. */
const MAX_WAITED_TIMEOUT_MS = 6_000;

/** A shortened timeout of the short server, or not applicable when it is too long to wait. */
function shortTimeout(ctx: CaseContext, name: "readTimeoutMs" | "loginTimeoutMs"): number {
  const ms = ctx.limit(name, true);
  if (ms > MAX_WAITED_TIMEOUT_MS)
    throw new NotApplicable(
      `the short server's ${name} is ${ms} ms, over the ${MAX_WAITED_TIMEOUT_MS} ms the kit waits`,
    );
  return ms;
}

/** Waits for the close of `conn` with `code`, and checks it came no earlier than `dueAt`. */
async function expectTimeoutClose(
  ctx: CaseContext,
  req: string,
  conn: Connection,
  code: number,
  dueAt: number,
  what: string,
): Promise<void> {
  await ctx.expectClose(req, conn, code, Math.max(0, dueAt - performance.now()) + LATE_SLACK_MS);
  const early = Math.round(dueAt - performance.now());
  ctx.expect(req, early <= EARLY_SLACK_MS, `${what} was closed ${early} ms before its timeout`, {
    expected: `a close with ${code} once the timeout has passed`,
    actual: `closed ${early} ms early`,
  });
}

const TIMEOUT_CASES: readonly ServerCase[] = [
  defineCase({
    name: "transport/timeout/read-closes-4107",
    requirements: ["TIMEOUT-READ-1"],
    needs: ["short"],
    timeoutMs: 25_000,
    async run(ctx) {
      const timeout = shortTimeout(ctx, "readTimeoutMs");
      // Each holds a session, so that the login timeout cannot be what closes them. The
      // quiet one does not even answer pings with pongs: a pong is activity too.
      const quiet = await ctx.connect({ short: true, ws: { autoPong: false } });
      const chatty = await ctx.connect({ short: true });
      const pinging = await ctx.connect({ short: true });
      const t0 = performance.now();
      await Promise.all(
        [quiet, chatty, pinging].map((conn, k) =>
          ctx.open(ctx.peer(`p${k}`), { on: conn, short: true }),
        ),
      );
      const stops = [
        every(timeout / 4, () => {
          if (chatty.isOpen) chatty.send({});
        }),
        every(timeout / 4, () => {
          if (pinging.isOpen) pinging.ws.ping();
        }),
      ];
      try {
        await expectTimeoutClose(
          ctx,
          "TIMEOUT-READ-1",
          quiet,
          4107,
          t0 + timeout,
          "a connection silent since its session/open",
        );
        // The other two have been open for longer than the timeout: frames and pings reset it.
        await ctx.sleep(Math.max(0, t0 + timeout * 1.5 - performance.now()));
        for (const [conn, what] of [
          [chatty, "a connection that sends keepalives"],
          [pinging, "a connection that sends WebSocket pings"],
        ] as const) {
          ctx.expect(
            "TIMEOUT-READ-1",
            conn.closeInfo === undefined,
            `${what} was closed after ${since(t0)} ms`,
            {
              expected: "open: it was never silent for the read timeout",
              actual: JSON.stringify(conn.closeInfo),
            },
          );
        }
      } finally {
        for (const stop of stops) stop();
      }
    },
  }),
  defineCase({
    name: "transport/timeout/read-at-least-200s",
    requirements: ["TIMEOUT-READ-2"],
    async run(ctx) {
      // What the server announces it applies (SESSION-INFO-5): 200 s cannot be waited out.
      const ms = ctx.limit("readTimeoutMs");
      ctx.expect(
        "TIMEOUT-READ-2",
        ms >= 200_000,
        `the server announces a read timeout of ${ms} ms`,
        { expected: ">= 200000", actual: String(ms) },
      );
    },
  }),
  defineCase({
    name: "transport/timeout/read-300s",
    requirements: ["TIMEOUT-READ-3"],
    async run(ctx) {
      const ms = ctx.limit("readTimeoutMs");
      ctx.expect(
        "TIMEOUT-READ-3",
        ms === 300_000,
        `the server announces a read timeout of ${ms} ms`,
        { expected: "300000", actual: String(ms) },
      );
    },
  }),
  defineCase({
    name: "transport/timeout/login-closes-4108",
    requirements: ["TIMEOUT-LOGIN-1"],
    needs: ["short"],
    timeoutMs: 25_000,
    async run(ctx) {
      const timeout = shortTimeout(ctx, "loginTimeoutMs");
      const app = ctx.appId();
      const tick = Math.min(timeout / 4, 500);
      const t0 = performance.now();
      // idle: keepalives only; failing: session/opens that fail; relog: a session that ends.
      const idle = await ctx.connect({ short: true });
      const failing = await ctx.connect({ short: true });
      const relog = await ctx.connect({ short: true });
      const conns = [idle, failing, relog];
      let k = 0;
      const stop = every(tick, () => {
        for (const conn of conns) if (conn.isOpen) conn.send({});
        if (failing.isOpen)
          failing.sendInvalid(
            command(app, "", "session/open", { i: 1000 + k++ }),
            "peerId is empty: the open fails",
          );
      });
      try {
        const relogPeer = ctx.peer("relog");
        await ctx.open(relogPeer, { on: relog, short: true });
        // relog held a session past the login timeout: still open; then counted again from
        // the end of that session. All three run at once (Promise.all: no stray rejection).
        const relogged = async () => {
          await ctx.sleep(Math.max(0, t0 + timeout * 1.25 - performance.now()));
          ctx.expect(
            "TIMEOUT-LOGIN-1",
            relog.closeInfo === undefined,
            `a connection with an open session was closed after ${since(t0)} ms`,
            {
              expected: "open",
              actual: JSON.stringify(relog.closeInfo),
            },
          );
          const ended = performance.now();
          await ctx.request("TIMEOUT-LOGIN-1", relog, command(app, relogPeer, "session/close"));
          await expectTimeoutClose(
            ctx,
            "TIMEOUT-LOGIN-1",
            relog,
            4108,
            ended + timeout,
            "a connection whose last session ended",
          );
        };
        await Promise.all([
          expectTimeoutClose(
            ctx,
            "TIMEOUT-LOGIN-1",
            idle,
            4108,
            t0 + timeout,
            "a connection that only sent keepalives",
          ),
          expectTimeoutClose(
            ctx,
            "TIMEOUT-LOGIN-1",
            failing,
            4108,
            t0 + timeout,
            "a connection whose session/opens failed",
          ),
          relogged(),
        ]);
      } finally {
        stop();
      }
    },
  }),
  defineCase({
    name: "transport/timeout/login-60s",
    requirements: ["TIMEOUT-LOGIN-2"],
    async run(ctx) {
      const ms = ctx.limit("loginTimeoutMs");
      ctx.expect(
        "TIMEOUT-LOGIN-2",
        ms === 60_000,
        `the server announces a login timeout of ${ms} ms`,
        { expected: "60000", actual: String(ms) },
      );
    },
  }),
];

// ---------------------------------------------------------------------------------------------
// Flood control (1.7)

/** The announced frame rate and burst; not applicable when the server announces none. */
function frameRate(ctx: CaseContext): { perSecond: number; burst: number; flood: number } {
  const perSecond = ctx.limit("framesPerSecond");
  const burst = ctx.limits().frameBurst ?? perSecond;
  // Enough to exceed the bucket even if sending them takes two seconds.
  const flood = burst + 2 * perSecond + 10;
  if (flood > 100_000)
    throw new NotApplicable(
      `the announced frame rate (${perSecond}/s, burst ${burst}) is too high to flood`,
    );
  return { perSecond, burst, flood };
}

const FLOOD_CASES: readonly ServerCase[] = [
  defineCase({
    name: "transport/flood/keepalive-flood-closes-4116",
    requirements: ["FLOOD-CLOSE-1", "FLOOD-RATE-1"],
    timeoutMs: 20_000,
    async run(ctx) {
      const { perSecond, burst, flood } = frameRate(ctx);
      // Far below the announced rate and burst (a quarter, at most 50 at once): a server that
      // limits (FLOOD-RATE-1) limits at what it announces, so these are all answered.
      const calm = await ctx.connect();
      const few = Math.max(1, Math.min(Math.floor(Math.min(burst, perSecond) / 4), 50));
      ctx.note(
        `${calm.label}: ${few} keepalives at once (announced: ${perSecond}/s, burst ${burst})`,
      );
      for (let n = 0; n < few; n++) calm.ws.send("{}");
      await ctx.soft(async () => {
        for (let n = 0; n < few; n++) {
          await keepaliveAnswer(
            ctx,
            "FLOOD-RATE-1",
            calm,
            `{} ${n + 1} of ${few} (far within the announced rate)`,
          );
        }
      });
      // Over it: keepalives count, and close the connection with 4116.
      const conn = await ctx.connect();
      ctx.note(`${conn.label}: ${flood} keepalives at once`);
      for (let n = 0; n < flood && conn.isOpen; n++) conn.ws.send("{}");
      await ctx.expectClose("FLOOD-CLOSE-1", conn, 4116, 10_000);
    },
  }),
  defineCase({
    name: "transport/flood/command-flood-closes-4116",
    requirements: ["FLOOD-CLOSE-1"],
    timeoutMs: 20_000,
    async run(ctx) {
      const { flood } = frameRate(ctx);
      const alice = ctx.peer("alice");
      const { conn } = await ctx.open(alice);
      // Commands that fail without closing (4114): over the rate, the answer is the close 4116.
      const text = JSON.stringify({ cmd: "nope", appId: ctx.appId(), peerId: alice, i: 1 });
      ctx.note(`${conn.label}: ${flood} unknown commands at once`);
      for (let n = 0; n < flood && conn.isOpen; n++) conn.ws.send(text);
      await ctx.expectClose("FLOOD-CLOSE-1", conn, 4116, 10_000);
    },
  }),
];

/** The transport cases. */
export const CASES: readonly ServerCase[] = [
  ...ROUTER_CASES,
  ...CONNECTION_CASES,
  ...FRAMING_CASES,
  ...SERIAL_CASES,
  ...KEEPALIVE_CASES,
  ...TIMEOUT_CASES,
  ...FLOOD_CASES,
];
