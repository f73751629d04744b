/**
 * Offline notifications in the protocol core (spec/03-messages.md 3.10): which messages
 * produce a `notify` output, what it says, and where it sits among the turn's outputs. The
 * harness checks every notice against the `push-notice` schema; signing and sending are the
 * adapter's (test/adapter/push.test.ts).
 */
import { TEST_MASTER_KEY } from "@confab/test-support";
import { describe, expect, it } from "vitest";
import type { AppConfig, EngineConfig } from "../../src/core/config.js";
import { DEFAULT_LIMITS } from "../../src/core/config.js";
import type { Output } from "../../src/core/types.js";
import { Harness } from "../support/harness.js";
import {
  APP,
  createRoom,
  directs,
  joinRoom,
  RecordingStore,
  send,
  sendOk,
  sendRoomOk,
  signedOpen,
} from "./support-messages.js";

const HOOK = "http://127.0.0.1:9/hook";

/** A harness of {@link APP} with a push hook (or the app settings given). */
function pushHarness(
  app: Partial<AppConfig> = {},
  config: Partial<EngineConfig> = {},
  store?: RecordingStore,
): Harness {
  const a: AppConfig = {
    appId: APP,
    masterKey: TEST_MASTER_KEY,
    enforceSignatures: false,
    pushUrl: HOOK,
    ...app,
  };
  return new Harness({ apps: new Map([[APP, a]]), devMode: false, ...config }, store);
}

/** The notices released so far, removed from the harness. */
function notices(h: Harness) {
  return h.notices.splice(0).map((o) => o.notice);
}

