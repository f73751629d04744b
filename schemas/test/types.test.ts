// The message types are derived from the registry: every registry name is a key of the
// per-direction maps, and each maps to the static type of its own schema. The type
// assertions are checked by `npm run typecheck` (tsc over the tests).
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

describe("message types", () => {
  it("has one key per registry entry, in each direction", () => {
    expectTypeOf<keyof C2SMessages>().toEqualTypeOf<
      Extract<(typeof REGISTRY)[number], { direction: "c2s" }>["name"]
    >();
    // And the names are those of the runtime registry, one entry per name and direction.
    const names = REGISTRY.map((e) => `${e.direction}:${e.name}`);
    expect(new Set(names).size).toBe(names.length);
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
