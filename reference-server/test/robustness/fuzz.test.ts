// Arbitrary frames over a real socket never crash the server, never get an unspecified
// answer, and never disturb a fresh connection (issue 3, "Bad input"; ERROR-ORDER-1).
import { validate } from "@confab/protocol";
import { connect } from "@confab/test-support";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startServer } from "../../src/server.js";

/**
 * Close codes a server may use for bad input: the framing codes, and any command code,
 * since a failed `session/open` without `i` closes with its code (SESSION-OPEN-4).
 */
const SPEC_CLOSE_CODES = new Set([1007, 1009, 4100, 4102, 4103, 4105, 4109, 4114, 4116, 4120]);

interface Outcome {
  frames: unknown[];
  close: { code: number } | undefined;
}

/** Sends the frames on one connection and collects what comes back until quiet or closed. */
async function session(url: string, frames: (string | Buffer)[]): Promise<Outcome> {
  const client = await connect<unknown>(url);
  for (const f of frames) {
    if (!client.isOpen) break;
    if (Buffer.isBuffer(f)) client.sendBinary(f);
    else client.sendText(f);
  }
  await client.quiet(150);
  // Read before disconnecting: our own terminate would show up as a close.
  const close = client.closeInfo;
  await client.disconnect();
  if (client.malformed.length > 0) throw new Error("server sent a binary or non-JSON frame");
  return { frames: client.received, close: close && { code: close.code } };
}

/** A fresh connection opens a session, sends itself nothing and gets the keepalive back. */
async function healthy(url: string, peer: string): Promise<void> {
  const r = await session(url, [
    JSON.stringify({ cmd: "session", op: "open", appId: "fuzz", peerId: peer, i: 1 }),
    JSON.stringify({
      cmd: "session",
      op: "query",
      appId: "fuzz",
      peerId: peer,
      i: 2,
      sessionPeerIds: [peer],
    }),
    "{}",
  ]);
  expect(r.close).toBeUndefined();
  expect(r.frames).toEqual([
    {
      cmd: "session",
      op: "opened",
      peerId: peer,
      i: 1,
      onlineSessionPeerIds: [],
      serverInfo: expect.anything(), // [SESSION-INFO-1]
    },
    { cmd: "session", op: "query-result", peerId: peer, i: 2, onlineSessionPeerIds: [peer] },
    {},
  ]);
}

const cmdNames = ["session", "direct", "ack", "room", "logs", "error", "presence", "", "__proto__"];
const opNames = ["open", "add", "remove", "query", "close", "join", "invite", "kick", "leave", "x"];

/** Frames near the valid ones: right cmd/op, fields of any type. */
const nearValid = fc
  .record(
    {
      cmd: fc.constantFrom(...cmdNames),
      op: fc.constantFrom(...opNames),
      appId: fc.oneof(fc.constant("fuzz"), fc.string(), fc.integer()),
      peerId: fc.oneof(fc.constantFrom("p1", "p2"), fc.string(), fc.constant(""), fc.jsonValue()),
      i: fc.oneof(fc.integer({ min: -5, max: 70000 }), fc.double(), fc.string()),
      sessionPeerIds: fc.oneof(fc.array(fc.string()), fc.jsonValue()),
      toPeerIds: fc.oneof(fc.array(fc.constantFrom("p1", "p2", "")), fc.jsonValue()),
      roomId: fc.oneof(fc.string(), fc.jsonValue()),
      msg: fc.oneof(
        fc.string(),
        fc.string({ unit: "binary", minLength: 2000, maxLength: 3000 }),
        fc.jsonValue(),
      ),
      ids: fc.oneof(fc.array(fc.string()), fc.jsonValue()),
      transient: fc.jsonValue(),
      s: fc.string(),
      t: fc.jsonValue(),
      n: fc.string(),
    },
    { requiredKeys: ["cmd"] },
  )
  .map((f) => JSON.stringify(f));

const anyFrame = fc.oneof(
  nearValid,
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ unit: "binary" }),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.constant("{".repeat(5000)),
  fc.constant(JSON.stringify({ cmd: "direct", msg: "x".repeat(70_000) })),
  fc.constant('{"cmd":"session","op":"open","appId":"fuzz","peerId":"\\ud800"}'),
);

describe("fuzzing over a real socket", () => {
  let server: RunningServer;

  beforeAll(async () => {
    // No flood limit here: the fuzzer would trip it and hide everything else.
    server = await startServer({
      host: "127.0.0.1",
      port: 0,
      db: ":memory:",
      rateLimit: { perSecond: 0, burst: 0 },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it("[ERROR-ORDER-1, FRAME-JSON-1, FRAME-JSON-2, FRAME-BINARY-2, FRAME-SIZE-1] answers arbitrary frames only with valid s2c frames or a spec'd close, and stays healthy", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(anyFrame, { minLength: 1, maxLength: 8 }), async (frames) => {
        run++;
        const r = await session(server.wsUrl, frames);
        for (const f of r.frames) {
          const v = validate("s2c", f);
          expect(v.ok ? [] : v.errors, JSON.stringify(f)).toEqual([]);
        }
        if (r.close) expect(SPEC_CLOSE_CODES, `close ${r.close.code}`).toContain(r.close.code);
        await healthy(server.wsUrl, `fresh${run}`);
      }),
      { numRuns: 60 },
    );
    const res = await fetch(`${server.url}/healthz`);
    expect(res.status).toBe(200);
  }, 60_000);
});