describe("offline notifications: when (3.10)", () => {
  it("[OFFLINE-PUSH-1] notifies only for an app whose push hook is configured", () => {
    const without = pushHarness({ pushUrl: undefined });
    const a = without.connect();
    a.open("alice");
    sendOk(a, "alice", ["bob"]);
    expect(without.notices).toEqual([]);

    // Development mode serves any app id, without a hook.
    const dev = new Harness();
    const d = dev.connect();
    d.open("alice");
    sendOk(d, "alice", ["bob"]);
    expect(dev.notices).toEqual([]);

    const withHook = pushHarness();
    const w = withHook.connect();
    w.open("alice");
    sendOk(w, "alice", ["bob"]);
    expect(withHook.notices.map((n) => n.appId)).toEqual([APP]);
  });

  it("[OFFLINE-PUSH-2] sends one notice per persistent message pending for recipients without an open session, naming those", () => {
    const h = pushHarness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    b.open("bob");
    // bob is online, carol and dave have never connected: one notice, naming the two.
    const m1 = sendOk(a, "alice", ["bob", "carol", "dave", "carol"]);
    expect(notices(h)).toEqual([expect.objectContaining({ id: m1.uid })]);
    expect(h.notices).toEqual([]);
    const m2 = sendOk(a, "alice", ["carol"]);
    const m3 = sendOk(a, "alice", ["dave", "carol"]);
    expect(notices(h).map((n) => [n.id, [...n.offlinePeerIds].sort()])).toEqual([
      [m2.uid, ["carol"]],
      [m3.uid, ["carol", "dave"]],
    ]);
    // A peer whose only session closed is offline again; one that opens is online.
    b.disconnect();
    const c = h.connect();
    c.open("carol");
    sendOk(a, "alice", ["bob", "carol"]);
    expect(notices(h).map((n) => n.offlinePeerIds)).toEqual([["bob"]]);
  });

  it("[OFFLINE-PUSH-2] sends none when every recipient has an open session, on any connection", () => {
    const h = pushHarness();
    const a = h.connect();
    const b = h.connect();
    a.open("alice");
    a.open("carol"); // a second peer on the sender's own connection
    b.open("bob");
    sendOk(a, "alice", ["bob", "carol"]);
    sendOk(a, "carol", ["bob"]);
    expect(h.notices).toEqual([]);
  });

  it("[OFFLINE-PUSH-2, OFFLINE-PUSH-6] notifies for a group message, naming the offline members and the group", () => {
    const h = pushHarness();
    const a = h.connect();
    const b = h.connect();
    const c = h.connect();
    a.open("alice");
    b.open("bob");
    c.open("carol");
    const room = createRoom(a, "alice");
    joinRoom(b, "bob", room);
    joinRoom(c, "carol", room);
    c.disconnect(); // carol is a member without a session
    const m = sendRoomOk(a, "alice", room);
    expect(notices(h)).toEqual([
      {
        appId: APP,
        id: m.uid,
        fromPeerId: "alice",
        offlinePeerIds: ["carol"],
        roomId: room,
        timestamp: m.t,
      },
    ]);
    // Every member online: none.
    const c2 = h.connect();
    c2.open("carol");
    sendRoomOk(a, "alice", room);
    expect(h.notices).toEqual([]);
  });

  it("[OFFLINE-PUSH-3] never notifies for a transient message, with or without i", () => {
    const h = pushHarness();
    const a = h.connect();
    a.open("alice");
    send(a, "alice", ["bob"], { transient: true });
    send(a, "alice", ["bob", "carol"], { transient: true, i: 1 });
    expect(a.take("ack")).toHaveLength(1);
    const room = createRoom(a, "alice");
    const b = h.connect();
    b.open("bob");
    joinRoom(b, "bob", room);
    b.disconnect();
    a.cmd("alice", "direct", undefined, { msg: "typing", roomId: room, transient: true });
    expect(h.notices).toEqual([]);
  });

  it("[OFFLINE-PUSH-4] never notifies for a message answered with an error frame", () => {
    const h = pushHarness({ masterKey: TEST_MASTER_KEY, enforceSignatures: true });
    const a = h.connect();
    signedOpen(a, "alice", ["bob"]);
    send(a, "alice", ["alice"]); // nobody but the sender [DIRECT-SELF-2]
    send(a, "alice", ["bob", "carol"]); // carol is not watched [DIRECT-PERM-2]
    a.cmd("alice", "direct", undefined, { msg: "x", roomId: "no-such-group" }); // 4404
    expect(a.take("error").map((e) => e.code)).toEqual([4401, 4401, 4404]);
    expect(h.notices).toEqual([]);
    // The same app notifies for a message it accepts.
    sendOk(a, "alice", ["bob"]);
    expect(notices(h).map((n) => n.offlinePeerIds)).toEqual([["bob"]]);
  });

  it("[OFFLINE-PUSH-4] never notifies for a message whose writes fail or are rolled back", () => {
    const store = new RecordingStore();
    const h = pushHarness({}, {}, store);
    const a = h.connect();
    a.open("alice");
    store.failing.add("addPending");
    send(a, "alice", ["bob"], { i: 1 });
    expect(a.expectOne("error")).toMatchObject({ code: 4200, i: 1 });
    store.failing.clear();
    expect(h.notices).toEqual([]);

    // Over the app's bound of pending messages the command fails after its writes, which
    // are rolled back [LIMIT-STORE-2]: no notice either.
    const full = pushHarness({}, { limits: { ...DEFAULT_LIMITS, maxPendingPerApp: 1 } });
    const f = full.connect();
    f.open("alice");
    sendOk(f, "alice", ["bob"]);
    expect(notices(full)).toHaveLength(1);
    send(f, "alice", ["carol"], { i: 2 });
    expect(f.expectOne("error")).toMatchObject({ code: 4120, i: 2 });
    expect(full.notices).toEqual([]);
  });

  it("[OFFLINE-PUSH-5] never names the sender, nor a recipient with an open session", () => {
    const h = pushHarness();
    const a1 = h.connect();
    a1.open("alice");
    const b = h.connect();
    b.open("bob");
    sendOk(a1, "alice", ["alice", "bob", "carol"]);
    expect(notices(h).map((n) => n.offlinePeerIds)).toEqual([["carol"]]);
    // In a group too, whichever members are online.
    const room = createRoom(b, "bob");
    joinRoom(a1, "alice", room);
    a1.disconnect();
    const a2 = h.connect();
    a2.open("alice");
    const m = sendRoomOk(b, "bob", room);
    expect(h.notices).toEqual([]);
    // alice offline: she is named; the sender bob never is.
    a2.disconnect();
    const m2 = sendRoomOk(b, "bob", room);
    expect(notices(h).map((n) => [n.id, n.fromPeerId, n.offlinePeerIds])).toEqual([
      [m2.uid, "bob", ["alice"]],
    ]);
    expect(m.uid).not.toBe(m2.uid);
  });
});

