/**
 * The HTTP side of the reference server: the router (`GET /v1/route`, spec §1.1, D12), the
 * REST history endpoint (`GET /1.1/rtm/messages/logs`, D9), the REST membership endpoints
 * (`GET /1.1/rtm/rooms/{roomId}/members`, `GET /1.1/rtm/peers/{peerId}/rooms`, spec 4.7,
 * D19), a health check and, in development mode, the demo chat page (`GET /demo`, issue 10).
 * Every answer but the demo's files is JSON (or JSONP for the router) and carries
 * `Access-Control-Allow-Origin: *` [ROUTER-CORS-1].
 * @module
 */
import { readFile } from "node:fs/promises";
import type { IncomingMessage, RequestListener, ServerResponse } from "node:http";
import { join } from "node:path";
import { APP_ID_RULE, ERRORS, type ErrorSpec, isAppId } from "@confab/protocol";
import type { ProtocolEngine } from "../core/types.js";
import { errorFields, type Logger, silentLogger } from "../log.js";

/** Seconds a router answer may be cached by the client. */
export const ROUTE_TTL_S = 3600;

/** Code of a malformed request (spec/08-errors.md, 4114). */
const INVALID = ERRORS.INVALID_FRAME.code;
/** Code of an unknown app (4100). */
const APP_NOT_AVAILABLE = ERRORS.APP_NOT_AVAILABLE.code;
/** Code of an internal failure (4200). */
const INTERNAL_ERROR = ERRORS.INTERNAL_ERROR.code;

/**
 * The HTTP status of a protocol error: an unknown app is not found [REST-APP-2], a missing
 * or wrong master key unauthorised [REST-AUTH-1], a malformed query a bad request
 * [REST-PARAM-1], a request over the history rate too many requests [REST-RATE-1]; anything
 * else is the server's own failure. The core knows nothing of
 * HTTP: this is the only place its codes become statuses.
 */
export function httpStatusOf(error: ErrorSpec): number {
  switch (error.code) {
    case ERRORS.APP_NOT_AVAILABLE.code:
      return 404;
    // An unknown group is not found either; its code tells it from an unknown app [REST-ROOMS-6].
    case ERRORS.ROOM_NOT_FOUND.code:
      return 404;
    case ERRORS.SIGNATURE_FAILED.code:
      return 401;
    case ERRORS.INVALID_FRAME.code:
      return 400;
    case ERRORS.LIMIT_EXCEEDED.code:
      return 429; // the history rate [REST-RATE-1]
    default:
      return 500;
  }
}

/** Query parameters of the history endpoint that the schema takes as integers. */
const INTEGER_PARAMS: ReadonlySet<string> = new Set(["max_ts", "limit"]);

/**
 * The history query as JSON values, `appId` left out (it names the app, not the query).
 * `max_ts` and `limit` become numbers when they are ASCII digits of a value up to 2^53 − 1
 * (leading zeros allowed); anything else (`1e3`, `0x10`, `+5`, `-1`, the empty string, a
 * larger value) stays text [REST-INT-1, REST-PARAM-4]. A parameter given more than once
 * becomes the array of its values [REST-PARAM-3]. The core's schema refuses both with 400,
 * after it has checked the app and the master key [REST-ORDER-1].
 */
