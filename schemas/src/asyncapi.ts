/**
 * Renders the protocol as an AsyncAPI 3 document (`schemas/asyncapi.json`), so that Confab
 * shows in the AsyncAPI viewers and generators people already use (issue 12). Like the JSON
 * Schema files it is derived from the registry, the HTTP schemas and the error registry, so
 * it cannot drift from them; `npm run check:schemas` fails when the committed copy is stale.
 *
 * Point of view: the document describes a Confab **client**, any program that talks to a
 * Confab server: an IM client on the WebSocket, an app's back end on the REST endpoints and
 * the push hook. So `send` operations are client→server (`c2s` commands, HTTP requests) and
 * `receive` operations are server→client (`s2c` frames, push notices). That is the side the
 * generators build (a client SDK), and each command's `reply` then reads as the answer the
 * client awaits.
 * @module
 */
import { ERRORS } from "./errors.js";
import { APP_ID_PATTERN, ERROR_CODE_KEYWORD, MAX_ID_LENGTH, SPEC_REVISION } from "./primitives.js";
import { type Direction, fileName, HTTP_SCHEMAS, type MessageEntry, REGISTRY } from "./registry.js";
import { ID_BASE, registryRecord } from "./render.js";

/**
 * The AsyncAPI version the document declares. 3.1.0 rather than 3.0.0 because
 * `@asyncapi/parser` reports an `asyncapi-latest-version` diagnostic for any other version;
 * the document uses nothing 3.1 added, so it is also a valid 3.0.0 document (the AsyncAPI
 * test checks both).
 */
export const ASYNCAPI_VERSION = "3.1.0";

/**
 * The name `maxUtf8Bytes` takes in the AsyncAPI copy of the schemas. An AsyncAPI Schema
 * Object is JSON Schema draft-07 plus `x-` extensions; a keyword that is neither is
 * undefined there, and AsyncAPI tooling (viewers, Modelina, the parser's schema checks)
 * would treat it as an unknown JSON Schema keyword, whereas an `x-` field is by definition
 * an extension that a tool may ignore or show. The JSON Schema files keep the bare name,
 * which draft-07 validators are told about (docs/messages.md).
 */
export const ASYNCAPI_MAX_UTF8_KEYWORD = "x-confab-maxUtf8Bytes";

/** A JSON object: what {@link asyncApiDocument} returns, and each of its nodes. */
export type Json = Record<string, unknown>;

const SCHEMA_MAPS = new Set(["properties", "patternProperties", "definitions"]);
const SCHEMA_LISTS = new Set(["anyOf", "oneOf", "allOf"]);
const SCHEMA_VALUES = new Set([
  "not",
  "additionalProperties",
  "additionalItems",
  "contains",
  "propertyNames",
  "if",
  "then",
  "else",
]);

/**
 * A JSON Schema node as the AsyncAPI copy holds it: `maxUtf8Bytes` renamed to
 * {@link ASYNCAPI_MAX_UTF8_KEYWORD}, in the node and in its `x-confab-error` annotation
 * (whose keys name the node's keywords). It walks keywords only, never property names, so a
 * field that happened to be called `maxUtf8Bytes` would keep its name.
 */
function asyncApiSchema(node: unknown): unknown {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === "maxUtf8Bytes") out[ASYNCAPI_MAX_UTF8_KEYWORD] = v;
    else if (k === ERROR_CODE_KEYWORD)
      out[k] = Object.fromEntries(
        Object.entries(v as Json).map(([rule, code]) => [
          rule === "maxUtf8Bytes" ? ASYNCAPI_MAX_UTF8_KEYWORD : rule,
          code,
        ]),
      );
    else if (SCHEMA_MAPS.has(k))
      out[k] = Object.fromEntries(
        Object.entries(v as Json).map(([name, s]) => [name, asyncApiSchema(s)]),
      );
    else if (SCHEMA_LISTS.has(k)) out[k] = (v as unknown[]).map(asyncApiSchema);
    else if (SCHEMA_VALUES.has(k)) out[k] = asyncApiSchema(v);
    else if (k === "items") out[k] = Array.isArray(v) ? v.map(asyncApiSchema) : asyncApiSchema(v);
    else if (k === "dependencies")
      // A dependency is a list of names or a schema.
      out[k] = Object.fromEntries(
        Object.entries(v as Json).map(([name, d]) => [
          name,
          Array.isArray(d) ? d : asyncApiSchema(d),
        ]),
      );
    else out[k] = v;
  }
  return out;
}