describe("offline notifications: what (3.10)", () => {
  it("[OFFLINE-PUSH-6] carries the app, the ack's id and time, the sender and the offline recipients", () => {
    const h = pushHarness();
    const a = h.connect();
    a.open("alice");
    const m = sendOk(a, "alice", ["bob"]);
    expect(notices(h)).toEqual([
      { appId: APP, id: m.uid, fromPeerId: "alice", offlinePeerIds: ["bob"], timestamp: m.t },
    ]);
    // The same id and time as the delivery, once bob opens.
    const b = h.connect();
    b.open("bob");
    expect(directs(b).map((d) => [d.id, d.timestamp])).toEqual([[m.uid, m.t]]);
  });

  it("[OFFLINE-PUSH-7] carries the text only when the app asks for it", () => {
    const quiet = pushHarness();
    const q = quiet.connect();
    q.open("alice");
    send(q, "alice", ["bob"], { msg: "secret" });
    expect(notices(quiet).map((n) => "msg" in n)).toEqual([false]);

    const explicit = pushHarness({ pushIncludeText: false });
    const e = explicit.connect();
    e.open("alice");
    send(e, "alice", ["bob"], { msg: "secret" });
    expect(notices(explicit).map((n) => "msg" in n)).toEqual([false]);

    const loud = pushHarness({ pushIncludeText: true });
    const l = loud.connect();
    l.open("alice");
    send(l, "alice", ["bob"], { msg: "héllo 😀" });
    const room = createRoom(l, "alice");
    const b = loud.connect();
    b.open("bob");
    joinRoom(b, "bob", room);
    b.disconnect();
    l.cmd("alice", "direct", undefined, { msg: "", roomId: room });
    expect(notices(loud).map((n) => n.msg)).toEqual(["héllo 😀", ""]);
  });

  it("[OFFLINE-PUSH-11] puts the notice after the ack and the deliveries of its turn", () => {
    const h = pushHarness();
    const a1 = h.connect();
    const b = h.connect();
    a1.open("alice");
    b.open("bob");
    const text = JSON.stringify({
      cmd: "direct",
      appId: APP,
      peerId: "alice",
      msg: "hi",
      toPeerIds: ["bob", "carol"],
      i: 7,
    });
    const outputs: Output[] = h.engine.receiveText(a1.id, text, text.length, h.now);
    const kinds = outputs.map((o) =>
      o.type === "send" ? `${o.conn}:${String(o.frame.cmd)}` : o.type,
    );
    expect(kinds[0]).toBe(`${a1.id}:ack`);
    expect(kinds.at(-1)).toBe("notify");
    expect(kinds.filter((k) => k === "notify")).toHaveLength(1);
    expect(kinds).toContain(`${b.id}:direct`);
  });
});

describe("offline notifications: announced (3.10)", () => {
  it("[OFFLINE-PUSH-1] announces push-hook in serverInfo for an app with a hook, and only for one", () => {
    const featuresOf = (h: Harness) =>
      (h.connect().open("alice").serverInfo as { features: Record<string, boolean> }).features;
    expect(featuresOf(pushHarness())["push-hook"]).toBe(true);
    expect(featuresOf(pushHarness({ pushUrl: undefined }))).not.toHaveProperty("push-hook");
    expect(featuresOf(new Harness())).not.toHaveProperty("push-hook");
  });
});