export function logsQueryOf(params: URLSearchParams): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of new Set(params.keys())) {
    if (k === "appId") continue;
    const values = params.getAll(k).map((v) => {
      const n = Number(v);
      // Number.isSafeInteger is false for every value that Number() rounds (> 2^53 − 1).
      return INTEGER_PARAMS.has(k) && /^\d+$/.test(v) && Number.isSafeInteger(n) ? n : v;
    });
    out[k] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/**
 * The app id a REST history request names: the header's, else the `appId` parameter's
 * [REST-APP-1]. A repeated `appId` parameter names no one app, so it is passed on joined,
 * which is never a valid app id (`,` is not in its alphabet), and the core answers 404
 * [REST-APP-3].
 */
export function restAppIdOf(
  headerValue: string | undefined,
  params: URLSearchParams,
): string | undefined {
  if (headerValue !== undefined) return headerValue;
  const ids = params.getAll("appId");
  return ids.length === 0 ? undefined : ids.join(",");
}

/** `/1.1/rtm/rooms/{roomId}/members`, the id one non-empty, still percent-encoded segment. */
const ROOM_MEMBERS_PATH = /^\/1\.1\/rtm\/rooms\/([^/]+)\/members$/;
/** `/1.1/rtm/peers/{peerId}/rooms`, likewise. */
const PEER_ROOMS_PATH = /^\/1\.1\/rtm\/peers\/([^/]+)\/rooms$/;

/**
 * A path segment percent-decoded as UTF-8 (`%2F` is a `/` inside the id), or `undefined`
 * when it is no valid percent-encoding of UTF-8, which the core answers with 400 after the
 * app and key checks [REST-ROOMS-3, REST-ROOMS-4].
 */
export function pathSegment(raw: string): string | undefined {
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** [ROUTER-JSONP-1] A JSONP callback name that cannot carry script. */
const JSONP_CALLBACK = /^[A-Za-z_$][A-Za-z0-9_$.]*$/;
/** A Host header we are willing to echo into a URL: host name or IP literal, optional port. */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Options of {@link createHttpHandler}. */
export interface HttpHandlerOptions {
  readonly engine: ProtocolEngine;
  /**
   * The WebSocket URL the router answers with. Unset: built from the request's `Host`
   * header (`ws://host/`, or `wss://host/` for `secure=1` or `X-Forwarded-Proto: https`).
   */
  readonly publicUrl?: string | undefined;
  /** Seconds the router answer may be cached. Default {@link ROUTE_TTL_S}. */
  readonly routeTtlS?: number | undefined;
  readonly logger?: Logger | undefined;
  /**
   * The folder of the demo chat page, served at `GET /demo` and `/demo/*` [issue 10]; unset,
   * those paths are not found. The server sets it in development mode only.
   */
  readonly demoDir?: string | undefined;
  /**
   * Called after each request the core handled (the server uses it to drain the core's log
   * events).
   */
  readonly afterRequest?: (() => void) | undefined;
  /**
   * Called before a REST read of stored state (history, members, a peer's groups). The
   * server commits there whatever the core wrote and has not committed yet (the WebSocket
   * adapter commits at most once per commit interval), so that a REST answer never shows a
   * message or a membership that a crash could still take back: what ACK-DURABLE-2 and
   * ROOM-DURABLE-1 ask of the frames a session receives.
   */
  readonly beforeRead?: (() => void) | undefined;
}

const CORS_HEADERS = {
  "Access-Control-Allow-Origin": "*",
} as const;

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Content-Length": Buffer.byteLength(text),
    "Cache-Control": "no-store",
    ...CORS_HEADERS,
    ...extra,
  });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, code: number, error: string): void {
  send(res, status, { code, error });
}

const HTML = "text/html; charset=utf-8";
const JS = "text/javascript; charset=utf-8";

/**
 * The demo's files: the only paths under `/demo` that are answered, each with the file of
 * the demo folder it names and its type. A fixed list, so no request names any other file
 * (`..`, `%2e%2e`, an encoded `/`, a symlink's target), whatever the folder holds.
 */
export const DEMO_FILES: Readonly<
  Record<string, { readonly file: string; readonly type: string }>
> = {
  "/demo": { file: "index.html", type: HTML },
  "/demo/": { file: "index.html", type: HTML },
  "/demo/index.html": { file: "index.html", type: HTML },
  "/demo/demo.js": { file: "demo.js", type: JS },
  "/demo/demo.css": { file: "demo.css", type: "text/css; charset=utf-8" },
  "/demo/dist/confab-client.js": { file: "dist/confab-client.js", type: JS },
  "/demo/dist/confab-client.js.map": {
    file: "dist/confab-client.js.map",
    type: "application/json; charset=utf-8",
  },
};

/**
 * The demo page's policy: its own scripts and styles only, no inline script, sockets to any
 * server (the router may name another host). `'unsafe-eval'` because the client validates
 * every frame with the protocol package's ajv validators, which ajv compiles to functions
 * at run time.
 */
const DEMO_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** Whether `path` is the demo's, `/demo` or under it. */
const isDemoPath = (path: string) => path === "/demo" || path.startsWith("/demo/");

/**
 * The request target as a URL, or `undefined` when it is none. The target is a path
 * (origin form), so it is appended to a base rather than resolved against it: resolving
 * would read `//x:99999/` as a host and port.
 */
