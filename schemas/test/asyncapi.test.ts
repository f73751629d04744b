// The AsyncAPI document is fresh, passes @asyncapi/parser without a single diagnostic, and
// lists every message of the registry, every HTTP endpoint and every error code (issue 12).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Parser } from "@asyncapi/parser";
import {
  ASYNCAPI_MAX_UTF8_KEYWORD,
  ASYNCAPI_VERSION,
  asyncApiMessageKey,
  ERROR_CODE_KEYWORD,
  ERRORS,
  fileName,
  HTTP_SCHEMAS,
  parseErrorTable,
  REGISTRY,
  renderAsyncApi,
} from "@confab/protocol";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";

type Json = Record<string, unknown>;

const root = join(import.meta.dirname, "../..");
const text = readFileSync(join(root, "schemas/asyncapi.json"), "utf8");
const doc = JSON.parse(text) as {
  asyncapi: string;
  channels: Record<string, Json & { address: string | null; messages: Record<string, Json> }>;
  operations: Record<
    string,
    Json & { action: string; channel: { $ref: string }; reply?: { messages: { $ref: string }[] } }
  >;
  components: { messages: Record<string, Json & { payload?: Json }> };
};
const messages = doc.components.messages;

/** Diagnostics of every severity (error 0, warning 1, info 2, hint 3), as code and path. */
async function diagnosticsOf(document: string): Promise<string[]> {
  const { diagnostics } = await new Parser().parse(document);
  return diagnostics.map((d) => `${d.severity} ${d.code} ${d.path.join("/")}: ${d.message}`);
}