/**
 * The payload of a message: its JSON Schema as `schemas/json` holds it, without `$schema`
 * (the payload is an AsyncAPI Schema Object) and `$id` (named in `x-confab-schema`
 * instead, so that generators name models by `title`, not by a URN), and with
 * {@link ASYNCAPI_MAX_UTF8_KEYWORD}.
 */
function payload(title: string, schema: unknown): Json {
  // JSON round trip: TypeBox's symbol-keyed metadata vanishes, as in the JSON Schema files.
  const plain = JSON.parse(JSON.stringify(schema)) as Json;
  return { title, ...(asyncApiSchema(plain) as Json) };
}

/** The key of a registry message in `components.messages` and in the channel: `c2s-session-open`. */
export function asyncApiMessageKey(direction: Direction, name: string): string {
  return `${direction}-${fileName(name)}`;
}

const WS = "websocket";
const ref = (pointer: string) => ({ $ref: pointer });
const wsMessage = (d: Direction, name: string) =>
  ref(`#/channels/${WS}/messages/${asyncApiMessageKey(d, name)}`);

/** Whether a frame's schema defines `i`, the serial that pairs a command with its reply. */
const hasSerial = (schema: unknown) =>
  Object.hasOwn((schema as { properties?: Json }).properties ?? {}, "i");

function registryMessage(e: MessageEntry): Json {
  const key = asyncApiMessageKey(e.direction, e.name);
  const title = `${e.direction} ${e.name}`;
  const body = payload(title, e.schema);
  const description = String(body.description ?? "");
  const message: Json = {
    name: key,
    title,
    description,
    payload: body,
    ...(hasSerial(e.schema) ? { correlationId: ref("#/components/correlationIds/serial") } : {}),
    tags: [ref(`#/components/tags/${e.direction}`)],
    // The registry's own facts about the message, as registry.json gives them.
    "x-confab-registry": registryRecord(e),
    "x-confab-schema": {
      $id: `${ID_BASE}:${e.direction}:${e.name}`,
      file: `schemas/json/${e.direction}/${fileName(e.name)}.json`,
    },
  };
  if (e.direction === "s2c" && e.name === "error") {
    // Table 7: every code in every form. Close codes are no message of their own (a
    // WebSocket close carries them), so they are listed here, beside the error frame.
    message["x-confab-errors"] = Object.entries(ERRORS).map(([name, s]) => ({
      key: name,
      code: s.code,
      name: s.name,
      form: s.delivery,
      survives: s.survives,
      requirements: s.requirements,
    }));
  }
  return message;
}

function httpMessage(name: string, extra: Json = {}): Json {
  const schema = HTTP_SCHEMAS[name];
  const title = `http ${name}`;
  const body = payload(title, schema);
  const description = String(body.description ?? "");
  return {
    name: `http-${name}`,
    title,
    description,
    payload: body,
    tags: [ref("#/components/tags/http")],
    ...extra,
    "x-confab-schema": { $id: `${ID_BASE}:http:${name}`, file: `schemas/json/http/${name}.json` },
  };
}

/** The HTTP binding version the document uses (method, query, status code, headers). */
const HTTP_BINDING = "0.3.0";
const httpStatus = (statusCode: number) => ({
  bindings: { http: { statusCode, bindingVersion: HTTP_BINDING } },
});

/**
 * Headers of a REST request: the app and its master key [REST-APP-1, REST-AUTH-1,
 * REST-ROOMS-1, REST-ROOMS-2]. Spec facts that no schema holds (they are not frames), so
 * they are written here, citing the requirements.
 */
const REST_HEADERS: Json = {
  type: "object",
  properties: {
    "X-AVOSCloud-Application-Id": {
      type: "string",
      description:
        "The app (REST-APP-1); without it, the appId query parameter names the app. Neither: HTTP 404, code 4100 (REST-APP-2).",
    },
    "X-AVOSCloud-Master-Key": {
      type: "string",
      description:
        "The app's master key, required when the app has one: else HTTP 401, code 4102 (REST-AUTH-1, REST-ROOMS-2).",
    },
  },
};

/**
 * The router's query string [ROUTER-GET-1, ROUTER-SECURE-1, ROUTER-JSONP-1]. Its answers
 * have schemas; its query has none in the registry, because no frame carries it.
 */
