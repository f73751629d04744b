/**
 * CommandContext.sendToPeers: the text it serialises once per body must be, for every
 * session, exactly the serialisation of the frame it emits [FRAME-PEERID-1] (issue 11).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { AppConfig } from "../../src/core/config.js";
import { CommandContext, type EngineServices } from "../../src/core/context.js";
import type { AppState, ConnectionState, Session } from "../../src/core/state.js";
import type { Output } from "../../src/core/types.js";

/** A context whose app has the given sessions per peer, recording what it emits. */
function contextWith(sessions: Record<string, Session[]>) {
  const outputs: Output[] = [];
  const services = { emit: (o: Output) => outputs.push(o) } as unknown as EngineServices;
  const app = { sessionsOf: (p: string) => sessions[p] ?? [] } as unknown as AppState;
  const conn = { id: 1 } as unknown as ConnectionState;
  const appConfig = { appId: "a", enforceSignatures: false } as AppConfig;
  const ctx = new CommandContext(services, conn, appConfig, app, "sender", undefined, 0);
  return { ctx, outputs };
}

/** The `peerId` of an emitted frame. */
const peerOf = (frame: object) => (frame as { peerId?: string }).peerId;

const session = (conn: number, peerId: string) => ({ conn, peerId }) as unknown as Session;

/** Every `send` output's text, when it has one, is its frame's serialisation. */
function expectTextsMatch(outputs: Output[]): void {
  for (const o of outputs) {
    if (o.type !== "send") continue;
    expect(o.frame).toMatchObject({ peerId: expect.any(String) });
    if (o.text !== undefined) expect(o.text).toBe(JSON.stringify(o.frame));
  }
}

describe("CommandContext.sendToPeers [FRAME-PEERID-1]", () => {
  it("sends each session of each peer the body with its own peerId, serialised as the frame", () => {
    const { ctx, outputs } = contextWith({
      bob: [session(2, "bob"), session(3, "bob")],
      carol: [session(4, "carol")],
    });
    ctx.sendToPeers(["bob", "carol", "nobody"], { cmd: "direct", id: "m1", msg: "hi" } as never);
    expect(outputs.map((o) => (o.type === "send" ? [o.conn, peerOf(o.frame)] : []))).toEqual([
      [2, "bob"],
      [3, "bob"],
      [4, "carol"],
    ]);
    expect(outputs.every((o) => o.type === "send" && o.text !== undefined)).toBe(true);
    expectTextsMatch(outputs);
  });

  it("serialises an empty body and a body that names a peerId of its own exactly as the frame", () => {
    const { ctx, outputs } = contextWith({ bob: [session(2, "bob")] });
    ctx.sendToPeers(["bob"], {} as never);
    ctx.sendToPeers(["bob"], { cmd: "x", peerId: "stale", after: 1 } as never);
    expect(outputs).toHaveLength(2);
    expectTextsMatch(outputs);
    expect(outputs[1]?.type === "send" && peerOf(outputs[1].frame)).toBe("bob");
  });

  it("keeps a body's own __proto__ key as a key, as a spread does", () => {
    // Object.assign would make it the prototype: the frame would lose the key its text has.
    const body = JSON.parse('{"cmd":"x","__proto__":[1]}');
    const { ctx, outputs } = contextWith({ bob: [session(2, "bob")] });
    ctx.sendToPeers(["bob"], body as never);
    expectTextsMatch(outputs);
    const frame = outputs[0]?.type === "send" ? outputs[0].frame : undefined;
    expect(Object.hasOwn(frame ?? {}, "__proto__")).toBe(true);
    expect(Object.getPrototypeOf(frame)).toBe(Object.prototype);
  });

  it("matches JSON.stringify for any JSON body and peer ids", () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 4 }),
        (body, peers) => {
          const sessions = Object.fromEntries(peers.map((p, k) => [p, [session(k + 2, p)]]));
          const { ctx, outputs } = contextWith(sessions);
          ctx.sendToPeers(peers, body as never);
          expectTextsMatch(outputs);
        },
      ),
    );
  });
});
