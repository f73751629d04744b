// The protocol facts the server, the kit and the client share: the error registry against
// Table 7 of the spec, the bound on error details, and the per-command registry flags.
import { readFileSync } from "node:fs";
import {
  answeredWithoutSerial,
  boundDetail,
  CODE_NAMES,
  ERRORS,
  errorFrame,
  errorSpecOf,
  findEntry,
  formatErrors,
  frameName,
  isAppId,
  MAX_ERROR_DETAIL,
  parseErrorTable,
  REGISTRY,
  validate,
} from "@confab/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const TABLE7 = parseErrorTable(
  readFileSync(new URL("../../spec/08-errors.md", import.meta.url), "utf8"),
);

describe("error registry [ERROR-CODES-1]", () => {
  it("gives every code the name and a form that Table 7 gives it, and nothing else", () => {
    for (const e of Object.values(ERRORS)) {
      expect(TABLE7.get(e.code)?.name, String(e.code)).toBe(e.name);
      expect(TABLE7.get(e.code)?.forms, String(e.code)).toContain(e.delivery);
    }
    for (const [code, { name }] of TABLE7) expect(CODE_NAMES.get(code)).toBe(name);
  });

  it("[ERROR-UNUSED-1] has no entry for 4111 or the 4300 range", () => {
    expect([...CODE_NAMES.keys()].filter((c) => c === 4111 || (c >= 4300 && c < 4400))).toEqual([]);
  });

  it("says that frames leave the connection open and closes do not [ERROR-SURVIVE-1]", () => {
    for (const e of Object.values(ERRORS)) expect(e.survives).toBe(e.delivery === "frame");
    expect(errorSpecOf(4114, "frame")).toBe(ERRORS.INVALID_FRAME);
    expect(errorSpecOf(4114, "close")).toBe(ERRORS.UNPARSEABLE_RAW_MESSAGE);
    expect(errorSpecOf(4111, "close")).toBeUndefined();
  });

  it("cites requirement IDs that the spec defines", () => {
    const index = JSON.parse(
      readFileSync(new URL("../../spec/requirements.json", import.meta.url), "utf8"),
    ) as { id: string }[];
    const ids = new Set(index.map((r) => r.id));
    for (const e of Object.values(ERRORS)) {
      for (const id of e.requirements) expect(ids.has(id), `${e.name} cites ${id}`).toBe(true);
    }
  });

  it("refuses Markdown without Table 7", () => {
    expect(() => parseErrorTable("# no table")).toThrow(/Table 7 not found/);
  });
});

describe("error frames [ERROR-FRAME-1..5]", () => {
  it("builds a frame that validates, echoing i and peerId", () => {
    const f = errorFrame(ERRORS.SESSION_REQUIRED, "no session", 7, "alice");
    expect(f).toEqual({
      cmd: "error",
      code: 4105,
      reason: "SESSION_REQUIRED",
      detail: "no session",
      i: 7,
      peerId: "alice",
    });
    expect(validate("s2c", f).ok).toBe(true);
  });

  it("[ERROR-FRAME-5] bounds any detail to 1024 code units without splitting a surrogate pair", () => {
    fc.assert(
      // size "max": fast-check otherwise draws short strings that never reach the cut.
      fc.property(fc.string({ unit: "binary", maxLength: 3000, size: "max" }), (text) => {
        const d = boundDetail(text);
        expect(d.length).toBeLessThanOrEqual(MAX_ERROR_DETAIL);
        if (text.length <= MAX_ERROR_DETAIL) expect(d).toBe(text);
        else expect(d).toContain(`${text.length} characters, cut`);
      }),
    );
    const pairs = "😀".repeat(1000);
    expect(boundDetail(pairs).isWellFormed()).toBe(true);
  });

  it("[ERROR-FRAME-5] cuts a long detail to at most 1024 code units and says so", () => {
    // The spec's number, not the constant's: a changed constant must fail here.
    expect(MAX_ERROR_DETAIL).toBe(1024);
    for (const n of [1025, 2000, 5000, 100_000]) {
      const d = boundDetail("x".repeat(n));
      expect(d.length, String(n)).toBeLessThanOrEqual(1024);
      expect(d.length, String(n)).toBeGreaterThan(1024 - 64);
      expect(d).toContain(`${n} characters, cut`);
    }
    expect(boundDetail("x".repeat(1024))).toBe("x".repeat(1024));
    // A surrogate pair at every position around the cut stays whole.
    for (let n = 980; n <= 1030; n++) {
      const d = boundDetail("a".repeat(n) + "😀".repeat(600));
      expect(d.isWellFormed(), String(n)).toBe(true);
      expect(d.length, String(n)).toBeLessThanOrEqual(1024);
    }
  });

  it("[ERROR-FRAME-5] names the first five failures and counts the rest", () => {
    const errors = Array.from({ length: 12 }, (_, k) => ({
      path: `/ids/${k}`,
      rule: "pattern",
      message: `/ids/${k} is bad`,
      code: 4114,
    }));
    const text = formatErrors(errors);
    expect(text).toContain("/ids/4 is bad");
    expect(text).not.toContain("/ids/5 is bad");
    expect(text).toMatch(/and 7 more$/);
    expect(formatErrors({ ok: false, errors: errors.slice(0, 2) })).toBe(
      "/ids/0 is bad (rule pattern); /ids/1 is bad (rule pattern)",
    );
  });
});