const ROUTE_QUERY: Json = {
  type: "object",
  required: ["appId"],
  properties: {
    appId: {
      type: "string",
      minLength: 1,
      maxLength: MAX_ID_LENGTH,
      pattern: APP_ID_PATTERN,
      description:
        "The app. Missing, malformed or repeated: HTTP 400, code 4114 (ROUTER-APP-2, ROUTER-APP-3, ROUTER-PARAM-1); unknown: HTTP 404, code 4100 (ROUTER-APP-1).",
    },
    secure: { type: "string", const: "1", description: "Ask for a wss:// URL (ROUTER-SECURE-1)." },
    cb: {
      type: "string",
      pattern: "^[A-Za-z_$][A-Za-z0-9_$.]*$",
      description:
        "JSONP callback: the answer becomes `cb(json)`, as application/javascript (ROUTER-JSONP-1 to ROUTER-JSONP-3).",
    },
  },
};

/** One HTTP endpoint: its channel, its request and answers, and the operation that calls it. */
interface Endpoint {
  readonly key: string;
  readonly method: "GET" | "POST";
  readonly address: string | null;
  readonly description: string;
  readonly parameters?: Json;
  readonly query?: Json;
  readonly request: Json;
  readonly answers: Record<string, Json>;
}

const ENDPOINTS: readonly Endpoint[] = [
  {
    key: "route",
    method: "GET",
    address: "/v1/route",
    description:
      "The router (spec 01, 1.1): where to open the WebSocket. Errors are JSON `{code, error}` with HTTP 400 or 404; every answer carries `Access-Control-Allow-Origin: *` (ROUTER-CORS-1).",
    query: ROUTE_QUERY,
    request: {
      name: "http-route-request",
      title: "http route request",
      summary: "GET /v1/route?appId=…",
    },
    answers: {
      "http-route-response": httpMessage("route-response", httpStatus(200)),
    },
  },
  {
    key: "restLogs",
    method: "GET",
    address: "/1.1/rtm/messages/logs",
    description:
      "REST history for an app's back end (spec 05, 5.5). Errors: HTTP 404 (4100), 401 (4102), 400 (4114), 429 with Retry-After (4120), checked in that order (REST-ORDER-1).",
    query: payload("http logs-query", HTTP_SCHEMAS["logs-query"]),
    request: {
      name: "http-logs-request",
      title: "http logs request",
      summary: "GET /1.1/rtm/messages/logs",
      headers: REST_HEADERS,
    },
    answers: {
      "http-logs-response": httpMessage("logs-response", {
        headers: {
          type: "object",
          properties: {
            "X-Confab-More": {
              type: "string",
              const: "true",
              description:
                "Sent if and only if the page's byte bound ended it (REST-MORE-1, LOGS-BYTES-1).",
            },
          },
        },
        ...httpStatus(200),
      }),
    },
  },
  {
    key: "restRoomMembers",
    method: "GET",
    address: "/1.1/rtm/rooms/{roomId}/members",
    description:
      "The members of a group, for an app's back end (spec 04, 4.7). Errors: HTTP 404 (4100 unknown app, 4404 unknown group), 401 (4102), 400 (4114), checked in the order of REST-ROOMS-4.",
    parameters: {
      roomId: { description: "The group id, one percent-encoded path segment (REST-ROOMS-3)." },
    },
    request: {
      name: "http-room-members-request",
      title: "http room-members request",
      summary: "GET /1.1/rtm/rooms/{roomId}/members",
      headers: REST_HEADERS,
    },
    answers: {
      "http-room-members-response": httpMessage("room-members-response", httpStatus(200)),
    },
  },
  {
    key: "restPeerRooms",
    method: "GET",
    address: "/1.1/rtm/peers/{peerId}/rooms",
    description:
      "One page of the groups of a peer, for an app's back end (spec 04, 4.7). Errors: HTTP 404 (4100), 401 (4102), 400 (4114), checked in the order of REST-ROOMS-4.",
    parameters: {
      peerId: { description: "The peer id, one percent-encoded path segment (REST-ROOMS-3)." },
    },
    query: payload("http peer-rooms-query", HTTP_SCHEMAS["peer-rooms-query"]),
    request: {
      name: "http-peer-rooms-request",
      title: "http peer-rooms request",
      summary: "GET /1.1/rtm/peers/{peerId}/rooms",
      headers: REST_HEADERS,
    },
    answers: {
      "http-peer-rooms-response": httpMessage("peer-rooms-response", httpStatus(200)),
    },
  },
];

