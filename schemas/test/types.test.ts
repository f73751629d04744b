// The message types are derived from the registry: every registry name is a key of the
// per-direction maps, and each maps to the static type of its own schema.
import {
  type C2SMessages,
  type DirectSend,
  type ErrorFrame,
  type LogsResult,
  REGISTRY,
  type S2CMessages,
  type SessionOpen,
} from "@confab/protocol";
import { describe, expect, expectTypeOf, it } from "vitest";

// A key missing here, or one too many, is a compile error (`satisfies`), so the runtime
// check below compares the registry with exactly the keys of the derived types.
const C2S = {
  keepalive: true,
  "session/open": true,
  "session/add": true,
  "session/remove": true,
  "session/query": true,
  "session/close": true,
  direct: true,
  ack: true,
  "room/join": true,
  "room/invite": true,
  "room/kick": true,
  "room/leave": true,
  logs: true,
} as const satisfies Record<keyof C2SMessages, true>;

describe("message types", () => {
  it("has one key per c2s registry entry", () => {
    const names = REGISTRY.filter((e) => e.direction === "c2s").map((e) => e.name);
    expect(Object.keys(C2S).sort()).toEqual([...names].sort());
  });

  it("types each message by its own schema", () => {
    expectTypeOf<C2SMessages["session/open"]>().toEqualTypeOf<SessionOpen>();
    expectTypeOf<C2SMessages["direct"]>().toEqualTypeOf<DirectSend>();
    expectTypeOf<S2CMessages["error"]>().toEqualTypeOf<ErrorFrame>();
    expectTypeOf<S2CMessages["logs/result"]>().toEqualTypeOf<LogsResult>();
    expectTypeOf<keyof S2CMessages>().toEqualTypeOf<
      Extract<(typeof REGISTRY)[number], { direction: "s2c" }>["name"]
    >();
  });
});
