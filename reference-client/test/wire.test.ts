// What the client puts on the wire, checked frame by frame: a session against the reference
// server that uses every command the client has, recorded by a WebSocket that logs every
// text frame, then the rules every client frame must follow.
import {
  findEntry,
  isValidId,
  MAX_FRAME_BYTES,
  MAX_IDS_PER_FRAME,
  MAX_MSG_BYTES,
  MAX_SERIAL,
  REGISTRY,
  validate,
} from "@confab/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Clients, duplicateMembers, sleep, until } from "./support/helpers.js";
import { recordingWebSocket, ServerProcess, type WireFrame } from "./support/server-process.js";

let server: ServerProcess;
const clients = new Clients();
const wire: WireFrame[] = [];
let sent: { text: string; isString: boolean; frame: Record<string, unknown> }[] = [];

beforeAll(async () => {
  server = await ServerProcess.start();
  const WebSocket = recordingWebSocket(wire);
  const make = (peerId: string, extra: object = {}) =>
    clients.make({ url: server.wsUrl, appId: "wire", peerId, WebSocket, ...extra });
  const alice = make("alice", { watchPeerIds: ["bob", "carol"], keepaliveIntervalMs: 100 });
  const bob = make("bob", { watchPeerIds: ["alice"] });
  await alice.open();
  await bob.open();
  let got = 0;
  bob.on("message", () => void got++);
  await alice.watch(["dave"]);
  await alice.unwatch(["dave"]);
  await alice.getStatus(["bob", "erin"]);
  const { id } = await alice.send("hello", "bob", { receipt: true });
  await alice.send("typing", ["bob"], { transient: true });
  const { roomId } = await alice.joinGroup();
  await alice.inviteToGroup(roomId, ["bob", "carol"]);
  await alice.kickFromGroup(roomId, ["carol"]);
  await alice.sendToGroup(roomId, "group hello");
  await alice.queryGroupMembers(roomId);
  await alice.listGroups();
  for await (const _ of alice.queryLogs({ peerId: "bob" })) void _;
  await bob.leaveGroup(roomId);
  await until(() => got >= 3, 3000, "bob's deliveries");
  await sleep(250); // two keepalive periods
  void id;
  await clients.closeAll();
  sent = wire
    .filter((f) => f.direction === "c2s")
    .map((f) => ({
      text: f.text,
      isString: f.isString === true,
      frame: JSON.parse(f.text) as Record<string, unknown>,
    }));
});

afterAll(async () => {
  await clients.closeAll();
  await server.stop();
});

const nameOf = (f: Record<string, unknown>) =>
  !("cmd" in f) ? "keepalive" : typeof f.op === "string" ? `${f.cmd}/${f.op}` : String(f.cmd);

describe("every frame the client sends", () => {
  it("covers every command of the protocol in this session", () => {
    const names = new Set(sent.map((s) => nameOf(s.frame)));
    const c2s = REGISTRY.filter((e) => e.direction === "c2s").map((e) => e.name);
    expect([...names].sort()).toEqual([...c2s].sort());
  });

  it("[FRAME-TEXT-1] sends each protocol message as one JSON object in one text message", () => {
    expect(sent.length).toBeGreaterThan(15);
    for (const { text, isString, frame } of sent) {
      expect(isString, text).toBe(true); // a string goes out as one text message
      expect(typeof frame === "object" && frame !== null && !Array.isArray(frame), text).toBe(true);
      expect(JSON.stringify(frame)).toBe(text); // one object, nothing around it
    }
  });

  it("[VERSION-COMPAT-2] is a command that the spec defines, valid against its schema", () => {
    for (const { frame, text } of sent) {
      const result = validate("c2s", frame);
      expect(result.ok ? [] : result.errors, text).toEqual([]);
      expect(findEntry("c2s", nameOf(frame)), text).toBeDefined();
    }
  });

  it("[FRAME-CMD-1] carries cmd, peerId and appId, every command but the keepalive", () => {
    const commands = sent.filter((s) => "cmd" in s.frame);
    expect(commands.length).toBeGreaterThanOrEqual(15);
    for (const { frame, text } of commands) {
      expect(typeof frame.cmd, text).toBe("string");
      expect(typeof frame.peerId, text).toBe("string");
      expect(frame.appId, text).toBe("wire");
    }
    expect(sent.filter((s) => !("cmd" in s.frame)).map((s) => s.text)).toContain("{}");
  });

  it("[FRAME-CMD-2] carries op on every command whose name has an op part", () => {
    for (const { frame, text } of sent) {
      const entry = findEntry("c2s", nameOf(frame));
      if (entry?.op !== undefined) expect(frame.op, text).toBe(entry.op);
      else expect(frame.op, text).toBeUndefined();
    }
  });

  it("[FRAME-JSON-4] never repeats a member name within an object", () => {
    expect(duplicateMembers('{"a":1,"b":{"a":2},"a":3}')).toEqual(["a"]); // the checker works
    for (const { text } of sent) expect(duplicateMembers(text), text).toEqual([]);
  });

  it("[FRAME-SIZE-3] is at most 65536 bytes", () => {
    for (const { text } of sent)
      expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(MAX_FRAME_BYTES);
  });

  it("[SERIAL-RANGE-1] gives every command an i that is an integer from 0 to 2147483647, and the keepalive none", () => {
    for (const { frame, text } of sent) {
      if (!("cmd" in frame)) {
        expect(frame, text).not.toHaveProperty("i");
        continue;
      }
      expect(Number.isInteger(frame.i), text).toBe(true);
      expect(frame.i as number).toBeGreaterThanOrEqual(0);
      expect(frame.i as number).toBeLessThanOrEqual(MAX_SERIAL);
    }
  });

  it("[LIMIT-ID-3] [LIMIT-MSG-3] [LIMIT-ARRAY-2] sends only valid ids, msg within 5120 bytes and id arrays of at most 500", () => {
    for (const { frame, text } of sent) {
      for (const key of ["peerId", "roomId", "n", "after"]) {
        if (key in frame) expect(isValidId(frame[key]), `${key} of ${text}`).toBe(true);
      }
      for (const key of ["sessionPeerIds", "toPeerIds", "roomPeerIds", "ids"]) {
        const list = frame[key];
        if (list === undefined) continue;
        expect(Array.isArray(list)).toBe(true);
        expect((list as unknown[]).length).toBeLessThanOrEqual(MAX_IDS_PER_FRAME);
        if (key !== "ids")
          for (const id of list as unknown[]) expect(isValidId(id), text).toBe(true);
      }
      if (typeof frame.msg === "string") {
        expect(new TextEncoder().encode(frame.msg).length).toBeLessThanOrEqual(MAX_MSG_BYTES);
      }
    }
  });
});