/**
 * The protocol as an AsyncAPI 3 document: one WebSocket channel (address `/`) carrying
 * every registry message, a channel per HTTP endpoint (the router, REST history, the two
 * group REST endpoints) and the push hook; a `send` operation per client command and HTTP
 * request, with its `reply`, and a `receive` operation per server frame and for the push
 * notice; the error codes of Table 7 as `x-confab-errors` on the `s2c-error` message.
 * Pure: it reads the registry and nothing else.
 */
export function asyncApiDocument(): Json {
  const messages: Json = {};
  const wsMessages: Json = {};
  const operations: Json = {};
  const channels: Json = {};

  for (const e of REGISTRY) {
    const key = asyncApiMessageKey(e.direction, e.name);
    messages[key] = registryMessage(e);
    wsMessages[key] = ref(`#/components/messages/${key}`);
  }
  channels[WS] = {
    address: "/",
    title: "Confab WebSocket",
    description:
      "One WebSocket connection per client, at the URL the router returns (FRAME-WS-1); each protocol message is one JSON object in one text message (FRAME-TEXT-1). Failures the connection does not survive are close codes, listed with the error frames in `x-confab-errors` of the s2c-error message.",
    servers: [ref("#/servers/websocket")],
    messages: wsMessages,
    bindings: { ws: { method: "GET", bindingVersion: "0.1.0" } },
  };

  for (const e of REGISTRY) {
    const key = asyncApiMessageKey(e.direction, e.name);
    const operation: Json = {
      action: e.direction === "c2s" ? "send" : "receive",
      channel: ref(`#/channels/${WS}`),
      title: e.direction === "c2s" ? `Send ${e.name}` : `Receive ${e.name}`,
      description: (messages[key] as Json).description,
      messages: [wsMessage(e.direction, e.name)],
      tags: [ref(`#/components/tags/${e.direction}`)],
    };
    if (e.direction === "c2s") {
      // A command may fail instead, with an error frame that echoes its i (SERIAL-REPLY-1):
      // the other answer a client must expect. A client ack gets that error only, never a
      // success reply (SERIAL-ACK-1, SERIAL-ACK-3); every keepalive gets `{}`
      // (KEEPALIVE-DEF-1, KEEPALIVE-REPLY-1).
      const success = e.reply ? [e.reply.name] : [];
      const answers = [...success, ...(e.name === "keepalive" ? [] : ["error"])];
      operation.reply = {
        channel: ref(`#/channels/${WS}`),
        messages: answers.map((n) => wsMessage("s2c", n)),
      };
      // Whether the reply also comes to a command without i (decision D1, Table 1 of spec 01).
      operation["x-confab-reply"] = e.reply ?? null;
    }
    operations[key] = operation;
  }

  for (const p of ENDPOINTS) {
    const requestKey = p.request.name as string;
    const channelMessages: Json = { [requestKey]: ref(`#/components/messages/${requestKey}`) };
    messages[requestKey] = { ...p.request, tags: [ref("#/components/tags/http")] };
    for (const [k, m] of Object.entries(p.answers)) {
      messages[k] = m;
      channelMessages[k] = ref(`#/components/messages/${k}`);
    }
    channelMessages["http-error"] = ref("#/components/messages/http-error");
    channels[p.key] = {
      address: p.address,
      description: p.description,
      servers: [ref("#/servers/http")],
      ...(p.parameters ? { parameters: p.parameters } : {}),
      messages: channelMessages,
    };
    const toChannel = (k: string) => ref(`#/channels/${p.key}/messages/${k}`);
    operations[p.key] = {
      action: "send",
      channel: ref(`#/channels/${p.key}`),
      title: `${p.method} ${p.address}`,
      messages: [toChannel(requestKey)],
      bindings: {
        http: {
          method: p.method,
          ...(p.query ? { query: p.query } : {}),
          bindingVersion: HTTP_BINDING,
        },
      },
      reply: {
        channel: ref(`#/channels/${p.key}`),
        messages: [...Object.keys(p.answers), "http-error"].map(toChannel),
      },
      tags: [ref("#/components/tags/http")],
    };
  }
  messages["http-error"] = httpMessage("error");

  // The push hook: the server POSTs a notice to a URL the app configures (OFFLINE-PUSH-1),
  // so its address is unknown here (null, as AsyncAPI 3 allows).
  messages["http-push-notice"] = httpMessage("push-notice");
  channels.pushHook = {
    address: null,
    description:
      "The app's push hook: the server POSTs one notice per message stored for offline peers, to the URL configured for the app (spec 03, OFFLINE-PUSH-1 to OFFLINE-PUSH-12).",
    messages: { "http-push-notice": ref("#/components/messages/http-push-notice") },
  };
  operations.pushHook = {
    action: "receive",
    channel: ref("#/channels/pushHook"),
    title: "Receive a push notice (the app's back end)",
    messages: [ref("#/channels/pushHook/messages/http-push-notice")],
    bindings: { http: { method: "POST", bindingVersion: HTTP_BINDING } },
    tags: [ref("#/components/tags/http")],
  };

  const host = {
    description:
      "Where the Confab server listens. The router's answer names the WebSocket URL (ROUTER-GET-1); `npm start` runs the reference server on 127.0.0.1:8080.",
    examples: ["127.0.0.1:8080"],
  };
  return {
    asyncapi: ASYNCAPI_VERSION,
    id: ID_BASE,
    info: {
      title: "Confab",
      version: SPEC_REVISION,
      description:
        "Confab, a realtime instant-messaging protocol: JSON frames over WebSocket, plus a router and REST endpoints over HTTP. Generated from the protocol package's registry by `npm run gen`; the normative text is `spec/`, the message reference `docs/messages.md`. The document describes a client: `send` operations are client→server, `receive` operations server→client. `info.version` is the spec revision.",
      license: { name: "MIT", url: "https://opensource.org/licenses/MIT" },
    },
    defaultContentType: "application/json",
    servers: {
      websocket: {
        host: "{host}",
        protocol: "ws",
        description: "The WebSocket endpoint (wss when the router is asked for secure=1).",
        variables: { host },
      },
      http: {
        host: "{host}",
        protocol: "http",
        description: "The router and the REST endpoints, on the same host and port.",
        variables: { host },
      },
    },
    channels,
    operations,
    components: {
      messages,
      correlationIds: {
        serial: {
          description:
            "The command serial i: a command that carries it gets exactly one reply echoing it, success or error (SERIAL-REPLY-1), and no other frame carries it (SERIAL-ECHO-1).",
          location: "$message.payload#/i",
        },
      },
      tags: {
        c2s: { name: "c2s", description: "Client to server." },
        s2c: { name: "s2c", description: "Server to client." },
        http: { name: "http", description: "HTTP: the router, REST and the push hook." },
      },
    },
  };
}

