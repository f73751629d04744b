/**
 * The server's announcement `serverInfo` (spec/02-sessions.md 2.9), the bounds of the
 * limits (spec/07-limits.md, Table 9) and what a server under test offers (spec/10-testing.md).
 */
import {
  LOGS_DEFAULT_LIMIT,
  LOGS_MAX_LIMIT,
  LOGS_MAX_PAGE_BYTES,
  MAX_ID_LENGTH,
  MAX_IDS_PER_FRAME,
  MAX_MSG_BYTES,
  SPEC_REVISION,
  validate,
} from "@confab/protocol";
import { TEST_MASTER_KEY } from "@confab/test-support";
import { describe, expect, it } from "vitest";
import {
  type AppConfig,
  DEFAULT_LIMITS,
  type EngineConfig,
  engineConfig,
  specViolations,
} from "../../src/core/config.js";
import {
  connectWith,
  expectClosed,
  expectError,
  type Frame,
  Harness,
  plainHarness,
  signedHarness,
  signedOpen,
} from "./support-core.js";

/** The features the reference server implements (Table 10), signatures aside. */
const IMPLEMENTED = [
  "receipts",
  "offline",
  "history",
  "rest-history",
  "room-query",
  "room-list",
  "rest-rooms",
  "echo",
  "super-peer",
] as const;

/** The `serverInfo` of a `session/opened` on a fresh connection of `h`. */
function announced(h: Harness, extra: Frame = {}): Record<string, Record<string, unknown>> {
  const opened = h.connect().open("alice", [], extra);
  expect(validate("s2c", opened)).toMatchObject({ ok: true, name: "session/opened" });
  return opened.serverInfo as Record<string, Record<string, unknown>>;
}

/** A configuration with every configurable limit away from the spec's value. */
const OTHER: Partial<EngineConfig> = {
  limits: {
    ...DEFAULT_LIMITS,
    maxOfflinePerPeer: 3,
    offlineTtlMs: 2_000,
    maxWatchedPerSession: 20_000,
    maxSessionsPerConnection: 150,
    maxWatchPerConnection: 40_000,
    maxPendingPerApp: 9_999,
    maxWatchPerApp: 123_456,
    maxSessionsPerApp: 777,
    maxConnectionsPerApp: 55,
    maxConnectionsPerAddress: Number.POSITIVE_INFINITY,
    historyBytesPerSecond: 0,
  },
  readTimeoutMs: 2_500,
  loginTimeoutMs: 1_500,
  rateLimit: { perSecond: 20, burst: 40 },
};