function requestUrl(target: string | undefined): URL | undefined {
  const path = target ?? "/";
  try {
    return path.startsWith("/") ? new URL(`http://localhost${path}`) : new URL(path);
  } catch {
    return undefined;
  }
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The ws URL of this server as the client reached it. */
function wsUrlFor(req: IncomingMessage, secure: boolean): string {
  let host = header(req, "host");
  if (host === undefined || !HOST.test(host)) {
    const addr = req.socket.localAddress ?? "127.0.0.1";
    const bare = addr.startsWith("::ffff:") ? addr.slice(7) : addr;
    host = `${bare.includes(":") ? `[${bare}]` : bare}:${req.socket.localPort ?? 80}`;
  }
  const forwarded = header(req, "x-forwarded-proto")?.split(",")[0]?.trim().toLowerCase();
  const scheme = secure || forwarded === "https" ? "wss" : "ws";
  return `${scheme}://${host}/`;
}

/**
 * Creates the request listener of the server's `http.Server`.
 *
 * - `GET /v1/route?appId=X[&secure=1][&cb=F]` → `{server, ttl}` (JSONP with `cb`, errors
 *   too), 404 `{code: 4100}` for an unknown app, 400 `{code: 4114}` without `appId`, with a
 *   malformed one, or with a parameter given twice.
 * - `GET /1.1/rtm/messages/logs` → the core's {@link ProtocolEngine.restLogs}.
 * - `GET /1.1/rtm/rooms/{roomId}/members` → {@link ProtocolEngine.restRoomMembers}, and
 *   `GET /1.1/rtm/peers/{peerId}/rooms` → {@link ProtocolEngine.restPeerRooms}.
 * - `GET /healthz` → `{status: "ok", connections, sessions}`.
 * - `GET /demo` and `/demo/*`, with a `demoDir` only: the files of {@link DEMO_FILES}.
 * - `OPTIONS` → the CORS preflight (the REST endpoint takes custom headers); other
 *   methods than GET and HEAD → 405; other paths → 404.
 */
export function createHttpHandler(options: HttpHandlerOptions): RequestListener {
  const { engine } = options;
  const logger = options.logger ?? silentLogger;
  const ttl = options.routeTtlS ?? ROUTE_TTL_S;

  function route(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    // cb first: it decides the form of every other answer, errors included
    // [ROUTER-JSONP-3]. A repeated or unsafe one gets plain JSON.
    const cbs = params.getAll("cb");
    if (cbs.length > 1) {
      sendError(res, 400, INVALID, "cb may be given once"); // [ROUTER-PARAM-1]
      return;
    }
    const cb = cbs[0] ?? null;
    if (cb !== null && !JSONP_CALLBACK.test(cb)) {
      // [ROUTER-JSONP-2]
      sendError(res, 400, INVALID, "cb must match ^[A-Za-z_$][A-Za-z0-9_$.]*$");
      return;
    }
    const answer = (status: number, body: unknown) => {
      if (cb === null) {
        send(res, status, body);
        return;
      }
      // [ROUTER-JSONP-1] exactly cb + "(" + JSON + ")".
      const text = `${cb}(${JSON.stringify(body)})`;
      res.writeHead(status, {
        "Content-Type": "application/javascript; charset=utf-8",
        "Content-Length": Buffer.byteLength(text),
        "Cache-Control": "no-store",
        ...CORS_HEADERS,
      });
      res.end(text);
    };
    // Errors keep their status in JSONP form too: a browser then runs no callback and
    // jQuery rejects, where a 200 would send the legacy client back to the router in a
    // loop [ROUTER-JSONP-3].
    for (const name of ["appId", "secure"]) {
      if (params.getAll(name).length > 1) {
        answer(400, { code: INVALID, error: `${name} may be given once` }); // [ROUTER-PARAM-1]
        return;
      }
    }
    const appId = params.get("appId");
    if (appId === null) {
      answer(400, { code: INVALID, error: "the appId query parameter is required" }); // [ROUTER-APP-2]
      return;
    }
    if (!isAppId(appId)) {
      // A malformed id names no app on any server, in development mode too [ROUTER-APP-3].
      answer(400, { code: INVALID, error: `appId must be ${APP_ID_RULE}` });
      return;
    }
    if (!engine.knowsApp(appId)) {
      answer(404, { code: APP_NOT_AVAILABLE, error: `unknown app ${appId}` }); // [ROUTER-APP-1]
      return;
    }
    // [ROUTER-GET-1] [ROUTER-SECURE-1]
    const server = options.publicUrl ?? wsUrlFor(req, params.get("secure") === "1");
    // What the server supports and applies for this app, before the client connects
    // [ROUTER-INFO-1]; the legacy client reads server and ttl only (VERSION-UNKNOWN-2).
    const serverInfo = engine.serverInfo?.(appId);
    answer(200, serverInfo === undefined ? { server, ttl } : { server, ttl, serverInfo });
  }

  function logs(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    const appId = restAppIdOf(header(req, "x-avoscloud-application-id"), params);
    const masterKey = header(req, "x-avoscloud-master-key");
    options.beforeRead?.();
    const result = engine.restLogs(appId, masterKey, logsQueryOf(params), {
      now: Date.now(),
      remoteAddress: req.socket.remoteAddress,
    });
    // A web page reads these headers only when they are exposed (CORS).
    const expose = { "Access-Control-Expose-Headers": "X-Confab-More, Retry-After" };
    if (result.ok) {
      // [REST-MORE-1] The body stays the plain array a legacy caller reads [REST-OK-1].
      send(res, 200, result.items, result.more ? { ...expose, "X-Confab-More": "true" } : expose);
    } else {
      const { error, detail, retryAfterS } = result;
      // [REST-RATE-1] 429 with Retry-After when the history rate refuses the request.
      const extra: Record<string, string> = { ...expose };
      if (retryAfterS !== undefined) extra["Retry-After"] = String(retryAfterS);
      send(res, httpStatusOf(error), { code: error.code, error: detail }, extra);
    }
  }

  /**
   * The membership endpoints [REST-ROOMS-1 … REST-ROOMS-7]: the same app and key headers as
   * history; `true` when `url` is one of them (and is answered).
   */
  function membership(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
    const room = ROOM_MEMBERS_PATH.exec(url.pathname);
    const peer = room ? null : PEER_ROOMS_PATH.exec(url.pathname);
    if (!room && !peer) return false;
    const params = url.searchParams;
    // The app as history takes it, a repeated appId naming none [REST-ROOMS-1].
    const appId = restAppIdOf(header(req, "x-avoscloud-application-id"), params);
    const masterKey = header(req, "x-avoscloud-master-key");
    options.beforeRead?.();
    const result = room
      ? engine.restRoomMembers(appId, masterKey, pathSegment(room[1] as string))
      : engine.restPeerRooms(
          appId,
          masterKey,
          pathSegment((peer as RegExpExecArray)[1] as string),
          // One reading of query strings for every REST endpoint: `limit` is read like
          // history's (chapter 05), and appId is not part of the query.
          logsQueryOf(params),
        );
    if (result.ok) send(res, 200, result.body);
    else sendError(res, httpStatusOf(result.error), result.error.code, result.detail);
    return true;
  }

  /** One file of the demo folder, read at each request (it is rebuilt while the server runs). */
  function demo(req: IncomingMessage, res: ServerResponse, dir: string, path: string): void {
    const entry = DEMO_FILES[path];
    if (entry === undefined) {
      sendError(res, 404, INVALID, `no such file of the demo: ${path}`);
      return;
    }
    readFile(join(dir, entry.file)).then(
      (body) => {
        res.writeHead(200, {
          "Content-Type": entry.type,
          "Content-Length": body.length,
          "Cache-Control": "no-cache",
          "X-Content-Type-Options": "nosniff",
          "Referrer-Policy": "no-referrer",
          ...(entry.type === HTML && { "Content-Security-Policy": DEMO_CSP }),
        });
        res.end(req.method === "HEAD" ? undefined : body);
      },
      (err: unknown) => {
        const missing = (err as { code?: unknown }).code === "ENOENT";
        if (!missing) logger.log("error", "demo_read_failed", { path, ...errorFields(err) });
        // The bundle is built by `npm start` (reference-client/demo/build.mjs); say so.
        sendError(
          res,
          missing ? 404 : 500,
          missing ? INVALID : INTERNAL_ERROR,
          missing
            ? `${entry.file} is missing from the demo folder: run node reference-client/demo/build.mjs`
            : "internal error",
        );
      },
    );
  }

  return (req, res) => {
    try {
      const method = req.method ?? "GET";
      const url = requestUrl(req.url);
      if (url === undefined) {
        // A target that is no URL is the client's mistake, never the server's (`//[`).
        sendError(res, 400, INVALID, "the request target is not a valid path");
        return;
      }
      if (method === "OPTIONS") {
        res.writeHead(204, {
          ...CORS_HEADERS,
          "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
          "Access-Control-Allow-Headers":
            "Content-Type, X-AVOSCloud-Application-Id, X-AVOSCloud-Master-Key",
          "Access-Control-Max-Age": "86400",
        });
        res.end();
        return;
      }
      if (method !== "GET" && method !== "HEAD") {
        send(
          res,
          405,
          { code: INVALID, error: `method ${method} not allowed` },
          {
            Allow: "GET, HEAD, OPTIONS",
          },
        );
        return;
      }
      switch (url.pathname) {
        case "/v1/route":
          route(req, res, url.searchParams);
          break;
        case "/1.1/rtm/messages/logs":
          logs(req, res, url.searchParams);
          options.afterRequest?.();
          break;
        case "/healthz": {
          const { connections, sessions } = engine.stats();
          send(res, 200, { status: "ok", connections, sessions });
          break;
        }
        default:
          if (options.demoDir !== undefined && isDemoPath(url.pathname)) {
            demo(req, res, options.demoDir, url.pathname);
          } else if (membership(req, res, url)) options.afterRequest?.();
          else sendError(res, 404, INVALID, `no such endpoint: ${url.pathname}`);
      }
    } catch (err) {
      logger.log("error", "http_error", { method: req.method, url: req.url, ...errorFields(err) });
      if (!res.headersSent) sendError(res, 500, INTERNAL_ERROR, "internal error");
      else res.destroy();
    }
  };
}