describe("AsyncAPI document (schemas/asyncapi.json)", () => {
  it("matches what the registry generates (run `npm run gen` if not)", () => {
    expect(text).toBe(renderAsyncApi());
  });

  it("parses with @asyncapi/parser with no diagnostic of any severity", async () => {
    expect(doc.asyncapi).toBe(ASYNCAPI_VERSION);
    expect(await diagnosticsOf(text)).toEqual([]);
  }, 60_000);

  it("is a valid AsyncAPI 3.0.0 document too: declared 3.0.0, it gets only the parser's advice to use the latest version", async () => {
    // The document uses nothing of 3.1, so a tool that reads only 3.0.0 can take it with
    // the version changed; the one diagnostic is the info that 3.0.0 is not the latest.
    const as300 = JSON.stringify({ ...doc, asyncapi: "3.0.0" });
    const found = await diagnosticsOf(as300);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^2 asyncapi-latest-version asyncapi: /);
  }, 60_000);

  it("lists every registry message, on the WebSocket channel, with its JSON Schema as payload", () => {
    const ws = doc.channels.websocket;
    expect(ws?.address).toBe("/");
    const expected = REGISTRY.map((e) => asyncApiMessageKey(e.direction, e.name));
    expect(Object.keys(ws?.messages ?? {})).toEqual(expected);
    for (const e of REGISTRY) {
      const key = asyncApiMessageKey(e.direction, e.name);
      const file = JSON.parse(
        readFileSync(join(root, "schemas/json", e.direction, `${fileName(e.name)}.json`), "utf8"),
      ) as Json;
      const { $schema: _s, $id, ...schema } = file;
      const m = messages[key];
      expect(m?.["x-confab-schema"], key).toMatchObject({ $id });
      // The payload is the committed JSON Schema, keyword renamed (ASYNCAPI_MAX_UTF8_KEYWORD).
      const renamed = JSON.stringify(schema).replaceAll(
        '"maxUtf8Bytes"',
        JSON.stringify(ASYNCAPI_MAX_UTF8_KEYWORD),
      );
      expect(m?.payload, key).toEqual(JSON.parse(renamed));
    }
    expect(text).not.toContain('"maxUtf8Bytes"');
  });

  it("decides every fixture as the JSON Schema files do, with the renamed keyword taught to ajv", () => {
    const ajv = new Ajv({ allErrors: true });
    ajv.addKeyword({
      keyword: ASYNCAPI_MAX_UTF8_KEYWORD,
      type: "string",
      schemaType: "number",
      validate: (max: number, s: string) => new TextEncoder().encode(s).length <= max,
    });
    ajv.addKeyword({ keyword: ERROR_CODE_KEYWORD, schemaType: "object" });
    for (const e of REGISTRY) {
      const validate = ajv.compile(
        messages[asyncApiMessageKey(e.direction, e.name)]?.payload ?? {},
      );
      const dir = join(root, "schemas/fixtures", e.direction, fileName(e.name));
      for (const f of readdirSync(dir)) {
        const fx = JSON.parse(readFileSync(join(dir, f), "utf8")) as {
          valid: boolean;
          frame: unknown;
        };
        expect(validate(fx.frame), `${e.direction} ${e.name} ${f}`).toBe(fx.valid);
      }
    }
  });

  it("sends every c2s message and receives every s2c one; each command's reply is its registry reply or an error", () => {
    for (const e of REGISTRY) {
      const key = asyncApiMessageKey(e.direction, e.name);
      const op = doc.operations[key];
      expect(op?.action, key).toBe(e.direction === "c2s" ? "send" : "receive");
      expect(op?.channel.$ref).toBe("#/channels/websocket");
      expect(op?.messages).toEqual([{ $ref: `#/channels/websocket/messages/${key}` }]);
      const replies = op?.reply?.messages.map((r) => r.$ref.split("/").at(-1));
      if (e.direction === "s2c") expect(replies, key).toBeUndefined();
      else if (e.name === "keepalive") expect(replies).toEqual(["s2c-keepalive"]);
      else {
        const success = e.reply ? [asyncApiMessageKey("s2c", e.reply.name)] : [];
        expect(replies, key).toEqual([...success, "s2c-error"]);
      }
    }
  });

  it("has a channel and a send operation with a reply for the router, REST history and the group REST endpoints", () => {
    const addresses = Object.values(doc.channels).map((c) => c.address);
    for (const path of [
      "/v1/route",
      "/1.1/rtm/messages/logs",
      "/1.1/rtm/rooms/{roomId}/members",
      "/1.1/rtm/peers/{peerId}/rooms",
    ]) {
      const [key] = Object.entries(doc.channels).find(([, c]) => c.address === path) ?? [];
      expect(key, path).toBeDefined();
      const op = doc.operations[key as string];
      expect(op?.action).toBe("send");
      expect(op?.bindings).toMatchObject({ http: { method: "GET" } });
      expect(op?.reply?.messages.at(-1)?.$ref).toBe(`#/channels/${key}/messages/http-error`);
    }
    expect(addresses).toContain(null); // the push hook, at the URL each app configures
    // Every HTTP schema is some message's payload or some request's query.
    const queries = Object.values(doc.operations).map(
      (o) => (o.bindings as { http?: { query?: Json } } | undefined)?.http?.query?.title,
    );
    const titles = [...Object.values(messages).map((m) => m.payload?.title), ...queries];
    for (const name of Object.keys(HTTP_SCHEMAS)) expect(titles).toContain(`http ${name}`);
  });

  it("lists every error code of the registry and of Table 7, in each form, on the error message", () => {
    const listed = messages["s2c-error"]?.["x-confab-errors"] as {
      key: string;
      code: number;
      name: string;
      form: string;
      requirements: string[];
    }[];
    expect(listed.map((x) => x.key)).toEqual(Object.keys(ERRORS));
    for (const x of listed) {
      const spec = ERRORS[x.key as keyof typeof ERRORS];
      expect(x).toMatchObject({
        code: spec.code,
        name: spec.name,
        form: spec.delivery,
        requirements: spec.requirements,
      });
    }
    // Every code Table 7 gives, with its name (its forms are the registry's, checked
    // against the table by the protocol-facts test).
    const table = parseErrorTable(readFileSync(join(root, "spec/08-errors.md"), "utf8"));
    const codes = new Map(listed.map((x) => [x.code, x.name]));
    for (const row of table.values()) expect(codes.get(row.code), String(row.code)).toBe(row.name);
  });
});