describe("the announcement in session/opened (2.9)", () => {
  it("[SESSION-INFO-1] [SESSION-INFO-2] puts serverInfo with revision 1.1 in every session/opened, re-opens included", () => {
    const h = plainHarness();
    const c = h.connect();
    const first = c.open("alice");
    const again = c.open("alice", ["bob"]);
    expect(SPEC_REVISION).toBe("1.1");
    for (const opened of [first, again]) {
      expect(opened.serverInfo).toMatchObject({ revision: "1.1" });
    }
    expect(again.serverInfo).toEqual(first.serverInfo);
  });

  it("[SESSION-INFO-3] [SESSION-INFO-4] sets exactly the implemented features of Table 10 to true, and signatures to the app's enforcement", () => {
    const plain = announced(plainHarness()).features;
    expect(plain).toEqual({
      ...Object.fromEntries(IMPLEMENTED.map((f) => [f, true])),
      signatures: false,
    });
    // Not in force for an app without a hook: the push hook [OFFLINE-PUSH-1].
    expect(plain).not.toHaveProperty("push-hook");
    const h = signedHarness();
    const opened = signedOpen(h.connect(), "alice");
    expect((opened.serverInfo as { features: unknown }).features).toMatchObject({
      signatures: true,
    });
  });

  it("[SESSION-INFO-5] gives the value in force of every limit of Table 9: the spec's by default", () => {
    const limits = announced(plainHarness()).limits;
    expect(limits).toEqual({
      msgBytes: MAX_MSG_BYTES,
      frameBytes: 65_536,
      idLength: MAX_ID_LENGTH,
      idsPerArray: MAX_IDS_PER_FRAME,
      watchPerSession: 10_000,
      sessionsPerConnection: 100,
      watchPerConnection: 20_000,
      roomMembers: 500,
      offlineCount: 50,
      offlineAgeMs: 604_800_000,
      pageLimit: LOGS_MAX_LIMIT,
      pageLimitDefault: LOGS_DEFAULT_LIMIT,
      pageBytes: LOGS_MAX_PAGE_BYTES,
      signatureWindowS: 300,
      readTimeoutMs: 300_000,
      loginTimeoutMs: 60_000,
      // The reference server's defaults for what the spec leaves to the deployment.
      framesPerSecond: 1000,
      frameBurst: 2000,
      historyBytesPerSecond: DEFAULT_LIMITS.historyBytesPerSecond,
      historyBurstBytes: DEFAULT_LIMITS.historyBurstBytes,
      pendingPerApp: DEFAULT_LIMITS.maxPendingPerApp,
      watchPerApp: DEFAULT_LIMITS.maxWatchPerApp,
      sessionsPerApp: DEFAULT_LIMITS.maxSessionsPerApp,
      connectionsPerApp: DEFAULT_LIMITS.maxConnectionsPerApp,
      connectionsPerAddress: DEFAULT_LIMITS.maxConnectionsPerAddress,
    });
  });

  it("[SESSION-INFO-5] [LIMIT-BOUND-3] announces the configured values, and leaves out a bound the server does not apply", () => {
    const limits = announced(plainHarness(OTHER)).limits;
    expect(limits).toMatchObject({
      offlineCount: 3,
      offlineAgeMs: 2_000,
      watchPerSession: 20_000,
      sessionsPerConnection: 150,
      watchPerConnection: 40_000,
      readTimeoutMs: 2_500,
      loginTimeoutMs: 1_500,
      framesPerSecond: 20,
      frameBurst: 40,
      pendingPerApp: 9_999,
      watchPerApp: 123_456,
      sessionsPerApp: 777,
      connectionsPerApp: 55,
    });
    // An infinite bound is no bound: absent, not a number [SESSION-INFO-5].
    expect(limits).not.toHaveProperty("connectionsPerAddress");
    // A history rate of 0 is no rate [LIMIT-LOGS-RATE-1].
    expect(limits).not.toHaveProperty("historyBytesPerSecond");
    expect(limits).not.toHaveProperty("historyBurstBytes");
    // A frame rate limit switched off is absent too [FLOOD-RATE-1].
    const unlimited = announced(plainHarness({ rateLimit: { perSecond: 0, burst: 0 } })).limits;
    expect(unlimited).not.toHaveProperty("framesPerSecond");
    expect(unlimited).not.toHaveProperty("frameBurst");
  });

  it("[VERSION-UNKNOWN-2] keeps the rest of session/opened as the legacy client reads it", () => {
    const opened = plainHarness().connect().open("alice", ["bob"]);
    expect(opened).toMatchObject({ cmd: "session", op: "opened", onlineSessionPeerIds: [] });
  });
});

describe("bounds of the limits (7.4, Table 9)", () => {
  it("[LIMIT-BOUND-1] [LIMIT-CONFIG-1] reports nothing for the spec's values and for values a deployment may apply", () => {
    expect(specViolations(engineConfig())).toEqual([]);
    const raised = engineConfig({
      limits: {
        ...DEFAULT_LIMITS,
        maxOfflinePerPeer: 100,
        offlineTtlMs: 14 * 86_400_000,
        maxWatchedPerSession: 20_000,
        maxSessionsPerConnection: 200,
        maxWatchPerConnection: 30_000,
        maxPendingPerApp: 5,
      },
      readTimeoutMs: 600_000,
      loginTimeoutMs: 10_000,
      rateLimit: { perSecond: 0, burst: 0 },
    });
    expect(specViolations(raised)).toEqual([]);
  });

  it("[LIMIT-BOUND-1] reports a fixed limit changed either way, and a raise-only limit lowered", () => {
    const problems = specViolations(
      engineConfig({
        limits: {
          ...DEFAULT_LIMITS,
          maxFrameBytes: 131_072,
          maxRoomMembers: 501,
          maxWatchedPerSession: 9_999,
          maxSessionsPerConnection: 99,
        },
        signatureWindowS: 600,
      }),
    );
    expect(problems).toEqual([
      "maxFrameBytes 131072 is not 65536",
      "maxRoomMembers 501 is not 500",
      "signatureWindowS 600 is not 300",
      "maxWatchedPerSession 9999 is under 10000",
      "maxSessionsPerConnection 99 is under 100",
    ]);
  });

  it("[LIMIT-BOUND-2] says which values are for a server under test only, and which are not allowed even then", () => {
    const test = specViolations(engineConfig(OTHER));
    expect(test).toEqual([
      "maxOfflinePerPeer 3 is under 50: for a server under test only (LIMIT-BOUND-2)",
      "offlineTtlMs 2000 is under 604800000: for a server under test only (LIMIT-BOUND-2)",
      "readTimeoutMs 2500 is under 200000: for a server under test only (LIMIT-BOUND-2)",
      "loginTimeoutMs 1500 is under 10000: for a server under test only (LIMIT-BOUND-2)",
    ]);
    const below = specViolations(
      engineConfig({
        limits: { ...DEFAULT_LIMITS, maxOfflinePerPeer: 0, offlineTtlMs: 999 },
        readTimeoutMs: 500,
        loginTimeoutMs: 0,
      }),
    );
    expect(below).toEqual([
      "maxOfflinePerPeer 0 is under 50, and under 1 even for testing",
      "offlineTtlMs 999 is under 604800000, and under 1000 even for testing",
      "readTimeoutMs 500 is under 200000, and under 1000 even for testing",
      "loginTimeoutMs 0 is under 10000, and under 1000 even for testing",
    ]);
    // The engine logs them, and runs [LIMIT-CONFIG-1].
    const logs = new Harness(OTHER).engine.drainLog();
    expect(logs.filter((e) => e.event === "config-outside-spec")).toHaveLength(4);
  });
});