/**
 * JSON text in the layout the repository's formatter (Biome) gives JSON: objects one member
 * a line, arrays of scalars on one line when they fit in 100 columns. `schemas/asyncapi.json`
 * sits where `biome check` reads it, so the generator writes what Biome would, and the
 * drift check and the lint agree.
 */
function formatJson(value: unknown, indent = "", prefix = "", suffix = ""): string {
  const line = (s: string) => `${indent}${prefix}${s}${suffix}`;
  if (Array.isArray(value)) {
    if (value.length === 0) return line("[]");
    if (value.every((v) => typeof v !== "object" || v === null)) {
      const flat = line(`[${value.map((v) => JSON.stringify(v)).join(", ")}]`);
      if (flat.length <= 100) return flat;
    }
    const inner = value.map((v, k) =>
      formatJson(v, `${indent}  `, "", k < value.length - 1 ? "," : ""),
    );
    return [`${indent}${prefix}[`, ...inner, `${indent}]${suffix}`].join("\n");
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value);
    if (entries.length === 0) return line("{}");
    const inner = entries.map(([k, v], n) =>
      formatJson(v, `${indent}  `, `${JSON.stringify(k)}: `, n < entries.length - 1 ? "," : ""),
    );
    return [`${indent}${prefix}{`, ...inner, `${indent}}${suffix}`].join("\n");
  }
  return line(JSON.stringify(value));
}

/** `schemas/asyncapi.json`: {@link asyncApiDocument} as JSON text. */
export function renderAsyncApi(): string {
  return `${formatJson(asyncApiDocument())}\n`;
}