describe("registry flags", () => {
  it("[SIG-ENFORCE-1] marks exactly open, add, join, invite and kick as signed", () => {
    const signed = REGISTRY.filter((e) => e.signed).map((e) => `${e.direction}:${e.name}`);
    expect(signed.sort()).toEqual(
      ["session/open", "session/add", "room/join", "room/invite", "room/kick"]
        .map((n) => `c2s:${n}`)
        .sort(),
    );
  });

  it("[SERIAL-LEGACY-2] answers without i exactly the commands the legacy client awaits", () => {
    const awaited = (f: Record<string, unknown>) => answeredWithoutSerial(f);
    expect(awaited({ cmd: "session", op: "open" })).toBe(true);
    expect(awaited({ cmd: "session", op: "add" })).toBe(true);
    expect(awaited({ cmd: "session", op: "query" })).toBe(true);
    expect(awaited({ cmd: "session", op: "remove" })).toBe(false);
    expect(awaited({ cmd: "session", op: "close" })).toBe(false);
    expect(awaited({ cmd: "direct", msg: "m" })).toBe(true);
    expect(awaited({ cmd: "direct", msg: "m", transient: true })).toBe(false);
    expect(awaited({ cmd: "ack", ids: [] })).toBe(false);
    expect(awaited({ cmd: "ack", op: "x", ids: [] })).toBe(false);
    expect(awaited({ cmd: "room", op: "leave" })).toBe(true);
    expect(awaited({ cmd: "logs" })).toBe(true);
    // Unknown commands get their error.
    expect(awaited({ cmd: "nope" })).toBe(true);
    expect(awaited({ cmd: { toString: 1 } })).toBe(true);
  });

  it("[FRAME-SCHEMA-1] names a frame without running anything it holds", () => {
    expect(frameName({ cmd: "session", op: "open" })).toBe("session/open");
    expect(frameName({ cmd: "ack" })).toBe("ack");
    expect(frameName({})).toBe("keepalive");
    expect(frameName({ cmd: { toString: 1 } })).toBeUndefined();
    expect(frameName({ cmd: "x", op: { toString: 1 } })).toBe("x");
    expect(findEntry("c2s", "room/kick")?.signed).toBe(true);
  });

  it("[LIMIT-APPID-1] takes app ids of 1..64 characters of [A-Za-z0-9_.-] only", () => {
    expect(isAppId("a")).toBe(true);
    expect(isAppId("A-z_0.9")).toBe(true);
    expect(isAppId("x".repeat(64))).toBe(true);
    for (const bad of ["", "x".repeat(65), "a b", "é", "a:b", 5, null, undefined]) {
      expect(isAppId(bad), String(bad)).toBe(false);
    }
  });
});