describe("a server under test (chapter 10)", () => {
  it("[LIMIT-TEST-1] [LIMIT-BOUND-2] [LIMIT-BOUND-3] runs with a shortened offline store and timeouts, and applies them as announced", () => {
    const h = new Harness(OTHER);
    const alice = h.connect();
    const info = alice.open("alice").serverInfo as { limits: Record<string, number> };
    const { offlineCount, offlineAgeMs, loginTimeoutMs } = info.limits;
    // offlineCount 3: a fourth pending message evicts the first [OFFLINE-LIMIT-1].
    const ids: string[] = [];
    for (let k = 0; k < (offlineCount ?? 0) + 1; k++) {
      alice.cmd("alice", "direct", undefined, { msg: `m${k}`, toPeerIds: ["bob"] });
      ids.push(String(alice.expectOne("ack").uid));
    }
    const bob = h.connect();
    bob.open("bob");
    expect(bob.take("direct").map((f) => f.id)).toEqual(ids.slice(1));
    bob.disconnect();
    // offlineAgeMs 2000: just past it, nothing pending is delivered [OFFLINE-AGE-1].
    h.advance((offlineAgeMs ?? 0) + 1);
    alice.send({}); // keeps alice's connection alive: the read timeout is 2.5 s
    alice.drain();
    const bob2 = h.connect();
    bob2.open("bob");
    expect(bob2.take("direct")).toEqual([]);
    // loginTimeoutMs 1500: a connection without a session is closed after it [TIMEOUT-LOGIN-1].
    const idle = h.connect();
    h.advance((loginTimeoutMs ?? 0) - 1);
    expect(idle.closed).toBeUndefined();
    h.advance(1);
    expectClosed(idle, 4108);
  });

  it("[SESSION-TEST-1] serves the four apps of a conformance run: plain, signed with a known key, disabled, one allowed origin", () => {
    const apps: AppConfig[] = [
      { appId: "plain", enforceSignatures: false },
      { appId: "signed", masterKey: TEST_MASTER_KEY, enforceSignatures: true },
      { appId: "off", enforceSignatures: false, disabled: true },
      { appId: "web", enforceSignatures: false, allowedOrigins: ["https://kit.example"] },
    ];
    const h = new Harness({ devMode: false, apps: new Map(apps.map((a) => [a.appId, a])) });
    const open = (appId: string, origin?: string, extra: Frame = {}) => {
      const c = origin === undefined ? h.connect() : connectWith(h, { origin });
      c.send({ cmd: "session", op: "open", appId, peerId: "kit", i: 1, ...extra });
      return c;
    };
    // Plain: opens, and says signatures are off.
    const plain = open("plain");
    expect(plain.expectOne("session/opened")).toMatchObject({
      serverInfo: { features: { signatures: false } },
    });
    // Signed: refused without a signature, opened with one made from the known key.
    expectError(open("signed"), 4102, { i: 1 });
    h.appId = "signed";
    expect(signedOpen(h.connect(), "kit").serverInfo).toMatchObject({
      features: { signatures: true },
    });
    // Disabled: the connection is closed with 4100 [SESSION-APP-2, SESSION-APP-7].
    const off = open("off");
    expectClosed(off, 4100);
    // One allowed origin: that origin opens, another is closed with 4110 [FRAME-ORIGIN-2].
    expect(open("web", "https://kit.example").expectOne("session/opened")).toBeDefined();
    expectClosed(open("web", "https://elsewhere.example"), 4110);
  });
});
